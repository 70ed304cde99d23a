//! Patch metadata for the built-in types Skiff serves: a small static type graph.
//!
//! Strategic merge patch needs, for every list it meets, whether the list is merged (and by which key)
//! or replaced; server-side apply needs each list's `x-kubernetes-list-type` and map keys and which
//! structs and maps are atomic. Upstream gets both from the Go structs of `k8s.io/api` (struct tags
//! `patchStrategy` / `patchMergeKey`, comment markers `+listType`, `+listMapKey`, `+mapType`,
//! `+structType`). This module holds that information for the root types of the kinds Skiff serves
//! (see [`root_type`]), extracted from `k8s.io/api` and `k8s.io/apimachinery` v0.32.9 (Kubernetes v1.32).
//!
//! The graph is *pruned*: a struct lists only the fields that carry metadata themselves or lead to
//! fields that do. Everything absent has the default semantics, which are also what callers must assume
//! for unknown types and fields:
//!
//! | absent / unknown | strategic merge patch | server-side apply |
//! |---|---|---|
//! | object field     | maps merge key by key  | granular struct / map |
//! | list field       | replaced               | atomic |
//! | scalar field     | replaced               | scalar |
//!
//! Each [`Field`] records both views, because they differ for some lists and SSA must use the
//! OpenAPI (`x-kubernetes-list-map-keys`) values:
//!
//! - [`Field::strategy`] and [`Field::merge_key`] are the `patchStrategy` / `patchMergeKey` tags (strategic
//!   merge), e.g. container `ports` merge by `containerPort`, Service `spec.ports` by `port`.
//! - [`Shape::List`]'s [`ListType`] is what structured-merge-diff derives (kube-openapi `schemaconv`):
//!   `+listType` when present (`map` with all its `+listMapKey`s), otherwise `merge` with a key becomes
//!   `map` on that key, `merge` without one becomes `set`, anything else `atomic`. So container ports are
//!   keyed by `containerPort`+`protocol`, Service ports by `port`+`protocol`, topology spread
//!   constraints by `topologyKey`+`whenUnsatisfiable`, and `status.hostIPs` (merge by `ip` for SMP) is
//!   atomic for SSA.
//! - `retainKeys` (PodSpec `volumes`, `resourceClaims`, Deployment `spec.strategy`) is recorded in
//!   [`Field::retain_keys`]; applying a patch does not need it (the `$retainKeys` directive in the patch
//!   carries the keys), computing one does.
//!
//! A list element or map value type is `None` when it carries no metadata (scalars, or structs whose
//! fields all have default semantics).

use std::fmt;

/// A struct type in the graph.
#[derive(Clone, Copy)]
pub struct TypeRef(&'static StructDef);

/// The static definition behind a [`TypeRef`].
pub struct StructDef {
    name: &'static str,
    atomic: bool,
    fields: &'static [Field],
}

/// `patchStrategy` of a field (the `retainKeys` part is [`Field::retain_keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// No tag: lists are replaced, objects merged.
    None,
    /// `merge`: lists merge by [`Field::merge_key`] (lists of objects) or by value (lists of scalars).
    Merge,
    /// `replace`: the value is replaced even if it is an object (no such field among the served types).
    Replace,
}

/// `x-kubernetes-list-type` as server-side apply sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value.
    Atomic,
    /// A list of unique scalars.
    Set,
    /// A list of objects identified by these keys (`x-kubernetes-list-map-keys`).
    Map(&'static [&'static str]),
}

/// The kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A nested struct.
    Struct(TypeRef),
    /// A list; `elem` is the element type when it carries metadata.
    List {
        elem: Option<TypeRef>,
        list_type: ListType,
    },
    /// A `map[string]T`; `atomic` is `+mapType=atomic` (e.g. PodSpec `nodeSelector`, Service `selector`).
    Map { elem: Option<TypeRef>, atomic: bool },
}

/// One field of a struct, by its JSON name.
#[derive(Debug)]
pub struct Field {
    name: &'static str,
    shape: Shape,
    strategy: Strategy,
    retain_keys: bool,
    merge_key: Option<&'static str>,
}

