//! Pulls from a real registry (Debian `docker-registry` on a loopback port, plain HTTP) of images
//! built from Debian's busybox-static.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skiff_kubelet::image::test_util::{
    build_busybox_image, busybox_layer, push, push_index, push_with, ImageBuilder, LayerBuilder,
    Registry, TestImage,
};
use skiff_kubelet::image::{
    parse_docker_config_json, ImageStore, Platform, PullErrorKind, PullOptions, PullPolicy,
    PullProgress,
};
use tar::EntryType;

use crate::support::{tempdir, tree, StallingProxy};

/// `alice` / `s3cret`, bcrypt (cost 4) as docker-registry's htpasswd wants it.
const HTPASSWD: &str = "alice:$2b$04$stFdXztVT9knElOgGsdWD.9t.QRecVLs5mMQHEsYJqSRzSb4IL/JO";

fn other_arch() -> &'static str {
    if Platform::host().architecture == "arm64" {
        "amd64"
    } else {
        "arm64"
    }
}

fn busybox() -> TestImage {
    build_busybox_image(&["sh", "-c", "echo hello from skiff"])
}

fn blob_files(store: &ImageStore) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.root().join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

fn layer_dirs(store: &ImageStore) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.root().join("layers/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_busybox_cold_then_cached() {
    let reg = Registry::start();
    let image = busybox();
    push(&reg.host, "test/busybox", "1.0", &image)
        .await
        .unwrap();
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let reference = format!("{}/test/busybox:1.0", reg.host);

    let seen: Arc<Mutex<Vec<PullProgress>>> = Arc::default();
    let seen2 = seen.clone();
    let opts = PullOptions {
        progress: Some(Arc::new(move |p: &PullProgress| {
            seen2.lock().unwrap().push(*p)
        })),
        progress_interval: Duration::from_millis(20),
        ..PullOptions::default()
    };
    let t = Instant::now();
    let rec = store.pull(&reference, &opts).await.unwrap();
    let cold = t.elapsed();

    assert_eq!(rec.id, image.config.digest);
    assert_eq!(rec.manifest_digest, image.manifest_digest);
    assert_eq!(rec.index_digest, None);
    assert_eq!(rec.repo_tags, std::slice::from_ref(&reference));
    assert_eq!(
        rec.repo_digests,
        [format!(
            "{}/test/busybox@{}",
            reg.host, image.manifest_digest
        )]
    );
    assert_eq!(rec.config.cmd, ["sh", "-c", "echo hello from skiff"]);
    assert!(rec.config.env[0].starts_with("PATH="));
    assert_eq!(rec.platform.architecture, Platform::host().architecture);
    assert_eq!(rec.layers.len(), 1);
    assert_eq!(rec.layers[0].diff_id, image.diff_ids[0]);
    let expected_size =
        (image.manifest.len() + image.config.data.len() + image.layers[0].data.len()) as u64;
    assert_eq!(rec.size, expected_size);
    let rootfs = &store.layer_paths(&rec)[0];
    assert_eq!(
        std::fs::read(rootfs.join("bin/busybox")).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap().to_str(),
        Some("busybox")
    );

    let progress = seen.lock().unwrap().clone();
    let last = *progress.last().expect("progress reported");
    let blobs = (image.config.data.len() + image.layers[0].data.len()) as u64;
    assert_eq!(
        (last.total_bytes, last.done_bytes, last.downloaded_bytes),
        (blobs, blobs, blobs)
    );
    assert!(progress
        .windows(2)
        .all(|w| w[0].done_bytes <= w[1].done_bytes));

    // Lookups by tag, by digest, by ID, by a short name that normalizes the same.
    assert_eq!(store.get(&reference).unwrap().id, rec.id);
    assert_eq!(store.get(&rec.repo_digests[0]).unwrap().id, rec.id);
    assert_eq!(store.get(&rec.id).unwrap().id, rec.id);
    assert!(store
        .get(&format!("{}/test/busybox:2.0", reg.host))
        .is_none());
    assert_eq!(store.image_size(&reference), Some(expected_size));
    let status = store.status_images();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].size_bytes, Some(expected_size as i64));
    assert_eq!(
        status[0].names.as_deref().unwrap(),
        [rec.repo_digests[0].clone(), reference.clone()]
    );

    // Cached: one manifest request, nothing downloaded.
    seen.lock().unwrap().clear();
    let t = Instant::now();
    let again = store.pull(&reference, &opts).await.unwrap();
    let cached = t.elapsed();
    assert_eq!(again, rec);
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!((last.done_bytes, last.downloaded_bytes), (blobs, 0));
    assert_eq!(reg.blob_downloads(&image.layers[0].digest), 1);
    assert_eq!(reg.blob_downloads(&image.config.digest), 1);
    eprintln!(
        "busybox test image ({} bytes compressed): cold pull {cold:?}, cached pull {cached:?}",
        image.layers[0].data.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_arch_index_resolves_this_platform() {
    let reg = Registry::start();
    let here = ImageBuilder::new()
        .layer(LayerBuilder::new().file("arch", b"host", 0o644).into_tar())
        .cmd(&["/arch"])
        .build();
    let there = ImageBuilder::new()
        .layer(LayerBuilder::new().file("arch", b"other", 0o644).into_tar())
        .architecture(other_arch())
        .build();
    let index = push_index(&reg.host, "multi/app", "v1", &[&there, &here])
        .await
        .unwrap();
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let reference = format!("{}/multi/app:v1", reg.host);

    let rec = store
        .pull(&reference, &PullOptions::default())
        .await
        .unwrap();
    assert_eq!(rec.manifest_digest, here.manifest_digest);
    assert_eq!(rec.index_digest.as_deref(), Some(index.as_str()));
    assert_eq!(
        rec.repo_digests,
        [format!("{}/multi/app@{index}", reg.host)]
    );
    assert_eq!(rec.platform.architecture, Platform::host().architecture);
    assert_eq!(
        std::fs::read(store.layer_paths(&rec)[0].join("arch")).unwrap(),
        b"host"
    );
    assert_eq!(
        reg.blob_downloads(&there.layers[0].digest),
        0,
        "other platform not downloaded"
    );
    assert!(!blob_files(&store).contains(&there.layers[0].digest));
    // Found by the index digest and by the platform manifest digest.
    assert!(store
        .get(&format!("{}/multi/app@{index}", reg.host))
        .is_some());
    assert!(store
        .get(&format!("{}/multi/app@{}", reg.host, here.manifest_digest))
        .is_some());

    // Another platform on request; a platform the index lacks is NotFound.
    let other = PullOptions {
        platform: Platform {
            os: "linux".into(),
            architecture: other_arch().into(),
            variant: None,
        },
        ..PullOptions::default()
    };
    let rec2 = store.pull(&reference, &other).await.unwrap();
    assert_eq!(rec2.manifest_digest, there.manifest_digest);
    let none = PullOptions {
        platform: Platform {
            os: "linux".into(),
            architecture: "s390x".into(),
            variant: None,
        },
        ..PullOptions::default()
    };
    let err = store.pull(&reference, &none).await.unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("s390x"), "{err}");

    // Pulling by the index digest works too.
    let by_digest = store
        .pull(
            &format!("{}/multi/app@{index}", reg.host),
            &PullOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_digest.id, rec.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_download_each_blob_once() {
    let reg = Registry::start();
    let image = busybox();
    // A second image on the same base layer, with a layer of its own.
    let sibling = ImageBuilder::new()
        .layer(busybox_layer().into_tar())
        .layer(
            LayerBuilder::new()
                .file("etc/app.conf", b"x=1", 0o644)
                .into_tar(),
        )
        .build();
    assert_eq!(sibling.layers[0].digest, image.layers[0].digest);
    push(&reg.host, "conc/busybox", "latest", &image)
        .await
        .unwrap();
    push(&reg.host, "conc/busybox", "app", &sibling)
        .await
        .unwrap();
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();

    let refs: Vec<String> = (0..8)
        .map(|i| {
            let tag = if i % 2 == 0 { "latest" } else { "app" };
            format!("{}/conc/busybox:{tag}", reg.host)
        })
        .collect();
    let opts = PullOptions::default();
    let results = futures::future::join_all(refs.iter().map(|r| store.pull(r, &opts))).await;
    for (r, res) in refs.iter().zip(&results) {
        assert!(res.is_ok(), "{r}: {res:?}");
    }
    assert_eq!(
        reg.blob_downloads(&image.layers[0].digest),
        1,
        "shared layer fetched once"
    );
    assert_eq!(reg.blob_downloads(&image.config.digest), 1);
    assert_eq!(reg.blob_downloads(&sibling.config.digest), 1);
    assert_eq!(reg.blob_downloads(&sibling.layers[1].digest), 1);
    assert_eq!(layer_dirs(&store).len(), 2, "each layer unpacked once");
    assert_eq!(store.list().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_blobs_are_detected() {
    let reg = Registry::start();
    let image = busybox();
    push(&reg.host, "bad/busybox", "1", &image).await.unwrap();
    // Same length, different bytes.
    let path = reg.blob_data_path(&image.layers[0].digest);
    let mut data = std::fs::read(&path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&path, &data).unwrap();

    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let reference = format!("{}/bad/busybox:1", reg.host);
    let err = store
        .pull(&reference, &PullOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::DigestMismatch, "{err}");
    assert_eq!(err.reason(), "ErrImagePull");
    assert!(!blob_files(&store).contains(&image.layers[0].digest));
    assert!(layer_dirs(&store).is_empty());
    assert!(
        tree(&store.root().join("ingest")).is_empty(),
        "no partial download left"
    );
    assert!(store.get(&reference).is_none());

    // A layer whose uncompressed content does not match the config's DiffID.
    let lying = ImageBuilder::new()
        .layer(LayerBuilder::new().file("a", b"a", 0o644).into_tar())
        .diff_ids(vec![format!("sha256:{}", "0".repeat(64))])
        .build();
    push(&reg.host, "bad/diffid", "1", &lying).await.unwrap();
    let err = store
        .pull(
            &format!("{}/bad/diffid:1", reg.host),
            &PullOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::DigestMismatch, "{err}");
    assert!(err.to_string().contains("DiffID"), "{err}");
    assert!(layer_dirs(&store).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_kinds() {
    let reg = Registry::start();
    push(&reg.host, "kinds/busybox", "1", &busybox())
        .await
        .unwrap();
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let opts = PullOptions::default();

    let err = store
        .pull(&format!("{}/no/such:1", reg.host), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::NotFound, "{err}");
    let err = store
        .pull(&format!("{}/kinds/busybox:2", reg.host), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::NotFound, "{err}");
    let missing = format!("{}/kinds/busybox@sha256:{}", reg.host, "1".repeat(64));
    let err = store.pull(&missing, &opts).await.unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::NotFound, "{err}");

    // Nobody listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = store
        .pull(&format!("{closed}/x/y:1"), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::Network, "{err}");

    let err = store.pull("Not A Reference", &opts).await.unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::InvalidReference);
    assert_eq!(err.reason(), "InvalidImageName");

    // Pull policies.
    let absent = format!("{}/kinds/busybox:1", reg.host);
    let err = store
        .ensure(&absent, PullPolicy::Never, &opts)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        (PullErrorKind::NeverPull, "ErrImageNeverPull")
    );
    let (_, pulled) = store
        .ensure(&absent, PullPolicy::IfNotPresent, &opts)
        .await
        .unwrap();
    assert!(pulled);
    let (_, pulled) = store
        .ensure(&absent, PullPolicy::IfNotPresent, &opts)
        .await
        .unwrap();
    assert!(!pulled);
    let (_, pulled) = store
        .ensure(&absent, PullPolicy::Never, &opts)
        .await
        .unwrap();
    assert!(!pulled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_a_pull_secret() {
    let reg = Registry::start_with_htpasswd(HTPASSWD);
    let secret = format!(
        r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6czNjcmV0"}}}}}}"#,
        reg.host
    );
    let creds =
        parse_docker_config_json(secret.as_bytes(), &reg.host).expect("credentials for the host");
    assert_eq!(creds.username, "alice");
    let image = busybox();
    push_with(&reg.host, "private/busybox", "1", &image, Some(&creds))
        .await
        .unwrap();

    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let reference = format!("{}/private/busybox:1", reg.host);
    let err = store
        .pull(&reference, &PullOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::Unauthorized, "{err}");
    let wrong = PullOptions {
        credentials: Some(skiff_kubelet::image::Credentials {
            username: "alice".into(),
            password: "wrong".into(),
        }),
        ..PullOptions::default()
    };
    let err = store.pull(&reference, &wrong).await.unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::Unauthorized, "{err}");
    let ok = PullOptions {
        credentials: Some(creds),
        ..PullOptions::default()
    };
    let rec = store.pull(&reference, &ok).await.unwrap();
    assert_eq!(rec.id, image.config.digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_images_and_sweeps_leftovers() {
    let reg = Registry::start();
    let image = busybox();
    push(&reg.host, "keep/busybox", "1", &image).await.unwrap();
    let dir = tempdir();
    let reference = format!("{}/keep/busybox:1", reg.host);
    let rec = {
        let store = ImageStore::open(dir.path()).unwrap();
        store
            .pull(&reference, &PullOptions::default())
            .await
            .unwrap()
    };
    // What a crash mid-pull leaves behind.
    std::fs::write(dir.path().join("ingest/abc.partial"), b"half").unwrap();
    std::fs::create_dir_all(dir.path().join("ingest/unpack-xyz/bin")).unwrap();
    let orphan = "e".repeat(64);
    std::fs::write(dir.path().join("blobs/sha256").join(&orphan), b"orphan").unwrap();
    std::fs::create_dir_all(dir.path().join("layers/sha256").join(&orphan)).unwrap();

    let store = ImageStore::open(dir.path()).unwrap();
    assert_eq!(store.list(), std::slice::from_ref(&rec));
    assert_eq!(store.get(&reference), Some(rec.clone()));
    assert!(tree(&dir.path().join("ingest")).is_empty());
    assert!(!blob_files(&store).contains(&format!("sha256:{orphan}")));
    assert_eq!(layer_dirs(&store), [rec.layers[0].diff_id.clone()]);
    assert!(store.layer_paths(&rec)[0].join("bin/busybox").exists());
    // And it is served from the store: nothing downloaded again.
    store
        .pull(&reference, &PullOptions::default())
        .await
        .unwrap();
    assert_eq!(reg.blob_downloads(&image.layers[0].digest), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_collects_unused_content() {
    let reg = Registry::start();
    let base = busybox();
    let app = ImageBuilder::new()
        .layer(busybox_layer().into_tar())
        .layer(LayerBuilder::new().file("app", b"app", 0o755).into_tar())
        .build();
    push(&reg.host, "gc/base", "1", &base).await.unwrap();
    push(&reg.host, "gc/app", "1", &app).await.unwrap();
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let opts = PullOptions::default();
    let base_ref = format!("{}/gc/base:1", reg.host);
    let app_ref = format!("{}/gc/app:1", reg.host);
    store.pull(&base_ref, &opts).await.unwrap();
    store.pull(&app_ref, &opts).await.unwrap();
    assert_eq!(layer_dirs(&store).len(), 2);

    let removed = store.remove(&app_ref).await.unwrap().expect("was there");
    assert_eq!(removed.id, app.config.digest);
    let blobs = blob_files(&store);
    assert!(!blobs.contains(&app.layers[1].digest));
    assert!(!blobs.contains(&app.config.digest));
    assert!(!blobs.contains(&app.manifest_digest));
    assert!(blobs.contains(&base.layers[0].digest), "shared layer kept");
    assert_eq!(layer_dirs(&store), [base.diff_ids[0].clone()]);
    assert!(store.get(&app_ref).is_none());
    assert!(store.get(&base_ref).is_some());
    assert!(store.remove(&app_ref).await.unwrap().is_none());

    store.remove(&base_ref).await.unwrap().unwrap();
    assert!(blob_files(&store).is_empty());
    assert!(layer_dirs(&store).is_empty());
    assert!(store.list().is_empty());
    drop(store);
    assert!(
        ImageStore::open(dir.path()).unwrap().list().is_empty(),
        "removal persisted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_downloads_are_resumed_then_given_up() {
    let reg = Registry::start();
    let image = busybox();
    push(&reg.host, "slow/busybox", "1", &image).await.unwrap();
    let opts = PullOptions {
        stall_timeout: Duration::from_millis(500),
        retry_delay: Duration::from_millis(10),
        retries: 2,
        ..PullOptions::default()
    };

    // The first connection goes silent after 64 KiB: the pull resumes with a range request.
    let proxy = StallingProxy::start(&reg.host, 64 * 1024, 1).await;
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let rec = store
        .pull(&format!("{}/slow/busybox:1", proxy.host), &opts)
        .await
        .unwrap();
    assert_eq!(rec.id, image.config.digest);
    assert_eq!(proxy.stalled.load(Ordering::SeqCst), 1);
    assert!(
        reg.log().contains("\" 206 "),
        "resumed with a range request:\n{}",
        reg.log()
    );

    // Every connection stalls: the pull gives up after its retries, as a network error.
    let proxy = StallingProxy::start(&reg.host, 64 * 1024, usize::MAX).await;
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let err = store
        .pull(&format!("{}/slow/busybox:1", proxy.host), &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::Network, "{err}");
    assert!(err.to_string().contains("stalled"), "{err}");
    assert_eq!(
        proxy.stalled.load(Ordering::SeqCst),
        3,
        "1 attempt + 2 retries"
    );
    assert!(tree(&store.root().join("ingest")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_layer_from_a_registry_is_refused() {
    let reg = Registry::start();
    let evil = ImageBuilder::new()
        .layer(
            LayerBuilder::new()
                .file("ok", b"fine", 0o644)
                .raw(
                    EntryType::Regular,
                    b"../../../../../../tmp/skiff-evil-pull",
                    None,
                    b"pwned",
                )
                .into_tar(),
        )
        .build();
    push(&reg.host, "evil/image", "1", &evil).await.unwrap();
    let dir = tempdir();
    let store = ImageStore::open(dir.path()).unwrap();
    let err = store
        .pull(
            &format!("{}/evil/image:1", reg.host),
            &PullOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), PullErrorKind::Layer, "{err}");
    assert!(err.to_string().contains(".."), "{err}");
    assert!(!std::path::Path::new("/tmp/skiff-evil-pull").exists());
    assert!(layer_dirs(&store).is_empty());
    assert!(tree(&store.root().join("ingest")).is_empty());
    assert!(store.list().is_empty());
}
