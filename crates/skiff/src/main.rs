//! `skiff`: the one binary. Subcommands run the parts of a cluster:
//! - `skiff server`: the API server on its embedded store (steps 1-3 of a pod's path), with the
//!   scheduler running in-process against its loopback address unless `--disable-scheduler`;
//! - `skiff scheduler`: the scheduler alone against any API server (steps 4-6);
//! - `skiff agent`: the node agent (kubelet) for one node (steps 7-9), which runs each container
//!   under `skiff shim` (a hidden subcommand: this same binary as the container's supervisor).

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod kubeconfig;
/// mimalloc: the API server's hot paths allocate heavily (JSON values per request); measured with
/// bench/apiserver-bench, it gives about 45% more pod creates per second than glibc malloc (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agent;
mod scheduler;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A Kubernetes-compatible orchestrator in one binary"
)]
struct Cli {
    /// Log verbosity: 0 quiet (warnings and errors), 1 info, 2 debug, 3+ trace.
    #[arg(short = 'v', long = "v", global = true, default_value_t = 0)]
    verbosity: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    Server {
        /// Where the database and the admin kubeconfig live.
        #[arg(long, default_value = "/var/lib/skiff")]
        data_dir: PathBuf,
        /// Address to serve the Kubernetes API on.
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: SocketAddr,
        /// Recent changes kept in the watch cache for watches that start at a past resourceVersion;
        /// older ones get 410 Expired.
        #[arg(long, default_value_t = 20_000)]
        watch_cache_events: usize,
        /// Do not run the scheduler in-process.
        #[arg(long)]
        disable_scheduler: bool,
        /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) for the in-process scheduler.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the scheduler against an API server.
    Scheduler {
        /// The kubeconfig of the API server to schedule for.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Schedule only while holding Lease kube-system/kube-scheduler.
        #[arg(long)]
        leader_elect: bool,
        /// Explain every scheduling attempt on the pod (scheduler.skiff.dev/*-result annotations).
        #[arg(long)]
        explain: bool,
    },
    /// Run the node agent (kubelet) for one node; needs root.
    Agent {
        /// The kubeconfig of the API server.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// The Node's name [default: the host name].
        #[arg(long)]
        node_name: Option<String>,
        /// Where images, pod state and logs live.
        #[arg(long, default_value = "/var/lib/skiff/agent")]
        data_dir: PathBuf,
        /// The node's pod CIDR (the default CNI config's subnet).
        #[arg(long, default_value = "10.42.0.0/24")]
        pod_cidr: String,
        /// The address the node reports and serves logs on [default: the host's first global address].
        #[arg(long)]
        node_ip: Option<std::net::IpAddr>,
        /// Port of the agent's log endpoint (0: any free port).
        #[arg(long, default_value_t = 10250)]
        kubelet_port: u16,
        /// A registry (HOST:PORT) reached over plain HTTP (repeatable); loopback always is.
        #[arg(long = "insecure-registry")]
        insecure_registries: Vec<String>,
        /// The bridge of the default CNI network.
        #[arg(long, default_value = "skiff0")]
        bridge: String,
    },
}

fn init_logging(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// mimalloc's `purge_delay` option (see mimalloc.h; the -sys crate names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the OS at once rather than after mimalloc's default 10 ms delay: with the
/// delay, the memory of a large LIST response stays resident (bench/README.md measured 152 MiB instead of
/// 133 MiB after listing 10,000 pods), at no cost in create throughput.
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: setting an allocator option is a plain store into mimalloc's option table; it is valid at
    // any time, and this runs first thing in main, before any thread is started.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn main() -> anyhow::Result<()> {
    // The shim runs before anything else: no async runtime, no logging setup of ours.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(skiff_kubelet::runtime::shim_main(args[2..].to_vec()));
    }
    tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.verbosity);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Server {
                data_dir,
                listen,
                watch_cache_events,
                disable_scheduler,
                config,
            } => {
                let scheduler_config = match (&config, disable_scheduler) {
                    (_, true) => None,
                    (Some(path), false) => Some(Some(scheduler::load_config(path)?)),
                    (None, false) => Some(None),
                };
                server(data_dir, listen, watch_cache_events, scheduler_config).await
            }
            Command::Scheduler {
                kubeconfig,
                config,
                leader_elect,
                explain,
            } => {
                let config = config.as_deref().map(scheduler::load_config).transpose()?;
                let options = skiff_scheduler::server::SchedulerOptions {
                    config,
                    explain_all: explain,
                    leader_elect,
                    ..Default::default()
                };
                scheduler::run_standalone(&kubeconfig, options, wait_for_signal()).await
            }
            Command::Agent {
                kubeconfig,
                node_name,
                data_dir,
                pod_cidr,
                node_ip,
                kubelet_port,
                insecure_registries,
                bridge,
            } => {
                let node_name = node_name.unwrap_or_else(|| {
                    rustix::system::uname()
                        .nodename()
                        .to_string_lossy()
                        .to_lowercase()
                });
                let args = agent::AgentArgs {
                    kubeconfig,
                    node_name,
                    data_dir,
                    pod_cidr,
                    node_ip,
                    kubelet_port,
                    insecure_registries,
                    bridge,
                };
                agent::run(args, wait_for_signal()).await
            }
        }
    })
}

/// `scheduler`: `None` disables the in-process scheduler; `Some(config)` runs it.
async fn server(
    data_dir: PathBuf,
    listen: SocketAddr,
    watch_cache_events: usize,
    scheduler: Option<Option<skiff_scheduler::KubeSchedulerConfiguration>>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut config = skiff_apiserver::Config::new(listen, data_dir.clone());
    config.watch_cache_events = watch_cache_events.max(1);
    let running = skiff_apiserver::start(config)
        .await
        .context("starting the API server")?;
    let path = write_kubeconfig(&data_dir, running.addr)?;
    eprintln!(
        "skiff server: serving the Kubernetes API on http://{}",
        running.addr
    );
    eprintln!("skiff server: export KUBECONFIG={}", path.display());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sched = match scheduler {
        Some(config) => {
            let options = skiff_scheduler::server::SchedulerOptions {
                config,
                ..Default::default()
            };
            let client = scheduler::client_for(&path).await?;
            Some(tokio::spawn(async move {
                let stop = async {
                    let _ = stop_rx.await;
                };
                if let Err(e) = skiff_scheduler::server::run(client, options, stop).await {
                    tracing::error!(error = %e, "the scheduler stopped");
                }
            }))
        }
        None => None,
    };
    wait_for_signal().await;
    eprintln!("skiff server: shutting down");
    let _ = stop_tx.send(());
    if let Some(s) = sched {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s).await;
    }
    running.shutdown().await;
    Ok(())
}

fn write_kubeconfig(data_dir: &Path, addr: SocketAddr) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("admin.kubeconfig");
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let tmp = path.with_extension("kubeconfig.tmp");
    std::fs::write(&tmp, kubeconfig::admin(&format!("http://{host}")))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
