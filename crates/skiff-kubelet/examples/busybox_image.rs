//! Builds the busybox test image and either pushes it to a registry or measures pulls.
//!
//! ```text
//! cargo run -p skiff-kubelet --features test-util --example busybox_image -- push HOST:PORT REPO TAG [CMD...]
//! cargo run -p skiff-kubelet --features test-util --example busybox_image -- layout DIR [CMD...]
//! cargo run -p skiff-kubelet --features test-util --example busybox_image -- [time [N]]
//! ```
//!
//! `push` sends it to a registry (plain HTTP), `layout` writes an OCI image layout (for skopeo), and
//! `time` (the default) starts a local docker-registry, pushes the image and prints the time of a
//! cold pull into an empty store and of N cached pulls.

use std::time::{Duration, Instant};

use skiff_kubelet::image::test_util::{build_busybox_image, push, Registry};
use skiff_kubelet::image::{ImageStore, PullOptions};

fn cmd(rest: &[String]) -> Vec<&str> {
    if rest.is_empty() {
        vec!["sh", "-c", "echo hello from skiff; sleep 3600"]
    } else {
        rest.iter().map(String::as_str).collect()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("push") if args.len() >= 4 => {
            let image = build_busybox_image(&cmd(&args[4..]));
            let digest = push(&args[1], &args[2], &args[3], &image)
                .await
                .expect("push");
            println!("{}/{}:{} {digest}", args[1], args[2], args[3]);
        }
        Some("layout") if args.len() >= 2 => {
            let image = build_busybox_image(&cmd(&args[2..]));
            image
                .write_oci_layout(std::path::Path::new(&args[1]))
                .expect("write layout");
            println!("{} {}", args[1], image.manifest_digest);
        }
        None | Some("time") => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
            time_pulls(n).await
        }
        _ => {
            eprintln!("usage: busybox_image [push HOST:PORT REPO TAG [CMD...] | layout DIR [CMD...] | time [N]]");
            std::process::exit(2);
        }
    }
}

async fn time_pulls(n: usize) {
    let t = Instant::now();
    let image = build_busybox_image(&cmd(&[]));
    println!(
        "built busybox image: one layer, {} bytes gzip, in {:?}",
        image.layers[0].data.len(),
        t.elapsed()
    );
    let reg = Registry::start();
    push(&reg.host, "bench/busybox", "latest", &image)
        .await
        .expect("push");
    let reference = format!("{}/bench/busybox:latest", reg.host);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = ImageStore::open(dir.path()).expect("store");
    let opts = PullOptions::default();

    let t = Instant::now();
    store.pull(&reference, &opts).await.expect("cold pull");
    let cold = t.elapsed();
    let mut cached: Vec<Duration> = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        store.pull(&reference, &opts).await.expect("cached pull");
        cached.push(t.elapsed());
    }
    cached.sort();
    println!("cold pull: {cold:?}");
    if !cached.is_empty() {
        println!(
            "cached pull ({n}x): min {:?}, median {:?}, max {:?}",
            cached[0],
            cached[cached.len() / 2],
            cached[cached.len() - 1]
        );
    }
}

fn tracing_subscriber_init() {
    // Logs only when asked (RUST_LOG=skiff_kubelet=debug).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
}
