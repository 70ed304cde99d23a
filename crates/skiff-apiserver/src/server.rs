//! The HTTP server: accepts connections, routes requests, records metrics, shuts down cleanly.

use crate::auth::{self, User};
use crate::handlers::{self, error_reply, json_bytes, Call, Reply};
use crate::registry::Registry;
use crate::request::{self, Query, Target};
use crate::watchcache::WatchCache;
use crate::{authz, bootstrap, controllers, discovery, State, KUBERNETES_VERSION};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use skiff_api::ApiError;
use skiff_store::{SqliteStore, Store};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Upstream's limit on request bodies (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where the database lives (`DIR/db/state.db`).
    pub data_dir: PathBuf,
    /// Events kept in the watch cache's ring for watches from a past resourceVersion.
    pub watch_cache_events: usize,
    /// How often old revisions are compacted, and how many are kept.
    pub compact_interval: Duration,
    pub compact_keep: i64,
    /// TLS and authentication; `None` serves plain HTTP without authentication (loopback only: the
    /// caller checks).
    pub security: Option<Arc<auth::Security>>,
}

impl Config {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            watch_cache_events: 20_000,
            compact_interval: Duration::from_secs(300),
            compact_keep: 10_000,
            security: None,
        }
    }
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to a few seconds), and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Store(#[from] skiff_store::StoreError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("data directory {dir}: {source}")]
    DataDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Opens the store, loads the watch cache, creates the built-in objects and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let db_dir = config.data_dir.join("db");
    std::fs::create_dir_all(&db_dir).map_err(|source| StartError::DataDir {
        dir: db_dir.clone(),
        source,
    })?;
    let sqlite = SqliteStore::open(db_dir.join("state.db"))?;
    let compactor = sqlite.spawn_compactor(config.compact_interval, config.compact_keep);
    let store: Arc<dyn Store> = Arc::new(sqlite);
    start_with_store(config, store, Some(compactor)).await
}

/// Starts serving on top of an already opened store (tests use the in-memory store).
pub async fn start_with_store(
    config: Config,
    store: Arc<dyn Store>,
    compactor: Option<skiff_store::CompactorHandle>,
) -> Result<Running, StartError> {
    let cache = WatchCache::start(store.clone(), config.watch_cache_events).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let state = Arc::new(State {
        registry: Registry {
            store,
            cache,
            services: Default::default(),
        },
        metrics: Default::default(),
        address: addr.to_string(),
        security: config.security.clone(),
    });
    bootstrap::run(&state.registry).await;
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let controllers = controllers::spawn(state.clone(), shutdown.subscribe());
    let serve_state = state.clone();
    let task = tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
            tokio::select! {
                _ = shutdown_rx.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let st = serve_state.clone();
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let Some(tls) = st.security.as_ref().map(|s| s.tls.clone()) else {
                            let svc = service(st, None);
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).into_owned();
                            let _ = watcher.watch(conn).await;
                            return;
                        };
                        let Some((stream, user)) = tls_handshake(stream, tls).await else { return };
                        let svc = service(st, user.map(Arc::new));
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).into_owned();
                        let _ = watcher.watch(conn).await;
                    });
                }
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
        controllers.abort();
        drop(compactor);
    });
    Ok(Running {
        addr,
        state,
        shutdown,
        task,
    })
}

/// The per-connection service: every request carries the connection's certificate user.
fn service(
    st: Arc<State>,
    user: Option<Arc<User>>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Reply,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<Reply, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |req: Request<Incoming>| {
        let st = st.clone();
        let user = user.clone();
        let req = req.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync());
        async move { Ok::<_, std::convert::Infallible>(handle(st, req, user.as_deref()).await) }
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body, whichever way the request came: a connection's, or one built in this process.
pub type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Serves one request made in this process, as `user`, without a connection: the transport of
/// `skiff server`'s embedded scheduler (the same requests as over HTTP, without encoding them,
/// TLS or loopback TCP). Everything else (routing, authorization, admission) is as for a remote
/// request.
pub async fn serve_local(state: Arc<State>, req: Request<RequestBody>, user: &User) -> Reply {
    handle(state, req, Some(user)).await
}

/// What Go's server answers to plain HTTP on a TLS port.
const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The TLS handshake of one connection (bounded in time), and the user its client certificate names.
/// A connection that starts with anything but a TLS record gets Go's plain-HTTP answer.
async fn tls_handshake(
    stream: tokio::net::TcpStream,
    tls: Arc<rustls::ServerConfig>,
) -> Option<(
    tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    Option<User>,
)> {
    use tokio::io::AsyncWriteExt;
    const HANDSHAKE: u8 = 0x16;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(Duration::from_secs(10), stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return None;
    }
    if first[0] != HANDSHAKE {
        let mut stream = stream;
        let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
        let _ = stream.shutdown().await;
        return None;
    }
    let accepted = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsAcceptor::from(tls).accept(stream),
    )
    .await;
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return None;
        }
        Err(_) => return None,
    };
    let user = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(User::from_certificate);
    Some((stream, user))
}

