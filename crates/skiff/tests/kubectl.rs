//! The real kubectl against a real `skiff server`: what a user types, and what they see.

mod common;
use common::{eventually, Server};
use serde_json::Value;
use std::time::Duration;

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    ports:
    - containerPort: 80
";

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn create_get_describe_delete_a_pod() {
    let s = Server::start();
    let f = s.manifest("pod.yaml", POD);
    assert_eq!(s.ok(&["create", "-f", &f]).trim(), "pod/web created");
    let err = s.fails(&["create", "-f", &f]);
    assert!(
        err.contains("Error from server (AlreadyExists): error when creating"),
        "{err}"
    );
    assert!(err.contains("pods \"web\" already exists"), "{err}");

    let table = s.ok(&["get", "pods"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "0/1", "Pending", "0"]);

    let wide = s.ok(&["get", "pods", "-o", "wide"]);
    assert!(
        wide.lines().next().unwrap().contains("NOMINATED NODE"),
        "{wide}"
    );

    let pod = json(&s.ok(&["get", "pod", "web", "-o", "json"]));
    assert_eq!(
        pod["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
    assert_eq!(pod["spec"]["schedulerName"], "default-scheduler");
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["status"]["qosClass"], "BestEffort");
    assert!(pod["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(
        pod["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );

    let yaml = s.ok(&["get", "pod", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("name: web") && yaml.contains("image: nginx:1.25"),
        "{yaml}"
    );

    let described = s.ok(&["describe", "pod", "web"]);
    assert!(
        described.contains("Name:") && described.contains("web"),
        "{described}"
    );
    assert!(described.contains("nginx:1.25"), "{described}");

    let labels = s.ok(&["get", "pods", "--show-labels"]);
    assert!(labels.contains("app=web"), "{labels}");
    let all = s.ok(&["get", "pods", "-A"]);
    assert!(all.lines().nth(1).unwrap().starts_with("default"), "{all}");

    assert_eq!(
        s.ok(&["delete", "pod", "web"]).trim(),
        "pod \"web\" deleted"
    );
    let err = s.fails(&["get", "pod", "web"]);
    assert!(
        err.contains("Error from server (NotFound): pods \"web\" not found"),
        "{err}"
    );
}

#[test]
fn bad_manifests_get_upstream_errors() {
    let s = Server::start();
    let bad = s.manifest(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n",
    );
    let err = s.fails(&["create", "-f", &bad]);
    assert_eq!(
        err.trim(),
        "The Pod \"bad\" is invalid: spec.containers[0].image: Required value"
    );

    let unknown = s.manifest(
        "unk.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: unk\nspec:\n  foo: 1\n  containers:\n  - name: c\n    image: busybox\n",
    );
    let err = s.fails(&["create", "-f", &unknown]);
    assert!(
        err.contains("Error from server (BadRequest): error when creating"),
        "{err}"
    );
    assert!(
        err.contains("strict decoding error: unknown field \"spec.foo\""),
        "{err}"
    );

    let badname = s.manifest("bn.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n  - name: c\n    image: busybox\n");
    let err = s.fails(&["create", "-f", &badname]);
    assert!(
        err.contains("The Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""),
        "{err}"
    );
    // Nothing was stored.
    let out = s.ok(&["get", "pods", "-o", "name"]);
    assert!(out.trim().is_empty(), "{out}");
}

#[test]
fn apply_twice_then_server_side_and_conflict() {
    let s = Server::start();
    let f = s.manifest("pod.yaml", POD);
    assert_eq!(s.ok(&["apply", "-f", &f]).trim(), "pod/web created");
    assert_eq!(s.ok(&["apply", "-f", &f]).trim(), "pod/web unchanged");
    let changed = POD
        .replace("nginx:1.25", "nginx:1.26")
        .replace("app: web", "app: web\n    tier: front");
    let f2 = s.manifest("pod2.yaml", &changed);
    assert_eq!(s.ok(&["apply", "-f", &f2]).trim(), "pod/web configured");
    let pod = json(&s.ok(&["get", "pod", "web", "-o", "json"]));
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.26");
    assert_eq!(pod["metadata"]["labels"]["tier"], "front");
    assert_eq!(pod["spec"]["containers"].as_array().unwrap().len(), 1);

    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n";
    let cf = s.manifest("cm.yaml", cm);
    assert_eq!(
        s.ok(&["apply", "--server-side", "-f", &cf]).trim(),
        "configmap/cfg serverside-applied"
    );
    let cm = json(&s.ok(&["get", "cm", "cfg", "-o", "json", "--show-managed-fields"]));
    assert_eq!(cm["data"]["a"], "1");
    let entry = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "kubectl" && m["operation"] == "Apply")
        .cloned()
        .expect("kubectl's Apply entry");
    assert_eq!(
        entry["fieldsV1"],
        serde_json::json!({"f:data": {"f:a": {}}})
    );

    // Another manager owns data.b: applying a different value is a conflict.
    s.ok(&[
        "patch",
        "cm",
        "cfg",
        "--type=merge",
        "-p",
        r#"{"data":{"b":"mine"}}"#,
    ]);
    let other = s.manifest("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n  b: \"theirs\"\n");
    let err = s.fails(&["apply", "--server-side", "-f", &other]);
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using v1: .data.b"
        ),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    s.ok(&["apply", "--server-side", "--force-conflicts", "-f", &other]);
    let cm = json(&s.ok(&["get", "cm", "cfg", "-o", "json"]));
    assert_eq!(cm["data"]["b"], "theirs");
    // Dropping a field from the applied config removes it.
    s.ok(&["apply", "--server-side", "-f", &cf]);
    let cm = json(&s.ok(&["get", "cm", "cfg", "-o", "json"]));
    assert!(cm["data"].get("b").is_none(), "{cm}");
}

#[test]
fn replace_label_annotate_patch() {
    let s = Server::start();
    let f = s.manifest("pod.yaml", POD);
    s.ok(&["create", "-f", &f]);
    assert_eq!(
        s.ok(&["label", "pod", "web", "env=prod"]).trim(),
        "pod/web labeled"
    );
    assert_eq!(
        s.ok(&["annotate", "pod", "web", "note=hello"]).trim(),
        "pod/web annotated"
    );
    s.ok(&[
        "patch",
        "pod",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"merged":"yes"}}}"#,
    ]);
    s.ok(&[
        "patch",
        "pod",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/jsonpatch","value":"yes"}]"#,
    ]);
    s.ok(&[
        "patch",
        "pod",
        "web",
        "-p",
        r#"{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}"#,
    ]);
    let pod = json(&s.ok(&["get", "pod", "web", "-o", "json"]));
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["env"], "prod");
    assert_eq!(labels["merged"], "yes");
    assert_eq!(labels["jsonpatch"], "yes");
    assert_eq!(pod["metadata"]["annotations"]["note"], "hello");
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.27");
    assert_eq!(
        pod["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );

    // `replace` takes the whole object, as `kubectl get -o yaml` gives it.
    let live = s.ok(&["get", "pod", "web", "-o", "yaml"]);
    let rf = s.manifest("r.yaml", &live.replace("nginx:1.27", "nginx:1.28"));
    assert_eq!(s.ok(&["replace", "-f", &rf]).trim(), "pod/web replaced");
    let pod = json(&s.ok(&["get", "pod", "web", "-o", "json"]));
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.28");
    // A stale resourceVersion is a conflict.
    let err = s.fails(&["replace", "-f", &rf]);
    assert!(
        err.contains("Error from server (Conflict)")
            && err.contains("the object has been modified"),
        "{err}"
    );
    // A manifest without the server's defaults changes immutable fields: refused as upstream does.
    let bare = s.manifest("bare.yaml", &POD.replace("nginx:1.25", "nginx:1.29"));
    let err = s.fails(&["replace", "-f", &bare]);
    assert!(err.contains("The Pod \"web\" is invalid"), "{err}");

    // A forbidden change of an immutable field.
    let err = s.fails(&[
        "patch",
        "pod",
        "web",
        "-p",
        r#"{"spec":{"restartPolicy":"Never"}}"#,
    ]);
    assert!(
        err.contains("is invalid")
            && err.contains("spec: Forbidden: pod updates may not change fields"),
        "{err}"
    );
}

#[test]
fn typed_create_commands_send_protobuf() {
    let s = Server::start();
    assert_eq!(
        s.ok(&["create", "namespace", "team-a"]).trim(),
        "namespace/team-a created"
    );
    assert_eq!(
        s.ok(&[
            "create",
            "configmap",
            "cm1",
            "--from-literal=a=b",
            "-n",
            "team-a"
        ])
        .trim(),
        "configmap/cm1 created"
    );
    assert_eq!(
        s.ok(&[
            "create",
            "secret",
            "generic",
            "s1",
            "--from-literal=k=v",
            "-n",
            "team-a"
        ])
        .trim(),
        "secret/s1 created"
    );
    assert_eq!(
        s.ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.25",
            "--replicas=2",
            "-n",
            "team-a"
        ])
        .trim(),
        "deployment.apps/web created"
    );
    let cm = json(&s.ok(&["get", "cm", "cm1", "-n", "team-a", "-o", "json"]));
    assert_eq!(cm["data"]["a"], "b");
    let sec = json(&s.ok(&["get", "secret", "s1", "-n", "team-a", "-o", "json"]));
    assert_eq!(sec["data"]["k"], "dg==");
    assert_eq!(sec["type"], "Opaque");
    let d = json(&s.ok(&["get", "deploy", "web", "-n", "team-a", "-o", "json"]));
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_eq!(d["metadata"]["generation"], 1);
    // Every namespace gets a default service account.
    eventually(Duration::from_secs(5), || {
        s.kubectl(&["get", "sa", "default", "-n", "team-a"])
            .status
            .success()
            .then_some(())
    });
    assert_eq!(
        s.ok(&["scale", "deployment", "web", "--replicas=3", "-n", "team-a"])
            .trim(),
        "deployment.apps/web scaled"
    );
    let d = json(&s.ok(&["get", "deploy", "web", "-n", "team-a", "-o", "json"]));
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["generation"], 2);
}

