//! Scheduler throughput through the real API server, modelled on kube-scheduler's scheduler_perf
//! workloads (`test/integration/scheduler_perf/config/performance-config.yaml`, 5000-node cases).
//!
//! Each workload gets a fresh `skiff server` (its in-process scheduler, or `--disable-scheduler` plus
//! a separate `skiff scheduler` process with `--separate-scheduler`). The benchmark creates the nodes
//! through the API (`node-default.yaml`: 4 CPU, 32Gi, 110 pods, plus hostname and zone labels; the
//! status is sent with the create and, if the server drops it, patched afterwards), then the init pods
//! (waiting until all are bound), then the measured pods from C concurrent clients as fast as the server
//! accepts them. One watch on all pods (opened before the first pod) stamps the moment each pod is first
//! seen with `spec.nodeName` set, i.e. bound by `POST pods/<name>/binding`.
//!
//! Per measured pod, the scheduling latency is from just before its create was sent to the watch event
//! that shows it bound (creationTimestamp has second resolution, so the client's clock is used).
//! Throughput is measured pods bound / (last bind − first measured create sent).
//!
//! The pod and node shapes are those of `crates/skiff-scheduler/examples/algorithm_bench.rs` (the same
//! workloads in-process, without the API server), written here as JSON because that is what a client
//! sends: scheduler_perf's templates `pod-default.yaml`, `pod-with-pod-anti-affinity.yaml`,
//! `pod-with-pod-affinity.yaml`, `pod-with-topology-spreading` and `pod-with-node-affinity.yaml`,
//! `pod-low-priority.yaml` / `pod-high-priority.yaml`.
//!
//! `scheduler-memory` runs `skiff server --disable-scheduler` plus a separate `skiff scheduler`, stores N
//! nodes and M pods already bound to them (so the scheduler only caches them) and reads the scheduler
//! process's VmRSS from `/proc`.

use crate::client::{ensure_namespace, excerpt, resource_version, Conn};
use crate::server::{self, Memory, Options, Server};
use crate::stats::{self, Latency};
use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SETUP_NS: &str = "sched-setup";
const TEST_NS: &str = "sched-test";
/// A run stops waiting for binds after this long without one.
const STALL: Duration = Duration::from_secs(30);
/// Failed requests after which a phase stops early.
const MAX_ERRORS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Basic,
    AntiAffinity,
    Affinity,
    Spread,
    NodeAffinity,
    LowPriority,
    HighPriority,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: &'static str,
    pub nodes: usize,
    zones: &'static [&'static str],
    pub init: usize,
    init_shape: Shape,
    pub measured: usize,
    measured_shape: Shape,
    /// Target pods/s (issue 3).
    pub target: f64,
}

/// The workloads, as in `algorithm_bench.rs` (and upstream's 5000Nodes cases).
pub fn workloads() -> Vec<Workload> {
    use Shape::*;
    let w = |name, nodes, zones, init, init_shape, measured, measured_shape, target| Workload {
        name,
        nodes,
        zones,
        init,
        init_shape,
        measured,
        measured_shape,
        target,
    };
    vec![
        w(
            "SchedulingBasic",
            5000,
            &["zone1"],
            1000,
            Basic,
            10_000,
            Basic,
            5000.0,
        ),
        w(
            "SchedulingPodAntiAffinity",
            5000,
            &["zone1"],
            1000,
            AntiAffinity,
            1000,
            AntiAffinity,
            1000.0,
        ),
        w(
            "SchedulingPodAffinity",
            5000,
            &["zone1"],
            1000,
            Affinity,
            4000,
            Affinity,
            1000.0,
        ),
        w(
            "TopologySpreading",
            5000,
            &["moon-1", "moon-2", "moon-3"],
            1000,
            Basic,
            4000,
            Spread,
            2000.0,
        ),
        w(
            "SchedulingNodeAffinity",
            5000,
            &["zone1"],
            1000,
            NodeAffinity,
            9000,
            NodeAffinity,
            3000.0,
        ),
        w(
            "PreemptionBasic",
            500,
            &["zone1"],
            2000,
            LowPriority,
            500,
            HighPriority,
            500.0,
        ),
    ]
}

fn node_json(name: &str, zone: &str) -> Value {
    let resources = json!({"cpu": "4", "memory": "32Gi", "pods": "110"});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": zone,
        }},
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True"}],
            "phase": "Running",
        },
    })
}

