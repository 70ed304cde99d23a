//! `skiff up`: a whole single-node cluster in one process — the API server, the scheduler and the
//! node agent — printing progress as each part comes up. The parts still talk only through the
//! API (over loopback), exactly as separate processes would. A second `skiff up` on the same data
//! dir resumes the same cluster: the store keeps the objects, and the agent adopts the containers
//! that kept running.

use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::Api;

use crate::server::{self, ServerOptions};

pub struct UpOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub node_name: String,
    pub node_ip: Option<IpAddr>,
    pub kubelet_port: u16,
    pub pod_cidr: String,
    pub bridge: String,
    pub insecure_registries: Vec<String>,
}

fn ms(t: Instant) -> String {
    format!("{} ms", t.elapsed().as_millis())
}

pub async fn run(opts: UpOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!("skiff up: data dir {}", opts.data_dir.display());
    let t = Instant::now();
    let running = server::start(ServerOptions {
        data_dir: opts.data_dir.clone(),
        listen: opts.listen,
        watch_cache_events: 20_000,
        scheduler: Some(None),
        plain_http: false,
        token_auth_file: None,
    })
    .await?;
    eprintln!("  ✓ API server    serving on {} ({})", running.addr, ms(t));
    eprintln!("  ✓ scheduler     running in-process");

    let t = Instant::now();
    // The agent runs as the node, with credentials minted from the CA (as a joined agent's).
    let node_ip = opts
        .node_ip
        .unwrap_or_else(skiff_kubelet::agent::detect_node_ip);
    let agent_dir = opts.data_dir.join("agent");
    let (client, tls) = match &running.pki {
        Some(pki) => {
            let creds = crate::pki::node_credentials(
                &pki.ca,
                &running.url,
                &opts.node_name,
                &[node_ip],
                &agent_dir,
            )?;
            let client = crate::scheduler::client_for(&creds.kubeconfig_path).await?;
            (client, Some(creds.kubelet_tls()?))
        }
        None => (
            crate::scheduler::client_for(&running.kubeconfig).await?,
            None,
        ),
    };
    let mut cfg = skiff_kubelet::agent::AgentConfig::new(
        opts.node_name.clone(),
        agent_dir,
        crate::agent::shim_command()?,
    );
    cfg.tls = tls;
    cfg.pod_cidr = opts.pod_cidr;
    cfg.node_ip = Some(node_ip);
    cfg.kubelet_port = opts.kubelet_port;
    cfg.bridge_name = opts.bridge;
    cfg.insecure_registries = opts.insecure_registries;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut agent = tokio::spawn(skiff_kubelet::agent::run(client.clone(), cfg, stop_rx));
    let nodes: Api<Node> = Api::all(client);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(node)) = nodes.get_opt(&opts.node_name).await {
            let ready = node
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                break;
            }
        }
        if agent.is_finished() {
            let r = (&mut agent).await.context("the node agent failed")?;
            r.context("starting the node agent")?;
            anyhow::bail!("the node agent stopped");
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "node {} did not become Ready within a minute",
                opts.node_name
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "  ✓ node agent    node {} Ready ({})",
        opts.node_name,
        ms(t)
    );
    eprintln!("skiff up: cluster ready in {}", ms(started));
    println!("export KUBECONFIG={}", running.kubeconfig.display());

    tokio::select! {
        _ = crate::wait_for_signal() => {}
        r = &mut agent => {
            match r {
                Ok(Ok(())) => eprintln!("skiff up: the node agent stopped"),
                Ok(Err(e)) => eprintln!("skiff up: the node agent failed: {e}"),
                Err(e) => eprintln!("skiff up: the node agent failed: {e}"),
            }
        }
    }
    eprintln!("skiff up: shutting down (containers keep running; the next `skiff up` adopts them)");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
    running.shutdown().await;
    Ok(())
}
