//! `skiff server`, and the server part of `skiff up`: the API server on its store, the admin
//! kubeconfig, and the in-process scheduler.
//!
//! Secure by default: HTTPS with the certificates of [`crate::pki`], every request authenticated
//! (client certificate or bearer token) and authorized (`skiff_apiserver::authz`). `--plain-http`
//! serves plain HTTP without authentication, and only on a loopback address (benchmarks, raw tests).

use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{kubeconfig, local_api, pki};

/// What to run.
pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub watch_cache_events: usize,
    /// `None` disables the in-process scheduler; `Some(config)` runs it.
    pub scheduler: Option<Option<skiff_scheduler::KubeSchedulerConfiguration>>,
    /// Plain HTTP, no authentication (loopback listen addresses only).
    pub plain_http: bool,
    /// An upstream static token file (`token,user,uid,"group1,group2"`).
    pub token_auth_file: Option<PathBuf>,
}

/// A started server (and scheduler).
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The admin kubeconfig written for this server.
    pub kubeconfig: PathBuf,
    /// `https://HOST:PORT` (or `http://` with `--plain-http`): what kubeconfigs name.
    pub url: String,
    /// The certificates and join token (`None` with `--plain-http`).
    pub pki: Option<Arc<pki::ServerPki>>,
    api: skiff_apiserver::Running,
    scheduler: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

/// Starts the API server, writes the admin kubeconfig, starts the scheduler.
pub async fn start(opts: ServerOptions) -> anyhow::Result<RunningServer> {
    let data_dir = opts.data_dir;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut config = skiff_apiserver::Config::new(opts.listen, data_dir.clone());
    config.watch_cache_events = opts.watch_cache_events.max(1);
    let pki = if opts.plain_http {
        if !opts.listen.ip().is_loopback() {
            anyhow::bail!(
                "--plain-http serves without TLS or authentication: only on a loopback address, not {}",
                opts.listen
            );
        }
        None
    } else {
        let pki = pki::ServerPki::load_or_create(&data_dir, opts.listen)
            .context("preparing the certificates")?;
        config.security = Some(Arc::new(security(&pki, opts.token_auth_file.as_deref())?));
        Some(Arc::new(pki))
    };
    let api = skiff_apiserver::start(config)
        .await
        .context("starting the API server")?;
    let url = server_url(api.addr, pki.is_some());
    let path = write_kubeconfig(&data_dir, &url, pki.as_deref())?;
    let sched = match opts.scheduler {
        Some(config) => {
            let options = skiff_scheduler::server::SchedulerOptions {
                config,
                ..Default::default()
            };
            // The same identity as the admin kubeconfig it used to read, without the round trip
            // through HTTP.
            let client = local_api::client(api.state.clone(), skiff_apiserver::User::admin());
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let handle = tokio::spawn(async move {
                let stop = async {
                    let _ = stop_rx.await;
                };
                if let Err(e) = skiff_scheduler::server::run(client, options, stop).await {
                    tracing::error!(error = %e, "the scheduler stopped");
                }
            });
            Some((stop_tx, handle))
        }
        None => None,
    };
    Ok(RunningServer {
        addr: api.addr,
        kubeconfig: path,
        url,
        pki,
        api,
        scheduler: sched,
    })
}

impl RunningServer {
    /// Stops the scheduler, then the API server.
    pub async fn shutdown(self) {
        if let Some((stop, handle)) = self.scheduler {
            let _ = stop.send(());
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
        }
        self.api.shutdown().await;
    }
}

/// `skiff server`: runs until SIGTERM or Ctrl-C.
pub async fn run(opts: ServerOptions) -> anyhow::Result<()> {
    let data_dir = opts.data_dir.clone();
    let running = start(opts).await?;
    eprintln!(
        "skiff server: serving the Kubernetes API on {}",
        running.url
    );
    if running.pki.is_some() {
        eprintln!(
            "skiff server: nodes join with: skiff agent --server {} --token-file {}",
            running.url,
            pki::ServerPki::token_path(&data_dir).display()
        );
    }
    eprintln!(
        "skiff server: export KUBECONFIG={}",
        running.kubeconfig.display()
    );
    crate::wait_for_signal().await;
    eprintln!("skiff server: shutting down");
    running.shutdown().await;
    Ok(())
}

/// The authentication and TLS of a secure server.
fn security(
    pki: &pki::ServerPki,
    token_auth_file: Option<&Path>,
) -> anyhow::Result<skiff_apiserver::Security> {
    let mut tokens = match token_auth_file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            skiff_apiserver::auth::parse_token_file(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("parsing {}", p.display()))?
        }
        None => Default::default(),
    };
    // The join secret (alone, or the whole K10 token) authenticates a bootstrapper, which may only
    // obtain node credentials.
    let bootstrap = skiff_apiserver::User::new(
        "system:bootstrap:skiff",
        &[skiff_apiserver::auth::BOOTSTRAPPERS],
    );
    tokens.insert(pki.token.secret.clone(), bootstrap.clone());
    tokens.insert(pki.token.to_string(), bootstrap);
    Ok(skiff_apiserver::Security {
        tls: Arc::new(pki::apiserver_tls(pki)?),
        kubelet_client: Arc::new(pki::client_tls(
            &pki.ca.cert_pem,
            Some(&pki.kubelet_client),
        )?),
        ca_pem: bytes::Bytes::from(pki.ca.cert_pem.clone()),
        tokens,
        issuer: pki.ca.clone(),
    })
}

fn server_url(addr: SocketAddr, tls: bool) -> String {
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    format!("{}://{host}", if tls { "https" } else { "http" })
}

fn write_kubeconfig(
    data_dir: &Path,
    url: &str,
    pki: Option<&pki::ServerPki>,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("admin.kubeconfig");
    let text = match pki {
        Some(pki) => {
            kubeconfig::with_certificates(url, "skiff-admin", &pki.ca.cert_pem, &pki.admin)
        }
        None => kubeconfig::admin(url),
    };
    pki::write_secret(&path, text.as_bytes())?;
    Ok(path)
}
