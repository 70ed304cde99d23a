//! `NodeResourcesFit` (PreFilter, Filter, PreScore, Score): the pod's requests must fit the node's
//! allocatable minus what its pods request; scoring follows the configured strategy.
//!
//! Filter reasons are upstream's: `Too many pods`, `Insufficient cpu`, `Insufficient memory`,
//! `Insufficient ephemeral-storage`, `Insufficient <extended resource>` (all `Unschedulable`, so
//! preemption may help). Requests are `PodRequests` (init containers, sidecars and overhead counted;
//! see [`crate::resources`]), parsed once per pod.
//!
//! Scoring strategies (`scoringStrategy.type`): `LeastAllocated` (default; cpu and memory, weight 1),
//! `MostAllocated` and `RequestedToCapacityRatio` (a broken-linear function of utilization, scores
//! 0-10 scaled by 10). CPU and memory use the non-zero requests (100m / 200Mi for containers that ask
//! for nothing) so that best-effort pods still spread. The shared resource-allocation machinery
//! (`resourceAllocationScorer`) lives here and is reused by `NodeResourcesBalancedAllocation`.

use crate::config::{
    args_error, decode_args, NodeResourcesFitArgs, ResourceSpec, ScoringStrategy,
    UtilizationShapePoint,
};
use crate::framework::{
    Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, ScorePlugin, Snapshot, Status, MAX_NODE_SCORE,
};
use crate::resources::{
    is_extended_resource_name, is_scalar_resource_name, CPU, EPHEMERAL_STORAGE, MEMORY,
};
use serde_json::Value;
use skiff_api::field::{FieldError, Path};
use std::borrow::Cow;
use std::collections::HashSet;

/// `config.MaxCustomPriorityScore`.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
const MAX_UTILIZATION: i64 = 100;

/// Which field of a node's resources a scored resource reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResKind {
    Cpu,
    Memory,
    Ephemeral,
    Scalar(String),
    Other,
}

/// A resource with its scoring weight.
#[derive(Debug, Clone)]
pub(crate) struct ScoredResource {
    kind: ResKind,
    weight: i64,
}

/// The default scored resources: cpu and memory, weight 1.
pub(crate) fn default_resource_specs() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec {
            name: CPU.into(),
            weight: 1,
        },
        ResourceSpec {
            name: MEMORY.into(),
            weight: 1,
        },
    ]
}

pub(crate) fn scored_resources(specs: &[ResourceSpec]) -> Vec<ScoredResource> {
    specs
        .iter()
        .map(|r| ScoredResource {
            kind: match r.name.as_str() {
                CPU => ResKind::Cpu,
                MEMORY => ResKind::Memory,
                EPHEMERAL_STORAGE => ResKind::Ephemeral,
                n if is_scalar_resource_name(n) => ResKind::Scalar(n.to_string()),
                _ => ResKind::Other,
            },
            weight: r.weight,
        })
        .collect()
}

/// The scoring function of a strategy.
#[derive(Debug, Clone)]
pub(crate) enum Scorer {
    LeastAllocated,
    MostAllocated,
    /// Broken-linear function points (utilization, score already scaled to 0-100).
    RequestedToCapacityRatio(Vec<(i64, i64)>),
    Balanced,
}

/// `resourceAllocationScorer`.
#[derive(Debug, Clone)]
pub(crate) struct ResourceAllocationScorer {
    pub(crate) resources: Vec<ScoredResource>,
    pub(crate) scorer: Scorer,
    /// Score with the actual requests (`useRequested`, BalancedAllocation) rather than the non-zero
    /// ones.
    pub(crate) use_requested: bool,
}

