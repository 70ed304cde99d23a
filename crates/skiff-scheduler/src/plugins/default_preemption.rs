//! `DefaultPreemption` (PostFilter): when no node fits, find a node where evicting lower-priority pods
//! would make room, and nominate it.
//!
//! Follows upstream's `Evaluator.Preempt`: the pod must be allowed to preempt (`preemptionPolicy` not
//! `Never`, no victim of an earlier preemption still terminating on its nominated node); candidates
//! are the nodes that failed with `Unschedulable` (not `UnschedulableAndUnresolvable`), dry-run from a
//! random offset until enough are found (`minCandidateNodesPercentage` 10 / `minCandidateNodesAbsolute`
//! 100). On each candidate every lower-priority pod is removed, the pod must then fit, and victims are
//! reprieved from the most important down (PDB-violating ones first), so the victims are a minimal
//! set. The best candidate has the fewest PDB violations, then the lowest highest victim priority,
//! the lowest priority sum, the fewest victims, the latest start of its highest-priority victims.
//!
//! No API calls are made: the result names the node to nominate, the victims to delete (with a
//! `DisruptionTarget` condition, skipping those already terminating) and lower-priority pods whose
//! nomination to that node should be cleared. Failure messages are upstream's, e.g.
//! `preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.`

use crate::config::{args_error, decode_args, DefaultPreemptionArgs};
use crate::framework::{
    Code, CycleState, Handle, NodeInfo, NodeToStatus, Plugin, PodInfo, PostFilterPlugin,
    PostFilterResult, Profile, Snapshot, Status,
};
use crate::labels::Selector;
use crate::schedule_one::fit_error_message;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use skiff_api::field::{FieldError, Path};
use std::sync::{Arc, Mutex};

/// The `DefaultPreemption` plugin.
#[derive(Debug)]
pub struct DefaultPreemption {
    min_candidate_nodes_percentage: i32,
    min_candidate_nodes_absolute: i32,
    rng: Mutex<SmallRng>,
}

/// A node where preemption would let the pod fit, and the pods to evict there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub slot: usize,
    pub name: String,
    /// Victims, most important first.
    pub victims: Vec<Arc<PodInfo>>,
    pub num_pdb_violations: i64,
}

/// The start time used to order pods (`GetPodStartTime`); a pod not started yet counts as "now",
/// i.e. later than every started pod.
fn start_time(p: &PodInfo) -> i128 {
    p.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0.as_nanosecond())
        .unwrap_or(i128::MAX)
}

/// `util.MoreImportantPod`: higher priority, then earlier start.
pub fn more_important_pod(a: &PodInfo, b: &PodInfo) -> bool {
    let (p1, p2) = (a.priority(), b.priority());
    if p1 != p2 {
        return p1 > p2;
    }
    start_time(a) < start_time(b)
}

fn importance_order(a: &Arc<PodInfo>, b: &Arc<PodInfo>) -> std::cmp::Ordering {
    if more_important_pod(a, b) {
        std::cmp::Ordering::Less
    } else if more_important_pod(b, a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// `podTerminatingByPreemption`.
fn terminating_by_preemption(p: &Pod) -> bool {
    if p.metadata.deletion_timestamp.is_none() {
        return false;
    }
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "DisruptionTarget"))
        .is_some_and(|c| c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"))
}

/// `filterPodsWithPDBViolation`: splits (keeping order) into PDB-violating and non-violating pods.
pub fn filter_pods_with_pdb_violation(
    pods: &[Arc<PodInfo>],
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs
        .iter()
        .map(|p| {
            p.status
                .as_ref()
                .map(|s| s.disruptions_allowed)
                .unwrap_or(0)
        })
        .collect();
    let selectors: Vec<Option<Selector>> = pdbs
        .iter()
        .map(|p| {
            Selector::from_label_selector(p.spec.as_ref().and_then(|s| s.selector.as_ref())).ok()
        })
        .collect();
    let (mut violating, mut non_violating) = (Vec::new(), Vec::new());
    for p in pods {
        let mut violated = false;
        if !p.labels().is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.metadata.namespace.as_deref().unwrap_or("") != p.namespace() {
                    continue;
                }
                let Some(sel) = &selectors[i] else {
                    continue;
                };
                if sel.is_empty() || !sel.matches(p.labels()) {
                    continue;
                }
                if pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(p.name()))
                {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(p.clone());
        } else {
            non_violating.push(p.clone());
        }
    }
    (violating, non_violating)
}

