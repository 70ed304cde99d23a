//! The scheduling algorithm (`schedule_one.go`'s `schedulePod`), the `FitError` message and the
//! explain mode.
//!
//! One cycle: PreFilter (which may narrow the nodes or reject the pod), then Filter over the nodes
//! starting where the previous cycle stopped (`nextStartNodeIndex`) until `numFeasibleNodesToFind`
//! feasible nodes are found (adaptive: `50 - nodes/125` percent, at least 5% and at least 100 nodes,
//! or the configured `percentageOfNodesToScore`); a pod already nominated to a node tries that node
//! first. Then PreScore, Score, NormalizeScore and weights over the feasible nodes, and the host is
//! the highest total, ties broken uniformly at random (seedable, for tests). One feasible node is
//! taken without scoring, as upstream.
//!
//! Explain mode evaluates every node with every Filter plugin (no sampling, no early stop), scores
//! every feasible node, and returns the per-node, per-plugin results as the three JSON annotations
//! Skiff writes on the pod. The decision is the same as without explaining, except that all nodes
//! are candidates.

use crate::framework::{
    Code, CycleState, NodeInfo, NodeToStatus, PodInfo, Profile, ScoreBuffers, Snapshot, Status,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// `minFeasibleNodesToFind`.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// `minFeasibleNodesPercentageToFind`.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

/// Annotation asking for an explained scheduling attempt.
pub const ANNOTATION_EXPLAIN: &str = "scheduler.skiff.dev/explain";
/// Per node, per Filter plugin: `"passed"` or the failure reason.
pub const ANNOTATION_FILTER_RESULT: &str = "scheduler.skiff.dev/filter-result";
/// Per feasible node, per Score plugin: the normalized score (before weight).
pub const ANNOTATION_SCORE_RESULT: &str = "scheduler.skiff.dev/score-result";
/// Per feasible node: the weighted total.
pub const ANNOTATION_FINAL_SCORE_RESULT: &str = "scheduler.skiff.dev/final-score-result";

/// `ScheduleResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub suggested_host: String,
    /// Nodes the Filter plugins ran on (feasible plus rejected).
    pub evaluated_nodes: usize,
    /// Nodes that passed filtering.
    pub feasible_nodes: usize,
}

/// `framework.Diagnosis`: why nodes were rejected.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    pub node_to_status: NodeToStatus,
    /// Plugins that rejected the pod somewhere (for requeueing on relevant events).
    pub unschedulable_plugins: Vec<&'static str>,
    /// The PreFilter rejection message, when PreFilter rejected the pod.
    pub pre_filter_msg: String,
    /// The PostFilter (preemption) message, filled by the caller after running PostFilter.
    pub post_filter_msg: String,
}

impl Diagnosis {
    /// `AddPluginStatus`.
    pub fn add_plugin_status(&mut self, s: &Status) {
        if !s.plugin().is_empty()
            && s.is_rejected()
            && !self.unschedulable_plugins.contains(&s.plugin())
        {
            self.unschedulable_plugins.push(s.plugin());
        }
    }
}

/// `framework.FitError`: no node fits the pod.
#[derive(Debug, Clone)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub diagnosis: Diagnosis,
}

impl FitError {
    /// The `FailedScheduling` message, e.g. `0/3 nodes are available: 1 Insufficient cpu, 2 node(s)
    /// had untolerated taint {k: v}. preemption: ...`.
    pub fn message(&self) -> String {
        fit_error_message(
            self.num_all_nodes,
            &self.diagnosis.node_to_status,
            &self.diagnosis.pre_filter_msg,
            &self.diagnosis.post_filter_msg,
        )
    }

