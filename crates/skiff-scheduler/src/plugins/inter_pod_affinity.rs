//! `InterPodAffinity` (PreFilter, Filter, PreScore, Score): required and preferred pod affinity and
//! anti-affinity, of the incoming pod and of the pods already running.
//!
//! PreFilter counts, per topology domain, (1) existing pods whose required anti-affinity matches the
//! incoming pod, (2) existing pods matching *all* the incoming pod's required affinity terms, (3)
//! existing pods matching each required anti-affinity term. Filter then reads the node's domain:
//! affinity fails with `node(s) didn't match pod affinity rules` (UnschedulableAndUnresolvable) unless
//! this is the first pod of a group that matches its own terms (no pod anywhere matches yet);
//! anti-affinity fails with `node(s) didn't match pod anti-affinity rules`, existing pods' anti-affinity
//! with `node(s) didn't satisfy existing pods anti-affinity rules` (both Unschedulable).
//!
//! Terms select pods by label selector within `namespaces`, or within the namespaces whose labels
//! match `namespaceSelector` (namespace labels come from the snapshot; for the incoming pod's terms the
//! matching namespaces are merged into the list up front, as upstream does).
//!
//! Scoring sums, per topology domain, the preferred (anti-)affinity weights between the incoming pod and
//! existing pods in both directions, plus `hardPodAffinityWeight` (arg, default 1) for existing pods'
//! required affinity the incoming pod matches; scores are min-max normalized.
//!
//! Counting uses dense per-key arrays over the snapshot's [`TopologyIndex`] rather than string maps;
//! keys first seen when preemption adds or removes a pod fall back to a sparse map.

use crate::config::{args_error, decode_args, InterPodAffinityArgs};
use crate::framework::{
    AffinityTerm, Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodGroup, PodInfo,
    PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin, Snapshot, Status, TopologyIndex,
    WeightedAffinityTerm, MAX_NODE_SCORE,
};
use crate::labels::{Labels, Selector};
use serde_json::Value;
use skiff_api::field::{FieldError, Path};
use std::collections::HashMap;
use std::sync::Arc;

/// `ErrReasonExistingAntiAffinityRulesNotMatch`.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// `ErrReasonAffinityRulesNotMatch`.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// `ErrReasonAntiAffinityRulesNotMatch`.
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";

#[derive(Clone, Debug)]
struct Dense {
    key: String,
    index: Arc<TopologyIndex>,
    counts: Vec<i64>,
}

/// Counts per (topology key, value): `topologyToMatchedTermCount` / `scoreMap`.
#[derive(Clone, Debug, Default)]
struct TopoCounts {
    dense: Vec<Dense>,
    sparse: HashMap<(String, String), i64>,
    nonzero: usize,
    /// Some count was updated on a node having the key (upstream's map got an entry).
    touched: bool,
}

impl TopoCounts {
    fn dense_of(&self, key: &str) -> Option<usize> {
        self.dense.iter().position(|d| d.key == key)
    }

    fn ensure_key(&mut self, key: &str, snapshot: &Snapshot) -> usize {
        if let Some(i) = self.dense_of(key) {
            return i;
        }
        let index = snapshot.topology(key);
        self.dense.push(Dense {
            key: key.to_string(),
            counts: vec![0; index.len()],
            index,
        });
        self.dense.len() - 1
    }

    fn bump(&mut self, before: i64, after: i64) {
        if before == 0 && after != 0 {
            self.nonzero += 1;
        } else if before != 0 && after == 0 {
            self.nonzero -= 1;
        }
    }

    /// Adds `delta` to the domain of node `slot` for the dense key `k` (no-op without the label).
    #[inline]
    fn add_dense(&mut self, k: usize, slot: usize, delta: i64) {
        let d = &mut self.dense[k];
        if let Some(v) = d.index.value_of(slot) {
            let before = d.counts[v as usize];
            d.counts[v as usize] += delta;
            let after = d.counts[v as usize];
            self.touched = true;
            self.bump(before, after);
        }
    }