impl TypeRef {
    /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub fn name(self) -> &'static str {
        self.0.name
    }
    /// `+structType=atomic` (SSA treats the whole struct as one value; e.g. `ObjectReference`,
    /// `LocalObjectReference`, `LabelSelector`).
    pub fn is_atomic(self) -> bool {
        self.0.atomic
    }
    /// The fields that carry metadata (the graph is pruned; see the module docs).
    pub fn fields(self) -> &'static [Field] {
        self.0.fields
    }
    /// The field with this JSON name, if it carries metadata.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.0.fields.iter().find(|f| f.name == name)
    }
    /// The struct type of field `name`, when it is a struct.
    pub fn struct_field(self, name: &str) -> Option<TypeRef> {
        match self.field(name)?.shape {
            Shape::Struct(t) => Some(t),
            _ => None,
        }
    }
}

impl PartialEq for TypeRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for TypeRef {}

impl fmt::Debug for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeRef({})", self.0.name)
    }
}

impl Field {
    /// The JSON field name.
    pub fn name(&self) -> &'static str {
        self.name
    }
    pub fn shape(&self) -> Shape {
        self.shape
    }
    /// The `patchStrategy` tag (strategic merge patch).
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }
    /// Whether `patchStrategy` includes `retainKeys`.
    pub fn retain_keys(&self) -> bool {
        self.retain_keys
    }
    /// The `patchMergeKey` tag (strategic merge patch).
    pub fn merge_key(&self) -> Option<&'static str> {
        self.merge_key
    }

    const fn retain_keys_too(mut self) -> Self {
        self.retain_keys = true;
        self
    }
}

/// The root type of a kind Skiff serves, by API group (`""` for core) and kind: `Pod`, `Node`,
/// `Namespace`, `ConfigMap`, `Secret`, `ServiceAccount`, `Service`, `Event` and `Binding` in core;
/// `events.k8s.io` `Event`; `coordination.k8s.io` `Lease`; `scheduling.k8s.io` `PriorityClass`; `apps`
/// `Deployment` and `ReplicaSet`; `autoscaling` `Scale`.
pub fn root_type(group: &str, kind: &str) -> Option<TypeRef> {
    table::ROOTS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, t)| TypeRef(t))
}

