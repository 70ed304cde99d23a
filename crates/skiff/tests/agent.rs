//! End to end, as root, with real parts: a `docker-registry` on loopback holding images built
//! from Debian's busybox, `skiff server` (with its scheduler), `skiff agent` running pods with
//! runc and CNI, and the real kubectl.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use common::agent::{mounts_containing, pod_cgroups, processes_containing, require_root, Agent};
use common::{eventually, Server};
use skiff_kubelet::image::test_util::{
    build_busybox_image, busybox_layer, push, ImageBuilder, LayerBuilder, Registry,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A registry with `busybox:1` (cmd: a shell that idles) pushed to it.
fn registry_with_busybox() -> Registry {
    let reg = Registry::start();
    let image = build_busybox_image(&["sh", "-c", "while true; do sleep 1; done"]);
    runtime()
        .block_on(push(&reg.host, "busybox", "1", &image))
        .expect("push busybox");
    reg
}

fn jsonpath(server: &Server, pod: &str, path: &str) -> String {
    server
        .kubectl(&["get", "pod", pod, "-o", &format!("jsonpath={path}")])
        .stdout
        .iter()
        .map(|b| *b as char)
        .collect()
}

fn pod_yaml(name: &str, image: &str, body: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: main\n    image: {image}\n{body}")
}

/// Everything a pod left on the node once it is gone.
fn leftovers(agent: &Agent, uid: &str) -> Vec<String> {
    let mut left = Vec::new();
    left.extend(processes_containing(uid));
    left.extend(mounts_containing(uid));
    left.extend(pod_cgroups(uid).iter().map(|p| p.display().to_string()));
    let ns = std::path::Path::new("/run/skiff/netns").join(uid);
    if ns.exists() {
        left.push(ns.display().to_string());
    }
    let dir = agent.data().join("pods").join(uid);
    if dir.exists() {
        left.push(dir.display().to_string());
    }
    left
}

#[test]
fn pod_runs_logs_answers_on_its_ip_and_leaves_nothing_behind() {
    require_root();
    let reg = registry_with_busybox();
    let server = Server::start();
    let agent = Agent::start(&server, "node-a", "skt-a0", "10.88.1.0/24");
    eventually(Duration::from_secs(30), || {
        server
            .kubectl(&["get", "node", "node-a"])
            .status
            .success()
            .then_some(())
    });
    let image = format!("{}/busybox:1", reg.host);
    let manifest = pod_yaml(
        "web",
        &image,
        r#"    command: ["sh", "-c"]
    args:
    - |
      trap 'echo got TERM; exit 0' TERM
      mkdir -p /www && echo "hello from $POD_NAME" > /www/index.html
      httpd -p 8080 -h /www
      echo "started $POD_NAME in $POD_NAMESPACE on $NODE_NAME"
      while true; do sleep 0.2; done
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    ports: [{containerPort: 8080}]
  terminationGracePeriodSeconds: 10
"#,
    );
    let file = server.manifest("web.yaml", &manifest);
    server.ok(&["apply", "-f", &file]);
    server.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);
    assert_eq!(jsonpath(&server, "web", "{.status.phase}"), "Running");
    assert_eq!(jsonpath(&server, "web", "{.spec.nodeName}"), "node-a");
    assert_eq!(jsonpath(&server, "web", "{.status.hostIP}"), "127.0.0.1");
    let uid = jsonpath(&server, "web", "{.metadata.uid}");

    // kubectl logs, through the API server and the agent.
    let logs = eventually(Duration::from_secs(10), || {
        let out = server.ok(&["logs", "web"]);
        out.contains("started").then_some(out)
    });
    assert_eq!(logs.trim(), "started web in default on node-a");
    let stamped = server.ok(&["logs", "web", "--timestamps", "--tail=1"]);
    let (ts, rest) = stamped.trim().split_once(' ').expect("timestamp");
    assert!(ts.starts_with("20") && ts.ends_with('Z'), "{stamped}");
    assert_eq!(rest, "started web in default on node-a");

    // The pod's IP answers on its port from the node, through the agent's bridge.
    let ip = jsonpath(&server, "web", "{.status.podIP}");
    assert!(
        ip.starts_with("10.88.1."),
        "pod IP {ip} outside the node's pod CIDR"
    );
    let route = Command::new("ip")
        .args(["route", "get", &ip])
        .output()
        .unwrap();
    let route = String::from_utf8_lossy(&route.stdout).into_owned();
    assert!(
        route.contains("dev skt-a0"),
        "the route to {ip} must use the agent's bridge: {route}"
    );
    let body = eventually(Duration::from_secs(10), || {
        let mut s = std::net::TcpStream::connect_timeout(
            &format!("{ip}:8080").parse().unwrap(),
            Duration::from_secs(2),
        )
        .ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.contains("200").then_some(out)
    });
    assert!(body.contains("hello from web"), "{body}");

    // The node reports the image it now holds (the scheduler's ImageLocality reads it).
    eventually(Duration::from_secs(30), || {
        let out = server.ok(&[
            "get",
            "node",
            "node-a",
            "-o",
            "jsonpath={.status.images[*].names}",
        ]);
        out.contains("/busybox:1").then_some(())
    });

    // Events as upstream.
    let events = server.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
    ]);
    for want in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(events.contains(want), "no {want} event: {events}");
    }

    // Delete: the container gets SIGTERM, stops within its grace period, nothing is left.
    let t = Instant::now();
    server.ok(&["delete", "pod", "web", "--timeout=60s"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "deletion took {:?}",
        t.elapsed()
    );
    let left = eventually(Duration::from_secs(10), || {
        let left = leftovers(&agent, &uid);
        left.is_empty().then_some(left)
    });
    assert!(left.is_empty());
    let log_dir = agent.data().join("logs").join(format!("default_web_{uid}"));
    assert!(
        !log_dir.exists(),
        "logs of a deleted pod remain: {}",
        log_dir.display()
    );
}