impl DefaultPreemption {
    /// `New` from `DefaultPreemptionArgs`.
    pub fn new(args: Option<&Value>, handle: &Handle) -> Result<Self, String> {
        let args: DefaultPreemptionArgs = decode_args("DefaultPreemption", args)?;
        let pct = args.min_candidate_nodes_percentage.unwrap_or(10);
        let abs = args.min_candidate_nodes_absolute.unwrap_or(100);
        let pp = Path::new("minCandidateNodesPercentage");
        let ap = Path::new("minCandidateNodesAbsolute");
        let mut errs = Vec::new();
        if !(0..=100).contains(&pct) {
            errs.push(FieldError::invalid_raw(
                &pp,
                pct,
                "not in valid range [0, 100]",
            ));
        }
        if abs < 0 {
            errs.push(FieldError::invalid_raw(
                &ap,
                abs,
                "not in valid range [0, inf)",
            ));
        }
        if pct == 0 && abs == 0 {
            errs.push(FieldError::invalid_raw(
                &pp,
                pct,
                "cannot be zero at the same time as minCandidateNodesAbsolute",
            ));
            errs.push(FieldError::invalid_raw(
                &ap,
                abs,
                "cannot be zero at the same time as minCandidateNodesPercentage",
            ));
        }
        if !errs.is_empty() {
            return Err(args_error(&errs));
        }
        let rng = match handle.seed {
            Some(s) => SmallRng::seed_from_u64(s ^ 0x005e_ed0f_9e3e_3779),
            None => SmallRng::from_os_rng(),
        };
        Ok(DefaultPreemption {
            min_candidate_nodes_percentage: pct,
            min_candidate_nodes_absolute: abs,
            rng: Mutex::new(rng),
        })
    }

    /// `calculateNumCandidates`.
    pub fn calculate_num_candidates(&self, num_nodes: usize) -> usize {
        let n = num_nodes as i64;
        let mut c = n * i64::from(self.min_candidate_nodes_percentage) / 100;
        if c < i64::from(self.min_candidate_nodes_absolute) {
            c = i64::from(self.min_candidate_nodes_absolute);
        }
        c.min(n) as usize
    }

    /// `PodEligibleToPreemptOthers`.
    fn eligible(
        &self,
        snapshot: &Snapshot,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> Result<(), &'static str> {
        if pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            == Some("Never")
        {
            return Err("not eligible due to preemptionPolicy=Never.");
        }
        let nom = pod.nominated_node_name();
        if nom.is_empty() {
            return Ok(());
        }
        let status = match snapshot.slot_of(nom) {
            Some(slot) => statuses.get(slot),
            None => statuses.absent_nodes_status(),
        };
        if status.code() == Code::UnschedulableAndUnresolvable {
            return Ok(());
        }
        if let Some(node) = snapshot.get(nom) {
            for p in node.pods() {
                if p.priority() < pod.priority() && terminating_by_preemption(&p.pod) {
                    return Err("not eligible due to a terminating pod on the nominated node.");
                }
            }
        }
        Ok(())
    }

