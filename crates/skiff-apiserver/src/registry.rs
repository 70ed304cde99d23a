//! The registry: the verbs on stored objects (upstream's generic registry `Store` plus the per-kind
//! strategies): create, get, list, update, patch, delete and deletecollection, with optimistic
//! concurrency, graceful deletion, finalizers, and the admission steps Skiff applies to every write
//! (namespace lifecycle, service accounts, pod priority).

use crate::decode::{self, FieldValidation};
use crate::strategy::{self, Op};
use crate::watchcache::{CachedObject, WatchCache};
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::Rng;
use serde_json::{json, Map, Value};
use skiff_api::patch::schema as patch_schema;
use skiff_api::resources::{self, Resource};
use skiff_api::{jsonscan, managedfields, ApiError};
use skiff_store::{KeyValue, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// How long a read waits for the watch cache to reach a revision the client asked for.
const CACHE_WAIT: Duration = Duration::from_secs(3);

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds).
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Upstream's `generateName` suffix: 5 characters from an alphabet without vowels and look-alikes.
fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let o = obj.as_object_mut().expect("objects are JSON objects");
    let m = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("just made an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    meta(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn set_rv(obj: &mut Value, rv: i64) {
    meta_mut(obj).insert("resourceVersion".into(), Value::String(rv.to_string()));
}

/// Decodes a stored value, with `metadata.resourceVersion` set from the store.
pub fn decode_kv(kv: &KeyValue) -> Result<Value, ApiError> {
    let mut v: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("stored object {} is not JSON: {e}", kv.key)))?;
    set_rv(&mut v, kv.mod_revision);
    Ok(v)
}

/// Encodes an object for storage: `resourceVersion` is not stored (the revision is), so it is taken
/// off `obj` (the caller sets the new one once the write is done), as is `selfLink`.
fn encode_for_store(obj: &mut Value) -> Bytes {
    drop_unstored_fields(obj);
    Bytes::from(serde_json::to_vec(obj).expect("JSON values encode"))
}

/// Takes `resourceVersion` and `selfLink` off `obj`'s metadata: neither is stored.
fn drop_unstored_fields(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("resourceVersion");
        m.shift_remove("selfLink");
    }
}

/// A create's stored JSON and its managed fields: `text` is the object's JSON without them (nor a
/// resourceVersion). `None` when the create shortcut does not apply
/// ([`managedfields::created_entries_json`]).
fn created_text(resource: &Resource, text: &[u8], opts: &WriteOptions) -> Option<(Bytes, String)> {
    let managed_fields = managedfields::created_entries_json(
        text,
        &opts.field_manager,
        &resource.api_version(),
        patch_schema::root_type(resource.group, resource.kind),
        &now(),
    )?;
    Some((with_managed_fields(text, &managed_fields)?, managed_fields))
}

/// An object's JSON with `metadata.managedFields` (given as JSON text) last in its metadata, where the
/// general path's insert puts them.
fn with_managed_fields(text: &[u8], managed_fields: &str) -> Option<Bytes> {
    let meta = jsonscan::find_member(text, "metadata")?;
    let meta_json = jsonscan::with_last_member(
        &text[meta.clone()],
        b"managedFields",
        managed_fields.as_bytes(),
    );
    Some(Bytes::from(jsonscan::replace_range(text, meta, &meta_json)))
}

/// A read-modify-write that kept losing to concurrent writers.
fn too_many_modifications(resource: &Resource, name: &str) -> ApiError {
    ApiError::conflict(
        resource.group,
        resource.plural,
        name,
        "too many concurrent modifications; try again",
    )
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Closed => {
            ApiError::new(503, "ServiceUnavailable", "the storage is shutting down")
        }
        other => ApiError::internal(other.to_string()),
    }
}

/// Options of a write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: String,
    /// The object's managedFields were already computed by server-side apply.
    pub applied: bool,
}

impl WriteOptions {
    /// Options of a write the server makes itself.
    pub fn system(manager: &str) -> WriteOptions {
        WriteOptions {
            dry_run: false,
            field_validation: FieldValidation::Ignore,
            field_manager: manager.into(),
            applied: false,
        }
    }
}

/// `DeleteOptions` as the registry uses them.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// The result of a write: the object as stored and warnings for the client.
pub struct Written {
    pub object: Value,
    /// The object's JSON as stored (without resourceVersion), when the write stored it as `object`
    /// says (creates and updates): a reply can be made from it without encoding `object` again.
    pub stored: Option<Bytes>,
    pub warnings: Vec<String>,
    /// The write created the object (201) rather than changing it (200).
    pub created: bool,
}

/// A create as written. `written.object` may leave out what the stored JSON has (see [`Rest`]): a
/// reply made from `written.stored` needs no JSON value of the object at all.
pub struct Created {
    pub written: Written,
    rest: Rest,
}

/// What a [`Created`]'s `written.object` leaves out.
enum Rest {
    /// Nothing.
    Complete,
    /// The managed fields, as this JSON text.
    ManagedFields(String),
    /// Everything but `metadata.resourceVersion`: the object is `written.stored` (a typed create).
    InStored,
}

impl Created {
    /// The write with its object complete: the managed fields back in its metadata, where the general
    /// path puts them (last, before the resourceVersion the store gave).
    pub fn into_written(self) -> Written {
        let mut written = self.written;
        let text = match self.rest {
            Rest::Complete => return written,
            Rest::ManagedFields(text) => text,
            Rest::InStored => {
                let rv = meta_str(&written.object, "resourceVersion").to_string();
                let stored = written.stored.as_deref().unwrap_or_default();
                match serde_json::from_slice::<Value>(stored) {
                    Ok(mut object) => {
                        meta_mut(&mut object).insert("resourceVersion".into(), Value::String(rv));
                        written.object = object;
                    }
                    // The text is ours and always JSON.
                    Err(e) => {
                        tracing::error!(error = %e, "a created object's stored JSON is not JSON")
                    }
                }
                return written;
            }
        };
        let entries: Value = match serde_json::from_str(&text) {
            Ok(entries) => entries,
            Err(e) => {
                // The text is ours and always JSON; were it not, the stored copy still has it.
                tracing::error!(error = %e, "a create's managed fields text is not JSON");
                return written;
            }
        };
        let meta = meta_mut(&mut written.object);
        let rv = meta.shift_remove("resourceVersion");
        meta.insert("managedFields".into(), entries);
        if let Some(rv) = rv {
            meta.insert("resourceVersion".into(), rv);
        }
        written
    }
}

/// In a read-modify-write's retry loop: the outcome `$result` decided on `$existing` is returned if that
/// was read from the store, and retried from a store read if it was the watch cache's copy (which may
/// lag), as upstream's GuaranteedUpdate does when its state is not known to be current.
macro_rules! retry_if_stale {
    ($existing:expr, $result:expr) => {{
        if !$existing.current {
            continue;
        }
        return $result;
    }};
}

