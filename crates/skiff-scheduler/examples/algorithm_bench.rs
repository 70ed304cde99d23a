//! The scheduling algorithm alone (in-process, no API server): pods/s of `schedule_pod` + assume on
//! synthetic clusters shaped like kube-scheduler's scheduler_perf workloads.
//!
//! ```text
//! cargo run --release -p skiff-scheduler --example algorithm_bench [-- WORKLOAD ...]
//! ```
//!
//! Workloads (nodes: 4 CPU, 32Gi, 110 pods, hostname and zone labels; pods: 100m / 500Mi unless
//! noted, as scheduler_perf's `node-default.yaml` / `pod-default.yaml`):
//!
//! | name | nodes | init pods | measured pods |
//! |---|---|---|---|
//! | SchedulingBasic | 5000 | 1000 | 10000 |
//! | SchedulingPodAntiAffinity | 5000 | 1000 | 1000 (required anti-affinity by hostname) |
//! | SchedulingPodAffinity | 5000 | 1000 | 4000 (required affinity by zone, one zone) |
//! | TopologySpreading | 5000 (3 zones) | 1000 | 4000 (zone spread maxSkew 5, DoNotSchedule) |
//! | SchedulingNodeAffinity | 5000 | 1000 | 9000 (required node affinity zone In [zone1, zone2]) |
//! | PreemptionBasic | 500 | 2000 low priority (900m) | 500 high priority (3000m), each preempting |
//!
//! `algorithm_bench memory` instead reports the RSS of a snapshot of 5000 nodes and 50000 pods.
//!
//! Each measured pod is parsed (`PodInfo::new`), scheduled, and assumed in the snapshot; preemption
//! also deletes the victims from the snapshot and retries on the nominated node.

use k8s_openapi::api::core::v1::Pod;
use skiff_scheduler::framework::{CycleState, Handle, PodInfo, Profile, Snapshot};
use skiff_scheduler::schedule_one::{Algorithm, ScheduleError};
use skiff_scheduler::testing::{node, pod};
use std::sync::Arc;
use std::time::Instant;

struct Workload {
    name: &'static str,
    nodes: usize,
    zones: &'static [&'static str],
    init: Vec<Pod>,
    measured: Vec<Pod>,
    preemption: bool,
}

fn base_pod(name: &str, ns: &str) -> skiff_scheduler::testing::PodBuilder {
    pod(name)
        .namespace(ns)
        .uid(&format!("{ns}-{name}"))
        .req("cpu", "100m")
        .req("memory", "500Mi")
}

fn anti_affinity_pod(name: &str, ns: &str) -> Pod {
    base_pod(name, ns)
        .label("color", "green")
        .label("name", "test")
        .pod_anti_affinity_term_required(k8s_openapi::api::core::v1::PodAffinityTerm {
            label_selector: Some(skiff_scheduler::testing::selector(&[("color", "green")])),
            topology_key: "kubernetes.io/hostname".into(),
            namespaces: Some(vec!["sched-test".into(), "sched-setup".into()]),
            ..Default::default()
        })
        .build()
}

fn affinity_pod(name: &str, ns: &str) -> Pod {
    base_pod(name, ns)
        .label("foo", "")
        .pod_affinity_term_required(k8s_openapi::api::core::v1::PodAffinityTerm {
            label_selector: Some(skiff_scheduler::testing::selector(&[("foo", "")])),
            topology_key: "topology.kubernetes.io/zone".into(),
            namespaces: Some(vec!["sched-test".into(), "sched-setup".into()]),
            ..Default::default()
        })
        .build()
}

fn workloads() -> Vec<Workload> {
    let n = |count: usize, f: &dyn Fn(usize) -> Pod| (0..count).map(f).collect::<Vec<_>>();
    vec![
        Workload {
            name: "SchedulingBasic",
            nodes: 5000,
            zones: &["zone1"],
            init: n(1000, &|i| {
                base_pod(&format!("init-{i}"), "sched-setup").build()
            }),
            measured: n(10000, &|i| {
                base_pod(&format!("pod-{i}"), "sched-test").build()
            }),
            preemption: false,
        },
        Workload {
            name: "SchedulingPodAntiAffinity",
            nodes: 5000,
            zones: &["zone1"],
            init: n(1000, &|i| {
                anti_affinity_pod(&format!("init-{i}"), "sched-setup")
            }),
            measured: n(1000, &|i| {
                anti_affinity_pod(&format!("pod-{i}"), "sched-test")
            }),
            preemption: false,
        },
        Workload {
            name: "SchedulingPodAffinity",
            nodes: 5000,
            zones: &["zone1"],
            init: n(1000, &|i| affinity_pod(&format!("init-{i}"), "sched-setup")),
            measured: n(4000, &|i| affinity_pod(&format!("pod-{i}"), "sched-test")),
            preemption: false,
        },
        Workload {
            name: "TopologySpreading",
            nodes: 5000,
            zones: &["moon-1", "moon-2", "moon-3"],
            init: n(1000, &|i| {
                base_pod(&format!("init-{i}"), "sched-setup").build()
            }),
            measured: n(4000, &|i| {
                base_pod(&format!("pod-{i}"), "sched-test")
                    .label("foo", "bar")
                    .spread(
                        5,
                        "topology.kubernetes.io/zone",
                        "DoNotSchedule",
                        &[("foo", "bar")],
                    )
                    .build()
            }),
            preemption: false,
        },
        Workload {
            name: "SchedulingNodeAffinity",
            nodes: 5000,
            zones: &["zone1"],
            init: n(1000, &|i| {
                base_pod(&format!("init-{i}"), "sched-setup")
                    .node_affinity_in("topology.kubernetes.io/zone", &["zone1", "zone2"])
                    .build()
            }),
            measured: n(9000, &|i| {
                base_pod(&format!("pod-{i}"), "sched-test")
                    .node_affinity_in("topology.kubernetes.io/zone", &["zone1", "zone2"])
                    .build()
            }),
            preemption: false,
        },
        Workload {
            name: "PreemptionBasic",
            nodes: 500,
            zones: &["zone1"],
            init: n(2000, &|i| {
                pod(&format!("low-{i}"))
                    .namespace("sched-setup")
                    .uid(&format!("low-{i}"))
                    .priority(1)
                    .req("cpu", "900m")
                    .req("memory", "500Mi")
                    .build()
            }),
            measured: n(500, &|i| {
                pod(&format!("high-{i}"))
                    .namespace("sched-test")
                    .uid(&format!("high-{i}"))
                    .priority(10)
                    .req("cpu", "3000m")
                    .req("memory", "500Mi")
                    .build()
            }),
            preemption: true,
        },
    ]
}