fn pod_json(shape: Shape, ns: &str, name: &str, node: Option<&str>) -> Bytes {
    let (cpu, mem) = match shape {
        Shape::LowPriority => ("900m", "500Mi"),
        Shape::HighPriority => ("3000m", "500Mi"),
        _ => ("100m", "500Mi"),
    };
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "ports": [{"containerPort": 80}],
            "resources": {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu, "memory": mem}},
        }]},
    });
    let both_ns = json!([TEST_NS, SETUP_NS]);
    match shape {
        Shape::Basic => {}
        Shape::AntiAffinity => {
            v["metadata"]["labels"] = json!({"color": "green", "name": "test"});
            v["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"color": "green"}},
                "topologyKey": "kubernetes.io/hostname",
                "namespaces": both_ns,
            }]}});
        }
        Shape::Affinity => {
            v["metadata"]["labels"] = json!({"foo": ""});
            v["spec"]["affinity"] = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"foo": ""}},
                "topologyKey": "topology.kubernetes.io/zone",
                "namespaces": both_ns,
            }]}});
        }
        Shape::Spread => {
            v["metadata"]["labels"] = json!({"foo": "bar"});
            v["spec"]["topologySpreadConstraints"] = json!([{
                "maxSkew": 5,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"foo": "bar"}},
            }]);
        }
        Shape::NodeAffinity => {
            v["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{
                    "key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone1", "zone2"],
                }]}],
            }}});
        }
        Shape::LowPriority => {
            v["spec"]["priorityClassName"] = json!("sched-bench-low");
            // Preemption victims go at once (no kubelet here to confirm a graceful delete).
            v["spec"]["terminationGracePeriodSeconds"] = json!(0);
        }
        Shape::HighPriority => {
            v["spec"]["priorityClassName"] = json!("sched-bench-high");
        }
    }
    if let Some(n) = node {
        v["spec"]["nodeName"] = json!(n);
    }
    Bytes::from(serde_json::to_vec(&v).expect("a pod encodes"))
}

/// Runs `total` requests from `clients` connections; `make(i)` gives request i's method, path and body.
/// `sent(i)` is called just before request i is sent. Returns (ok, first errors).
async fn drive<F, S>(
    addr: SocketAddr,
    total: usize,
    clients: usize,
    time_limit: Duration,
    make: F,
    sent: S,
) -> anyhow::Result<(usize, Vec<String>)>
where
    F: Fn(usize) -> (Method, String, Bytes) + Send + Sync + 'static,
    S: Fn(usize) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let sent = Arc::new(sent);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + time_limit;
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1).min(total.max(1)) {
        let mut conn = Conn::connect(addr).await?;
        let (make, sent, next, errors) = (make.clone(), sent.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            let mut errs = Vec::new();
            loop {
                if Instant::now() > deadline || errors.load(Ordering::Relaxed) >= MAX_ERRORS {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (method, path, body) = make(i);
                sent(i);
                match conn.request(method, &path, Some(body)).await {
                    Ok((s, _)) if s.is_success() => ok += 1,
                    Ok((s, b)) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if errs.len() < 3 {
                            errs.push(format!("{path}: {s}: {}", excerpt(&b)));
                        }
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if errs.len() < 3 {
                            errs.push(format!("{e:#}"));
                        }
                        break;
                    }
                }
            }
            (ok, errs)
        }));
    }
    let mut ok = 0;
    let mut errs = Vec::new();
    for t in tasks {
        let (n, e) = t.await.context("a client task panicked")?;
        ok += n;
        errs.extend(e);
    }
    errs.truncate(5);
    Ok((ok, errs))
}