#[test]
fn discovery_and_explain() {
    let s = Server::start();
    let res = s.ok(&["api-resources"]);
    for line in [
        "pods",
        "deployments",
        "priorityclasses",
        "leases",
        "namespaces",
    ] {
        assert!(
            res.lines().any(|l| l.starts_with(line)),
            "{line} missing from:\n{res}"
        );
    }
    let pods = res.lines().find(|l| l.starts_with("pods ")).unwrap();
    let cols: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(cols, ["pods", "po", "v1", "true", "Pod"]);
    let ns = s.ok(&["get", "ns"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            ns.lines().any(|l| l.starts_with(n) && l.contains("Active")),
            "{n} in {ns}"
        );
    }
    let pcs = s.ok(&["get", "priorityclasses"]);
    assert!(
        pcs.contains("system-node-critical") && pcs.contains("2000001000"),
        "{pcs}"
    );
    let explain = s.ok(&["explain", "pod.spec"]);
    assert!(
        explain.contains("KIND:") && explain.contains("Pod"),
        "{explain}"
    );
    assert!(explain.contains("containers"), "{explain}");
    let version = s.ok(&["version"]);
    assert!(version.contains("Server Version: v1.32"), "{version}");
}

#[test]
fn watch_sees_changes_and_wait_for_delete() {
    let s = Server::start();
    let f = s.manifest("pod.yaml", POD);
    s.ok(&["create", "-f", &f]);
    // `get -w` prints the current row then each change; --request-timeout ends it.
    let watcher = {
        let kc = s.kubeconfig.clone();
        let cache = tempfile::tempdir().unwrap();
        std::thread::spawn(move || {
            let out = std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kc)
                .arg("--cache-dir")
                .arg(cache.path())
                .args(["get", "pods", "-w", "--request-timeout=4s"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    s.ok(&["label", "pod", "web", "seen=yes"]);
    let out = watcher.join().unwrap();
    assert!(
        out.lines().filter(|l| l.starts_with("web")).count() >= 2,
        "{out}"
    );

    let waiter = {
        let kc = s.kubeconfig.clone();
        let cache = tempfile::tempdir().unwrap();
        std::thread::spawn(move || {
            std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kc)
                .arg("--cache-dir")
                .arg(cache.path())
                .args(["wait", "--for=delete", "pod/web", "--timeout=20s"])
                .output()
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    s.ok(&["delete", "pod", "web", "--wait=false"]);
    let out = waiter.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn graceful_and_forced_delete_of_a_scheduled_pod() {
    let s = Server::start();
    let f = s.manifest(
        "pod.yaml",
        &POD.replace("spec:\n", "spec:\n  nodeName: node-1\n"),
    );
    s.ok(&["create", "-f", &f]);
    // No kubelet confirms: the pod stays Terminating with a deletion timestamp.
    s.ok(&["delete", "pod", "web", "--wait=false"]);
    let pod = json(&s.ok(&["get", "pod", "web", "-o", "json"]));
    assert!(pod["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    let table = s.ok(&["get", "pods"]);
    assert!(table.contains("Terminating"), "{table}");
    let out = s.kubectl(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pod \"web\" force deleted"));
    s.fails(&["get", "pod", "web"]);
}

#[test]
fn events_are_listed() {
    let s = Server::start();
    let ev = "apiVersion: v1\nkind: Event\nmetadata:\n  name: web.1\ninvolvedObject:\n  kind: Pod\n  name: web\n  namespace: default\nreason: Scheduled\nmessage: Successfully assigned default/web to node-1\ntype: Normal\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:00:00Z\"\ncount: 1\n";
    let f = s.manifest("ev.yaml", ev);
    s.ok(&["create", "-f", &f]);
    let out = s.ok(&["get", "events"]);
    assert!(
        out.contains("Scheduled")
            && out.contains("pod/web")
            && out.contains("Successfully assigned"),
        "{out}"
    );
    let v1 = json(&s.ok(&["get", "events.v1.events.k8s.io", "-o", "json"]));
    assert_eq!(v1["items"][0]["regarding"]["name"], "web");
    assert_eq!(
        v1["items"][0]["note"],
        "Successfully assigned default/web to node-1"
    );
}

#[test]
fn namespace_deletion_removes_its_content() {
    let s = Server::start();
    s.ok(&["create", "namespace", "tmp"]);
    s.ok(&[
        "create",
        "configmap",
        "c",
        "-n",
        "tmp",
        "--from-literal=a=b",
    ]);
    s.ok(&["delete", "namespace", "tmp", "--timeout=20s"]);
    s.fails(&["get", "namespace", "tmp"]);
    let err = s.fails(&[
        "create",
        "configmap",
        "c2",
        "-n",
        "nope",
        "--from-literal=a=b",
    ]);
    assert!(err.contains("namespaces \"nope\" not found"), "{err}");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut s = Server::start();
    s.ok(&["get", "ns"]);
    assert!(
        s.terminate(),
        "server did not exit 0 on SIGTERM: {}",
        s.log()
    );
}

#[test]
fn services_get_cluster_ips_and_get_all_lists_them() {
    let s = Server::start();
    let k = json(&s.ok(&["get", "svc", "kubernetes", "-o", "json"]));
    assert_eq!(k["spec"]["clusterIP"], "10.43.0.1");
    assert_eq!(
        s.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"])
            .trim(),
        "service/web created"
    );
    let svc = json(&s.ok(&["get", "svc", "web", "-o", "json"]));
    let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.43.") && ip != "10.43.0.1", "{ip}");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    let np = s.manifest("np.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: np\nspec:\n  type: NodePort\n  selector:\n    app: web\n  ports:\n  - port: 80\n");
    s.ok(&["apply", "-f", &np]);
    let np = json(&s.ok(&["get", "svc", "np", "-o", "json"]));
    let port = np["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&port), "{port}");
    let table = s.ok(&["get", "svc"]);
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            == [
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE"
            ],
        "{table}"
    );
    assert!(table.contains(&format!("80:{port}/TCP")), "{table}");
    let f = s.manifest("pod.yaml", POD);
    s.ok(&["create", "-f", &f]);
    let all = s.ok(&["get", "all"]);
    assert!(
        all.contains("pod/web")
            && all.contains("service/web")
            && all.contains("service/kubernetes"),
        "{all}"
    );
}

#[test]
fn chunked_lists_selectors_and_delete_collection() {
    let s = Server::start();
    for i in 0..7 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        s.ok(&[
            "create",
            "configmap",
            &format!("c{i}"),
            "--from-literal=a=b",
        ]);
        s.ok(&[
            "label",
            "configmap",
            &format!("c{i}"),
            &format!("tier={tier}"),
        ]);
    }
    let names = s.ok(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    assert_eq!(
        names
            .lines()
            .filter(|l| l.starts_with("configmap/c"))
            .count(),
        7,
        "{names}"
    );
    let even = s.ok(&["get", "cm", "-l", "tier in (even)", "-o", "name"]);
    assert_eq!(even.lines().count(), 4, "{even}");
    let notodd = s.ok(&["get", "cm", "-l", "tier,tier!=odd", "-o", "name"]);
    assert_eq!(notodd.lines().count(), 4, "{notodd}");
    let byname = s.ok(&[
        "get",
        "cm",
        "--field-selector",
        "metadata.name=c3",
        "-o",
        "name",
    ]);
    assert_eq!(byname.trim(), "configmap/c3");
    let err = s.fails(&["get", "cm", "--field-selector", "data.a=b"]);
    assert!(err.contains("field label not supported: data.a"), "{err}");
    s.ok(&["delete", "cm", "-l", "tier=odd"]);
    let left = s.ok(&["get", "cm", "-l", "tier", "-o", "name"]);
    assert_eq!(left.lines().count(), 4, "{left}");
}

#[test]
fn owner_references_are_garbage_collected() {
    let s = Server::start();
    s.ok(&["create", "deployment", "web", "--image=nginx:1.25"]);
    let d = json(&s.ok(&["get", "deploy", "web", "-o", "json"]));
    let uid = d["metadata"]["uid"].as_str().unwrap();
    let rs = format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-1\n  ownerReferences:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: web\n    uid: {uid}\n    controller: true\n    blockOwnerDeletion: true\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.25\n"
    );
    let f = s.manifest("rs.yaml", &rs);
    s.ok(&["create", "-f", &f]);
    // Foreground: the owner waits for its dependents.
    s.ok(&[
        "delete",
        "deployment",
        "web",
        "--cascade=foreground",
        "--timeout=20s",
    ]);
    s.fails(&["get", "rs", "web-1"]);
    s.fails(&["get", "deploy", "web"]);
    // Orphan: the dependent stays, without its owner reference.
    s.ok(&["create", "deployment", "web2", "--image=nginx:1.25"]);
    let d = json(&s.ok(&["get", "deploy", "web2", "-o", "json"]));
    let f = s.manifest(
        "rs2.yaml",
        &rs.replace("name: web\n", "name: web2\n")
            .replace("web-1", "web2-1")
            .replace(uid, d["metadata"]["uid"].as_str().unwrap()),
    );
    s.ok(&["create", "-f", &f]);
    s.ok(&[
        "delete",
        "deployment",
        "web2",
        "--cascade=orphan",
        "--timeout=20s",
    ]);
    let rs2 = json(&s.ok(&["get", "rs", "web2-1", "-o", "json"]));
    assert!(
        rs2["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{rs2}"
    );
    // Background (kubectl's default): the owner goes at once, then its dependents.
    s.ok(&["create", "deployment", "web3", "--image=nginx:1.25"]);
    let d = json(&s.ok(&["get", "deploy", "web3", "-o", "json"]));
    let f = s.manifest(
        "rs3.yaml",
        &rs.replace("name: web\n", "name: web3\n")
            .replace("web-1", "web3-1")
            .replace(uid, d["metadata"]["uid"].as_str().unwrap()),
    );
    s.ok(&["create", "-f", &f]);
    s.ok(&["delete", "deployment", "web3"]);
    eventually(Duration::from_secs(10), || {
        (!s.kubectl(&["get", "rs", "web3-1"]).status.success()).then_some(())
    });
}

#[test]
fn a_watch_from_a_forgotten_revision_is_expired() {
    let s = Server::start_with(
        tempfile::tempdir().unwrap(),
        &["--watch-cache-events", "20"],
    );
    for i in 0..30 {
        s.ok(&[
            "create",
            "configmap",
            &format!("x{i}"),
            "--from-literal=a=b",
        ]);
    }
    let (code, body) = common::http(
        &s.addr(),
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2&timeoutSeconds=2",
        None,
        b"",
    );
    assert_eq!(code, 200);
    assert!(
        body.contains("\"type\":\"ERROR\"")
            && body.contains("\"code\":410")
            && body.contains("\"reason\":\"Expired\""),
        "{body}"
    );
    assert!(body.contains("too old resource version: 2"), "{body}");
}

#[test]
fn leases_are_stored_and_renewed() {
    let s = Server::start();
    let lease = "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: node-1\n  namespace: kube-node-lease\nspec:\n  holderIdentity: node-1\n  leaseDurationSeconds: 40\n";
    let f = s.manifest("lease.yaml", lease);
    s.ok(&["apply", "-f", &f]);
    s.ok(&[
        "patch",
        "lease",
        "node-1",
        "-n",
        "kube-node-lease",
        "--type=merge",
        "-p",
        r#"{"spec":{"renewTime":"2026-11-27T18:00:00.000000Z"}}"#,
    ]);
    let l = json(&s.ok(&[
        "get",
        "lease",
        "node-1",
        "-n",
        "kube-node-lease",
        "-o",
        "json",
    ]));
    assert_eq!(l["spec"]["holderIdentity"], "node-1");
    assert_eq!(l["spec"]["renewTime"], "2026-11-27T18:00:00.000000Z");
    let t = s.ok(&["get", "leases", "-n", "kube-node-lease"]);
    assert!(t.lines().next().unwrap().contains("HOLDER"), "{t}");
}
