//! Memory: the server's resident set (VmRSS, and the peak VmHWM) idle after start, after P stored pods, and
//! after one full LIST of them.

use crate::client::{ensure_namespace, excerpt, Conn};
use crate::creates::create_pods;
use crate::server::{Memory, Server};
use anyhow::{bail, Context};
use http::Method;
use serde::Serialize;
use std::time::{Duration, Instant};

pub struct MemoryConfig {
    pub pods: usize,
    pub clients: usize,
    pub scheduler: Option<String>,
    /// Pause before each reading, so that in-flight work (commits, cache updates) settles.
    pub settle: Duration,
    pub time_limit: Duration,
}

#[derive(Debug, Serialize)]
pub struct MemoryResult {
    pub pods: usize,
    pub idle: Memory,
    pub created: usize,
    pub create_errors: Vec<String>,
    pub after_pods: Memory,
    pub list_s: f64,
    pub list_bytes: usize,
    pub list_items: usize,
    pub after_list: Memory,
    pub db_bytes: u64,
}

pub async fn run(srv: &Server, cfg: &MemoryConfig) -> anyhow::Result<MemoryResult> {
    tokio::time::sleep(cfg.settle).await;
    let idle = srv.memory()?;
    let mut admin = Conn::connect(srv.addr).await?;
    ensure_namespace(&mut admin, "bench").await?;
    let r = create_pods(
        srv.addr,
        "bench",
        "mem",
        cfg.pods,
        cfg.clients,
        cfg.scheduler.as_deref(),
        cfg.time_limit,
    )
    .await?;
    tokio::time::sleep(cfg.settle).await;
    let after_pods = srv.memory()?;
    let t0 = Instant::now();
    let (status, body) = admin
        .request(Method::GET, "/api/v1/namespaces/bench/pods", None)
        .await?;
    let list_s = t0.elapsed().as_secs_f64();
    if !status.is_success() {
        bail!("listing pods: {status}: {}", excerpt(&body));
    }
    let list_bytes = body.len();
    let list: serde_json::Value = serde_json::from_slice(&body).context("decoding the pod list")?;
    let list_items = list["items"].as_array().map_or(0, Vec::len);
    drop(list);
    drop(body);
    tokio::time::sleep(cfg.settle).await;
    let after_list = srv.memory()?;
    Ok(MemoryResult {
        pods: cfg.pods,
        idle,
        created: r.created,
        create_errors: r.first_errors,
        after_pods,
        list_s,
        list_bytes,
        list_items,
        after_list,
        db_bytes: srv.db_bytes(),
    })
}
