//! The agent's HTTP endpoint (the kubelet's port 10250): `GET /containerLogs/{ns}/{pod}/{container}`
//! with `follow`, `tailLines`, `timestamps`, `previous`, `limitBytes`, `sinceSeconds`, `sinceTime`,
//! which the API server's `pods/log` proxies to, and `/healthz`. Errors are plain text with the
//! status code upstream's kubelet uses; the API server wraps them in a `Status`. With TLS (the
//! default), the handshake admits only clients whose certificate the cluster CA signed for the API
//! server (the verifier is built by the binary); anything else never reaches a handler.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::pod_worker::PodContext;
use crate::runtime::logs::{write_logs, LogOptions};
use crate::runtime::ContainerState;
use crate::state::PodRecord;

/// A whole body or a stream of chunks.
pub enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }
}

fn text(code: StatusCode, msg: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(Body::Full(Some(Bytes::from(msg.into()))));
    *r.status_mut() = code;
    r.headers_mut()
        .insert("content-type", http::HeaderValue::from_static("text/plain"));
    r
}

fn query(uri: &http::Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The log files of one container, by instance number, oldest first.
fn log_files(dir: &Path) -> Vec<(i32, PathBuf)> {
    let mut files: Vec<(i32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e
                .file_name()
                .to_string_lossy()
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    files.sort();
    files
}

async fn container_logs(
    ctx: Arc<PodContext>,
    ns: &str,
    pod: &str,
    container: &str,
    q: HashMap<String, String>,
) -> Response<Body> {
    let uid = ctx
        .pods_by_name
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(ns.to_string(), pod.to_string()))
        .cloned();
    let Some(uid) = uid else {
        return text(
            StatusCode::NOT_FOUND,
            format!("pod \"{pod}\" not found on this node"),
        );
    };
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let previous = flag("previous");
    let files = log_files(&ctx.pod_log_dir(ns, pod, &uid).join(container));
    let record = PodRecord::load(&ctx.pod_dir(&uid));
    let current = record
        .as_ref()
        .and_then(|r| r.containers.get(container))
        .cloned();
    let path = if previous {
        let cur = current
            .as_ref()
            .map(|c| c.restart_count)
            .unwrap_or(i32::MAX);
        match files.iter().rev().find(|(n, _)| *n < cur) {
            Some((_, p)) => p.clone(),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                    ),
                )
            }
        }
    } else {
        match files.last() {
            Some((_, p)) => p.clone(),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"),
                )
            }
        }
    };
    let since = q
        .get("sinceTime")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            q.get("sinceSeconds")
                .and_then(|s| s.parse::<i64>().ok())
                .map(|s| Utc::now() - chrono::Duration::seconds(s))
        });
    let opts = LogOptions {
        tail: q
            .get("tailLines")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|n| n.max(0) as usize),
        timestamps: flag("timestamps"),
        limit_bytes: q.get("limitBytes").and_then(|v| v.parse().ok()),
        since,
        follow: flag("follow") && !previous,
        stream: None,
    };
    // Follow until the container instance exits (or the client goes away).
    let running_id = current.filter(|c| c.finished.is_none()).map(|c| c.id);
    let runtime = ctx.runtime.clone();
    let stop = async move {
        let Some(id) = running_id else { return };
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            match runtime.state(&id).await {
                Ok(ContainerState::Running { .. }) | Ok(ContainerState::Created) => continue,
                _ => return,
            }
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let (mut writer, mut reader) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Err(e) = write_logs(&path, &opts, &mut writer, stop).await {
            tracing::debug!(error = %e, "serving logs ended");
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut r = Response::new(Body::Stream(rx));
    r.headers_mut()
        .insert("content-type", http::HeaderValue::from_static("text/plain"));
    r
}

async fn handle(
    ctx: Arc<PodContext>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if req.method() != http::Method::GET {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
    }
    if path == "/healthz" {
        return Ok(text(StatusCode::OK, "ok"));
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["containerLogs", ns, pod, container] => {
            Ok(container_logs(ctx, ns, pod, container, query(req.uri())).await)
        }
        _ => Ok(text(StatusCode::NOT_FOUND, "404 page not found")),
    }
}

/// Serves on `listener` until `stop` fires; over TLS when `tls` is given.
pub async fn serve(
    ctx: Arc<PodContext>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let ctx = ctx.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(ctx.clone(), req));
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            match acceptor {
                None => {
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                }
                Some(acceptor) => {
                    let accepted =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await;
                    let stream = match accepted {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "kubelet endpoint: TLS handshake refused");
                            return;
                        }
                        Err(_) => return,
                    };
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                }
            }
        });
    }
}
