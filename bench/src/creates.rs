//! Pod creates: C concurrent clients, each on its own keep-alive connection, POST N small realistic pods
//! as fast as the server answers; each request's latency is from just before sending to the last byte of
//! the response.

use crate::client::{ensure_namespace, excerpt, Conn};
use crate::server::{self, Server};
use crate::stats::{self, Latency};
use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A run stops early after this many failed requests (the first few are reported).
const MAX_ERRORS: usize = 100;

/// The `spec.schedulerName` of benchmark pods by default: no scheduler claims them, so creating them costs
/// the API server alone (skiff server runs a scheduler in-process, which would otherwise try every pod).
pub const NO_SCHEDULER: &str = "skiff-bench-unscheduled";

/// A small pod as a controller or user would write it: one container, labels, resources, a port, an env
/// var; `scheduler` is its `spec.schedulerName` (None: the default scheduler).
pub fn pod_json(namespace: &str, name: &str, i: usize, scheduler: Option<&str>) -> Bytes {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": format!("web-{}", i % 50), "tier": "frontend", "bench.skiff.dev/shard": (i % 16).to_string()},
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.k8s.io/pause:3.10",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "bench"}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "200m", "memory": "128Mi"},
                },
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    });
    if let Some(s) = scheduler {
        v["spec"]["schedulerName"] = json!(s);
    }
    Bytes::from(serde_json::to_vec(&v).expect("a pod encodes"))
}

pub struct CreateRun {
    pub created: usize,
    pub errors: usize,
    pub first_errors: Vec<String>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
}

/// Creates `total` pods named `{prefix}-{i}` in `namespace` from `clients` connections, within `time_limit`.
pub async fn create_pods(
    addr: SocketAddr,
    namespace: &str,
    prefix: &str,
    total: usize,
    clients: usize,
    scheduler: Option<&str>,
    time_limit: Duration,
) -> anyhow::Result<CreateRun> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        conns.push(Conn::connect(addr).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let path: Arc<str> = format!("/api/v1/namespaces/{namespace}/pods").into();
    let started = Instant::now();
    let deadline = started + time_limit;
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (next, errors, path) = (next.clone(), errors.clone(), path.clone());
        let (namespace, prefix) = (namespace.to_string(), prefix.to_string());
        let scheduler = scheduler.map(str::to_string);
        tasks.push(tokio::spawn(async move {
            let mut hist = stats::histogram();
            let mut created = 0usize;
            let mut first_errors = Vec::new();
            loop {
                if Instant::now() > deadline || errors.load(Ordering::Relaxed) >= MAX_ERRORS {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = pod_json(
                    &namespace,
                    &format!("{prefix}-{i:06}"),
                    i,
                    scheduler.as_deref(),
                );
                let t0 = Instant::now();
                let res = conn.request(Method::POST, &path, Some(body)).await;
                let took = t0.elapsed();
                match res {
                    Ok((StatusCode::CREATED, _)) => {
                        stats::record(&mut hist, took);
                        created += 1;
                    }
                    Ok((status, body)) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if first_errors.len() < 3 {
                            first_errors.push(format!("{status}: {}", excerpt(&body)));
                        }
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if first_errors.len() < 3 {
                            first_errors.push(format!("{e:#}"));
                        }
                        break; // the connection is gone
                    }
                }
            }
            (hist, created, first_errors)
        }));
    }
    let mut run = CreateRun {
        created: 0,
        errors: 0,
        first_errors: Vec::new(),
        elapsed: Duration::ZERO,
        latency: stats::histogram(),
    };
    for t in tasks {
        let (hist, created, errs) = t.await.context("a client task panicked")?;
        run.latency.add(&hist).context("merging histograms")?;
        run.created += created;
        run.first_errors.extend(errs);
    }
    run.elapsed = started.elapsed();
    run.errors = errors.load(Ordering::Relaxed);
    run.first_errors.truncate(5);
    Ok(run)
}

