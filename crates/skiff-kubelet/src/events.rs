//! Events about pods, as the kubelet's event recorder writes them (`source.component: kubelet`,
//! `reportingComponent: kubelet`, `reportingInstance: <node>`), with upstream's reasons and
//! messages. A repeat of the same (object, reason, message) bumps the first event's `count` and
//! `lastTimestamp` instead of writing a new one, as client-go's event correlator does, so a
//! crash-looping container does not flood the store.
//!
//! Writes are fire-and-forget: an event is never worth blocking a pod's progress for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

/// Event type `Normal`.
pub const NORMAL: &str = "Normal";
/// Event type `Warning`.
pub const WARNING: &str = "Warning";

/// (pod uid, reason, message): an event's identity for aggregation.
type EventKey = (String, String, String);
/// (event name, namespace, count) of the first event with that identity.
type EventSeen = (String, String, i32);

#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    node: String,
    seen: Arc<Mutex<HashMap<EventKey, EventSeen>>>,
}

impl EventRecorder {
    pub fn new(client: kube::Client, node: String) -> EventRecorder {
        EventRecorder {
            client,
            node,
            seen: Arc::default(),
        }
    }

    /// Records an event about `pod` (and, with `field_path`, about one of its containers, e.g.
    /// `spec.containers{web}`).
    pub fn pod(
        &self,
        pod: &Pod,
        field_path: Option<String>,
        kind: &str,
        reason: &str,
        message: String,
    ) {
        // Events with an eventTime may carry at most 1024 characters of message.
        let message = if message.len() > 1024 {
            let mut cut = 1021;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}...", &message[..cut])
        } else {
            message
        };
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = (uid.clone(), reason.to_string(), message.clone());
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let micro = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let (repeat, event_name) = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() > 4096 {
                seen.clear();
            }
            match seen.get_mut(&key) {
                Some(entry) => {
                    entry.2 += 1;
                    (Some((entry.0.clone(), entry.2)), entry.0.clone())
                }
                None => {
                    let event_name = format!("{name}.{:x}", rand_suffix());
                    seen.insert(key, (event_name.clone(), ns.clone(), 1));
                    (None, event_name)
                }
            }
        };
        let node = self.node.clone();
        let reason = reason.to_string();
        let kind = kind.to_string();
        let rv = pod.metadata.resource_version.clone();
        tokio::spawn(async move {
            let result = match repeat {
                Some((existing, count)) => api
                    .patch(
                        &existing,
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"count": count, "lastTimestamp": now})),
                    )
                    .await
                    .map(|_| ()),
                None => {
                    let event: Event = match serde_json::from_value(json!({
                        "metadata": {"name": event_name, "namespace": ns},
                        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": ns,
                            "uid": uid, "resourceVersion": rv, "fieldPath": field_path},
                        "reason": reason, "message": message, "type": kind,
                        "source": {"component": "kubelet", "host": node},
                        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                        // Microseconds, as the events.k8s.io recorder writes: `skiff trace` orders
                        // the pod's steps by it.
                        "eventTime": micro, "action": reason,
                        "reportingComponent": "kubelet", "reportingInstance": node,
                    })) {
                        Ok(e) => e,
                        Err(_) => return,
                    };
                    api.create(&PostParams::default(), &event).await.map(|_| ())
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "writing an event failed");
            }
        });
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (n << 48) ^ u64::from(std::process::id())
}
