//! The list and map extensions upstream puts on schema properties (`x-kubernetes-patch-merge-key`,
//! `x-kubernetes-patch-strategy`, `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type`).
//!
//! `k8s-openapi`'s schemas do not carry them (it folds them into its `DeepMerge` code instead), so the
//! fields most edited with `kubectl patch` and `apply` are listed here by hand, as Kubernetes 1.32's own
//! OpenAPI documents have them. A field missing here only lacks the hint: clients fall back to their
//! built-in strategic-merge metadata for built-in kinds. A test checks that every entry names a property
//! that exists, so a typo or a rename in `k8s-openapi` fails loudly.

use serde_json::{Map, Value};

/// One property's extensions. Empty strings and slices mean "absent".
pub(crate) struct Ext {
    pub schema: &'static str,
    pub property: &'static str,
    pub list_type: &'static str,
    pub list_map_keys: &'static [&'static str],
    pub merge_key: &'static str,
    pub strategy: &'static str,
}

const fn merge(schema: &'static str, property: &'static str, key: &'static str) -> Ext {
    Ext {
        schema,
        property,
        list_type: "",
        list_map_keys: &[],
        merge_key: key,
        strategy: "merge",
    }
}

const fn merge_retain(schema: &'static str, property: &'static str, key: &'static str) -> Ext {
    Ext {
        schema,
        property,
        list_type: "",
        list_map_keys: &[],
        merge_key: key,
        strategy: "merge,retainKeys",
    }
}

/// A list-map that strategic merge also merges by its first key.
const fn map(schema: &'static str, property: &'static str, keys: &'static [&'static str]) -> Ext {
    Ext {
        schema,
        property,
        list_type: "map",
        list_map_keys: keys,
        merge_key: keys[0],
        strategy: "merge",
    }
}

const fn atomic(schema: &'static str, property: &'static str) -> Ext {
    Ext {
        schema,
        property,
        list_type: "atomic",
        list_map_keys: &[],
        merge_key: "",
        strategy: "",
    }
}

const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const POD_STATUS: &str = "io.k8s.api.core.v1.PodStatus";
const CONTAINER: &str = "io.k8s.api.core.v1.Container";
const EPHEMERAL: &str = "io.k8s.api.core.v1.EphemeralContainer";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const SERVICE_SPEC: &str = "io.k8s.api.core.v1.ServiceSpec";
const NODE_SPEC: &str = "io.k8s.api.core.v1.NodeSpec";
const NODE_STATUS: &str = "io.k8s.api.core.v1.NodeStatus";