impl ResourceAllocationScorer {
    /// `calculatePodResourceRequestList`.
    pub(crate) fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        self.resources
            .iter()
            .map(|r| match &r.kind {
                ResKind::Cpu if self.use_requested => pod.requests.milli_cpu,
                ResKind::Cpu => pod.non_zero_cpu,
                ResKind::Memory if self.use_requested => pod.requests.memory,
                ResKind::Memory => pod.non_zero_memory,
                ResKind::Ephemeral => pod.requests.ephemeral_storage,
                ResKind::Scalar(n) => pod.requests.scalar(n),
                ResKind::Other => 0,
            })
            .collect()
    }

    /// `calculateResourceAllocatableRequest`: (allocatable, requested including the pod).
    #[inline]
    fn allocatable_request(&self, r: &ScoredResource, node: &NodeInfo, pod_req: i64) -> (i64, i64) {
        let requested = if self.use_requested {
            &node.requested
        } else {
            &node.non_zero_requested
        };
        match &r.kind {
            ResKind::Cpu => (node.allocatable.milli_cpu, requested.milli_cpu + pod_req),
            ResKind::Memory => (node.allocatable.memory, requested.memory + pod_req),
            ResKind::Ephemeral => (
                node.allocatable.ephemeral_storage,
                node.requested.ephemeral_storage + pod_req,
            ),
            ResKind::Scalar(n) => {
                if pod_req == 0 {
                    return (0, 0);
                }
                match node.allocatable.scalar_opt(n) {
                    Some(a) => (a, node.requested.scalar(n) + pod_req),
                    None => (0, 0),
                }
            }
            ResKind::Other => (0, 0),
        }
    }

    /// [`ResourceAllocationScorer::score`] of every node, with the pod's requests from PreScore
    /// (`precomputed`) or computed here once: both plugins' `score_nodes`.
    pub(crate) fn score_nodes(
        &self,
        precomputed: Option<&[i64]>,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        scores: &mut Vec<i64>,
    ) {
        let computed;
        let requests = match precomputed {
            Some(r) => r,
            None => {
                computed = self.pod_requests(pod);
                &computed
            }
        };
        scores.extend(nodes.iter().map(|n| self.score(n, requests)));
    }

    /// `resourceAllocationScorer.score`.
    #[inline]
    pub(crate) fn score(&self, node: &NodeInfo, pod_requests: &[i64]) -> i64 {
        // The default resources (cpu, memory) without the generic per-resource dispatch.
        if let [ScoredResource {
            kind: ResKind::Cpu, ..
        }, ScoredResource {
            kind: ResKind::Memory,
            ..
        }] = self.resources.as_slice()
        {
            let requested = if self.use_requested {
                &node.requested
            } else {
                &node.non_zero_requested
            };
            let a = [node.allocatable.milli_cpu, node.allocatable.memory];
            let r = [
                if a[0] == 0 {
                    0
                } else {
                    requested.milli_cpu + pod_requests[0]
                },
                if a[1] == 0 {
                    0
                } else {
                    requested.memory + pod_requests[1]
                },
            ];
            return self.apply_cpu_memory(r, a);
        }
        const N: usize = 8;
        let n = self.resources.len();
        if n <= N {
            let mut req = [0i64; N];
            let mut alloc = [0i64; N];
            self.fill(node, pod_requests, &mut req[..n], &mut alloc[..n]);
            self.apply(&req[..n], &alloc[..n])
        } else {
            let mut req = vec![0; n];
            let mut alloc = vec![0; n];
            self.fill(node, pod_requests, &mut req, &mut alloc);
            self.apply(&req, &alloc)
        }
    }

    #[inline]
    fn fill(&self, node: &NodeInfo, pod_requests: &[i64], req: &mut [i64], alloc: &mut [i64]) {
        for (i, r) in self.resources.iter().enumerate() {
            let (a, q) = self.allocatable_request(r, node, pod_requests[i]);
            if a == 0 {
                continue;
            }
            alloc[i] = a;
            req[i] = q;
        }
    }

    /// [`Self::apply`] for the default resources (cpu, memory): the same arithmetic unrolled for two
    /// resources, as this runs for every scored node.
    #[inline]
    fn apply_cpu_memory(&self, requested: [i64; 2], allocatable: [i64; 2]) -> i64 {
        if allocatable[0] == 0 || allocatable[1] == 0 {
            return self.apply(&requested, &allocatable);
        }
        let weights = [self.resources[0].weight, self.resources[1].weight];
        match &self.scorer {
            Scorer::LeastAllocated => {
                weighted_two(weights, requested, allocatable, least_allocated)
            }
            Scorer::MostAllocated => weighted_two(weights, requested, allocatable, most_allocated),
            Scorer::Balanced => {
                let f = |i: usize| (requested[i] as f64 / allocatable[i] as f64).min(1.0);
                balanced_score_of_two(f(0), f(1))
            }
            Scorer::RequestedToCapacityRatio(_) => self.apply(&requested, &allocatable),
        }
    }

    #[inline]
    fn apply(&self, requested: &[i64], allocatable: &[i64]) -> i64 {
        match &self.scorer {
            Scorer::LeastAllocated => {
                weighted(&self.resources, requested, allocatable, least_allocated)
            }
            Scorer::MostAllocated => {
                weighted(&self.resources, requested, allocatable, most_allocated)
            }
            Scorer::RequestedToCapacityRatio(shape) => {
                let f = |p: i64| broken_linear(shape, p);
                let mut node_score = 0i64;
                let mut weight_sum = 0i64;
                for (i, r) in self.resources.iter().enumerate() {
                    if allocatable[i] == 0 {
                        continue;
                    }
                    let s = if requested[i] > allocatable[i] {
                        f(MAX_UTILIZATION)
                    } else {
                        f(requested[i] * MAX_UTILIZATION / allocatable[i])
                    };
                    if s > 0 {
                        node_score += s * r.weight;
                        weight_sum += r.weight;
                    }
                }
                if weight_sum == 0 {
                    0
                } else {
                    (node_score as f64 / weight_sum as f64).round() as i64
                }
            }
            Scorer::Balanced => balanced_resource_score(requested, allocatable),
        }
    }
}