#[test]
fn failures_report_upstream_reasons() {
    require_root();
    let reg = registry_with_busybox();
    // A layer that tries to write outside the root.
    let evil = ImageBuilder::new()
        .layer(busybox_layer().into_tar())
        .layer(
            LayerBuilder::new()
                .raw(
                    tar::EntryType::Regular,
                    b"../../../../../../tmp/skiff-e2e-evil",
                    None,
                    b"pwned",
                )
                .into_tar(),
        )
        .cmd(&["sh"])
        .build();
    runtime()
        .block_on(push(&reg.host, "evil", "1", &evil))
        .expect("push evil");
    let _ = std::fs::remove_file("/tmp/skiff-e2e-evil");

    let server = Server::start();
    let _agent = Agent::start(&server, "node-b", "skt-b0", "10.88.2.0/24");
    let img = format!("{}/busybox:1", reg.host);
    let manifest = [
        pod_yaml("noimage", &format!("{}/nosuch:1", reg.host), ""),
        pod_yaml("crash", &img, "    command: [\"sh\", \"-c\", \"echo dying; exit 1\"]\n"),
        pod_yaml(
            "hog",
            &img,
            "    command: [\"sh\", \"-c\", \"x=0123456789abcdef; while true; do x=$x$x; done\"]\n    resources: {limits: {memory: 32Mi}}\n  restartPolicy: Never\n",
        ),
        pod_yaml("evil", &format!("{}/evil:1", reg.host), ""),
    ]
    .join("---\n");
    let file = server.manifest("bad.yaml", &manifest);
    server.ok(&["apply", "-f", &file]);

    let waiting = |pod: &str| {
        jsonpath(
            &server,
            pod,
            "{.status.containerStatuses[0].state.waiting.reason}",
        )
    };
    eventually(Duration::from_secs(60), || {
        (waiting("noimage") == "ImagePullBackOff").then_some(())
    });
    let events = server.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=noimage",
    ]);
    assert!(events.contains("Error: ErrImagePull"), "{events}");
    assert!(events.contains("Failed to pull image"), "{events}");
    assert!(events.contains("Back-off pulling image"), "{events}");

    eventually(Duration::from_secs(60), || {
        let restarts: i32 = jsonpath(
            &server,
            "crash",
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse()
        .ok()?;
        (restarts >= 2 && waiting("crash") == "CrashLoopBackOff").then_some(())
    });
    assert_eq!(
        jsonpath(
            &server,
            "crash",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "1"
    );
    assert_eq!(server.ok(&["logs", "crash", "--previous"]).trim(), "dying");
    let events = server.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=crash",
    ]);
    assert!(
        events.contains("Back-off restarting failed container main in pod crash_default"),
        "{events}"
    );

    eventually(Duration::from_secs(60), || {
        (jsonpath(
            &server,
            "hog",
            "{.status.containerStatuses[0].state.terminated.reason}",
        ) == "OOMKilled")
            .then_some(())
    });
    assert_eq!(jsonpath(&server, "hog", "{.status.phase}"), "Failed");
    assert_eq!(
        jsonpath(
            &server,
            "hog",
            "{.status.containerStatuses[0].state.terminated.exitCode}"
        ),
        "137"
    );

    let message = eventually(Duration::from_secs(60), || {
        let m = jsonpath(
            &server,
            "evil",
            "{.status.containerStatuses[0].state.waiting.message}",
        );
        m.contains("..").then_some(m)
    });
    assert!(
        message.starts_with("Back-off pulling image") && message.contains("ErrImagePull"),
        "{message}"
    );
    assert!(
        !std::path::Path::new("/tmp/skiff-e2e-evil").exists(),
        "a layer wrote outside its root"
    );

    server.ok(&["delete", "pod", "--all", "--timeout=60s"]);
}