    /// Records the PostFilter (preemption) status message.
    pub fn set_post_filter_msg(&mut self, msg: impl Into<String>) {
        self.diagnosis.post_filter_msg = msg.into();
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FitError {}

/// `FitError.Error()`: the reasons histogram (`"<count> <reason>"`, sorted as strings), or the
/// PreFilter message, then the PostFilter message.
pub fn fit_error_message(
    num_all_nodes: usize,
    statuses: &NodeToStatus,
    pre_filter_msg: &str,
    post_filter_msg: &str,
) -> String {
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    if !pre_filter_msg.is_empty() {
        msg.push_str(&format!(" {pre_filter_msg}."));
    } else {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for (_, s) in statuses.entries() {
            for r in s.reasons() {
                *reasons.entry(r.to_string()).or_default() += 1;
            }
        }
        if statuses.len() < num_all_nodes {
            let absent = num_all_nodes - statuses.len();
            for r in statuses.absent_nodes_status().reasons() {
                *reasons.entry(r.to_string()).or_default() += absent;
            }
        }
        let mut lines: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        lines.sort();
        if !lines.is_empty() {
            msg.push_str(&format!(" {}.", lines.join(", ")));
        }
    }
    if !post_filter_msg.is_empty() {
        msg.push_str(&format!(" {post_filter_msg}."));
    }
    msg
}

/// Why scheduling a pod failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScheduleError {
    /// `ErrNoNodesAvailable`.
    #[error("no nodes available to schedule pods")]
    NoNodesAvailable,
    /// No node fits; the message is upstream's.
    #[error("{0}")]
    Fit(Box<FitError>),
    /// A plugin returned an error status.
    #[error("{0}")]
    Internal(String),
}

/// `numFeasibleNodesToFind`: how many feasible nodes to look for before scoring.
pub fn num_feasible_nodes_to_find(percentage: Option<i32>, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let mut p = i64::from(percentage.unwrap_or(0));
    if p == 0 {
        p = 50 - num_all_nodes as i64 / 125;
        if p < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND {
            p = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
        }
    }
    let n = (num_all_nodes as i64 * p / 100) as usize;
    if n < MIN_FEASIBLE_NODES_TO_FIND {
        return MIN_FEASIBLE_NODES_TO_FIND;
    }
    n
}

/// Per-node, per-plugin results of an explained attempt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explanation {
    /// Node to (Filter plugin, `"passed"` or reason).
    pub filter: BTreeMap<String, Vec<(String, String)>>,
    /// Feasible node to (Score plugin, normalized score).
    pub score: BTreeMap<String, Vec<(String, i64)>>,
    /// Feasible node to weighted total.
    pub final_score: BTreeMap<String, i64>,
}

impl Explanation {
    /// `{"<node>": {"<plugin>": "passed" | "<reason>"}}`.
    pub fn filter_json(&self) -> Value {
        let mut m = Map::new();
        for (node, plugins) in &self.filter {
            let mut p = Map::new();
            for (name, r) in plugins {
                p.insert(name.clone(), Value::String(r.clone()));
            }
            m.insert(node.clone(), Value::Object(p));
        }
        Value::Object(m)
    }

    /// `{"<node>": {"<plugin>": <score>}}`.
    pub fn score_json(&self) -> Value {
        let mut m = Map::new();
        for (node, plugins) in &self.score {
            let mut p = Map::new();
            for (name, s) in plugins {
                p.insert(name.clone(), Value::from(*s));
            }
            m.insert(node.clone(), Value::Object(p));
        }
        Value::Object(m)
    }

    /// `{"<node>": <total>}`.
    pub fn final_score_json(&self) -> Value {
        Value::Object(
            self.final_score
                .iter()
                .map(|(n, s)| (n.clone(), Value::from(*s)))
                .collect(),
        )
    }

    /// The three annotations, compact JSON.
    pub fn annotations(&self) -> [(&'static str, String); 3] {
        [
            (ANNOTATION_FILTER_RESULT, self.filter_json().to_string()),
            (ANNOTATION_SCORE_RESULT, self.score_json().to_string()),
            (
                ANNOTATION_FINAL_SCORE_RESULT,
                self.final_score_json().to_string(),
            ),
        ]
    }
}

/// Whether a pod asks to be explained (`scheduler.skiff.dev/explain: "true"`).
pub fn wants_explanation(pod: &PodInfo) -> bool {
    pod.pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_EXPLAIN))
        .is_some_and(|v| v == "true")
}

/// The scheduling algorithm's state across cycles: where the next search starts, the tie-breaking
/// random source and reusable buffers.
#[derive(Debug)]
pub struct Algorithm {
    next_start_node_index: usize,
    rng: SmallRng,
    buffers: ScoreBuffers,
    feasible: Vec<usize>,
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm::new(None)
    }
}

struct Explaining {
    explanation: Explanation,
}

impl Algorithm {
    /// `seed`: fixed tie-breaking for tests; `None` seeds from the OS.
    pub fn new(seed: Option<u64>) -> Self {
        Algorithm {
            next_start_node_index: 0,
            rng: match seed {
                Some(s) => SmallRng::seed_from_u64(s),
                None => SmallRng::from_os_rng(),
            },
            buffers: ScoreBuffers::default(),
            feasible: Vec::new(),
        }
    }