/// `leastResourceScorer`'s per-resource score.
#[inline]
fn least_allocated(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        0
    } else {
        (capacity - requested) * MAX_NODE_SCORE / capacity
    }
}

/// `mostResourceScorer`'s per-resource score.
#[inline]
fn most_allocated(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        0
    } else {
        requested.min(capacity) * MAX_NODE_SCORE / capacity
    }
}

#[inline]
fn weighted(
    resources: &[ScoredResource],
    requested: &[i64],
    allocatable: &[i64],
    f: impl Fn(i64, i64) -> i64,
) -> i64 {
    let mut node_score = 0i64;
    let mut weight_sum = 0i64;
    for (i, r) in resources.iter().enumerate() {
        if allocatable[i] == 0 {
            continue;
        }
        node_score += f(requested[i], allocatable[i]) * r.weight;
        weight_sum += r.weight;
    }
    if weight_sum == 0 {
        0
    } else {
        node_score / weight_sum
    }
}

/// [`weighted`] of two resources, both with non-zero allocatable.
#[inline]
fn weighted_two(
    weights: [i64; 2],
    requested: [i64; 2],
    allocatable: [i64; 2],
    f: impl Fn(i64, i64) -> i64,
) -> i64 {
    let weight_sum = weights[0] + weights[1];
    if weight_sum == 0 {
        return 0;
    }
    (f(requested[0], allocatable[0]) * weights[0] + f(requested[1], allocatable[1]) * weights[1])
        / weight_sum
}

/// `helper.BuildBrokenLinearFunction`.
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for i in 0..shape.len() {
        if p <= shape[i].0 {
            if i == 0 {
                return shape[0].1;
            }
            let (u0, s0) = shape[i - 1];
            let (u1, s1) = shape[i];
            return s0 + (s1 - s0) * (p - u0) / (u1 - u0);
        }
    }
    shape.last().map(|s| s.1).unwrap_or(0)
}

