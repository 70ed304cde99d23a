//! `PodTopologySpread` (PreFilter, Filter, PreScore, Score): spread matching pods evenly across
//! topology domains.
//!
//! Hard constraints (`whenUnsatisfiable: DoNotSchedule`) filter: placing the pod in the node's domain
//! must keep `matching pods in the domain + self - global minimum <= maxSkew`, where the global
//! minimum is 0 while fewer than `minDomains` domains exist. A node without the topology label fails
//! with `node(s) didn't match pod topology spread constraints (missing required label)`, a skew
//! violation with `node(s) didn't match pod topology spread constraints` (Unschedulable).
//!
//! Soft constraints (`ScheduleAnyway`) score: fewer matching pods in the node's domains score higher,
//! each domain count weighted by `ln(number of domains + 2)`, plus `maxSkew - 1`, then reversed and
//! normalized. Only nodes passing `nodeAffinityPolicy` (default Honor: the pod's node affinity and
//! selector) and `nodeTaintsPolicy` (default Ignore) count as domains; `matchLabelKeys` adds the pod's
//! values of those labels to the selector; only pods of the same namespace that are not terminating
//! count.
//!
//! A pod without constraints gets the default ones: with `defaultingType: System` (the default),
//! `kubernetes.io/hostname` maxSkew 3 and `topology.kubernetes.io/zone` maxSkew 5, both
//! ScheduleAnyway, selecting pods like the Services, ReplicaSet, StatefulSet or ReplicationController
//! of the pod do (the snapshot's [`Workloads`](crate::framework::Workloads)); with `List`, the args'
//! `defaultConstraints`.

use super::helper::find_untolerated_do_not_schedule_taint;
use crate::config::{args_error, decode_args, PodTopologySpreadArgs};
use crate::framework::{
    Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, ScorePlugin, Snapshot, Status, TopologyIndex, MAX_NODE_SCORE,
};
use crate::labels::{Labels, Selector};
use crate::nodeaffinity::RequiredNodeAffinity;
use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use serde_json::Value;
use skiff_api::field::{FieldError, Path};
use std::sync::Arc;

/// `ErrReasonConstraintsNotMatch`.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// `ErrReasonNodeLabelNotMatch`.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
/// `v1.LabelHostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `v1.LabelTopologyZone`.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

/// A parsed `TopologySpreadConstraint`.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub selector: Selector,
    pub min_domains: i32,
    pub node_affinity_honor: bool,
    pub node_taints_honor: bool,
}

impl Constraint {
    /// `matchNodeInclusionPolicies`.
    #[inline]
    fn includes(&self, pod: &PodInfo, node: &NodeInfo, required: &RequiredNodeAffinity) -> bool {
        if self.node_affinity_honor
            && !required.is_empty()
            && !required.matches(node.labels(), node.name())
        {
            return false;
        }
        if self.node_taints_honor
            && find_untolerated_do_not_schedule_taint(node.taints(), pod.tolerations()).is_some()
        {
            return false;
        }
        true
    }
}

/// `systemDefaultConstraints`.
fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    vec![
        TopologySpreadConstraint {
            topology_key: LABEL_HOSTNAME.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            max_skew: 3,
            ..Default::default()
        },
        TopologySpreadConstraint {
            topology_key: LABEL_TOPOLOGY_ZONE.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            max_skew: 5,
            ..Default::default()
        },
    ]
}

/// The `PodTopologySpread` plugin.
#[derive(Debug, Clone)]
pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
}

