//! The watch cache: the API server's in-memory copy of every stored object, fed by one store watch.
//!
//! LIST is served from here (never by scanning revisions in the database), and every committed change is
//! turned into one [`CacheEvent`] whose object is encoded to JSON once and shared by every watcher
//! (`bytes::Bytes`). A ring of recent events lets a watch start at any recent `resourceVersion`; older ones
//! get 410 Expired, as upstream. On start the ring is refilled from the store's history, so a client that
//! resumes a watch after a server restart misses nothing.

use crate::jsonscan;
use bytes::Bytes;
use serde_json::{Map, Value};
use skiff_api::resources::{Resource, RESOURCES};
use skiff_store::{Event, EventKind, Revision, Store, StoreError};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// One object as the cache holds it.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub rv: Revision,
    /// The object's JSON with `metadata.resourceVersion` set.
    pub json: Bytes,
    pub namespace: String,
    pub name: String,
    pub labels: Map<String, Value>,
    /// Values of the fields this resource supports in field selectors (besides name and namespace).
    pub fields: Vec<(&'static str, String)>,
    pub uid: String,
    /// `metadata.ownerReferences`, for the garbage collector.
    pub owners: Vec<OwnerRef>,
    pub finalizers: Vec<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerView {
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    uid: Option<String>,
}

/// The parts of an owner reference the garbage collector needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

impl CachedObject {
    /// Builds the cached form of a stored value at revision `rv`.
    pub fn build(resource: &Resource, key: &str, rv: Revision, raw: &[u8]) -> Option<CachedObject> {
        Self::build_in_place(resource, key, rv, raw)
            .or_else(|| Self::build_decoded(resource, key, rv, raw))
    }

    /// [`CachedObject::build`] reading only the metadata and the selectable fields out of `raw` and
    /// splicing the resourceVersion into its bytes (see [`crate::jsonscan`]). `None` for what it does
    /// not handle (a stored resourceVersion, fields of unexpected types, malformed JSON), which
    /// [`CachedObject::build_decoded`] then does.
    fn build_in_place(
        resource: &Resource,
        key: &str,
        rv: Revision,
        raw: &[u8],
    ) -> Option<CachedObject> {
        let selectable = selectable_fields(resource);
        // One pass over the object finds the members of the metadata and of the selectable fields'
        // parents too (`spec`, `status`, `involvedObject`).
        let mut descend: Vec<&str> = vec!["metadata"];
        for f in selectable {
            if let Some((parent, child)) = f.split_once('.') {
                if child.contains('.') {
                    return None; // deeper paths: none of the served kinds has one
                }
                if !descend.contains(&parent) {
                    descend.push(parent);
                }
            }
        }
        let (members, nested) = jsonscan::members_two_levels(raw, &descend)?;
        let meta_range = jsonscan::member(&members, "metadata")?.clone();
        let meta = nested[0].as_ref()?;
        let field = |name: &str| jsonscan::member(meta, name).map(|r| &raw[r.clone()]);
        // Each as its own type decodes it (a value of another type gives way to the full decode);
        // absent or null is `None`.
        fn decoded<T: serde::de::DeserializeOwned>(bytes: Option<&[u8]>) -> Option<Option<T>> {
            match bytes {
                None => Some(None),
                Some(b) => serde_json::from_slice::<Option<T>>(b).ok(),
            }
        }
        let set = |name: &str| field(name).is_some_and(|b| b != b"null");
        if set("resourceVersion") {
            return None;
        }
        let text_at = |parent: Option<&jsonscan::Members>, name: &str| {
            let bytes = parent
                .and_then(|m| jsonscan::member(m, name))
                .map(|r| &raw[r.clone()]);
            match bytes {
                Some(b) if b.first() == Some(&b'"') => serde_json::from_slice::<String>(b).ok(),
                // A bool or a number (the only other scalars a selectable field holds) as written.
                Some(b) if b != b"null" && !matches!(b.first(), Some(b'{' | b'[')) => {
                    std::str::from_utf8(b).ok().map(str::to_string)
                }
                _ => None,
            }
        };
        let fields = selectable
            .iter()
            .map(|f| {
                let value = match f.split_once('.') {
                    None => text_at(Some(&members), f),
                    Some((parent, child)) => {
                        let at = descend.iter().position(|d| *d == parent);
                        text_at(at.and_then(|i| nested[i].as_ref()), child)
                    }
                };
                (*f, value.unwrap_or_else(|| field_default(f).to_string()))
            })
            .collect();
        let owners: Option<Vec<OwnerView>> = decoded(field("ownerReferences"))?;
        let rv_text = rv.to_string();
        let json = jsonscan::with_resource_version_at(raw, meta_range, &rv_text)?;
        Some(CachedObject {
            key: key.to_string(),
            rv,
            json: Bytes::from(json),
            namespace: decoded(field("namespace"))?.unwrap_or_default(),
            name: decoded(field("name"))?.unwrap_or_default(),
            labels: decoded(field("labels"))?.unwrap_or_default(),
            fields,
            uid: decoded(field("uid"))?.unwrap_or_default(),
            owners: owners
                .unwrap_or_default()
                .into_iter()
                .map(|o| OwnerRef {
                    api_version: o.api_version.unwrap_or_default(),
                    kind: o.kind.unwrap_or_default(),
                    name: o.name.unwrap_or_default(),
                    uid: o.uid.unwrap_or_default(),
                })
                .collect(),
            finalizers: decoded(field("finalizers"))?.unwrap_or_default(),
            deleting: set("deletionTimestamp"),
        })
    }

    /// [`CachedObject::build`] by decoding the whole object.
    fn build_decoded(
        resource: &Resource,
        key: &str,
        rv: Revision,
        raw: &[u8],
    ) -> Option<CachedObject> {
        let mut value: Value = serde_json::from_slice(raw).ok()?;
        let meta = value.get_mut("metadata")?.as_object_mut()?;
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        let namespace = meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let labels = meta
            .get("labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let uid = meta
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let deleting = meta.get("deletionTimestamp").is_some_and(|v| !v.is_null());
        let finalizers = meta
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let str_of =
            |o: &Value, f: &str| o.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        let owners = meta
            .get("ownerReferences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|o| OwnerRef {
                        api_version: str_of(o, "apiVersion"),
                        kind: str_of(o, "kind"),
                        name: str_of(o, "name"),
                        uid: str_of(o, "uid"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fields = selectable_fields(resource)
            .iter()
            .map(|f| {
                let text = match skiff_api::fields::object_field_value(&value, f) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(v @ (Value::Bool(_) | Value::Number(_))) => Some(v.to_string()),
                    _ => None,
                };
                (*f, text.unwrap_or_else(|| field_default(f).to_string()))
            })
            .collect();
        let mut encoded = serde_json::to_vec(&value).ok()?;
        // The encoder's growth leaves up to half the buffer unused; the cache keeps it for the object's life.
        encoded.shrink_to_fit();
        let json = Bytes::from(encoded);
        Some(CachedObject {
            key: key.to_string(),
            rv,
            json,
            namespace,
            name,
            labels,
            fields,
            uid,
            owners,
            finalizers,
            deleting,
        })
    }

    /// The value of a selectable field (`metadata.name`, `spec.nodeName`, ...).
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "metadata.name" => Some(&self.name),
            "metadata.namespace" => Some(&self.namespace),
            _ => self
                .fields
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, v)| v.as_str()),
        }
    }

    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