/// `balancedResourceScorer`: `(1 - std) * 100` of the utilization fractions (capped at 1).
pub(crate) fn balanced_resource_score(requested: &[i64], allocatable: &[i64]) -> i64 {
    let mut fractions = [0f64; 16];
    let mut n = 0usize;
    let mut total = 0f64;
    for i in 0..requested.len() {
        if allocatable[i] == 0 {
            continue;
        }
        let f = (requested[i] as f64 / allocatable[i] as f64).min(1.0);
        total += f;
        if n < fractions.len() {
            fractions[n] = f;
        }
        n += 1;
    }
    let n = n.min(fractions.len());
    if n == 2 {
        return balanced_score_of_two(fractions[0], fractions[1]);
    }
    let std = if n > 2 {
        let mean = total / n as f64;
        let sum: f64 = fractions[..n].iter().map(|f| (f - mean) * (f - mean)).sum();
        (sum / n as f64).sqrt()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// [`balanced_resource_score`] of two utilization fractions: their standard deviation is half their
/// difference.
#[inline]
fn balanced_score_of_two(f0: f64, f1: f64) -> i64 {
    let std = ((f0 - f1) / 2.0).abs();
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// `validateResources`.
pub(crate) fn validate_resources(specs: &[ResourceSpec], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, r) in specs.iter().enumerate() {
        if r.weight <= 0 || r.weight > 100 {
            errs.push(FieldError::invalid_raw(
                &path.index(i).child("weight"),
                r.weight,
                format!("resource weight of {} not in valid range (0, 100]", r.name),
            ));
        }
    }
}

fn validate_shape(shape: &[UtilizationShapePoint], path: &Path, errs: &mut Vec<FieldError>) {
    if shape.is_empty() {
        errs.push(FieldError::required(
            path,
            "at least one point must be specified",
        ));
        return;
    }
    for i in 1..shape.len() {
        if shape[i - 1].utilization >= shape[i].utilization {
            errs.push(FieldError::invalid_raw(
                &path.index(i).child("utilization"),
                shape[i].utilization,
                "utilization values must be sorted in increasing order",
            ));
            break;
        }
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            errs.push(FieldError::invalid_raw(
                &path.index(i).child("utilization"),
                p.utilization,
                "not in valid range [0, 100]",
            ));
        }
        if !(0..=MAX_CUSTOM_PRIORITY_SCORE as i32).contains(&p.score) {
            errs.push(FieldError::invalid_raw(
                &path.index(i).child("score"),
                p.score,
                format!("not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]"),
            ));
        }
    }
}

/// The `NodeResourcesFit` plugin.
#[derive(Debug, Clone)]
pub struct Fit {
    ignored_resources: HashSet<String>,
    ignored_resource_groups: HashSet<String>,
    pub(crate) scorer: ResourceAllocationScorer,
}

#[derive(Clone)]
struct PreScoreState(Vec<i64>);

impl Fit {
    /// `NewFit` from (defaulted) `NodeResourcesFitArgs`.
    pub fn new(args: Option<&Value>) -> Result<Self, String> {
        let mut args: NodeResourcesFitArgs = decode_args("NodeResourcesFit", args)?;
        // SetDefaults_NodeResourcesFitArgs.
        let strategy = args
            .scoring_strategy
            .get_or_insert_with(|| ScoringStrategy {
                type_: "LeastAllocated".into(),
                ..Default::default()
            });
        if strategy.resources.is_empty() {
            strategy.resources = default_resource_specs();
        }
        for r in &mut strategy.resources {
            if r.weight == 0 {
                r.weight = 1;
            }
        }
        let mut errs = Vec::new();
        for (i, r) in args.ignored_resources.iter().enumerate() {
            for e in skiff_api::labels::is_qualified_name(r) {
                errs.push(FieldError::invalid(
                    &Path::new("ignoredResources").index(i),
                    r,
                    e,
                ));
            }
        }
        for (i, g) in args.ignored_resource_groups.iter().enumerate() {
            let p = Path::new("ignoredResourceGroups").index(i);
            if g.contains('/') {
                errs.push(FieldError::invalid(
                    &p,
                    g,
                    "resource group name can't contain '/'",
                ));
            }
            for e in skiff_api::labels::is_qualified_name(g) {
                errs.push(FieldError::invalid(&p, g, e));
            }
        }
        let strategy = args.scoring_strategy.clone().unwrap_or_default();
        let sp = Path::new("scoringStrategy");
        let supported = [
            "LeastAllocated",
            "MostAllocated",
            "RequestedToCapacityRatio",
        ];
        if !supported.contains(&strategy.type_.as_str()) {
            errs.push(FieldError::not_supported(
                &sp.child("type"),
                &strategy.type_,
                &supported,
            ));
        }
        validate_resources(&strategy.resources, &sp.child("resources"), &mut errs);
        let shape = strategy
            .requested_to_capacity_ratio
            .as_ref()
            .map(|r| r.shape.clone());
        if strategy.type_ == "RequestedToCapacityRatio" || shape.is_some() {
            validate_shape(
                shape.as_deref().unwrap_or_default(),
                &sp.child("shape"),
                &mut errs,
            );
        }
        if !errs.is_empty() {
            return Err(args_error(&errs));
        }
        let scorer = match strategy.type_.as_str() {
            "MostAllocated" => Scorer::MostAllocated,
            "RequestedToCapacityRatio" => Scorer::RequestedToCapacityRatio(
                shape
                    .unwrap_or_default()
                    .iter()
                    .map(|p| {
                        (
                            i64::from(p.utilization),
                            i64::from(p.score) * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE),
                        )
                    })
                    .collect(),
            ),
            _ => Scorer::LeastAllocated,
        };
        Ok(Fit {
            ignored_resources: args.ignored_resources.into_iter().collect(),
            ignored_resource_groups: args.ignored_resource_groups.into_iter().collect(),
            scorer: ResourceAllocationScorer {
                resources: scored_resources(&strategy.resources),
                scorer,
                use_requested: false,
            },
        })
    }

    /// `fitsRequest`: the reasons the pod does not fit, empty when it does.
    pub fn insufficient_resources(&self, pod: &PodInfo, node: &NodeInfo) -> Vec<Cow<'static, str>> {
        let mut reasons = Vec::new();
        if node.pods().len() as i64 + 1 > node.allocatable.allowed_pod_number {
            reasons.push(Cow::Borrowed("Too many pods"));
        }
        let req = &pod.requests;
        if req.is_zero_request() {
            return reasons;
        }
        let alloc = &node.allocatable;
        let used = &node.requested;
        if req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu {
            reasons.push(Cow::Borrowed("Insufficient cpu"));
        }
        if req.memory > 0 && req.memory > alloc.memory - used.memory {
            reasons.push(Cow::Borrowed("Insufficient memory"));
        }
        if req.ephemeral_storage > 0
            && req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
        {
            reasons.push(Cow::Borrowed("Insufficient ephemeral-storage"));
        }
        for (name, q) in &req.scalar {
            if *q == 0 {
                continue;
            }
            if is_extended_resource_name(name) {
                let group = name.split('/').next().unwrap_or("");
                if self.ignored_resources.contains(name)
                    || (!self.ignored_resource_groups.is_empty()
                        && self.ignored_resource_groups.contains(group))
                {
                    continue;
                }
            }
            if *q > alloc.scalar(name) - used.scalar(name) {
                reasons.push(Cow::Owned(format!("Insufficient {name}")));
            }
        }
        reasons
    }
}

