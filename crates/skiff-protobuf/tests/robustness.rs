//! `decode` must return an error, never panic or overflow the stack, whatever the body: random bytes,
//! truncations and mutations of real kubectl bodies, and pathological nesting.

mod wire;

use std::path::Path;

use skiff_protobuf::decode;
use wire::{body, bytes, message, string};

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "pb"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert!(!out.is_empty());
    out.sort();
    out
}

/// Runs `f` on a thread with a 1 MiB stack, half of what tokio and the test harness give a thread, so that a
/// recursion that barely fits here has room to spare in the server.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x5eed);
    for i in 0..20_000 {
        let len = rng.below(256);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 {
            b.splice(0..0, *b"k8s\0");
        }
        let _ = decode(&b);
    }
    // Random object bytes under real kinds, to reach the message decoder and the JSON conversion.
    let kinds = [
        ("v1", "Pod"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ControllerRevision"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ];
    for _ in 0..20_000 {
        let (api_version, kind) = kinds[rng.below(kinds.len())];
        let len = rng.below(128);
        let raw: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = decode(&body(api_version, kind, &[raw]));
    }
}

#[test]
fn every_truncation_of_every_fixture() {
    for pb in fixtures() {
        for end in 0..pb.len() {
            let _ = decode(&pb[..end]);
        }
        decode(&pb).expect("the whole fixture decodes");
    }
}

#[test]
fn mutated_fixtures() {
    let mut rng = Rng(42);
    for pb in fixtures() {
        for _ in 0..3_000 {
            let mut b = pb.clone();
            for _ in 0..1 + rng.below(3) {
                let at = 4 + rng.below(b.len() - 4);
                match rng.below(3) {
                    0 => b[at] = rng.next() as u8,
                    1 => b[at] ^= 1 << rng.below(8),
                    _ => {
                        b.remove(at);
                    }
                }
            }
            let _ = decode(&b);
        }
    }
}

#[test]
fn deeply_nested_messages() {
    on_small_stack(|| {
        // JSONSchemaProps.not, 10 000 levels deep, inside a CRD's openAPIV3Schema.
        let mut schema = string(5, "object");
        for _ in 0..10_000 {
            schema = message(28, &[schema]);
        }
        let crd = body(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            &[message(
                2,
                &[message(7, &[message(4, &[bytes(1, &schema)])])],
            )],
        );
        let err = decode(&crd).expect_err("too deep");
        assert!(err.to_string().contains("recursion limit"), "{err}");

        // As deep as the protobuf decoder allows.
        let mut schema = string(5, "object");
        for _ in 0..90 {
            schema = message(28, &[schema]);
        }
        let crd = body(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            &[message(
                2,
                &[message(7, &[message(4, &[bytes(1, &schema)])])],
            )],
        );
        decode(&crd).expect("90 levels decode");
    });
}

#[test]
fn deeply_nested_embedded_json_and_objects() {
    on_small_stack(|| {
        // FieldsV1 holding JSON nested far deeper than serde_json accepts.
        let json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let pb = body(
            "v1",
            "ConfigMap",
            &[message(
                1,
                &[message(17, &[message(7, &[bytes(1, json.as_bytes())])])],
            )],
        );
        assert!(decode(&pb).is_err());

        // Protobuf objects embedded in RawExtensions as deep as allowed, each as deep as allowed.
        let mut schema = string(5, "object");
        for _ in 0..90 {
            schema = message(28, &[schema]);
        }
        let mut pb = body(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            &[message(
                2,
                &[message(7, &[message(4, &[bytes(1, &schema)])])],
            )],
        );
        for _ in 0..4 {
            pb = body(
                "apps/v1",
                "ControllerRevision",
                &[message(2, &[bytes(1, &pb)])],
            );
        }
        decode(&pb).expect("4 embedded levels decode");
        pb = body(
            "apps/v1",
            "ControllerRevision",
            &[message(2, &[bytes(1, &pb)])],
        );
        assert!(matches!(
            decode(&pb),
            Err(skiff_protobuf::DecodeError::TooDeep)
        ));
    });
}