/// The fields, besides `metadata.name` and `metadata.namespace`, that a resource supports in field
/// selectors (upstream's per-resource `GetAttrs`/field label conversion functions).
pub fn selectable_fields(resource: &Resource) -> &'static [&'static str] {
    match (resource.group, resource.kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("", "Secret") => &["type"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        _ => &[],
    }
}

/// The value of a selectable field the object does not set: upstream reads fields from the typed
/// object, where an unset bool is `false` and an unset count `0`.
fn field_default(field: &str) -> &'static str {
    match field {
        "spec.hostNetwork" | "spec.unschedulable" => "false",
        "status.replicas" => "0",
        _ => "",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct CacheEvent {
    pub rv: Revision,
    pub type_: EventType,
    /// The storage name of the resource (`pods`, `services/specs`).
    pub storage: &'static str,
    pub object: Arc<CachedObject>,
    pub prev: Option<Arc<CachedObject>>,
}

struct Inner {
    objects: HashMap<&'static str, BTreeMap<String, Arc<CachedObject>>>,
    history: VecDeque<Arc<CacheEvent>>,
    capacity: usize,
    /// Every event with a revision above this one is in `history`.
    oldest: Revision,
    rev: Revision,
}

/// Why a watch could not start.
#[derive(Debug)]
pub enum WatchStartError {
    TooOld {
        requested: Revision,
        oldest: Revision,
    },
}

/// The start of a watch: what to send first, then the live channel.
pub struct WatchStart {
    pub initial: Vec<Arc<CacheEvent>>,
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    /// The cache revision at the moment the watch started.
    pub rev: Revision,
}

pub struct WatchCache {
    inner: RwLock<Inner>,
    tx: broadcast::Sender<Arc<CacheEvent>>,
    rev_tx: watch::Sender<Revision>,
}

/// The storage name of the resource a key belongs to.
fn storage_of(key: &str) -> Option<&'static Resource> {
    let rest = key.strip_prefix("/registry/")?;
    RESOURCES.iter().find(|r| {
        rest.len() > r.storage.len()
            && rest.starts_with(r.storage)
            && rest.as_bytes()[r.storage.len()] == b'/'
    })
}

impl WatchCache {
    /// Loads every object from the store, refills the event ring from the store's history, and keeps
    /// following the store. Returns once the cache is current.
    pub async fn start(
        store: Arc<dyn Store>,
        capacity: usize,
    ) -> Result<Arc<WatchCache>, StoreError> {
        let list = store.list("/registry/", None, None).await?;
        let mut objects: HashMap<&'static str, BTreeMap<String, Arc<CachedObject>>> =
            HashMap::new();
        for kv in &list.kvs {
            let Some(res) = storage_of(&kv.key) else {
                continue;
            };
            if let Some(obj) = CachedObject::build(res, &kv.key, kv.mod_revision, &kv.value) {
                objects
                    .entry(res.storage)
                    .or_default()
                    .insert(kv.key.clone(), Arc::new(obj));
            }
        }
        let rev = list.revision;
        let (tx, _) = broadcast::channel(8192);
        let (rev_tx, _) = watch::channel(rev);
        let cache = Arc::new(WatchCache {
            inner: RwLock::new(Inner {
                objects,
                history: VecDeque::new(),
                capacity,
                oldest: rev,
                rev,
            }),
            tx,
            rev_tx,
        });
        // Refill the ring with recent history (as far back as compaction and capacity allow).
        let from = (rev - capacity as i64)
            .max(store.compacted_revision())
            .max(0);
        let (mut stream, from) = match store.watch("/registry/", from).await {
            Ok(s) => (s, from),
            Err(StoreError::Compacted { .. }) => (store.watch("/registry/", rev).await?, rev),
            Err(e) => return Err(e),
        };
        let follower = cache.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        if from >= rev {
            if let Some(tx) = ready_tx.take() {
                let _ = tx.send(());
            }
        }
        follower.inner.write().expect("cache lock").oldest = from;
        tokio::spawn(async move {
            loop {
                while let Some(batch) = stream.recv().await {
                    match batch {
                        Ok(events) => {
                            follower.apply(&events, rev);
                            // Ready once the history refill has reached the loaded revision (the row
                            // at that revision always exists: only revisions at or below the
                            // compacted one are removed).
                            let last = events.last().map(Event::revision).unwrap_or(0);
                            if last >= rev {
                                if let Some(tx) = ready_tx.take() {
                                    let _ = tx.send(());
                                }
                            }
                        }
                        Err(StoreError::Closed) => return,
                        Err(e) => {
                            tracing::error!(error = %e, "the watch cache's store watch failed; resuming");
                            break;
                        }
                    }
                }
                // The stream ended or failed: resume from what the cache has, after a short pause.
                tokio::time::sleep(Duration::from_millis(100)).await;
                match store.watch("/registry/", follower.revision()).await {
                    Ok(s) => stream = s,
                    Err(StoreError::Closed) => return,
                    Err(e) => {
                        tracing::error!(error = %e, "the watch cache cannot resume its store watch")
                    }
                }
            }
        });
        let _ = ready_rx.await;
        Ok(cache)
    }

    /// Applies a batch of store events. Events at or below `loaded` only refill the history ring (the
    /// object map already reflects them).
    fn apply(&self, events: &[Event], loaded: Revision) {
        let mut inner = self.inner.write().expect("cache lock");
        for ev in events {
            let rv = ev.revision();
            if rv <= inner.rev && rv > loaded {
                continue; // already applied
            }
            let Some(res) = storage_of(&ev.kv.key) else {
                inner.rev = inner.rev.max(rv);
                continue;
            };
            let Some(obj) = CachedObject::build(res, &ev.kv.key, rv, &ev.kv.value) else {
                tracing::warn!(key = %ev.kv.key, "undecodable stored object skipped");
                inner.rev = inner.rev.max(rv);
                continue;
            };
            let obj = Arc::new(obj);
            // The previous version is normally the one the cache holds; built again only when not
            // (while the history ring is refilled at start).
            let prev = ev.prev.as_ref().and_then(|p| {
                let cached = inner
                    .objects
                    .get(res.storage)
                    .and_then(|m| m.get(&p.key))
                    .filter(|o| o.rv == p.mod_revision);
                match cached {
                    Some(o) => Some(o.clone()),
                    None => {
                        CachedObject::build(res, &p.key, p.mod_revision, &p.value).map(Arc::new)
                    }
                }
            });
            let type_ = match (ev.kind, &ev.prev) {
                (EventKind::Delete, _) => EventType::Deleted,
                (EventKind::Put, None) => EventType::Added,
                (EventKind::Put, Some(_)) => EventType::Modified,
            };
            if rv > loaded {
                let map = inner.objects.entry(res.storage).or_default();
                match type_ {
                    EventType::Deleted => {
                        map.remove(&ev.kv.key);
                    }
                    _ => {
                        map.insert(ev.kv.key.clone(), obj.clone());
                    }
                }
                inner.rev = rv;
            }
            let event = Arc::new(CacheEvent {
                rv,
                type_,
                storage: res.storage,
                object: obj,
                prev,
            });
            if inner.history.len() >= inner.capacity {
                if let Some(old) = inner.history.pop_front() {
                    inner.oldest = old.rv;
                }
            }
            inner.history.push_back(event.clone());
            if rv > loaded {
                let _ = self.tx.send(event);
            }
        }
        let rev = inner.rev;
        drop(inner);
        self.rev_tx.send_replace(rev);
    }

    /// The revision the cache reflects.
    pub fn revision(&self) -> Revision {
        self.inner.read().expect("cache lock").rev
    }

    /// Waits until the cache reflects revision `rev`; false on timeout.
    pub async fn wait_for(&self, rev: Revision, timeout: Duration) -> bool {
        let mut rx = self.rev_tx.subscribe();
        let reached = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|r| *r >= rev)).await,
            Ok(Ok(_))
        );
        reached
    }

    /// The objects under a key prefix (a resource, or one namespace of it), in key order.
    pub fn list(
        &self,
        resource: &Resource,
        prefix: &str,
        start_after: Option<&str>,
    ) -> (Vec<Arc<CachedObject>>, Revision) {
        let inner = self.inner.read().expect("cache lock");
        let mut out = Vec::new();
        if let Some(map) = inner.objects.get(resource.storage) {
            let lower = match start_after {
                Some(k) if k >= prefix => std::ops::Bound::Excluded(k.to_string()),
                _ => std::ops::Bound::Included(prefix.to_string()),
            };
            for (k, v) in map.range((lower, std::ops::Bound::Unbounded)) {
                if !k.starts_with(prefix) {
                    break;
                }
                out.push(v.clone());
            }
        }
        (out, inner.rev)
    }

    /// One object by key.
    pub fn get(&self, resource: &Resource, key: &str) -> Option<Arc<CachedObject>> {
        self.inner
            .read()
            .expect("cache lock")
            .objects
            .get(resource.storage)?
            .get(key)
            .cloned()
    }

    /// Every object of every resource (one entry per storage), for controllers that scan the cluster.
    pub fn all(&self) -> Vec<(&'static str, Arc<CachedObject>)> {
        let inner = self.inner.read().expect("cache lock");
        inner
            .objects
            .iter()
            .flat_map(|(s, m)| m.values().map(move |o| (*s, o.clone())))
            .collect()
    }

    /// Number of objects of a resource (for metrics).
    pub fn count(&self, resource: &Resource) -> usize {
        self.inner
            .read()
            .expect("cache lock")
            .objects
            .get(resource.storage)
            .map_or(0, |m| m.len())
    }

    /// Starts a watch of one resource's storage. `from`: `None` sends the current state as ADDED events
    /// first (resourceVersion "" or "0"); `Some(rv)` replays every event after `rv`.
    pub fn watch(
        &self,
        resource: &Resource,
        prefix: &str,
        from: Option<Revision>,
    ) -> Result<WatchStart, WatchStartError> {
        let inner = self.inner.read().expect("cache lock");
        let live = self.tx.subscribe();
        let mut initial = Vec::new();
        match from {
            None => {
                if let Some(map) = inner.objects.get(resource.storage) {
                    for (k, v) in map.range(prefix.to_string()..) {
                        if !k.starts_with(prefix) {
                            break;
                        }
                        initial.push(Arc::new(CacheEvent {
                            rv: v.rv,
                            type_: EventType::Added,
                            storage: resource.storage,
                            object: v.clone(),
                            prev: None,
                        }));
                    }
                }
            }
            Some(rv) => {
                if rv < inner.oldest {
                    return Err(WatchStartError::TooOld {
                        requested: rv,
                        oldest: inner.oldest,
                    });
                }
                let start = inner.history.partition_point(|e| e.rv <= rv);
                initial.extend(
                    inner
                        .history
                        .range(start..)
                        .filter(|e| {
                            e.storage == resource.storage && e.object.key.starts_with(prefix)
                        })
                        .cloned(),
                );
            }
        }
        Ok(WatchStart {
            initial,
            live,
            rev: inner.rev,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(group: &str, kind: &str) -> &'static Resource {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .unwrap()
    }

    /// The in-place build and the full decode agree on everything the cache keeps.
    #[test]
    fn in_place_build_matches_the_decoded_one() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "p\u{e9}\"q", "namespace": "ns", "uid": "u1",
                "labels": {"app": "web", "tier": "a\\b"},
                "finalizers": ["f/one"], "deletionTimestamp": "2026-01-01T00:00:00Z",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u0"}],
                "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {"nodeName": "n1", "hostNetwork": true, "schedulerName": "default-scheduler",
                     "containers": [{"name": "c", "image": "i", "env": [{"name": "nodeName", "value": "x"}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1"}
        });
        let event = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "reason": "Scheduled", "type": "Normal", "source": {"component": "s"}
        });
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {}, "spec": {"unschedulable": true}});
        let pending = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "deletionTimestamp": null}, "spec": "odd"});
        for (res, obj) in [
            (resource("", "Pod"), pod),
            (resource("", "Event"), event),
            (resource("", "Node"), node),
            (resource("", "Pod"), pending),
        ] {
            let raw = serde_json::to_vec(&obj).unwrap();
            let fast = CachedObject::build_in_place(res, "k", 42, &raw).expect("in place");
            let slow = CachedObject::build_decoded(res, "k", 42, &raw).unwrap();
            let v = |o: &CachedObject| serde_json::from_slice::<Value>(&o.json).unwrap();
            assert_eq!(v(&fast), v(&slow));
            assert_eq!(v(&fast)["metadata"]["resourceVersion"], "42");
            assert_eq!(
                (&fast.namespace, &fast.name, &fast.uid, &fast.labels),
                (&slow.namespace, &slow.name, &slow.uid, &slow.labels)
            );
            assert_eq!(fast.fields, slow.fields);
            assert_eq!(fast.owners, slow.owners);
            assert_eq!(
                (&fast.finalizers, fast.deleting),
                (&slow.finalizers, slow.deleting)
            );
        }
        let pod = CachedObject::build(resource("", "Pod"), "k", 1, &serde_json::to_vec(&json!({
            "metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}
        })).unwrap()).unwrap();
        assert_eq!(pod.field("spec.nodeName"), Some("n1"));
        assert_eq!(pod.field("status.phase"), Some("Pending"));
        assert_eq!(pod.field("status.podIP"), Some(""));
        // Upstream formats bools and counts, and an unset one is its type's zero value.
        assert_eq!(pod.field("spec.hostNetwork"), Some("false"));
        for (group, kind, raw, field, text) in [
            (
                "",
                "Pod",
                r#"{"metadata":{"name":"h"},"spec":{"hostNetwork":true}}"#,
                "spec.hostNetwork",
                "true",
            ),
            (
                "",
                "Node",
                r#"{"metadata":{"name":"n"},"spec":{}}"#,
                "spec.unschedulable",
                "false",
            ),
            (
                "apps",
                "ReplicaSet",
                r#"{"metadata":{"name":"r"},"status":{"replicas":3}}"#,
                "status.replicas",
                "3",
            ),
        ] {
            let o = CachedObject::build(resource(group, kind), "k", 1, raw.as_bytes()).unwrap();
            assert_eq!(o.field(field), Some(text), "{raw}");
        }
        // A stored resourceVersion (not written by the registry) goes the long way, and is replaced.
        let raw = br#"{"metadata":{"name":"a","resourceVersion":"3"}}"#;
        assert!(CachedObject::build_in_place(resource("", "ConfigMap"), "k", 9, raw).is_none());
        let cm = CachedObject::build(resource("", "ConfigMap"), "k", 9, raw).unwrap();
        assert_eq!(cm.value()["metadata"]["resourceVersion"], "9");
    }
}
