//! `skiff`: the one binary. Subcommands run the parts of a cluster:
//! - `skiff server`: the API server on its embedded store (steps 1-3 of a pod's path), with the
//!   scheduler running in-process against its loopback address unless `--disable-scheduler`;
//! - `skiff scheduler`: the scheduler alone against any API server (steps 4-6);
//! - `skiff agent`: the node agent (kubelet) for one node (steps 7-9), which runs each container
//!   under `skiff shim` (a hidden subcommand: this same binary as the container's supervisor).

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

mod kubeconfig;
/// mimalloc: the API server's hot paths allocate heavily (JSON values per request); measured with
/// bench/apiserver-bench, it gives about 45% more pod creates per second than glibc malloc (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agent;
mod image_cmd;
mod local_api;
mod pki;
mod scheduler;
mod server;
mod trace;
mod up;

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
        /// Serve plain HTTP without TLS or authentication (every request is admin); loopback
        /// listen addresses only. For benchmarks and raw-protocol tests.
        #[arg(long)]
        plain_http: bool,
        /// Bearer tokens, in kube-apiserver's format: `token,user,uid,"group1,group2"` per line.
        #[arg(long)]
        token_auth_file: Option<PathBuf>,
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
    /// Run a single-node cluster: API server, scheduler and node agent in one process (needs root).
    Up {
        /// Where the cluster's state lives (database, admin kubeconfig, images, pods).
        #[arg(long, default_value = "/var/lib/skiff")]
        data_dir: PathBuf,
        /// Address to serve the Kubernetes API on.
        #[arg(long, default_value = "127.0.0.1:6443")]
        listen: SocketAddr,
        /// The Node's name [default: the host name].
        #[arg(long)]
        node_name: Option<String>,
        /// The address the node reports [default: the host's first global address].
        #[arg(long)]
        node_ip: Option<std::net::IpAddr>,
        /// Port of the agent's log endpoint (0: any free port).
        #[arg(long, default_value_t = 10250)]
        kubelet_port: u16,
        /// The node's pod CIDR.
        #[arg(long, default_value = "10.42.0.0/24")]
        pod_cidr: String,
        /// The bridge of the default CNI network.
        #[arg(long, default_value = "skiff0")]
        bridge: String,
        /// A registry (HOST:PORT) reached over plain HTTP (repeatable); loopback always is.
        #[arg(long = "insecure-registry")]
        insecure_registries: Vec<String>,
    },
    /// Show the path of one pod through the cluster, step by step, with timings.
    Trace {
        #[command(subcommand)]
        what: TraceWhat,
    },
    /// The node's images without a registry: import archives, build from a directory, list, remove.
    Image(image_cmd::ImageArgs),
    /// Run the node agent (kubelet) for one node; needs root.
    Agent {
        /// The kubeconfig of the API server (the agent then asks it for its kubelet serving
        /// certificate). Or join with --server and --token.
        #[arg(long, required_unless_present = "server", conflicts_with = "server")]
        kubeconfig: Option<PathBuf>,
        /// The API server to join (`https://HOST:PORT`), with --token or --token-file.
        #[arg(long)]
        server: Option<String>,
        /// The join token (`K10<CA hash>::server:<secret>`, the server's `<data-dir>/token`).
        #[arg(long, requires = "server", conflicts_with = "token_file")]
        token: Option<String>,
        /// A file holding the join token.
        #[arg(long, requires = "server")]
        token_file: Option<PathBuf>,
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

#[derive(Subcommand)]
enum TraceWhat {
    /// A pod: `skiff trace pod NAME [-n NAMESPACE]`.
    Pod {
        name: String,
        /// The pod's namespace [default: the kubeconfig context's, else `default`].
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// The kubeconfig [default: $KUBECONFIG, else ~/.kube/config].
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
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

/// How long freed memory stays mapped before mimalloc returns it to the OS (milliseconds).
///
/// Not 0: returning every freed page at once cost the server about 15% of its CPU per scheduled pod
/// under load (page faults, `madvise` and TLB shootdowns when the same pages are used again moments
/// later; bench/README.md, 2026-11-28). Not mimalloc's default of one second either: [`PURGE_INTERVAL`]'s collector returns what
/// has been free for this long, so an idle server gives back the memory of a large LIST within a fraction of
/// a second.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// How often the collector thread asks mimalloc to return expired free memory. mimalloc purges only when
/// some thread calls into it; a thread that sleeps after a burst (a tokio worker after a LIST) would
/// otherwise keep its memory resident. A call with nothing expired returns at once.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

#[allow(unsafe_code)]
fn tune_allocator() {
    // mimalloc's own variable, if set, is the operator's choice and wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an allocator option is a plain store into mimalloc's option table; it is valid
        // at any time, and this runs first thing in main, before any thread is started.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

/// Starts the thread that returns expired free memory to the OS every [`PURGE_INTERVAL`]. Not in the
/// container shim, which is small, forks, and must stay single-threaded until it does.
#[allow(unsafe_code)]
fn start_memory_purger() {
    let spawned = std::thread::Builder::new()
        .name("skiff-mem-purge".into())
        .spawn(|| loop {
            std::thread::sleep(PURGE_INTERVAL);
            // SAFETY: `mi_collect` may be called from any thread at any time; without `force` it
            // frees this thread's empty pages and purges arena memory whose delay has expired
            // (program-wide).
            unsafe { libmimalloc_sys::mi_collect(false) };
        });
    if let Err(e) = spawned {
        eprintln!(
            "skiff: no memory purge thread ({e}); freed memory returns to the OS more slowly"
        );
    }
}

fn main() -> anyhow::Result<()> {
    // No transparent huge pages for Skiff's own processes: a mostly idle process would hold whole
    // 2 MiB pages (measured: 10 of an idle agent's 27 MiB of anonymous memory, 6 of a container
    // shim's 7 MiB). mimalloc is built without its `MADV_HUGEPAGE` on the arena (`no_thp`, which
    // covers what it maps before this line); this covers hosts whose THP mode is `always`. The
    // flag is inherited by children: shims (which lift it while forking a container, see
    // `skiff_kubelet::runtime::shim`), CNI plugins and runc.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    tune_allocator();
    // The shim runs before anything else: no async runtime, no logging setup of ours.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(skiff_kubelet::runtime::shim_main(args[2..].to_vec()));
    }
    start_memory_purger();
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
                plain_http,
                token_auth_file,
            } => {
                let scheduler_config = match (&config, disable_scheduler) {
                    (_, true) => None,
                    (Some(path), false) => Some(Some(scheduler::load_config(path)?)),
                    (None, false) => Some(None),
                };
                let opts = server::ServerOptions {
                    data_dir,
                    listen,
                    watch_cache_events,
                    scheduler: scheduler_config,
                    plain_http,
                    token_auth_file,
                };
                server::run(opts).await
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
            Command::Trace {
                what:
                    TraceWhat::Pod {
                        name,
                        namespace,
                        kubeconfig,
                    },
            } => trace::run(kubeconfig, namespace, &name).await,
            Command::Up {
                data_dir,
                listen,
                node_name,
                node_ip,
                kubelet_port,
                pod_cidr,
                bridge,
                insecure_registries,
            } => {
                let opts = up::UpOptions {
                    data_dir,
                    listen,
                    node_name: node_name.unwrap_or_else(host_name),
                    node_ip,
                    kubelet_port,
                    pod_cidr,
                    bridge,
                    insecure_registries,
                };
                up::run(opts).await
            }
            Command::Image(args) => image_cmd::run(args).await,
            Command::Agent {
                kubeconfig,
                server,
                token,
                token_file,
                node_name,
                data_dir,
                pod_cidr,
                node_ip,
                kubelet_port,
                insecure_registries,
                bridge,
            } => {
                let node_name = node_name.unwrap_or_else(host_name);
                let connect = match (kubeconfig, server) {
                    (Some(k), _) => agent::Connect::Kubeconfig(k),
                    (None, Some(server)) => {
                        let token = match (token, token_file) {
                            (Some(t), _) => t,
                            (None, Some(f)) => std::fs::read_to_string(&f)
                                .with_context(|| format!("reading {}", f.display()))?,
                            (None, None) => anyhow::bail!("--server needs --token or --token-file"),
                        };
                        agent::Connect::Join { server, token }
                    }
                    (None, None) => anyhow::bail!("give --kubeconfig, or --server and --token"),
                };
                let args = agent::AgentArgs {
                    connect,
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

/// The host's name, lower-cased: the default node name, as the kubelet's.
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .to_lowercase()
}

pub async fn wait_for_signal() {
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
