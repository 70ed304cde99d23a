//! One keep-alive HTTP/1.1 connection to the API server (hyper's low-level `client::conn::http1`), so each
//! benchmark client owns exactly one TCP connection and nothing pools or reorders requests behind its back.

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long one ordinary (non-watch) request may take before the benchmark calls it failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

/// Refuses any address off the loopback range: the benchmark only ever talks to the server it started.
pub fn check_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("refusing to send benchmark traffic to {addr}: not a loopback address");
    }
    Ok(())
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
        check_loopback(addr)?;
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr))
            .await
            .context("connecting: timed out")?
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            host: addr.to_string(),
        })
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "skiff-apiserver-bench");
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(b.body(Full::new(body.unwrap_or_default()))?)
    }

    /// Sends one request and reads the whole response body, within [`REQUEST_TIMEOUT`].
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let req = self.build(method, path, body)?;
        let fut = async {
            self.send.ready().await.context("connection closed")?;
            let resp = self
                .send
                .send_request(req)
                .await
                .context("sending the request")?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .context("reading the response body")?
                .to_bytes();
            anyhow::Ok((status, bytes))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .with_context(|| format!("{path}: no answer within {REQUEST_TIMEOUT:?}"))?
    }

    /// Sends a request whose response is a stream (a watch); returns once the response headers arrive.
    pub async fn stream(&mut self, path: &str) -> anyhow::Result<Response<Incoming>> {
        let req = self.build(Method::GET, path, None)?;
        let fut = async {
            self.send.ready().await.context("connection closed")?;
            self.send
                .send_request(req)
                .await
                .context("sending the request")
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .with_context(|| format!("{path}: no headers within {REQUEST_TIMEOUT:?}"))?
    }
}

/// A short, printable excerpt of a response body for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(300)]);
    s.replace('\n', " ")
}

/// Creates a namespace, accepting that it already exists.
pub async fn ensure_namespace(conn: &mut Conn, name: &str) -> anyhow::Result<()> {
    let body = serde_json::to_vec(
        &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )?;
    let (status, resp) = conn
        .request(Method::POST, "/api/v1/namespaces", Some(Bytes::from(body)))
        .await?;
    if status.is_success() || status == StatusCode::CONFLICT {
        return Ok(());
    }
    bail!("creating namespace {name}: {status}: {}", excerpt(&resp))
}

/// `metadata.resourceVersion` of a JSON object or list.
pub fn resource_version(body: &[u8]) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_slice(body).context("decoding the response")?;
    v.pointer("/metadata/resourceVersion")
        .and_then(|r| r.as_str())
        .map(str::to_string)
        .context("the response has no metadata.resourceVersion")
}
