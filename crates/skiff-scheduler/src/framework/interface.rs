//! The extension points (`framework/interface.go`): one trait per point, and the results they exchange.
//!
//! A plugin is one type implementing [`Plugin`] plus the point traits it supports; `Plugin::as_filter`
//! and friends say which (Go checks interface implementation by reflection, Rust asks the plugin).
//! The incoming pod is passed parsed ([`PodInfo`]) and nodes as [`NodeInfo`]; points that need the whole
//! cluster (PreFilter, PreScore, PostFilter) also get the [`Snapshot`].

use crate::framework::{CycleState, NodeInfo, PodInfo, Profile, Snapshot, Status};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// `framework.MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// `framework.MinNodeScore`.
pub const MIN_NODE_SCORE: i64 = 0;
/// `framework.MaxTotalScore`.
pub const MAX_TOTAL_SCORE: i64 = i64::MAX;

/// A plugin: a name and the extension points it implements.
pub trait Plugin: Send + Sync + 'static {
    /// The upstream plugin name (`NodeResourcesFit`).
    fn name(&self) -> &'static str;

    fn as_pre_enqueue(&self) -> Option<&dyn PreEnqueuePlugin> {
        None
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        None
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        None
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        None
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        None
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        None
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        None
    }
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        None
    }
    fn as_permit(&self) -> Option<&dyn PermitPlugin> {
        None
    }
    fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> {
        None
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        None
    }
    fn as_post_bind(&self) -> Option<&dyn PostBindPlugin> {
        None
    }
}

/// The extension points, in the order of a scheduling and binding cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtensionPoint {
    PreEnqueue,
    QueueSort,
    PreFilter,
    Filter,
    PostFilter,
    PreScore,
    Score,
    Reserve,
    Permit,
    PreBind,
    Bind,
    PostBind,
}

impl ExtensionPoint {
    pub const ALL: [ExtensionPoint; 12] = [
        ExtensionPoint::PreEnqueue,
        ExtensionPoint::QueueSort,
        ExtensionPoint::PreFilter,
        ExtensionPoint::Filter,
        ExtensionPoint::PostFilter,
        ExtensionPoint::PreScore,
        ExtensionPoint::Score,
        ExtensionPoint::Reserve,
        ExtensionPoint::Permit,
        ExtensionPoint::PreBind,
        ExtensionPoint::Bind,
        ExtensionPoint::PostBind,
    ];

    /// The Go interface name (`FilterPlugin`), as upstream's configuration errors print it.
    pub fn interface_name(self) -> &'static str {
        match self {
            ExtensionPoint::PreEnqueue => "PreEnqueuePlugin",
            ExtensionPoint::QueueSort => "QueueSortPlugin",
            ExtensionPoint::PreFilter => "PreFilterPlugin",
            ExtensionPoint::Filter => "FilterPlugin",
            ExtensionPoint::PostFilter => "PostFilterPlugin",
            ExtensionPoint::PreScore => "PreScorePlugin",
            ExtensionPoint::Score => "ScorePlugin",
            ExtensionPoint::Reserve => "ReservePlugin",
            ExtensionPoint::Permit => "PermitPlugin",
            ExtensionPoint::PreBind => "PreBindPlugin",
            ExtensionPoint::Bind => "BindPlugin",
            ExtensionPoint::PostBind => "PostBindPlugin",
        }
    }

    /// Whether `plugin` implements this point.
    pub fn implemented_by(self, plugin: &dyn Plugin) -> bool {
        match self {
            ExtensionPoint::PreEnqueue => plugin.as_pre_enqueue().is_some(),
            ExtensionPoint::QueueSort => plugin.as_queue_sort().is_some(),
            ExtensionPoint::PreFilter => plugin.as_pre_filter().is_some(),
            ExtensionPoint::Filter => plugin.as_filter().is_some(),
            ExtensionPoint::PostFilter => plugin.as_post_filter().is_some(),
            ExtensionPoint::PreScore => plugin.as_pre_score().is_some(),
            ExtensionPoint::Score => plugin.as_score().is_some(),
            ExtensionPoint::Reserve => plugin.as_reserve().is_some(),
            ExtensionPoint::Permit => plugin.as_permit().is_some(),
            ExtensionPoint::PreBind => plugin.as_pre_bind().is_some(),
            ExtensionPoint::Bind => plugin.as_bind().is_some(),
            ExtensionPoint::PostBind => plugin.as_post_bind().is_some(),
        }
    }
}

/// A pod waiting in the scheduling queue (`framework.QueuedPodInfo`).
#[derive(Debug, Clone)]
pub struct QueuedPodInfo {
    pub pod_info: Arc<PodInfo>,
    /// When the pod was added to the queue, in nanoseconds on the caller's clock.
    pub timestamp: i128,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// When the pod was first added to the queue.
    pub initial_attempt_timestamp: Option<i128>,
}

/// Decides whether a pod may enter the active queue (e.g. `SchedulingGates`).
pub trait PreEnqueuePlugin: Plugin {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status;
}

/// Orders the active queue.
pub trait QueueSortPlugin: Plugin {
    /// Whether `a` should be scheduled before `b`.
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool;
}

/// `framework.PreFilterResult`: the nodes a PreFilter plugin allows (`None`: all nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreFilterResult {
    pub node_names: Option<HashSet<String>>,
}

impl PreFilterResult {
    /// Whether every node is allowed.
    pub fn all_nodes(&self) -> bool {
        self.node_names.is_none()
    }

    /// `Merge`: the intersection of both sets (`None` is everything).
    pub fn merge(self, other: Option<PreFilterResult>) -> PreFilterResult {
        match (self.node_names, other.and_then(|o| o.node_names)) {
            (None, o) => PreFilterResult { node_names: o },
            (s, None) => PreFilterResult { node_names: s },
            (Some(a), Some(b)) => PreFilterResult {
                node_names: Some(a.intersection(&b).cloned().collect()),
            },
        }
    }
}

