//! `framework.PodInfo` and the parsed pieces of a pod the plugins need.
//!
//! A pod is parsed once, when it enters the snapshot (or once per cycle for the pod being scheduled):
//! its requests as integers, its (anti-)affinity terms with compiled selectors, its host ports. Every
//! Filter/Score then reads these fields instead of walking the API object.

use crate::framework::Selector;
use crate::labels::{labels_of, Labels};
use crate::resources::{requests_and_non_zero, Resource};
use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, Toleration, WeightedPodAffinityTerm};
use std::sync::Arc;

/// `framework.AffinityTerm`: a parsed `PodAffinityTerm`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AffinityTerm {
    /// Namespaces named by the term, or the pod's own when neither `namespaces` nor
    /// `namespaceSelector` is set. Namespaces matched by `namespaceSelector` are merged in at
    /// PreFilter/PreScore for the incoming pod.
    pub namespaces: Vec<String>,
    pub selector: Selector,
    pub topology_key: String,
    /// `nil` selects no namespace; `{}` every namespace.
    pub namespace_selector: Selector,
}

impl AffinityTerm {
    /// `newAffinityTerm`.
    pub fn new(pod: &Pod, term: &PodAffinityTerm) -> Result<Self, String> {
        let selector = Selector::from_label_selector(term.label_selector.as_ref())?;
        let namespaces = match (&term.namespaces, &term.namespace_selector) {
            (ns, None) if ns.as_ref().is_none_or(|n| n.is_empty()) => {
                vec![pod.metadata.namespace.clone().unwrap_or_default()]
            }
            (ns, _) => ns.clone().unwrap_or_default(),
        };
        let namespace_selector = Selector::from_label_selector(term.namespace_selector.as_ref())?;
        Ok(AffinityTerm {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector,
        })
    }

    /// `AffinityTerm.Matches`: the pod is in one of the term's namespaces (or its namespace's labels
    /// match the namespace selector) and its labels match the selector.
    #[inline]
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&Labels>) -> bool {
        let ns = pod.namespace();
        let in_ns = self.namespaces.iter().any(|n| n == ns)
            || self
                .namespace_selector
                .matches(ns_labels.unwrap_or(&crate::labels::EMPTY_LABELS));
        in_ns && self.selector.matches(pod.labels())
    }
}

/// `framework.WeightedAffinityTerm`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightedAffinityTerm {
    pub term: AffinityTerm,
    pub weight: i32,
}

/// One host port a container asks for, sanitized as `HostPortInfo` does (`""` IP is `0.0.0.0`,
/// `""` protocol is `TCP`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

/// `DefaultBindAllHostIP`.
pub const DEFAULT_BIND_ALL_HOST_IP: &str = "0.0.0.0";

impl HostPort {
    pub fn new(ip: &str, protocol: &str, port: i32) -> Self {
        HostPort {
            ip: if ip.is_empty() {
                DEFAULT_BIND_ALL_HOST_IP.to_string()
            } else {
                ip.to_string()
            },
            protocol: if protocol.is_empty() {
                "TCP".to_string()
            } else {
                protocol.to_string()
            },
            port,
        }
    }

    /// `HostPortInfo.CheckConflict` of this wanted port against the ports in use: `0.0.0.0` conflicts
    /// with every IP, a specific IP with itself and `0.0.0.0`.
    pub fn conflicts_with(&self, used: &[HostPort]) -> bool {
        if self.port <= 0 {
            return false;
        }
        let any = self.ip == DEFAULT_BIND_ALL_HOST_IP;
        used.iter().any(|u| {
            u.port == self.port
                && u.protocol == self.protocol
                && (any || u.ip == self.ip || u.ip == DEFAULT_BIND_ALL_HOST_IP)
        })
    }
}

/// `framework.PodInfo`: a pod with the parts the plugins use, parsed once.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    key: String,
    priority: i32,
    /// `PodRequests` (with overhead), as counted in `NodeInfo.Requested`.
    pub requests: Resource,
    /// CPU (milli) and memory of `PodRequests` with the non-zero defaults, as counted in
    /// `NodeInfo.NonZeroRequested`.
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub required_affinity_terms: Vec<AffinityTerm>,
    pub required_anti_affinity_terms: Vec<AffinityTerm>,
    pub preferred_affinity_terms: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity_terms: Vec<WeightedAffinityTerm>,
    /// Host ports of the app containers (`hostPort > 0`).
    pub host_ports: Vec<HostPort>,
    has_affinity: bool,
    has_required_anti_affinity: bool,
    parse_error: Option<String>,
    /// Hash of what makes pods interchangeable for affinity and spreading ([`PodInfo::same_group`]).
    group_hash: u64,
}