/// An object as a read-modify-write found it: as stored (no resourceVersion), at revision `rev`.
struct Existing {
    object: Value,
    rev: i64,
    /// Read from the store now, not from the watch cache (which may lag): a failed precondition,
    /// validation or no-op on a copy that is not current is retried from a store read, as upstream's
    /// GuaranteedUpdate does.
    current: bool,
}

pub struct Registry {
    pub store: Arc<dyn Store>,
    pub cache: Arc<WatchCache>,
    pub services: crate::services::Allocator,
}

fn res(group: &str, plural: &str) -> &'static Resource {
    resources::RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .expect("resource in table")
}

impl Registry {
    /// The key of an object named by a request.
    pub fn key(resource: &Resource, namespace: Option<&str>, name: &str) -> String {
        resource.key(namespace.unwrap_or(""), name)
    }

    /// Reads one object from the store (consistent read).
    pub async fn get(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        match self
            .store
            .get(&Self::key(resource, namespace, name))
            .await
            .map_err(store_err)?
        {
            Some(kv) => decode_kv(&kv),
            None => Err(ApiError::not_found(resource.group, resource.plural, name)),
        }
    }

    /// Lists from the watch cache. `rv`: "" means "the latest" (the cache first catches up with the store),
    /// "0" means "any", a number means "at least that revision".
    pub async fn list(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        rv: Option<&str>,
        start_after: Option<&str>,
    ) -> Result<(Vec<Arc<CachedObject>>, i64), ApiError> {
        let wanted =
            match rv {
                None | Some("") => Some(self.store.current_revision().await.map_err(store_err)?),
                Some("0") => None,
                Some(n) => Some(n.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {n:?}"))
                })?),
            };
        if let Some(w) = wanted {
            if !self.cache.wait_for(w, CACHE_WAIT).await {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {w}, current: {}",
                    self.cache.revision()
                )));
            }
        }
        let prefix = match namespace {
            Some(ns) if resource.namespaced => resource.namespace_prefix(ns),
            _ => resource.key_prefix(),
        };
        Ok(self.cache.list(resource, &prefix, start_after))
    }

    /// Checks that a namespaced object may be created in `namespace` (upstream NamespaceLifecycle). The
    /// cache answers when it knows the namespace; otherwise the store does, so that a namespace created a
    /// moment ago is seen.
    /// NamespaceLifecycle admission: nothing is created in a namespace that is missing or being
    /// terminated.
    async fn check_namespace(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let ns_res = res("", "namespaces");
        let key = ns_res.key("", namespace);
        // The cached namespace says both without decoding it (`status.phase` is one of its
        // selectable fields); this runs on every namespaced create.
        let terminating = match self.cache.get(ns_res, &key) {
            Some(ns) => ns.deleting || ns.field("status.phase") == Some("Terminating"),
            None => match self.store.get(&key).await.map_err(store_err)? {
                Some(kv) => {
                    let ns = decode_kv(&kv)?;
                    !meta_str(&ns, "deletionTimestamp").is_empty()
                        || ns.pointer("/status/phase").and_then(Value::as_str)
                            == Some("Terminating")
                }
                None => return Err(ApiError::not_found("", "namespaces", namespace)),
            },
        };
        if terminating {
            return Err(ApiError::forbidden_object(
                resource.group,
                resource.plural,
                name,
                &format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }

    /// Creates an object. `namespace` is the request's namespace (for namespaced resources).
    pub async fn create(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        Ok(self
            .create_stored(resource, namespace, obj, opts)
            .await?
            .into_written())
    }

    /// [`Registry::create`] for a caller that replies from the stored JSON: the object it returns may
    /// leave out `metadata.managedFields` (see [`Created`]).
    pub async fn create_stored(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Created, ApiError> {
        check_type(resource, &obj)?;
        // Namespace: the object's must agree with the request's.
        let body_ns = meta_str(&obj, "namespace").to_string();
        if resource.namespaced {
            let ns = namespace.unwrap_or("");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(namespace_mismatch());
            }
            meta_mut(&mut obj).insert("namespace".into(), Value::String(ns.to_string()));
        } else {
            meta_mut(&mut obj).remove("namespace");
        }
        // Name, or one generated from generateName.
        let generate = meta_str(&obj, "generateName").to_string();
        if meta_str(&obj, "name").is_empty() && !generate.is_empty() {
            meta_mut(&mut obj).insert(
                "name".into(),
                Value::String(format!("{generate}{}", name_suffix())),
            );
        }
        // Fields the server owns.
        {
            let m = meta_mut(&mut obj);
            m.insert(
                "uid".into(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
            m.insert("creationTimestamp".into(), Value::String(now()));
            for f in [
                "resourceVersion",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                m.remove(f);
            }
            if resource.has_generation {
                m.insert("generation".into(), json!(1));
            }
        }
        strategy::prepare_for_create(resource, &mut obj);
        self.admission_create(resource, &mut obj).await?;
        let (obj, warnings) = strategy::admit_create(resource, obj, opts.field_validation)?;
        self.store_created(resource, namespace, obj, warnings, opts)
            .await
    }

    /// [`Registry::create_stored`] from a JSON body decoded straight into the kind's type, without a
    /// JSON value of the request: for pods and core events, nearly every create the server sees. The
    /// same steps on the typed object; `None` when the body needs the general path (it does not decode
    /// as the type, see [`decode::typed_from_slice`], or it is another kind), which the caller then
    /// takes and which gives the answer, errors included.
    pub async fn create_from_json(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Option<Created>, ApiError> {
        let fv = opts.field_validation;
        // The typed object is boxed: a future holds what lives across an await, and a pod is over
        // 2 KiB; unboxed it made each create's future 7.6 KiB, copied whole when the request boxes it.
        match (resource.group, resource.kind) {
            ("", "Pod") => {
                let Some((pod, warnings)) = decode::typed_from_slice::<Pod>(body, fv) else {
                    return Ok(None);
                };
                let mut pod = Box::new(pod);
                prepare_new_metadata(resource, namespace, &mut pod.metadata)?;
                // Upstream's PrepareForCreate: the status is the kubelet's.
                pod.status = None;
                self.admit_decoded_pod_priority(&mut pod).await?;
                strategy::admit_decoded_create(resource, &mut *pod)?;
                self.store_created_typed(resource, namespace, pod, warnings, opts)
                    .await
                    .map(Some)
            }
            ("", "Event") => {
                let Some((event, warnings)) = decode::typed_from_slice::<Event>(body, fv) else {
                    return Ok(None);
                };
                let mut event = Box::new(event);
                prepare_new_metadata(resource, namespace, &mut event.metadata)?;
                strategy::admit_decoded_create(resource, &mut *event)?;
                self.store_created_typed(resource, namespace, event, warnings, opts)
                    .await
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The end of a typed create, after admission: the object is encoded once, straight into the
    /// stored JSON, with its managed fields written from that text; no JSON value of it is built
    /// (the reply is made from the stored JSON). Dry runs, applies and objects that bring managed
    /// fields of their own take the general [`Registry::store_created`].
    async fn store_created_typed<T: strategy::Admit>(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        obj: Box<T>,
        warnings: Vec<String>,
        opts: &WriteOptions,
    ) -> Result<Created, ApiError> {
        let to_value =
            |obj: &T| serde_json::to_value(obj).map_err(|e| ApiError::internal(e.to_string()));
        if opts.dry_run || opts.applied || obj.metadata().managed_fields.is_some() {
            let value = to_value(&obj)?;
            return self
                .store_created(resource, namespace, value, warnings, opts)
                .await;
        }
        let name = obj.metadata().name.clone().unwrap_or_default();
        if resource.namespaced {
            self.check_namespace(resource, namespace.unwrap_or(""), &name)
                .await?;
        }
        // No resourceVersion or selfLink to drop: `prepare_new_metadata` cleared them.
        let text = serde_json::to_vec(&obj).map_err(|e| ApiError::internal(e.to_string()))?;
        let Some((stored, _)) = created_text(resource, &text, opts) else {
            // A shape the shortcut leaves to the general path.
            let value = to_value(&obj)?;
            return self
                .store_admitted(resource, namespace, value, warnings, opts)
                .await;
        };
        let rev = self
            .insert(resource, namespace, &name, stored.clone())
            .await?;
        Ok(Created {
            written: Written {
                object: json!({"metadata": {"resourceVersion": rev.to_string()}}),
                stored: Some(stored),
                warnings,
                created: true,
            },
            rest: Rest::InStored,
        })
    }

    /// The end of a create, after admission: the namespace check, managed fields, and the write.
    async fn store_created(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        obj: Value,
        warnings: Vec<String>,
        opts: &WriteOptions,
    ) -> Result<Created, ApiError> {
        if resource.namespaced {
            self.check_namespace(resource, namespace.unwrap_or(""), meta_str(&obj, "name"))
                .await?;
        }
        self.store_admitted(resource, namespace, obj, warnings, opts)
            .await
    }

    /// [`Registry::store_created`] after the namespace check.
    async fn store_admitted(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        mut obj: Value,
        warnings: Vec<String>,
        opts: &WriteOptions,
    ) -> Result<Created, ApiError> {
        let name = meta_str(&obj, "name").to_string();
        // The managed fields of nearly every create are written as JSON text straight into the
        // stored bytes; the general path (and a dry run, whose reply is `obj`) puts them into `obj`.
        let mut stored = None;
        let mut rest = Rest::Complete;
        if !opts.applied {
            if !opts.dry_run {
                drop_unstored_fields(&mut obj);
                let text = serde_json::to_vec(&obj).expect("JSON values encode");
                if let Some((text, managed_fields)) = created_text(resource, &text, opts) {
                    stored = Some(text);
                    rest = Rest::ManagedFields(managed_fields);
                }
            }
            if stored.is_none() {
                let ty = patch_schema::root_type(resource.group, resource.kind);
                managedfields::update(
                    None,
                    &mut obj,
                    &opts.field_manager,
                    &resource.api_version(),
                    None,
                    ty,
                    &now(),
                );
            }
        }
        if opts.dry_run {
            return Ok(Created {
                written: Written {
                    object: obj,
                    stored: None,
                    warnings,
                    created: true,
                },
                rest: Rest::Complete,
            });
        }
        let stored = match stored {
            Some(stored) => stored,
            None => encode_for_store(&mut obj),
        };
        let rev = self
            .insert(resource, namespace, &name, stored.clone())
            .await?;
        set_rv(&mut obj, rev);
        if resource.kind == "Namespace" && resource.group.is_empty() {
            self.ensure_default_service_account(&name).await;
        }
        Ok(Created {
            written: Written {
                object: obj,
                stored: Some(stored),
                warnings,
                created: true,
            },
            rest,
        })
    }

    /// Writes a new object's stored JSON; its revision.
    async fn insert(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        stored: Bytes,
    ) -> Result<i64, ApiError> {
        let key = resource.key(namespace.unwrap_or(""), name);
        match self.store.create(&key, stored).await {
            Ok(kv) => Ok(kv.mod_revision),
            Err(StoreError::AlreadyExists { .. }) => Err(ApiError::already_exists(
                resource.group,
                resource.plural,
                name,
            )),
            Err(e) => Err(store_err(e)),
        }
    }

    /// Admission on create: service account, pod priority, service cluster IP.
    async fn admission_create(&self, resource: &Resource, obj: &mut Value) -> Result<(), ApiError> {
        match (resource.group, resource.kind) {
            ("", "Pod") => self.admit_pod_priority(obj).await,
            ("", "Service") => self.services.allocate(&self.cache, obj),
            _ => Ok(()),
        }
    }

    /// Upstream's Priority admission: resolve `priorityClassName` (or the global default) into
    /// `spec.priority` and `spec.preemptionPolicy`.
    async fn admit_pod_priority(&self, pod: &mut Value) -> Result<(), ApiError> {
        let class_name = pod
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (value, policy, name) = self
            .priority_class(&class_name, meta_str(pod, "name"))
            .await?;
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            if let Some(p) = spec.get("priority").and_then(Value::as_i64) {
                if p != value {
                    return Err(priority_mismatch(meta_str(pod, "name"), p, value));
                }
            }
            spec.insert("priority".into(), json!(value));
            if !spec.contains_key("preemptionPolicy") {
                spec.insert("preemptionPolicy".into(), json!(policy));
            }
            if !name.is_empty() && class_name.is_empty() {
                spec.insert("priorityClassName".into(), json!(name));
            }
        }
        Ok(())
    }

    /// [`Registry::admit_pod_priority`] on a decoded pod.
    async fn admit_decoded_pod_priority(&self, pod: &mut Pod) -> Result<(), ApiError> {
        let pod_name = pod.metadata.name.as_deref().unwrap_or("");
        let Some(spec) = pod.spec.as_mut() else {
            return Ok(());
        };
        let class_name = spec.priority_class_name.clone().unwrap_or_default();
        let (value, policy, name) = self.priority_class(&class_name, pod_name).await?;
        if let Some(p) = spec.priority {
            if i64::from(p) != value {
                return Err(priority_mismatch(pod_name, p.into(), value));
            }
        }
        spec.priority = Some(i32::try_from(value).map_err(|_| {
            ApiError::internal(format!("PriorityClass {name} has a value out of range"))
        })?);
        if spec.preemption_policy.is_none() {
            spec.preemption_policy = Some(policy);
        }
        if !name.is_empty() && class_name.is_empty() {
            spec.priority_class_name = Some(name);
        }
        Ok(())
    }

    /// Upstream's Priority admission's lookup: the pod's class (or the global default when it names
    /// none) as its value, preemption policy and name (empty: no class, priority 0).
    async fn priority_class(
        &self,
        class_name: &str,
        pod_name: &str,
    ) -> Result<(i64, String, String), ApiError> {
        let pcs = res("scheduling.k8s.io", "priorityclasses");
        let class = if class_name.is_empty() {
            // Runs on every pod create without a class: only the default class is decoded.
            let (all, _) = self.cache.list(pcs, &pcs.key_prefix(), None);
            // The stored JSON (serde_json's, no spaces) of a default class has this text; the
            // classes without it (nearly all) are not scanned.
            let finder = memchr::memmem::Finder::new(b"\"globalDefault\":true");
            all.into_iter()
                .find(|c| {
                    finder.find(&c.json).is_some()
                        && crate::jsonscan::top_level_members(&c.json).is_some_and(|members| {
                            crate::jsonscan::member(&members, "globalDefault")
                                .is_some_and(|r| &c.json[r.clone()] == b"true")
                        })
                })
                .map(|c| c.value())
        } else {
            let key = pcs.key("", class_name);
            let found = match self.cache.get(pcs, &key) {
                Some(c) => Some(c.value()),
                // A class created a moment ago may not be in the cache yet: ask the store.
                None => match self.store.get(&key).await.map_err(store_err)? {
                    Some(kv) => Some(decode_kv(&kv)?),
                    None => None,
                },
            };
            match found {
                Some(c) => Some(c),
                None => {
                    return Err(ApiError::forbidden(format!(
                    "pods \"{pod_name}\" is forbidden: no PriorityClass with name {class_name} was found"
                )))
                }
            }
        };
        Ok(match &class {
            Some(c) => (
                c.get("value").and_then(Value::as_i64).unwrap_or(0),
                c.get("preemptionPolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("PreemptLowerPriority")
                    .to_string(),
                meta_str(c, "name").to_string(),
            ),
            None => (0, "PreemptLowerPriority".to_string(), String::new()),
        })
    }

    /// Every namespace has a `default` service account (upstream's serviceaccount controller).
    pub async fn ensure_default_service_account(&self, namespace: &str) {
        let sa = res("", "serviceaccounts");
        let obj = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}});
        let opts = WriteOptions::system("skiff-controller-manager");
        match Box::pin(self.create(sa, Some(namespace), obj, &opts)).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => {
                tracing::warn!(namespace, error = %e, "could not create the default service account")
            }
        }
    }

    /// A storage-level read-modify-write (upstream's `Storage.GuaranteedUpdate`, which the binding
    /// subresource calls directly): `change` turns the stored JSON (at the given revision, without a
    /// resourceVersion) into the JSON to store, which is written as it is, without the registry's
    /// strategy, admission, generation or managed fields; a failed `change` writes nothing. The first
    /// attempt starts from the watch cache's copy (upstream's cached existing object); a conflict
    /// retries from a fresh store read. Returns the revision written (the current one for a dry run).
    pub async fn guaranteed_update<F>(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        dry_run: bool,
        mut change: F,
    ) -> Result<i64, ApiError>
    where
        F: FnMut(&[u8], i64) -> Result<Vec<u8>, ApiError>,
    {
        let key = Self::key(resource, namespace, name);
        let mut cached = self.cache.get(resource, &key);
        for _attempt in 0..32 {
            let (raw, rev) = match cached.take() {
                Some(c) => (c.json.clone(), c.rv),
                None => match self.store.get(&key).await.map_err(store_err)? {
                    Some(kv) => (kv.value, kv.mod_revision),
                    None => return Err(ApiError::not_found(resource.group, resource.plural, name)),
                },
            };
            let value = change(&raw, rev)?;
            if dry_run {
                return Ok(rev);
            }
            match self.store.update(&key, Bytes::from(value), rev).await {
                Ok(done) => return Ok(done.mod_revision),
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(too_many_modifications(resource, name))
    }

    /// The object a read-modify-write starts from: the watch cache's copy (`cached`, taken) on a first
    /// attempt, as upstream's GuaranteedUpdate starts from its cached existing object, else a consistent
    /// read of the store. `None`: not found in the store.
    async fn existing(
        &self,
        key: &str,
        cached: &mut Option<Arc<CachedObject>>,
    ) -> Result<Option<Existing>, ApiError> {
        if let Some(c) = cached.take() {
            if let Ok(mut object) = serde_json::from_slice::<Value>(&c.json) {
                if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.shift_remove("resourceVersion");
                    return Ok(Some(Existing {
                        object,
                        rev: c.rv,
                        current: false,
                    }));
                }
            }
        }
        let Some(kv) = self.store.get(key).await.map_err(store_err)? else {
            return Ok(None);
        };
        let object = serde_json::from_slice(&kv.value).map_err(|e| {
            ApiError::internal(format!("stored object {} is not JSON: {e}", kv.key))
        })?;
        Ok(Some(Existing {
            object,
            rev: kv.mod_revision,
            current: true,
        }))
    }

    /// Read-modify-write of one object with optimistic concurrency: `change` gets the current object and
    /// returns the new one. A conflict with a concurrent writer retries, unless the new object names a
    /// resourceVersion of its own (the client's precondition), which then fails with 409.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_with<F>(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        opts: &WriteOptions,
        mut change: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(Option<&Value>) -> Result<Value, ApiError>,
    {
        let key = Self::key(resource, namespace, name);
        let status = subresource == Some("status");
        let mut cached = self.cache.get(resource, &key);
        for _attempt in 0..32 {
            let Some(existing) = self.existing(&key, &mut cached).await? else {
                // Create on update for kinds that allow it (events, leases), as upstream.
                if subresource.is_none() && allow_create_on_update(resource) {
                    let obj = change(None)?;
                    return self.create(resource, namespace, obj, opts).await;
                }
                return Err(ApiError::not_found(resource.group, resource.plural, name));
            };
            let (mut old, rev) = (existing.object, existing.rev);
            // A failure on the watch cache's copy may be its staleness: retried from the store.
            macro_rules! fail {
                ($e:expr) => {
                    retry_if_stale!(existing, $e)
                };
            }
            macro_rules! attempt {
                ($r:expr) => {
                    match $r {
                        Ok(v) => v,
                        Err(e) => fail!(Err(e)),
                    }
                };
            }
            // `old` is as stored, without a resourceVersion: `change` sees it so, and a
            // resourceVersion in what it returns was put there by the client (a PUT body, a patch)
            // and is then a precondition.
            let mut new = attempt!(change(Some(&old)));
            attempt!(check_type(resource, &new));
            // The name and namespace come from the URL.
            let body_name = meta_str(&new, "name").to_string();
            if !body_name.is_empty() && body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            let body_ns = meta_str(&new, "namespace").to_string();
            if resource.namespaced && !body_ns.is_empty() && Some(body_ns.as_str()) != namespace {
                return Err(namespace_mismatch());
            }
            // Optimistic concurrency: a resourceVersion in the body must be the current one.
            let sent_rv = meta_str(&new, "resourceVersion").to_string();
            let precondition = !sent_rv.is_empty();
            if precondition && sent_rv != rev.to_string() {
                fail!(Err(ApiError::stale(resource.group, resource.plural, name)));
            }
            set_rv(&mut new, rev);
            {
                let old_meta = meta(&old);
                let m = meta_mut(&mut new);
                m.insert("name".into(), Value::String(name.to_string()));
                if let Some(ns) = namespace.filter(|_| resource.namespaced) {
                    m.insert("namespace".into(), Value::String(ns.to_string()));
                }
                for f in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                ] {
                    match old_meta.and_then(|o| o.get(f)) {
                        Some(v) => m.insert(f.into(), v.clone()),
                        None => m.remove(f),
                    };
                }
                m.remove("selfLink");
            }
            strategy::prepare_for_update(resource, &mut new, &old, status);
            if resource.kind == "Namespace" && subresource != Some("finalize") {
                // Only namespaces/finalize may change spec.finalizers.
                match old.pointer("/spec/finalizers").cloned() {
                    Some(f) => new["spec"]["finalizers"] = f,
                    None => {
                        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                            spec.remove("finalizers");
                        }
                    }
                }
            }
            if resource.kind == "Pod" {
                preserve_pod_priority(&mut new, &old);
            }
            let op = if status { Op::StatusUpdate } else { Op::Update };
            let (mut new, warnings) = attempt!(strategy::admit_update(
                resource,
                new,
                &old,
                op,
                opts.field_validation
            ));
            set_rv(&mut new, rev);
            if resource.has_generation && !status && new.get("spec") != old.get("spec") {
                let g = meta(&old)
                    .and_then(|m| m.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta_mut(&mut new).insert("generation".into(), json!(g + 1));
            }
            if !opts.applied {
                managedfields::update(
                    Some(&old),
                    &mut new,
                    &opts.field_manager,
                    &resource.api_version(),
                    subresource.filter(|s| *s == "status"),
                    patch_schema::root_type(resource.group, resource.kind),
                    &now(),
                );
            }
            if equal_but_managed_times(&new, &old) {
                // A no-op write is not stored (upstream skips it and keeps the resourceVersion).
                set_rv(&mut old, rev);
                fail!(Ok(Written {
                    object: old,
                    stored: None,
                    warnings,
                    created: false,
                }));
            }
            // An object being deleted whose last finalizer is gone is removed now.
            let deleting = !meta_str(&new, "deletionTimestamp").is_empty();
            if deleting
                && all_finalizers(resource, &new).is_empty()
                && !pod_awaits_kubelet(resource, &new)
            {
                if opts.dry_run {
                    fail!(Ok(Written {
                        object: new,
                        stored: None,
                        warnings,
                        created: false,
                    }));
                }
                match self.store.delete(&key, Some(rev)).await {
                    Ok(del) => {
                        set_rv(&mut new, del.mod_revision);
                        return Ok(Written {
                            object: new,
                            stored: None,
                            warnings,
                            created: false,
                        });
                    }
                    Err(StoreError::Conflict { .. }) if !precondition => continue,
                    Err(StoreError::Conflict { .. }) => {
                        return Err(ApiError::stale(resource.group, resource.plural, name))
                    }
                    Err(StoreError::NotFound { .. }) => continue,
                    Err(e) => return Err(store_err(e)),
                }
            }
            if opts.dry_run {
                fail!(Ok(Written {
                    object: new,
                    stored: None,
                    warnings,
                    created: false,
                }));
            }
            let stored = encode_for_store(&mut new);
            match self.store.update(&key, stored.clone(), rev).await {
                Ok(done) => {
                    set_rv(&mut new, done.mod_revision);
                    return Ok(Written {
                        object: new,
                        stored: Some(stored),
                        warnings,
                        created: false,
                    });
                }
                Err(StoreError::Conflict { .. }) if !precondition => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ApiError::stale(resource.group, resource.plural, name))
                }
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(too_many_modifications(resource, name))
    }

    /// Deletes an object: at once, or gracefully (pods on a node get a deletionTimestamp and are removed
    /// when their kubelet confirms), or once its finalizers are gone.
    pub async fn delete(
        &self,
        resource: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let key = Self::key(resource, namespace, name);
        let mut cached = self.cache.get(resource, &key);
        for _attempt in 0..32 {
            let Some(existing) = self.existing(&key, &mut cached).await? else {
                return Err(ApiError::not_found(resource.group, resource.plural, name));
            };
            let (mut obj, rev) = (existing.object, existing.rev);
            set_rv(&mut obj, rev);
            // A failed precondition or a no-op on the watch cache's copy may be its staleness: retried
            // from the store.
            macro_rules! fail {
                ($e:expr) => {
                    retry_if_stale!(existing, $e)
                };
            }
            if let Some(uid) = &opts.precondition_uid {
                let cur = meta_str(&obj, "uid");
                if uid != cur {
                    fail!(Err(ApiError::conflict(
                        resource.group,
                        resource.plural,
                        name,
                        &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {cur}"),
                    )));
                }
            }
            if let Some(rv) = &opts.precondition_rv {
                if *rv != rev.to_string() {
                    fail!(Err(ApiError::conflict(
                        resource.group,
                        resource.plural,
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {rev}"
                        ),
                    )));
                }
            }
            let already_deleting = !meta_str(&obj, "deletionTimestamp").is_empty();
            let grace = grace_period(resource, &obj, opts);
            let mut fins = finalizers(&obj);
            match opts.propagation_policy.as_deref() {
                Some("Foreground")
                    if !already_deleting && !fins.iter().any(|f| f == "foregroundDeletion") =>
                {
                    fins.push("foregroundDeletion".into())
                }
                Some("Orphan") if !already_deleting && !fins.iter().any(|f| f == "orphan") => {
                    fins.push("orphan".into())
                }
                _ => {}
            }
            let is_namespace = resource.kind == "Namespace" && resource.group.is_empty();
            let graceful = grace > 0
                || !fins.is_empty()
                || (is_namespace && !all_finalizers(resource, &obj).is_empty());
            if graceful {
                // Set (or shorten) the deletion timestamp and keep the object.
                let cur_grace = meta(&obj)
                    .and_then(|m| m.get("deletionGracePeriodSeconds"))
                    .and_then(Value::as_i64);
                if already_deleting
                    && cur_grace.is_some_and(|g| g <= grace)
                    && fins == finalizers(&obj)
                {
                    fail!(Ok(obj));
                }
                let when = Utc::now() + chrono::Duration::seconds(grace.max(0));
                {
                    let m = meta_mut(&mut obj);
                    if !already_deleting || cur_grace.is_some_and(|g| grace < g) {
                        m.insert(
                            "deletionTimestamp".into(),
                            json!(when.to_rfc3339_opts(SecondsFormat::Secs, true)),
                        );
                    }
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace.max(0)));
                    if !fins.is_empty() {
                        m.insert("finalizers".into(), json!(fins));
                    }
                }
                if is_namespace {
                    if let Some(o) = obj.as_object_mut() {
                        o.insert("status".into(), json!({"phase": "Terminating"}));
                    }
                }
                if opts.dry_run {
                    fail!(Ok(obj));
                }
                match self
                    .store
                    .update(&key, encode_for_store(&mut obj), rev)
                    .await
                {
                    Ok(done) => {
                        set_rv(&mut obj, done.mod_revision);
                        return Ok(obj);
                    }
                    Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                    Err(e) => return Err(store_err(e)),
                }
            }
            if opts.dry_run {
                fail!(Ok(obj));
            }
            match self.store.delete(&key, Some(rev)).await {
                Ok(done) => {
                    set_rv(&mut obj, done.mod_revision);
                    return Ok(obj);
                }
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(too_many_modifications(resource, name))
    }
}

/// A body whose `metadata.namespace` is not the request's (upstream's wording).
fn namespace_mismatch() -> ApiError {
    ApiError::bad_request(
        "the namespace of the provided object does not match the namespace sent on the request",
    )
}

/// Priority admission's refusal of a pod whose `spec.priority` is not its class's.
fn priority_mismatch(pod_name: &str, sent: i64, value: i64) -> ApiError {
    ApiError::forbidden(format!(
        "pods \"{pod_name}\" is forbidden: the integer value of priority ({sent}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
    ))
}

/// What a create does to a decoded object's metadata before admission, as
/// [`Registry::create_stored`] does to the JSON: the namespace from the request (the body's must
/// agree), a name from `generateName`, and the fields the server owns.
fn prepare_new_metadata(
    resource: &Resource,
    namespace: Option<&str>,
    meta: &mut ObjectMeta,
) -> Result<(), ApiError> {
    if resource.namespaced {
        let ns = namespace.unwrap_or("");
        if meta
            .namespace
            .as_deref()
            .is_some_and(|b| !b.is_empty() && b != ns)
        {
            return Err(namespace_mismatch());
        }
        meta.namespace = Some(ns.to_string());
    } else {
        meta.namespace = None;
    }
    if meta.name.as_deref().unwrap_or("").is_empty() {
        if let Some(generate) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
            meta.name = Some(format!("{generate}{}", name_suffix()));
        }
    }
    meta.uid = Some(uuid::Uuid::new_v4().to_string());
    meta.creation_timestamp = serde_json::from_value(Value::String(now())).ok();
    meta.resource_version = None;
    meta.self_link = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.generation = resource.has_generation.then_some(1);
    Ok(())
}

/// The apiVersion and kind in a body, when present, must be the resource's.
fn check_type(resource: &Resource, obj: &Value) -> Result<(), ApiError> {
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if (!kind.is_empty() && kind != resource.kind)
        || (!av.is_empty() && av != resource.api_version())
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            resource.api_version()
        ))
        .with_kind_message(resource, kind));
    }
    Ok(())
}