fn unauthorized() -> Reply {
    error_reply(&ApiError::new(401, "Unauthorized", "Unauthorized"))
}

/// Routes one request.
async fn handle(state: Arc<State>, req: Request<RequestBody>, conn_user: Option<&User>) -> Reply {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    let health = |p: &str| {
        ["/healthz", "/livez", "/readyz"]
            .iter()
            .any(|h| p == *h || p.strip_prefix(h).is_some_and(|r| r.starts_with('/')))
    };
    let open = matches!(path.as_str(), "/version" | "/version/" | "/cacerts") || health(&path);
    let user = match (&state.security, open) {
        (None, _) => User::admin(),
        (Some(_), true) => User::new("system:anonymous", &["system:unauthenticated"]),
        (Some(security), false) => match auth::authenticate(security, conn_user, &parts.headers) {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(method = %parts.method, path = %path, error = ?e, "unauthenticated");
                return unauthorized();
            }
        },
    };
    let reply = match path.as_str() {
        "/version" | "/version/" => {
            let (major, minor, git) = KUBERNETES_VERSION;
            let v = json!({"major": major, "minor": minor, "gitVersion": git, "gitCommit": env!("CARGO_PKG_VERSION"),
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "skiff", "compiler": "rustc",
                "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else if cfg!(target_arch = "aarch64") { "arm64" } else { std::env::consts::ARCH })});
            json_bytes(
                200,
                Bytes::from(serde_json::to_vec_pretty(&v).unwrap_or_default()),
                "application/json",
            )
        }
        p if health(p) => json_bytes(200, Bytes::from_static(b"ok"), "text/plain; charset=utf-8"),
        "/cacerts" => match &state.security {
            Some(s) => json_bytes(200, s.ca_pem.clone(), "text/plain; charset=utf-8"),
            None => not_found(),
        },
        crate::credentials::PATH => {
            match crate::credentials::serve(&state, &user, &parts.method, body).await {
                Ok(r) => r,
                Err(e) => error_reply(&e),
            }
        }
        "/metrics" if !user.in_group(auth::MASTERS) => {
            error_reply(&authz::forbidden_path(&user, "get", "/metrics"))
        }
        "/metrics" => {
            let objects: Vec<(String, usize)> = skiff_api::resources::RESOURCES
                .iter()
                .filter(|r| !r.group.starts_with("events.k8s.io"))
                .map(|r| {
                    (
                        skiff_api::status::qualified(r.plural, r.group),
                        state.registry.cache.count(r),
                    )
                })
                .collect();
            let lag = state.registry.cache.revision() - state.registry.store.compacted_revision();
            json_bytes(
                200,
                Bytes::from(state.metrics.render(&objects, lag)),
                "text/plain; version=0.0.4",
            )
        }
        "/openapi/v3" | "/openapi/v3/" => {
            json_bytes(200, skiff_openapi::root_bytes(), "application/json")
        }
        p if p.starts_with("/openapi/v3/") => {
            match skiff_openapi::group_version(&p["/openapi/v3/".len()..]) {
                Some(doc) => json_bytes(200, doc, "application/json"),
                None => not_found(),
            }
        }
        _ => match api(
            &state,
            &user,
            parts.method.clone(),
            &path,
            query,
            &parts.headers,
            body,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => error_reply(&e),
        },
    };
    let status = reply.status().as_u16();
    tracing::debug!(method = %parts.method, path = %path, status, took_us = started.elapsed().as_micros() as u64, "request");
    reply
}

fn not_found() -> Reply {
    json_bytes(
        404,
        Bytes::from_static(b"404 page not found\n"),
        "text/plain; charset=utf-8",
    )
}

/// How much of a too-large body is still read (and dropped) before answering 413: a client still
/// writing when the server closes gets a connection reset, which can discard the 413 before the
/// client reads it (Go's server drains in the same spirit).
const DRAIN_AFTER_LIMIT: usize = 4 * MAX_BODY;

pub(crate) async fn read_body(mut body: RequestBody) -> Result<Bytes, ApiError> {
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    let drain_until = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= MAX_BODY {
            buf.extend_from_slice(&data);
        } else if seen > MAX_BODY + DRAIN_AFTER_LIMIT || tokio::time::Instant::now() > drain_until {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::too_large());
    }
    Ok(buf.freeze())
}

