//! `agent-bench`: pod startup through the whole path on one node — a real `skiff server` (with its
//! scheduler) and a real `skiff agent` (runc, CNI) that this benchmark starts itself, the image
//! already in the node's store (pulled once from a `docker-registry` on loopback before measuring).
//!
//! - **serial**: N pods one after another, each created only once the previous one runs: the
//!   latency of one pod start with nothing else going on (creation sent → `Running` seen on a watch).
//! - **burst**: N pods created at once by concurrent clients: sustained starts per second and each
//!   pod's creation → Running latency under load.
//! - Memory: the agent's RSS idle (no pods) and with N pods running, and the shims' total RSS.
//!
//! Needs root (it runs containers). All traffic goes to 127.0.0.1; pods make no connections.

#[allow(dead_code)]
#[path = "../client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../stats.rs"]
mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::Api;
use serde_json::json;

/// Benchmarks pod startup on one node (server + agent started here; needs root).
#[derive(Parser, Debug)]
#[command(name = "agent-bench", version)]
struct Cli {
    /// Pods per phase.
    #[arg(long, default_value_t = 100)]
    pods: usize,
    /// Concurrent clients creating pods in the burst phase.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// The skiff binary [default: target/release/skiff, else the skiff beside this binary].
    #[arg(long)]
    skiff: Option<PathBuf>,
    /// Where the data directories go [default: the system temp dir].
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Seconds to let the agent settle before reading its idle RSS.
    #[arg(long, default_value_t = 5)]
    settle_secs: u64,
}

fn skiff_binary(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(p) = &cli.skiff {
        return Ok(p.clone());
    }
    for p in [
        PathBuf::from("target/release/skiff"),
        std::env::current_exe()?.with_file_name("skiff"),
    ] {
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("no skiff binary: build it with `cargo build --release -p skiff` or pass --skiff")
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_registry(dir: &Path) -> anyhow::Result<(Proc, String)> {
    let port = free_port()?;
    let host = format!("127.0.0.1:{port}");
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\nlog:\n  level: error\n",
            dir.join("registry").display()
        ),
    )?;
    let child = Command::new("/usr/bin/docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting /usr/bin/docker-registry (Debian package docker-registry)")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&host).is_err() {
        if Instant::now() > deadline {
            bail!("docker-registry did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((Proc(child), host))
}

fn pod(name: &str, image: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "agent"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]
        }
    }))
    .expect("valid pod")
}

/// Pod name → when it was first seen Running.
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

fn watch_running(api: Api<Pod>, seen: Seen) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rv = api
            .list(&ListParams::default().limit(1))
            .await
            .ok()
            .and_then(|l| l.metadata.resource_version)
            .unwrap_or_else(|| "0".into());
        loop {
            let Ok(stream) = api.watch(&WatchParams::default().timeout(290), &rv).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let mut stream = stream.boxed();
            while let Ok(Some(ev)) = stream.try_next().await {
                if let WatchEvent::Added(p) | WatchEvent::Modified(p) = ev {
                    rv = p.metadata.resource_version.clone().unwrap_or(rv);
                    let running =
                        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                    if running {
                        let name = p.metadata.name.clone().unwrap_or_default();
                        seen.lock()
                            .unwrap()
                            .entry(name)
                            .or_insert_with(Instant::now);
                    }
                }
            }
        }
    })
}