fn cluster(w: &Workload) -> Snapshot {
    let mut snap = Snapshot::new();
    for i in 0..w.nodes {
        let name = format!("node-{i}");
        snap.add_node(
            node(&name)
                .cpu("4")
                .memory("32Gi")
                .pods(110)
                .label("kubernetes.io/hostname", &name)
                .label("topology.kubernetes.io/zone", w.zones[i % w.zones.len()])
                .build(),
        )
        .expect("node");
    }
    snap.set_namespace("sched-setup", Default::default());
    snap.set_namespace("sched-test", Default::default());
    snap
}

/// Schedules (and preempts for) one pod; returns false if it could not be placed.
fn place(
    alg: &mut Algorithm,
    profile: &Profile,
    snap: &mut Snapshot,
    p: Pod,
    preemption: bool,
) -> bool {
    let info = PodInfo::new(p);
    let mut state = CycleState::new();
    match alg.schedule_pod(profile, snap, &mut state, &info) {
        Ok(r) => {
            snap.assume_pod(Arc::new(info), &r.suggested_host)
                .expect("assume");
            true
        }
        Err(ScheduleError::Fit(fit)) if preemption => {
            let (result, status) =
                profile.run_post_filter_plugins(&state, snap, &info, &fit.diagnosis.node_to_status);
            let Some(result) = result.filter(|_| status.is_success()) else {
                return false;
            };
            for v in &result.victims {
                snap.remove_pod(&skiff_scheduler::framework::types::pod_key(v))
                    .expect("victim");
            }
            let node = result.nominated_node_name.unwrap_or_default();
            let mut p = (*info.pod).clone();
            p.status
                .get_or_insert_with(Default::default)
                .nominated_node_name = Some(node);
            let info = PodInfo::new(p);
            let mut state = CycleState::new();
            match alg.schedule_pod(profile, snap, &mut state, &info) {
                Ok(r) => {
                    snap.assume_pod(Arc::new(info), &r.suggested_host)
                        .expect("assume");
                    true
                }
                Err(_) => false,
            }
        }
        Err(_) => false,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// RSS of a snapshot holding 5000 nodes and 50000 bound pods (the cache the scheduler keeps).
fn memory() {
    let before = rss_kib();
    let w = Workload {
        name: "memory",
        nodes: 5000,
        zones: &["zone1", "zone2", "zone3"],
        init: Vec::new(),
        measured: Vec::new(),
        preemption: false,
    };
    let mut snap = cluster(&w);
    for i in 0..50_000 {
        let p = base_pod(&format!("pod-{i}"), "sched-test")
            .label("app", &format!("app-{}", i % 50))
            .node(&format!("node-{}", i % 5000))
            .build();
        snap.add_pod(std::sync::Arc::new(PodInfo::new(p)))
            .expect("pod");
    }
    let after = rss_kib();
    println!(
        "snapshot of 5000 nodes / 50000 pods: RSS {} MiB (process {} MiB)",
        (after - before) / 1024,
        after / 1024
    );
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.iter().any(|w| w == "memory") {
        memory();
        return;
    }
    let profile = Profile::default_profile(&Handle {
        seed: Some(1),
        ..Default::default()
    });
    println!("load average before: {}", loadavg());
    println!(
        "{:<27} {:>6} {:>6} {:>9} {:>11} {:>9} {:>9}",
        "workload", "nodes", "pods", "placed", "pods/s", "p50 µs", "p99 µs"
    );
    for w in workloads() {
        if !wanted.is_empty() && !wanted.iter().any(|n| n == w.name) {
            continue;
        }
        let mut snap = cluster(&w);
        let mut alg = Algorithm::new(Some(1));
        for p in w.init.iter().cloned() {
            place(&mut alg, &profile, &mut snap, p, false);
        }
        let total = w.measured.len();
        let mut lat = Vec::with_capacity(total);
        let mut placed = 0;
        let start = Instant::now();
        for p in w.measured.iter().cloned() {
            let t = Instant::now();
            if place(&mut alg, &profile, &mut snap, p, w.preemption) {
                placed += 1;
            }
            lat.push(t.elapsed().as_nanos());
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort_unstable();
        println!(
            "{:<27} {:>6} {:>6} {:>9} {:>11.0} {:>9.1} {:>9.1}",
            w.name,
            w.nodes,
            total,
            placed,
            total as f64 / secs,
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
        );
    }
    println!("load average after: {}", loadavg());
}
