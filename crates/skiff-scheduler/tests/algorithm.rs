//! The scheduling algorithm end to end with the default profile and with configured profiles:
//! sampling, messages, preemption, explain mode, extension points.

use skiff_scheduler::config::KubeSchedulerConfiguration;
use skiff_scheduler::framework::{
    BindPlugin, Code, CycleState, ExtensionPoint, Handle, PermitPlugin, Plugin, PodInfo, Profile,
    ReservePlugin, Snapshot, Status,
};
use skiff_scheduler::plugins::default_binder::Binder;
use skiff_scheduler::plugins::default_registry;
use skiff_scheduler::schedule_one::{Algorithm, ScheduleError};
use skiff_scheduler::testing::{node, pod};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn schedule(
    alg: &mut Algorithm,
    profile: &Profile,
    snap: &Snapshot,
    p: &PodInfo,
) -> Result<skiff_scheduler::ScheduleResult, ScheduleError> {
    alg.schedule_pod(profile, snap, &mut CycleState::new(), p)
}

fn fit_message(e: ScheduleError) -> String {
    match e {
        ScheduleError::Fit(f) => f.message(),
        other => panic!("expected a FitError, got {other}"),
    }
}

#[test]
fn default_profile_has_upstream_plugins_and_weights() {
    let p = Profile::default_profile(&Handle::default());
    assert_eq!(p.scheduler_name(), "default-scheduler");
    assert_eq!(
        p.plugin_names(ExtensionPoint::Filter),
        [
            "NodeUnschedulable",
            "NodeName",
            "TaintToleration",
            "NodeAffinity",
            "NodePorts",
            "NodeResourcesFit",
            "PodTopologySpread",
            "InterPodAffinity"
        ]
    );
    assert_eq!(
        p.score_weights(),
        [
            ("TaintToleration", 3),
            ("NodeAffinity", 2),
            ("NodeResourcesFit", 1),
            ("PodTopologySpread", 2),
            ("InterPodAffinity", 2),
            ("NodeResourcesBalancedAllocation", 1),
            ("ImageLocality", 1)
        ]
    );
    assert_eq!(
        p.plugin_names(ExtensionPoint::PreEnqueue),
        ["SchedulingGates"]
    );
    assert_eq!(p.plugin_names(ExtensionPoint::QueueSort), ["PrioritySort"]);
    assert_eq!(
        p.plugin_names(ExtensionPoint::PostFilter),
        ["DefaultPreemption"]
    );
    assert_eq!(p.plugin_names(ExtensionPoint::Bind), ["DefaultBinder"]);
}