/// Every `(group, kind, type)` that [`root_type`] knows.
pub fn roots() -> impl Iterator<Item = (&'static str, &'static str, TypeRef)> {
    table::ROOTS.iter().map(|(g, k, t)| (*g, *k, TypeRef(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(group: &str, kind: &str, fields: &[&str]) -> TypeRef {
        let mut t = root_type(group, kind).unwrap_or_else(|| panic!("no root {group}/{kind}"));
        for f in fields {
            t = match t
                .field(f)
                .unwrap_or_else(|| panic!("{} has no {f}", t.name()))
                .shape()
            {
                Shape::Struct(s) => s,
                Shape::List { elem: Some(e), .. } | Shape::Map { elem: Some(e), .. } => e,
                other => panic!("{f}: {other:?}"),
            };
        }
        t
    }

    fn list(t: TypeRef, name: &str) -> (Strategy, Option<&'static str>, ListType) {
        let f = t
            .field(name)
            .unwrap_or_else(|| panic!("{} has no {name}", t.name()));
        match f.shape() {
            Shape::List { list_type, .. } => (f.strategy(), f.merge_key(), list_type),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn merge_keys_match_upstream_tags() {
        use ListType::*;
        use Strategy::Merge;
        let pod_spec = path("", "Pod", &["spec"]);
        let container = path("", "Pod", &["spec", "containers"]);
        type ListMeta = (Strategy, Option<&'static str>, ListType);
        let cases: Vec<(TypeRef, &str, ListMeta)> = vec![
            (
                pod_spec,
                "containers",
                (Merge, Some("name"), Map(&["name"])),
            ),
            (
                pod_spec,
                "initContainers",
                (Merge, Some("name"), Map(&["name"])),
            ),
            (
                pod_spec,
                "ephemeralContainers",
                (Merge, Some("name"), Map(&["name"])),
            ),
            (pod_spec, "volumes", (Merge, Some("name"), Map(&["name"]))),
            (
                pod_spec,
                "imagePullSecrets",
                (Merge, Some("name"), Map(&["name"])),
            ),
            (pod_spec, "hostAliases", (Merge, Some("ip"), Map(&["ip"]))),
            (
                pod_spec,
                "topologySpreadConstraints",
                (
                    Merge,
                    Some("topologyKey"),
                    Map(&["topologyKey", "whenUnsatisfiable"]),
                ),
            ),
            (container, "env", (Merge, Some("name"), Map(&["name"]))),
            (
                container,
                "volumeMounts",
                (Merge, Some("mountPath"), Map(&["mountPath"])),
            ),
            (
                container,
                "volumeDevices",
                (Merge, Some("devicePath"), Map(&["devicePath"])),
            ),
            (
                container,
                "ports",
                (
                    Merge,
                    Some("containerPort"),
                    Map(&["containerPort", "protocol"]),
                ),
            ),
            (
                path("", "Pod", &["status"]),
                "conditions",
                (Merge, Some("type"), Map(&["type"])),
            ),
            (
                path("", "Pod", &["status"]),
                "podIPs",
                (Merge, Some("ip"), Map(&["ip"])),
            ),
            (
                path("", "Pod", &["status"]),
                "hostIPs",
                (Merge, Some("ip"), Atomic),
            ),
            (
                path("", "Node", &["status"]),
                "conditions",
                (Merge, Some("type"), Map(&["type"])),
            ),
            (
                path("", "Node", &["status"]),
                "addresses",
                (Merge, Some("type"), Map(&["type"])),
            ),
            (path("", "Node", &["spec"]), "podCIDRs", (Merge, None, Set)),
            (
                path("", "Service", &["spec"]),
                "ports",
                (Merge, Some("port"), Map(&["port", "protocol"])),
            ),
            (
                path("", "ServiceAccount", &[]),
                "secrets",
                (Merge, Some("name"), Map(&["name"])),
            ),
            (
                path("", "Namespace", &["status"]),
                "conditions",
                (Merge, Some("type"), Map(&["type"])),
            ),
            (
                path("apps", "Deployment", &["status"]),
                "conditions",
                (Merge, Some("type"), Map(&["type"])),
            ),
            (
                path("apps", "ReplicaSet", &["status"]),
                "conditions",
                (Merge, Some("type"), Map(&["type"])),
            ),
            (
                path("", "Pod", &["metadata"]),
                "ownerReferences",
                (Merge, Some("uid"), Map(&["uid"])),
            ),
            (
                path("", "Pod", &["metadata"]),
                "finalizers",
                (Merge, None, Set),
            ),
            (
                path(
                    "apps",
                    "Deployment",
                    &["spec", "template", "spec", "containers"],
                ),
                "env",
                (Merge, Some("name"), Map(&["name"])),
            ),
            (
                path("", "Pod", &["spec", "resources"]),
                "claims",
                (Strategy::None, None, Map(&["name"])),
            ),
        ];
        for (t, name, want) in cases {
            assert_eq!(list(t, name), want, "{}.{name}", t.name());
        }
    }

    #[test]
    fn defaults_and_flags() {
        let pod_spec = path("", "Pod", &["spec"]);
        let container = path("", "Pod", &["spec", "containers"]);
        // Lists without a strategy are absent from the pruned graph: replaced / atomic.
        for (t, f) in [
            (pod_spec, "tolerations"),
            (container, "args"),
            (container, "command"),
            (pod_spec, "readinessGates"),
        ] {
            assert!(t.field(f).is_none(), "{f}");
        }
        assert!(pod_spec.field("volumes").unwrap().retain_keys());
        assert!(!pod_spec.field("containers").unwrap().retain_keys());
        let dspec = path("apps", "Deployment", &["spec"]);
        assert!(dspec.field("strategy").unwrap().retain_keys());
        assert_eq!(dspec.field("strategy").unwrap().strategy(), Strategy::None);
        assert_eq!(
            pod_spec.field("nodeSelector").unwrap().shape(),
            Shape::Map {
                elem: None,
                atomic: true
            }
        );
        assert!(path("apps", "Deployment", &["spec", "selector"]).is_atomic());
        assert!(path("", "Event", &["involvedObject"]).is_atomic());
        assert!(path("events.k8s.io", "Event", &["regarding"]).is_atomic());
        assert!(!pod_spec.is_atomic());
        assert_eq!(pod_spec.name(), "io.k8s.api.core.v1.PodSpec");
        assert_eq!(
            path("apps", "Deployment", &["spec", "template", "spec"]),
            pod_spec
        );
        assert_eq!(
            dspec.struct_field("template"),
            Some(path("apps", "ReplicaSet", &["spec", "template"]))
        );
        assert_eq!(dspec.struct_field("replicas"), None);
        for kind in [
            "Pod",
            "Node",
            "Namespace",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Service",
            "Event",
        ] {
            assert!(root_type("", kind).is_some(), "{kind}");
        }
        for (g, k) in [
            ("events.k8s.io", "Event"),
            ("coordination.k8s.io", "Lease"),
            ("scheduling.k8s.io", "PriorityClass"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("autoscaling", "Scale"),
        ] {
            assert!(root_type(g, k).is_some(), "{g}/{k}");
        }
        assert!(root_type("", "Deployment").is_none());
        assert!(root_type("example.com", "Widget").is_none());
        assert_eq!(roots().count(), 15);
    }
}

/// The extracted metadata. Generated from the Go sources of `k8s.io/api` and `k8s.io/apimachinery`
/// v0.32.9 (struct tags and `+` markers, inline embedded structs flattened, pruned as described in the
/// module docs); regenerate rather than edit by hand when moving to a new Kubernetes version.
#[rustfmt::skip]
mod table {
    use super::ListType::{Atomic, Map as Keys, Set};
    use super::{Field, Shape, Strategy, StructDef, TypeRef};

    const fn def(name: &'static str, atomic: bool, fields: &'static [Field]) -> StructDef {
        StructDef { name, atomic, fields }
    }
    /// A struct-valued field.
    const fn s(name: &'static str, ty: &'static StructDef) -> Field {
        Field { name, shape: Shape::Struct(TypeRef(ty)), strategy: Strategy::None, retain_keys: false, merge_key: None }
    }
    /// A list without a patch strategy (its SSA list type is not atomic, or it would be absent).
    const fn l(name: &'static str, elem: Option<&'static StructDef>, list_type: super::ListType) -> Field {
        Field { name, shape: Shape::List { elem: elem_ref(elem), list_type }, strategy: Strategy::None, retain_keys: false, merge_key: None }
    }
    /// A list with `patchStrategy: merge` and its `patchMergeKey`.
    const fn lm(name: &'static str, elem: Option<&'static StructDef>, list_type: super::ListType, key: Option<&'static str>) -> Field {
        Field { name, shape: Shape::List { elem: elem_ref(elem), list_type }, strategy: Strategy::Merge, retain_keys: false, merge_key: key }
    }
    /// A `map[string]T` field.
    const fn m(name: &'static str, elem: Option<&'static StructDef>, atomic: bool) -> Field {
        Field { name, shape: Shape::Map { elem: elem_ref(elem), atomic }, strategy: Strategy::None, retain_keys: false, merge_key: None }
    }
    const fn elem_ref(elem: Option<&'static StructDef>) -> Option<TypeRef> {
        match elem {
            Some(e) => Some(TypeRef(e)),
            None => None,
        }
    }

    static CORE_POD: StructDef = def("io.k8s.api.core.v1.Pod", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &CORE_POD_SPEC),
        s("status", &CORE_POD_STATUS),
    ]);
    static META_OBJECT_META: StructDef = def("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", false, &[
        lm("ownerReferences", Some(&META_OWNER_REFERENCE), Keys(&["uid"]), Some("uid")),
        lm("finalizers", None, Set, None),
    ]);
    static META_OWNER_REFERENCE: StructDef = def("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", true, &[]);
    static CORE_POD_SPEC: StructDef = def("io.k8s.api.core.v1.PodSpec", false, &[
        lm("volumes", Some(&CORE_VOLUME), Keys(&["name"]), Some("name")).retain_keys_too(),
        lm("initContainers", Some(&CORE_CONTAINER), Keys(&["name"]), Some("name")),
        lm("containers", Some(&CORE_CONTAINER), Keys(&["name"]), Some("name")),
        lm("ephemeralContainers", Some(&CORE_EPHEMERAL_CONTAINER), Keys(&["name"]), Some("name")),
        m("nodeSelector", None, true),
        lm("imagePullSecrets", Some(&CORE_LOCAL_OBJECT_REFERENCE), Keys(&["name"]), Some("name")),
        s("affinity", &CORE_AFFINITY),
        lm("hostAliases", None, Keys(&["ip"]), Some("ip")),
        lm("topologySpreadConstraints", Some(&CORE_TOPOLOGY_SPREAD_CONSTRAINT), Keys(&["topologyKey", "whenUnsatisfiable"]), Some("topologyKey")),
        lm("schedulingGates", None, Keys(&["name"]), Some("name")),
        lm("resourceClaims", None, Keys(&["name"]), Some("name")).retain_keys_too(),
        s("resources", &CORE_RESOURCE_REQUIREMENTS),
    ]);
    static CORE_VOLUME: StructDef = def("io.k8s.api.core.v1.Volume", false, &[
        s("iscsi", &CORE_ISCSI_VOLUME_SOURCE),
        s("rbd", &CORE_RBD_VOLUME_SOURCE),
        s("flexVolume", &CORE_FLEX_VOLUME_SOURCE),
        s("cinder", &CORE_CINDER_VOLUME_SOURCE),
        s("cephfs", &CORE_CEPH_FS_VOLUME_SOURCE),
        s("scaleIO", &CORE_SCALE_IO_VOLUME_SOURCE),
        s("storageos", &CORE_STORAGE_OS_VOLUME_SOURCE),
        s("csi", &CORE_CSI_VOLUME_SOURCE),
        s("ephemeral", &CORE_EPHEMERAL_VOLUME_SOURCE),
    ]);
    static CORE_ISCSI_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.ISCSIVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_LOCAL_OBJECT_REFERENCE: StructDef = def("io.k8s.api.core.v1.LocalObjectReference", true, &[]);
    static CORE_RBD_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.RBDVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_FLEX_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.FlexVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_CINDER_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.CinderVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_CEPH_FS_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.CephFSVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_SCALE_IO_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.ScaleIOVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_STORAGE_OS_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.StorageOSVolumeSource", false, &[
        s("secretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_CSI_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.CSIVolumeSource", false, &[
        s("nodePublishSecretRef", &CORE_LOCAL_OBJECT_REFERENCE),
    ]);
    static CORE_EPHEMERAL_VOLUME_SOURCE: StructDef = def("io.k8s.api.core.v1.EphemeralVolumeSource", false, &[
        s("volumeClaimTemplate", &CORE_PERSISTENT_VOLUME_CLAIM_TEMPLATE),
    ]);
    static CORE_PERSISTENT_VOLUME_CLAIM_TEMPLATE: StructDef = def("io.k8s.api.core.v1.PersistentVolumeClaimTemplate", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &CORE_PERSISTENT_VOLUME_CLAIM_SPEC),
    ]);
    static CORE_PERSISTENT_VOLUME_CLAIM_SPEC: StructDef = def("io.k8s.api.core.v1.PersistentVolumeClaimSpec", false, &[
        s("selector", &META_LABEL_SELECTOR),
        s("dataSource", &CORE_TYPED_LOCAL_OBJECT_REFERENCE),
    ]);
    static META_LABEL_SELECTOR: StructDef = def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", true, &[]);
    static CORE_TYPED_LOCAL_OBJECT_REFERENCE: StructDef = def("io.k8s.api.core.v1.TypedLocalObjectReference", true, &[]);
    static CORE_CONTAINER: StructDef = def("io.k8s.api.core.v1.Container", false, &[
        lm("ports", None, Keys(&["containerPort", "protocol"]), Some("containerPort")),
        lm("env", Some(&CORE_ENV_VAR), Keys(&["name"]), Some("name")),
        s("resources", &CORE_RESOURCE_REQUIREMENTS),
        lm("volumeMounts", None, Keys(&["mountPath"]), Some("mountPath")),
        lm("volumeDevices", None, Keys(&["devicePath"]), Some("devicePath")),
    ]);
    static CORE_ENV_VAR: StructDef = def("io.k8s.api.core.v1.EnvVar", false, &[
        s("valueFrom", &CORE_ENV_VAR_SOURCE),
    ]);
    static CORE_ENV_VAR_SOURCE: StructDef = def("io.k8s.api.core.v1.EnvVarSource", false, &[
        s("fieldRef", &CORE_OBJECT_FIELD_SELECTOR),
        s("resourceFieldRef", &CORE_RESOURCE_FIELD_SELECTOR),
        s("configMapKeyRef", &CORE_CONFIG_MAP_KEY_SELECTOR),
        s("secretKeyRef", &CORE_SECRET_KEY_SELECTOR),
    ]);
    static CORE_OBJECT_FIELD_SELECTOR: StructDef = def("io.k8s.api.core.v1.ObjectFieldSelector", true, &[]);
    static CORE_RESOURCE_FIELD_SELECTOR: StructDef = def("io.k8s.api.core.v1.ResourceFieldSelector", true, &[]);
    static CORE_CONFIG_MAP_KEY_SELECTOR: StructDef = def("io.k8s.api.core.v1.ConfigMapKeySelector", true, &[]);
    static CORE_SECRET_KEY_SELECTOR: StructDef = def("io.k8s.api.core.v1.SecretKeySelector", true, &[]);
    static CORE_RESOURCE_REQUIREMENTS: StructDef = def("io.k8s.api.core.v1.ResourceRequirements", false, &[
        l("claims", None, Keys(&["name"])),
    ]);
    static CORE_EPHEMERAL_CONTAINER: StructDef = def("io.k8s.api.core.v1.EphemeralContainer", false, &[
        lm("ports", None, Keys(&["containerPort", "protocol"]), Some("containerPort")),
        lm("env", Some(&CORE_ENV_VAR), Keys(&["name"]), Some("name")),
        s("resources", &CORE_RESOURCE_REQUIREMENTS),
        lm("volumeMounts", None, Keys(&["mountPath"]), Some("mountPath")),
        lm("volumeDevices", None, Keys(&["devicePath"]), Some("devicePath")),
    ]);
    static CORE_AFFINITY: StructDef = def("io.k8s.api.core.v1.Affinity", false, &[
        s("nodeAffinity", &CORE_NODE_AFFINITY),
    ]);
    static CORE_NODE_AFFINITY: StructDef = def("io.k8s.api.core.v1.NodeAffinity", false, &[
        s("requiredDuringSchedulingIgnoredDuringExecution", &CORE_NODE_SELECTOR),
    ]);
    static CORE_NODE_SELECTOR: StructDef = def("io.k8s.api.core.v1.NodeSelector", true, &[]);
    static CORE_TOPOLOGY_SPREAD_CONSTRAINT: StructDef = def("io.k8s.api.core.v1.TopologySpreadConstraint", false, &[
        s("labelSelector", &META_LABEL_SELECTOR),
    ]);
    static CORE_POD_STATUS: StructDef = def("io.k8s.api.core.v1.PodStatus", false, &[
        lm("conditions", None, Keys(&["type"]), Some("type")),
        lm("hostIPs", None, Atomic, Some("ip")),
        lm("podIPs", None, Keys(&["ip"]), Some("ip")),
        lm("resourceClaimStatuses", None, Keys(&["name"]), Some("name")).retain_keys_too(),
    ]);
    static CORE_NODE: StructDef = def("io.k8s.api.core.v1.Node", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &CORE_NODE_SPEC),
        s("status", &CORE_NODE_STATUS),
    ]);
    static CORE_NODE_SPEC: StructDef = def("io.k8s.api.core.v1.NodeSpec", false, &[
        lm("podCIDRs", None, Set, None),
    ]);
    static CORE_NODE_STATUS: StructDef = def("io.k8s.api.core.v1.NodeStatus", false, &[
        lm("conditions", None, Keys(&["type"]), Some("type")),
        lm("addresses", None, Keys(&["type"]), Some("type")),
    ]);
    static CORE_NAMESPACE: StructDef = def("io.k8s.api.core.v1.Namespace", false, &[
        s("metadata", &META_OBJECT_META),
        s("status", &CORE_NAMESPACE_STATUS),
    ]);
    static CORE_NAMESPACE_STATUS: StructDef = def("io.k8s.api.core.v1.NamespaceStatus", false, &[
        lm("conditions", None, Keys(&["type"]), Some("type")),
    ]);
    static CORE_CONFIG_MAP: StructDef = def("io.k8s.api.core.v1.ConfigMap", false, &[
        s("metadata", &META_OBJECT_META),
    ]);
    static CORE_SECRET: StructDef = def("io.k8s.api.core.v1.Secret", false, &[
        s("metadata", &META_OBJECT_META),
    ]);
    static CORE_SERVICE_ACCOUNT: StructDef = def("io.k8s.api.core.v1.ServiceAccount", false, &[
        s("metadata", &META_OBJECT_META),
        lm("secrets", Some(&CORE_OBJECT_REFERENCE), Keys(&["name"]), Some("name")),
    ]);
    static CORE_OBJECT_REFERENCE: StructDef = def("io.k8s.api.core.v1.ObjectReference", true, &[]);
    static CORE_SERVICE: StructDef = def("io.k8s.api.core.v1.Service", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &CORE_SERVICE_SPEC),
        s("status", &CORE_SERVICE_STATUS),
    ]);
    static CORE_SERVICE_SPEC: StructDef = def("io.k8s.api.core.v1.ServiceSpec", false, &[
        lm("ports", None, Keys(&["port", "protocol"]), Some("port")),
        m("selector", None, true),
    ]);
    static CORE_SERVICE_STATUS: StructDef = def("io.k8s.api.core.v1.ServiceStatus", false, &[
        lm("conditions", None, Keys(&["type"]), Some("type")),
    ]);
    static CORE_EVENT: StructDef = def("io.k8s.api.core.v1.Event", false, &[
        s("metadata", &META_OBJECT_META),
        s("involvedObject", &CORE_OBJECT_REFERENCE),
        s("related", &CORE_OBJECT_REFERENCE),
    ]);
    static CORE_BINDING: StructDef = def("io.k8s.api.core.v1.Binding", false, &[
        s("metadata", &META_OBJECT_META),
        s("target", &CORE_OBJECT_REFERENCE),
    ]);
    static EVENTS_EVENT: StructDef = def("io.k8s.api.events.v1.Event", false, &[
        s("metadata", &META_OBJECT_META),
        s("regarding", &CORE_OBJECT_REFERENCE),
        s("related", &CORE_OBJECT_REFERENCE),
    ]);
    static COORDINATION_LEASE: StructDef = def("io.k8s.api.coordination.v1.Lease", false, &[
        s("metadata", &META_OBJECT_META),
    ]);
    static SCHEDULING_PRIORITY_CLASS: StructDef = def("io.k8s.api.scheduling.v1.PriorityClass", false, &[
        s("metadata", &META_OBJECT_META),
    ]);
    static APPS_DEPLOYMENT: StructDef = def("io.k8s.api.apps.v1.Deployment", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &APPS_DEPLOYMENT_SPEC),
        s("status", &APPS_DEPLOYMENT_STATUS),
    ]);
    static APPS_DEPLOYMENT_SPEC: StructDef = def("io.k8s.api.apps.v1.DeploymentSpec", false, &[
        s("selector", &META_LABEL_SELECTOR),
        s("template", &CORE_POD_TEMPLATE_SPEC),
        s("strategy", &APPS_DEPLOYMENT_STRATEGY).retain_keys_too(),
    ]);
    static CORE_POD_TEMPLATE_SPEC: StructDef = def("io.k8s.api.core.v1.PodTemplateSpec", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &CORE_POD_SPEC),
    ]);
    static APPS_DEPLOYMENT_STRATEGY: StructDef = def("io.k8s.api.apps.v1.DeploymentStrategy", false, &[]);
    static APPS_DEPLOYMENT_STATUS: StructDef = def("io.k8s.api.apps.v1.DeploymentStatus", false, &[
        lm("conditions", None, Keys(&["type"]), Some("type")),
    ]);
    static APPS_REPLICA_SET: StructDef = def("io.k8s.api.apps.v1.ReplicaSet", false, &[
        s("metadata", &META_OBJECT_META),
        s("spec", &APPS_REPLICA_SET_SPEC),
        s("status", &APPS_REPLICA_SET_STATUS),
    ]);
    static APPS_REPLICA_SET_SPEC: StructDef = def("io.k8s.api.apps.v1.ReplicaSetSpec", false, &[
        s("selector", &META_LABEL_SELECTOR),
        s("template", &CORE_POD_TEMPLATE_SPEC),
    ]);
    static APPS_REPLICA_SET_STATUS: StructDef = def("io.k8s.api.apps.v1.ReplicaSetStatus", false, &[
        lm("conditions", None, Keys(&["type"]), Some("type")),
    ]);
    static AUTOSCALING_SCALE: StructDef = def("io.k8s.api.autoscaling.v1.Scale", false, &[
        s("metadata", &META_OBJECT_META),
    ]);

    pub(super) static ROOTS: &[(&str, &str, &StructDef)] = &[
        ("", "Pod", &CORE_POD),
        ("", "Node", &CORE_NODE),
        ("", "Namespace", &CORE_NAMESPACE),
        ("", "ConfigMap", &CORE_CONFIG_MAP),
        ("", "Secret", &CORE_SECRET),
        ("", "ServiceAccount", &CORE_SERVICE_ACCOUNT),
        ("", "Service", &CORE_SERVICE),
        ("", "Event", &CORE_EVENT),
        ("", "Binding", &CORE_BINDING),
        ("events.k8s.io", "Event", &EVENTS_EVENT),
        ("coordination.k8s.io", "Lease", &COORDINATION_LEASE),
        ("scheduling.k8s.io", "PriorityClass", &SCHEDULING_PRIORITY_CLASS),
        ("apps", "Deployment", &APPS_DEPLOYMENT),
        ("apps", "ReplicaSet", &APPS_REPLICA_SET),
        ("autoscaling", "Scale", &AUTOSCALING_SCALE),
    ];

    /// The `MergeItem` type of upstream's strategic merge patch tests, so that their cases can be
    /// replayed here (`mergingList` merges by `name`, `mergingIntList` merges by value, `replacingItem`
    /// has `patchStrategy: replace`, `retainKeysMap` and `retainKeysMergingList` carry `retainKeys`).
    #[cfg(test)]
    pub(crate) static TEST_MERGE_ITEM: StructDef = def("MergeItem", false, &[
        lm("mergingList", Some(&TEST_MERGE_ITEM), Keys(&["name"]), Some("name")),
        lm("mergingIntList", None, Set, None),
        Field { name: "mergeItemPtr", shape: Shape::Struct(TypeRef(&TEST_MERGE_ITEM)), strategy: Strategy::Merge, retain_keys: false, merge_key: Some("name") },
        Field { name: "replacingItem", shape: Shape::Map { elem: None, atomic: true }, strategy: Strategy::Replace, retain_keys: false, merge_key: None },
        s("retainKeysMap", &TEST_RETAIN_KEYS_MERGE_ITEM).retain_keys_too(),
        lm("retainKeysMergingList", Some(&TEST_MERGE_ITEM), Keys(&["name"]), Some("name")).retain_keys_too(),
    ]);
    #[cfg(test)]
    static TEST_RETAIN_KEYS_MERGE_ITEM: StructDef = def("RetainKeysMergeItem", false, &[
        lm("mergingIntList", None, Set, None),
        lm("mergingList", Some(&TEST_MERGE_ITEM), Keys(&["name"]), Some("name")),
    ]);
}

/// Upstream's test type `MergeItem` (see [`table::TEST_MERGE_ITEM`]).
#[cfg(test)]
pub(crate) fn upstream_test_type() -> TypeRef {
    TypeRef(&table::TEST_MERGE_ITEM)
}