impl Plugin for Fit {
    fn name(&self) -> &'static str {
        super::names::NODE_RESOURCES_FIT
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

impl PreFilterPlugin for Fit {
    /// The requests were computed with the pod's `PodInfo`; nothing more to do.
    fn pre_filter(
        &self,
        _state: &mut CycleState,
        _snapshot: &Snapshot,
        _pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        (None, Status::success())
    }
}

impl FilterPlugin for Fit {
    #[inline]
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        // Fast path: the common checks without building a reason list.
        let req = &pod.requests;
        let alloc = &node.allocatable;
        let used = &node.requested;
        if (node.pods().len() as i64) < alloc.allowed_pod_number
            && req.milli_cpu <= alloc.milli_cpu - used.milli_cpu
            && req.memory <= alloc.memory - used.memory
            && req.ephemeral_storage <= alloc.ephemeral_storage - used.ephemeral_storage
            && req.scalar.is_empty()
        {
            return Status::success();
        }
        let reasons = self.insufficient_resources(pod, node);
        if reasons.is_empty() {
            Status::success()
        } else {
            Status::with_reasons(Code::Unschedulable, reasons)
        }
    }
}

impl PreScorePlugin for Fit {
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

impl ScorePlugin for Fit {
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

    fn node_with(
        cpu: &str,
        mem: &str,
        pods: i64,
        existing: Vec<k8s_openapi::api::core::v1::Pod>,
    ) -> NodeInfo {
        let mut ni = NodeInfo::new(
            node("n")
                .cpu(cpu)
                .memory(mem)
                .pods(pods)
                .scalar("example.com/aaa", "5")
                .build(),
        );
        for p in existing {
            ni.add_pod(Arc::new(PodInfo::new(p)));
        }
        ni
    }