#[test]
fn init_containers_volumes_admission_and_agent_restart() {
    require_root();
    let reg = registry_with_busybox();
    let server = Server::start();
    let mut agent = Agent::start(&server, "node-c", "skt-c0", "10.88.3.0/24");
    eventually(Duration::from_secs(30), || {
        server
            .kubectl(&["get", "node", "node-c"])
            .status
            .success()
            .then_some(())
    });
    let img = format!("{}/busybox:1", reg.host);
    server.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=greeting=hi",
    ]);
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: staged}}
spec:
  initContainers:
  - name: prepare
    image: {img}
    command: ["sh", "-c", "echo prepared > /work/ready; echo init done"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: main
    image: {img}
    command: ["sh", "-c", "cat /work/ready /config/greeting; echo; readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; while true; do echo tick; sleep 1; done"]
    volumeMounts:
    - {{name: work, mountPath: /work}}
    - {{name: config, mountPath: /config}}
  - name: side
    image: {img}
    command: ["sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/net; while true; do sleep 1; done"]
  volumes:
  - {{name: work, emptyDir: {{}}}}
  - {{name: config, configMap: {{name: settings}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: greedy}}
spec:
  nodeName: node-c
  containers:
  - name: main
    image: {img}
    resources: {{requests: {{cpu: "100000"}}}}
"#
    );
    let file = server.manifest("staged.yaml", &manifest);
    server.ok(&["apply", "-f", &file]);
    server.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/staged",
        "--timeout=60s",
    ]);
    assert_eq!(
        jsonpath(
            &server,
            "staged",
            "{.status.initContainerStatuses[0].state.terminated.reason}"
        ),
        "Completed"
    );
    let logs = eventually(Duration::from_secs(10), || {
        let l = server.ok(&["logs", "staged", "-c", "main"]);
        l.contains("tick").then_some(l)
    });
    assert!(logs.starts_with("prepared\nhi\n"), "{logs}");
    // The pod's containers share its IPC and network namespaces.
    let namespaces: Vec<&str> = logs
        .lines()
        .filter(|l| l.starts_with("ipc:") || l.starts_with("net:"))
        .collect();
    assert_eq!(namespaces.len(), 2, "{logs}");
    let side = server.ok(&["logs", "staged", "-c", "side"]);
    assert_eq!(
        side.lines().collect::<Vec<_>>(),
        namespaces,
        "containers of one pod must share IPC and network namespaces"
    );
    assert_eq!(
        server.ok(&["logs", "staged", "-c", "prepare"]).trim(),
        "init done"
    );

    // Node-level admission: a pod bound by hand that does not fit is rejected as upstream.
    eventually(Duration::from_secs(30), || {
        (jsonpath(&server, "greedy", "{.status.phase}") == "Failed").then_some(())
    });
    assert_eq!(jsonpath(&server, "greedy", "{.status.reason}"), "OutOfcpu");
    assert!(
        jsonpath(&server, "greedy", "{.status.message}").starts_with(
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 100000000"
        )
    );

    // An agent killed and restarted adopts the running container: same ID, no restart.
    let id = jsonpath(
        &server,
        "staged",
        "{.status.containerStatuses[0].containerID}",
    );
    agent.crash_and_restart();
    std::thread::sleep(Duration::from_secs(3));
    eventually(Duration::from_secs(30), || {
        server
            .kubectl(&[
                "get",
                "--raw",
                "/api/v1/namespaces/default/pods/staged/log?container=main&tailLines=1",
            ])
            .status
            .success()
            .then_some(())
    });
    assert_eq!(
        jsonpath(
            &server,
            "staged",
            "{.status.containerStatuses[0].containerID}"
        ),
        id
    );
    assert_eq!(
        jsonpath(
            &server,
            "staged",
            "{.status.containerStatuses[0].restartCount}"
        ),
        "0"
    );
    assert_eq!(jsonpath(&server, "staged", "{.status.phase}"), "Running");
    server.ok(&[
        "delete",
        "pod",
        "--all",
        "--grace-period=1",
        "--timeout=60s",
    ]);
    let _ = agent.log();
}