/// `filterTopologySpreadConstraints`.
fn filter_constraints(
    constraints: &[TopologySpreadConstraint],
    pod_labels: &Labels,
    action: &str,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == action)
    {
        let mut selector = Selector::from_label_selector(c.label_selector.as_ref())?;
        let keys = c.match_label_keys.as_deref().unwrap_or_default();
        if !keys.is_empty() {
            let match_labels: Labels = keys
                .iter()
                .filter_map(|k| pod_labels.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            if !match_labels.is_empty() {
                let mut merged = Selector::from_set(&match_labels);
                if !selector.is_nothing() {
                    merged.add(selector.requirements().iter().cloned());
                }
                selector = merged;
            }
        }
        out.push(Constraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1),
            node_affinity_honor: c.node_affinity_policy.as_deref() != Some("Ignore"),
            node_taints_honor: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    Ok(out)
}

/// Adds, per constraint, the pods of every group that `countPodsMatchSelector` would count (same
/// namespace, not terminating, selector matches) on the nodes `on(i, slot)` accepts.
fn count_groups(
    snapshot: &Snapshot,
    ns: &str,
    constraints: &[Constraint],
    mut on: impl FnMut(usize, usize, i64),
) {
    for g in snapshot.pod_groups() {
        let rep = g.pod();
        if rep.is_terminating() || rep.namespace() != ns {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !c.selector.matches(rep.labels()) {
                continue;
            }
            for (slot, n) in g.nodes() {
                on(i, slot, i64::from(n));
            }
        }
    }
}

/// `nodeLabelsMatchSpreadConstraints`: whether the node in `slot` has every constraint's topology key.
#[inline]
fn has_all_keys_at(topo: &[Arc<TopologyIndex>], slot: usize) -> bool {
    topo.iter().all(|t| t.value_of(slot).is_some())
}

/// The two domains with the fewest matching pods (`criticalPaths`).
#[derive(Debug, Clone, Copy)]
struct CriticalPaths([(u32, i64); 2]);

impl CriticalPaths {
    fn new(placeholder: u32) -> Self {
        CriticalPaths([
            (placeholder, i32::MAX as i64),
            (placeholder, i32::MAX as i64),
        ])
    }

    /// `criticalPaths.update`.
    fn update(&mut self, v: u32, num: i64) {
        let p = &mut self.0;
        let i = if v == p[0].0 {
            Some(0)
        } else if v == p[1].0 {
            Some(1)
        } else {
            None
        };
        match i {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None => {
                if num < p[0].1 {
                    p[1] = p[0];
                    p[0] = (v, num);
                } else if num < p[1].1 {
                    p[1] = (v, num);
                }
            }
        }
    }
}

#[derive(Clone)]
struct PreFilterState {
    constraints: Arc<Vec<Constraint>>,
    topo: Vec<Arc<TopologyIndex>>,
    /// Matching pods per domain (value id); `None`: not an eligible domain.
    counts: Vec<Vec<Option<i64>>>,
    domains: Vec<usize>,
    paths: Vec<CriticalPaths>,
    required: Arc<RequiredNodeAffinity>,
    /// Whether the incoming pod matches each constraint's selector.
    self_match: Vec<i64>,
}

impl PreFilterState {
    /// `minMatchNum`.
    fn min_match_num(&self, i: usize) -> i64 {
        if (self.domains[i] as i64) < i64::from(self.constraints[i].min_domains) {
            0
        } else {
            self.paths[i].0[0].1
        }
    }

    /// `updateWithPod`.
    fn update_with_pod(
        &mut self,
        updated: &PodInfo,
        preemptor: &PodInfo,
        node: &NodeInfo,
        delta: i64,
    ) {
        if updated.namespace() != preemptor.namespace() {
            return;
        }
        if !has_all_keys_at(&self.topo, node.index()) {
            return;
        }
        let constraints = self.constraints.clone();
        for (i, c) in constraints.iter().enumerate() {
            if !c.selector.matches(updated.labels()) {
                continue;
            }
            if !c.includes(preemptor, node, &self.required) {
                continue;
            }
            let Some(v) = self.topo[i].value_of(node.index()) else {
                continue;
            };
            let slot = &mut self.counts[i][v as usize];
            if slot.is_none() {
                self.domains[i] += 1;
            }
            let n = slot.unwrap_or(0) + delta;
            *slot = Some(n);
            self.paths[i].update(v, n);
        }
    }
}

#[derive(Clone)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    topo: Vec<Arc<TopologyIndex>>,
    /// Per constraint, per bucket (value id, or the "missing label" bucket): pods counted; `None` when
    /// no filtered node is in that domain. Hostname constraints count per node at Score.
    counts: Vec<Vec<Option<i64>>>,
    /// Per hostname constraint, matching pods per node slot.
    host_counts: Vec<Vec<i64>>,
    weights: Vec<f64>,
    ignored: Vec<bool>,
}