    fn filter(fit: &Fit, p: k8s_openapi::api::core::v1::Pod, n: &NodeInfo) -> Status {
        let p = PodInfo::new(p);
        let mut st = CycleState::new();
        fit.pre_filter(&mut st, &Snapshot::new(), &p);
        fit.filter(&st, &p, n)
    }

    #[test]
    fn filter_table() {
        let fit = Fit::new(None).unwrap();
        // Node: 10 cpu (milli 10), 20 memory bytes, 32 pods, with one pod using 5m/19.
        let used = || vec![pod("e").req("cpu", "5m").req("memory", "19").build()];
        type Case = (k8s_openapi::api::core::v1::Pod, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (pod("p").build(), vec![]),
            (pod("p").req("cpu", "1m").req("memory", "1").build(), vec![]),
            (
                pod("p").req("cpu", "6m").req("memory", "1").build(),
                vec!["Insufficient cpu"],
            ),
            (
                pod("p").req("cpu", "6m").req("memory", "2").build(),
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            // Init containers: max(sum of app, each init).
            (
                pod("p")
                    .req("cpu", "1m")
                    .init_container(&[("cpu", "6m")])
                    .build(),
                vec!["Insufficient cpu"],
            ),
            (
                pod("p")
                    .req("cpu", "3m")
                    .init_container(&[("cpu", "2m")])
                    .build(),
                vec![],
            ),
            // Sidecars add up.
            (
                pod("p").req("cpu", "3m").sidecar(&[("cpu", "3m")]).build(),
                vec!["Insufficient cpu"],
            ),
            // Overhead counts.
            (
                pod("p").req("cpu", "3m").overhead("cpu", "3m").build(),
                vec!["Insufficient cpu"],
            ),
            (
                pod("p").req("example.com/aaa", "6").build(),
                vec!["Insufficient example.com/aaa"],
            ),
            (
                pod("p").req("example.com/bbb", "1").build(),
                vec!["Insufficient example.com/bbb"],
            ),
            (pod("p").req("example.com/bbb", "0").build(), vec![]),
        ];
        for (i, (p, want)) in cases.into_iter().enumerate() {
            let n = node_with("10m", "20", 32, used());
            let s = filter(&fit, p, &n);
            let got: Vec<String> = s.reasons().iter().map(|r| r.to_string()).collect();
            assert_eq!(got, want, "case {i}");
            if !want.is_empty() {
                assert_eq!(s.code(), Code::Unschedulable);
            }
        }
    }

    #[test]
    fn too_many_pods_even_for_zero_requests() {
        let fit = Fit::new(None).unwrap();
        let n = node_with("10", "20Gi", 1, vec![pod("e").build()]);
        let s = filter(&fit, pod("p").build(), &n);
        assert_eq!(s.message(), "Too many pods");
        let s = filter(&fit, pod("p").req("cpu", "20").build(), &n);
        assert_eq!(s.message(), "Too many pods, Insufficient cpu");
    }

    #[test]
    fn ignored_extended_resources() {
        let fit = Fit::new(Some(&json!({"ignoredResources": ["example.com/bbb"], "ignoredResourceGroups": ["ignored.com"]}))).unwrap();
        let n = node_with("10", "20Gi", 10, vec![]);
        assert!(filter(&fit, pod("p").req("example.com/bbb", "1").build(), &n).is_success());
        assert!(filter(&fit, pod("p").req("ignored.com/x", "1").build(), &n).is_success());
        assert!(!filter(&fit, pod("p").req("other.com/x", "1").build(), &n).is_success());
    }

    fn score(fit: &Fit, p: k8s_openapi::api::core::v1::Pod, n: &NodeInfo) -> i64 {
        let p = PodInfo::new(p);
        let mut st = CycleState::new();
        fit.pre_score(&mut st, &Snapshot::new(), &p, &[n]);
        fit.score(&st, &p, n).unwrap()
    }

    #[test]
    fn least_allocated() {
        let fit = Fit::new(None).unwrap();
        // upstream least_allocated_test: node 4000m / 10000; pod 3000m/5000 on empty node:
        // cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50 => 37.
        let n = node_with("4", "10000", 10, vec![]);
        assert_eq!(
            score(
                &fit,
                pod("p").req("cpu", "3").req("memory", "5000").build(),
                &n
            ),
            37
        );
        // A best-effort pod counts 100m and 200Mi: memory exceeds capacity => 0; cpu 97 => 48.
        assert_eq!(score(&fit, pod("p").build(), &n), 48);
        // Existing non-zero requests count too.
        let n2 = node_with(
            "4",
            "10000",
            10,
            vec![pod("e").req("cpu", "1").req("memory", "2000").build()],
        );
        assert_eq!(
            score(
                &fit,
                pod("p").req("cpu", "1").req("memory", "2000").build(),
                &n2
            ),
            55
        );
    }

    #[test]
    fn most_allocated_and_ratio() {
        let most = Fit::new(Some(&json!({"scoringStrategy": {"type": "MostAllocated"}}))).unwrap();
        let n = node_with("4", "10000", 10, vec![]);
        // cpu 3000*100/4000 = 75, memory 5000*100/10000 = 50 => 62.
        assert_eq!(
            score(
                &most,
                pod("p").req("cpu", "3").req("memory", "5000").build(),
                &n
            ),
            62
        );
        // Over capacity counts as full.
        assert_eq!(
            score(
                &most,
                pod("p").req("cpu", "8").req("memory", "5000").build(),
                &n
            ),
            75
        );
        let rtcr = Fit::new(Some(&json!({"scoringStrategy": {
            "type": "RequestedToCapacityRatio",
            "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
            "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}
        }}))).unwrap();
        assert_eq!(
            score(
                &rtcr,
                pod("p").req("cpu", "3").req("memory", "5000").build(),
                &n
            ),
            63
        );
        let err = Fit::new(Some(
            &json!({"scoringStrategy": {"type": "RequestedToCapacityRatio"}}),
        ))
        .unwrap_err();
        assert_eq!(
            err,
            "scoringStrategy.shape: Required value: at least one point must be specified"
        );
        let err = Fit::new(Some(&json!({"scoringStrategy": {"type": "Bogus", "resources": [{"name": "cpu", "weight": 101}]}}))).unwrap_err();
        assert!(
            err.contains("scoringStrategy.type: Unsupported value: \"Bogus\""),
            "{err}"
        );
        assert!(
            err.contains("resource weight of cpu not in valid range (0, 100]"),
            "{err}"
        );
    }

    #[test]
    fn broken_linear_function() {
        let shape = [(10, 0), (30, 50), (60, 100)];
        assert_eq!(broken_linear(&shape, 0), 0);
        assert_eq!(broken_linear(&shape, 20), 25);
        assert_eq!(broken_linear(&shape, 45), 75);
        assert_eq!(broken_linear(&shape, 90), 100);
    }

    #[test]
    fn extended_resource_scoring_skips_unrequested() {
        let fit = Fit::new(Some(
            &json!({"scoringStrategy": {"type": "MostAllocated", "resources": [
            {"name": "cpu", "weight": 1}, {"name": "example.com/aaa", "weight": 3}]}}),
        ))
        .unwrap();
        let n = node_with("4", "10000", 10, vec![]);
        // Not requesting the extended resource: only cpu counts (1000*100/4000 = 25).
        assert_eq!(score(&fit, pod("p").req("cpu", "1").build(), &n), 25);
        // Requesting 5 of 5: (25*1 + 100*3)/4 = 81.
        assert_eq!(
            score(
                &fit,
                pod("p").req("cpu", "1").req("example.com/aaa", "5").build(),
                &n
            ),
            81
        );
    }
}
