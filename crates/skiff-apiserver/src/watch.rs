//! Watch: a chunked stream of newline-delimited JSON events (`{"type":"ADDED","object":{...}}\n`).
//!
//! Each event's object comes pre-encoded from the watch cache and is spliced into the frame, so a change
//! is encoded once however many watchers receive it. Watches stay open until `timeoutSeconds` (or about
//! 30-60 minutes without it, as upstream), the client leaves, or the watcher falls too far behind (then
//! the stream ends and the client resumes from its last resourceVersion).

use crate::body::Body;
use crate::convert;
use crate::handlers::{json_bytes, Call, Reply, Selectors};
use crate::negotiation::Output;
use crate::watchcache::{CacheEvent, CachedObject, EventType, WatchStartError};
use bytes::{BufMut, Bytes, BytesMut};
use rand::Rng;
use serde_json::{json, Value};
use skiff_api::resources::Resource;
use skiff_api::{table, ApiError};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

struct Encoder {
    resource: &'static Resource,
    output: Output,
    sent_columns: bool,
}

impl Encoder {
    fn frame(&mut self, type_: &str, obj: &CachedObject) -> Bytes {
        let mut b = BytesMut::with_capacity(obj.json.len() + 40);
        b.put_slice(b"{\"type\":\"");
        b.put_slice(type_.as_bytes());
        b.put_slice(b"\",\"object\":");
        match self.output {
            Output::Json | Output::Yaml if !convert::needs_conversion(self.resource) => {
                b.put_slice(&obj.json)
            }
            Output::Json | Output::Yaml => {
                let v = convert::for_output(self.resource, obj.value());
                b.put_slice(&serde_json::to_vec(&v).unwrap_or_default());
            }
            Output::Table => {
                let v = convert::for_output(self.resource, obj.value());
                let rv = obj.rv.to_string();
                let mut t = table::table(
                    self.resource.group,
                    self.resource.kind,
                    [&v],
                    &rv,
                    None,
                    table::IncludeObject::Metadata,
                    chrono::Utc::now(),
                );
                if self.sent_columns {
                    t["columnDefinitions"] = Value::Null;
                }
                self.sent_columns = true;
                b.put_slice(&serde_json::to_vec(&t).unwrap_or_default());
            }
            Output::PartialObjectMetadata | Output::PartialObjectMetadataList => {
                b.put_slice(
                    &serde_json::to_vec(&table::partial_object_metadata(&obj.value()))
                        .unwrap_or_default(),
                );
            }
        }
        b.put_slice(b"}\n");
        b.freeze()
    }

    fn bookmark(&self, rv: i64, initial_events_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (kind, api_version) = match self.output {
            Output::Table => ("Table".to_string(), "meta.k8s.io/v1".to_string()),
            Output::PartialObjectMetadata | Output::PartialObjectMetadataList => (
                "PartialObjectMetadata".to_string(),
                "meta.k8s.io/v1".to_string(),
            ),
            _ => (self.resource.kind.to_string(), self.resource.api_version()),
        };
        let v = json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}});
        let mut out = serde_json::to_vec(&v).unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }
}

/// What a watcher sends for one change, given its selectors (an object that leaves the selection is
/// DELETED for that watcher, one that enters it is ADDED, as upstream).
fn decide(ev: &CacheEvent, sel: &Selectors) -> Option<&'static str> {
    let now = sel.matches(&ev.object);
    let before = ev.prev.as_ref().map(|p| sel.matches(p));
    match ev.type_ {
        EventType::Added => now.then_some("ADDED"),
        EventType::Deleted => before.unwrap_or(now).then_some("DELETED"),
        EventType::Modified => match (before.unwrap_or(now), now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }
}

fn error_frame(e: &ApiError) -> Bytes {
    let mut out =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_value()})).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// Serves a watch request.
pub async fn serve(call: &Call<'_>) -> Result<Reply, ApiError> {
    let r = call.req.resource;
    let output =
        match crate::negotiation::output(call.headers.get("accept").and_then(|v| v.to_str().ok()))?
        {
            Output::Yaml => Output::Json,
            o => o,
        };
    let sel = Selectors::parse(r, &call.query)?;
    let bookmarks = call.query.flag("allowWatchBookmarks")?;
    let send_initial = call.query.flag("sendInitialEvents")?;
    let timeout = match call.query.int("timeoutSeconds")? {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        _ => Duration::from_secs(rand::rng().random_range(1800..3600)),
    };
    let from = match call.query.get("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(_) if send_initial => None,
        Some(n) => Some(
            n.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {n:?}")))?,
        ),
    };
    let cache = call.state.registry.cache.clone();
    if let Some(rv) = from {
        if rv > cache.revision() && !cache.wait_for(rv, Duration::from_secs(3)).await {
            return Err(ApiError::timeout(format!(
                "Too large resource version: {rv}, current: {}",
                cache.revision()
            )));
        }
    }
    let prefix = match call.req.namespace.as_deref() {
        Some(ns) if r.namespaced => r.namespace_prefix(ns),
        _ => r.key_prefix(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut enc = Encoder {
        resource: r,
        output,
        sent_columns: false,
    };
    match cache.watch(convert::storage_resource(r), &prefix, from) {
        Err(WatchStartError::TooOld { requested, oldest }) => {
            // Upstream answers 200 and sends one ERROR event with a 410 Status.
            let e = ApiError::expired(format!("too old resource version: {requested} ({oldest})"));
            let _ = tx.try_send(error_frame(&e));
        }
        Ok(start) => {
            let storage = convert::storage_resource(r).storage;
            tokio::spawn(async move {
                let mut last_rv = start.rev;
                for ev in &start.initial {
                    if let Some(t) = decide(ev, &sel) {
                        if tx.send(enc.frame(t, &ev.object)).await.is_err() {
                            return;
                        }
                    }
                }
                if send_initial
                    && bookmarks
                    && tx.send(enc.bookmark(start.rev, true)).await.is_err()
                {
                    return;
                }
                let deadline = tokio::time::sleep(timeout);
                tokio::pin!(deadline);
                let mut live = start.live;
                let mut tick = tokio::time::interval(BOOKMARK_EVERY);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = &mut deadline => break,
                        _ = tx.closed() => break,
                        _ = tick.tick(), if bookmarks => {
                            if tx.send(enc.bookmark(last_rv, false)).await.is_err() { break; }
                        }
                        ev = live.recv() => match ev {
                            Ok(ev) => {
                                last_rv = ev.rv;
                                if ev.storage != storage || !ev.object.key.starts_with(&prefix) { continue; }
                                if let Some(t) = decide(&ev, &sel) {
                                    if tx.send(enc.frame(t, &ev.object)).await.is_err() { break; }
                                }
                            }
                            // Too far behind: end the stream; the client resumes from its last resourceVersion.
                            Err(broadcast::error::RecvError::Lagged(_)) => break,
                            Err(broadcast::error::RecvError::Closed) => break,
                        }
                    }
                }
            });
        }
    }
    let mut resp = json_bytes(200, Bytes::new(), "application/json");
    *resp.body_mut() = Body::Stream(rx);
    Ok(resp)
}
