//! Builders for nodes and pods in tests and benchmarks (feature `test-util`).
//!
//! `node("n1").cpu("4").memory("8Gi").label("zone", "a").build()` and
//! `pod("p").req("cpu", "100m").node_selector("zone", "a").build()`, in the spirit of upstream's
//! `st.MakePod()` / `st.MakeNode()`.

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerImage, ContainerPort, Node, NodeAffinity,
    NodeSelectorRequirement, NodeSelectorTerm, NodeSpec, NodeStatus, Pod, PodAffinity,
    PodAffinityTerm, PodAntiAffinity, PodSchedulingGate, PodSpec, PodStatus,
    PreferredSchedulingTerm, ResourceRequirements, Taint, Toleration, TopologySpreadConstraint,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use std::collections::BTreeMap;

/// A `LabelSelector` with `matchLabels`.
pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        match_expressions: None,
    }
}

/// A topology spread constraint selecting `pairs`.
pub fn spread_constraint(
    max_skew: i32,
    key: &str,
    when: &str,
    pairs: &[(&str, &str)],
) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: key.into(),
        when_unsatisfiable: when.into(),
        label_selector: Some(selector(pairs)),
        ..Default::default()
    }
}

/// Starts a node named `name` (110 pods allocatable unless changed).
pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder {
        node: Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus::default()),
        },
    }
    .resource("pods", "110")
}

/// Builds a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    node: Node,
}

impl NodeBuilder {
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.node
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// Sets capacity and allocatable of a resource.
    pub fn resource(mut self, name: &str, q: &str) -> Self {
        let st = self.node.status.get_or_insert_with(Default::default);
        st.capacity
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), Quantity(q.into()));
        st.allocatable
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), Quantity(q.into()));
        self
    }

    pub fn cpu(self, q: &str) -> Self {
        self.resource("cpu", q)
    }
    pub fn memory(self, q: &str) -> Self {
        self.resource("memory", q)
    }
    pub fn pods(self, n: i64) -> Self {
        self.resource("pods", &n.to_string())
    }
    pub fn scalar(self, name: &str, q: &str) -> Self {
        self.resource(name, q)
    }

    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.node
            .spec
            .get_or_insert_with(Default::default)
            .taints
            .get_or_insert_with(Vec::new)
            .push(Taint {
                key: key.into(),
                value: (!value.is_empty()).then(|| value.to_string()),
                effect: effect.into(),
                time_added: None,
            });
        self
    }

    pub fn unschedulable(mut self) -> Self {
        self.node
            .spec
            .get_or_insert_with(Default::default)
            .unschedulable = Some(true);
        self
    }

    /// Adds an image the node reports in `status.images`.
    pub fn image(mut self, name: &str, size: i64) -> Self {
        self.node
            .status
            .get_or_insert_with(Default::default)
            .images
            .get_or_insert_with(Vec::new)
            .push(ContainerImage {
                names: Some(vec![name.into()]),
                size_bytes: Some(size),
            });
        self
    }

    pub fn build(self) -> Node {
        self.node
    }
}

/// Starts a pod named `name` in namespace `default`.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder {
        pod: Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: None,
        },
    }
}

/// Builds a [`Pod`].
#[derive(Debug, Clone)]
pub struct PodBuilder {
    pod: Pod,
}

