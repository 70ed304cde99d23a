//! `Snapshot`: the cluster as one scheduling cycle sees it.
//!
//! Upstream copies the cache into a snapshot at the start of every cycle. Skiff's scheduling loop is
//! single-threaded, so the snapshot *is* the cache's view: the caller mutates it between cycles
//! (node and pod events, assumed pods) and every change keeps the derived indexes current:
//!
//! - nodes in upstream's `nodeTree` order (zones interleaved round-robin), which decides which nodes a
//!   sampled cycle looks at first;
//! - the nodes having pods with (anti-)affinity (`HavePodsWithAffinityNodeInfoList`,
//!   `HavePodsWithRequiredAntiAffinityNodeInfoList`);
//! - how many nodes have each image (`ImageStateSummary.NumNodes`);
//! - namespace labels (for `namespaceSelector`), the selectors of Services, ReplicaSets, StatefulSets
//!   and ReplicationControllers (for PodTopologySpread's default constraints), nominated pods and
//!   PodDisruptionBudgets (for preemption);
//! - per topology key, a dense numbering of the label values ([`TopologyIndex`]) so that spreading and
//!   inter-pod affinity count in arrays instead of hashing strings per node.

use crate::framework::node_info::NodeInfo;
use crate::framework::types::PodInfo;
use crate::labels::{Labels, Selector};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Errors of snapshot mutations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("node {0:?} not found")]
    NodeNotFound(String),
    #[error("pod {0:?} has no node name")]
    NoNodeName(String),
    #[error("pod {0:?} is already in the snapshot")]
    PodExists(String),
    #[error("pod {0:?} not found")]
    PodNotFound(String),
    #[error("node has no name")]
    NoNodeNameSet,
}

/// Label values of one topology key, numbered densely.
#[derive(Debug, Clone, Default)]
pub struct TopologyIndex {
    /// Value id to value.
    pub values: Vec<String>,
    ids: HashMap<String, u32>,
    /// Node slot to value id (`u32::MAX`: the node lacks the label).
    node_value: Vec<u32>,
}

impl TopologyIndex {
    const MISSING: u32 = u32::MAX;

    /// The value id of the node in `slot`, `None` when the node lacks the key.
    #[inline]
    pub fn value_of(&self, slot: usize) -> Option<u32> {
        match self.node_value.get(slot) {
            Some(&v) if v != Self::MISSING => Some(v),
            _ => None,
        }
    }

    /// The id of a label value.
    pub fn id_of(&self, value: &str) -> Option<u32> {
        self.ids.get(value).copied()
    }

    /// How many distinct values the key has.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Selectors of the objects that own or select pods (`helper.DefaultSelector`'s listers).
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    /// Namespace to (service name, `spec.selector`); services with a nil selector are not stored.
    services: HashMap<String, Vec<(String, Labels)>>,
    replica_sets: HashMap<(String, String), Option<LabelSelector>>,
    stateful_sets: HashMap<(String, String), Option<LabelSelector>>,
    replication_controllers: HashMap<(String, String), Labels>,
}

impl Workloads {
    /// `helper.DefaultSelector`: the union of the selectors of the Services selecting the pod and of
    /// its controlling ReplicaSet, StatefulSet or ReplicationController.
    pub fn default_selector(&self, pod: &PodInfo) -> Selector {
        let ns = pod.namespace();
        let mut label_set = Labels::new();
        for (_, sel) in self.services.get(ns).into_iter().flatten() {
            if Selector::from_set(sel).matches(pod.labels()) {
                for (k, v) in sel {
                    label_set.insert(k.clone(), v.clone());
                }
            }
        }
        let mut selector = Selector::from_set(&label_set);
        let owner = pod
            .pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        let Some(owner) = owner else {
            return selector;
        };
        let key = (ns.to_string(), owner.name.clone());
        match (owner.api_version.as_str(), owner.kind.as_str()) {
            ("v1", "ReplicationController") => {
                if let Some(sel) = self.replication_controllers.get(&key) {
                    for (k, v) in sel {
                        label_set.insert(k.clone(), v.clone());
                    }
                    selector = Selector::from_set(&label_set);
                }
            }
            ("apps/v1", "ReplicaSet") | ("apps/v1", "StatefulSet") => {
                let map = if owner.kind == "ReplicaSet" {
                    &self.replica_sets
                } else {
                    &self.stateful_sets
                };
                if let Some(sel) = map.get(&key) {
                    if let Ok(other) = Selector::from_label_selector(sel.as_ref()) {
                        if !other.is_nothing() {
                            selector.add(other.requirements().iter().cloned());
                        }
                    }
                }
            }
            _ => {}
        }
        selector
    }
}