    /// The count of node `slot`'s domain for dense key `k`, plus any sparse count (`None` when the
    /// node lacks the label).
    #[inline]
    fn get_at(&self, k: usize, node: &NodeInfo) -> Option<i64> {
        let d = &self.dense[k];
        let v = d.index.value_of(node.index())?;
        let dense = d.counts[v as usize];
        if self.sparse.is_empty() {
            return Some(dense);
        }
        let value = node.labels().get(&d.key)?;
        Some(
            dense
                + self
                    .sparse
                    .get(&(d.key.clone(), value.clone()))
                    .copied()
                    .unwrap_or(0),
        )
    }

    /// `m.update(node, key, delta)`: counts the node's domain of `key`, if the node has the label.
    fn add(&mut self, key: &str, node: &NodeInfo, delta: i64) {
        if let Some(i) = self.dense_of(key) {
            let d = &mut self.dense[i];
            if let Some(v) = d.index.value_of(node.index()) {
                let before = d.counts[v as usize];
                d.counts[v as usize] += delta;
                let after = d.counts[v as usize];
                self.bump(before, after);
            }
            return;
        }
        let Some(v) = node.labels().get(key) else {
            return;
        };
        let e = self.sparse.entry((key.to_string(), v.clone())).or_insert(0);
        let before = *e;
        *e += delta;
        let after = *e;
        if after == 0 {
            self.sparse.remove(&(key.to_string(), v.clone()));
        }
        self.bump(before, after);
    }

    /// True when every count is zero (the upstream map is empty).
    fn is_empty(&self) -> bool {
        self.nonzero == 0
    }

    /// Whether any of the node's domains has a positive count.
    fn any_positive_for(&self, node: &NodeInfo) -> bool {
        for d in &self.dense {
            if let Some(v) = d.index.value_of(node.index()) {
                if d.counts[v as usize] > 0 {
                    return true;
                }
            }
        }
        if !self.sparse.is_empty() {
            let labels = node.labels();
            return self
                .sparse
                .iter()
                .any(|((k, v), c)| *c > 0 && labels.get(k) == Some(v));
        }
        false
    }
}

/// The `InterPodAffinity` plugin.
#[derive(Debug, Clone)]
pub struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
    ignore_preferred_terms_of_existing_pods: bool,
}

#[derive(Clone)]
struct PreFilterState {
    existing_anti_affinity_counts: TopoCounts,
    affinity_counts: TopoCounts,
    anti_affinity_counts: TopoCounts,
    /// The incoming pod's required terms, namespace selectors merged into namespaces.
    affinity_terms: Vec<AffinityTerm>,
    anti_affinity_terms: Vec<AffinityTerm>,
    /// Dense key index of each term in `affinity_counts` / `anti_affinity_counts`.
    affinity_keys: Vec<usize>,
    anti_affinity_keys: Vec<usize>,
    namespace_labels: Option<Labels>,
}

#[derive(Clone)]
struct PreScoreState {
    topology_score: TopoCounts,
}

/// `mergeAffinityTermNamespacesIfNotEmpty`.
fn merge_namespaces(term: &mut AffinityTerm, snapshot: &Snapshot) {
    if term.namespace_selector.is_empty() {
        return;
    }
    let extra: Vec<String> = snapshot
        .namespaces_matching(&term.namespace_selector)
        .map(str::to_string)
        .collect();
    for ns in extra {
        if !term.namespaces.contains(&ns) {
            term.namespaces.push(ns);
        }
    }
    term.namespace_selector = Selector::nothing();
}

/// `podMatchesAllAffinityTerms`.
#[inline]
fn matches_all(terms: &[AffinityTerm], pod: &PodInfo) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, None))
}

impl InterPodAffinity {
    /// `New` from `InterPodAffinityArgs`.
    pub fn new(args: Option<&Value>) -> Result<Self, String> {
        let args: InterPodAffinityArgs = decode_args("InterPodAffinity", args)?;
        let w = args.hard_pod_affinity_weight.unwrap_or(1);
        if !(0..=100).contains(&w) {
            return Err(args_error(&[FieldError::invalid_raw(
                &Path::new("hardPodAffinityWeight"),
                w,
                "not in valid range [0, 100]",
            )]));
        }
        Ok(InterPodAffinity {
            hard_pod_affinity_weight: i64::from(w),
            ignore_preferred_terms_of_existing_pods: args.ignore_preferred_terms_of_existing_pods,
        })
    }