pub(crate) static PROPERTIES: &[Ext] = &[
    // PodSpec
    merge(POD_SPEC, "containers", "name"),
    merge(POD_SPEC, "initContainers", "name"),
    merge(POD_SPEC, "ephemeralContainers", "name"),
    merge(POD_SPEC, "imagePullSecrets", "name"),
    merge_retain(POD_SPEC, "volumes", "name"),
    map(POD_SPEC, "hostAliases", &["ip"]),
    map(POD_SPEC, "schedulingGates", &["name"]),
    map(
        POD_SPEC,
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    Ext {
        schema: POD_SPEC,
        property: "resourceClaims",
        list_type: "map",
        list_map_keys: &["name"],
        merge_key: "name",
        strategy: "merge,retainKeys",
    },
    atomic(POD_SPEC, "tolerations"),
    atomic(POD_SPEC, "readinessGates"),
    // Container and EphemeralContainer
    atomic(CONTAINER, "args"),
    atomic(CONTAINER, "command"),
    merge(CONTAINER, "env", "name"),
    atomic(CONTAINER, "envFrom"),
    map(CONTAINER, "ports", &["containerPort", "protocol"]),
    atomic(CONTAINER, "resizePolicy"),
    merge(CONTAINER, "volumeDevices", "devicePath"),
    merge(CONTAINER, "volumeMounts", "mountPath"),
    atomic(EPHEMERAL, "args"),
    atomic(EPHEMERAL, "command"),
    merge(EPHEMERAL, "env", "name"),
    atomic(EPHEMERAL, "envFrom"),
    map(EPHEMERAL, "ports", &["containerPort", "protocol"]),
    atomic(EPHEMERAL, "resizePolicy"),
    merge(EPHEMERAL, "volumeDevices", "devicePath"),
    merge(EPHEMERAL, "volumeMounts", "mountPath"),
    // PodStatus
    map(POD_STATUS, "conditions", &["type"]),
    map(POD_STATUS, "podIPs", &["ip"]),
    merge(POD_STATUS, "hostIPs", "ip"),
    atomic(POD_STATUS, "containerStatuses"),
    atomic(POD_STATUS, "initContainerStatuses"),
    atomic(POD_STATUS, "ephemeralContainerStatuses"),
    // ObjectMeta
    Ext {
        schema: OBJECT_META,
        property: "finalizers",
        list_type: "set",
        list_map_keys: &[],
        merge_key: "",
        strategy: "merge",
    },
    map(OBJECT_META, "ownerReferences", &["uid"]),
    atomic(OBJECT_META, "managedFields"),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
    ),
    // Service
    map(SERVICE_SPEC, "ports", &["port", "protocol"]),
    atomic(SERVICE_SPEC, "clusterIPs"),
    atomic(SERVICE_SPEC, "externalIPs"),
    atomic(SERVICE_SPEC, "ipFamilies"),
    atomic(SERVICE_SPEC, "loadBalancerSourceRanges"),
    merge("io.k8s.api.core.v1.ServiceAccount", "secrets", "name"),
    // Node
    Ext {
        schema: NODE_SPEC,
        property: "podCIDRs",
        list_type: "set",
        list_map_keys: &[],
        merge_key: "",
        strategy: "merge",
    },
    atomic(NODE_SPEC, "taints"),
    merge(NODE_STATUS, "addresses", "type"),
    merge(NODE_STATUS, "conditions", "type"),
    atomic(NODE_STATUS, "images"),
    atomic(NODE_STATUS, "volumesAttached"),
    atomic(NODE_STATUS, "volumesInUse"),
    map(
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        &["type"],
    ),
    atomic("io.k8s.api.core.v1.NamespaceSpec", "finalizers"),
    // apps
    Ext {
        schema: "io.k8s.api.apps.v1.DeploymentSpec",
        property: "strategy",
        list_type: "",
        list_map_keys: &[],
        merge_key: "",
        strategy: "retainKeys",
    },
    map(
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        &["type"],
    ),
    map(
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        &["type"],
    ),
];

/// `x-kubernetes-map-type` on a property (or, with an empty property, on the schema itself).
pub(crate) static MAP_TYPES: &[(&str, &str, &str)] = &[
    (POD_SPEC, "nodeSelector", "atomic"),
    (SERVICE_SPEC, "selector", "atomic"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "",
        "atomic",
    ),
    ("io.k8s.api.core.v1.LocalObjectReference", "", "atomic"),
    ("io.k8s.api.core.v1.ObjectReference", "", "atomic"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
        "",
        "atomic",
    ),
];

/// Adds the extensions listed for the named schema.
pub(crate) fn apply(name: &str, schema: &mut Map<String, Value>) {
    for ext in PROPERTIES.iter().filter(|e| e.schema == name) {
        let Some(prop) = property(schema, ext.property) else {
            continue;
        };
        if !ext.list_map_keys.is_empty() {
            prop.insert(
                "x-kubernetes-list-map-keys".into(),
                ext.list_map_keys.iter().copied().collect(),
            );
        }
        if !ext.list_type.is_empty() {
            prop.insert("x-kubernetes-list-type".into(), ext.list_type.into());
        }
        if !ext.merge_key.is_empty() {
            prop.insert("x-kubernetes-patch-merge-key".into(), ext.merge_key.into());
        }
        if !ext.strategy.is_empty() {
            prop.insert("x-kubernetes-patch-strategy".into(), ext.strategy.into());
        }
    }
    for (_, field, map_type) in MAP_TYPES.iter().filter(|(s, _, _)| *s == name) {
        let target = if field.is_empty() {
            Some(&mut *schema)
        } else {
            property(schema, field)
        };
        if let Some(target) = target {
            target.insert("x-kubernetes-map-type".into(), (*map_type).into());
        }
    }
}

fn property<'a>(
    schema: &'a mut Map<String, Value>,
    name: &str,
) -> Option<&'a mut Map<String, Value>> {
    schema.get_mut("properties")?.get_mut(name)?.as_object_mut()
}

#[cfg(test)]
pub(crate) fn all_targets() -> impl Iterator<Item = (&'static str, &'static str)> {
    PROPERTIES
        .iter()
        .map(|e| (e.schema, e.property))
        .chain(MAP_TYPES.iter().map(|(s, p, _)| (*s, *p)))
}