/// The bucket of a node for a constraint: its value id, or the id of `""` / one past the end when
/// the label is missing (upstream reads a missing label as `""`).
#[inline]
fn bucket(topo: &TopologyIndex, node: &NodeInfo) -> usize {
    match topo.value_of(node.index()) {
        Some(v) => v as usize,
        None => topo.id_of("").map(|v| v as usize).unwrap_or(topo.len()),
    }
}

impl PodTopologySpread {
    /// `New` from `PodTopologySpreadArgs`.
    pub fn new(args: Option<&Value>) -> Result<Self, String> {
        let args: PodTopologySpreadArgs = decode_args("PodTopologySpread", args)?;
        let defaulting = if args.defaulting_type.is_empty() {
            "System"
        } else {
            args.defaulting_type.as_str()
        };
        let mut errs = Vec::new();
        let dt = Path::new("defaultingType");
        if defaulting != "System" && defaulting != "List" {
            errs.push(FieldError::not_supported(
                &dt,
                defaulting,
                &["List", "System"],
            ));
        }
        if !args.default_constraints.is_empty() && defaulting == "System" {
            errs.push(FieldError::invalid(
                &dt,
                defaulting,
                "when .defaultConstraints are not empty",
            ));
        }
        let dc = Path::new("defaultConstraints");
        for (i, c) in args.default_constraints.iter().enumerate() {
            let p = dc.index(i);
            if c.max_skew <= 0 {
                errs.push(FieldError::invalid_raw(
                    &p.child("maxSkew"),
                    c.max_skew,
                    "not in valid range (0, inf)",
                ));
            }
            if c.topology_key.is_empty() {
                errs.push(FieldError::required(
                    &p.child("topologyKey"),
                    "can not be empty",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
                errs.push(FieldError::not_supported(
                    &p.child("whenUnsatisfiable"),
                    &c.when_unsatisfiable,
                    &["DoNotSchedule", "ScheduleAnyway"],
                ));
            }
            if c.label_selector.is_some() {
                errs.push(FieldError::forbidden(
                    &p.child("labelSelector"),
                    "constraint must not define a selector, as they deduced for each pod",
                ));
            }
        }
        if !errs.is_empty() {
            return Err(args_error(&errs));
        }
        let system = defaulting == "System";
        Ok(PodTopologySpread {
            default_constraints: if system {
                system_default_constraints()
            } else {
                args.default_constraints
            },
            system_defaulted: system,
        })
    }

    /// `buildDefaultConstraints`.
    fn default_constraints_for(
        &self,
        pod: &PodInfo,
        action: &str,
        snapshot: &Snapshot,
    ) -> Result<Vec<Constraint>, String> {
        let mut cs = filter_constraints(&self.default_constraints, pod.labels(), action)?;
        if cs.is_empty() {
            return Ok(cs);
        }
        let selector = snapshot.workloads().default_selector(pod);
        if selector.is_empty() {
            return Ok(Vec::new());
        }
        for c in &mut cs {
            c.selector = selector.clone();
        }
        Ok(cs)
    }

    fn constraints_for(
        &self,
        pod: &PodInfo,
        action: &str,
        snapshot: &Snapshot,
    ) -> Result<Vec<Constraint>, String> {
        let own = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_deref())
            .unwrap_or_default();
        if !own.is_empty() {
            filter_constraints(own, pod.labels(), action).map_err(|e| {
                let kind = if action == "DoNotSchedule" {
                    "hard"
                } else {
                    "soft"
                };
                format!("obtaining pod's {kind} topology spread constraints: {e}")
            })
        } else {
            self.default_constraints_for(pod, action, snapshot)
                .map_err(|e| format!("setting default topology spread constraints: {e}"))
        }
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        super::names::POD_TOPOLOGY_SPREAD
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        let constraints = match self.constraints_for(pod, "DoNotSchedule", snapshot) {
            Ok(c) => c,
            Err(e) => {
                return (
                    None,
                    Status::error(format!("get constraints from pod: {e}")),
                )
            }
        };
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        if constraints.len() > 64 {
            return (
                None,
                Status::error("more than 64 topology spread constraints"),
            );
        }
        let required = RequiredNodeAffinity::from_pod(&pod.pod);
        let topo: Vec<Arc<TopologyIndex>> = constraints
            .iter()
            .map(|c| snapshot.topology(&c.topology_key))
            .collect();
        let mut counts: Vec<Vec<Option<i64>>> = topo.iter().map(|t| vec![None; t.len()]).collect();
        // Eligible domains: nodes with every key that pass the inclusion policies.
        let mut eligible = vec![0u64; snapshot.num_nodes()];
        // By slot: a node's `NodeInfo` is read only when an inclusion policy needs it.
        for &slot in snapshot.order() {
            if !has_all_keys_at(&topo, slot) {
                continue;
            }
            let node = snapshot.node(slot);
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes(pod, node, &required) {
                    continue;
                }
                eligible[slot] |= 1 << i;
                if let Some(v) = topo[i].value_of(slot) {
                    counts[i][v as usize].get_or_insert(0);
                }
            }
        }
        count_groups(snapshot, pod.namespace(), &constraints, |i, slot, n| {
            if eligible[slot] & (1 << i) != 0 {
                if let Some(v) = topo[i].value_of(slot) {
                    if let Some(x) = counts[i][v as usize].as_mut() {
                        *x += n;
                    }
                }
            }
        });
        let mut domains = Vec::with_capacity(constraints.len());
        let mut paths = Vec::with_capacity(constraints.len());
        for (i, t) in topo.iter().enumerate() {
            let mut cp = CriticalPaths::new(t.id_of("").unwrap_or(u32::MAX));
            let mut d = 0;
            for (v, n) in counts[i].iter().enumerate() {
                if let Some(n) = n {
                    d += 1;
                    cp.update(v as u32, *n);
                }
            }
            domains.push(d);
            paths.push(cp);
        }
        let constraints_self_match: Vec<i64> = constraints
            .iter()
            .map(|c| i64::from(c.selector.matches(pod.labels())))
            .collect();
        state.write(PreFilterState {
            constraints: Arc::new(constraints),
            topo,
            counts,
            domains,
            paths,
            required: Arc::new(required),
            self_match: constraints_self_match,
        });
        (None, Status::success())
    }

