//! Per-kind behaviour on create and update (upstream's REST strategies): typed decoding, defaulting,
//! validation, and the split between an object's spec and its status subresource.
//!
//! Each served kind maps to its k8s-openapi type through [`Admit`]; [`admit_create`] and [`admit_update`]
//! run the whole chain on a JSON value and give back the normalized JSON to store.

use crate::decode::{typed, FieldValidation};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use skiff_api::resources::Resource;
use skiff_api::{defaults, validation, ApiError, ErrorList};

/// The typed behaviour of one kind.
pub trait Admit:
    serde::de::DeserializeOwned + serde::Serialize + k8s_openapi::Metadata<Ty = ObjectMeta>
{
    fn default(&mut self) {}
    /// Defaulting of an updated object (upstream applies versioned defaults only, not create-time ones).
    fn default_update(&mut self) {
        self.default()
    }
    fn validate(&self, _namespaced: bool) -> ErrorList {
        Vec::new()
    }
    fn validate_update(&self, old: &Self, namespaced: bool) -> ErrorList {
        let _ = old;
        self.validate(namespaced)
    }
    fn validate_status_update(&self, old: &Self, namespaced: bool) -> ErrorList {
        self.validate_update(old, namespaced)
    }
}

/// What a write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    StatusUpdate,
}

fn run<T: Admit>(
    resource: &Resource,
    value: Value,
    old: Option<&Value>,
    op: Op,
    fv: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let (obj, warnings) = typed::<T>(resource, value, fv)?;
    Ok((admitted(resource, obj, old, op)?, warnings))
}

/// Defaults and validates a decoded object; gives back its normalized JSON.
fn admitted<T: Admit>(
    resource: &Resource,
    mut obj: T,
    old: Option<&Value>,
    op: Op,
) -> Result<Value, ApiError> {
    checked(resource, &mut obj, old, op)?;
    serde_json::to_value(&obj).map_err(|e| ApiError::internal(e.to_string()))
}

/// Defaults and validates a decoded object in place.
fn checked<T: Admit>(
    resource: &Resource,
    obj: &mut T,
    old: Option<&Value>,
    op: Op,
) -> Result<(), ApiError> {
    match op {
        Op::Create => obj.default(),
        Op::Update | Op::StatusUpdate => obj.default_update(),
    }
    let errs = match (op, old) {
        (Op::Create, _) | (_, None) => obj.validate(resource.namespaced),
        (Op::Update, Some(old)) => {
            // Decoded from the borrowed value: no copy of the old object.
            let old = <T as serde::Deserialize>::deserialize(old)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            obj.validate_update(&old, resource.namespaced)
        }
        (Op::StatusUpdate, Some(old)) => {
            let old = <T as serde::Deserialize>::deserialize(old)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            obj.validate_status_update(&old, resource.namespaced)
        }
    };
    if !errs.is_empty() {
        let name = obj.metadata().name.as_deref().unwrap_or("");
        return Err(ApiError::invalid(
            resource.group,
            resource.kind,
            name,
            &errs,
        ));
    }
    Ok(())
}

/// [`admit_create`] of an object already decoded (a create's fast path, see
/// [`crate::registry::Registry::create_from_json`]): defaults and validates it in place.
pub fn admit_decoded_create<T: Admit>(resource: &Resource, obj: &mut T) -> Result<(), ApiError> {
    checked(resource, obj, None, Op::Create)
}

macro_rules! dispatch {
    ($resource:expr, $f:ident, $($arg:expr),*) => {
        match ($resource.group, $resource.kind) {
            ("", "Pod") => $f::<Pod>($resource, $($arg),*),
            ("", "Namespace") => $f::<Namespace>($resource, $($arg),*),
            ("", "Node") => $f::<Node>($resource, $($arg),*),
            ("", "Event") => $f::<Event>($resource, $($arg),*),
            ("", "ConfigMap") => $f::<ConfigMap>($resource, $($arg),*),
            ("", "Secret") => $f::<Secret>($resource, $($arg),*),
            ("", "ServiceAccount") => $f::<ServiceAccount>($resource, $($arg),*),
            ("", "Service") => $f::<Service>($resource, $($arg),*),
            ("apps", "Deployment") => $f::<Deployment>($resource, $($arg),*),
            ("apps", "ReplicaSet") => $f::<ReplicaSet>($resource, $($arg),*),
            ("coordination.k8s.io", "Lease") => $f::<Lease>($resource, $($arg),*),
            ("events.k8s.io", "Event") => $f::<k8s_openapi::api::events::v1::Event>($resource, $($arg),*),
            ("scheduling.k8s.io", "PriorityClass") => $f::<PriorityClass>($resource, $($arg),*),
            (g, k) => Err(ApiError::internal(format!("no strategy for {g}/{k}"))),
        }
    };
}

/// Decodes, defaults and validates a new object. Returns the normalized object and warnings.
pub fn admit_create(
    resource: &Resource,
    value: Value,
    fv: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    dispatch!(resource, run, value, None, Op::Create, fv)
}

