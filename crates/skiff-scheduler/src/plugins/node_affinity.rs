//! `NodeAffinity` (PreFilter, Filter, PreScore, Score): `spec.nodeSelector` and required node
//! affinity filter; preferred node affinity scores (sum of matching weights, normalized by the max).
//!
//! PreFilter narrows the nodes when every required term pins `metadata.name` (`matchFields`), returns
//! `pod affinity terms conflict` when those pins cannot all hold, and Skip when the pod has no node
//! constraints. Args: `addedAffinity` (a node affinity every pod of the profile must also satisfy,
//! reported as `node(s) didn't match scheduler-enforced node affinity`; its preferred terms add to the
//! score).

use super::helper::normalize_to_max;
use crate::config::{decode_args, NodeAffinityArgs};
use crate::framework::{
    Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, ScorePlugin, Snapshot, Status,
};
use crate::nodeaffinity::{
    NodeSelector, PreferredSchedulingTerms, RequiredNodeAffinity, OBJECT_NAME_FIELD,
};
use serde_json::Value;
use std::collections::HashSet;

/// `ErrReasonPod`.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// `errReasonEnforced`.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// `errReasonConflict`.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// The `NodeAffinity` plugin.
#[derive(Debug, Default)]
pub struct NodeAffinity {
    added_node_selector: Option<NodeSelector>,
    added_pref_sched_terms: Option<PreferredSchedulingTerms>,
}

#[derive(Clone)]
struct PreFilterState(RequiredNodeAffinity);

#[derive(Clone)]
struct PreScoreState(Option<PreferredSchedulingTerms>);

impl NodeAffinity {
    /// `New` from `NodeAffinityArgs`.
    pub fn new(args: Option<&Value>) -> Result<Self, String> {
        let args: NodeAffinityArgs = decode_args("NodeAffinity", args)?;
        let mut pl = NodeAffinity::default();
        if let Some(added) = args.added_affinity {
            if let Some(ns) = added
                .required_during_scheduling_ignored_during_execution
                .as_ref()
            {
                pl.added_node_selector = Some(NodeSelector::new_strict(ns).map_err(|e| {
                    format!(
                        "parsing addedAffinity.requiredDuringSchedulingIgnoredDuringExecution: {e}"
                    )
                })?);
            }
            if let Some(terms) = added
                .preferred_during_scheduling_ignored_during_execution
                .as_ref()
                .filter(|t| !t.is_empty())
            {
                pl.added_pref_sched_terms = Some(PreferredSchedulingTerms::new(terms).map_err(
                    |e| format!("parsing addedAffinity.preferredDuringSchedulingIgnoredDuringExecution: {e}"),
                )?);
            }
        }
        Ok(pl)
    }
}

fn preferred_of(pod: &PodInfo) -> Result<Option<PreferredSchedulingTerms>, String> {
    match pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }) {
        Some(terms) => PreferredSchedulingTerms::new(terms).map(Some),
        None => Ok(None),
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        super::names::NODE_AFFINITY
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

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        _snapshot: &Snapshot,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        let spec = pod.pod.spec.as_ref();
        let required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        let has_node_selector = spec.is_some_and(|s| s.node_selector.is_some());
        if required.is_none() && self.added_node_selector.is_none() && !has_node_selector {
            return (None, Status::skip());
        }
        state.write(PreFilterState(RequiredNodeAffinity::from_pod(&pod.pod)));
        let Some(required) = required.filter(|r| !r.node_selector_terms.is_empty()) else {
            return (None, Status::success());
        };
        let mut node_names: Option<HashSet<String>> = None;
        for t in &required.node_selector_terms {
            let mut term_names: Option<HashSet<String>> = None;
            for r in t.match_fields.iter().flatten() {
                if r.key == OBJECT_NAME_FIELD && r.operator == "In" {
                    let s: HashSet<String> = r.values.iter().flatten().cloned().collect();
                    term_names = Some(match term_names {
                        None => s,
                        Some(prev) => prev.intersection(&s).cloned().collect(),
                    });
                }
            }
            let Some(term_names) = term_names else {
                // A term without a name pin allows every node (terms are ORed).
                return (None, Status::success());
            };
            node_names
                .get_or_insert_with(HashSet::new)
                .extend(term_names);
        }
        match node_names {
            Some(n) if n.is_empty() => (
                None,
                Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_CONFLICT),
            ),
            Some(n) => (
                Some(PreFilterResult {
                    node_names: Some(n),
                }),
                Status::success(),
            ),
            None => (None, Status::success()),
        }
    }
}