    /// `SelectVictimsOnNode`: the minimal victims on `node` (a copy), or why there are none.
    pub fn select_victims_on_node(
        &self,
        profile: &Profile,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        node: &mut NodeInfo,
        pdbs: &[Arc<PodDisruptionBudget>],
    ) -> Result<(Vec<Arc<PodInfo>>, i64), Status> {
        let mut potential: Vec<Arc<PodInfo>> = node
            .pods()
            .iter()
            .filter(|p| p.priority() < pod.priority())
            .cloned()
            .collect();
        for p in &potential {
            node.remove_pod(p.key());
            let s = profile.run_pre_filter_extension_remove_pod(state, pod, p, node);
            if !s.is_success() {
                return Err(s);
            }
        }
        if potential.is_empty() {
            return Err(Status::new(
                Code::UnschedulableAndUnresolvable,
                "No preemption victims found for incoming pod",
            ));
        }
        let s = profile.run_filter_plugins_with_nominated_pods(state, snapshot, pod, node);
        if !s.is_success() {
            return Err(s);
        }
        potential.sort_by(importance_order);
        let (violating, non_violating) = filter_pods_with_pdb_violation(&potential, pdbs);
        let mut victims: Vec<Arc<PodInfo>> = Vec::new();
        let reprieve = |p: &Arc<PodInfo>,
                        state: &mut CycleState,
                        node: &mut NodeInfo,
                        victims: &mut Vec<Arc<PodInfo>>|
         -> Result<bool, Status> {
            node.add_pod(p.clone());
            let s = profile.run_pre_filter_extension_add_pod(state, pod, p, node);
            if !s.is_success() {
                return Err(s);
            }
            let fits = profile
                .run_filter_plugins_with_nominated_pods(state, snapshot, pod, node)
                .is_success();
            if !fits {
                node.remove_pod(p.key());
                let s = profile.run_pre_filter_extension_remove_pod(state, pod, p, node);
                if !s.is_success() {
                    return Err(s);
                }
                victims.push(p.clone());
            }
            Ok(fits)
        };
        let mut num_violating = 0;
        for p in &violating {
            if !reprieve(p, state, node, &mut victims)? {
                num_violating += 1;
            }
        }
        for p in &non_violating {
            reprieve(p, state, node, &mut victims)?;
        }
        if !violating.is_empty() && !non_violating.is_empty() {
            victims.sort_by(importance_order);
        }
        Ok((victims, num_violating))
    }

    /// `pickOneNodeForPreemption` with the default score functions.
    pub fn pick_one_node(candidates: &[Candidate]) -> Option<usize> {
        if candidates.is_empty() {
            return None;
        }
        let funcs: [&dyn Fn(&Candidate) -> i128; 5] = [
            &|c| -i128::from(c.num_pdb_violations),
            &|c| -i128::from(c.victims.first().map(|p| p.priority()).unwrap_or(0)),
            &|c| {
                -c.victims
                    .iter()
                    .map(|p| i128::from(p.priority()) + i128::from(i32::MAX) + 1)
                    .sum::<i128>()
            },
            &|c| -(c.victims.len() as i128),
            &|c| {
                // The earliest start among the highest-priority victims; later is better.
                let mut max_prio = c.victims.first().map(|p| p.priority()).unwrap_or(0);
                let mut earliest = c
                    .victims
                    .first()
                    .map(|p| start_time(p))
                    .unwrap_or(i128::MIN);
                for p in &c.victims {
                    if p.priority() == max_prio {
                        earliest = earliest.min(start_time(p));
                    } else if p.priority() > max_prio {
                        max_prio = p.priority();
                        earliest = start_time(p);
                    }
                }
                earliest
            },
        ];
        let mut all: Vec<usize> = (0..candidates.len()).collect();
        for f in funcs {
            let mut best = i128::MIN;
            let mut selected = Vec::new();
            for &i in &all {
                let s = f(&candidates[i]);
                if s > best {
                    best = s;
                    selected.clear();
                }
                if s == best {
                    selected.push(i);
                }
            }
            if selected.len() == 1 {
                return Some(selected[0]);
            }
            all = selected;
        }
        all.first().copied()
    }