/// Pods that are interchangeable for inter-pod affinity and spreading (same namespace, labels,
/// termination state and affinity terms, see [`PodInfo::same_group`]), counted per node.
///
/// Workloads create many identical pods; matching a selector once per group instead of once per pod
/// makes the cluster-wide passes of InterPodAffinity and PodTopologySpread proportional to the number
/// of distinct pod shapes and the nodes they occupy.
#[derive(Debug, Clone)]
pub struct PodGroup {
    pod: Arc<PodInfo>,
    nodes: HashMap<usize, u32>,
    total: usize,
}

impl PodGroup {
    /// A pod of the group (all are equivalent for matching).
    pub fn pod(&self) -> &PodInfo {
        &self.pod
    }

    /// Node slots and how many of the group's pods each has.
    #[inline]
    pub fn nodes(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.nodes.iter().map(|(s, c)| (*s, *c))
    }

    /// Pods in the group.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// The nodes, pods and cluster objects one scheduling cycle reads.
#[derive(Debug, Default)]
pub struct Snapshot {
    nodes: Vec<NodeInfo>,
    by_name: HashMap<String, usize>,
    /// Zone key to node slots, zones in order of first appearance (`nodeTree`).
    zones: Vec<(String, Vec<usize>)>,
    order: Vec<usize>,
    have_affinity: Vec<usize>,
    have_required_anti_affinity: Vec<usize>,
    /// Pod key to (node slot, group id).
    pods_by_key: HashMap<String, (usize, usize)>,
    groups: Vec<Option<PodGroup>>,
    group_index: HashMap<u64, Vec<usize>>,
    free_groups: Vec<usize>,
    image_nodes: HashMap<String, usize>,
    namespaces: HashMap<String, Labels>,
    workloads: Workloads,
    nominated: HashMap<String, Vec<Arc<PodInfo>>>,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
    topology: RwLock<HashMap<String, Arc<TopologyIndex>>>,
}

/// `utilnode.GetZoneKey`: `region:\0:zone` from the topology (or legacy failure-domain) labels.
pub fn zone_key(node: &Node) -> String {
    let Some(labels) = node.metadata.labels.as_ref() else {
        return String::new();
    };
    let zone = labels
        .get("topology.kubernetes.io/zone")
        .or_else(|| labels.get("failure-domain.beta.kubernetes.io/zone"))
        .map(String::as_str)
        .unwrap_or("");
    let region = labels
        .get("topology.kubernetes.io/region")
        .or_else(|| labels.get("failure-domain.beta.kubernetes.io/region"))
        .map(String::as_str)
        .unwrap_or("");
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

impl Snapshot {
    pub fn new() -> Self {
        Snapshot::default()
    }

    /// A snapshot of these nodes and pods (pods must name one of the nodes in `spec.nodeName`).
    pub fn from_objects(
        nodes: impl IntoIterator<Item = Node>,
        pods: impl IntoIterator<Item = Pod>,
    ) -> Result<Self, SnapshotError> {
        let mut s = Snapshot::new();
        for n in nodes {
            s.add_node(n)?;
        }
        for p in pods {
            s.add_pod(Arc::new(PodInfo::new(p)))?;
        }
        Ok(s)
    }

    /// The number of nodes (`NumNodes`).
    #[inline]
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Node slots in `nodeTree` order (`NodeInfos().List()`).
    #[inline]
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Nodes in `nodeTree` order.
    pub fn list(&self) -> impl Iterator<Item = &NodeInfo> {
        self.order.iter().map(|&i| &self.nodes[i])
    }

    /// The node in `slot`.
    #[inline]
    pub fn node(&self, slot: usize) -> &NodeInfo {
        &self.nodes[slot]
    }

    /// A node by name.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.by_name.get(name).map(|&i| &self.nodes[i])
    }

    /// A node's slot by name.
    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Slots of the nodes with pods that have pod (anti-)affinity.
    pub fn have_pods_with_affinity(&self) -> &[usize] {
        &self.have_affinity
    }

    /// Slots of the nodes with pods that have required anti-affinity.
    pub fn have_pods_with_required_anti_affinity(&self) -> &[usize] {
        &self.have_required_anti_affinity
    }

    /// How many nodes report an image under this name.
    pub fn image_num_nodes(&self, name: &str) -> usize {
        self.image_nodes.get(name).copied().unwrap_or(0)
    }

    /// The node where a pod (by key) is, and the pod.
    pub fn pod(&self, key: &str) -> Option<(&NodeInfo, &Arc<PodInfo>)> {
        let (slot, _) = *self.pods_by_key.get(key)?;
        let ni = &self.nodes[slot];
        ni.pods().iter().find(|p| p.key() == key).map(|p| (ni, p))
    }

    /// Total pods in the snapshot.
    pub fn num_pods(&self) -> usize {
        self.pods_by_key.len()
    }

    /// Adds a node, or replaces the node object of the same name (pods on it are kept).
    pub fn add_node(&mut self, node: impl Into<Arc<Node>>) -> Result<(), SnapshotError> {
        let node: Arc<Node> = node.into();
        let name = node
            .metadata
            .name
            .clone()
            .ok_or(SnapshotError::NoNodeNameSet)?;
        self.topology.get_mut().map(|t| t.clear()).ok();
        if let Some(&slot) = self.by_name.get(&name) {
            let old_zone = zone_key(self.nodes[slot].node());
            let new_zone = zone_key(&node);
            self.count_images(slot, -1);
            self.nodes[slot].set_node(node);
            self.count_images(slot, 1);
            if old_zone != new_zone {
                self.zone_remove(&old_zone, slot);
                self.zone_add(new_zone, slot);
                self.rebuild_order();
            }
            return Ok(());
        }
        let slot = self.nodes.len();
        let zone = zone_key(&node);
        let mut ni = NodeInfo::new(node);
        ni.index = slot;
        self.nodes.push(ni);
        self.by_name.insert(name, slot);
        self.count_images(slot, 1);
        let single_zone = self.zones.len() == 1 && self.zones[0].0 == zone;
        self.zone_add(zone, slot);
        if single_zone {
            // One zone: the order is insertion order.
            self.order.push(slot);
        } else {
            self.rebuild_order();
        }
        Ok(())
    }

    /// Removes a node and the pods on it.
    pub fn remove_node(&mut self, name: &str) -> Result<(), SnapshotError> {
        let slot = self
            .by_name
            .remove(name)
            .ok_or_else(|| SnapshotError::NodeNotFound(name.to_string()))?;
        self.topology.get_mut().map(|t| t.clear()).ok();
        self.count_images(slot, -1);
        let zone = zone_key(self.nodes[slot].node());
        self.zone_remove(&zone, slot);
        self.nodes.remove(slot);
        // Slots after the removed one shift down by one.
        let fix = |i: usize| if i > slot { i - 1 } else { i };
        for (i, n) in self.nodes.iter_mut().enumerate() {
            n.index = i;
        }
        for v in self.by_name.values_mut() {
            *v = fix(*v);
        }
        self.rebuild_groups();
        for (_, slots) in &mut self.zones {
            for s in slots.iter_mut() {
                *s = fix(*s);
            }
        }
        self.have_affinity.retain(|&i| i != slot);
        self.have_affinity.iter_mut().for_each(|i| *i = fix(*i));
        self.have_required_anti_affinity.retain(|&i| i != slot);
        self.have_required_anti_affinity
            .iter_mut()
            .for_each(|i| *i = fix(*i));
        self.nominated.remove(name);
        self.rebuild_order();
        Ok(())
    }

    /// Adds a bound pod to its node (`spec.nodeName`).
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) -> Result<(), SnapshotError> {
        let node = pod.node_name();
        if node.is_empty() {
            return Err(SnapshotError::NoNodeName(pod.key().to_string()));
        }
        let slot = self.slot(node)?;
        self.add_pod_at(pod, slot)
    }

