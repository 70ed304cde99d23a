//! The scheduler against a real `skiff server`: nodes created through the API (no kubelet), pods
//! created with kubectl, and what a user sees: where pods land, the FailedScheduling message in
//! `kubectl describe`, preemption, explain annotations, `--disable-scheduler`, and `skiff scheduler`
//! alone with leader election.

mod common;

use common::{eventually, http, Server};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn create_node(s: &Server, name: &str, cpu: &str, memory: &str, labels: Value, taints: Value) {
    let mut l = json!({"kubernetes.io/hostname": name});
    if let Value::Object(m) = labels {
        for (k, v) in m {
            l[k] = v;
        }
    }
    let body = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": l},
        "spec": {"taints": taints},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    let (code, text) = http(
        &s.addr(),
        "POST",
        "/api/v1/nodes",
        Some("application/json"),
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 201, "creating node {name}: {text}");
    // Make sure the status stuck (some servers drop status on create).
    let alloc = s.ok(&[
        "get",
        "node",
        name,
        "-o",
        "jsonpath={.status.allocatable.cpu}",
    ]);
    if alloc.trim().is_empty() {
        let patch = json!({"status": body["status"]}).to_string();
        let (code, text) = http(
            &s.addr(),
            "PATCH",
            &format!("/api/v1/nodes/{name}/status"),
            Some("application/merge-patch+json"),
            patch.as_bytes(),
        );
        assert_eq!(code, 200, "patching node {name} status: {text}");
    }
}

