//! The resource table: every API resource Skiff serves, with its real group, version, kind, plural,
//! scope, verbs, short names, categories and subresources (as the real API server's discovery reports
//! them). Routing, discovery, OpenAPI and storage keys are all derived from this one table.

/// A subresource such as `pods/status` or `deployments/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    /// The kind the subresource answers with (`Scale`, `Binding`, or the parent kind).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// One API resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The resource whose storage this one shares (events.k8s.io/v1 events are stored as core events).
    pub storage: &'static str,
    /// Whether writes to the main resource bump `metadata.generation` when the spec changes.
    pub has_generation: bool,
}

impl Resource {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// The kind of the list (`PodList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
    /// The storage key prefix of this resource, ending in `/`: `/registry/pods/`.
    pub fn key_prefix(&self) -> String {
        format!("/registry/{}/", self.storage)
    }
    /// The storage key of one object (`/registry/pods/default/web`, `/registry/nodes/n1`).
    pub fn key(&self, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("/registry/{}/{}/{}", self.storage, namespace, name)
        } else {
            format!("/registry/{}/{}", self.storage, name)
        }
    }
    /// The prefix of one namespace's objects (`/registry/pods/default/`).
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("/registry/{}/{}/", self.storage, namespace)
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

macro_rules! sub {
    ($name:expr, $group:expr, $version:expr, $kind:expr, $verbs:expr) => {
        Subresource {
            name: $name,
            group: $group,
            version: $version,
            kind: $kind,
            verbs: $verbs,
        }
    };
}

/// Every resource Skiff serves, in discovery order.
pub static RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["po"],
        categories: &["all"],
        subresources: &[
            sub!("binding", "", "v1", "Binding", &["create"]),
            sub!("log", "", "v1", "Pod", &["get"]),
            sub!("status", "", "v1", "Pod", STATUS_VERBS),
        ],
        storage: "pods",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        short_names: &["ns"],
        categories: &[],
        subresources: &[
            sub!("finalize", "", "v1", "Namespace", &["update"]),
            sub!("status", "", "v1", "Namespace", STATUS_VERBS),
        ],
        storage: "namespaces",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        verbs: ALL_VERBS,
        short_names: &["no"],
        categories: &[],
        subresources: &[sub!("status", "", "v1", "Node", STATUS_VERBS)],
        storage: "minions",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage: "events",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        storage: "configmaps",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "secrets",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["sa"],
        categories: &[],
        subresources: &[],
        storage: "serviceaccounts",
        has_generation: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &[sub!("status", "", "v1", "Service", STATUS_VERBS)],
        storage: "services/specs",
        has_generation: false,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &[
            sub!("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
            sub!("status", "apps", "v1", "Deployment", STATUS_VERBS),
        ],
        storage: "deployments",
        has_generation: true,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &[
            sub!("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
            sub!("status", "apps", "v1", "ReplicaSet", STATUS_VERBS),
        ],
        storage: "replicasets",
        has_generation: true,
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "leases",
        has_generation: false,
    },
    Resource {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        verbs: ALL_VERBS,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage: "events",
        has_generation: false,
    },
    Resource {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        singular: "priorityclass",
        namespaced: false,
        verbs: ALL_VERBS,
        short_names: &["pc"],
        categories: &[],
        subresources: &[],
        storage: "priorityclasses",
        has_generation: false,
    },
];

/// The groups served, in discovery order, with their single version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Resources of one group/version.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// Looks up a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks up a resource by group and kind (any version).
pub fn find_kind(group: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kube_apiserver() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.key("default", "web"), "/registry/pods/default/web");
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key("", "n1"), "/registry/minions/n1");
        assert_eq!(
            find("apps", "v1", "deployments").unwrap().api_version(),
            "apps/v1"
        );
        assert_eq!(groups()[0], ("", "v1"));
    }
}