impl PodInfo {
    /// `framework.NewPodInfo`. Affinity terms that fail to parse are dropped and reported by
    /// [`PodInfo::parse_error`].
    pub fn new(pod: impl Into<Arc<Pod>>) -> Self {
        let pod: Arc<Pod> = pod.into();
        let key = pod_key(&pod);
        let spec = pod.spec.as_ref();
        let priority = spec.and_then(|s| s.priority).unwrap_or(0);
        let (requests, non_zero_cpu, non_zero_memory) = requests_and_non_zero(&pod);
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let mut errs = Vec::new();
        let required =
            |terms: Option<&Vec<PodAffinityTerm>>, what: &str, errs: &mut Vec<String>| {
                let mut out = Vec::new();
                for t in terms.into_iter().flatten() {
                    match AffinityTerm::new(&pod, t) {
                        Ok(t) => out.push(t),
                        Err(e) => {
                            errs.push(format!("{what}: {e}"));
                            return Vec::new();
                        }
                    }
                }
                out
            };
        let weighted =
            |terms: Option<&Vec<WeightedPodAffinityTerm>>, what: &str, errs: &mut Vec<String>| {
                let mut out = Vec::new();
                for t in terms.into_iter().flatten() {
                    match AffinityTerm::new(&pod, &t.pod_affinity_term) {
                        Ok(term) => out.push(WeightedAffinityTerm {
                            term,
                            weight: t.weight,
                        }),
                        Err(e) => {
                            errs.push(format!("{what}: {e}"));
                            return Vec::new();
                        }
                    }
                }
                out
            };
        let required_affinity_terms = required(
            pa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "requiredAffinityTerms",
            &mut errs,
        );
        let required_anti_affinity_terms = required(
            paa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "requiredAntiAffinityTerms",
            &mut errs,
        );
        let preferred_affinity_terms = weighted(
            pa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "preferredAffinityTerms",
            &mut errs,
        );
        let preferred_anti_affinity_terms = weighted(
            paa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "preferredAntiAffinityTerms",
            &mut errs,
        );
        let mut host_ports = Vec::new();
        for c in spec.map(|s| s.containers.as_slice()).unwrap_or_default() {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort::new(
                        p.host_ip.as_deref().unwrap_or(""),
                        p.protocol.as_deref().unwrap_or(""),
                        hp,
                    ));
                }
            }
        }
        let parse_error = match errs.len() {
            0 => None,
            1 => errs.pop(),
            _ => Some(format!("[{}]", errs.join(", "))),
        };
        let mut info = PodInfo {
            key,
            priority,
            non_zero_cpu,
            non_zero_memory,
            requests,
            required_affinity_terms,
            required_anti_affinity_terms,
            preferred_affinity_terms,
            preferred_anti_affinity_terms,
            host_ports,
            has_affinity: pa.is_some() || paa.is_some(),
            has_required_anti_affinity: paa
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .is_some_and(|r| !r.is_empty()),
            parse_error,
            group_hash: 0,
            pod,
        };
        info.group_hash = info.compute_group_hash();
        info
    }

    fn compute_group_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.namespace().hash(&mut h);
        self.labels().hash(&mut h);
        self.is_terminating().hash(&mut h);
        self.required_affinity_terms.hash(&mut h);
        self.required_anti_affinity_terms.hash(&mut h);
        self.preferred_affinity_terms.hash(&mut h);
        self.preferred_anti_affinity_terms.hash(&mut h);
        h.finish()
    }

    /// The hash of [`PodInfo::same_group`]'s fields.
    pub fn group_hash(&self) -> u64 {
        self.group_hash
    }

    /// Whether two pods are interchangeable for inter-pod affinity and spreading: same namespace,
    /// labels, termination state and (anti-)affinity terms.
    pub fn same_group(&self, other: &PodInfo) -> bool {
        self.group_hash == other.group_hash
            && self.namespace() == other.namespace()
            && self.labels() == other.labels()
            && self.is_terminating() == other.is_terminating()
            && self.required_affinity_terms == other.required_affinity_terms
            && self.required_anti_affinity_terms == other.required_anti_affinity_terms
            && self.preferred_affinity_terms == other.preferred_affinity_terms
            && self.preferred_anti_affinity_terms == other.preferred_anti_affinity_terms
    }

    /// The pod's identity in the snapshot: its UID, or `namespace/name` when it has none.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `corev1helpers.PodPriority`: `spec.priority`, 0 when unset.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }

    #[inline]
    pub fn labels(&self) -> &Labels {
        labels_of(&self.pod.metadata.labels)
    }

    /// `spec.nodeName` (`""` when unset).
    pub fn node_name(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
    }

    pub fn tolerations(&self) -> &[Toleration] {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default()
    }

    /// True when the pod has a deletion timestamp.
    pub fn is_terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }

    /// `podWithAffinity`: the pod has pod affinity or anti-affinity of any kind.
    pub fn has_affinity(&self) -> bool {
        self.has_affinity
    }

    /// `podWithRequiredAntiAffinity`.
    pub fn has_required_anti_affinity(&self) -> bool {
        self.has_required_anti_affinity
    }

    /// The error `NewPodInfo` returned while parsing affinity terms, if any.
    pub fn parse_error(&self) -> Option<&str> {
        self.parse_error.as_deref()
    }

    /// `status.nominatedNodeName` (`""` when unset).
    pub fn nominated_node_name(&self) -> &str {
        self.pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .unwrap_or("")
    }
}

/// The key of a pod: UID, or `namespace/name`.
pub fn pod_key(pod: &Pod) -> String {
    match pod.metadata.uid.as_deref() {
        Some(uid) if !uid.is_empty() => uid.to_string(),
        _ => format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or("")
        ),
    }
}

/// `framework.ImageStateSummary`: an image's size on a node and how many nodes have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageStateSummary {
    pub size: i64,
    pub num_nodes: usize,
}