fn apply(s: &Server, manifest: &str) {
    let out = s.kubectl_stdin(&["apply", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "kubectl apply failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

fn pod_yaml(name: &str, extra_spec: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: \"{cpu}\"\n"
    )
}

fn get(s: &Server, pod: &str, path: &str) -> String {
    let out = s.kubectl(&["get", "pod", pod, "-o", &format!("jsonpath={{{path}}}")]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_bound(s: &Server, pod: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let n = get(s, pod, ".spec.nodeName");
        if !n.is_empty() {
            return n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pod {pod} was not bound: {}\nserver log:\n{}",
            s.ok(&["get", "pod", pod, "-o", "yaml"]),
            s.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pods_land_where_upstream_puts_them_and_failures_are_reported() {
    let s = Server::start();
    create_node(&s, "small", "1", "2Gi", json!({"zone": "b"}), json!([]));
    create_node(&s, "big", "8", "16Gi", json!({}), json!([]));
    create_node(
        &s,
        "gpu",
        "16",
        "32Gi",
        json!({"gpu": "true"}),
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    );

    // Resources: only "big" has room (gpu is tainted).
    apply(&s, &pod_yaml("large", "", "4"));
    // nodeSelector.
    apply(
        &s,
        &pod_yaml("selected", "  nodeSelector:\n    zone: b\n", "100m"),
    );
    // Toleration plus node selector onto the tainted node.
    apply(
        &s,
        &pod_yaml(
            "tolerant",
            "  nodeSelector:\n    gpu: \"true\"\n  tolerations:\n  - key: dedicated\n    operator: Equal\n    value: gpu\n    effect: NoSchedule\n",
            "1",
        ),
    );
    assert_eq!(wait_bound(&s, "large"), "big");
    assert_eq!(wait_bound(&s, "selected"), "small");
    assert_eq!(wait_bound(&s, "tolerant"), "gpu");
    assert_eq!(
        get(
            &s,
            "large",
            ".status.conditions[?(@.type==\"PodScheduled\")].status"
        ),
        "True"
    );
    let events = eventually(WAIT, || {
        let out = s.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=large,reason=Scheduled",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        (!out.trim().is_empty()).then_some(out)
    });
    assert!(
        events.contains("Successfully assigned default/large to big"),
        "{events}"
    );

    // Unschedulable: more CPU than any untainted node has.
    apply(&s, &pod_yaml("huge", "", "100"));
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..";
    let msg = eventually(WAIT, || {
        let m = get(
            &s,
            "huge",
            ".status.conditions[?(@.type==\"PodScheduled\")].message",
        );
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(msg, expected);
    assert_eq!(
        get(
            &s,
            "huge",
            ".status.conditions[?(@.type==\"PodScheduled\")].reason"
        ),
        "Unschedulable"
    );
    let describe = eventually(WAIT, || {
        let d = s.ok(&["describe", "pod", "huge"]);
        d.contains("FailedScheduling").then_some(d)
    });
    assert!(describe.contains("0/3 nodes are available:"), "{describe}");
    assert!(describe.contains("2 Insufficient cpu"), "{describe}");
    assert!(describe.contains("default-scheduler"), "{describe}");

    // A new node with room: the unschedulable pod is retried on the node event.
    create_node(&s, "huge-node", "128", "256Gi", json!({}), json!([]));
    assert_eq!(wait_bound(&s, "huge"), "huge-node");

    // Explain: per-node results on the pod.
    let explained = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: explained\n  annotations:\n    scheduler.skiff.dev/explain: \"true\"\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: \"2\"\n";
    apply(&s, explained);
    wait_bound(&s, "explained");
    let filter = eventually(WAIT, || {
        let f = get(
            &s,
            "explained",
            ".metadata.annotations.scheduler\\.skiff\\.dev/filter-result",
        );
        (!f.is_empty()).then_some(f)
    });
    let filter: Value = serde_json::from_str(&filter).expect("filter-result is JSON");
    for n in ["small", "big", "gpu", "huge-node"] {
        assert!(filter.get(n).is_some(), "no entry for {n}: {filter}");
    }
    assert_eq!(filter["small"]["NodeResourcesFit"], "Insufficient cpu");
    assert_eq!(filter["big"]["NodeResourcesFit"], "passed");
    assert_eq!(
        filter["gpu"]["TaintToleration"],
        "node(s) had untolerated taint {dedicated: gpu}"
    );
    let score: Value = serde_json::from_str(&get(
        &s,
        "explained",
        ".metadata.annotations.scheduler\\.skiff\\.dev/score-result",
    ))
    .expect("score-result is JSON");
    assert!(score["big"]["NodeResourcesFit"].is_i64(), "{score}");
    assert!(score.get("small").is_none(), "{score}");
    let fin: Value = serde_json::from_str(&get(
        &s,
        "explained",
        ".metadata.annotations.scheduler\\.skiff\\.dev/final-score-result",
    ))
    .expect("final-score-result is JSON");
    assert!(fin["big"].is_i64() && fin["huge-node"].is_i64(), "{fin}");

    // Pods for another scheduler are left alone.
    apply(
        &s,
        &pod_yaml("other", "  schedulerName: someone-else\n", "100m"),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get(&s, "other", ".spec.nodeName"), "");
}

#[test]
fn a_high_priority_pod_preempts_a_low_priority_one() {
    let s = Server::start();
    create_node(&s, "n1", "2", "4Gi", json!({}), json!([]));
    apply(
        &s,
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: low\nvalue: 10\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\n",
    );
    apply(
        &s,
        &pod_yaml("victim", "  priorityClassName: low\n", "1500m"),
    );
    assert_eq!(wait_bound(&s, "victim"), "n1");
    apply(
        &s,
        &pod_yaml("preemptor", "  priorityClassName: high\n", "1"),
    );
    // The preemptor is nominated; the victim is deleted gracefully (it is on a node).
    let nominated = eventually(WAIT, || {
        let n = get(&s, "preemptor", ".status.nominatedNodeName");
        (!n.is_empty()).then_some(n)
    });
    assert_eq!(nominated, "n1");
    eventually(WAIT, || {
        let out = s.kubectl(&[
            "get",
            "pod",
            "victim",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ]);
        (!out.status.success() || !String::from_utf8_lossy(&out.stdout).trim().is_empty())
            .then_some(())
    });
    assert_eq!(get(&s, "preemptor", ".spec.nodeName"), "");
    // No kubelet: finish the victim's deletion by hand.
    let _ = s.kubectl(&["delete", "pod", "victim", "--force", "--grace-period=0"]);
    assert_eq!(wait_bound(&s, "preemptor"), "n1");
}

#[test]
fn disable_scheduler_leaves_pods_pending_and_skiff_scheduler_binds_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start_with(dir, &["--disable-scheduler"]);
    create_node(&s, "n1", "4", "8Gi", json!({}), json!([]));
    apply(&s, &pod_yaml("waiting", "", "100m"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(get(&s, "waiting", ".spec.nodeName"), "");
    assert_eq!(get(&s, "waiting", ".status.phase"), "Pending");

    // The scheduler alone, with leader election.
    let log = std::fs::File::create(s.dir.path().join("scheduler.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["scheduler", "--leader-elect", "--kubeconfig"])
        .arg(&s.kubeconfig)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn skiff scheduler");
    let node = eventually(WAIT, || {
        let n = get(&s, "waiting", ".spec.nodeName");
        (!n.is_empty()).then_some(n)
    });
    let holder = s.ok(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-scheduler",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(node, "n1");
    assert!(!holder.trim().is_empty());
}
