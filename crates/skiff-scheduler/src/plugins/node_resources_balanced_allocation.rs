//! `NodeResourcesBalancedAllocation` (PreScore, Score): favours nodes whose resource utilization
//! fractions (after placing the pod) are close to each other: `(1 - std) * 100`, fractions capped at 1.
//!
//! Uses the actual requests (not the non-zero defaults), as upstream's `useRequested`. Args:
//! `resources` (default cpu and memory, weight 1; weights do not change the score).

use super::node_resources_fit::{
    default_resource_specs, scored_resources, validate_resources, ResourceAllocationScorer, Scorer,
};
use crate::config::{args_error, decode_args, NodeResourcesBalancedAllocationArgs};
use crate::framework::{
    CycleState, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Snapshot, Status,
};
use serde_json::Value;
use skiff_api::field::Path;

/// The `NodeResourcesBalancedAllocation` plugin.
#[derive(Debug, Clone)]
pub struct BalancedAllocation {
    scorer: ResourceAllocationScorer,
}

#[derive(Clone)]
struct PreScoreState(Vec<i64>);

impl BalancedAllocation {
    /// `NewBalancedAllocation`.
    pub fn new(args: Option<&Value>) -> Result<Self, String> {
        let args: NodeResourcesBalancedAllocationArgs =
            decode_args("NodeResourcesBalancedAllocation", args)?;
        let mut resources = args.resources;
        if resources.is_empty() {
            resources = default_resource_specs();
        }
        for r in &mut resources {
            if r.weight == 0 {
                r.weight = 1;
            }
        }
        let mut errs = Vec::new();
        validate_resources(&resources, &Path::new("resources"), &mut errs);
        if !errs.is_empty() {
            return Err(args_error(&errs));
        }
        Ok(BalancedAllocation {
            scorer: ResourceAllocationScorer {
                resources: scored_resources(&resources),
                scorer: Scorer::Balanced,
                use_requested: true,
            },
        })
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        super::names::NODE_RESOURCES_BALANCED_ALLOCATION
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(
        &self,
        state: &mut CycleState,
        _snapshot: &Snapshot,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
    ) -> Status {
        state.write(PreScoreState(self.scorer.pod_requests(pod)));
        Status::success()
    }
}

impl ScorePlugin for BalancedAllocation {
    #[inline]
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        match state.read::<PreScoreState>() {
            Some(s) => Ok(self.scorer.score(node, &s.0)),
            None => Ok(self.scorer.score(node, &self.scorer.pod_requests(pod))),
        }
    }

    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut Vec<i64>,
    ) -> Result<(), Status> {
        let precomputed = state.read::<PreScoreState>().map(|s| s.0.as_slice());
        self.scorer.score_nodes(precomputed, pod, nodes, scores);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn score(pl: &BalancedAllocation, p: k8s_openapi::api::core::v1::Pod, n: &NodeInfo) -> i64 {
        let p = PodInfo::new(p);
        let mut st = CycleState::new();
        pl.pre_score(&mut st, &Snapshot::new(), &p, &[n]);
        pl.score(&st, &p, n).unwrap()
    }

    #[test]
    fn table() {
        let pl = BalancedAllocation::new(None).unwrap();
        let n = NodeInfo::new(node("n").cpu("4").memory("10000").pods(10).build());
        // Upstream: cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5 => std 0.125 => 87.
        assert_eq!(
            score(
                &pl,
                pod("p").req("cpu", "3").req("memory", "5000").build(),
                &n
            ),
            87
        );
        // Equal fractions => 100.
        assert_eq!(
            score(
                &pl,
                pod("p").req("cpu", "2").req("memory", "5000").build(),
                &n
            ),
            100
        );
        // Best-effort pod on an empty node: both fractions 0 => 100 (no non-zero defaults here).
        assert_eq!(score(&pl, pod("p").build(), &n), 100);
        // Fractions are capped at 1: cpu 8/4 -> 1, memory 0 -> std 0.5 => 50.
        assert_eq!(score(&pl, pod("p").req("cpu", "8").build(), &n), 50);
        // Existing requests count.
        let mut n2 = n.clone();
        n2.add_pod(Arc::new(PodInfo::new(pod("e").req("cpu", "1").build())));
        assert_eq!(
            score(
                &pl,
                pod("p").req("cpu", "1").req("memory", "5000").build(),
                &n2
            ),
            100
        );
    }

    #[test]
    fn three_resources_use_std() {
        let pl = BalancedAllocation::new(Some(&json!({"resources": [
            {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": "example.com/gpu", "weight": 1}]})))
        .unwrap();
        let n = NodeInfo::new(
            node("n")
                .cpu("4")
                .memory("10000")
                .scalar("example.com/gpu", "4")
                .pods(10)
                .build(),
        );
        // fractions 0.5, 0.5, 1.0: mean 2/3, std = sqrt(((1/6)^2*2 + (1/3)^2)/3) = 0.2357 => 76.
        let s = score(
            &pl,
            pod("p")
                .req("cpu", "2")
                .req("memory", "5000")
                .req("example.com/gpu", "4")
                .build(),
            &n,
        );
        assert_eq!(s, 76);
        // Not requesting the GPU: only two fractions.
        assert_eq!(
            score(
                &pl,
                pod("p").req("cpu", "2").req("memory", "5000").build(),
                &n
            ),
            100
        );
    }
}