/// Computes per-cycle state before filtering; may narrow the nodes or reject the pod outright.
pub trait PreFilterPlugin: Plugin {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status);

    /// Whether `add_pod`/`remove_pod` are implemented (`PreFilterExtensions() != nil`).
    fn has_extensions(&self) -> bool {
        false
    }

    /// Updates the PreFilter state as if `pod_to_add` ran on `node` (nominated pods, preemption).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod_to_schedule: &PodInfo,
        _pod_to_add: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }

    /// Updates the PreFilter state as if `pod_to_remove` were gone from `node` (preemption).
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod_to_schedule: &PodInfo,
        _pod_to_remove: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Decides whether the pod can run on one node. Must not allocate on success.
pub trait FilterPlugin: Plugin {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// The status recorded for each node that failed filtering (`framework.NodeToStatus`).
#[derive(Debug, Clone, Default)]
pub struct NodeToStatus {
    /// Node slot and status, in evaluation order.
    entries: Vec<(usize, Status)>,
    /// Node slot to index in `entries`.
    index: std::collections::HashMap<usize, usize>,
    /// The status of nodes not in `entries` (`AbsentNodesStatus`); UnschedulableAndUnresolvable by
    /// default.
    absent: Option<Status>,
}

impl NodeToStatus {
    pub fn new() -> Self {
        NodeToStatus::default()
    }

    pub fn set(&mut self, slot: usize, status: Status) {
        match self.index.get(&slot) {
            Some(&i) => self.entries[i].1 = status,
            None => {
                self.index.insert(slot, self.entries.len());
                self.entries.push((slot, status));
            }
        }
    }

    /// The status of a node: its own, or the absent-nodes status.
    pub fn get(&self, slot: usize) -> Status {
        self.index
            .get(&slot)
            .map(|&i| self.entries[i].1.clone())
            .unwrap_or_else(|| self.absent_nodes_status())
    }

    /// Statuses recorded per node.
    pub fn entries(&self) -> &[(usize, Status)] {
        &self.entries
    }

    /// How many nodes have their own status.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn set_absent_nodes_status(&mut self, status: Status) {
        self.absent = Some(status);
    }

    /// The status of nodes without their own entry.
    pub fn absent_nodes_status(&self) -> Status {
        self.absent.clone().unwrap_or_else(|| {
            Status::code_only(crate::framework::Code::UnschedulableAndUnresolvable)
        })
    }

    /// `NodesForStatusCode`: slots of the nodes (in snapshot order) whose status has `code`.
    pub fn nodes_for_status_code(
        &self,
        snapshot: &Snapshot,
        code: crate::framework::Code,
    ) -> Vec<usize> {
        if self.absent_nodes_status().code() == code {
            return snapshot
                .order()
                .iter()
                .copied()
                .filter(|&s| self.get(s).code() == code)
                .collect();
        }
        self.entries
            .iter()
            .filter(|(_, st)| st.code() == code)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// What a PostFilter (preemption) decided (`framework.PostFilterResult` plus the preemption's effects,
/// which the caller carries out: Skiff's core does no API calls).
#[derive(Debug, Clone, Default)]
pub struct PostFilterResult {
    /// `Some(name)`: set `status.nominatedNodeName` to `name` (`Some("")` clears it).
    pub nominated_node_name: Option<String>,
    /// Pods to delete (gracefully, with a `DisruptionTarget` condition) so that the pod fits.
    pub victims: Vec<Arc<Pod>>,
    /// Lower-priority pods nominated to the same node whose nomination should be cleared.
    pub nominations_to_clear: Vec<Arc<Pod>>,
}

/// Runs when no node fits (preemption).
pub trait PostFilterPlugin: Plugin {
    fn post_filter(
        &self,
        state: &CycleState,
        profile: &Profile,
        snapshot: &Snapshot,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status);
}

/// Computes per-cycle state before scoring the feasible nodes.
pub trait PreScorePlugin: Plugin {
    fn pre_score(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Status;
}

/// Ranks one feasible node; `normalize_score` maps the raw scores to `0..=100`.
pub trait ScorePlugin: Plugin {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;

    /// [`ScorePlugin::score`] of every node, appended to `scores` in the order of `nodes`; the first
    /// error stops. Plugins override it to read their cycle state once per cycle rather than once
    /// per node; the scores must be the same as `score`'s.
    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut Vec<i64>,
    ) -> Result<(), Status> {
        for n in nodes {
            scores.push(self.score(state, pod, n)?);
        }
        Ok(())
    }

    /// Whether the plugin normalizes (`ScoreExtensions() != nil`).
    fn has_normalize(&self) -> bool {
        false
    }

    /// Normalizes `scores` (aligned with `nodes`) in place.
    fn normalize_score(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _scores: &mut [i64],
    ) -> Status {
        Status::success()
    }
}

/// Reserves (and on failure releases) resources for the pod on the chosen node.
pub trait ReservePlugin: Plugin {
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str) -> Status;
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str);
}

/// Approves, rejects or delays the binding.
pub trait PermitPlugin: Plugin {
    /// A `Wait` status comes with how long to wait at most.
    fn permit(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str) -> (Status, Duration);
}

/// Runs before binding (e.g. provisioning volumes).
pub trait PreBindPlugin: Plugin {
    fn pre_bind(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str) -> Status;
}

/// Binds the pod; `Skip` passes to the next bind plugin.
pub trait BindPlugin: Plugin {
    fn bind(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str) -> Status;
}

/// Informational, after a successful bind.
pub trait PostBindPlugin: Plugin {
    fn post_bind(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str);
}