    /// Where the next cycle starts searching (`nextStartNodeIndex`).
    pub fn next_start_node_index(&self) -> usize {
        self.next_start_node_index
    }

    /// `schedulePod`: the node to run `pod` on. `state` is the cycle's state, kept by the caller for
    /// PostFilter (preemption), Reserve, Permit and binding.
    pub fn schedule_pod(
        &mut self,
        profile: &Profile,
        snapshot: &Snapshot,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> Result<ScheduleResult, ScheduleError> {
        self.schedule(profile, snapshot, state, pod, None)
    }

    /// [`Algorithm::schedule_pod`] evaluating every node and recording every plugin's verdict.
    pub fn schedule_pod_explained(
        &mut self,
        profile: &Profile,
        snapshot: &Snapshot,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Result<ScheduleResult, ScheduleError>, Explanation) {
        let mut ex = Explaining {
            explanation: Explanation::default(),
        };
        let r = self.schedule(profile, snapshot, state, pod, Some(&mut ex));
        (r, ex.explanation)
    }

    fn schedule(
        &mut self,
        profile: &Profile,
        snapshot: &Snapshot,
        state: &mut CycleState,
        pod: &PodInfo,
        mut explain: Option<&mut Explaining>,
    ) -> Result<ScheduleResult, ScheduleError> {
        if snapshot.num_nodes() == 0 {
            return Err(ScheduleError::NoNodesAvailable);
        }
        let mut feasible = std::mem::take(&mut self.feasible);
        feasible.clear();
        let diagnosis = self.find_nodes_that_fit_pod(
            profile,
            snapshot,
            state,
            pod,
            &mut feasible,
            explain.as_deref_mut(),
        );
        let diagnosis = match diagnosis {
            Ok(d) => d,
            Err(e) => {
                self.feasible = feasible;
                return Err(e);
            }
        };
        if feasible.is_empty() {
            self.feasible = feasible;
            return Err(ScheduleError::Fit(Box::new(FitError {
                num_all_nodes: snapshot.num_nodes(),
                diagnosis,
            })));
        }
        if feasible.len() == 1 && explain.is_none() {
            let host = snapshot.node(feasible[0]).name().to_string();
            self.feasible = feasible;
            return Ok(ScheduleResult {
                suggested_host: host,
                evaluated_nodes: 1 + diagnosis.node_to_status.len(),
                feasible_nodes: 1,
            });
        }
        let nodes: Vec<&NodeInfo> = feasible.iter().map(|&s| snapshot.node(s)).collect();
        let explaining = explain.is_some();
        let result = self.prioritize_and_select(profile, snapshot, state, pod, &nodes, explain);
        let n = feasible.len();
        // Explaining evaluates every node, but a feasible nominated node still wins, as upstream's
        // fast path would have chosen it.
        let nominated = pod.nominated_node_name();
        let nominated_feasible =
            explaining && !nominated.is_empty() && nodes.iter().any(|n| n.name() == nominated);
        drop(nodes);
        self.feasible = feasible;
        let mut host = result?;
        if nominated_feasible {
            host = nominated.to_string();
        }
        Ok(ScheduleResult {
            suggested_host: host,
            evaluated_nodes: n + diagnosis.node_to_status.len(),
            feasible_nodes: n,
        })
    }

    fn prioritize_and_select(
        &mut self,
        profile: &Profile,
        snapshot: &Snapshot,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        explain: Option<&mut Explaining>,
    ) -> Result<String, ScheduleError> {
        let totals: &[i64] = if !profile.has_score_plugins() {
            self.buffers.totals.clear();
            self.buffers.totals.resize(nodes.len(), 1);
            self.buffers.ran.clear();
            &self.buffers.totals
        } else {
            let s = profile.run_pre_score_plugins(state, snapshot, pod, nodes);
            if !s.is_success() {
                return Err(ScheduleError::Internal(s.message()));
            }
            let s = profile.run_score_plugins(state, pod, nodes, &mut self.buffers);
            if !s.is_success() {
                return Err(ScheduleError::Internal(s.message()));
            }
            &self.buffers.totals
        };
        if let Some(ex) = explain {
            for (j, n) in nodes.iter().enumerate() {
                let per: Vec<(String, i64)> = self
                    .buffers
                    .ran
                    .iter()
                    .enumerate()
                    .map(|(row, &k)| {
                        (
                            profile.score_plugin(k).0.to_string(),
                            self.buffers.scores[row][j],
                        )
                    })
                    .collect();
                ex.explanation.score.insert(n.name().to_string(), per);
                ex.explanation
                    .final_score
                    .insert(n.name().to_string(), totals[j]);
            }
        }
        // selectHost: the highest total, ties sampled uniformly (reservoir sampling).
        let mut best = 0usize;
        let mut max = i64::MIN;
        let mut count = 0u32;
        for (i, &t) in totals.iter().enumerate() {
            if t > max {
                max = t;
                best = i;
                count = 1;
            } else if t == max {
                count += 1;
                if self.rng.random_range(0..count) == 0 {
                    best = i;
                }
            }
        }
        Ok(nodes[best].name().to_string())
    }

    /// `findNodesThatFitPod`.
    fn find_nodes_that_fit_pod(
        &mut self,
        profile: &Profile,
        snapshot: &Snapshot,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &mut Vec<usize>,
        mut explain: Option<&mut Explaining>,
    ) -> Result<Diagnosis, ScheduleError> {
        let mut diag = Diagnosis::default();
        let (pre_res, s, with_nodes) = profile.run_pre_filter_plugins(state, snapshot, pod);
        diag.unschedulable_plugins = with_nodes.clone();
        if !s.is_success() {
            if !s.is_rejected() {
                return Err(ScheduleError::Internal(s.message()));
            }
            if let Some(ex) = explain.as_deref_mut() {
                for n in snapshot.list() {
                    ex.explanation.filter.insert(
                        n.name().to_string(),
                        vec![(s.plugin().to_string(), s.message())],
                    );
                }
            }
            diag.node_to_status.set_absent_nodes_status(s.clone());
            diag.pre_filter_msg = s.message();
            diag.add_plugin_status(&s);
            return Ok(diag);
        }

        // A pod nominated by an earlier preemption tries its node first.
        let nominated = pod.nominated_node_name();
        if !nominated.is_empty() && explain.is_none() {
            if let Some(slot) = snapshot.slot_of(nominated) {
                let st = profile.run_filter_plugins_with_nominated_pods(
                    state,
                    snapshot,
                    pod,
                    snapshot.node(slot),
                );
                if st.is_success() {
                    feasible.push(slot);
                    return Ok(diag);
                }
                if st.code() == Code::Error {
                    tracing::debug!(pod = pod.name(), node = nominated, error = %st.message(), "evaluating nominated node");
                } else {
                    diag.add_plugin_status(&st);
                    diag.node_to_status.set(slot, st);
                }
            }
        }

        let restricted: Option<Vec<usize>>;
        let nodes: &[usize] = match &pre_res.node_names {
            None => snapshot.order(),
            Some(names) => {
                let wanted: HashSet<usize> =
                    names.iter().filter_map(|n| snapshot.slot_of(n)).collect();
                restricted = Some(
                    snapshot
                        .order()
                        .iter()
                        .copied()
                        .filter(|s| wanted.contains(s))
                        .collect(),
                );
                let mut sorted = with_nodes.clone();
                sorted.sort_unstable();
                let msg = format!("node(s) didn't satisfy plugin(s) [{}]", sorted.join(" "));
                if let Some(ex) = explain.as_deref_mut() {
                    for n in snapshot.list().filter(|n| !wanted.contains(&n.index())) {
                        ex.explanation.filter.insert(
                            n.name().to_string(),
                            sorted
                                .iter()
                                .map(|p| (p.to_string(), msg.clone()))
                                .collect(),
                        );
                    }
                }
                diag.node_to_status
                    .set_absent_nodes_status(Status::new(Code::UnschedulableAndUnresolvable, msg));
                restricted.as_deref().unwrap_or_default()
            }
        };
        let r = self.find_nodes_that_pass_filters(
            profile, snapshot, state, pod, nodes, &mut diag, feasible, explain,
        );
        let processed = feasible.len() + diag.node_to_status.len();
        self.next_start_node_index =
            (self.next_start_node_index + processed) % snapshot.num_nodes();
        r?;
        Ok(diag)
    }

    /// `findNodesThatPassFilters`.
    #[allow(clippy::too_many_arguments)]
    fn find_nodes_that_pass_filters(
        &self,
        profile: &Profile,
        snapshot: &Snapshot,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[usize],
        diag: &mut Diagnosis,
        feasible: &mut Vec<usize>,
        mut explain: Option<&mut Explaining>,
    ) -> Result<(), ScheduleError> {
        let num_all = nodes.len();
        if num_all == 0 {
            return Ok(());
        }
        let to_find = if explain.is_some() {
            num_all
        } else {
            num_feasible_nodes_to_find(profile.percentage_of_nodes_to_score(), num_all)
        };
        let start = self.next_start_node_index % num_all;
        if !profile.has_filter_plugins() {
            for i in 0..to_find {
                feasible.push(nodes[(start + i) % num_all]);
            }
            return Ok(());
        }
        let filters = profile.cycle_filters(state);
        // The nodes from `nextStartNodeIndex` on, wrapping around (`nodes[(start + i) % num_all]`).
        for &slot in nodes[start..].iter().chain(&nodes[..start]) {
            let node = snapshot.node(slot);
            let status = filters.run_with_nominated_pods(state, snapshot, pod, node);
            if let Some(ex) = explain.as_deref_mut() {
                let mut per: Vec<(String, String)> = profile
                    .run_all_filter_plugins(state, pod, node)
                    .into_iter()
                    .map(|(name, s)| {
                        let v = if s.is_success() {
                            "passed".to_string()
                        } else {
                            s.message()
                        };
                        (name.to_string(), v)
                    })
                    .collect();
                if !status.is_success() && per.iter().all(|(_, v)| v == "passed") {
                    // Only the pods nominated to this node make it fail.
                    per.retain(|(n, _)| n != status.plugin());
                    per.push((
                        status.plugin().to_string(),
                        format!("{} (with pods nominated to the node)", status.message()),
                    ));
                }
                ex.explanation.filter.insert(node.name().to_string(), per);
            }
            match status.code() {
                Code::Success => {
                    feasible.push(slot);
                    if feasible.len() >= to_find {
                        break;
                    }
                }
                Code::Error => return Err(ScheduleError::Internal(status.message())),
                _ => {
                    diag.add_plugin_status(&status);
                    diag.node_to_status.set(slot, status);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_feasible_nodes() {
        let cases = [
            (None, 10, 10),
            (None, 99, 99),
            (None, 100, 100),
            (None, 1000, 420),
            (None, 5000, 500),
            (None, 6000, 300),
            (None, 20000, 1000),
            (Some(40), 1000, 400),
            (Some(5), 1000, 100),
            (Some(100), 5000, 5000),
        ];
        for (p, n, want) in cases {
            assert_eq!(num_feasible_nodes_to_find(p, n), want, "{p:?} {n}");
        }
    }

    #[test]
    fn fit_error_messages() {
        let mut st = NodeToStatus::new();
        st.set(0, Status::new(Code::Unschedulable, "Insufficient cpu"));
        st.set(
            1,
            Status::new(
                Code::UnschedulableAndUnresolvable,
                "node(s) had untolerated taint {k: v}",
            ),
        );
        st.set(
            2,
            Status::new(
                Code::UnschedulableAndUnresolvable,
                "node(s) had untolerated taint {k: v}",
            ),
        );
        assert_eq!(
            fit_error_message(3, &st, "", ""),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}."
        );
        assert_eq!(
            fit_error_message(3, &st, "", "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
        );
        // Absent nodes get the absent status's reasons.
        let mut st = NodeToStatus::new();
        st.set(0, Status::new(Code::Unschedulable, "Insufficient cpu"));
        st.set_absent_nodes_status(Status::new(
            Code::UnschedulableAndUnresolvable,
            "node(s) didn't satisfy plugin(s) [NodeAffinity]",
        ));
        assert_eq!(
            fit_error_message(12, &st, "", ""),
            "0/12 nodes are available: 1 Insufficient cpu, 11 node(s) didn't satisfy plugin(s) [NodeAffinity]."
        );
        // Counts sort as strings, as upstream's sort.Strings.
        let mut st = NodeToStatus::new();
        for i in 0..10 {
            st.set(i, Status::new(Code::Unschedulable, "b"));
        }
        for i in 10..12 {
            st.set(i, Status::new(Code::Unschedulable, "a"));
        }
        assert_eq!(
            fit_error_message(12, &st, "", ""),
            "0/12 nodes are available: 10 b, 2 a."
        );
        assert_eq!(
            fit_error_message(2, &NodeToStatus::new(), "pod affinity terms conflict", ""),
            "0/2 nodes are available: pod affinity terms conflict."
        );
    }
}
