//! `framework.NodeInfo`: a node with everything the plugins read about it, precomputed.
//!
//! Allocatable resources are integers, the pods on the node (bound and assumed) are kept with their
//! summed requests (`Requested`, and `NonZeroRequested` for scoring), host ports in use, and the images
//! the node reports. Adding or removing a pod updates the sums incrementally; preemption clones a
//! `NodeInfo` (cheap: pods and images are shared `Arc`s) and removes victims from the copy.
//!
//! The facts of the node object that Filter and Score read for every node they visit (name,
//! `spec.unschedulable`, whether it has taints) are copied into the `NodeInfo` itself: the `Node`
//! behind its `Arc` lives elsewhere on the heap, and one cycle visits hundreds of nodes, so following
//! that pointer for each is a cache miss per node. The snapshot keeps `NodeInfo`s in one array.

use crate::framework::types::{HostPort, PodInfo};
use crate::labels::{labels_of, Labels};
use crate::resources::Resource;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::collections::HashMap;
use std::sync::Arc;

/// A node and the pods on it.
///
/// `repr(C)` keeps the fields in the order written: what Filter reads for every node it visits comes
/// first, then what Score reads, then the rest, so that a visit touches as few cache lines as it can.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct NodeInfo {
    /// `spec.unschedulable`, copied out of `node` (see the module doc).
    unschedulable: bool,
    /// Whether `spec.taints` is non-empty, so that untainted nodes skip reading `node`.
    has_taints: bool,
    /// The node's slot in its [`Snapshot`](crate::framework::Snapshot) (stable while the node exists).
    pub(crate) index: usize,
    pods: Vec<Arc<PodInfo>>,
    pub allocatable: Resource,
    pub requested: Resource,
    /// Requested CPU and memory with the non-zero defaults for pods that ask for none (scoring).
    pub non_zero_requested: Resource,
    /// Image name (every name of every `status.images` entry) to size in bytes.
    images: Arc<HashMap<String, i64>>,
    /// `metadata.name` (`""` when unset), copied out of `node`.
    name: Arc<str>,
    node: Arc<Node>,
    pods_with_affinity: Vec<Arc<PodInfo>>,
    pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    used_ports: Vec<HostPort>,
    /// Bumped on every change, like upstream's `Generation`.
    pub generation: u64,
}

impl NodeInfo {
    /// A node without pods.
    pub fn new(node: impl Into<Arc<Node>>) -> Self {
        let node: Arc<Node> = node.into();
        let mut ni = NodeInfo {
            unschedulable: false,
            has_taints: false,
            index: 0,
            pods: Vec::new(),
            allocatable: Resource::default(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            images: Arc::default(),
            name: Arc::from(""),
            node: node.clone(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: Vec::new(),
            generation: 0,
        };
        ni.set_node(node);
        ni
    }

    /// Replaces the node object (`SetNode`): allocatable and images are recomputed, pods kept.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let status = node.status.as_ref();
        self.allocatable = status
            .and_then(|s| s.allocatable.as_ref())
            .map(Resource::from_list)
            .unwrap_or_default();
        let mut images = HashMap::new();
        for img in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            for name in img.names.iter().flatten() {
                images.insert(name.clone(), img.size_bytes.unwrap_or(0));
            }
        }
        self.images = Arc::new(images);
        let name = node.metadata.name.as_deref().unwrap_or("");
        if *self.name != *name {
            self.name = Arc::from(name);
        }
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.has_taints = spec
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|t| !t.is_empty());
        self.node = node;
        self.generation += 1;
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn node_arc(&self) -> &Arc<Node> {
        &self.node
    }

    /// `metadata.name` (`""` when unset).
    #[inline]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's slot in its snapshot.
    #[inline]
    pub fn index(&self) -> usize {
        self.index
    }

    #[inline]
    pub fn labels(&self) -> &Labels {
        labels_of(&self.node.metadata.labels)
    }

    /// `spec.taints`.
    #[inline]
    pub fn taints(&self) -> &[Taint] {
        if !self.has_taints {
            return &[];
        }
        self.node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default()
    }

    /// `spec.unschedulable`.
    #[inline]
    pub fn unschedulable(&self) -> bool {
        self.unschedulable
    }

    /// Every pod on the node, bound or assumed.
    #[inline]
    pub fn pods(&self) -> &[Arc<PodInfo>] {
        &self.pods
    }

    /// Pods with pod affinity or anti-affinity.
    pub fn pods_with_affinity(&self) -> &[Arc<PodInfo>] {
        &self.pods_with_affinity
    }

    /// Pods with required anti-affinity.
    pub fn pods_with_required_anti_affinity(&self) -> &[Arc<PodInfo>] {
        &self.pods_with_required_anti_affinity
    }

    /// Host ports in use (`UsedPorts`).
    pub fn used_ports(&self) -> &[HostPort] {
        &self.used_ports
    }

    /// The size of an image the node has, by any of its names.
    #[inline]
    pub fn image_size(&self, name: &str) -> Option<i64> {
        self.images.get(name).copied()
    }

    /// Every image name the node reports.
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.images.keys().map(String::as_str)
    }

    /// `AddPodInfo`: counts the pod's requests, ports and affinity on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.milli_cpu += pod.non_zero_cpu;
        self.non_zero_requested.memory += pod.non_zero_memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// `RemovePod`: the pod with this key, if it is on the node.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key() == key)?;
        let pod = self.pods.swap_remove(i);
        if let Some(j) = self.pods_with_affinity.iter().position(|p| p.key() == key) {
            self.pods_with_affinity.swap_remove(j);
        }
        if let Some(j) = self
            .pods_with_required_anti_affinity
            .iter()
            .position(|p| p.key() == key)
        {
            self.pods_with_required_anti_affinity.swap_remove(j);
        }
        self.requested.sub(&pod.requests);
        self.requested.scalar.retain(|(_, v)| *v != 0);
        self.non_zero_requested.milli_cpu -= pod.non_zero_cpu;
        self.non_zero_requested.memory -= pod.non_zero_memory;
        for hp in &pod.host_ports {
            if let Some(k) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(k);
            }
        }
        self.generation += 1;
        Some(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn add_and_remove_pods_keep_sums() {
        let mut ni = NodeInfo::new(node("n1").cpu("4").memory("8Gi").pods(10).build());
        assert_eq!(ni.allocatable.milli_cpu, 4000);
        assert_eq!(ni.allocatable.allowed_pod_number, 10);
        let a = Arc::new(PodInfo::new(pod("a").req("cpu", "1").host_port(80).build()));
        let b = Arc::new(PodInfo::new(pod("b").build()));
        ni.add_pod(a.clone());
        ni.add_pod(b.clone());
        assert_eq!(ni.requested.milli_cpu, 1000);
        assert_eq!(ni.non_zero_requested.milli_cpu, 1100);
        assert_eq!(ni.non_zero_requested.memory, 2 * 200 * 1024 * 1024);
        assert_eq!(ni.used_ports().len(), 1);
        ni.remove_pod(a.key()).unwrap();
        assert_eq!(ni.requested.milli_cpu, 0);
        assert_eq!(ni.non_zero_requested.milli_cpu, 100);
        assert!(ni.used_ports().is_empty());
        assert_eq!(ni.pods().len(), 1);
        assert!(ni.remove_pod("nope").is_none());
    }
}