    /// `DryRunPreemption` over the potential nodes from a random offset.
    pub fn dry_run(
        &self,
        profile: &Profile,
        state: &CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        potential: &[usize],
    ) -> (Vec<Candidate>, NodeToStatus, Vec<String>) {
        let pdbs = snapshot.pdbs();
        let num = self.calculate_num_candidates(potential.len());
        let offset = self
            .rng
            .lock()
            .map(|mut r| r.random_range(0..potential.len()))
            .unwrap_or(0);
        let mut non_violating: Vec<Candidate> = Vec::new();
        let mut violating: Vec<Candidate> = Vec::new();
        let mut statuses = NodeToStatus::new();
        let mut errors = Vec::new();
        for i in 0..potential.len() {
            let slot = potential[(offset + i) % potential.len()];
            let mut node = snapshot.node(slot).clone();
            let mut st = state.clone();
            match self.select_victims_on_node(profile, &mut st, snapshot, pod, &mut node, pdbs) {
                Ok((victims, nv)) if !victims.is_empty() => {
                    let c = Candidate {
                        slot,
                        name: node.name().to_string(),
                        victims,
                        num_pdb_violations: nv,
                    };
                    if nv == 0 {
                        if non_violating.len() < num {
                            non_violating.push(c);
                        }
                    } else if violating.len() < num {
                        violating.push(c);
                    }
                    if !non_violating.is_empty() && non_violating.len() + violating.len() >= num {
                        break;
                    }
                }
                Ok(_) => {
                    let s = Status::error(format!(
                        "expected at least one victim pod on node {:?}",
                        node.name()
                    ));
                    errors.push(s.message());
                    statuses.set(slot, s);
                }
                Err(s) => {
                    if s.code() == Code::Error {
                        errors.push(s.message());
                    }
                    statuses.set(slot, s);
                }
            }
        }
        non_violating.extend(violating);
        (non_violating, statuses, errors)
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        super::names::DEFAULT_PREEMPTION
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        Some(self)
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        profile: &Profile,
        snapshot: &Snapshot,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status) {
        if let Err(msg) = self.eligible(snapshot, pod, statuses) {
            return (
                None,
                Status::new(Code::Unschedulable, format!("preemption: {msg}")),
            );
        }
        if snapshot.num_nodes() == 0 {
            return (None, Status::error("preemption: no nodes available"));
        }
        let potential = statuses.nodes_for_status_code(snapshot, Code::Unschedulable);
        let (candidates, mut node_statuses, errors) = if potential.is_empty() {
            (Vec::new(), NodeToStatus::new(), Vec::new())
        } else {
            self.dry_run(profile, state, snapshot, pod, &potential)
        };
        if candidates.is_empty() {
            if !errors.is_empty() {
                let msg = if errors.len() == 1 {
                    errors[0].clone()
                } else {
                    format!("[{}]", errors.join(", "))
                };
                return (None, Status::error(format!("preemption: {msg}")));
            }
            node_statuses.set_absent_nodes_status(Status::new(
                Code::UnschedulableAndUnresolvable,
                "Preemption is not helpful for scheduling",
            ));
            let msg = fit_error_message(snapshot.num_nodes(), &node_statuses, "", "");
            return (
                Some(PostFilterResult {
                    nominated_node_name: Some(String::new()),
                    ..Default::default()
                }),
                Status::new(Code::Unschedulable, format!("preemption: {msg}")),
            );
        }
        let Some(best) = Self::pick_one_node(&candidates) else {
            return (
                None,
                Status::new(
                    Code::Unschedulable,
                    "preemption: no candidate node for preemption",
                ),
            );
        };
        let best = &candidates[best];
        let nominations_to_clear = snapshot
            .nominated_pods_for_node(&best.name)
            .iter()
            .filter(|p| p.priority() < pod.priority())
            .map(|p| p.pod.clone())
            .collect();
        tracing::debug!(pod = pod.name(), node = %best.name, victims = best.victims.len(), "preemption candidate chosen");
        (
            Some(PostFilterResult {
                nominated_node_name: Some(best.name.clone()),
                victims: best.victims.iter().map(|v| v.pod.clone()).collect(),
                nominations_to_clear,
            }),
            Status::success(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    fn cand(name: &str, victims: Vec<k8s_openapi::api::core::v1::Pod>, pdb: i64) -> Candidate {
        Candidate {
            slot: 0,
            name: name.into(),
            victims: victims
                .into_iter()
                .map(|p| Arc::new(PodInfo::new(p)))
                .collect(),
            num_pdb_violations: pdb,
        }
    }

    #[test]
    fn pick_one_node_ordering() {
        // Fewest PDB violations wins.
        let c = [
            cand("a", vec![pod("x").priority(1).build()], 1),
            cand("b", vec![pod("x").priority(100).build()], 0),
        ];
        assert_eq!(DefaultPreemption::pick_one_node(&c), Some(1));
        // Lowest highest priority.
        let c = [
            cand("a", vec![pod("x").priority(10).build()], 0),
            cand(
                "b",
                vec![pod("x").priority(5).build(), pod("y").priority(5).build()],
                0,
            ),
        ];
        assert_eq!(DefaultPreemption::pick_one_node(&c), Some(1));
        // Lowest sum of priorities.
        let c = [
            cand(
                "a",
                vec![pod("x").priority(5).build(), pod("y").priority(4).build()],
                0,
            ),
            cand(
                "b",
                vec![pod("x").priority(5).build(), pod("y").priority(1).build()],
                0,
            ),
        ];
        assert_eq!(DefaultPreemption::pick_one_node(&c), Some(1));
        // Fewest victims.
        let c = [
            cand(
                "a",
                vec![
                    pod("x").priority(5).build(),
                    pod("y").priority(-2147483648).build(),
                ],
                0,
            ),
            cand("b", vec![pod("x").priority(5).build()], 0),
        ];
        assert_eq!(DefaultPreemption::pick_one_node(&c), Some(1));
        // Latest start time of the highest-priority victims.
        let c = [
            cand("a", vec![pod("x").priority(5).start_time(100).build()], 0),
            cand("b", vec![pod("x").priority(5).start_time(200).build()], 0),
        ];
        assert_eq!(DefaultPreemption::pick_one_node(&c), Some(1));
    }

    #[test]
    fn pdb_violations() {
        let pdb = PodDisruptionBudget {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                namespace: Some("default".into()),
                name: Some("pdb".into()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec {
                selector: Some(crate::testing::selector(&[("app", "db")])),
                ..Default::default()
            }),
            status: Some(k8s_openapi::api::policy::v1::PodDisruptionBudgetStatus {
                disruptions_allowed: 1,
                ..Default::default()
            }),
        };
        let pods: Vec<Arc<PodInfo>> = ["a", "b", "c"]
            .iter()
            .map(|n| Arc::new(PodInfo::new(pod(n).label("app", "db").build())))
            .chain([Arc::new(PodInfo::new(pod("d").label("app", "web").build()))])
            .collect();
        let (v, nv) = filter_pods_with_pdb_violation(&pods, &[Arc::new(pdb)]);
        let names = |v: &[Arc<PodInfo>]| v.iter().map(|p| p.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(&v), ["b", "c"]);
        assert_eq!(names(&nv), ["a", "d"]);
    }

    #[test]
    fn num_candidates() {
        let pl = DefaultPreemption::new(None, &Handle::default()).unwrap();
        assert_eq!(pl.calculate_num_candidates(50), 50);
        assert_eq!(pl.calculate_num_candidates(500), 100);
        assert_eq!(pl.calculate_num_candidates(5000), 500);
        let err = DefaultPreemption::new(
            Some(&serde_json::json!({"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0})),
            &Handle::default(),
        )
        .unwrap_err();
        assert!(err.contains("cannot be zero at the same time"), "{err}");
    }

    #[test]
    fn victims_are_minimal_and_lowest_priority() {
        // Node: 4 cpu; pods 1 cpu each with priorities 1, 2, 3 and one of priority 20.
        let snap = Snapshot::from_objects(
            [node("n").cpu("4").memory("10Gi").pods(10).build()],
            [
                pod("p1").node("n").priority(1).req("cpu", "1").build(),
                pod("p2").node("n").priority(2).req("cpu", "1").build(),
                pod("p3").node("n").priority(3).req("cpu", "1").build(),
                pod("p20").node("n").priority(20).req("cpu", "1").build(),
            ],
        )
        .unwrap();
        let profile = Profile::default_profile(&Handle::default());
        let pl = DefaultPreemption::new(None, &Handle::default()).unwrap();
        let p = PodInfo::new(pod("hi").priority(10).req("cpu", "2").build());
        let mut st = CycleState::new();
        let (_, s, _) = profile.run_pre_filter_plugins(&mut st, &snap, &p);
        assert!(s.is_success());
        let mut n = snap.get("n").unwrap().clone();
        let (victims, nv) = pl
            .select_victims_on_node(&profile, &mut st, &snap, &p, &mut n, &[])
            .unwrap();
        let names: Vec<&str> = victims.iter().map(|v| v.name()).collect();
        // p3 is reprieved first (most important), then p2; p1 must go... 2 cpu needed: p3 and p2 stay
        // only if room remains: after removing p1,p2,p3 there are 3 free; reprieve p3 (2 free), p2
        // (1 free, pod needs 2: not fit) => victims p2, p1.
        assert_eq!(names, ["p2", "p1"]);
        assert_eq!(nv, 0);
        // No lower-priority pods at all.
        let low = PodInfo::new(pod("lo").priority(0).req("cpu", "2").build());
        let mut st = CycleState::new();
        profile.run_pre_filter_plugins(&mut st, &snap, &low);
        let mut n = snap.get("n").unwrap().clone();
        let err = pl
            .select_victims_on_node(&profile, &mut st, &snap, &low, &mut n, &[])
            .unwrap_err();
        assert_eq!(
            err.message(),
            "No preemption victims found for incoming pod"
        );
    }
}