async fn wait_running(seen: &Seen, name: &str, timeout: Duration) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(t) = seen.lock().unwrap().get(name) {
            return Ok(*t);
        }
        if Instant::now() > deadline {
            bail!("pod {name} not Running within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn delete_all(api: &Api<Pod>) -> anyhow::Result<()> {
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("bench=agent"),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = api
            .list(&ListParams::default().labels("bench=agent"))
            .await?
            .items
            .len();
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{left} pods still exist two minutes after deletion");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Proportional set size (shared pages divided among their users), bytes.
fn pss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// Shims of this agent: count, total RSS, total PSS.
fn shim_rss(data_dir: &Path) -> (usize, u64, u64) {
    let needle = data_dir.to_string_lossy().into_owned();
    let mut count = 0;
    let mut total = 0;
    let mut pss = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(" shim ") && cmd.contains(&needle) {
            if let Ok(m) = server::proc_memory(pid) {
                count += 1;
                total += m.rss_bytes;
                pss += pss_of(pid);
            }
        }
    }
    (count, total, pss)
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

fn print_latency(what: &str, h: &hdrhistogram::Histogram<u64>) {
    let l = stats::Latency::of(h);
    println!(
        "{what}: n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms",
        l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
    );
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let skiff = skiff_binary(&cli)?;
    let root = cli.data_root.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("skiff-agent-bench-")
        .tempdir_in(&root)?;
    let (_registry, reg_host) = start_registry(dir.path())?;
    let image = skiff_kubelet::image::test_util::build_busybox_image(&["sh"]);
    skiff_kubelet::image::test_util::push(&reg_host, "busybox", "bench", &image)
        .await
        .context("pushing the busybox image")?;
    let image_ref = format!("{reg_host}/busybox:bench");

    let server_dir = dir.path().join("server");
    let port = free_port()?;
    let server_log = std::fs::File::create(dir.path().join("server.log"))?;
    let _server = Proc(
        Command::new(&skiff)
            .args(["server", "--data-dir"])
            .arg(&server_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(server_log)
            .spawn()?,
    );
    let kubeconfig = server_dir.join("admin.kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubeconfig.exists() {
        if Instant::now() > deadline {
            bail!("skiff server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let agent_dir = dir.path().join("agent");
    let agent_log = std::fs::File::create(dir.path().join("agent.log"))?;
    let agent = Proc(
        Command::new(&skiff)
            .arg("agent")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--node-name", "bench-node", "--data-dir"])
            .arg(&agent_dir)
            .args([
                "--node-ip",
                "127.0.0.1",
                "--kubelet-port",
                "0",
                "--bridge",
                "skiffbench0",
                "--pod-cidr",
                "10.89.0.0/22",
            ])
            .stdout(Stdio::null())
            .stderr(agent_log)
            .spawn()?,
    );
    let agent_pid = agent.0.id();

    let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while nodes.get_opt("bench-node").await?.is_none() {
        if Instant::now() > deadline {
            bail!("the agent did not register its node");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen: Seen = Arc::default();
    let watcher = watch_running(api.clone(), seen.clone());

    // Warm-up: pulls the image into the node's store; not measured.
    api.create(&PostParams::default(), &pod("warmup", &image_ref))
        .await?;
    wait_running(&seen, "warmup", Duration::from_secs(60)).await?;
    delete_all(&api).await?;
    tokio::time::sleep(Duration::from_secs(cli.settle_secs)).await;
    let idle = server::proc_memory(agent_pid)?;

    println!(
        "agent-bench: {} pods per phase, image cached, one node, release build",
        cli.pods
    );
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "agent RSS idle: {:.1} MiB (PSS {:.1} MiB)",
        mib(idle.rss_bytes),
        mib(pss_of(agent_pid))
    );

    // Serial.
    let mut serial = stats::histogram();
    for i in 0..cli.pods {
        let name = format!("serial-{i}");
        let t = Instant::now();
        api.create(&PostParams::default(), &pod(&name, &image_ref))
            .await?;
        let at = wait_running(&seen, &name, Duration::from_secs(60)).await?;
        stats::record(&mut serial, at.saturating_duration_since(t));
    }
    print_latency("serial start (create → Running)", &serial);
    let with_pods = server::proc_memory(agent_pid)?;
    let (shims, shim_bytes, shim_pss) = shim_rss(&agent_dir);
    println!(
        "agent RSS with {} pods: {:.1} MiB (peak {:.1} MiB, PSS {:.1} MiB)",
        cli.pods,
        mib(with_pods.rss_bytes),
        mib(with_pods.peak_rss_bytes),
        mib(pss_of(agent_pid)),
    );
    println!(
        "{} shims: RSS {:.1} MiB in all ({:.2} MiB each), PSS {:.1} MiB in all ({:.2} MiB each)",
        shims,
        mib(shim_bytes),
        mib(shim_bytes) / shims.max(1) as f64,
        mib(shim_pss),
        mib(shim_pss) / shims.max(1) as f64
    );
    let t = Instant::now();
    delete_all(&api).await?;
    println!(
        "deleting {} pods: {:.1} s",
        cli.pods,
        t.elapsed().as_secs_f64()
    );

    // Burst.
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let first = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..cli.clients.max(1) {
        let api = api.clone();
        let sent = sent.clone();
        let next = next.clone();
        let image_ref = image_ref.clone();
        let n = cli.pods;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), kube::Error>(());
                }
                let name = format!("burst-{i}");
                sent.lock().unwrap().insert(name.clone(), Instant::now());
                api.create(&PostParams::default(), &pod(&name, &image_ref))
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let mut burst = stats::histogram();
    let mut last = first;
    for i in 0..cli.pods {
        let name = format!("burst-{i}");
        let at = wait_running(&seen, &name, Duration::from_secs(120)).await?;
        let t0 = sent.lock().unwrap()[&name];
        stats::record(&mut burst, at.saturating_duration_since(t0));
        last = last.max(at);
    }
    let span = last.duration_since(first);
    print_latency("burst start (create → Running)", &burst);
    println!(
        "burst: {} pods Running {:.2} s after the first create: {:.1} pods/s",
        cli.pods,
        span.as_secs_f64(),
        cli.pods as f64 / span.as_secs_f64()
    );
    let with_pods = server::proc_memory(agent_pid)?;
    println!(
        "agent RSS with {} pods (burst): {:.1} MiB",
        cli.pods,
        mib(with_pods.rss_bytes)
    );
    delete_all(&api).await?;
    watcher.abort();
    drop(agent);
    let _ = Command::new("ip")
        .args(["link", "del", "skiffbench0"])
        .status();
    skiff_kubelet::network::remove_masquerade("10.89.0.0/22");
    Ok(())
}