async fn api(
    state: &Arc<State>,
    user: &User,
    method: Method,
    path: &str,
    query: Query,
    headers: &http::HeaderMap,
    body: RequestBody,
) -> Result<Reply, ApiError> {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok());
    let Some(target) = request::parse_path(path)? else {
        return Ok(not_found());
    };
    let read_only = |m: &Method| *m == Method::GET || *m == Method::HEAD;
    match target {
        Target::CoreGroups if read_only(&method) => {
            let (b, ct) = discovery::api(discovery::wants_aggregated(accept), &state.address);
            Ok(json_bytes(200, b, ct))
        }
        Target::Groups if read_only(&method) => {
            let (b, ct) = discovery::apis(discovery::wants_aggregated(accept));
            Ok(json_bytes(200, b, ct))
        }
        Target::Group(g) if read_only(&method) => {
            Ok(discovery::group(&g)
                .map_or_else(not_found, |b| json_bytes(200, b, "application/json")))
        }
        Target::GroupVersion(g, v) if read_only(&method) => Ok(discovery::group_version(&g, &v)
            .map_or_else(not_found, |b| json_bytes(200, b, "application/json"))),
        Target::Bindings(ns) if method == Method::POST => {
            if !user.in_group(auth::MASTERS) {
                let pods = skiff_api::resources::find("", "v1", "pods").expect("pods");
                let a = authz::Attributes {
                    verb: "create",
                    resource: pods,
                    subresource: Some("binding"),
                    namespace: Some(&ns),
                    name: None,
                };
                return Err(authz::forbidden(user, &a, ""));
            }
            let body = read_body(body).await?;
            let binding = match crate::binding::BindingBody::from_json(&body) {
                Some(binding) => binding,
                None => crate::binding::BindingBody::from_value(
                    &serde_json::from_slice(&body)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?,
                ),
            };
            let pods = skiff_api::resources::find("", "v1", "pods").expect("pods");
            let mut opts = crate::registry::WriteOptions::system("");
            opts.field_manager = query.non_empty("fieldManager").unwrap_or("").to_string();
            // Boxed, as `handlers::resource` boxes each verb: it is larger than the rest of this
            // future.
            Box::pin(handlers::do_bind(
                &state.registry,
                pods,
                Some(&ns),
                &binding.name,
                &binding,
                &opts,
            ))
            .await
        }
        Target::Resource(req) => {
            let started = Instant::now();
            let verb = handlers::metric_verb(&method, &req, &query);
            let resource = req.resource;
            let body = read_body(body).await?;
            if !user.in_group(auth::MASTERS) {
                let watching = req.legacy_watch || query.flag("watch").unwrap_or(false);
                let a = authz::Attributes {
                    verb: authz::verb(&method, req.name.is_some(), watching),
                    resource,
                    subresource: req.subresource.as_deref(),
                    namespace: req.namespace.as_deref(),
                    name: req.name.as_deref(),
                };
                let created = (a.verb == "create")
                    .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                    .flatten();
                authz::authorize(state, user, &a, created.as_ref())?;
            }
            let call = Call {
                state,
                method: &method,
                req,
                query,
                headers,
                body,
            };
            let result = handlers::resource(call).await;
            let code = match &result {
                Ok(r) => r.status().as_u16(),
                Err(e) => e.code,
            };
            state.metrics.observe(
                verb,
                resource.group,
                resource.plural,
                code,
                started.elapsed(),
            );
            result
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}
