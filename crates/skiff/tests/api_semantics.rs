//! API semantics a scheduler, kubelet or controller relies on: binding, the status subresource, priority
//! admission, server-side dry run, metrics.

mod common;
use common::{http, Server};
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";

fn pod(name: &str, extra_spec: Value) -> Vec<u8> {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox:1.36"}]});
    for (k, v) in extra_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::to_vec(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}),
    )
    .unwrap()
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn binding_sets_node_once_and_status_is_separate() {
    // This test binds by hand and writes status itself: no scheduler may race with it.
    let s = Server::start_with(tempfile::tempdir().unwrap(), &["--disable-scheduler"]);
    let a = s.addr();
    assert_eq!(
        http(
            &a,
            "POST",
            PODS,
            Some("application/json"),
            &pod("p", json!({}))
        )
        .0,
        201
    );
    let (_, body) = http(&a, "GET", &format!("{PODS}/p"), None, b"");
    let before = parse(&body);
    // The Binding's uid is a precondition on the pod (upstream's assignPod): a stale one changes nothing.
    let stale = br#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p","uid":"not-the-pods-uid"},"target":{"kind":"Node","name":"node-9"}}"#;
    let (code, body) = http(
        &a,
        "POST",
        &format!("{PODS}/p/binding"),
        Some("application/json"),
        stale,
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body.contains("Precondition failed: UID in precondition: not-the-pods-uid"),
        "{body}"
    );
    let binding = br#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p","annotations":{"example.com/decided-by":"test"}},"target":{"kind":"Node","name":"node-1"}}"#;
    let (code, body) = http(
        &a,
        "POST",
        &format!("{PODS}/p/binding"),
        Some("application/json"),
        binding,
    );
    assert_eq!(code, 201, "{body}");
    let (_, body) = http(&a, "GET", &format!("{PODS}/p"), None, b"");
    let p = parse(&body);
    assert_eq!(p["spec"]["nodeName"], "node-1");
    // The Binding's annotations land on the pod, as upstream's binding storage does.
    assert_eq!(
        p["metadata"]["annotations"]["example.com/decided-by"],
        "test"
    );
    assert_eq!(p["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(p["status"]["conditions"][0]["status"], "True");
    // Upstream's binding writes the pod below the registry: no managedFields entry, no generation bump.
    assert_eq!(
        p["metadata"]["managedFields"], before["metadata"]["managedFields"],
        "{body}"
    );
    assert_eq!(
        p["metadata"]["generation"],
        before["metadata"]["generation"]
    );
    let (code, body) = http(
        &a,
        "POST",
        &format!("{PODS}/p/binding"),
        Some("application/json"),
        binding,
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body.contains(r#"Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"node-1\""#),
        "{body}"
    );
    // The legacy `bindings` collection binds as the subresource does; a target that is not an object
    // names no node.
    assert_eq!(
        http(
            &a,
            "POST",
            PODS,
            Some("application/json"),
            &pod("q", json!({}))
        )
        .0,
        201
    );
    let odd = br#"{"metadata":{"name":"q"},"target":["Node","node-2"]}"#;
    let (code, body) = http(
        &a,
        "POST",
        "/api/v1/namespaces/default/bindings",
        Some("application/json"),
        odd,
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("target.name"), "{body}");
    let legacy = br#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"q"},"target":{"kind":"Node","name":"node-2"}}"#;
    let (code, body) = http(
        &a,
        "POST",
        "/api/v1/namespaces/default/bindings",
        Some("application/json"),
        legacy,
    );
    assert_eq!(code, 201, "{body}");
    let (_, body) = http(&a, "GET", &format!("{PODS}/q"), None, b"");
    assert_eq!(parse(&body)["spec"]["nodeName"], "node-2", "{body}");

    // The status subresource changes status only; the main resource keeps status.
    let patch =
        br#"{"status":{"phase":"Running","podIP":"10.42.0.5"},"spec":{"nodeName":"elsewhere"}}"#;
    let (code, body) = http(
        &a,
        "PATCH",
        &format!("{PODS}/p/status"),
        Some("application/merge-patch+json"),
        patch,
    );
    assert_eq!(code, 200, "{body}");
    let p = parse(&body);
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(p["spec"]["nodeName"], "node-1");
    let (code, body) = http(
        &a,
        "PATCH",
        &format!("{PODS}/p"),
        Some("application/merge-patch+json"),
        br#"{"status":{"phase":"Failed"}}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(parse(&body)["status"]["phase"], "Running");
    // Field selectors on status and node.
    let (_, body) = http(
        &a,
        "GET",
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1,status.phase!%3DSucceeded",
        None,
        b"",
    );
    assert_eq!(parse(&body)["items"].as_array().unwrap().len(), 1, "{body}");
    // A bool field (of p and q) compares as upstream formats it, an unset one as false.
    for (selector, count) in [
        ("spec.hostNetwork%3Dfalse", 2),
        ("spec.hostNetwork%3Dtrue", 0),
        ("spec.hostNetwork!%3Dtrue", 2),
    ] {
        let (_, body) = http(
            &a,
            "GET",
            &format!("/api/v1/pods?fieldSelector={selector}"),
            None,
            b"",
        );
        let items = parse(&body)["items"].as_array().unwrap().len();
        assert_eq!(items, count, "{selector}: {body}");
    }
    // The kubelet confirms a graceful delete with grace 0.
    let (code, _) = http(
        &a,
        "DELETE",
        &format!("{PODS}/p"),
        Some("application/json"),
        b"{}",
    );
    assert_eq!(code, 200);
    assert_eq!(
        http(&a, "GET", &format!("{PODS}/p"), None, b"").0,
        200,
        "a pod on a node waits for its kubelet"
    );
    let (code, _) = http(
        &a,
        "DELETE",
        &format!("{PODS}/p"),
        Some("application/json"),
        br#"{"gracePeriodSeconds":0}"#,
    );
    assert_eq!(code, 200);
    assert_eq!(http(&a, "GET", &format!("{PODS}/p"), None, b"").0, 404);
}

#[test]
fn priority_classes_resolve_into_pods() {
    let s = Server::start();
    let a = s.addr();
    let pc = br#"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"high"},"value":1000,"preemptionPolicy":"Never"}"#;
    assert_eq!(
        http(
            &a,
            "POST",
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            Some("application/json"),
            pc
        )
        .0,
        201
    );
    let (code, body) = http(
        &a,
        "POST",
        PODS,
        Some("application/json"),
        &pod("hi", json!({"priorityClassName": "high"})),
    );
    assert_eq!(code, 201, "{body}");
    let p = parse(&body);
    assert_eq!(p["spec"]["priority"], 1000);
    assert_eq!(p["spec"]["preemptionPolicy"], "Never");
    let (code, body) = http(
        &a,
        "POST",
        PODS,
        Some("application/json"),
        &pod("crit", json!({"priorityClassName": "system-node-critical"})),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(parse(&body)["spec"]["priority"], 2000001000);
    let (code, body) = http(
        &a,
        "POST",
        PODS,
        Some("application/json"),
        &pod("nope", json!({"priorityClassName": "missing"})),
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("no PriorityClass with name missing was found"),
        "{body}"
    );
    let (code, body) = http(
        &a,
        "POST",
        PODS,
        Some("application/json"),
        &pod("plain", json!({})),
    );
    assert_eq!(code, 201);
    assert_eq!(parse(&body)["spec"]["priority"], 0);
    assert!(parse(&body)["spec"].get("priorityClassName").is_none());
    // With a global default class, a pod naming none gets it (upstream's Priority admission).
    let default = br#"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"everyone"},"value":7,"globalDefault":true}"#;
    let (code, body) = http(
        &a,
        "POST",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        Some("application/json"),
        default,
    );
    assert_eq!(code, 201, "{body}");
    // Admission reads classes from the watch cache (upstream: an informer); a consistent LIST waits
    // until the cache holds the new class.
    let (code, _) = http(
        &a,
        "GET",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        None,
        b"",
    );
    assert_eq!(code, 200);
    let (code, body) = http(
        &a,
        "POST",
        PODS,
        Some("application/json"),
        &pod("defaulted", json!({})),
    );
    assert_eq!(code, 201, "{body}");
    let p = parse(&body);
    assert_eq!(p["spec"]["priority"], 7);
    assert_eq!(p["spec"]["priorityClassName"], "everyone");
}

#[test]
fn dry_run_stores_nothing_and_metrics_count_requests() {
    let s = Server::start();
    let a = s.addr();
    let (code, body) = http(
        &a,
        "POST",
        &format!("{PODS}?dryRun=All"),
        Some("application/json"),
        &pod("dry", json!({})),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(parse(&body)["metadata"]["name"], "dry");
    assert_eq!(http(&a, "GET", &format!("{PODS}/dry"), None, b"").0, 404);
    let out = s.ok(&[
        "create",
        "configmap",
        "x",
        "--from-literal=a=b",
        "--dry-run=server",
        "-o",
        "name",
    ]);
    assert_eq!(out.trim(), "configmap/x");
    assert!(!s.kubectl(&["get", "cm", "x"]).status.success());
    let (code, metrics) = http(&a, "GET", "/metrics", None, b"");
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            "apiserver_request_total{code=\"201\",group=\"\",resource=\"pods\",verb=\"POST\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_request_duration_seconds_bucket{group=\"\",resource=\"pods\",verb=\"POST\",le=\"0.005\"}"), "{metrics}");
    assert!(
        metrics.contains("apiserver_storage_objects{resource=\"namespaces\"} 4"),
        "{metrics}"
    );
}

#[test]
fn events_k8s_io_round_trips_through_core_events() {
    let s = Server::start();
    let ev = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: e1\neventTime: \"2026-11-27T18:00:00.000000Z\"\nreportingController: skiff-scheduler\nreportingInstance: skiff-scheduler-1\naction: Binding\nreason: Scheduled\nregarding:\n  kind: Pod\n  name: web\n  namespace: default\nnote: Successfully assigned default/web to node-1\ntype: Normal\n";
    let f = s.manifest("ev.yaml", ev);
    s.ok(&["create", "-f", &f]);
    let core: Value = parse(&s.ok(&["get", "events.v1.", "e1", "-o", "json"]));
    assert_eq!(core["involvedObject"]["name"], "web");
    assert_eq!(
        core["message"],
        "Successfully assigned default/web to node-1"
    );
    assert_eq!(core["reportingComponent"], "skiff-scheduler");
    let (code, body) = http(
        &s.addr(),
        "GET",
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb",
        None,
        b"",
    );
    assert_eq!(code, 200);
    assert_eq!(parse(&body)["items"].as_array().unwrap().len(), 1);
}

#[test]
fn nothing_is_created_in_a_terminating_namespace() {
    let s = Server::start_with(tempfile::tempdir().unwrap(), &["--disable-scheduler"]);
    s.ok(&["create", "namespace", "doomed"]);
    // A finalizer of someone else's keeps the namespace Terminating after the delete.
    s.ok(&[
        "patch",
        "namespace",
        "doomed",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    s.ok(&["delete", "namespace", "doomed", "--wait=false"]);
    let phase = s.ok(&[
        "get",
        "namespace",
        "doomed",
        "-o",
        "jsonpath={.status.phase}",
    ]);
    assert_eq!(phase, "Terminating");
    let out = s.kubectl(&[
        "create",
        "configmap",
        "x",
        "-n",
        "doomed",
        "--from-literal=a=b",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "configmaps \"x\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
        ),
        "{stderr}"
    );
    let (code, body) = http(
        &s.addr(),
        "POST",
        "/api/v1/namespaces/doomed/configmaps",
        Some("application/json"),
        br#"{"metadata":{"name":"y"},"data":{"a":"b"}}"#,
    );
    assert_eq!(code, 403, "{body}");
    let status = parse(&body);
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(status["details"]["kind"], "configmaps");
    assert_eq!(status["details"]["name"], "y");
    assert!(!s
        .kubectl(&["get", "configmap", "x", "-n", "doomed"])
        .status
        .success());
    // Other namespaces are unaffected.
    s.ok(&["create", "configmap", "x", "--from-literal=a=b"]);
}