    /// Adds a pod to the node `node_name`, whatever its `spec.nodeName` says (an assumed pod's is
    /// not set).
    pub fn add_pod_on(&mut self, pod: Arc<PodInfo>, node_name: &str) -> Result<(), SnapshotError> {
        let slot = self.slot(node_name)?;
        self.add_pod_at(pod, slot)
    }

    fn slot(&self, node_name: &str) -> Result<usize, SnapshotError> {
        self.by_name
            .get(node_name)
            .copied()
            .ok_or_else(|| SnapshotError::NodeNotFound(node_name.to_string()))
    }

    fn add_pod_at(&mut self, pod: Arc<PodInfo>, slot: usize) -> Result<(), SnapshotError> {
        if self.pods_by_key.contains_key(pod.key()) {
            return Err(SnapshotError::PodExists(pod.key().to_string()));
        }
        let group = self.group_add(&pod, slot);
        self.pods_by_key
            .insert(pod.key().to_string(), (slot, group));
        let ni = &mut self.nodes[slot];
        let had_aff = !ni.pods_with_affinity().is_empty();
        let had_anti = !ni.pods_with_required_anti_affinity().is_empty();
        ni.add_pod(pod);
        if !had_aff && !ni.pods_with_affinity().is_empty() {
            self.have_affinity.push(slot);
        }
        if !had_anti && !ni.pods_with_required_anti_affinity().is_empty() {
            self.have_required_anti_affinity.push(slot);
        }
        Ok(())
    }