trait KindMessage {
    fn with_kind_message(self, resource: &Resource, kind: &str) -> Self;
}

impl KindMessage for ApiError {
    fn with_kind_message(mut self, resource: &Resource, kind: &str) -> Self {
        if !kind.is_empty() && kind != resource.kind {
            self.message = format!("{kind} in version \"{}\" cannot be handled as a {}: no kind \"{kind}\" is registered for version \"{}\"", resource.version, resource.kind, resource.api_version());
        }
        self
    }
}

fn allow_create_on_update(resource: &Resource) -> bool {
    matches!(
        (resource.group, resource.kind),
        ("", "Event") | ("events.k8s.io", "Event") | ("coordination.k8s.io", "Lease")
    )
}

/// Finalizers that hold an object being deleted: `metadata.finalizers`, and for namespaces also
/// `spec.finalizers` (the namespace controller's `kubernetes`).
fn all_finalizers(resource: &Resource, obj: &Value) -> Vec<String> {
    let mut f = finalizers(obj);
    if resource.kind == "Namespace" && resource.group.is_empty() {
        if let Some(a) = obj.pointer("/spec/finalizers").and_then(Value::as_array) {
            f.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    f
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A pod that was given a deletion timestamp with a grace period stays until its kubelet confirms.
fn pod_awaits_kubelet(resource: &Resource, obj: &Value) -> bool {
    resource.kind == "Pod"
        && resource.group.is_empty()
        && meta(obj)
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0
}

/// The grace period of a delete: pods on a node get theirs (options, else the pod's own, else 30 s);
/// everything else is deleted at once.
fn grace_period(resource: &Resource, obj: &Value, opts: &DeleteOptions) -> i64 {
    if resource.kind != "Pod" || !resource.group.is_empty() {
        return 0;
    }
    let on_node = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !on_node || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let grace = opts
        .grace_period_seconds
        .or_else(|| {
            obj.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30);
    // A negative grace period means "immediately" (upstream treats it as 1 for a running pod).
    if grace < 0 {
        1
    } else {
        grace
    }
}

/// Priority is set once at creation by admission; updates keep it.
fn preserve_pod_priority(new: &mut Value, old: &Value) {
    for f in ["priority", "preemptionPolicy", "priorityClassName"] {
        if let (Some(v), Some(spec)) = (
            old.pointer(&format!("/spec/{f}")).cloned(),
            new.get_mut("spec").and_then(Value::as_object_mut),
        ) {
            spec.entry(f).or_insert(v);
        }
    }
}

/// Whether two objects are equal but for their managedFields timestamps (and resourceVersion): a
/// write that changes nothing else is a no-op. Compares in place; the objects are large and this runs
/// on every update.
fn equal_but_managed_times(a: &Value, b: &Value) -> bool {
    let (Some(am), Some(bm)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let skip_meta = |k: &str| k == "managedFields" || k == "resourceVersion";
    let same_metadata = |x: &Value, y: &Value| {
        let (Some(xm), Some(ym)) = (x.as_object(), y.as_object()) else {
            return x == y;
        };
        let keys = |m: &Map<String, Value>| m.keys().filter(|k| !skip_meta(k)).count();
        keys(xm) == keys(ym)
            && xm
                .iter()
                .filter(|(k, _)| !skip_meta(k))
                .all(|(k, v)| ym.get(k) == Some(v))
            && same_entries_but_time(xm.get("managedFields"), ym.get("managedFields"))
    };
    am.len() == bm.len()
        && am.iter().all(|(k, v)| match (k.as_str(), bm.get(k)) {
            (_, None) => false,
            ("metadata", Some(w)) => same_metadata(v, w),
            (_, Some(w)) => v == w,
        })
}

/// Whether two managedFields lists are equal entry by entry, leaving out each entry's `time`.
fn same_entries_but_time(a: Option<&Value>, b: Option<&Value>) -> bool {
    fn entries(v: Option<&Value>) -> &[Value] {
        v.and_then(Value::as_array).map_or(&[][..], Vec::as_slice)
    }
    let (a, b) = (entries(a), entries(b));
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| match (x.as_object(), y.as_object()) {
                (Some(x), Some(y)) => {
                    let keys = |m: &Map<String, Value>| m.keys().filter(|k| *k != "time").count();
                    keys(x) == keys(y)
                        && x.iter()
                            .filter(|(k, _)| *k != "time")
                            .all(|(k, v)| y.get(k) == Some(v))
                }
                _ => x == y,
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A create's stored bytes and completed object are what the general path gives: managed fields
    /// last in the metadata, the resourceVersion after them.
    #[test]
    fn managed_fields_text_lands_where_the_general_path_puts_them() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let ty = patch_schema::root_type("", "Pod");
        let now = "2026-11-28T05:00:00Z";
        let pod_text = serde_json::to_vec(&pod).unwrap();
        let text = managedfields::created_entries_json(&pod_text, "m", "v1", ty, now).unwrap();

        let mut general = pod.clone();
        managedfields::update(None, &mut general, "m", "v1", None, ty, now);
        let expected = encode_for_store(&mut general.clone());
        assert_eq!(with_managed_fields(&pod_text, &text).unwrap(), expected);

        let mut fast = pod.clone();
        set_rv(&mut fast, 7);
        set_rv(&mut general, 7);
        let general = serde_json::to_string(&general).unwrap();
        let created = Created {
            written: Written {
                object: fast,
                stored: Some(expected.clone()),
                warnings: Vec::new(),
                created: true,
            },
            rest: Rest::ManagedFields(text),
        };
        let object = created.into_written().object;
        assert_eq!(serde_json::to_string(&object).unwrap(), general);
        // A typed create's object is the stored JSON.
        let created = Created {
            written: Written {
                object: json!({"metadata": {"resourceVersion": "7"}}),
                stored: Some(expected),
                warnings: Vec::new(),
                created: true,
            },
            rest: Rest::InStored,
        };
        let object = created.into_written().object;
        assert_eq!(serde_json::to_string(&object).unwrap(), general);
    }

    /// A registry whose watch cache follows another store than the one it writes: the cache's copy of
    /// `default/cm` is older than the stored one (data `v: cached` at an older revision, against
    /// `v: stored`), as a lagging cache's would be.
    async fn registry_with_a_stale_cache() -> (Registry, i64) {
        let configmaps = resources::find("", "v1", "configmaps").unwrap();
        let cm = |v: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "default", "uid": "u1"}, "data": {"v": v}})
        };
        let behind: Arc<dyn Store> = Arc::new(skiff_store::MemoryStore::new());
        let store: Arc<dyn Store> = Arc::new(skiff_store::MemoryStore::new());
        let key = configmaps.key("default", "cm");
        let bytes = |v: &str| Bytes::from(serde_json::to_vec(&cm(v)).unwrap());
        behind.create(&key, bytes("cached")).await.unwrap();
        store.create("/registry/other", bytes("x")).await.unwrap();
        let current = store.create(&key, bytes("stored")).await.unwrap();
        let cache = WatchCache::start(behind, 100).await.unwrap();
        let registry = Registry {
            store,
            cache,
            services: Default::default(),
        };
        assert_eq!(
            registry.cache.get(configmaps, &key).unwrap().rv,
            current.mod_revision - 1,
            "the cache's copy is behind"
        );
        (registry, current.mod_revision)
    }

    /// Updates start from the watch cache's copy, but what a stale copy decides (a failed
    /// precondition, a no-op, a conflicting write) is decided again on the stored object.
    #[tokio::test]
    async fn updates_and_deletes_on_a_stale_cached_copy_are_decided_on_the_store() {
        let configmaps = resources::find("", "v1", "configmaps").unwrap();
        let opts = WriteOptions::system("test");
        let data = |w: &Written| w.object["data"]["v"].as_str().unwrap_or("").to_string();

        // A client's resourceVersion matching the stored object, not the cached copy, succeeds.
        let (registry, rev) = registry_with_a_stale_cache().await;
        let w = registry
            .update_with(configmaps, Some("default"), "cm", None, &opts, |old| {
                let mut new = old.unwrap().clone();
                new["metadata"]["resourceVersion"] = json!(rev.to_string());
                new["data"]["w"] = json!("1");
                Ok(new)
            })
            .await
            .expect("precondition on the stored revision");
        assert_eq!(
            data(&w),
            "stored",
            "the change applies to the stored object"
        );
        assert_eq!(w.object["data"]["w"], "1");

        // A change computed on the stale copy conflicts in the store and is made again on the stored
        // object.
        let (registry, _) = registry_with_a_stale_cache().await;
        let w = registry
            .update_with(configmaps, Some("default"), "cm", None, &opts, |old| {
                let mut new = old.unwrap().clone();
                new["data"]["w"] = json!(format!("after {}", new["data"]["v"].as_str().unwrap()));
                Ok(new)
            })
            .await
            .unwrap();
        assert_eq!(w.object["data"]["w"], "after stored");
        let stored: Value = serde_json::from_slice(w.stored.as_ref().unwrap()).unwrap();
        assert_eq!(stored["data"], json!({"v": "stored", "w": "after stored"}));

        // What is a no-op on the stale copy is a change of the stored object: it is written.
        let (registry, rev) = registry_with_a_stale_cache().await;
        let w = registry
            .update_with(configmaps, Some("default"), "cm", None, &opts, |old| {
                let mut new = old.unwrap().clone();
                new["data"]["v"] = json!("cached");
                Ok(new)
            })
            .await
            .unwrap();
        assert_eq!(data(&w), "cached");
        assert!(
            meta_str(&w.object, "resourceVersion")
                .parse::<i64>()
                .unwrap()
                > rev
        );

        // A delete whose resourceVersion precondition names the stored revision deletes.
        let (registry, rev) = registry_with_a_stale_cache().await;
        let opts = DeleteOptions {
            precondition_rv: Some(rev.to_string()),
            ..Default::default()
        };
        let deleted = registry
            .delete(configmaps, Some("default"), "cm", &opts)
            .await
            .expect("precondition on the stored revision");
        assert_eq!(deleted["data"]["v"], "stored");
        let key = configmaps.key("default", "cm");
        assert!(registry.store.get(&key).await.unwrap().is_none());
    }

    /// A registry over an empty in-memory store with the `default` namespace and, if `default_class`,
    /// a global default PriorityClass.
    async fn registry_with_default_namespace(default_class: bool) -> Registry {
        let store: Arc<dyn Store> = Arc::new(skiff_store::MemoryStore::new());
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "default", "uid": "n"}, "status": {"phase": "Active"}});
        let put = |key: String, v: &Value| {
            let store = store.clone();
            let bytes = Bytes::from(serde_json::to_vec(v).unwrap());
            async move { store.create(&key, bytes).await.unwrap() }
        };
        put(res("", "namespaces").key("", "default"), &ns).await;
        if default_class {
            let pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "low", "uid": "p"}, "value": 7, "globalDefault": true,
                "preemptionPolicy": "Never"});
            put(
                res("scheduling.k8s.io", "priorityclasses").key("", "low"),
                &pc,
            )
            .await;
        }
        let cache = WatchCache::start(store.clone(), 100).await.unwrap();
        Registry {
            store,
            cache,
            services: Default::default(),
        }
    }

    /// The stored JSON of a create with what differs between two creates of the same body (uid,
    /// times, a generated name's suffix) made equal.
    fn comparable(stored: &Bytes) -> String {
        let mut v: Value = serde_json::from_slice(stored).unwrap();
        let m = v["metadata"].as_object_mut().unwrap();
        m.insert("uid".into(), json!("U"));
        m.insert("creationTimestamp".into(), json!("T"));
        if let Some(name) = m.get("name").and_then(Value::as_str) {
            if let Some(prefix) = m.get("generateName").and_then(Value::as_str) {
                assert!(name.starts_with(prefix) && name.len() == prefix.len() + 5);
                m.insert("name".into(), json!("generated"));
            }
        }
        for e in m
            .get_mut("managedFields")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            e["time"] = json!("T");
        }
        serde_json::to_string(&v).unwrap()
    }

    /// The typed fast path of a create stores what the JSON value path stores, answers with the same
    /// warnings and errors, and leaves to that path every body it does not decode.
    #[tokio::test]
    async fn a_create_from_json_is_the_general_create() {
        let pods = resources::find("", "v1", "pods").unwrap();
        let events = resources::find("", "v1", "events").unwrap();
        let opts = |fv| WriteOptions {
            dry_run: false,
            field_validation: fv,
            field_manager: "m".into(),
            applied: false,
        };
        let pod = |extra: Value| {
            let mut p = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "web-", "labels": {"app": "web"}, "uid": "sent",
                    "resourceVersion": "9", "creationTimestamp": null},
                "spec": {"containers": [{"name": "c", "image": "busybox",
                    "resources": {"requests": {"cpu": "100m"}}, "ports": [{"containerPort": 80}]}],
                    "initContainers": [{"name": "i", "image": "busybox"}],
                    "tolerations": [{"key": "k", "operator": "Exists"}]},
                "status": {"phase": "Running"}});
            skiff_api::patch::merge::apply(&mut p, &extra);
            p
        };
        let event = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "x"},
            "reason": "Scheduled", "message": "m", "type": "Normal", "source": {"component": "s"},
            "firstTimestamp": "2026-11-28T07:00:00Z", "lastTimestamp": "2026-11-28T07:00:00Z",
            "eventTime": "2026-11-28T07:00:00.123456Z", "count": 1, "action": "Binding",
            "reportingComponent": "s", "reportingInstance": "s"});
        let cases: Vec<(&'static Resource, Value, FieldValidation, bool)> = vec![
            (pods, pod(json!({})), FieldValidation::Warn, false),
            (pods, pod(json!({})), FieldValidation::Warn, true),
            (
                pods,
                pod(json!({"spec": {"bogus": 1}, "metadata": {"x": 2}})),
                FieldValidation::Warn,
                true,
            ),
            (
                pods,
                pod(json!({"spec": {"priority": 7}})),
                FieldValidation::Strict,
                true,
            ),
            (
                pods,
                pod(json!({"spec": {"priority": 8}})),
                FieldValidation::Warn,
                true,
            ),
            (
                pods,
                pod(json!({"spec": {"priorityClassName": "none"}})),
                FieldValidation::Warn,
                false,
            ),
            (
                pods,
                pod(json!({"metadata": {"namespace": "other"}})),
                FieldValidation::Warn,
                false,
            ),
            (
                pods,
                pod(json!({"spec": {"containers": [{"name": "C_", "image": ""}]}})),
                FieldValidation::Warn,
                false,
            ),
            (events, event.clone(), FieldValidation::Strict, false),
            (events, event, FieldValidation::Warn, false),
        ];
        for (i, (resource, body, fv, default_class)) in cases.into_iter().enumerate() {
            let bytes = serde_json::to_vec(&body).unwrap();
            let fast = registry_with_default_namespace(default_class).await;
            let general = registry_with_default_namespace(default_class).await;
            let got = fast
                .create_from_json(resource, Some("default"), &bytes, &opts(fv))
                .await;
            let want = general
                .create_stored(resource, Some("default"), body, &opts(fv))
                .await;
            match (got, want) {
                (Ok(Some(got)), Ok(want)) => {
                    assert_eq!(
                        comparable(got.written.stored.as_ref().unwrap()),
                        comparable(want.written.stored.as_ref().unwrap()),
                        "case {i}"
                    );
                    assert_eq!(got.written.warnings, want.written.warnings, "case {i}");
                    // The whole object, for replies in other forms than the stored JSON.
                    let object = |c: Created| {
                        Bytes::from(serde_json::to_vec(&c.into_written().object).unwrap())
                    };
                    assert_eq!(
                        comparable(&object(got)),
                        comparable(&object(want)),
                        "case {i}"
                    );
                }
                (Err(got), Err(want)) => {
                    // The generated names differ: "web-" and five random characters.
                    let text = |e: ApiError| {
                        let body = String::from_utf8(e.to_body()).unwrap();
                        let mut parts = body.split("web-");
                        let mut out = parts.next().unwrap_or("").to_string();
                        for rest in parts {
                            out.push_str("web-?");
                            out.push_str(rest.get(5..).unwrap_or(""));
                        }
                        out
                    };
                    assert_eq!(text(got), text(want), "case {i}");
                }
                (got, want) => panic!(
                    "case {i}: fast path {:?}, general path {:?}",
                    got.map(|c| c.map(|c| c.written.object))
                        .map_err(|e| e.to_body()),
                    want.map(|c| c.written.object).map_err(|e| e.to_body())
                ),
            }
        }

        // Bodies the fast path leaves to the general one.
        let fast = registry_with_default_namespace(false).await;
        for body in [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
                "spec": {"containers": [{"name": "c", "image": "i", "bogus": 1}]}}),
            json!({"apiVersion": "v2", "kind": "Pod", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a",
                "creationTimestamp": "yesterday"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            json!([1]),
        ] {
            let bytes = serde_json::to_vec(&body).unwrap();
            let got = fast
                .create_from_json(
                    pods,
                    Some("default"),
                    &bytes,
                    &opts(FieldValidation::Strict),
                )
                .await
                .unwrap();
            assert!(got.is_none(), "{body}");
        }
        let dup = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;
        let got = fast
            .create_from_json(pods, Some("default"), dup, &opts(FieldValidation::Warn))
            .await
            .unwrap()
            .expect("decoded");
        assert_eq!(
            meta_str(&got.into_written().object, "name"),
            "b",
            "the last of duplicate members wins, as in the JSON value"
        );
    }
}
