//! `skiff agent`: the node agent (kubelet) against an API server, and `skiff shim`, the
//! per-container supervisor the agent starts (hidden; see `skiff_kubelet::runtime::shim`).
//!
//! Joining (`--server https://HOST:PORT --token K10<hash>::server:<secret>`), as k3s' agent: fetch the
//! CA from `/cacerts` (unauthenticated), check that its SHA-256 is the token's (so a server in the
//! middle cannot pass its own CA), then, verifying the server against that CA and authenticating
//! with the token's secret, obtain the node's credentials (`POST /v1-skiff/node-credentials`): a
//! client certificate for `system:node:<name>` and a kubelet serving certificate. They are written
//! to `<data-dir>/kubelet.kubeconfig` and `<data-dir>/tls/` (0600), and the agent runs with them.
//! With `--kubeconfig` instead, the agent asks the same endpoint, with the kubeconfig's identity, for
//! its kubelet serving certificate.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::pki;
use skiff_apiserver::IssuedNodeCredentials;

/// How the agent reaches its API server.
pub enum Connect {
    /// A kubeconfig with its credentials.
    Kubeconfig(PathBuf),
    /// Join with a token.
    Join { server: String, token: String },
}

/// The agent's command-line settings.
pub struct AgentArgs {
    pub connect: Connect,
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
    let node_ip = args
        .node_ip
        .unwrap_or_else(skiff_kubelet::agent::detect_node_ip);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let (client, tls) = match &args.connect {
        Connect::Join { server, token } => {
            let creds = join(server, token, &args.node_name, &[node_ip], &args.data_dir).await?;
            eprintln!(
                "skiff agent: joined {server} as node {}; credentials in {}",
                args.node_name,
                creds.kubeconfig_path.display()
            );
            let client = crate::scheduler::client_for(&creds.kubeconfig_path).await?;
            (client, Some(creds.kubelet_tls()?))
        }
        Connect::Kubeconfig(path) => {
            let client = crate::scheduler::client_for(path).await?;
            let tls = if kubeconfig_is_https(path)? {
                let issued = request_with_client(&client, &args.node_name, &[node_ip]).await?;
                let serving = pki::Pair {
                    cert: issued.serving_certificate,
                    key: issued.serving_key,
                };
                Some(Arc::new(pki::kubelet_tls(
                    &issued.certificate_authority,
                    &serving,
                )?))
            } else {
                None
            };
            (client, tls)
        }
    };
    let mut cfg =
        skiff_kubelet::agent::AgentConfig::new(args.node_name, args.data_dir, shim_command()?);
    cfg.tls = tls;
    cfg.pod_cidr = args.pod_cidr;
    cfg.node_ip = Some(node_ip);
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

fn kubeconfig_is_https(path: &Path) -> anyhow::Result<bool> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let current = kc.current_context.clone().unwrap_or_default();
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .unwrap_or_default();
    let server = kc
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default();
    Ok(server.starts_with("https://"))
}

fn credentials_request(node: &str, addresses: &[IpAddr]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "nodeName": node,
        "addresses": addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>(),
    }))
    .unwrap_or_default()
}

/// Asks the API server for node credentials with the identity of an existing client.
async fn request_with_client(
    client: &kube::Client,
    node: &str,
    addresses: &[IpAddr],
) -> anyhow::Result<IssuedNodeCredentials> {
    let req = http::Request::post("/v1-skiff/node-credentials")
        .header("content-type", "application/json")
        .body(credentials_request(node, addresses))
        .context("building the request")?;
    let text = client
        .request_text(req)
        .await
        .context("obtaining the kubelet serving certificate")?;
    serde_json::from_str(&text).context("decoding the node credentials")
}

/// Accepts any server certificate: only for fetching `/cacerts`, whose answer is then checked against
/// the hash the join token pins.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One HTTPS request (HTTP/1.1) to `server`.
async fn https(
    server: &http::Uri,
    tls: rustls::ClientConfig,
    method: http::Method,
    path: &str,
    bearer: Option<&str>,
    body: Vec<u8>,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let host = server.host().context("the server URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = server.port_u16().unwrap_or(6443);
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("{host} is not a valid server name"))?;
    let call = async {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .with_context(|| format!("connecting to {host}:{port}"))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS with {host}:{port}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("{host}:{port}"))
            .header("content-type", "application/json");
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, bytes))
    };
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .with_context(|| format!("{path} on {server}: timed out"))?
}

/// Joins the cluster at `server` with a K10 token; writes the node's credentials into `data_dir`.
pub async fn join(
    server: &str,
    token: &str,
    node: &str,
    addresses: &[IpAddr],
    data_dir: &Path,
) -> anyhow::Result<pki::NodeCredentials> {
    let token = pki::JoinToken::parse(token)?;
    let uri: http::Uri = server
        .parse()
        .with_context(|| format!("--server {server} is not a URL"))?;
    if uri.scheme_str() != Some("https") {
        bail!("--server must be an https:// URL, not {server}");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let unverified = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
        .with_no_client_auth();
    let (status, ca) = https(
        &uri,
        unverified,
        http::Method::GET,
        "/cacerts",
        None,
        Vec::new(),
    )
    .await?;
    if !status.is_success() {
        bail!("GET /cacerts on {server}: {status}");
    }
    let hash = pki::hex(&<sha2::Sha256 as sha2::Digest>::digest(&ca));
    if hash != token.ca_hash {
        bail!("the CA of {server} (sha256 {hash}) is not the one the token pins ({}): refusing to join", token.ca_hash);
    }
    let ca_pem = String::from_utf8(ca.to_vec()).context("the CA is not PEM")?;
    let verified = pki::client_tls(&ca_pem, None)?;
    let (status, body) = https(
        &uri,
        verified,
        http::Method::POST,
        "/v1-skiff/node-credentials",
        Some(&token.secret),
        credentials_request(node, addresses),
    )
    .await?;
    if !status.is_success() {
        bail!(
            "obtaining node credentials from {server}: {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    let issued: IssuedNodeCredentials =
        serde_json::from_slice(&body).context("decoding the node credentials")?;
    if issued.certificate_authority != ca_pem {
        bail!("the server answered with another CA than the pinned one");
    }
    pki::save_node_credentials(data_dir, server, node, &issued)
}