#[test]
fn failed_scheduling_message_and_preemption_part() {
    let snap = Snapshot::from_objects(
        [
            node("n1").cpu("1").memory("1Gi").build(),
            node("n2").cpu("8").taint("k", "v", "NoSchedule").build(),
            node("n3").cpu("8").taint("k", "v", "NoSchedule").build(),
        ],
        [],
    )
    .unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(1));
    let p = PodInfo::new(pod("p").req("cpu", "2").build());
    let mut state = CycleState::new();
    let err = alg
        .schedule_pod(&profile, &snap, &mut state, &p)
        .unwrap_err();
    let ScheduleError::Fit(mut fit) = err else {
        panic!("not a fit error")
    };
    assert_eq!(
        fit.message(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}."
    );
    let (result, status) =
        profile.run_post_filter_plugins(&state, &snap, &p, &fit.diagnosis.node_to_status);
    assert_eq!(status.code(), Code::Unschedulable);
    fit.set_post_filter_msg(status.message());
    assert_eq!(
        fit.message(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. \
         preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
         2 Preemption is not helpful for scheduling.."
    );
    assert_eq!(result.unwrap().nominated_node_name.as_deref(), Some(""));
    // preemptionPolicy: Never.
    let never = PodInfo::new(pod("p").req("cpu", "2").preemption_policy("Never").build());
    let (_, status) =
        profile.run_post_filter_plugins(&state, &snap, &never, &fit.diagnosis.node_to_status);
    assert_eq!(
        status.message(),
        "preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn high_priority_pod_preempts_low_priority_one() {
    let mut snap = Snapshot::from_objects(
        [
            node("n1").cpu("2").memory("4Gi").build(),
            node("n2").cpu("2").memory("4Gi").build(),
        ],
        [
            pod("low1")
                .node("n1")
                .priority(1)
                .req("cpu", "1500m")
                .start_time(10)
                .build(),
            pod("low2")
                .node("n2")
                .priority(5)
                .req("cpu", "1500m")
                .start_time(10)
                .build(),
        ],
    )
    .unwrap();
    let handle = Handle {
        seed: Some(7),
        ..Default::default()
    };
    let profile = Profile::default_profile(&handle);
    let mut alg = Algorithm::new(Some(1));
    let hi = PodInfo::new(pod("hi").priority(100).req("cpu", "1").build());
    let mut state = CycleState::new();
    let err = alg
        .schedule_pod(&profile, &snap, &mut state, &hi)
        .unwrap_err();
    let ScheduleError::Fit(fit) = err else {
        panic!()
    };
    assert_eq!(
        fit.message(),
        "0/2 nodes are available: 2 Insufficient cpu."
    );
    let (result, status) =
        profile.run_post_filter_plugins(&state, &snap, &hi, &fit.diagnosis.node_to_status);
    assert!(status.is_success(), "{status}");
    let result = result.unwrap();
    // The node whose victim has the lowest priority.
    assert_eq!(result.nominated_node_name.as_deref(), Some("n1"));
    let victims: Vec<&str> = result
        .victims
        .iter()
        .map(|v| v.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(victims, ["low1"]);
    // The caller deletes the victims and nominates; the next attempt goes to the nominated node.
    snap.remove_pod("default/low1").unwrap();
    let hi = PodInfo::new(
        pod("hi")
            .priority(100)
            .req("cpu", "1")
            .nominated("n1")
            .build(),
    );
    snap.add_nominated_pod(Arc::new(hi.clone()), "n1");
    let r = schedule(&mut alg, &profile, &snap, &hi).unwrap();
    assert_eq!(r.suggested_host, "n1");
    assert_eq!(r.evaluated_nodes, 1);
    // A lower-priority pod sees the nominated pod's claim on n1.
    let other = PodInfo::new(pod("mid").priority(50).req("cpu", "1500m").build());
    let err = schedule(&mut alg, &profile, &snap, &other).unwrap_err();
    assert_eq!(
        fit_message(err),
        "0/2 nodes are available: 2 Insufficient cpu."
    );
}

#[test]
fn pdb_protected_pods_are_preempted_last() {
    let mut snap = Snapshot::from_objects(
        [node("n1").cpu("2").build(), node("n2").cpu("2").build()],
        [
            pod("db")
                .node("n1")
                .label("app", "db")
                .req("cpu", "2")
                .build(),
            pod("web")
                .node("n2")
                .label("app", "web")
                .req("cpu", "2")
                .build(),
        ],
    )
    .unwrap();
    snap.set_pdbs(vec![k8s_openapi::api::policy::v1::PodDisruptionBudget {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some("default".into()),
            name: Some("db".into()),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec {
            selector: Some(skiff_scheduler::testing::selector(&[("app", "db")])),
            ..Default::default()
        }),
        status: Some(Default::default()),
    }]);
    let profile = Profile::default_profile(&Handle {
        seed: Some(3),
        ..Default::default()
    });
    let mut alg = Algorithm::new(Some(1));
    let hi = PodInfo::new(pod("hi").priority(10).req("cpu", "1").build());
    let mut state = CycleState::new();
    let ScheduleError::Fit(fit) = alg
        .schedule_pod(&profile, &snap, &mut state, &hi)
        .unwrap_err()
    else {
        panic!()
    };
    let (r, s) = profile.run_post_filter_plugins(&state, &snap, &hi, &fit.diagnosis.node_to_status);
    assert!(s.is_success());
    assert_eq!(r.unwrap().nominated_node_name.as_deref(), Some("n2"));
}

#[test]
fn sampling_follows_num_feasible_nodes_and_round_robin() {
    let nodes: Vec<_> = (0..1000)
        .map(|i| node(&format!("n{i:04}")).cpu("4").memory("8Gi").build())
        .collect();
    let snap = Snapshot::from_objects(nodes, []).unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(1));
    let p = PodInfo::new(pod("p").req("cpu", "100m").build());
    let r = schedule(&mut alg, &profile, &snap, &p).unwrap();
    // 1000 nodes: 50 - 1000/125 = 42%.
    assert_eq!(r.feasible_nodes, 420);
    assert_eq!(r.evaluated_nodes, 420);
    assert_eq!(alg.next_start_node_index(), 420);
    schedule(&mut alg, &profile, &snap, &p).unwrap();
    assert_eq!(alg.next_start_node_index(), 840);
    schedule(&mut alg, &profile, &snap, &p).unwrap();
    assert_eq!(alg.next_start_node_index(), 260);
    // A profile with percentageOfNodesToScore 100 looks at every node.
    let mut cfg = KubeSchedulerConfiguration::from_yaml(
        "profiles:\n- schedulerName: all\n  percentageOfNodesToScore: 100\n",
    )
    .unwrap();
    cfg.set_defaults();
    let all = Profile::from_configuration(&cfg, &default_registry(), &Handle::default())
        .unwrap()
        .remove(0);
    let r = schedule(&mut alg, &all, &snap, &p).unwrap();
    assert_eq!(r.feasible_nodes, 1000);
}

