//! `skiff agent`: the node agent (kubelet) against an API server, and `skiff shim`, the
//! per-container supervisor the agent starts (hidden; see `skiff_kubelet::runtime::shim`).

use anyhow::Context;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;

/// The agent's command-line settings.
pub struct AgentArgs {
    pub kubeconfig: PathBuf,
    pub node_name: String,
    pub data_dir: PathBuf,
    pub pod_cidr: String,
    pub node_ip: Option<IpAddr>,
    pub kubelet_port: u16,
    pub insecure_registries: Vec<String>,
    pub bridge: String,
}

/// How the agent runs its shims: this same binary, `skiff shim`.
pub fn shim_command() -> anyhow::Result<Vec<std::ffi::OsString>> {
    let exe = std::env::current_exe().context("finding the skiff binary")?;
    Ok(vec![exe.into_os_string(), "shim".into()])
}

pub async fn run(args: AgentArgs, stop_signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let client = crate::scheduler::client_for(&args.kubeconfig).await?;
    let mut cfg =
        skiff_kubelet::agent::AgentConfig::new(args.node_name, args.data_dir, shim_command()?);
    cfg.pod_cidr = args.pod_cidr;
    cfg.node_ip = args.node_ip;
    cfg.kubelet_port = args.kubelet_port;
    cfg.insecure_registries = args.insecure_registries;
    cfg.bridge_name = args.bridge;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(skiff_kubelet::agent::run(client, cfg, stop_rx));
    tokio::select! {
        r = agent => {
            r.context("the agent task failed")?.context("running the agent")?;
        }
        _ = stop_signal => {
            eprintln!("skiff agent: shutting down (containers keep running)");
            let _ = stop_tx.send(true);
        }
    }
    Ok(())
}
