//! `skiff`: the one binary. Subcommands run the parts of a cluster:
//! - `skiff server`: the API server on its embedded store (steps 1-3 of a pod's path).

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod kubeconfig;

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

fn main() -> anyhow::Result<()> {
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
            } => server(data_dir, listen, watch_cache_events).await,
        }
    })
}

async fn server(
    data_dir: PathBuf,
    listen: SocketAddr,
    watch_cache_events: usize,
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
    wait_for_signal().await;
    eprintln!("skiff server: shutting down");
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