    fn has_extensions(&self) -> bool {
        true
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod_to_schedule: &PodInfo,
        pod_to_add: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        match state.read_mut::<PreFilterState>() {
            Some(s) => {
                s.update_with_pod(pod_to_add, pod_to_schedule, node, 1);
                Status::success()
            }
            None => {
                Status::error("reading \"PreFilterPodTopologySpread\" from cycleState: not found")
            }
        }
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod_to_schedule: &PodInfo,
        pod_to_remove: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        match state.read_mut::<PreFilterState>() {
            Some(s) => {
                s.update_with_pod(pod_to_remove, pod_to_schedule, node, -1);
                Status::success()
            }
            None => {
                Status::error("reading \"PreFilterPodTopologySpread\" from cycleState: not found")
            }
        }
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::error(
                "reading \"PreFilterPodTopologySpread\" from cycleState: not found",
            );
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = s.topo[i].value_of(node.index()) else {
                return Status::new(
                    Code::UnschedulableAndUnresolvable,
                    ERR_REASON_NODE_LABEL_NOT_MATCH,
                );
            };
            let min = s.min_match_num(i);
            let self_match = s.self_match[i];
            let match_num = s.counts[i][v as usize].unwrap_or(0);
            if match_num + self_match - min > i64::from(c.max_skew) {
                return Status::new(Code::Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Status {
        if snapshot.num_nodes() == 0 {
            return Status::skip();
        }
        let has_own = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|c| !c.is_empty());
        let require_all = has_own || !self.system_defaulted;
        let constraints = match self.constraints_for(pod, "ScheduleAnyway", snapshot) {
            Ok(c) => c,
            Err(e) => return Status::error(format!("calculating preScoreState: {e}")),
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        let topo: Vec<Arc<TopologyIndex>> = constraints
            .iter()
            .map(|c| snapshot.topology(&c.topology_key))
            .collect();
        let mut counts: Vec<Vec<Option<i64>>> =
            topo.iter().map(|t| vec![None; t.len() + 1]).collect();
        let mut ignored = vec![false; snapshot.num_nodes()];
        let mut num_ignored = 0;
        let mut topo_size = vec![0usize; constraints.len()];
        for node in nodes {
            // The topology indexes say which keys a node has without reading its labels.
            if require_all && !has_all_keys_at(&topo, node.index()) {
                ignored[node.index()] = true;
                num_ignored += 1;
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    continue;
                }
                let b = bucket(&topo[i], node);
                if counts[i][b].is_none() {
                    counts[i][b] = Some(0);
                    topo_size[i] += 1;
                }
            }
        }
        let weights: Vec<f64> = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let sz = if c.topology_key == LABEL_HOSTNAME {
                    nodes.len() - num_ignored
                } else {
                    topo_size[i]
                };
                ((sz + 2) as f64).ln()
            })
            .collect();
        if constraints.len() > 64 {
            return Status::error("more than 64 topology spread constraints");
        }
        let required = RequiredNodeAffinity::from_pod(&pod.pod);
        let mut eligible = vec![0u64; snapshot.num_nodes()];
        for &slot in snapshot.order() {
            if require_all && !has_all_keys_at(&topo, slot) {
                continue;
            }
            let node = snapshot.node(slot);
            for (i, c) in constraints.iter().enumerate() {
                if c.includes(pod, node, &required) {
                    eligible[slot] |= 1 << i;
                }
            }
        }
        let mut host_counts: Vec<Vec<i64>> = constraints
            .iter()
            .map(|c| {
                if c.topology_key == LABEL_HOSTNAME {
                    vec![0; snapshot.num_nodes()]
                } else {
                    Vec::new()
                }
            })
            .collect();
        count_groups(snapshot, pod.namespace(), &constraints, |i, slot, n| {
            if !host_counts[i].is_empty() {
                // Per-node counts (Score counts the node's pods whatever the policies).
                host_counts[i][slot] += n;
                return;
            }
            if eligible[slot] & (1 << i) == 0 {
                return;
            }
            let node = snapshot.node(slot);
            let b = bucket(&topo[i], node);
            if let Some(x) = counts[i][b].as_mut() {
                *x += n;
            }
        });
        state.write(PreScoreState {
            constraints,
            topo,
            counts,
            host_counts,
            weights,
            ignored,
        });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.read::<PreScoreState>() else {
            return Err(Status::error(
                "reading \"PreScorePodTopologySpread\" from cycleState: not found",
            ));
        };
        if s.ignored[node.index()] {
            return Ok(0);
        }
        let mut score = 0f64;
        for (i, c) in s.constraints.iter().enumerate() {
            // Whether the node has the key, from the topology index rather than its labels.
            if s.topo[i].value_of(node.index()).is_none() {
                continue;
            }
            let cnt = if c.topology_key == LABEL_HOSTNAME {
                s.host_counts[i][node.index()]
            } else {
                s.counts[i][bucket(&s.topo[i], node)].unwrap_or(0)
            };
            score += cnt as f64 * s.weights[i] + f64::from(c.max_skew - 1);
        }
        Ok(score.round() as i64)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize_score(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        let Some(s) = state.read::<PreScoreState>() else {
            return Status::error(
                "reading \"PreScorePodTopologySpread\" from cycleState: not found",
            );
        };
        let mut min = i64::MAX;
        let mut max = 0i64;
        for (j, n) in nodes.iter().enumerate() {
            if s.ignored[n.index()] {
                continue;
            }
            min = min.min(scores[j]);
            max = max.max(scores[j]);
        }
        for (j, n) in nodes.iter().enumerate() {
            if s.ignored[n.index()] {
                scores[j] = 0;
                continue;
            }
            if max == 0 {
                scores[j] = MAX_NODE_SCORE;
                continue;
            }
            scores[j] = MAX_NODE_SCORE * (max + min - scores[j]) / max;
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    const ZONE: &str = "zone";
    const NODE: &str = "node";

    fn snap(nodes: Vec<(&str, &str)>, pods: Vec<(&str, &str, &str)>) -> Snapshot {
        // nodes: (name, zone); pods: (name, node, label foo value)
        Snapshot::from_objects(
            nodes
                .iter()
                .map(|(n, z)| node(n).label(ZONE, z).label(NODE, n).build()),
            pods.iter().map(|(p, n, v)| {
                let mut b = pod(p).node(n);
                if !v.is_empty() {
                    b = b.label("foo", v);
                }
                b.build()
            }),
        )
        .unwrap()
    }

    fn filter_all(s: &Snapshot, p: k8s_openapi::api::core::v1::Pod) -> Vec<(String, Status)> {
        let pl = PodTopologySpread::new(None).unwrap();
        let p = PodInfo::new(p);
        let mut st = CycleState::new();
        let (_, pre) = pl.pre_filter(&mut st, s, &p);
        assert!(pre.is_success(), "{pre}");
        s.list()
            .map(|n| (n.name().to_string(), pl.filter(&st, &p, n)))
            .collect()
    }

    fn passing(r: &[(String, Status)]) -> Vec<&str> {
        r.iter()
            .filter(|(_, s)| s.is_success())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    #[test]
    fn hard_zone_spread() {
        // Upstream: zone1 {node-a: 2 pods, node-b: 1}, zone2 {node-x: 0, node-y: 2}; maxSkew 1.
        let s = snap(
            vec![
                ("node-a", "zone1"),
                ("node-b", "zone1"),
                ("node-x", "zone2"),
                ("node-y", "zone2"),
            ],
            vec![
                ("p-a1", "node-a", "bar"),
                ("p-a2", "node-a", "bar"),
                ("p-b1", "node-b", "bar"),
                ("p-y1", "node-y", "bar"),
                ("p-y2", "node-y", "bar"),
            ],
        );
        // zone1 has 3, zone2 has 2 => only zone2 nodes (3 - 2 + 1 > 1 for zone1).
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .spread(1, ZONE, "DoNotSchedule", &[("foo", "bar")])
                .build(),
        );
        assert_eq!(passing(&r), ["node-x", "node-y"]);
        let fail = r.iter().find(|(n, _)| n == "node-a").unwrap();
        assert_eq!(fail.1.message(), ERR_REASON_CONSTRAINTS_NOT_MATCH);
        assert_eq!(fail.1.code(), Code::Unschedulable);
        // Two constraints (zone and node).
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .spread(1, ZONE, "DoNotSchedule", &[("foo", "bar")])
                .spread(1, NODE, "DoNotSchedule", &[("foo", "bar")])
                .build(),
        );
        assert_eq!(passing(&r), ["node-x"]);
        // The incoming pod not matching its own selector does not count itself.
        let r = filter_all(
            &s,
            pod("p")
                .spread(1, ZONE, "DoNotSchedule", &[("foo", "bar")])
                .build(),
        );
        assert_eq!(passing(&r), ["node-a", "node-b", "node-x", "node-y"]);
    }

    #[test]
    fn missing_label_and_empty_domains() {
        let s =
            Snapshot::from_objects([node("a").label(ZONE, "z1").build(), node("b").build()], [])
                .unwrap();
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .spread(1, ZONE, "DoNotSchedule", &[("foo", "bar")])
                .build(),
        );
        assert!(r[0].1.is_success());
        assert_eq!(r[1].1.message(), ERR_REASON_NODE_LABEL_NOT_MATCH);
        assert_eq!(r[1].1.code(), Code::UnschedulableAndUnresolvable);
    }

    #[test]
    fn min_domains() {
        // Two zones with 1 pod each, minDomains 3: the global minimum is 0, so with maxSkew 1 a
        // domain that already has 1 matching pod cannot take another.
        let s = snap(
            vec![("a", "z1"), ("b", "z2")],
            vec![("p1", "a", "bar"), ("p2", "b", "bar")],
        );
        let mut c = crate::testing::spread_constraint(1, ZONE, "DoNotSchedule", &[("foo", "bar")]);
        c.min_domains = Some(3);
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .spread_constraint(c.clone())
                .build(),
        );
        assert!(passing(&r).is_empty());
        c.min_domains = Some(2);
        let r = filter_all(
            &s,
            pod("p").label("foo", "bar").spread_constraint(c).build(),
        );
        assert_eq!(passing(&r), ["a", "b"]);
    }