#[test]
fn ties_are_broken_at_random_but_reproducibly() {
    let nodes: Vec<_> = (0..10)
        .map(|i| node(&format!("n{i}")).cpu("4").memory("8Gi").build())
        .collect();
    let snap = Snapshot::from_objects(nodes, []).unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let p = PodInfo::new(pod("p").req("cpu", "1").req("memory", "1Gi").build());
    let run = |seed| {
        let mut alg = Algorithm::new(Some(seed));
        (0..50)
            .map(|_| {
                schedule(&mut alg, &profile, &snap, &p)
                    .unwrap()
                    .suggested_host
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(42), run(42));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for h in run(42).into_iter().chain(run(43)) {
        *counts.entry(h).or_default() += 1;
    }
    assert!(counts.len() >= 8, "ties spread over the nodes: {counts:?}");
}

#[test]
fn spreading_and_affinity_place_pods_like_upstream() {
    let zones = ["z1", "z2", "z3"];
    let nodes: Vec<_> = (0..9)
        .map(|i| {
            node(&format!("n{i}"))
                .cpu("8")
                .memory("16Gi")
                .label("topology.kubernetes.io/zone", zones[i % 3])
                .label("kubernetes.io/hostname", &format!("n{i}"))
                .build()
        })
        .collect();
    let mut snap = Snapshot::from_objects(nodes, []).unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(5));
    let mut per_zone: HashMap<String, usize> = HashMap::new();
    for i in 0..9 {
        let p = PodInfo::new(
            pod(&format!("s{i}"))
                .label("app", "spread")
                .req("cpu", "100m")
                .spread(
                    1,
                    "topology.kubernetes.io/zone",
                    "DoNotSchedule",
                    &[("app", "spread")],
                )
                .build(),
        );
        let r = schedule(&mut alg, &profile, &snap, &p).unwrap();
        let zone =
            snap.get(&r.suggested_host).unwrap().labels()["topology.kubernetes.io/zone"].clone();
        *per_zone.entry(zone).or_default() += 1;
        snap.assume_pod(Arc::new(p), &r.suggested_host).unwrap();
    }
    assert_eq!(per_zone.values().copied().collect::<Vec<_>>(), [3, 3, 3]);
    // Anti-affinity by hostname: each pod on its own node, then no room.
    for i in 0..9 {
        let p = PodInfo::new(
            pod(&format!("a{i}"))
                .label("app", "anti")
                .pod_anti_affinity_required("app", "anti", "kubernetes.io/hostname")
                .build(),
        );
        let r = schedule(&mut alg, &profile, &snap, &p).unwrap();
        snap.assume_pod(Arc::new(p), &r.suggested_host).unwrap();
    }
    let p = PodInfo::new(
        pod("a9")
            .label("app", "anti")
            .pod_anti_affinity_required("app", "anti", "kubernetes.io/hostname")
            .build(),
    );
    assert_eq!(
        fit_message(schedule(&mut alg, &profile, &snap, &p).unwrap_err()),
        "0/9 nodes are available: 9 node(s) didn't match pod anti-affinity rules."
    );
}

#[test]
fn prefilter_node_name_restriction_counts_other_nodes() {
    let nodes: Vec<_> = (0..4)
        .map(|i| node(&format!("n{i}")).cpu("1").build())
        .collect();
    let snap = Snapshot::from_objects(nodes, []).unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(1));
    let name_term = |n: &str| k8s_openapi::api::core::v1::Affinity {
        node_affinity: Some(k8s_openapi::api::core::v1::NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(
                k8s_openapi::api::core::v1::NodeSelector {
                    node_selector_terms: vec![k8s_openapi::api::core::v1::NodeSelectorTerm {
                        match_fields: Some(vec![
                            k8s_openapi::api::core::v1::NodeSelectorRequirement {
                                key: "metadata.name".into(),
                                operator: "In".into(),
                                values: Some(vec![n.into()]),
                            },
                        ]),
                        match_expressions: None,
                    }],
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = PodInfo::new(pod("p").affinity(name_term("n2")).build());
    let r = schedule(&mut alg, &profile, &snap, &p).unwrap();
    assert_eq!(r.suggested_host, "n2");
    let p = PodInfo::new(pod("p").req("cpu", "2").affinity(name_term("n2")).build());
    assert_eq!(
        fit_message(schedule(&mut alg, &profile, &snap, &p).unwrap_err()),
        "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    );
    let gone = PodInfo::new(pod("p").affinity(name_term("nope")).build());
    assert_eq!(
        fit_message(schedule(&mut alg, &profile, &snap, &gone).unwrap_err()),
        "0/4 nodes are available: 4 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    );
}

#[test]
fn explain_mode_reports_every_node_and_plugin() {
    let snap = Snapshot::from_objects(
        [
            node("a").cpu("4").memory("8Gi").build(),
            node("b")
                .cpu("4")
                .memory("8Gi")
                .taint("k", "v", "NoSchedule")
                .build(),
            node("c").cpu("1").memory("8Gi").build(),
        ],
        [],
    )
    .unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(1));
    let p = PodInfo::new(pod("p").req("cpu", "2").req("memory", "1Gi").build());
    let (r, ex) = alg.schedule_pod_explained(&profile, &snap, &mut CycleState::new(), &p);
    assert_eq!(r.unwrap().suggested_host, "a");
    let filter = ex.filter_json();
    assert_eq!(filter["a"]["NodeResourcesFit"], "passed");
    assert_eq!(
        filter["b"]["TaintToleration"],
        "node(s) had untolerated taint {k: v}"
    );
    assert_eq!(filter["b"]["NodeResourcesFit"], "passed");
    assert_eq!(filter["c"]["NodeResourcesFit"], "Insufficient cpu");
    assert!(
        filter["a"].get("NodePorts").is_none(),
        "skipped plugins are not listed"
    );
    let score = ex.score_json();
    assert_eq!(score.as_object().unwrap().len(), 1);
    // LeastAllocated: cpu 2000/4000 -> 50, memory 1Gi/8Gi -> 87 => 68.
    assert_eq!(score["a"]["NodeResourcesFit"], 68);
    assert_eq!(score["a"]["TaintToleration"], 100);
    let total = ex.final_score_json()["a"].as_i64().unwrap();
    assert!(total > 0);
    let anns = ex.annotations();
    assert_eq!(anns[0].0, "scheduler.skiff.dev/filter-result");
    assert!(!anns[0].1.contains('\n'));
}

#[test]
fn explain_mode_with_prefilter_outcomes() {
    let snap = Snapshot::from_objects([node("a").cpu("4").build(), node("b").cpu("4").build()], [])
        .unwrap();
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(1));
    // Restricted by NodeAffinity's PreFilter to node b: node a still gets an entry.
    let p = PodInfo::new(
        pod("p")
            .affinity(k8s_openapi::api::core::v1::Affinity {
                node_affinity: Some(k8s_openapi::api::core::v1::NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(
                        k8s_openapi::api::core::v1::NodeSelector {
                            node_selector_terms: vec![
                                k8s_openapi::api::core::v1::NodeSelectorTerm {
                                    match_fields: Some(vec![
                                        k8s_openapi::api::core::v1::NodeSelectorRequirement {
                                            key: "metadata.name".into(),
                                            operator: "In".into(),
                                            values: Some(vec!["b".into()]),
                                        },
                                    ]),
                                    match_expressions: None,
                                },
                            ],
                        },
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .build(),
    );
    let (r, ex) = alg.schedule_pod_explained(&profile, &snap, &mut CycleState::new(), &p);
    assert_eq!(r.unwrap().suggested_host, "b");
    let f = ex.filter_json();
    assert_eq!(
        f["a"]["NodeAffinity"],
        "node(s) didn't satisfy plugin(s) [NodeAffinity]"
    );
    assert_eq!(f["b"]["NodeAffinity"], "passed");
    assert!(ex.score_json().get("a").is_none());
    assert!(ex.final_score_json().get("b").is_some());
    // Rejected by Filter everywhere.
    let p = PodInfo::new(
        pod("p")
            .label("app", "x")
            .pod_affinity_required("app", "x", "zone")
            .build(),
    );
    let (r, ex) = alg.schedule_pod_explained(&profile, &snap, &mut CycleState::new(), &p);
    let err = r.unwrap_err().to_string();
    assert_eq!(
        err,
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules."
    );
    assert_eq!(
        ex.filter_json()["a"]["InterPodAffinity"],
        "node(s) didn't match pod affinity rules"
    );
    // Rejected at PreFilter: every node carries the PreFilter message.
    let pin = |names: &[&str]| k8s_openapi::api::core::v1::NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(names.iter().map(|n| n.to_string()).collect()),
    };
    let p = PodInfo::new(
        pod("p")
            .affinity(k8s_openapi::api::core::v1::Affinity {
                node_affinity: Some(k8s_openapi::api::core::v1::NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(
                        k8s_openapi::api::core::v1::NodeSelector {
                            node_selector_terms: vec![
                                k8s_openapi::api::core::v1::NodeSelectorTerm {
                                    match_fields: Some(vec![pin(&["a"]), pin(&["b"])]),
                                    match_expressions: None,
                                },
                            ],
                        },
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .build(),
    );
    let (r, ex) = alg.schedule_pod_explained(&profile, &snap, &mut CycleState::new(), &p);
    assert_eq!(
        r.unwrap_err().to_string(),
        "0/2 nodes are available: pod affinity terms conflict."
    );
    assert_eq!(
        ex.filter_json()["a"]["NodeAffinity"],
        "pod affinity terms conflict"
    );
    assert_eq!(
        ex.filter_json()["b"]["NodeAffinity"],
        "pod affinity terms conflict"
    );
}

#[test]
fn configured_profiles_change_plugins_and_weights() {
    let yaml = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: default-scheduler
  - schedulerName: bin-packing
    plugins:
      score:
        disabled:
          - name: NodeResourcesBalancedAllocation
        enabled:
          - name: NodeResourcesFit
            weight: 5
    pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
  - schedulerName: no-taints
    plugins:
      filter:
        disabled:
          - name: TaintToleration
"#;
    let cfg = KubeSchedulerConfiguration::from_yaml(yaml).unwrap();
    let profiles =
        Profile::from_configuration(&cfg, &default_registry(), &Handle::default()).unwrap();
    assert_eq!(profiles.len(), 3);
    let bp = &profiles[1];
    assert_eq!(bp.scheduler_name(), "bin-packing");
    let weights = bp.score_weights();
    assert_eq!(weights[0], ("NodeResourcesFit", 5));
    assert!(!weights
        .iter()
        .any(|(n, _)| *n == "NodeResourcesBalancedAllocation"));
    // MostAllocated packs: the fuller node wins.
    let snap = Snapshot::from_objects(
        [
            node("empty").cpu("4").memory("8Gi").build(),
            node("busy").cpu("4").memory("8Gi").build(),
        ],
        [pod("x")
            .node("busy")
            .req("cpu", "2")
            .req("memory", "4Gi")
            .build()],
    )
    .unwrap();
    let mut alg = Algorithm::new(Some(1));
    let p = PodInfo::new(pod("p").req("cpu", "1").req("memory", "1Gi").build());
    assert_eq!(
        schedule(&mut alg, bp, &snap, &p).unwrap().suggested_host,
        "busy"
    );
    assert_eq!(
        schedule(&mut alg, &profiles[0], &snap, &p)
            .unwrap()
            .suggested_host,
        "empty"
    );
    let nt = &profiles[2];
    assert!(!nt
        .plugin_names(ExtensionPoint::Filter)
        .contains(&"TaintToleration"));
    assert!(nt
        .plugin_names(ExtensionPoint::Score)
        .contains(&"TaintToleration"));

    let bad = KubeSchedulerConfiguration::from_yaml(
        "profiles:\n- schedulerName: x\n  plugins:\n    filter:\n      enabled:\n      - name: Nope\n",
    )
    .unwrap();
    let err =
        Profile::from_configuration(&bad, &default_registry(), &Handle::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "initializing profile for scheduler name \"x\": FilterPlugin \"Nope\" does not exist"
    );
    let bad = KubeSchedulerConfiguration::from_yaml(
        "profiles:\n- schedulerName: x\n  plugins:\n    filter:\n      enabled:\n      - name: ImageLocality\n",
    )
    .unwrap();
    let err =
        Profile::from_configuration(&bad, &default_registry(), &Handle::default()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("plugin \"ImageLocality\" does not extend FilterPlugin plugin"),
        "{err}"
    );
    let bad = KubeSchedulerConfiguration::from_yaml(
        "profiles:\n- schedulerName: x\n  plugins:\n    queueSort:\n      disabled:\n      - name: '*'\n",
    )
    .unwrap();
    let err =
        Profile::from_configuration(&bad, &default_registry(), &Handle::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("only one queue sort plugin required"),
        "{err}"
    );
}

/// A plugin at the binding-cycle points, recording what ran.
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
    permit: Code,
}

impl Plugin for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        Some(self)
    }
    fn as_permit(&self) -> Option<&dyn PermitPlugin> {
        Some(self)
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        Some(self)
    }
}
impl ReservePlugin for Recorder {
    fn reserve(&self, _s: &mut CycleState, p: &PodInfo, n: &str) -> Status {
        self.log
            .lock()
            .unwrap()
            .push(format!("reserve {} {n}", p.name()));
        Status::success()
    }
    fn unreserve(&self, _s: &mut CycleState, p: &PodInfo, n: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("unreserve {} {n}", p.name()));
    }
}
impl PermitPlugin for Recorder {
    fn permit(&self, _s: &mut CycleState, _p: &PodInfo, _n: &str) -> (Status, Duration) {
        (Status::code_only(self.permit), Duration::from_secs(30))
    }
}
impl BindPlugin for Recorder {
    fn bind(&self, _s: &mut CycleState, _p: &PodInfo, _n: &str) -> Status {
        Status::skip()
    }
}

#[derive(Default)]
struct Bindings(Mutex<Vec<(String, String)>>);
impl Binder for Bindings {
    fn bind(&self, b: &k8s_openapi::api::core::v1::Binding) -> Result<(), String> {
        self.0.lock().unwrap().push((
            b.metadata.name.clone().unwrap_or_default(),
            b.target.name.clone().unwrap_or_default(),
        ));
        Ok(())
    }
}

#[test]
fn binding_cycle_extension_points() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut registry = default_registry();
    let l = log.clone();
    registry.register("Recorder", move |_, _| {
        Ok(Arc::new(Recorder {
            log: l.clone(),
            permit: Code::Wait,
        }) as Arc<dyn Plugin>)
    });
    let cfg = KubeSchedulerConfiguration::from_yaml(
        "profiles:\n- plugins:\n    multiPoint:\n      enabled:\n      - name: Recorder\n",
    )
    .unwrap();
    let bindings = Arc::new(Bindings::default());
    let handle = Handle {
        binder: Some(bindings.clone()),
        seed: None,
    };
    let profile = Profile::from_configuration(&cfg, &registry, &handle)
        .unwrap()
        .remove(0);
    // MultiPoint plugins after the defaults; DefaultBinder binds after Recorder skips.
    assert_eq!(
        profile.plugin_names(ExtensionPoint::Bind),
        ["DefaultBinder", "Recorder"]
    );
    let p = PodInfo::new(pod("p").build());
    let mut st = CycleState::new();
    assert!(profile
        .run_reserve_plugins_reserve(&mut st, &p, "n1")
        .is_success());
    let (s, wait) = profile.run_permit_plugins(&mut st, &p, "n1");
    assert_eq!(s.code(), Code::Wait);
    assert_eq!(wait, Duration::from_secs(30));
    assert!(profile.run_bind_plugins(&mut st, &p, "n1").is_success());
    profile.run_reserve_plugins_unreserve(&mut st, &p, "n1");
    assert_eq!(*log.lock().unwrap(), ["reserve p n1", "unreserve p n1"]);
    assert_eq!(
        *bindings.0.lock().unwrap(),
        [("p".to_string(), "n1".to_string())]
    );
    // Gated pods are kept out of the queue.
    let gated = PodInfo::new(pod("g").scheduling_gate("wait").build());
    let s = profile.run_pre_enqueue_plugins(&gated);
    assert_eq!(s.plugin(), "SchedulingGates");
    assert_eq!(s.message(), "waiting for scheduling gates: [wait]");
}

#[test]
fn no_nodes() {
    let profile = Profile::default_profile(&Handle::default());
    let mut alg = Algorithm::new(Some(1));
    let err = schedule(
        &mut alg,
        &profile,
        &Snapshot::new(),
        &PodInfo::new(pod("p").build()),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "no nodes available to schedule pods");
}
