//! Bad input gets a clear Status error and changes nothing: malformed bodies are 400, oversized bodies
//! 413, and no input makes the server answer 500, panic or hang.

mod common;
use common::{http, Server};

const PODS: &str = "/api/v1/namespaces/default/pods";

fn status_reason(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not a Status: {body}"));
    assert_eq!(v["kind"], "Status", "{body}");
    v["reason"].as_str().unwrap_or("").to_string()
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let s = Server::start();
    let a = s.addr();
    for (ct, body) in [
        ("application/json", &b"{not json"[..]),
        ("application/json", b"[1,2,3]"),
        ("application/yaml", b"a: [unclosed"),
        (
            "application/vnd.kubernetes.protobuf",
            b"k8s\x00\xff\xff\xff",
        ),
        (
            "application/vnd.kubernetes.protobuf",
            b"not protobuf at all",
        ),
        ("application/json", br#"{"metadata":{"name":"x"},"spec":5}"#),
        (
            "application/json",
            br#"{"metadata":{"name":"x"},"spec":{"containers":"nope"}}"#,
        ),
        (
            "application/json",
            br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}"#,
        ),
    ] {
        let (code, resp) = http(&a, "POST", PODS, Some(ct), body);
        assert_eq!(
            code,
            400,
            "{ct} {:?}: {resp}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(status_reason(&resp), "BadRequest");
    }
    let deep = "[".repeat(100_000);
    let (code, _) = http(&a, "POST", PODS, Some("application/json"), deep.as_bytes());
    assert_eq!(code, 400);
    let (code, resp) = http(&a, "POST", PODS, Some("text/html"), b"<p>");
    assert_eq!(code, 415, "{resp}");
    let big = format!(
        "{{\"metadata\":{{\"name\":\"big\"}},\"x\":\"{}\"}}",
        "a".repeat(4 << 20)
    );
    let (code, resp) = http(&a, "POST", PODS, Some("application/json"), big.as_bytes());
    assert_eq!(code, 413, "{resp}");
    // Nothing was created.
    let (code, list) = http(&a, "GET", PODS, None, b"");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{list}");
}

#[test]
fn bad_parameters_are_bad_requests() {
    let s = Server::start();
    let a = s.addr();
    for q in [
        "?labelSelector=a%20in%20(",
        "?fieldSelector=spec.bogus%3Dx",
        "?limit=abc",
        "?resourceVersion=notanumber",
        "?watch=maybe",
        "?continue=%%%",
        "?timeoutSeconds=x&watch=true",
    ] {
        let (code, resp) = http(&a, "GET", &format!("{PODS}{q}"), None, b"");
        assert_eq!(code, 400, "{q}: {resp}");
    }
    let (code, resp) = http(
        &a,
        "POST",
        &format!("{PODS}?fieldValidation=Sometimes"),
        Some("application/json"),
        b"{}",
    );
    assert_eq!(code, 400, "{resp}");
    let (code, resp) = http(
        &a,
        "PATCH",
        &format!("{PODS}/nope"),
        Some("application/merge-patch+json"),
        b"{}",
    );
    assert_eq!(code, 404, "{resp}");
    let (code, resp) = http(
        &a,
        "PATCH",
        &format!("{PODS}/nope"),
        Some("application/x-unknown"),
        b"{}",
    );
    assert_eq!(code, 415, "{resp}");
    let (code, resp) = http(&a, "DELETE", "/api/v1/namespaces", None, b"");
    assert_eq!(code, 405, "{resp}");
}

#[test]
fn garbage_never_yields_a_server_error() {
    let s = Server::start();
    let a = s.addr();
    // A pod to patch.
    let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#;
    assert_eq!(http(&a, "POST", PODS, Some("application/json"), pod).0, 201);
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples: Vec<Vec<u8>> = vec![
        b"null".to_vec(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"\"str\"".to_vec(),
        br#"{"metadata":null}"#.to_vec(),
        br#"{"metadata":{"name":5}}"#.to_vec(),
        br#"{"metadata":{"labels":{"a":1}}}"#.to_vec(),
        br#"{"spec":{"containers":[{"name":"c","image":"x","ports":[{"containerPort":"eighty"}]}]}}"#.to_vec(),
        br#"{"spec":{"containers":[{"$patch":"delete"}]}}"#.to_vec(),
        br#"{"spec":{"$setElementOrder/containers":[{"name":1}]}}"#.to_vec(),
        br#"[{"op":"move","from":"/spec","path":"/spec/x"}]"#.to_vec(),
        br#"[{"op":"remove","path":"/metadata"}]"#.to_vec(),
        br#"[{"op":"replace","path":"/metadata/name","value":"other"}]"#.to_vec(),
        br#"[{"op":"add","path":"/kind","value":"Node"}]"#.to_vec(),
        br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[]}}"#.to_vec(),
    ];
    let paths = [
        format!("{PODS}/p"),
        format!("{PODS}/p/status"),
        format!("{PODS}/p/binding"),
        "/apis/apps/v1/namespaces/default/deployments/d/scale".to_string(),
        "/api/v1/namespaces/default".to_string(),
        "/api/v1/nodes/n".to_string(),
        PODS.to_string(),
    ];
    let types = [
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    let mut count = 0;
    for path in &paths {
        for method in ["POST", "PUT", "PATCH", "DELETE", "GET"] {
            for body in &samples {
                let ct = types[(next() % types.len() as u64) as usize];
                let q = if method == "PATCH" && ct.contains("apply") {
                    "?fieldManager=t"
                } else {
                    ""
                };
                let (code, resp) = http(&a, method, &format!("{path}{q}"), Some(ct), body);
                count += 1;
                assert!(
                    (200..500).contains(&code),
                    "{method} {path} {ct} {}: {code} {resp}",
                    String::from_utf8_lossy(body)
                );
            }
            // Random bytes too.
            let junk: Vec<u8> = (0..64).map(|_| next() as u8).collect();
            let (code, resp) = http(&a, method, path, Some(types[0]), &junk);
            assert!(
                (200..500).contains(&code),
                "{method} {path} junk: {code} {resp}"
            );
        }
    }
    assert!(count > 300);
    // Still serving.
    assert_eq!(http(&a, "GET", "/readyz", None, b"").0, 200);
}