/// Creates the nodes (with status; patched if the server dropped it on create).
async fn create_nodes(
    srv: &Server,
    w: &Workload,
    clients: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let zones = w.zones;
    let (ok, errs) = drive(
        srv.addr,
        w.nodes,
        clients,
        limit,
        move |i| {
            let name = format!("node-{i}");
            let body = node_json(&name, zones[i % zones.len()]);
            (
                Method::POST,
                "/api/v1/nodes".into(),
                Bytes::from(body.to_string()),
            )
        },
        |_| {},
    )
    .await?;
    if ok != w.nodes {
        bail!("created {ok} of {} nodes: {errs:?}", w.nodes);
    }
    let mut c = Conn::connect(srv.addr).await?;
    let (s, body) = c.request(Method::GET, "/api/v1/nodes/node-0", None).await?;
    if !s.is_success() {
        bail!("reading node-0: {s}: {}", excerpt(&body));
    }
    let v: Value = serde_json::from_slice(&body)?;
    if v.pointer("/status/allocatable/cpu").is_none() {
        eprintln!("   the server dropped node status on create; patching it");
        let (ok, errs) = drive(
            srv.addr,
            w.nodes,
            clients,
            limit,
            move |i| {
                let name = format!("node-{i}");
                let body = json!({"status": node_json(&name, zones[i % zones.len()])["status"]});
                (
                    Method::PATCH,
                    format!("/api/v1/nodes/{name}/status"),
                    Bytes::from(body.to_string()),
                )
            },
            |_| {},
        )
        .await?;
        if ok != w.nodes {
            bail!("patched {ok} of {} node statuses: {errs:?}", w.nodes);
        }
    }
    Ok(())
}

/// What the watch saw, shared with the benchmark.
struct Seen {
    epoch: Instant,
    /// Nanoseconds since `epoch` + 1 when measured pod i's create was sent (0: not yet).
    sent: Vec<AtomicU64>,
    /// Nanoseconds since `epoch` + 1 when measured pod i was first seen bound (0: not yet).
    bound: Vec<AtomicU64>,
    init_bound: Vec<AtomicBool>,
    init_count: AtomicUsize,
    measured_count: AtomicUsize,
    /// Nanoseconds since `epoch` of the last bind seen.
    last_bind: AtomicU64,
    stream_error: std::sync::Mutex<Option<String>>,
}

impl Seen {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    object: EvObject<'a>,
}

#[derive(Deserialize)]
struct EvObject<'a> {
    #[serde(borrow, default)]
    metadata: Option<EvMeta<'a>>,
    #[serde(borrow, default)]
    spec: Option<EvSpec<'a>>,
}

#[derive(Deserialize)]
struct EvMeta<'a> {
    #[serde(borrow, default)]
    name: Option<&'a str>,
    #[serde(borrow, default)]
    namespace: Option<&'a str>,
}

#[derive(Deserialize)]
struct EvSpec<'a> {
    #[serde(rename = "nodeName", borrow, default)]
    node_name: Option<&'a str>,
}