impl FilterPlugin for NodeAffinity {
    #[inline]
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let labels = node.labels();
        if let Some(added) = &self.added_node_selector {
            if !added.matches(labels, node.name()) {
                return Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_ENFORCED);
            }
        }
        let ok = match state.read::<PreFilterState>() {
            Some(s) => s.0.matches(labels, node.name()),
            None => RequiredNodeAffinity::from_pod(&pod.pod).matches(labels, node.name()),
        };
        if ok {
            Status::success()
        } else {
            Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_POD)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        _snapshot: &Snapshot,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Status {
        if nodes.is_empty() {
            return Status::success();
        }
        let preferred = match preferred_of(pod) {
            Ok(p) => p,
            Err(e) => return Status::error(e),
        };
        if preferred.is_none() && self.added_pref_sched_terms.is_none() {
            return Status::skip();
        }
        state.write(PreScoreState(preferred));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let labels = node.labels();
        let mut count = 0;
        if let Some(added) = &self.added_pref_sched_terms {
            count += added.score(labels, node.name());
        }
        match state.read::<PreScoreState>() {
            Some(s) => {
                if let Some(p) = &s.0 {
                    count += p.score(labels, node.name());
                }
            }
            None => {
                if let Some(p) = preferred_of(pod).map_err(Status::error)? {
                    count += p.score(labels, node.name());
                }
            }
        }
        Ok(count)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize_score(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        normalize_to_max(false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity as K8sNodeAffinity, NodeSelector as K8sNodeSelector,
        NodeSelectorRequirement, NodeSelectorTerm,
    };
    use serde_json::json;

    fn req(k: &str, op: &str, v: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn required(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(K8sNodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(K8sNodeSelector {
                    node_selector_terms: terms,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn run(pl: &NodeAffinity, p: &PodInfo, n: &NodeInfo) -> Status {
        let mut st = CycleState::new();
        let (_, s) = pl.pre_filter(&mut st, &Snapshot::new(), p);
        if s.is_skip() {
            return Status::success();
        }
        if !s.is_success() {
            return s;
        }
        pl.filter(&st, p, n)
    }

    #[test]
    fn filter_table() {
        let pl = NodeAffinity::new(None).unwrap();
        let n = NodeInfo::new(node("node1").label("foo", "bar").label("gpu", "4").build());
        let exprs = |r: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: Some(r),
            ..Default::default()
        };
        let cases = [
            (pod("p").build(), true),
            (pod("p").node_selector("foo", "bar").build(), true),
            (pod("p").node_selector("foo", "baz").build(), false),
            (
                pod("p")
                    .affinity(required(vec![exprs(vec![req("foo", "In", &["bar", "x"])])]))
                    .build(),
                true,
            ),
            (
                pod("p")
                    .affinity(required(vec![exprs(vec![req("foo", "NotIn", &["bar"])])]))
                    .build(),
                false,
            ),
            (
                pod("p")
                    .affinity(required(vec![exprs(vec![req("gpu", "Gt", &["2"])])]))
                    .build(),
                true,
            ),
            (
                pod("p")
                    .affinity(required(vec![exprs(vec![req("gpu", "Lt", &["2"])])]))
                    .build(),
                false,
            ),
            (
                pod("p")
                    .affinity(required(vec![exprs(vec![req(
                        "kernel",
                        "DoesNotExist",
                        &[],
                    )])]))
                    .build(),
                true,
            ),
            // Terms are ORed.
            (
                pod("p")
                    .affinity(required(vec![
                        exprs(vec![req("foo", "In", &["x"])]),
                        exprs(vec![req("foo", "Exists", &[])]),
                    ]))
                    .build(),
                true,
            ),
            // nodeSelector and affinity are ANDed.
            (
                pod("p")
                    .node_selector("foo", "baz")
                    .affinity(required(vec![exprs(vec![req("foo", "Exists", &[])])]))
                    .build(),
                false,
            ),
            // An empty term list matches nothing.
            (pod("p").affinity(required(vec![])).build(), false),
            // matchFields on the node name.
            (
                pod("p")
                    .affinity(required(vec![NodeSelectorTerm {
                        match_fields: Some(vec![req("metadata.name", "In", &["node1"])]),
                        ..Default::default()
                    }]))
                    .build(),
                true,
            ),
            (
                pod("p")
                    .affinity(required(vec![NodeSelectorTerm {
                        match_fields: Some(vec![req("metadata.name", "NotIn", &["node1"])]),
                        ..Default::default()
                    }]))
                    .build(),
                false,
            ),
        ];
        for (i, (p, ok)) in cases.into_iter().enumerate() {
            let s = run(&pl, &PodInfo::new(p), &n);
            assert_eq!(s.is_success(), ok, "case {i}: {s}");
            if !ok {
                assert_eq!(s.message(), ERR_REASON_POD, "case {i}");
                assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
            }
        }
    }

    #[test]
    fn pre_filter_result_from_name_pins() {
        let pl = NodeAffinity::new(None).unwrap();
        let name_term = |names: &[&str]| NodeSelectorTerm {
            match_fields: Some(vec![req("metadata.name", "In", names)]),
            ..Default::default()
        };
        let p = PodInfo::new(
            pod("p")
                .affinity(required(vec![name_term(&["a", "b"]), name_term(&["c"])]))
                .build(),
        );
        let (r, s) = pl.pre_filter(&mut CycleState::new(), &Snapshot::new(), &p);
        assert!(s.is_success());
        let mut got: Vec<String> = r.unwrap().node_names.unwrap().into_iter().collect();
        got.sort();
        assert_eq!(got, ["a", "b", "c"]);
        // Conflicting pins within one term.
        let p = PodInfo::new(
            pod("p")
                .affinity(required(vec![NodeSelectorTerm {
                    match_fields: Some(vec![
                        req("metadata.name", "In", &["a"]),
                        req("metadata.name", "In", &["b"]),
                    ]),
                    ..Default::default()
                }]))
                .build(),
        );
        let (_, s) = pl.pre_filter(&mut CycleState::new(), &Snapshot::new(), &p);
        assert_eq!(s.message(), ERR_REASON_CONFLICT);
        // A term without pins allows all nodes.
        let p = PodInfo::new(
            pod("p")
                .affinity(required(vec![
                    name_term(&["a"]),
                    NodeSelectorTerm {
                        match_expressions: Some(vec![req("x", "Exists", &[])]),
                        ..Default::default()
                    },
                ]))
                .build(),
        );
        let (r, _) = pl.pre_filter(&mut CycleState::new(), &Snapshot::new(), &p);
        assert!(r.is_none());
    }

    #[test]
    fn added_affinity() {
        let pl = NodeAffinity::new(Some(&json!({"addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["foo"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "preference": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}]
        }})))
        .unwrap();
        let p = PodInfo::new(pod("p").build());
        let bad = NodeInfo::new(node("n").label("zone", "bar").build());
        let s = run(&pl, &p, &bad);
        assert_eq!(s.message(), ERR_REASON_ENFORCED);
        let good = NodeInfo::new(node("n").label("zone", "foo").label("x", "").build());
        assert!(run(&pl, &p, &good).is_success());
        let mut st = CycleState::new();
        assert!(pl
            .pre_score(&mut st, &Snapshot::new(), &p, &[&good])
            .is_success());
        assert_eq!(pl.score(&st, &p, &good).unwrap(), 5);
        assert!(NodeAffinity::new(Some(&json!({"addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "Bogus"}]}]}}})))
        .is_err());
    }

    #[test]
    fn preferred_scores_normalized() {
        let pl = NodeAffinity::new(None).unwrap();
        let p = PodInfo::new(
            pod("p")
                .preferred_node_affinity(2, "foo", &["bar"])
                .preferred_node_affinity(4, "key", &["value"])
                .preferred_node_affinity(5, "az", &["az1"])
                .build(),
        );
        let nodes = [
            NodeInfo::new(node("a").label("foo", "bar").build()),
            NodeInfo::new(node("b").label("foo", "bar").label("key", "value").build()),
            NodeInfo::new(
                node("c")
                    .label("foo", "bar")
                    .label("key", "value")
                    .label("az", "az1")
                    .build(),
            ),
            NodeInfo::new(node("d").build()),
        ];
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut st = CycleState::new();
        assert!(pl
            .pre_score(&mut st, &Snapshot::new(), &p, &refs)
            .is_success());
        let mut scores: Vec<i64> = refs.iter().map(|n| pl.score(&st, &p, n).unwrap()).collect();
        assert_eq!(scores, [2, 6, 11, 0]);
        pl.normalize_score(&st, &p, &refs, &mut scores);
        assert_eq!(scores, [18, 54, 100, 0]);
        // No preferences: Skip.
        let q = PodInfo::new(pod("q").build());
        assert!(pl
            .pre_score(&mut CycleState::new(), &Snapshot::new(), &q, &refs)
            .is_skip());
    }
}
