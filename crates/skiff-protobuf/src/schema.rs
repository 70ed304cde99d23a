//! The compiled-in Kubernetes v1.32 protobuf schema and the facts about Go's JSON encoding that it lacks.
//!
//! - `descriptors/k8s-v1.32.binpb`: a `FileDescriptorSet` of every upstream `generated.proto` (see
//!   `descriptors/generate.sh`). Its packages are named as in the `k8s-rs-pb` crate (`api.core.v1`,
//!   `apimachinery.pkg.apis.meta.v1`, …); package names never appear on the wire.
//! - `descriptors/k8s-v1.32-keep-zero.txt`: per message, the scalar fields whose zero value Go's JSON encoding
//!   writes (pointers, and fields without `omitempty`), generated from the Go struct tags.
//! - [`json_name`] and [`is_inline`]: the handful of fields whose JSON name is not the proto field name, and
//!   the embedded Go structs whose fields JSON inlines into the parent object (read off the Go struct tags:
//!   `json:""` or `json:",inline"` with a `protobuf:"…,name=…"` tag).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

use crate::DecodeError;

static DESCRIPTORS: &[u8] = include_bytes!("../descriptors/k8s-v1.32.binpb");
static KEEP_ZERO: &str = include_str!("../descriptors/k8s-v1.32-keep-zero.txt");

/// Proto package of the apimachinery meta types.
pub const META_V1: &str = "apimachinery.pkg.apis.meta.v1";

/// Kinds of `meta.k8s.io/v1` that are sent as bodies under any group version (delete options, mostly).
const META_KINDS: &[&str] = &[
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
    "GetOptions",
    "ListOptions",
    "Status",
];

/// The descriptor pool, decoded once.
pub fn pool() -> Result<&'static DescriptorPool, DecodeError> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| DecodeError::Schema(e.clone()))
}

/// `runtime.Unknown`, the envelope of every protobuf body.
pub fn unknown() -> Result<MessageDescriptor, DecodeError> {
    pool()?
        .get_message_by_name("apimachinery.pkg.runtime.Unknown")
        .ok_or_else(|| DecodeError::Schema("runtime.Unknown missing".into()))
}

/// The proto package that holds the types of an API group version, like `api.apps.v1` for `apps/v1`.
pub fn package_for(api_version: &str) -> Option<String> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    if !valid(version) || version.contains('.') || !(group.is_empty() || valid(group)) {
        return None;
    }
    let base = match group {
        "" => "api.core".to_string(),
        "meta.k8s.io" => "apimachinery.pkg.apis.meta".to_string(),
        "apiextensions.k8s.io" => "apiextensions_apiserver.pkg.apis.apiextensions".to_string(),
        "apiregistration.k8s.io" => "kube_aggregator.pkg.apis.apiregistration".to_string(),
        "metrics.k8s.io" => "metrics.pkg.apis.metrics".to_string(),
        "custom.metrics.k8s.io" => "metrics.pkg.apis.custom_metrics".to_string(),
        "external.metrics.k8s.io" => "metrics.pkg.apis.external_metrics".to_string(),
        "internal.apiserver.k8s.io" => "api.apiserverinternal".to_string(),
        // rbac.authorization.k8s.io -> rbac, flowcontrol.apiserver.k8s.io -> flowcontrol, apps -> apps
        other => format!("api.{}", other.split('.').next().unwrap_or(other)),
    };
    Some(format!("{base}.{version}"))
}