    /// Assumes `pod` on `node_name` (`AssumePod`): the pod counts on the node from now on, until the
    /// bound pod replaces it ([`Snapshot::update_pod`]) or it is forgotten ([`Snapshot::remove_pod`]).
    /// Upstream stores a copy of the pod with `spec.nodeName` set; here the pod as queued is stored
    /// (the snapshot knows its node by where it is): no copy per scheduled pod.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node_name: &str) -> Result<(), SnapshotError> {
        self.add_pod_on(pod, node_name)
    }

    /// Removes a pod by key (`RemovePod`, `ForgetPod`).
    pub fn remove_pod(&mut self, key: &str) -> Result<Arc<PodInfo>, SnapshotError> {
        let (slot, group) = self
            .pods_by_key
            .remove(key)
            .ok_or_else(|| SnapshotError::PodNotFound(key.to_string()))?;
        self.group_remove(group, slot);
        let ni = &mut self.nodes[slot];
        let pod = ni
            .remove_pod(key)
            .ok_or_else(|| SnapshotError::PodNotFound(key.to_string()))?;
        if ni.pods_with_affinity().is_empty() {
            self.have_affinity.retain(|&i| i != slot);
        }
        if ni.pods_with_required_anti_affinity().is_empty() {
            self.have_required_anti_affinity.retain(|&i| i != slot);
        }
        Ok(pod)
    }

    /// Replaces a pod (`UpdatePod`): removed by the old key, the new object added.
    pub fn update_pod(&mut self, old_key: &str, pod: Arc<PodInfo>) -> Result<(), SnapshotError> {
        self.remove_pod(old_key)?;
        self.add_pod(pod)
    }

    /// Sets a namespace's labels (for `namespaceSelector`).
    pub fn set_namespace(&mut self, name: &str, labels: Labels) {
        self.namespaces.insert(name.to_string(), labels);
    }

    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    /// A namespace's labels, `None` when the namespace is unknown.
    pub fn namespace_labels(&self, name: &str) -> Option<&Labels> {
        self.namespaces.get(name)
    }

    /// Names of the namespaces whose labels match `selector`.
    pub fn namespaces_matching<'a>(
        &'a self,
        selector: &'a Selector,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.namespaces
            .iter()
            .filter(move |(_, l)| selector.matches(l))
            .map(|(n, _)| n.as_str())
    }

    /// Sets a Service's selector (`None`: a Service without selector, which selects nothing).
    pub fn set_service(&mut self, namespace: &str, name: &str, selector: Option<Labels>) {
        let list = self
            .workloads
            .services
            .entry(namespace.to_string())
            .or_default();
        list.retain(|(n, _)| n != name);
        if let Some(sel) = selector {
            list.push((name.to_string(), sel));
        }
    }

    pub fn remove_service(&mut self, namespace: &str, name: &str) {
        self.set_service(namespace, name, None);
    }

    /// Sets a ReplicaSet's `spec.selector` (`None` removes it).
    pub fn set_replica_set(
        &mut self,
        namespace: &str,
        name: &str,
        selector: Option<Option<LabelSelector>>,
    ) {
        let key = (namespace.to_string(), name.to_string());
        match selector {
            Some(sel) => {
                self.workloads.replica_sets.insert(key, sel);
            }
            None => {
                self.workloads.replica_sets.remove(&key);
            }
        }
    }

    /// Sets a StatefulSet's `spec.selector` (`None` removes it).
    pub fn set_stateful_set(
        &mut self,
        namespace: &str,
        name: &str,
        selector: Option<Option<LabelSelector>>,
    ) {
        let key = (namespace.to_string(), name.to_string());
        match selector {
            Some(sel) => {
                self.workloads.stateful_sets.insert(key, sel);
            }
            None => {
                self.workloads.stateful_sets.remove(&key);
            }
        }
    }

    /// Sets a ReplicationController's `spec.selector` (`None` removes it).
    pub fn set_replication_controller(
        &mut self,
        namespace: &str,
        name: &str,
        selector: Option<Labels>,
    ) {
        let key = (namespace.to_string(), name.to_string());
        match selector {
            Some(sel) => {
                self.workloads.replication_controllers.insert(key, sel);
            }
            None => {
                self.workloads.replication_controllers.remove(&key);
            }
        }
    }

    pub fn workloads(&self) -> &Workloads {
        &self.workloads
    }

    /// Records a pod nominated to a node (`status.nominatedNodeName`), replacing an earlier nomination.
    pub fn add_nominated_pod(&mut self, pod: Arc<PodInfo>, node_name: &str) {
        self.remove_nominated_pod(pod.key());
        self.nominated
            .entry(node_name.to_string())
            .or_default()
            .push(pod);
    }

    /// Forgets a nomination.
    pub fn remove_nominated_pod(&mut self, key: &str) {
        for list in self.nominated.values_mut() {
            list.retain(|p| p.key() != key);
        }
        self.nominated.retain(|_, l| !l.is_empty());
    }

    /// Pods nominated to a node (`NominatedPodsForNode`); no lookup at all when nothing is nominated
    /// (most cycles: this runs for every node a cycle visits).
    #[inline]
    pub fn nominated_pods_for_node(&self, node_name: &str) -> &[Arc<PodInfo>] {
        if self.nominated.is_empty() {
            return &[];
        }
        self.nominated
            .get(node_name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Sets the PodDisruptionBudgets preemption respects.
    pub fn set_pdbs(&mut self, pdbs: Vec<PodDisruptionBudget>) {
        self.pdbs = pdbs.into_iter().map(Arc::new).collect();
    }

    pub fn pdbs(&self) -> &[Arc<PodDisruptionBudget>] {
        &self.pdbs
    }

    /// The dense numbering of `key`'s label values over the nodes, computed once per node change.
    pub fn topology(&self, key: &str) -> Arc<TopologyIndex> {
        if let Some(t) = self.topology.read().ok().and_then(|m| m.get(key).cloned()) {
            return t;
        }
        let mut idx = TopologyIndex {
            node_value: vec![TopologyIndex::MISSING; self.nodes.len()],
            ..Default::default()
        };
        for (slot, n) in self.nodes.iter().enumerate() {
            if let Some(v) = n.labels().get(key) {
                let next = idx.values.len() as u32;
                let id = *idx.ids.entry(v.clone()).or_insert(next);
                if id == next {
                    idx.values.push(v.clone());
                }
                idx.node_value[slot] = id;
            }
        }
        let idx = Arc::new(idx);
        if let Ok(mut m) = self.topology.write() {
            m.insert(key.to_string(), idx.clone());
        }
        idx
    }

    /// Groups of equivalent pods (see [`PodGroup`]).
    pub fn pod_groups(&self) -> impl Iterator<Item = &PodGroup> {
        self.groups.iter().flatten()
    }

    fn group_add(&mut self, pod: &Arc<PodInfo>, slot: usize) -> usize {
        let h = pod.group_hash();
        let found = self.group_index.get(&h).and_then(|ids| {
            ids.iter().copied().find(|&id| {
                self.groups[id]
                    .as_ref()
                    .is_some_and(|g| g.pod.same_group(pod))
            })
        });
        let id = match found {
            Some(id) => id,
            None => {
                let g = PodGroup {
                    pod: pod.clone(),
                    nodes: HashMap::new(),
                    total: 0,
                };
                let id = match self.free_groups.pop() {
                    Some(id) => {
                        self.groups[id] = Some(g);
                        id
                    }
                    None => {
                        self.groups.push(Some(g));
                        self.groups.len() - 1
                    }
                };
                self.group_index.entry(h).or_default().push(id);
                id
            }
        };
        let g = self.groups[id].as_mut().expect("live group");
        *g.nodes.entry(slot).or_insert(0) += 1;
        g.total += 1;
        id
    }

    fn group_remove(&mut self, id: usize, slot: usize) {
        let Some(g) = self.groups[id].as_mut() else {
            return;
        };
        if let Some(c) = g.nodes.get_mut(&slot) {
            *c -= 1;
            if *c == 0 {
                g.nodes.remove(&slot);
            }
        }
        g.total -= 1;
        if g.total == 0 {
            let h = g.pod.group_hash();
            if let Some(ids) = self.group_index.get_mut(&h) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    self.group_index.remove(&h);
                }
            }
            self.groups[id] = None;
            self.free_groups.push(id);
        }
    }

    /// Recomputes pod groups and pod locations from the nodes (after slots shift).
    fn rebuild_groups(&mut self) {
        self.groups.clear();
        self.group_index.clear();
        self.free_groups.clear();
        self.pods_by_key.clear();
        let pods: Vec<(usize, Arc<PodInfo>)> = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(slot, n)| n.pods().iter().map(move |p| (slot, p.clone())))
            .collect();
        for (slot, p) in pods {
            let g = self.group_add(&p, slot);
            self.pods_by_key.insert(p.key().to_string(), (slot, g));
        }
    }

    fn count_images(&mut self, slot: usize, delta: isize) {
        let names: Vec<String> = self.nodes[slot].image_names().map(str::to_string).collect();
        for name in names {
            let c = self.image_nodes.entry(name.clone()).or_insert(0);
            *c = c.saturating_add_signed(delta);
            if *c == 0 {
                self.image_nodes.remove(&name);
            }
        }
    }

    fn zone_add(&mut self, zone: String, slot: usize) {
        match self.zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, slots)) => slots.push(slot),
            None => self.zones.push((zone, vec![slot])),
        }
    }

    fn zone_remove(&mut self, zone: &str, slot: usize) {
        if let Some(i) = self.zones.iter().position(|(z, _)| z == zone) {
            self.zones[i].1.retain(|&s| s != slot);
            if self.zones[i].1.is_empty() {
                self.zones.remove(i);
            }
        }
    }

    /// `nodeTree.list()`: one node of each zone in turn.
    fn rebuild_order(&mut self) {
        self.order.clear();
        let longest = self.zones.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
        for i in 0..longest {
            for (_, slots) in &self.zones {
                if let Some(&s) = slots.get(i) {
                    self.order.push(s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn node_tree_order_interleaves_zones() {
        let mut s = Snapshot::new();
        for (n, z) in [
            ("a1", "a"),
            ("a2", "a"),
            ("b1", "b"),
            ("a3", "a"),
            ("c1", "c"),
        ] {
            s.add_node(node(n).label("topology.kubernetes.io/zone", z).build())
                .unwrap();
        }
        let names: Vec<&str> = s.list().map(|n| n.name()).collect();
        assert_eq!(names, ["a1", "b1", "c1", "a2", "a3"]);
        s.remove_node("b1").unwrap();
        let names: Vec<&str> = s.list().map(|n| n.name()).collect();
        assert_eq!(names, ["a1", "c1", "a2", "a3"]);
        assert_eq!(s.get("c1").unwrap().index(), s.slot_of("c1").unwrap());
    }

    #[test]
    fn pods_affinity_lists_and_images() {
        let mut s = Snapshot::new();
        s.add_node(node("n1").image("nginx:1", 100).build())
            .unwrap();
        s.add_node(node("n2").image("nginx:1", 100).build())
            .unwrap();
        assert_eq!(s.image_num_nodes("nginx:1"), 2);
        let p = pod("p")
            .node("n2")
            .pod_anti_affinity_required("app", "x", "kubernetes.io/hostname")
            .build();
        s.add_pod(Arc::new(PodInfo::new(p))).unwrap();
        assert_eq!(s.have_pods_with_affinity(), &[1]);
        assert_eq!(s.have_pods_with_required_anti_affinity(), &[1]);
        s.remove_node("n1").unwrap();
        assert_eq!(s.have_pods_with_affinity(), &[0]);
        assert_eq!(s.image_num_nodes("nginx:1"), 1);
        s.remove_pod("default/p").unwrap();
        assert!(s.have_pods_with_affinity().is_empty());
        assert_eq!(s.num_pods(), 0);
    }

    #[test]
    fn pod_groups_count_equivalent_pods() {
        let mut s = Snapshot::new();
        s.add_node(node("n1").build()).unwrap();
        s.add_node(node("n2").build()).unwrap();
        for (p, n) in [("a", "n1"), ("b", "n1"), ("c", "n2")] {
            s.add_pod(Arc::new(PodInfo::new(
                pod(p).label("app", "web").node(n).build(),
            )))
            .unwrap();
        }
        s.add_pod(Arc::new(PodInfo::new(
            pod("d").label("app", "db").node("n2").build(),
        )))
        .unwrap();
        type Row = (String, usize, Vec<(usize, u32)>);
        let mut groups: Vec<Row> = s
            .pod_groups()
            .map(|g| {
                let mut n: Vec<(usize, u32)> = g.nodes().collect();
                n.sort();
                (g.pod().labels()["app"].clone(), g.total(), n)
            })
            .collect();
        groups.sort();
        assert_eq!(
            groups,
            [
                ("db".to_string(), 1, vec![(1, 1)]),
                ("web".to_string(), 3, vec![(0, 2), (1, 1)])
            ]
        );
        s.remove_pod("default/d").unwrap();
        assert_eq!(s.pod_groups().count(), 1);
        s.remove_node("n1").unwrap();
        let g: Vec<(usize, Vec<(usize, u32)>)> = s
            .pod_groups()
            .map(|g| (g.total(), g.nodes().collect()))
            .collect();
        assert_eq!(g, [(1, vec![(0, 1)])]);
        assert!(s.pod("default/c").is_some());
    }

    #[test]
    fn default_selector_from_services_and_owners() {
        let mut s = Snapshot::new();
        s.set_service(
            "default",
            "web",
            Some([("app".to_string(), "web".to_string())].into()),
        );
        s.set_service(
            "default",
            "other",
            Some([("app".to_string(), "db".to_string())].into()),
        );
        s.set_replica_set(
            "default",
            "web-abc",
            Some(Some(crate::testing::selector(&[(
                "pod-template-hash",
                "abc",
            )]))),
        );
        let p = PodInfo::new(
            pod("p")
                .label("app", "web")
                .label("pod-template-hash", "abc")
                .owner("apps/v1", "ReplicaSet", "web-abc")
                .build(),
        );
        let sel = s.workloads().default_selector(&p);
        let keys: Vec<&str> = sel.requirements().iter().map(|r| r.key()).collect();
        assert_eq!(keys, ["app", "pod-template-hash"]);
        assert!(sel.matches(p.labels()));
        // No service, no owner: an empty selector (no default spreading).
        let lone = PodInfo::new(pod("q").label("x", "y").build());
        assert!(s.workloads().default_selector(&lone).is_empty());
        // An owner of another kind adds nothing.
        let job = PodInfo::new(
            pod("j")
                .label("app", "web")
                .owner("batch/v1", "Job", "j")
                .build(),
        );
        assert_eq!(s.workloads().default_selector(&job).requirements().len(), 1);
    }

    #[test]
    fn topology_index() {
        let mut s = Snapshot::new();
        s.add_node(node("n1").label("zone", "a").build()).unwrap();
        s.add_node(node("n2").label("zone", "b").build()).unwrap();
        s.add_node(node("n3").build()).unwrap();
        s.add_node(node("n4").label("zone", "a").build()).unwrap();
        let t = s.topology("zone");
        assert_eq!(t.len(), 2);
        assert_eq!(t.value_of(0), t.value_of(3));
        assert_ne!(t.value_of(0), t.value_of(1));
        assert_eq!(t.value_of(2), None);
        s.add_node(node("n3").label("zone", "c").build()).unwrap();
        assert_eq!(s.topology("zone").len(), 3);
    }
}