#[derive(Debug, Serialize)]
pub struct CreatesResult {
    pub pods: usize,
    pub clients: usize,
    pub created: usize,
    pub errors: usize,
    pub first_errors: Vec<String>,
    pub elapsed_s: f64,
    pub creates_per_s: f64,
    pub latency: Latency,
    /// CPU the server, this benchmark and the rest of the machine used during the run, in cores (CPU
    /// seconds per wall second).
    pub cpu: server::CpuUse,
    /// The server's own view of POST pods (apiserver_request_duration_seconds): mean and share ≤ 5 ms.
    pub server_side_mean_ms: Option<f64>,
    pub server_side_le_5ms: Option<f64>,
    pub server_rss_after_bytes: u64,
    pub db_bytes_after: u64,
}

pub struct CreatesConfig {
    pub pods: usize,
    pub clients: usize,
    pub scheduler: Option<String>,
    pub time_limit: Duration,
}

pub async fn run(srv: &Server, cfg: &CreatesConfig) -> anyhow::Result<CreatesResult> {
    let mut admin = Conn::connect(srv.addr).await?;
    ensure_namespace(&mut admin, "bench").await?;
    let mark = srv.cpu_mark()?;
    let r = create_pods(
        srv.addr,
        "bench",
        "pod",
        cfg.pods,
        cfg.clients,
        cfg.scheduler.as_deref(),
        cfg.time_limit,
    )
    .await?;
    let cpu = srv.cpu_since(&mark)?;
    let (server_side_mean_ms, server_side_le_5ms) =
        match admin.request(Method::GET, "/metrics", None).await {
            Ok((s, body)) if s.is_success() => {
                server_side(&String::from_utf8_lossy(&body), "POST", "pods")
            }
            _ => (None, None),
        };
    Ok(CreatesResult {
        pods: cfg.pods,
        clients: cfg.clients,
        created: r.created,
        errors: r.errors,
        first_errors: r.first_errors,
        elapsed_s: r.elapsed.as_secs_f64(),
        creates_per_s: r.created as f64 / r.elapsed.as_secs_f64(),
        latency: Latency::of(&r.latency),
        cpu,
        server_side_mean_ms,
        server_side_le_5ms,
        server_rss_after_bytes: srv.memory()?.rss_bytes,
        db_bytes_after: srv.db_bytes(),
    })
}

/// Mean and share of requests within 5 ms from `apiserver_request_duration_seconds` for one verb and
/// core resource, if the server exposes it.
pub fn server_side(metrics: &str, verb: &str, resource: &str) -> (Option<f64>, Option<f64>) {
    let labels = format!("group=\"\",resource=\"{resource}\",verb=\"{verb}\"");
    let value = |name: &str, extra: &str| -> Option<f64> {
        let prefix = format!("{name}{{{labels}{extra}}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
    };
    let sum = value("apiserver_request_duration_seconds_sum", "");
    let count = value("apiserver_request_duration_seconds_count", "");
    let le5 = value("apiserver_request_duration_seconds_bucket", ",le=\"0.005\"");
    match (sum, count) {
        (Some(s), Some(c)) if c > 0.0 => (Some(s / c * 1000.0), le5.map(|b| b / c)),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_is_valid_json_with_one_container() {
        let v: serde_json::Value =
            serde_json::from_slice(&pod_json("bench", "pod-000001", 1, Some(NO_SCHEDULER)))
                .unwrap();
        assert_eq!(v["metadata"]["name"], "pod-000001");
        assert_eq!(v["spec"]["containers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn reads_server_side_durations() {
        let m = "apiserver_request_duration_seconds_bucket{group=\"\",resource=\"pods\",verb=\"POST\",le=\"0.005\"} 3\n\
                 apiserver_request_duration_seconds_sum{group=\"\",resource=\"pods\",verb=\"POST\"} 0.02\n\
                 apiserver_request_duration_seconds_count{group=\"\",resource=\"pods\",verb=\"POST\"} 4\n";
        let (mean, le5) = server_side(m, "POST", "pods");
        assert!((mean.unwrap() - 5.0).abs() < 1e-9);
        assert!((le5.unwrap() - 0.75).abs() < 1e-9);
    }
}