/// The message of a built-in kind: a top-level type (one with `metadata`) of the group version, or one of the
/// meta option kinds that every group version accepts.
pub fn message_for_kind(api_version: &str, kind: &str) -> Result<MessageDescriptor, DecodeError> {
    let pool = pool()?;
    let unknown = || DecodeError::UnknownKind {
        api_version: api_version.into(),
        kind: kind.into(),
    };
    if !kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(unknown());
    }
    let package = package_for(api_version).ok_or_else(unknown)?;
    if let Some(desc) = pool.get_message_by_name(&format!("{package}.{kind}")) {
        if is_top_level(&desc) || (package.starts_with(META_V1) && META_KINDS.contains(&kind)) {
            return Ok(desc);
        }
    }
    if META_KINDS.contains(&kind) {
        if let Some(desc) = pool.get_message_by_name(&format!("{META_V1}.{kind}")) {
            return Ok(desc);
        }
    }
    Err(unknown())
}

/// Whether a message is an API object or list: it has a `metadata` field of type `ObjectMeta` or `ListMeta`.
fn is_top_level(desc: &MessageDescriptor) -> bool {
    desc.get_field_by_name("metadata")
        .is_some_and(|field| match field.kind() {
            Kind::Message(meta) => matches!(
                meta.full_name(),
                "apimachinery.pkg.apis.meta.v1.ObjectMeta"
                    | "apimachinery.pkg.apis.meta.v1.ListMeta"
            ),
            _ => false,
        })
}

/// Whether Go's JSON encoding writes this scalar field when it holds its zero value.
pub fn keeps_zero(field: &FieldDescriptor) -> bool {
    static TABLE: OnceLock<HashMap<&'static str, HashSet<&'static str>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        KEEP_ZERO
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                Some((words.next()?, words.collect()))
            })
            .collect()
    });
    table
        .get(field.parent_message().full_name())
        .is_some_and(|fields| fields.contains(field.name()))
}

/// The JSON name of a field: the proto name, except where go-to-protobuf named the field after the Go field.
pub fn json_name(field: &FieldDescriptor) -> &str {
    let message = field.parent_message();
    let name = field.name();
    match (message.name(), name) {
        ("IngressClassParametersReference", "aPIGroup") => "apiGroup",
        ("BoundObjectReference", "uID") => "uid",
        ("Validation" | "Variable", "Expression") => "expression",
        ("Variable", "Name") => "name",
        ("MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration", "Webhooks") => {
            "webhooks"
        }
        ("JSONSchemaProps", "ref") => "$ref",
        ("JSONSchemaProps", "schema") => "$schema",
        ("JSONSchemaProps", "xKubernetesPreserveUnknownFields") => {
            "x-kubernetes-preserve-unknown-fields"
        }
        ("JSONSchemaProps", "xKubernetesEmbeddedResource") => "x-kubernetes-embedded-resource",
        ("JSONSchemaProps", "xKubernetesIntOrString") => "x-kubernetes-int-or-string",
        ("JSONSchemaProps", "xKubernetesListMapKeys") => "x-kubernetes-list-map-keys",
        ("JSONSchemaProps", "xKubernetesListType") => "x-kubernetes-list-type",
        ("JSONSchemaProps", "xKubernetesMapType") => "x-kubernetes-map-type",
        ("JSONSchemaProps", "xKubernetesValidations") => "x-kubernetes-validations",
        _ => name,
    }
}