    #[test]
    fn node_inclusion_policies() {
        // Node c (zone z3, no pods) is excluded by the pod's node selector under Honor, so the global
        // minimum comes from z1/z2.
        let s = Snapshot::from_objects(
            [
                node("a").label(ZONE, "z1").label("pool", "x").build(),
                node("b").label(ZONE, "z2").label("pool", "x").build(),
                node("c")
                    .label(ZONE, "z3")
                    .taint("t", "v", "NoSchedule")
                    .build(),
            ],
            [
                pod("p1").node("a").label("foo", "bar").build(),
                pod("p2").node("b").label("foo", "bar").build(),
            ],
        )
        .unwrap();
        let c = crate::testing::spread_constraint(1, ZONE, "DoNotSchedule", &[("foo", "bar")]);
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .node_selector("pool", "x")
                .spread_constraint(c.clone())
                .build(),
        );
        assert_eq!(passing(&r), ["a", "b", "c"]);
        // Ignore: z3 (0 pods) is a domain, so z1 and z2 are at skew 2.
        let mut ig = c.clone();
        ig.node_affinity_policy = Some("Ignore".into());
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .node_selector("pool", "x")
                .spread_constraint(ig)
                .build(),
        );
        assert_eq!(passing(&r), ["c"]);
        // Taints: default Ignore counts the tainted node's domain; Honor does not.
        let r = filter_all(
            &s,
            pod("p")
                .label("foo", "bar")
                .spread_constraint(c.clone())
                .build(),
        );
        assert_eq!(passing(&r), ["c"]);
        let mut h = c;
        h.node_taints_policy = Some("Honor".into());
        let r = filter_all(
            &s,
            pod("p").label("foo", "bar").spread_constraint(h).build(),
        );
        assert_eq!(passing(&r), ["a", "b", "c"]);
    }

    #[test]
    fn match_label_keys() {
        let s = Snapshot::from_objects(
            [
                node("a").label(ZONE, "z1").build(),
                node("b").label(ZONE, "z2").build(),
            ],
            [
                pod("p1")
                    .node("a")
                    .label("app", "web")
                    .label("rev", "1")
                    .build(),
                pod("p2")
                    .node("a")
                    .label("app", "web")
                    .label("rev", "1")
                    .build(),
            ],
        )
        .unwrap();
        let mut c = crate::testing::spread_constraint(1, ZONE, "DoNotSchedule", &[("app", "web")]);
        let r = filter_all(
            &s,
            pod("p")
                .label("app", "web")
                .label("rev", "2")
                .spread_constraint(c.clone())
                .build(),
        );
        assert_eq!(passing(&r), ["b"]);
        c.match_label_keys = Some(vec!["rev".into()]);
        let r = filter_all(
            &s,
            pod("p")
                .label("app", "web")
                .label("rev", "2")
                .spread_constraint(c)
                .build(),
        );
        assert_eq!(passing(&r), ["a", "b"]);
    }

    #[test]
    fn add_remove_pod_updates_counts() {
        let s = snap(vec![("a", "z1"), ("b", "z2")], vec![("p1", "a", "bar")]);
        let pl = PodTopologySpread::new(None).unwrap();
        let p = PodInfo::new(
            pod("p")
                .label("foo", "bar")
                .spread(1, ZONE, "DoNotSchedule", &[("foo", "bar")])
                .build(),
        );
        let mut st = CycleState::new();
        pl.pre_filter(&mut st, &s, &p);
        assert!(!pl.filter(&st, &p, s.get("a").unwrap()).is_success());
        let victim = s.pod("default/p1").unwrap().1.clone();
        pl.remove_pod(&mut st, &p, &victim, s.get("a").unwrap());
        assert!(pl.filter(&st, &p, s.get("a").unwrap()).is_success());
        pl.add_pod(&mut st, &p, &victim, s.get("b").unwrap());
        assert!(!pl.filter(&st, &p, s.get("b").unwrap()).is_success());
    }

    fn scores(
        s: &Snapshot,
        pl: &PodTopologySpread,
        p: k8s_openapi::api::core::v1::Pod,
    ) -> Option<Vec<i64>> {
        let p = PodInfo::new(p);
        let nodes: Vec<&NodeInfo> = s.list().collect();
        let mut st = CycleState::new();
        if pl.pre_score(&mut st, s, &p, &nodes).is_skip() {
            return None;
        }
        let mut out: Vec<i64> = nodes
            .iter()
            .map(|n| pl.score(&st, &p, n).unwrap())
            .collect();
        pl.normalize_score(&st, &p, &nodes, &mut out);
        Some(out)
    }

    #[test]
    fn soft_scoring() {
        let pl = PodTopologySpread::new(None).unwrap();
        // Upstream: node-a 2 matching pods, node-b 1, node-x 0, node-y 0 (hostname key "node").
        let s = snap(
            vec![
                ("node-a", "z1"),
                ("node-b", "z1"),
                ("node-x", "z2"),
                ("node-y", "z2"),
            ],
            vec![
                ("p1", "node-a", "bar"),
                ("p2", "node-a", "bar"),
                ("p3", "node-b", "bar"),
            ],
        );
        let got = scores(
            &s,
            &pl,
            pod("p")
                .label("foo", "bar")
                .spread(1, NODE, "ScheduleAnyway", &[("foo", "bar")])
                .build(),
        );
        // weight ln(4+2)=1.79: raw a=round(3.58)=4, b=round(1.79)=2, x=y=0; normalized
        // 100*(4+0-s)/4 => a 0, b 50, x 100, y 100.
        assert_eq!(got, Some(vec![0, 50, 100, 100]));
        // Zone key: z1 has 3 pods; 2 domains => weight ln 4.
        let got = scores(
            &s,
            &pl,
            pod("p")
                .label("foo", "bar")
                .spread(1, ZONE, "ScheduleAnyway", &[("foo", "bar")])
                .build(),
        );
        assert_eq!(got, Some(vec![0, 0, 100, 100]));
        // No constraints and no owning workload: skipped.
        assert_eq!(scores(&s, &pl, pod("p").build()), None);
    }

    #[test]
    fn system_default_constraints_use_service_selector() {
        let mut s = Snapshot::from_objects(
            [
                node("a")
                    .label(LABEL_HOSTNAME, "a")
                    .label(LABEL_TOPOLOGY_ZONE, "z1")
                    .build(),
                node("b")
                    .label(LABEL_HOSTNAME, "b")
                    .label(LABEL_TOPOLOGY_ZONE, "z2")
                    .build(),
            ],
            [
                pod("p1").node("a").label("app", "web").build(),
                pod("p2").node("a").label("app", "web").build(),
            ],
        )
        .unwrap();
        s.set_service(
            "default",
            "web",
            Some([("app".to_string(), "web".to_string())].into()),
        );
        let pl = PodTopologySpread::new(None).unwrap();
        let got = scores(&s, &pl, pod("p").label("app", "web").build()).unwrap();
        assert!(got[1] > got[0], "{got:?}");
        // Hard constraints are not defaulted.
        let mut st = CycleState::new();
        let (_, pre) = pl.pre_filter(
            &mut st,
            &s,
            &PodInfo::new(pod("p").label("app", "web").build()),
        );
        assert!(pre.is_skip());
        assert!(PodTopologySpread::new(Some(&serde_json::json!({"defaultingType": "System",
            "defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]}))).is_err());
    }
}