fn requests(reqs: &[(&str, &str)]) -> Option<ResourceRequirements> {
    Some(ResourceRequirements {
        requests: Some(
            reqs.iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        ),
        ..Default::default()
    })
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.get_or_insert_with(Default::default)
    }

    fn first_container(&mut self) -> &mut Container {
        let spec = self.spec();
        if spec.containers.is_empty() {
            spec.containers.push(Container {
                name: "c0".into(),
                ..Default::default()
            });
        }
        &mut spec.containers[0]
    }

    fn affinity_mut(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }

    pub fn namespace(mut self, ns: &str) -> Self {
        self.pod.metadata.namespace = Some(ns.into());
        self
    }
    pub fn uid(mut self, uid: &str) -> Self {
        self.pod.metadata.uid = Some(uid.into());
        self
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.pod
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }
    pub fn annotation(mut self, k: &str, v: &str) -> Self {
        self.pod
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }
    /// Sets `spec.nodeName`.
    pub fn node(mut self, n: &str) -> Self {
        self.spec().node_name = Some(n.into());
        self
    }
    pub fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }
    pub fn preemption_policy(mut self, p: &str) -> Self {
        self.spec().preemption_policy = Some(p.into());
        self
    }
    /// Adds a request to the first container.
    pub fn req(mut self, name: &str, q: &str) -> Self {
        let c = self.first_container();
        c.resources
            .get_or_insert_with(Default::default)
            .requests
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), Quantity(q.into()));
        self
    }
    /// Adds an app container with these requests.
    pub fn container(mut self, reqs: &[(&str, &str)]) -> Self {
        let spec = self.spec();
        let n = spec.containers.len();
        spec.containers.push(Container {
            name: format!("c{n}"),
            resources: requests(reqs),
            ..Default::default()
        });
        self
    }
    /// Adds an init container with these requests.
    pub fn init_container(mut self, reqs: &[(&str, &str)]) -> Self {
        let list = self.spec().init_containers.get_or_insert_with(Vec::new);
        let n = list.len();
        list.push(Container {
            name: format!("i{n}"),
            resources: requests(reqs),
            ..Default::default()
        });
        self
    }
    /// Adds a restartable (sidecar) init container with these requests.
    pub fn sidecar(mut self, reqs: &[(&str, &str)]) -> Self {
        let list = self.spec().init_containers.get_or_insert_with(Vec::new);
        let n = list.len();
        list.push(Container {
            name: format!("s{n}"),
            resources: requests(reqs),
            restart_policy: Some("Always".into()),
            ..Default::default()
        });
        self
    }
    pub fn overhead(mut self, name: &str, q: &str) -> Self {
        self.spec()
            .overhead
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), Quantity(q.into()));
        self
    }
    /// Sets the image of the first container without one, or adds a container.
    pub fn image(mut self, image: &str) -> Self {
        let spec = self.spec();
        match spec.containers.iter_mut().find(|c| c.image.is_none()) {
            Some(c) => c.image = Some(image.into()),
            None => {
                let n = spec.containers.len();
                spec.containers.push(Container {
                    name: format!("c{n}"),
                    image: Some(image.into()),
                    ..Default::default()
                });
            }
        }
        self
    }
    pub fn host_port(self, port: i32) -> Self {
        self.host_port_full("", "TCP", port)
    }
    pub fn host_port_full(mut self, ip: &str, protocol: &str, port: i32) -> Self {
        let c = self.first_container();
        c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            container_port: port,
            host_port: Some(port),
            host_ip: (!ip.is_empty()).then(|| ip.to_string()),
            protocol: (!protocol.is_empty()).then(|| protocol.to_string()),
            ..Default::default()
        });
        self
    }
    pub fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
        self.spec()
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: s(key),
                operator: s(op),
                value: s(value),
                effect: s(effect),
                toleration_seconds: None,
            });
        self
    }
    pub fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }
    /// Replaces `spec.affinity`.
    pub fn affinity(mut self, a: Affinity) -> Self {
        self.spec().affinity = Some(a);
        self
    }
    /// Adds a required node affinity term `key In values`.
    pub fn node_affinity_in(mut self, key: &str, values: &[&str]) -> Self {
        let na = self
            .affinity_mut()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        na.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Default::default)
            .node_selector_terms
            .push(NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: key.into(),
                    operator: "In".into(),
                    values: Some(values.iter().map(|v| v.to_string()).collect()),
                }]),
                match_fields: None,
            });
        self
    }
    /// Adds a preferred node affinity term `key In values` with `weight`.
    pub fn preferred_node_affinity(mut self, weight: i32, key: &str, values: &[&str]) -> Self {
        let na = self
            .affinity_mut()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        na.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(PreferredSchedulingTerm {
                weight,
                preference: NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: key.into(),
                        operator: "In".into(),
                        values: Some(values.iter().map(|v| v.to_string()).collect()),
                    }]),
                    match_fields: None,
                },
            });
        self
    }
    fn term(k: &str, v: &str, topology: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(selector(&[(k, v)])),
            topology_key: topology.into(),
            ..Default::default()
        }
    }
    /// Adds a required pod affinity term.
    pub fn pod_affinity_term_required(mut self, t: PodAffinityTerm) -> Self {
        self.affinity_mut()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }
    /// Adds a required pod anti-affinity term.
    pub fn pod_anti_affinity_term_required(mut self, t: PodAffinityTerm) -> Self {
        self.affinity_mut()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }
    pub fn pod_affinity_required(self, k: &str, v: &str, topology: &str) -> Self {
        self.pod_affinity_term_required(Self::term(k, v, topology))
    }
    pub fn pod_anti_affinity_required(self, k: &str, v: &str, topology: &str) -> Self {
        self.pod_anti_affinity_term_required(Self::term(k, v, topology))
    }
    pub fn pod_affinity_preferred(mut self, w: i32, k: &str, v: &str, topology: &str) -> Self {
        self.affinity_mut()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight: w,
                pod_affinity_term: Self::term(k, v, topology),
            });
        self
    }
    pub fn pod_anti_affinity_preferred(mut self, w: i32, k: &str, v: &str, topology: &str) -> Self {
        self.affinity_mut()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight: w,
                pod_affinity_term: Self::term(k, v, topology),
            });
        self
    }
    /// Adds a topology spread constraint selecting `pairs`.
    pub fn spread(self, max_skew: i32, key: &str, when: &str, pairs: &[(&str, &str)]) -> Self {
        self.spread_constraint(spread_constraint(max_skew, key, when, pairs))
    }
    pub fn spread_constraint(mut self, c: TopologySpreadConstraint) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_with(Vec::new)
            .push(c);
        self
    }
    pub fn scheduling_gate(mut self, name: &str) -> Self {
        self.spec()
            .scheduling_gates
            .get_or_insert_with(Vec::new)
            .push(PodSchedulingGate { name: name.into() });
        self
    }
    /// Sets `status.nominatedNodeName`.
    pub fn nominated(mut self, node: &str) -> Self {
        self.pod
            .status
            .get_or_insert_with(PodStatus::default)
            .nominated_node_name = Some(node.into());
        self
    }
    /// Sets `status.startTime` to `secs` after the epoch.
    pub fn start_time(mut self, secs: i64) -> Self {
        self.pod
            .status
            .get_or_insert_with(PodStatus::default)
            .start_time = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(secs).expect("valid timestamp"),
        ));
        self
    }
    /// Sets a deletion timestamp.
    pub fn terminating(mut self) -> Self {
        self.pod.metadata.deletion_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1).expect("valid timestamp"),
        ));
        self
    }
    /// Adds a controller owner reference.
    pub fn owner(mut self, api_version: &str, kind: &str, name: &str) -> Self {
        self.pod
            .metadata
            .owner_references
            .get_or_insert_with(Vec::new)
            .push(OwnerReference {
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
                uid: format!("{name}-uid"),
                controller: Some(true),
                block_owner_deletion: None,
            });
        self
    }
    pub fn build(mut self) -> Pod {
        let spec = self.spec();
        if spec.containers.is_empty() {
            spec.containers.push(Container {
                name: "c0".into(),
                ..Default::default()
            });
        }
        for c in &mut spec.containers {
            c.image
                .get_or_insert_with(|| "registry.k8s.io/pause:3.10".into());
        }
        self.pod
    }
}