/// Decodes, defaults and validates an updated object against the old one.
pub fn admit_update(
    resource: &Resource,
    value: Value,
    old: &Value,
    op: Op,
    fv: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    dispatch!(resource, run, value, Some(old), op, fv)
}

/// Whether the kind has a status that only its status subresource may change.
pub fn has_status_subresource(resource: &Resource) -> bool {
    resource.subresource("status").is_some()
}

/// Prepares a new object for create: status is reset for kinds with a status subresource (upstream
/// `PrepareForCreate`), except where the kind's own defaults set it.
pub fn prepare_for_create(resource: &Resource, obj: &mut Value) {
    if has_status_subresource(resource) {
        if let Some(o) = obj.as_object_mut() {
            match (resource.group, resource.kind) {
                // Nodes register with their status; namespaces get theirs from defaulting.
                ("", "Node") => {}
                _ => {
                    o.remove("status");
                }
            }
        }
    }
}

/// Copies what an update of the main resource may not change from the old object (status), or what a
/// status update may not change (everything but status and metadata).
pub fn prepare_for_update(resource: &Resource, new: &mut Value, old: &Value, status: bool) {
    if !has_status_subresource(resource) {
        return;
    }
    let Some(n) = new.as_object_mut() else { return };
    if status {
        for (k, v) in old.as_object().into_iter().flatten() {
            if k != "status" && k != "metadata" {
                n.insert(k.clone(), v.clone());
            }
        }
        // The status endpoint may not change owner references or the deletion timestamp.
        for f in [
            "ownerReferences",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            copy_meta_field(n, old, f);
        }
    } else {
        match old.get("status") {
            Some(s) => {
                n.insert("status".into(), s.clone());
            }
            None => {
                n.remove("status");
            }
        }
    }
}

fn copy_meta_field(new: &mut serde_json::Map<String, Value>, old: &Value, field: &str) {
    let old_v = old.get("metadata").and_then(|m| m.get(field)).cloned();
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        match old_v {
            Some(v) => {
                meta.insert(field.into(), v);
            }
            None => {
                meta.remove(field);
            }
        }
    }
}

// ---- per-kind hooks ----------------------------------------------------------------------------------

impl Admit for Pod {
    fn default(&mut self) {
        defaults::pod(self)
    }
    fn default_update(&mut self) {
        defaults::pod_versioned(self)
    }
    fn validate(&self, _namespaced: bool) -> ErrorList {
        validation::pod(self)
    }
    fn validate_update(&self, old: &Self, _namespaced: bool) -> ErrorList {
        validation::pod_update(self, old)
    }
    fn validate_status_update(&self, old: &Self, _namespaced: bool) -> ErrorList {
        validation::pod_status_update(self, old)
    }
}

impl Admit for Namespace {
    fn default(&mut self) {
        defaults::namespace(self)
    }
    fn default_update(&mut self) {
        defaults::namespace_update(self)
    }
    fn validate(&self, _namespaced: bool) -> ErrorList {
        validation::namespace(self)
    }
    fn validate_update(&self, old: &Self, _namespaced: bool) -> ErrorList {
        validation::namespace_update(self, old)
    }
}

/// Kinds whose hooks are one defaulting function and a create/update validation pair.
macro_rules! admit {
    ($ty:ty, $default:path, $validate:path, $validate_update:path) => {
        impl Admit for $ty {
            fn default(&mut self) {
                $default(self)
            }
            fn validate(&self, _namespaced: bool) -> ErrorList {
                $validate(self)
            }
            fn validate_update(&self, old: &Self, _namespaced: bool) -> ErrorList {
                $validate_update(self, old)
            }
        }
    };
}

admit!(
    Node,
    defaults::node,
    validation::node,
    validation::node_update
);
admit!(
    Event,
    defaults::event,
    validation::event,
    validation::event_update
);
admit!(
    ConfigMap,
    noop,
    validation::config_map,
    validation::config_map_update
);
admit!(
    Secret,
    defaults::secret,
    validation::secret,
    validation::secret_update
);
admit!(
    Service,
    defaults::service,
    validation::service,
    validation::service_update
);
admit!(
    Deployment,
    defaults::deployment,
    validation::deployment,
    validation::deployment_update
);
admit!(
    ReplicaSet,
    defaults::replica_set,
    validation::replica_set,
    validation::replica_set_update
);
admit!(
    Lease,
    defaults::lease,
    validation::lease,
    validation::lease_update
);
admit!(
    PriorityClass,
    defaults::priority_class,
    validation::priority_class,
    validation::priority_class_update
);

fn noop<T>(_: &mut T) {}

impl Admit for ServiceAccount {
    fn validate(&self, namespaced: bool) -> ErrorList {
        validation::object_meta(
            &self.metadata,
            namespaced,
            skiff_api::names::name_is_dns_subdomain,
            &skiff_api::Path::new("metadata"),
        )
    }
    fn validate_update(&self, old: &Self, namespaced: bool) -> ErrorList {
        let mut errs = validation::object_meta_update(
            &self.metadata,
            &old.metadata,
            &skiff_api::Path::new("metadata"),
        );
        errs.extend(self.validate(namespaced));
        errs
    }
}

impl Admit for k8s_openapi::api::events::v1::Event {}
