//! The agent as a whole: opens the node's image store, runtime and pod network, registers the
//! Node, keeps its Lease and status fresh, serves logs, and runs the pod manager until told to
//! stop. Containers keep running when the agent stops; the next agent adopts them.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Api;

use crate::events::EventRecorder;
use crate::image::{ImageStore, PullOptions};
use crate::network::{files::DnsSettings, NetworkConfig, PodNetwork};
use crate::node::{self, HostInfo, NodeSettings};
use crate::pod_worker::{BackoffConfig, PodContext};
use crate::podmanager::PodManager;
use crate::runtime::{RuncConfig, RuncRuntime, Runtime};

/// The agent's settings (`skiff agent` flags).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node_name: String,
    pub data_dir: PathBuf,
    pub pod_cidr: String,
    /// The address the node reports (InternalIP) and serves logs on; detected when `None`.
    pub node_ip: Option<IpAddr>,
    /// Port of the log endpoint (0: any free port, reported in the Node's daemonEndpoints).
    pub kubelet_port: u16,
    pub insecure_registries: Vec<String>,
    /// How to run the shim (`[skiff, "shim"]`).
    pub shim_command: Vec<OsString>,
    /// The bridge of the default CNI config.
    pub bridge_name: String,
    pub backoff: BackoffConfig,
    pub lease_interval: Duration,
    pub status_report_frequency: Duration,
    pub max_pods: u32,
    /// TLS for the log endpoint: the kubelet serving certificate, and a client verifier that admits
    /// only the API server's kubelet-client certificate. `None` serves plain HTTP (a `--plain-http`
    /// server on loopback).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl AgentConfig {
    pub fn new(node_name: String, data_dir: PathBuf, shim_command: Vec<OsString>) -> AgentConfig {
        AgentConfig {
            node_name,
            data_dir,
            pod_cidr: "10.42.0.0/24".into(),
            node_ip: None,
            kubelet_port: 10250,
            insecure_registries: Vec::new(),
            shim_command,
            bridge_name: "skiff0".into(),
            backoff: BackoffConfig::default(),
            lease_interval: Duration::from_secs(10),
            status_report_frequency: Duration::from_secs(60),
            max_pods: 110,
            tls: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Setup(String),
    #[error("registering node {node}: {source}")]
    Register { node: String, source: kube::Error },
}

/// The first global address of the host (what `hostname -I` shows first), else loopback.
pub fn detect_node_ip() -> IpAddr {
    let out = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "scope", "global"])
        .output();
    if let Ok(out) = out {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut it = line.split_whitespace();
            while let Some(w) = it.next() {
                if w == "inet" {
                    if let Some(ip) = it
                        .next()
                        .and_then(|a| a.split('/').next())
                        .and_then(|a| a.parse().ok())
                    {
                        return ip;
                    }
                }
            }
        }
    }
    IpAddr::from([127, 0, 0, 1])
}

fn runc_version() -> String {
    std::process::Command::new("runc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2))
                .map(|v| format!("runc://{v}"))
        })
        .unwrap_or_else(|| "runc://unknown".into())
}

/// Runs the agent until `stop` becomes true.
pub async fn run(
    client: kube::Client,
    cfg: AgentConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let setup = |what: &str, e: &dyn std::fmt::Display| AgentError::Setup(format!("{what}: {e}"));
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| setup("creating the data dir", &e))?;
    let images = ImageStore::open(&cfg.data_dir.join("images"))
        .map_err(|e| setup("opening the image store", &e))?;
    let runtime: Arc<dyn Runtime> = Arc::new(
        RuncRuntime::new(RuncConfig::new(
            &cfg.data_dir.join("run"),
            cfg.shim_command.clone(),
        ))
        .map_err(|e| setup("starting the runtime", &e))?,
    );
    let mut net_cfg = NetworkConfig::new(cfg.data_dir.clone(), cfg.pod_cidr.clone());
    net_cfg.bridge_name = cfg.bridge_name.clone();
    let network =
        Arc::new(PodNetwork::new(net_cfg).map_err(|e| setup("setting up pod networking", &e))?);
    if let Err(e) = crate::network::ensure_masquerade(&cfg.pod_cidr) {
        tracing::warn!(error = %e, "pods will not reach beyond the node");
    }
    let node_ip = cfg.node_ip.unwrap_or_else(detect_node_ip);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(node_ip, cfg.kubelet_port))
        .await
        .map_err(|e| setup(&format!("listening on {node_ip}:{}", cfg.kubelet_port), &e))?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(cfg.kubelet_port);

    let host = HostInfo::detect(&cfg.data_dir, runc_version());
    let settings = NodeSettings {
        name: cfg.node_name.clone(),
        ip: node_ip.to_string(),
        kubelet_port: port,
        pod_cidr: cfg.pod_cidr.clone(),
        max_pods: cfg.max_pods,
    };
    let ready_since = Utc::now();
    let nodes: Api<Node> = Api::all(client.clone());
    let status = node::status(
        &host,
        &settings,
        &images.status_images(),
        Utc::now(),
        ready_since,
    );
    let node_uid = node::register(&nodes, &settings, &status)
        .await
        .map_err(|source| AgentError::Register {
            node: cfg.node_name.clone(),
            source,
        })?;
    tracing::info!(node = %cfg.node_name, ip = %node_ip, port, "node registered");

    let heartbeat = node::Heartbeat {
        nodes,
        leases: Api::<Lease>::namespaced(client.clone(), "kube-node-lease"),
        settings,
        host,
        node_uid,
        lease_interval: cfg.lease_interval,
        status_report_frequency: cfg.status_report_frequency,
        ready_since,
    };
    let image_list = images.clone();
    tokio::spawn(heartbeat.run(move || image_list.status_images(), stop.clone()));

    let host_resolv = std::fs::read_to_string(crate::network::files::host_resolv_conf_path()).ok();
    let ctx = Arc::new(PodContext {
        client: client.clone(),
        node_name: cfg.node_name.clone(),
        host_ip: node_ip.to_string(),
        data_dir: cfg.data_dir.clone(),
        images,
        pull_options: PullOptions {
            insecure_registries: cfg.insecure_registries.clone(),
            ..Default::default()
        },
        runtime,
        network,
        dns: DnsSettings {
            cluster_dns: Vec::new(),
            cluster_domain: "cluster.local".into(),
            host_resolv_conf: host_resolv,
            node_ips: vec![node_ip],
        },
        events: EventRecorder::new(client, cfg.node_name.clone()),
        backoff: cfg.backoff,
        admitted: Default::default(),
        pods_by_name: Default::default(),
    });
    tokio::spawn(crate::server::serve(
        ctx.clone(),
        listener,
        cfg.tls.clone(),
        stop.clone(),
    ));
    PodManager::new(ctx).run(stop).await;
    Ok(())
}