/// Whether the field is an embedded Go struct whose fields JSON writes into the parent object.
pub fn is_inline(field: &FieldDescriptor) -> bool {
    let message = field.parent_message();
    matches!(
        (message.name(), field.name()),
        ("Volume", "volumeSource")
            | ("PersistentVolumeSpec", "persistentVolumeSource")
            | ("Probe", "handler")
            | ("EphemeralContainer", "ephemeralContainerCommon")
            | ("IngressRule", "ingressRuleValue")
            | ("NamedRuleWithOperations", "ruleWithOperations")
            | ("RuleWithOperations", "rule")
            | (_, "localObjectReference")
            | (_, "deviceConfiguration")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_group_versions_to_packages() {
        assert_eq!(package_for("v1").as_deref(), Some("api.core.v1"));
        assert_eq!(package_for("apps/v1").as_deref(), Some("api.apps.v1"));
        assert_eq!(
            package_for("rbac.authorization.k8s.io/v1").as_deref(),
            Some("api.rbac.v1")
        );
        assert_eq!(
            package_for("flowcontrol.apiserver.k8s.io/v1").as_deref(),
            Some("api.flowcontrol.v1")
        );
        assert_eq!(
            package_for("apiextensions.k8s.io/v1").as_deref(),
            Some("apiextensions_apiserver.pkg.apis.apiextensions.v1")
        );
        assert_eq!(package_for(""), None);
        assert_eq!(package_for("apps/"), None);
        assert_eq!(package_for("a/b/c"), None);
        assert_eq!(package_for("v1.x"), None);
    }

    #[test]
    fn resolves_the_kinds_skiff_serves() {
        for (api_version, kind) in [
            ("v1", "Namespace"),
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("v1", "Service"),
            ("v1", "ServiceAccount"),
            ("v1", "Pod"),
            ("v1", "Node"),
            ("v1", "Event"),
            ("v1", "ResourceQuota"),
            ("v1", "Binding"),
            ("apps/v1", "Deployment"),
            ("apps/v1", "ReplicaSet"),
            ("batch/v1", "Job"),
            ("coordination.k8s.io/v1", "Lease"),
            ("scheduling.k8s.io/v1", "PriorityClass"),
            ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
            ("autoscaling/v1", "Scale"),
            ("policy/v1", "Eviction"),
            ("v1", "DeleteOptions"),
            ("meta.k8s.io/v1", "DeleteOptions"),
            ("apps/v1", "DeleteOptions"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("apiregistration.k8s.io/v1", "APIService"),
        ] {
            let desc = message_for_kind(api_version, kind)
                .unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
            assert_eq!(desc.name(), kind);
        }
    }

    #[test]
    fn refuses_what_is_not_a_kind() {
        for (api_version, kind) in [
            ("v1", "Container"),
            ("v1", "Nope"),
            ("v1", ""),
            ("v1", "api.core.v1.Pod"),
            ("apps/v1", "Pod"),
            ("nope.k8s.io/v1", "Thing"),
            ("v1", "ObjectMeta"),
        ] {
            assert!(
                matches!(
                    message_for_kind(api_version, kind),
                    Err(DecodeError::UnknownKind { .. })
                ),
                "{api_version} {kind}"
            );
        }
    }

    #[test]
    fn every_keep_zero_entry_names_a_scalar_field_of_the_schema() {
        let pool = pool().unwrap();
        let mut checked = 0;
        for line in KEEP_ZERO.lines().filter(|l| !l.starts_with('#')) {
            let mut words = line.split_whitespace();
            let message = words.next().unwrap();
            // Go packages without a generated.proto do not exist in the schema; all others must.
            let Some(desc) = pool.get_message_by_name(message) else {
                continue;
            };
            for name in words {
                let field = desc
                    .get_field_by_name(name)
                    .unwrap_or_else(|| panic!("{message}.{name}"));
                assert!(
                    !matches!(field.kind(), Kind::Message(_)),
                    "{message}.{name} is a message"
                );
                checked += 1;
            }
        }
        assert!(checked > 500, "only {checked} entries matched the schema");
    }

    #[test]
    fn knows_pointer_and_required_fields() {
        let field = |message: &str, name: &str| {
            pool()
                .unwrap()
                .get_message_by_name(message)
                .unwrap()
                .get_field_by_name(name)
                .unwrap()
        };
        assert!(keeps_zero(&field("api.apps.v1.DeploymentSpec", "replicas")));
        assert!(keeps_zero(&field("api.core.v1.Container", "name")));
        assert!(keeps_zero(&field(
            "api.authorization.v1.SubjectAccessReviewStatus",
            "allowed"
        )));
        assert!(!keeps_zero(&field("api.core.v1.ContainerPort", "hostPort")));
        assert!(!keeps_zero(&field(
            "apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "generation"
        )));
    }
}
