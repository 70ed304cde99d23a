//! Secure by default: a real `skiff server` serves HTTPS only, authenticates every request (client
//! certificates, bearer tokens) but the health and version endpoints, and authorizes nodes as
//! upstream's Node authorizer and NodeRestriction do. The agent's log endpoint admits only the API
//! server's kubelet-client certificate.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, request, tls_client, tls_from_kubeconfig, Server};
use serde_json::{json, Value};

fn ca(s: &Server) -> Vec<u8> {
    std::fs::read(s.dir.path().join("tls/ca.crt")).expect("CA certificate")
}

fn token(s: &Server) -> String {
    std::fs::read_to_string(s.dir.path().join("token"))
        .expect("join token")
        .trim()
        .to_string()
}

fn secret_of(token: &str) -> String {
    token.rsplit_once(':').expect("K10 token").1.to_string()
}

/// A TLS client that trusts the cluster CA and presents no certificate.
fn anonymous(s: &Server) -> Arc<rustls::ClientConfig> {
    tls_client(&ca(s), None)
}

fn json_call(
    s: &Server,
    tls: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    let (code, text) = request(
        &s.addr(),
        Some(tls.clone()),
        method,
        path,
        &[
            ("Content-Type", content_type),
            ("Accept", "application/json"),
        ],
        &body,
    );
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(s: &Server, tls: &Arc<rustls::ClientConfig>, path: &str) -> (u16, Value) {
    json_call(s, tls, "GET", path, "application/json", &Value::Null)
}

fn delete(s: &Server, tls: &Arc<rustls::ClientConfig>, path: &str) -> (u16, Value) {
    json_call(s, tls, "DELETE", path, "application/json", &Value::Null)
}

fn post(s: &Server, tls: &Arc<rustls::ClientConfig>, path: &str, body: &Value) -> (u16, Value) {
    json_call(s, tls, "POST", path, "application/json", body)
}

fn merge_patch(
    s: &Server,
    tls: &Arc<rustls::ClientConfig>,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    json_call(s, tls, "PATCH", path, "application/merge-patch+json", body)
}

/// Node credentials as a joining agent obtains them: the join secret as a bearer token.
fn node_tls(s: &Server, node: &str) -> Arc<rustls::ClientConfig> {
    let auth = format!("Bearer {}", secret_of(&token(s)));
    let body = serde_json::to_vec(&json!({"nodeName": node, "addresses": ["127.0.0.1"]})).unwrap();
    let (code, text) = request(
        &s.addr(),
        Some(anonymous(s)),
        "POST",
        "/v1-skiff/node-credentials",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(code, 200, "{text}");
    let creds: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        creds["certificateAuthority"].as_str().unwrap().as_bytes(),
        ca(s)
    );
    tls_client(
        &ca(s),
        Some((
            creds["clientCertificate"].as_str().unwrap().as_bytes(),
            creds["clientKey"].as_str().unwrap().as_bytes(),
        )),
    )
}

#[test]
fn unauthenticated_requests_get_401_except_health_and_version() {
    let s = Server::start();
    assert!(s.url.starts_with("https://"), "{}", s.url);
    let anon = anonymous(&s);
    for path in [
        "/api/v1/pods",
        "/api",
        "/apis",
        "/openapi/v3",
        "/metrics",
        "/api/v1/namespaces/default/secrets",
    ] {
        let (code, body) = get(&s, &anon, path);
        assert_eq!(code, 401, "{path}: {body}");
        assert_eq!(body["kind"], "Status", "{path}: {body}");
        assert_eq!(body["reason"], "Unauthorized");
        assert_eq!(body["code"], 401);
    }
    for path in ["/version", "/readyz", "/livez", "/healthz"] {
        let (code, body) = get(&s, &anon, path);
        assert_eq!(code, 200, "{path}: {body}");
    }
    let (code, cacerts) = request(&s.addr(), Some(anon.clone()), "GET", "/cacerts", &[], b"");
    assert_eq!(code, 200);
    assert_eq!(cacerts.as_bytes(), ca(&s));
    // A bearer token that matches nothing.
    let (code, _) = request(
        &s.addr(),
        Some(anon.clone()),
        "GET",
        "/api/v1/pods",
        &[("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(code, 401);
    // The join secret authenticates a bootstrapper, which may do nothing but join.
    let auth = format!("Bearer {}", secret_of(&token(&s)));
    let (code, body) = request(
        &s.addr(),
        Some(anon),
        "GET",
        "/api/v1/pods",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(code, 403, "{body}");
}

#[test]
fn plain_http_is_refused() {
    let s = Server::start();
    let (code, body) = request(&s.addr(), None, "GET", "/api/v1/pods", &[], b"");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("Client sent an HTTP request to an HTTPS server."),
        "{body}"
    );
}

#[test]
fn plain_http_only_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "server",
            "--plain-http",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[test]
fn admin_certificate_and_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "admintoken,alice,1,\"system:masters\"\nviewtoken,bob,2\n",
    )
    .unwrap();
    let s = Server::start_with(dir, &["--token-auth-file", tokens.to_str().unwrap()]);
    let text = std::fs::read_to_string(&s.kubeconfig).unwrap();
    for field in [
        "certificate-authority-data:",
        "client-certificate-data:",
        "client-key-data:",
    ] {
        assert!(text.contains(field), "{field} in {text}");
    }
    s.ok(&["create", "namespace", "sec"]);
    assert!(s.ok(&["get", "namespaces"]).contains("sec"));
    // Keys and the token are private.
    use std::os::unix::fs::PermissionsExt;
    for f in [
        "tls/ca.key",
        "tls/server.key",
        "tls/admin.key",
        "tls/kubelet-client.key",
        "token",
        "admin.kubeconfig",
    ] {
        let mode = std::fs::metadata(s.dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{f} is {mode:o}");
    }
    let anon = anonymous(&s);
    let call = |tok: &str| {
        let auth = format!("Bearer {tok}");
        request(
            &s.addr(),
            Some(anon.clone()),
            "GET",
            "/api/v1/namespaces",
            &[("Authorization", &auth)],
            b"",
        )
        .0
    };
    assert_eq!(call("admintoken"), 200);
    assert_eq!(call("viewtoken"), 403);
}

#[test]
fn a_bad_pin_refuses_to_join() {
    let s = Server::start();
    let t = token(&s);
    let wrong = format!("K10{}{}", "0".repeat(64), &t[3 + 64..]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "agent",
            "--server",
            &s.url,
            "--token",
            &wrong,
            "--node-name",
            "x",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to join"), "{err}");
    assert!(!dir.path().join("kubelet.kubeconfig").exists());
}

#[test]
fn nodes_are_restricted_as_upstream() {
    let s = Server::start_with(tempfile::tempdir().unwrap(), &["--disable-scheduler"]);
    let admin = tls_from_kubeconfig(&s.kubeconfig);
    let a = node_tls(&s, "sec-a");
    let ok = |code: u16, body: &Value| assert!((200..300).contains(&code), "{code}: {body}");

    // Its own Node: create, read, patch status, patch; another node: no.
    let (code, body) = post(
        &s,
        &a,
        "/api/v1/nodes",
        &json!({"metadata": {"name": "sec-a"}}),
    );
    ok(code, &body);
    let (code, body) = post(
        &s,
        &a,
        "/api/v1/nodes",
        &json!({"metadata": {"name": "sec-c"}}),
    );
    assert_eq!(code, 403, "{body}");
    let (code, body) = post(
        &s,
        &admin,
        "/api/v1/nodes",
        &json!({"metadata": {"name": "sec-b"}}),
    );
    ok(code, &body);
    let (code, body) = get(&s, &a, "/api/v1/nodes/sec-a");
    ok(code, &body);
    let (code, body) = get(&s, &a, "/api/v1/nodes");
    ok(code, &body);
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}]}});
    let (code, body) = merge_patch(&s, &a, "/api/v1/nodes/sec-a/status", &patch);
    ok(code, &body);
    let labels = json!({"metadata": {"labels": {"x": "y"}}});
    let (code, body) = merge_patch(&s, &a, "/api/v1/nodes/sec-a", &labels);
    ok(code, &body);
    let (code, body) = merge_patch(&s, &a, "/api/v1/nodes/sec-b", &labels);
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Forbidden");
    assert!(
        body["message"].as_str().unwrap().starts_with(
            "nodes \"sec-b\" is forbidden: User \"system:node:sec-a\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope"
        ),
        "{body}"
    );
    let (code, body) = merge_patch(&s, &a, "/api/v1/nodes/sec-b/status", &patch);
    assert_eq!(code, 403, "{body}");
    let (code, body) = delete(&s, &a, "/api/v1/nodes/sec-b");
    assert_eq!(code, 403, "{body}");

    // Secrets: only those its pods reference.
    for name in ["referenced", "other"] {
        let secret = json!({"metadata": {"name": name}, "stringData": {"k": "v"}});
        let (code, body) = post(&s, &admin, "/api/v1/namespaces/default/secrets", &secret);
        ok(code, &body);
    }
    let pod = |name: &str, node: &str| {
        json!({"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox",
            "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "referenced", "key": "k"}}}]}]}})
    };
    for (name, node) in [("on-a", "sec-a"), ("on-b", "sec-b")] {
        let (code, body) = post(
            &s,
            &admin,
            "/api/v1/namespaces/default/pods",
            &pod(name, node),
        );
        ok(code, &body);
    }
    let (code, body) = get(&s, &a, "/api/v1/namespaces/default/secrets/referenced");
    ok(code, &body);
    let (code, body) = get(&s, &a, "/api/v1/namespaces/default/secrets/other");
    assert_eq!(code, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(
            "cannot get resource \"secrets\" in API group \"\" in the namespace \"default\""
        ),
        "{body}"
    );
    let (code, body) = get(&s, &a, "/api/v1/namespaces/default/secrets");
    assert_eq!(code, 403, "{body}");

    // Pods: read all, create none, status and delete only of its own.
    let (code, body) = get(&s, &a, "/api/v1/pods");
    ok(code, &body);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let (code, body) = post(
        &s,
        &a,
        "/api/v1/namespaces/default/pods",
        &pod("mine", "sec-a"),
    );
    assert_eq!(code, 403, "{body}");
    let status = json!({"status": {"phase": "Running"}});
    let (code, body) = merge_patch(
        &s,
        &a,
        "/api/v1/namespaces/default/pods/on-a/status",
        &status,
    );
    ok(code, &body);
    let (code, body) = merge_patch(
        &s,
        &a,
        "/api/v1/namespaces/default/pods/on-b/status",
        &status,
    );
    assert_eq!(code, 403, "{body}");
    let (code, body) = delete(&s, &a, "/api/v1/namespaces/default/pods/on-b");
    assert_eq!(code, 403, "{body}");
    let (code, body) = delete(&s, &a, "/api/v1/namespaces/default/pods/on-a");
    ok(code, &body);
    let (code, body) = post(
        &s,
        &a,
        "/api/v1/namespaces/default/pods/on-b/binding",
        &json!({"metadata": {"name": "on-b"}, "target": {"kind": "Node", "name": "sec-a"}}),
    );
    assert_eq!(code, 403, "{body}");

    // Its own Lease, events.
    let lease = |name: &str| json!({"metadata": {"name": name}, "spec": {"holderIdentity": name}});
    let (code, body) = post(
        &s,
        &a,
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        &lease("sec-a"),
    );
    ok(code, &body);
    let (code, body) = post(
        &s,
        &a,
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        &lease("sec-b"),
    );
    assert_eq!(code, 403, "{body}");
    let event = json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "on-a", "namespace": "default"},
        "reason": "Started", "message": "m", "type": "Normal"});
    let (code, body) = post(&s, &a, "/api/v1/namespaces/default/events", &event);
    ok(code, &body);
    // Other resources: no.
    let (code, body) = get(&s, &a, "/apis/apps/v1/deployments");
    assert_eq!(code, 403, "{body}");

    // A node may renew its own credentials, not obtain another's.
    let body = serde_json::to_vec(&json!({"nodeName": "sec-b"})).unwrap();
    let (code, _) = request(
        &s.addr(),
        Some(a.clone()),
        "POST",
        "/v1-skiff/node-credentials",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(code, 403);
    let body = serde_json::to_vec(&json!({"nodeName": "sec-a"})).unwrap();
    let (code, _) = request(
        &s.addr(),
        Some(a),
        "POST",
        "/v1-skiff/node-credentials",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(code, 200);
}

/// The kubelet port of a registered node.
fn kubelet_port(s: &Server, node: &str) -> u16 {
    eventually(Duration::from_secs(60), || {
        let out = s.kubectl(&[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .ok()
            .filter(|p| *p != 0)
    })
}

#[test]
fn the_kubelet_endpoint_admits_only_the_api_server() {
    common::agent::require_root();
    let s = Server::start();
    let agent = common::agent::Agent::start(&s, "sec-node", "skt-sec0", "10.88.12.0/24");
    let port = kubelet_port(&s, "sec-node");
    assert!(
        agent.data().join("kubelet.kubeconfig").exists(),
        "the agent joined with the token"
    );
    let addr = format!("127.0.0.1:{port}");
    let tls = |name: &str| {
        let dir = s.dir.path().join("tls");
        let read = |f: &Path| std::fs::read(f).unwrap();
        tls_client(
            &ca(&s),
            Some((
                &read(&dir.join(format!("{name}.crt"))),
                &read(&dir.join(format!("{name}.key"))),
            )),
        )
    };
    let get =
        |tls: Option<Arc<rustls::ClientConfig>>| request(&addr, tls, "GET", "/healthz", &[], b"").0;
    assert_eq!(get(Some(tls("kubelet-client"))), 200);
    assert_ne!(
        get(Some(tls("admin"))),
        200,
        "the admin certificate is not the API server's"
    );
    assert_ne!(get(Some(anonymous(&s))), 200, "no client certificate");
    assert_ne!(
        get(Some(node_tls(&s, "sec-other"))),
        200,
        "another node's certificate"
    );
    assert_ne!(get(None), 200, "plain HTTP");
    drop(agent);
}
