//! Real kubectl bodies: each `tests/fixtures/<name>.pb` is what kubectl 1.32 sent as protobuf for a command and
//! `<name>.json` what kubectl 1.31 sent as JSON for the same command (both recorded by
//! `cargo run -p skiff-protobuf --example record_kubectl`). The decoded protobuf must equal the JSON exactly:
//! same fields, same values, `creationTimestamp: null`, `status: {}` and `resources: {}` included. Only key order
//! may differ: it follows the .proto declaration, which is Go's struct order except in a few messages (in
//! `HTTPIngressPath`, `backend` comes before `pathType`).

use std::path::Path;

use serde_json::{json, Value};

fn fixture(name: &str) -> (Vec<u8>, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let pb = std::fs::read(dir.join(format!("{name}.pb"))).expect("protobuf fixture");
    let json = std::fs::read(dir.join(format!("{name}.json"))).expect("JSON fixture");
    (
        pb,
        serde_json::from_slice(&json).expect("JSON fixture parses"),
    )
}

fn assert_decodes_like_json(name: &str) -> Value {
    let (pb, want) = fixture(name);
    let got = skiff_protobuf::decode(&pb).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        got,
        want,
        "{name}: decoded protobuf\n{}\ndiffers from kubectl's JSON\n{}",
        serde_json::to_string_pretty(&got).unwrap(),
        serde_json::to_string_pretty(&want).unwrap()
    );
    got
}

#[test]
fn create_namespace() {
    let got = assert_decodes_like_json("namespace");
    assert_eq!(got["metadata"]["name"], "ns1");
}

#[test]
fn create_configmap() {
    let got = assert_decodes_like_json("configmap");
    assert_eq!(got["data"], json!({"a": "b", "c": "d"}));
}

#[test]
fn create_secret_generic() {
    let got = assert_decodes_like_json("secret");
    // bytes travel base64-encoded, as in JSON: "v" -> "dg=="
    assert_eq!(got["data"], json!({"k": "dg=="}));
}

#[test]
fn create_deployment() {
    let got = assert_decodes_like_json("deployment");
    assert_eq!(got["spec"]["replicas"], 2);
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80}])
    );
    // Go writes the zero time as null and empty non-pointer structs as {}.
    assert_eq!(got["metadata"]["creationTimestamp"], Value::Null);
    assert_eq!(got["status"], json!({}));
}

#[test]
fn create_deployment_with_zero_replicas_keeps_the_zero() {
    let got = assert_decodes_like_json("deployment_zero_replicas");
    assert_eq!(got["spec"]["replicas"], 0);
}

#[test]
fn create_service_clusterip() {
    let got = assert_decodes_like_json("service");
    // IntOrString
    assert_eq!(got["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(got["spec"]["type"], "ClusterIP");
}

#[test]
fn create_serviceaccount() {
    assert_decodes_like_json("serviceaccount");
}

#[test]
fn create_job() {
    let got = assert_decodes_like_json("job");
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["echo", "hi"])
    );
}

#[test]
fn create_quota() {
    let got = assert_decodes_like_json("quota");
    // Quantity
    assert_eq!(
        got["spec"]["hard"],
        json!({"cpu": "1500m", "memory": "1Gi", "pods": "10"})
    );
}

#[test]
fn create_priorityclass() {
    let got = assert_decodes_like_json("priorityclass");
    assert_eq!(got["value"], 1000);
}

#[test]
fn create_poddisruptionbudget() {
    let got = assert_decodes_like_json("pdb");
    // IntOrString of type string
    assert_eq!(got["spec"]["minAvailable"], "50%");
}

#[test]
fn create_ingress() {
    let got = assert_decodes_like_json("ingress");
    // IngressRule.ingressRuleValue is inlined: `http` sits next to `host`.
    assert_eq!(got["spec"]["rules"][0]["host"], "foo.com");
    assert!(got["spec"]["rules"][0]["http"].is_object());
}

#[test]
fn auth_can_i() {
    let got = assert_decodes_like_json("can_i");
    assert_eq!(got["kind"], "SelfSubjectAccessReview");
    assert_eq!(
        got["spec"]["resourceAttributes"],
        json!({"namespace": "default", "verb": "create", "resource": "pods"})
    );
}

#[test]
fn every_fixture_has_both_encodings_and_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".pb")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 13, "{names:?}");
    for name in names {
        assert_decodes_like_json(&name);
    }
}