    /// `processExistingPod` for a group of equivalent existing pods: the weights that apply (computed
    /// once), times the group's pods on each node.
    #[allow(clippy::too_many_arguments)]
    fn process_existing_group(
        &self,
        pref_affinity: &[WeightedAffinityTerm],
        pref_anti_affinity: &[WeightedAffinityTerm],
        ns_labels: Option<&Labels>,
        group: &PodGroup,
        incoming: &PodInfo,
        scores: &mut TopoCounts,
        snapshot: &Snapshot,
        contributions: &mut Vec<(usize, i64)>,
    ) {
        let existing = group.pod();
        contributions.clear();
        let mut push = |term: &AffinityTerm, weight: i64, pod: &PodInfo, nsl: Option<&Labels>| {
            if term.matches(pod, nsl) {
                let k = scores.ensure_key(&term.topology_key, snapshot);
                contributions.push((k, weight));
            }
        };
        for t in pref_affinity {
            push(&t.term, i64::from(t.weight), existing, None);
        }
        for t in pref_anti_affinity {
            push(&t.term, -i64::from(t.weight), existing, None);
        }
        if self.hard_pod_affinity_weight > 0 {
            for t in &existing.required_affinity_terms {
                push(t, self.hard_pod_affinity_weight, incoming, ns_labels);
            }
        }
        for t in &existing.preferred_affinity_terms {
            push(&t.term, i64::from(t.weight), incoming, ns_labels);
        }
        for t in &existing.preferred_anti_affinity_terms {
            push(&t.term, -i64::from(t.weight), incoming, ns_labels);
        }
        if contributions.is_empty() {
            return;
        }
        // A node without labels has no topology domain: `add_dense` finds no value for it, without
        // reading the node object (a cache miss per node).
        for (slot, count) in group.nodes() {
            for &(k, w) in contributions.iter() {
                scores.add_dense(k, slot, w * i64::from(count));
            }
        }
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        super::names::INTER_POD_AFFINITY
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

impl PreFilterState {
    /// `preFilterState.updateWithPod`.
    fn update_with_pod(&mut self, incoming: &PodInfo, pod: &PodInfo, node: &NodeInfo, m: i64) {
        for t in &pod.required_anti_affinity_terms {
            if t.matches(incoming, self.namespace_labels.as_ref()) {
                self.existing_anti_affinity_counts
                    .add(&t.topology_key, node, m);
            }
        }
        if matches_all(&self.affinity_terms, pod) {
            for t in &self.affinity_terms {
                self.affinity_counts.add(&t.topology_key, node, m);
            }
        }
        for t in &self.anti_affinity_terms {
            if t.matches(pod, None) {
                self.anti_affinity_counts.add(&t.topology_key, node, m);
            }
        }
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        if let Some(e) = pod.parse_error() {
            return (
                None,
                Status::new(
                    Code::UnschedulableAndUnresolvable,
                    format!("parsing pod: {e}"),
                ),
            );
        }
        let mut affinity_terms = pod.required_affinity_terms.clone();
        let mut anti_affinity_terms = pod.required_anti_affinity_terms.clone();
        for t in affinity_terms
            .iter_mut()
            .chain(anti_affinity_terms.iter_mut())
        {
            merge_namespaces(t, snapshot);
        }
        let namespace_labels = snapshot.namespace_labels(pod.namespace()).cloned();

        let mut existing = TopoCounts::default();
        let mut affinity = TopoCounts::default();
        let mut anti = TopoCounts::default();
        let affinity_keys: Vec<usize> = affinity_terms
            .iter()
            .map(|t| affinity.ensure_key(&t.topology_key, snapshot))
            .collect();
        let anti_affinity_keys: Vec<usize> = anti_affinity_terms
            .iter()
            .map(|t| anti.ensure_key(&t.topology_key, snapshot))
            .collect();
        let has_terms = !affinity_terms.is_empty() || !anti_affinity_terms.is_empty();
        for g in snapshot.pod_groups() {
            let e = g.pod();
            // Existing pods' required anti-affinity against the incoming pod.
            if e.has_required_anti_affinity() {
                for t in &e.required_anti_affinity_terms {
                    if t.matches(pod, namespace_labels.as_ref()) {
                        let k = existing.ensure_key(&t.topology_key, snapshot);
                        for (slot, c) in g.nodes() {
                            existing.add_dense(k, slot, i64::from(c));
                        }
                    }
                }
            }
            if !has_terms {
                continue;
            }
            // The incoming pod's required terms against existing pods.
            if matches_all(&affinity_terms, e) {
                for &k in &affinity_keys {
                    for (slot, c) in g.nodes() {
                        affinity.add_dense(k, slot, i64::from(c));
                    }
                }
            }
            for (t, &k) in anti_affinity_terms.iter().zip(&anti_affinity_keys) {
                if t.matches(e, None) {
                    for (slot, c) in g.nodes() {
                        anti.add_dense(k, slot, i64::from(c));
                    }
                }
            }
        }
        if existing.is_empty() && !has_terms {
            return (None, Status::skip());
        }
        state.write(PreFilterState {
            existing_anti_affinity_counts: existing,
            affinity_counts: affinity,
            anti_affinity_counts: anti,
            affinity_terms,
            anti_affinity_terms,
            affinity_keys,
            anti_affinity_keys,
            namespace_labels,
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
                s.update_with_pod(pod_to_schedule, pod_to_add, node, 1);
                Status::success()
            }
            None => {
                Status::error("reading \"PreFilterInterPodAffinity\" from cycleState: not found")
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
                s.update_with_pod(pod_to_schedule, pod_to_remove, node, -1);
                Status::success()
            }
            None => {
                Status::error("reading \"PreFilterInterPodAffinity\" from cycleState: not found")
            }
        }
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::error(
                "reading \"PreFilterInterPodAffinity\" from cycleState: not found",
            );
        };
        // satisfyPodAffinity
        let mut pods_exist = true;
        for &k in &s.affinity_keys {
            match s.affinity_counts.get_at(k, node) {
                None => {
                    return Status::new(
                        Code::UnschedulableAndUnresolvable,
                        ERR_REASON_AFFINITY_RULES_NOT_MATCH,
                    )
                }
                Some(c) if c <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        // The first pod of a group whose members attract each other may go anywhere its topology
        // keys exist, if no pod matches yet and it matches its own terms.
        let first_of_group = s.affinity_counts.is_empty() && matches_all(&s.affinity_terms, pod);
        if !pods_exist && !first_of_group {
            return Status::new(
                Code::UnschedulableAndUnresolvable,
                ERR_REASON_AFFINITY_RULES_NOT_MATCH,
            );
        }
        // satisfyPodAntiAffinity
        if !s.anti_affinity_counts.is_empty() {
            for &k in &s.anti_affinity_keys {
                if s.anti_affinity_counts.get_at(k, node).unwrap_or(0) > 0 {
                    return Status::new(
                        Code::Unschedulable,
                        ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
                    );
                }
            }
        }
        // satisfyExistingPodsAntiAffinity
        if !s.existing_anti_affinity_counts.is_empty()
            && s.existing_anti_affinity_counts.any_positive_for(node)
        {
            return Status::new(
                Code::Unschedulable,
                ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
            );
        }
        Status::success()
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let has_constraints = !pod.preferred_affinity_terms.is_empty()
            || !pod.preferred_anti_affinity_terms.is_empty();
        if self.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        if let Some(e) = pod.parse_error() {
            return Status::error(format!("failed to parse pod: {e}"));
        }
        let mut pref_affinity = pod.preferred_affinity_terms.clone();
        let mut pref_anti = pod.preferred_anti_affinity_terms.clone();
        for t in pref_affinity.iter_mut().chain(pref_anti.iter_mut()) {
            merge_namespaces(&mut t.term, snapshot);
        }
        let ns_labels = snapshot.namespace_labels(pod.namespace()).cloned();
        let mut scores = TopoCounts::default();
        let mut contributions = Vec::new();
        for g in snapshot.pod_groups() {
            // Unless the incoming pod has preferred terms, only pods with affinity matter.
            if !has_constraints && !g.pod().has_affinity() {
                continue;
            }
            self.process_existing_group(
                &pref_affinity,
                &pref_anti,
                ns_labels.as_ref(),
                g,
                pod,
                &mut scores,
                snapshot,
                &mut contributions,
            );
        }
        if !scores.touched {
            return Status::skip();
        }
        state.write(PreScoreState {
            topology_score: scores,
        });
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.read::<PreScoreState>() else {
            return Err(Status::error(
                "reading \"PreScoreInterPodAffinity\" from cycleState: not found",
            ));
        };
        let mut score = 0;
        for d in &s.topology_score.dense {
            if let Some(v) = d.index.value_of(node.index()) {
                score += d.counts[v as usize];
            }
        }
        Ok(score)
    }

    fn has_normalize(&self) -> bool {
        true
    }

    fn normalize_score(
        &self,
        state: &CycleState,
        _pod: &PodInfo,
        _nodes: &[&NodeInfo],
        scores: &mut [i64],
    ) -> Status {
        let Some(s) = state.read::<PreScoreState>() else {
            return Status::error(
                "reading \"PreScoreInterPodAffinity\" from cycleState: not found",
            );
        };
        if !s.topology_score.touched {
            return Status::success();
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for sc in scores.iter_mut() {
            *sc = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*sc - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    const ZONE: &str = "zone";
    const HOST: &str = "kubernetes.io/hostname";

    fn snapshot(
        nodes: Vec<k8s_openapi::api::core::v1::Node>,
        pods: Vec<k8s_openapi::api::core::v1::Pod>,
    ) -> Snapshot {
        Snapshot::from_objects(nodes, pods).unwrap()
    }

    fn filter(snap: &Snapshot, p: k8s_openapi::api::core::v1::Pod, node_name: &str) -> Status {
        let pl = InterPodAffinity::new(None).unwrap();
        let p = PodInfo::new(p);
        let mut st = CycleState::new();
        let (_, s) = pl.pre_filter(&mut st, snap, &p);
        if s.is_skip() {
            return Status::success();
        }
        assert!(s.is_success(), "{s}");
        pl.filter(&st, &p, snap.get(node_name).unwrap())
    }

    fn nodes3() -> Vec<k8s_openapi::api::core::v1::Node> {
        vec![
            node("n1").label(ZONE, "z1").label(HOST, "n1").build(),
            node("n2").label(ZONE, "z1").label(HOST, "n2").build(),
            node("n3").label(ZONE, "z2").label(HOST, "n3").build(),
        ]
    }

    #[test]
    fn required_affinity() {
        let existing = pod("e").label("service", "securityscan").node("n1").build();
        let snap = snapshot(nodes3(), vec![existing]);
        let p = || pod("p").pod_affinity_required("service", "securityscan", ZONE);
        assert!(filter(&snap, p().build(), "n1").is_success());
        assert!(filter(&snap, p().build(), "n2").is_success());
        let s = filter(&snap, p().build(), "n3");
        assert_eq!(s.message(), ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        // Another namespace does not count.
        let s = filter(&snap, p().namespace("other").build(), "n1");
        assert_eq!(s.message(), ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        // A node without the topology label fails.
        let snap2 = snapshot(
            vec![node("n1").label(ZONE, "z1").build(), node("n4").build()],
            vec![pod("e").label("service", "securityscan").node("n1").build()],
        );
        assert!(!filter(&snap2, p().build(), "n4").is_success());
    }

    #[test]
    fn first_pod_of_a_group_matching_itself() {
        let snap = snapshot(nodes3(), vec![]);
        // No pod matches anywhere, and the pod matches its own term: allowed.
        let p = pod("p")
            .label("app", "web")
            .pod_affinity_required("app", "web", ZONE);
        assert!(filter(&snap, p.build(), "n3").is_success());
        // Does not match its own term: rejected.
        let p = pod("p")
            .label("app", "db")
            .pod_affinity_required("app", "web", ZONE);
        assert!(!filter(&snap, p.build(), "n3").is_success());
        // Once a matching pod exists elsewhere, the special case no longer applies.
        let snap = snapshot(
            nodes3(),
            vec![pod("e").label("app", "web").node("n1").build()],
        );
        let p = pod("p")
            .label("app", "web")
            .pod_affinity_required("app", "web", ZONE);
        assert!(!filter(&snap, p.clone().build(), "n3").is_success());
        assert!(filter(&snap, p.build(), "n2").is_success());
    }

    #[test]
    fn required_anti_affinity_both_ways() {
        let snap = snapshot(
            nodes3(),
            vec![pod("e").label("app", "web").node("n1").build()],
        );
        let p = pod("p").pod_anti_affinity_required("app", "web", ZONE);
        let s = filter(&snap, p.clone().build(), "n2");
        assert_eq!(s.message(), ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        assert_eq!(s.code(), Code::Unschedulable);
        assert!(filter(&snap, p.build(), "n3").is_success());
        // Existing pod's anti-affinity against the incoming pod.
        let snap = snapshot(
            nodes3(),
            vec![pod("e")
                .node("n1")
                .pod_anti_affinity_required("app", "web", HOST)
                .build()],
        );
        let s = filter(&snap, pod("p").label("app", "web").build(), "n1");
        assert_eq!(
            s.message(),
            ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH
        );
        assert!(filter(&snap, pod("p").label("app", "web").build(), "n2").is_success());
        assert!(filter(&snap, pod("p").label("app", "db").build(), "n1").is_success());
    }

    #[test]
    fn unparsable_terms_reject_the_pod() {
        let snap = snapshot(nodes3(), vec![]);
        let bad = pod("p")
            .pod_affinity_term_required(k8s_openapi::api::core::v1::PodAffinityTerm {
                label_selector: Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                        match_expressions: Some(vec![
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                            key: "a".into(),
                            operator: "Bogus".into(),
                            values: None,
                        },
                    ]),
                        match_labels: None,
                    },
                ),
                topology_key: ZONE.into(),
                ..Default::default()
            })
            .build();
        let pl = InterPodAffinity::new(None).unwrap();
        let (_, s) = pl.pre_filter(&mut CycleState::new(), &snap, &PodInfo::new(bad));
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(
            s.message(),
            "parsing pod: requiredAffinityTerms: \"Bogus\" is not a valid label selector operator"
        );
    }

    #[test]
    fn namespace_selector() {
        let mut snap = snapshot(
            nodes3(),
            vec![pod("e")
                .namespace("team-a")
                .label("app", "web")
                .node("n1")
                .build()],
        );
        snap.set_namespace("team-a", [("team".to_string(), "a".to_string())].into());
        snap.set_namespace("default", Default::default());
        let term = |sel: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
            pod("p").pod_affinity_term_required(k8s_openapi::api::core::v1::PodAffinityTerm {
                label_selector: Some(crate::testing::selector(&[("app", "web")])),
                namespace_selector: sel,
                topology_key: ZONE.into(),
                ..Default::default()
            })
        };
        // namespaceSelector team=a selects the existing pod's namespace.
        assert!(filter(
            &snap,
            term(Some(crate::testing::selector(&[("team", "a")]))).build(),
            "n2"
        )
        .is_success());
        assert!(!filter(
            &snap,
            term(Some(crate::testing::selector(&[("team", "a")]))).build(),
            "n3"
        )
        .is_success());
        // {} selects every namespace.
        assert!(filter(&snap, term(Some(Default::default())).build(), "n1").is_success());
        // No selector, no namespaces: the pod's own namespace only; the first-pod exception does not
        // apply (the pod does not match its own term).
        assert!(!filter(&snap, term(None).build(), "n1").is_success());
    }

    #[test]
    fn add_remove_pod_extensions() {
        let snap = snapshot(
            nodes3(),
            vec![pod("e").label("app", "web").node("n1").build()],
        );
        let pl = InterPodAffinity::new(None).unwrap();
        let p = PodInfo::new(
            pod("p")
                .pod_anti_affinity_required("app", "web", ZONE)
                .build(),
        );
        let mut st = CycleState::new();
        let (_, s) = pl.pre_filter(&mut st, &snap, &p);
        assert!(s.is_success());
        let n1 = snap.get("n1").unwrap();
        assert!(!pl.filter(&st, &p, n1).is_success());
        let e = snap.pod("default/e").unwrap().1.clone();
        pl.remove_pod(&mut st, &p, &e, n1);
        assert!(pl.filter(&st, &p, n1).is_success());
        pl.add_pod(&mut st, &p, &e, snap.get("n3").unwrap());
        assert!(!pl.filter(&st, &p, snap.get("n3").unwrap()).is_success());
        assert!(pl.filter(&st, &p, n1).is_success());
    }

    fn scores(
        snap: &Snapshot,
        pl: &InterPodAffinity,
        p: k8s_openapi::api::core::v1::Pod,
    ) -> Option<Vec<i64>> {
        let p = PodInfo::new(p);
        let nodes: Vec<&NodeInfo> = snap.list().collect();
        let mut st = CycleState::new();
        let s = pl.pre_score(&mut st, snap, &p, &nodes);
        if s.is_skip() {
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
    fn preferred_scoring() {
        let pl = InterPodAffinity::new(None).unwrap();
        let snap = snapshot(
            nodes3(),
            vec![
                pod("e1").label("security", "S1").node("n1").build(),
                pod("e2").label("security", "S2").node("n3").build(),
            ],
        );
        // Preferred affinity to S1 by zone: n1 and n2 (z1) score 100, n3 0.
        let got = scores(
            &snap,
            &pl,
            pod("p")
                .pod_affinity_preferred(5, "security", "S1", ZONE)
                .build(),
        );
        assert_eq!(got, Some(vec![100, 100, 0]));
        // Preferred anti-affinity to S1: z1 gets -5 => 0, z2 100.
        let got = scores(
            &snap,
            &pl,
            pod("p")
                .pod_anti_affinity_preferred(5, "security", "S1", ZONE)
                .build(),
        );
        assert_eq!(got, Some(vec![0, 0, 100]));
        // Nothing to do: skipped.
        assert_eq!(scores(&snap, &pl, pod("p").build()), None);
    }

    #[test]
    fn existing_pods_terms_score_incoming() {
        // An existing pod with required affinity to the incoming pod's labels attracts it with
        // hardPodAffinityWeight; its preferred anti-affinity repels.
        let snap = snapshot(
            nodes3(),
            vec![
                pod("e1")
                    .node("n1")
                    .pod_affinity_required("app", "web", HOST)
                    .build(),
                pod("e2")
                    .node("n3")
                    .pod_anti_affinity_preferred(10, "app", "web", HOST)
                    .build(),
            ],
        );
        let pl = InterPodAffinity::new(None).unwrap();
        let got = scores(&snap, &pl, pod("p").label("app", "web").build());
        // raw: n1 +1, n2 0, n3 -10 => normalized (x+10)/11*100.
        assert_eq!(got, Some(vec![100, 90, 0]));
        let pl0 =
            InterPodAffinity::new(Some(&serde_json::json!({"hardPodAffinityWeight": 0}))).unwrap();
        let got = scores(&snap, &pl0, pod("p").label("app", "web").build());
        assert_eq!(got, Some(vec![100, 100, 0]));
        let ignore = InterPodAffinity::new(Some(
            &serde_json::json!({"ignorePreferredTermsOfExistingPods": true}),
        ))
        .unwrap();
        assert_eq!(
            scores(&snap, &ignore, pod("p").label("app", "web").build()),
            None
        );
        assert!(
            InterPodAffinity::new(Some(&serde_json::json!({"hardPodAffinityWeight": 101})))
                .is_err()
        );
    }
}
