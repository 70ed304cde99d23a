//! `TaintToleration` (Filter, PreScore, Score): `NoSchedule`/`NoExecute` taints must be tolerated;
//! fewer untolerated `PreferNoSchedule` taints score higher.
//!
//! Filter: the first untolerated do-not-schedule taint rejects the node with
//! `node(s) had untolerated taint {key: value}` (UnschedulableAndUnresolvable). Score: the count of
//! untolerated `PreferNoSchedule` taints (considering only tolerations with an empty or
//! `PreferNoSchedule` effect), normalized reversed (`DefaultNormalizeScore(100, true)`).

use super::helper::{
    find_untolerated_do_not_schedule_taint, normalize_to_max, tolerations_tolerate_taint,
};
use crate::framework::{
    Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin,
    Snapshot, Status,
};
use k8s_openapi::api::core::v1::Toleration;

/// The `TaintToleration` plugin.
#[derive(Debug, Default)]
pub struct TaintToleration;

#[derive(Clone)]
struct PreScoreState {
    tolerations_prefer_no_schedule: Vec<Toleration>,
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        super::names::TAINT_TOLERATION
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

impl FilterPlugin for TaintToleration {
    #[inline]
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let taints = node.taints();
        if taints.is_empty() {
            return Status::success();
        }
        match find_untolerated_do_not_schedule_taint(taints, pod.tolerations()) {
            None => Status::success(),
            Some(t) => Status::new(
                Code::UnschedulableAndUnresolvable,
                format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    t.key,
                    t.value.as_deref().unwrap_or("")
                ),
            ),
        }
    }
}

fn prefer_no_schedule_tolerations(tolerations: &[Toleration]) -> Vec<Toleration> {
    tolerations
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect()
}

#[inline]
fn count_intolerable_prefer_no_schedule(node: &NodeInfo, tolerations: &[Toleration]) -> i64 {
    node.taints()
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerations_tolerate_taint(tolerations, t))
        .count() as i64
}

impl PreScorePlugin for TaintToleration {
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
        state.write(PreScoreState {
            tolerations_prefer_no_schedule: prefer_no_schedule_tolerations(pod.tolerations()),
        });
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    #[inline]
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if node.taints().is_empty() {
            return Ok(0);
        }
        Ok(match state.read::<PreScoreState>() {
            Some(s) => {
                count_intolerable_prefer_no_schedule(node, &s.tolerations_prefer_no_schedule)
            }
            None => count_intolerable_prefer_no_schedule(
                node,
                &prefer_no_schedule_tolerations(pod.tolerations()),
            ),
        })
    }

    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut Vec<i64>,
    ) -> Result<(), Status> {
        let computed;
        let tolerations = match state.read::<PreScoreState>() {
            Some(s) => &s.tolerations_prefer_no_schedule,
            None => {
                computed = prefer_no_schedule_tolerations(pod.tolerations());
                &computed
            }
        };
        scores.extend(
            nodes
                .iter()
                .map(|n| count_intolerable_prefer_no_schedule(n, tolerations)),
        );
        Ok(())
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
        normalize_to_max(true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    fn filter(p: k8s_openapi::api::core::v1::Pod, n: k8s_openapi::api::core::v1::Node) -> Status {
        TaintToleration.filter(&CycleState::new(), &PodInfo::new(p), &NodeInfo::new(n))
    }

    #[test]
    fn filter_table() {
        let cases = [
            (pod("p").build(), node("n").build(), None),
            (
                pod("p").build(),
                node("n").taint("dedicated", "user1", "NoSchedule").build(),
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                pod("p")
                    .toleration("dedicated", "Equal", "user1", "NoSchedule")
                    .build(),
                node("n").taint("dedicated", "user1", "NoSchedule").build(),
                None,
            ),
            (
                pod("p")
                    .toleration("dedicated", "Equal", "user2", "NoSchedule")
                    .build(),
                node("n").taint("dedicated", "user1", "NoSchedule").build(),
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                pod("p")
                    .toleration("foo", "Exists", "", "NoSchedule")
                    .build(),
                node("n").taint("foo", "bar", "NoSchedule").build(),
                None,
            ),
            (
                pod("p")
                    .toleration("dedicated", "Equal", "user2", "NoSchedule")
                    .toleration("foo", "Exists", "", "NoSchedule")
                    .build(),
                node("n")
                    .taint("dedicated", "user2", "NoSchedule")
                    .taint("foo", "bar", "NoSchedule")
                    .build(),
                None,
            ),
            (
                pod("p")
                    .toleration("foo", "Equal", "bar", "PreferNoSchedule")
                    .build(),
                node("n").taint("foo", "blah", "PreferNoSchedule").build(),
                None,
            ),
            (
                pod("p").build(),
                node("n").taint("foo", "", "NoExecute").build(),
                Some("node(s) had untolerated taint {foo: }"),
            ),
            (
                pod("p").toleration("", "Exists", "", "").build(),
                node("n").taint("foo", "bar", "NoExecute").build(),
                None,
            ),
        ];
        for (i, (p, n, want)) in cases.into_iter().enumerate() {
            let s = filter(p, n);
            match want {
                None => assert!(s.is_success(), "case {i}: {s}"),
                Some(msg) => {
                    assert_eq!(s.message(), msg, "case {i}");
                    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
                }
            }
        }
    }

    #[test]
    fn score_prefers_fewer_intolerable_taints() {
        let p = PodInfo::new(
            pod("p")
                .toleration("cpu-type", "Equal", "arm64", "PreferNoSchedule")
                .toleration("disk-type", "Equal", "ssd", "")
                .build(),
        );
        let nodes = [
            NodeInfo::new(node("a").build()),
            NodeInfo::new(
                node("b")
                    .taint("cpu-type", "arm64", "PreferNoSchedule")
                    .build(),
            ),
            NodeInfo::new(
                node("c")
                    .taint("cpu-type", "x86", "PreferNoSchedule")
                    .taint("disk-type", "hdd", "PreferNoSchedule")
                    .build(),
            ),
            NodeInfo::new(node("d").taint("foo", "bar", "PreferNoSchedule").build()),
        ];
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut st = CycleState::new();
        TaintToleration.pre_score(&mut st, &Snapshot::new(), &p, &refs);
        let mut scores: Vec<i64> = refs
            .iter()
            .map(|n| TaintToleration.score(&st, &p, n).unwrap())
            .collect();
        assert_eq!(scores, [0, 0, 2, 1]);
        TaintToleration.normalize_score(&st, &p, &refs, &mut scores);
        assert_eq!(scores, [100, 100, 0, 50]);
    }
}