fn on_line(seen: &Seen, line: &[u8]) {
    let Ok(ev) = serde_json::from_slice::<Event<'_>>(line) else {
        return;
    };
    let bound = ev
        .object
        .spec
        .as_ref()
        .and_then(|s| s.node_name)
        .is_some_and(|n| !n.is_empty());
    let Some(meta) = ev.object.metadata else {
        return;
    };
    if !bound {
        return;
    }
    let (Some(name), Some(ns)) = (meta.name, meta.namespace) else {
        return;
    };
    let idx = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let now = seen.now();
    if ns == TEST_NS {
        if let Some(i) = idx("pod-").filter(|i| *i < seen.bound.len()) {
            if seen.bound[i]
                .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                seen.measured_count.fetch_add(1, Ordering::SeqCst);
                seen.last_bind.fetch_max(now, Ordering::SeqCst);
            }
        }
    } else if ns == SETUP_NS {
        if let Some(i) = idx("init-").filter(|i| *i < seen.init_bound.len()) {
            if !seen.init_bound[i].swap(true, Ordering::SeqCst) {
                seen.init_count.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Watches all pods from `rv` until the stream ends or `stop` is set.
async fn watch_pods(addr: SocketAddr, rv: String, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let fail = |e: String| {
        *seen.stream_error.lock().expect("lock") = Some(e);
    };
    let mut conn = match Conn::connect(addr).await {
        Ok(c) => c,
        Err(e) => return fail(format!("{e:#}")),
    };
    let path = format!("/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=3600");
    let resp = match conn.stream(&path).await {
        Ok(r) => r,
        Err(e) => return fail(format!("{e:#}")),
    };
    if resp.status() != StatusCode::OK {
        return fail(format!("watch: {}", resp.status()));
    }
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    while !stop.load(Ordering::Relaxed) {
        let frame = match tokio::time::timeout(Duration::from_millis(200), body.frame()).await {
            Err(_) => continue,
            Ok(None) => return fail("the watch ended early".into()),
            Ok(Some(Err(e))) => return fail(format!("watch stream failed: {e}")),
            Ok(Some(Ok(f))) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        let data: Bytes = if buf.is_empty() {
            frame
        } else {
            buf.extend_from_slice(&frame);
            buf.split().freeze()
        };
        let mut start = 0;
        while let Some(off) = memchr::memchr(b'\n', &data[start..]) {
            on_line(&seen, &data[start..start + off]);
            start += off + 1;
        }
        if start < data.len() {
            buf.extend_from_slice(&data[start..]);
        }
    }
}

/// Waits until `count()` reaches `want`, no progress for [`STALL`], or `limit`; returns the count.
async fn wait_for(count: impl Fn() -> usize, want: usize, limit: Duration, seen: &Seen) -> usize {
    let deadline = Instant::now() + limit;
    let mut last = (count(), Instant::now());
    loop {
        let n = count();
        if n >= want
            || Instant::now() > deadline
            || seen.stream_error.lock().expect("lock").is_some()
        {
            return n;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > STALL {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A separate `skiff scheduler` process against the server, stopped (SIGTERM, then SIGKILL) on drop.
pub struct SchedulerProc {
    child: Child,
    pub pid: u32,
}

impl SchedulerProc {
    pub fn start(
        skiff: &std::path::Path,
        srv: &Server,
        env: &[(String, String)],
    ) -> anyhow::Result<SchedulerProc> {
        let log = std::fs::File::create(srv.data_dir.join("scheduler.log"))?;
        let child = Command::new(skiff)
            .arg("scheduler")
            .arg("--kubeconfig")
            .arg(srv.data_dir.join("data").join("admin.kubeconfig"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting skiff scheduler")?;
        let pid = child.id();
        Ok(SchedulerProc { child, pid })
    }

    pub fn cpu(&self) -> anyhow::Result<Duration> {
        server::proc_cpu(&format!("/proc/{}/stat", self.pid))
    }
}

impl Drop for SchedulerProc {
    fn drop(&mut self) {
        let Some(pgid) = rustix::process::Pid::from_raw(self.pid as i32) else {
            return;
        };
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

pub struct SchedConfig {
    pub workloads: Vec<String>,
    pub clients: usize,
    /// Multiplies every node and pod count (for quick checks), at least 1 of each.
    pub scale: f64,
    /// Run `skiff server --disable-scheduler` and a separate `skiff scheduler` process.
    pub separate: bool,
    pub time_limit: Duration,
    pub wait_quiet: Option<Duration>,
}

#[derive(Debug, Serialize)]
pub struct WorkloadResult {
    pub name: String,
    pub nodes: usize,
    pub init_pods: usize,
    pub measured_pods: usize,
    pub init_bound: usize,
    pub bound: usize,
    pub create_errors: Vec<String>,
    pub setup_s: f64,
    /// Time from the first measured create sent to the last create answered.
    pub create_s: f64,
    /// Time from the first measured create sent to the last bind seen.
    pub elapsed_s: f64,
    pub pods_per_s: f64,
    pub target_pods_per_s: f64,
    /// Create sent → bound seen on the watch.
    pub latency: Latency,
    /// CPU during the measured phase: server (with its in-process scheduler), benchmark, others.
    pub cpu: server::CpuUse,
    /// With `--separate-scheduler`: the scheduler process's cores during the measured phase.
    pub scheduler_cores: Option<f64>,
    pub loadavg_before: String,
    pub loadavg_after: String,
    pub watch_error: Option<String>,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

async fn setup_namespaces(addr: SocketAddr) -> anyhow::Result<()> {
    let mut c = Conn::connect(addr).await?;
    ensure_namespace(&mut c, SETUP_NS).await?;
    ensure_namespace(&mut c, TEST_NS).await?;
    for (name, value) in [("sched-bench-low", 1), ("sched-bench-high", 10)] {
        let pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value});
        let (s, b) = c
            .request(
                Method::POST,
                "/apis/scheduling.k8s.io/v1/priorityclasses",
                Some(Bytes::from(pc.to_string())),
            )
            .await?;
        if !s.is_success() && s != StatusCode::CONFLICT {
            bail!("creating PriorityClass {name}: {s}: {}", excerpt(&b));
        }
    }
    Ok(())
}

pub async fn run_workload(
    opts: &Options<'_>,
    w: &Workload,
    cfg: &SchedConfig,
) -> anyhow::Result<WorkloadResult> {
    let mut extra = opts.extra_args.to_vec();
    if cfg.separate {
        extra.push("--disable-scheduler".into());
    }
    let o = Options {
        extra_args: &extra,
        ..*opts
    };
    let srv = Server::start(&o).await?;
    eprintln!(
        "   {}: server pid {} on http://{} (data in {})",
        w.name,
        srv.pid,
        srv.addr,
        srv.data_dir.display()
    );
    let sched = if cfg.separate {
        let p = SchedulerProc::start(opts.skiff, &srv, opts.env)?;
        eprintln!("   scheduler pid {}", p.pid);
        Some(p)
    } else {
        None
    };
    let t_setup = Instant::now();
    setup_namespaces(srv.addr).await?;
    create_nodes(&srv, w, cfg.clients, cfg.time_limit).await?;
    let mut admin = Conn::connect(srv.addr).await?;
    let (s, body) = admin
        .request(
            Method::GET,
            &format!("/api/v1/namespaces/{TEST_NS}/pods"),
            None,
        )
        .await?;
    if !s.is_success() {
        bail!("listing pods: {s}: {}", excerpt(&body));
    }
    let rv = resource_version(&body)?;
    let seen = Arc::new(Seen {
        epoch: Instant::now(),
        sent: (0..w.measured).map(|_| AtomicU64::new(0)).collect(),
        bound: (0..w.measured).map(|_| AtomicU64::new(0)).collect(),
        init_bound: (0..w.init).map(|_| AtomicBool::new(false)).collect(),
        init_count: AtomicUsize::new(0),
        measured_count: AtomicUsize::new(0),
        last_bind: AtomicU64::new(0),
        stream_error: std::sync::Mutex::new(None),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_pods(srv.addr, rv, seen.clone(), stop.clone()));

    // Init pods, then wait until all are bound.
    let shape = w.init_shape;
    let (_, mut create_errors) = drive(
        srv.addr,
        w.init,
        cfg.clients,
        cfg.time_limit,
        move |i| {
            (
                Method::POST,
                format!("/api/v1/namespaces/{SETUP_NS}/pods"),
                pod_json(shape, SETUP_NS, &format!("init-{i:06}"), None),
            )
        },
        |_| {},
    )
    .await?;
    let init_bound = wait_for(
        || seen.init_count.load(Ordering::SeqCst),
        w.init,
        cfg.time_limit,
        &seen,
    )
    .await;
    let setup_s = t_setup.elapsed().as_secs_f64();
    eprintln!(
        "   {}: {} nodes, {init_bound}/{} init pods bound in {setup_s:.1} s",
        w.name, w.nodes, w.init
    );
    if let Some(limit) = cfg.wait_quiet {
        // Settle: the server finishes the setup's commits and events before the measured phase.
        tokio::time::sleep(Duration::from_secs(2)).await;
        crate::wait_quiet(limit).await;
    }

    // Measured pods.
    let loadavg_before = loadavg();
    let mark = srv.cpu_mark()?;
    let sched_cpu0 = sched.as_ref().map(|p| p.cpu()).transpose()?;
    let shape = w.measured_shape;
    let s2 = seen.clone();
    let t0 = seen.now();
    let (_, errs) = drive(
        srv.addr,
        w.measured,
        cfg.clients,
        cfg.time_limit,
        move |i| {
            (
                Method::POST,
                format!("/api/v1/namespaces/{TEST_NS}/pods"),
                pod_json(shape, TEST_NS, &format!("pod-{i:06}"), None),
            )
        },
        move |i| s2.sent[i].store(s2.now(), Ordering::SeqCst),
    )
    .await?;
    let create_s = (seen.now() - t0) as f64 / 1e9;
    create_errors.extend(errs);
    let bound = wait_for(
        || seen.measured_count.load(Ordering::SeqCst),
        w.measured,
        cfg.time_limit,
        &seen,
    )
    .await;
    let cpu = srv.cpu_since(&mark)?;
    let wall = mark_elapsed(&mark);
    let scheduler_cores = match (&sched, sched_cpu0) {
        (Some(p), Some(c0)) => Some((p.cpu()? - c0).as_secs_f64() / wall),
        _ => None,
    };
    let loadavg_after = loadavg();
    stop.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_secs(2), watcher).await;

    let first_sent = seen
        .sent
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .filter(|t| *t > 0)
        .min()
        .unwrap_or(t0);
    let last = seen.last_bind.load(Ordering::SeqCst);
    let elapsed_s = last.saturating_sub(first_sent) as f64 / 1e9;
    let mut hist = stats::histogram();
    for (s, b) in seen.sent.iter().zip(&seen.bound) {
        let (s, b) = (s.load(Ordering::SeqCst), b.load(Ordering::SeqCst));
        if s > 0 && b > 0 {
            stats::record(&mut hist, Duration::from_nanos(b.saturating_sub(s)));
        }
    }
    let watch_error = seen.stream_error.lock().expect("lock").clone();
    drop(sched);
    drop(srv);
    create_errors.truncate(5);
    Ok(WorkloadResult {
        name: w.name.to_string(),
        nodes: w.nodes,
        init_pods: w.init,
        measured_pods: w.measured,
        init_bound,
        bound,
        create_errors,
        setup_s,
        create_s,
        elapsed_s,
        pods_per_s: if elapsed_s > 0.0 {
            bound as f64 / elapsed_s
        } else {
            0.0
        },
        target_pods_per_s: w.target,
        latency: Latency::of(&hist),
        cpu,
        scheduler_cores,
        loadavg_before,
        loadavg_after,
        watch_error,
    })
}

fn mark_elapsed(mark: &server::CpuMark) -> f64 {
    mark.at.elapsed().as_secs_f64().max(1e-6)
}

#[derive(Debug, Serialize)]
pub struct SchedResult {
    pub separate_scheduler: bool,
    pub clients: usize,
    pub scale: f64,
    pub workloads: Vec<Value>,
}

pub async fn run(opts: &Options<'_>, cfg: &SchedConfig) -> anyhow::Result<SchedResult> {
    let mut out = Vec::new();
    for mut w in workloads() {
        if !cfg.workloads.is_empty()
            && !cfg.workloads.iter().any(|n| n.eq_ignore_ascii_case(w.name))
        {
            continue;
        }
        w.nodes = scaled(w.nodes, cfg.scale);
        w.init = scaled(w.init, cfg.scale);
        w.measured = scaled(w.measured, cfg.scale);
        if let Some(limit) = cfg.wait_quiet {
            crate::wait_quiet(limit).await;
        }
        eprintln!("== scheduler: {}", w.name);
        match run_workload(opts, &w, cfg).await {
            Ok(r) => {
                eprintln!(
                    "   {}: {}/{} bound, {:.0} pods/s, p50 {:.1} ms, p99 {:.1} ms",
                    r.name,
                    r.bound,
                    r.measured_pods,
                    r.pods_per_s,
                    r.latency.p50_ms,
                    r.latency.p99_ms
                );
                out.push(serde_json::to_value(r)?);
            }
            Err(e) => {
                eprintln!("   {} failed: {e:#}", w.name);
                out.push(json!({"name": w.name, "error": format!("{e:#}")}));
            }
        }
    }
    Ok(SchedResult {
        separate_scheduler: cfg.separate,
        clients: cfg.clients,
        scale: cfg.scale,
        workloads: out,
    })
}

pub struct SchedMemoryConfig {
    pub nodes: usize,
    pub pods: usize,
    pub clients: usize,
    pub settle: Duration,
    pub time_limit: Duration,
}

#[derive(Debug, Serialize)]
pub struct SchedMemoryResult {
    pub nodes: usize,
    pub pods: usize,
    pub pods_created: usize,
    pub create_errors: Vec<String>,
    pub scheduler_idle: Memory,
    pub scheduler_after_nodes: Memory,
    pub scheduler_after_pods: Memory,
    /// The scheduler restarted against the full cluster (its first LIST holds everything at once).
    pub scheduler_restarted: Memory,
    pub server_after_pods: Memory,
    pub create_s: f64,
}

/// Waits until the process's RSS has not grown for `settle` (bounded by `limit`).
async fn settled_memory(pid: u32, settle: Duration, limit: Duration) -> anyhow::Result<Memory> {
    let deadline = Instant::now() + limit;
    let mut last = server::proc_memory(pid)?;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let m = server::proc_memory(pid)?;
        if m.rss_bytes > last.rss_bytes + 256 * 1024 {
            since = Instant::now();
        }
        last = m;
        if since.elapsed() >= settle || Instant::now() > deadline {
            return Ok(last);
        }
    }
}

pub async fn run_memory(
    opts: &Options<'_>,
    cfg: &SchedMemoryConfig,
) -> anyhow::Result<SchedMemoryResult> {
    let mut extra = opts.extra_args.to_vec();
    extra.push("--disable-scheduler".into());
    let o = Options {
        extra_args: &extra,
        ..*opts
    };
    let srv = Server::start(&o).await?;
    let sched = SchedulerProc::start(opts.skiff, &srv, opts.env)?;
    eprintln!(
        "   server pid {} on http://{}, scheduler pid {} (data in {})",
        srv.pid,
        srv.addr,
        sched.pid,
        srv.data_dir.display()
    );
    let scheduler_idle = settled_memory(sched.pid, cfg.settle, cfg.time_limit).await?;
    setup_namespaces(srv.addr).await?;
    let w = Workload {
        name: "memory",
        nodes: cfg.nodes,
        zones: &["zone1", "zone2", "zone3"],
        init: 0,
        init_shape: Shape::Basic,
        measured: 0,
        measured_shape: Shape::Basic,
        target: 0.0,
    };
    create_nodes(&srv, &w, cfg.clients, cfg.time_limit).await?;
    let scheduler_after_nodes = settled_memory(sched.pid, cfg.settle, cfg.time_limit).await?;
    let nodes = cfg.nodes.max(1);
    let t = Instant::now();
    let (pods_created, create_errors) = drive(
        srv.addr,
        cfg.pods,
        cfg.clients,
        cfg.time_limit,
        move |i| {
            (
                Method::POST,
                format!("/api/v1/namespaces/{TEST_NS}/pods"),
                pod_json(
                    Shape::Basic,
                    TEST_NS,
                    &format!("pod-{i:06}"),
                    Some(&format!("node-{}", i % nodes)),
                ),
            )
        },
        |_| {},
    )
    .await?;
    let create_s = t.elapsed().as_secs_f64();
    let scheduler_after_pods = settled_memory(sched.pid, cfg.settle, cfg.time_limit).await?;
    let server_after_pods = srv.memory()?;
    drop(sched);
    let sched = SchedulerProc::start(opts.skiff, &srv, opts.env)?;
    // Let it list everything before reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let scheduler_restarted = settled_memory(sched.pid, cfg.settle, cfg.time_limit).await?;
    drop(sched);
    Ok(SchedMemoryResult {
        nodes: cfg.nodes,
        pods: cfg.pods,
        pods_created,
        create_errors,
        scheduler_idle,
        scheduler_after_nodes,
        scheduler_after_pods,
        scheduler_restarted,
        server_after_pods,
        create_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_bound_pod_event() {
        let seen = Seen {
            epoch: Instant::now(),
            sent: (0..3).map(|_| AtomicU64::new(0)).collect(),
            bound: (0..3).map(|_| AtomicU64::new(0)).collect(),
            init_bound: (0..2).map(|_| AtomicBool::new(false)).collect(),
            init_count: AtomicUsize::new(0),
            measured_count: AtomicUsize::new(0),
            last_bind: AtomicU64::new(0),
            stream_error: std::sync::Mutex::new(None),
        };
        let unbound = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"pod-000002","namespace":"sched-test"},"spec":{"containers":[]}}}"#;
        on_line(&seen, unbound);
        assert_eq!(seen.measured_count.load(Ordering::SeqCst), 0);
        let bound = br#"{"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"pod-000002","namespace":"sched-test"},"spec":{"nodeName":"node-1"}}}"#;
        on_line(&seen, bound);
        on_line(&seen, bound);
        assert_eq!(seen.measured_count.load(Ordering::SeqCst), 1);
        let init = br#"{"type":"MODIFIED","object":{"metadata":{"namespace":"sched-setup","name":"init-000001"},"spec":{"nodeName":"node-1"}}}"#;
        on_line(&seen, init);
        assert_eq!(seen.init_count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn pods_carry_their_shape() {
        let v: Value =
            serde_json::from_slice(&pod_json(Shape::Spread, TEST_NS, "pod-000001", None)).unwrap();
        assert_eq!(v["spec"]["topologySpreadConstraints"][0]["maxSkew"], 5);
        let v: Value = serde_json::from_slice(&pod_json(
            Shape::LowPriority,
            SETUP_NS,
            "init-1",
            Some("node-1"),
        ))
        .unwrap();
        assert_eq!(v["spec"]["nodeName"], "node-1");
        assert_eq!(v["spec"]["priorityClassName"], "sched-bench-low");
    }
}
