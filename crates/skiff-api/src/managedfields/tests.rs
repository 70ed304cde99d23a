//! Table tests of apply and update against what kube-apiserver v1.32 writes.

use super::*;
use crate::patch::schema::root_type;
use serde_json::json;

const T0: &str = "2024-05-01T10:00:00Z";
const T1: &str = "2024-05-01T10:01:00Z";
const T2: &str = "2024-05-01T10:02:00Z";
const T3: &str = "2024-05-01T10:03:00Z";

fn cm() -> Option<TypeRef> {
    root_type("", "ConfigMap")
}

fn pod() -> Option<TypeRef> {
    root_type("", "Pod")
}

/// `metadata.managedFields` of `obj`.
fn managed(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `(manager, operation, time)` of each entry, in order.
fn entries(obj: &Value) -> Vec<(String, String, String)> {
    managed(obj)
        .iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("manager"), s("operation"), s("time"))
        })
        .collect()
}

/// The `fieldsV1` of `manager`'s entry with `operation`.
fn fields(obj: &Value, manager: &str, operation: &str) -> Value {
    managed(obj)
        .into_iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

/// What the registry adds on create, so that later writes see a stored object.
fn stored(mut obj: Value) -> Value {
    let meta = obj["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!("6d1c1a8e-0000-4000-8000-000000000001"));
    meta.insert("resourceVersion".into(), json!("1"));
    meta.insert("creationTimestamp".into(), json!(T0));
    obj
}

fn ok_apply(
    live: Option<&Value>,
    cfg: &Value,
    manager: &str,
    ty: Option<TypeRef>,
    now: &str,
) -> Value {
    apply(live, cfg, manager, false, "v1", ty, now)
        .unwrap_or_else(|e| panic!("apply by {manager}: {e}"))
}

fn configmap(data: Value, labels: Value) -> Value {
    let mut meta = json!({"name": "cfg", "namespace": "default"});
    if !labels.is_null() {
        meta["labels"] = labels;
    }
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta});
    if !data.is_null() {
        obj["data"] = data;
    }
    obj
}

fn nginx_pod(image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}
    })
}

#[test]
fn create_by_apply() {
    let cfg = configmap(json!({"a": "1", "b": "2"}), json!({"app": "web"}));
    let out = ok_apply(None, &cfg, "kubectl", cm(), T0);
    // The object is the configuration plus managedFields, and name/namespace/apiVersion/kind are not
    // owned (upstream strips them), exactly as a v1.32 server writes it.
    let want = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default", "labels": {"app": "web"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T0,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}}]},
        "data": {"a": "1", "b": "2"}
    });
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        serde_json::to_string(&want).unwrap()
    );
}

#[test]
fn apply_lifecycle_of_one_manager() {
    let cfg = configmap(
        json!({"a": "1", "b": "2"}),
        json!({"app": "web", "tier": "fe"}),
    );
    let live = stored(ok_apply(None, &cfg, "kubectl", cm(), T0));

    // (step, config, want data, want labels, want fieldsV1, want time)
    type Step = (&'static str, Value, Value, Value, Value, &'static str);
    let steps: Vec<Step> = vec![
        (
            "re-apply unchanged: nothing changes, not even the time",
            cfg.clone(),
            json!({"a": "1", "b": "2"}),
            json!({"app": "web", "tier": "fe"}),
            json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}}),
            T0,
        ),
        (
            "change a value",
            configmap(
                json!({"a": "1", "b": "3"}),
                json!({"app": "web", "tier": "fe"}),
            ),
            json!({"a": "1", "b": "3"}),
            json!({"app": "web", "tier": "fe"}),
            json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}}),
            T2,
        ),
        (
            "drop a data key and a label: both removed",
            configmap(json!({"a": "1"}), json!({"app": "web"})),
            json!({"a": "1"}),
            json!({"app": "web"}),
            json!({"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
            T3,
        ),
        (
            "drop all labels: the map goes",
            configmap(json!({"a": "1"}), Value::Null),
            json!({"a": "1"}),
            Value::Null,
            json!({"f:data": {"f:a": {}}}),
            T3,
        ),
    ];
    let mut live = live;
    let times = [T1, T2, T3, T3];
    for ((name, cfg, data, labels, fields_v1, time), now) in steps.into_iter().zip(times) {
        let out = ok_apply(Some(&live), &cfg, "kubectl", cm(), now);
        assert_eq!(out["data"], data, "{name}");
        assert_eq!(
            out["metadata"]
                .get("labels")
                .cloned()
                .unwrap_or(Value::Null),
            labels,
            "{name}"
        );
        assert_eq!(fields(&out, "kubectl", "Apply"), fields_v1, "{name}");
        assert_eq!(
            entries(&out),
            vec![("kubectl".into(), "Apply".into(), time.into())],
            "{name}"
        );
        // Server-set metadata survives every step.
        assert_eq!(out["metadata"]["uid"], live["metadata"]["uid"], "{name}");
        assert_eq!(out["metadata"]["name"], "cfg", "{name}");
        if name.starts_with("re-apply") {
            assert_eq!(out, live, "{name}");
        }
        live = out;
    }
}

#[test]
fn two_appliers_share_a_field() {
    let a = configmap(json!({"shared": "x", "a": "1"}), Value::Null);
    let b = configmap(json!({"shared": "x", "b": "2"}), Value::Null);
    let live = stored(ok_apply(None, &a, "alice", cm(), T0));
    let live = ok_apply(Some(&live), &b, "bob", cm(), T1);
    assert_eq!(live["data"], json!({"shared": "x", "a": "1", "b": "2"}));
    assert_eq!(
        entries(&live),
        vec![
            ("alice".into(), "Apply".into(), T0.into()),
            ("bob".into(), "Apply".into(), T1.into())
        ]
    );
    assert_eq!(
        fields(&live, "bob", "Apply"),
        json!({"f:data": {"f:b": {}, "f:shared": {}}})
    );

    // Alice stops applying the shared key: Bob still owns it, so it stays.
    let live = ok_apply(
        Some(&live),
        &configmap(json!({"a": "1"}), Value::Null),
        "alice",
        cm(),
        T2,
    );
    assert_eq!(live["data"], json!({"shared": "x", "a": "1", "b": "2"}));
    assert_eq!(
        fields(&live, "alice", "Apply"),
        json!({"f:data": {"f:a": {}}})
    );
    // Alice's time did not move: the object did not change.
    assert_eq!(
        entries(&live)[0],
        ("alice".into(), "Apply".into(), T0.into())
    );

    // Bob stops too: now it goes.
    let live = ok_apply(
        Some(&live),
        &configmap(json!({"b": "2"}), Value::Null),
        "bob",
        cm(),
        T3,
    );
    assert_eq!(live["data"], json!({"a": "1", "b": "2"}));

    // A different value for a field another applier owns conflicts (an applier is printed without
    // "using").
    let err = apply(
        Some(&live),
        &configmap(json!({"b": "9"}), Value::Null),
        "alice",
        false,
        "v1",
        cm(),
        T3,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"bob\": .data.b"
    );
}

/// A ConfigMap made by `kubectl create configmap` (an Update entry).
fn created_configmap() -> Value {
    let mut obj = stored(configmap(json!({"a": "1"}), json!({"app": "web"})));
    update(None, &mut obj, "kubectl-create", "v1", None, cm(), T0);
    obj
}

#[test]
fn update_on_create_records_what_upstream_records() {
    let obj = created_configmap();
    assert_eq!(
        managed(&obj),
        vec![
            json!({"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}})
        ]
    );

    // A Deployment as `kubectl create deployment` stores it (after defaulting): structs that exist in
    // the Go zero value (spec, strategy, template, template.metadata/spec) carry no ".", new maps and
    // pointers do; status is not tracked on the main resource.
    let mut deploy = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "generation": 1, "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {},
                    "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
                    "restartPolicy": "Always"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10
        },
        "status": {"replicas": 0}
    });
    update(
        None,
        &mut deploy,
        "kubectl-create",
        "apps/v1",
        None,
        root_type("apps", "Deployment"),
        T0,
    );
    assert_eq!(
        fields(&deploy, "kubectl-create", "Update"),
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}},
                            "f:resources": {}}},
                        "f:restartPolicy": {}
                    }
                }
            }
        })
    );
}

#[test]
fn applying_over_kubectl_create() {
    let live = created_configmap();
    // (case, data applied, result: Ok(data) or Err(message))
    let cases: Vec<(&str, Value, Result<Value, &str>)> =
        vec![
        ("same value: shared, no conflict", json!({"a": "1"}), Ok(json!({"a": "1"}))),
        ("new key: no conflict", json!({"a": "1", "z": "2"}), Ok(json!({"a": "1", "z": "2"}))),
        (
            "different value: conflict",
            json!({"a": "2"}),
            Err("Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.a"),
        ),
    ];
    for (name, data, want) in cases {
        let got = apply(
            Some(&live),
            &configmap(data, Value::Null),
            "mgr",
            false,
            "v1",
            cm(),
            T1,
        );
        match (got, want) {
            (Ok(obj), Ok(data)) => {
                assert_eq!(obj["data"], data, "{name}");
                // kubectl-create keeps what it had: sharing does not take ownership away.
                assert_eq!(
                    fields(&obj, "kubectl-create", "Update"),
                    fields(&live, "kubectl-create", "Update"),
                    "{name}"
                );
            }
            (Err(e), Err(msg)) => assert_eq!(e.message(), msg, "{name}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
    // As upstream, an apply that changes nothing records its entry without a time.
    let out = ok_apply(
        Some(&live),
        &configmap(json!({"a": "1"}), Value::Null),
        "mgr",
        cm(),
        T1,
    );
    assert_eq!(
        entries(&out),
        vec![
            ("mgr".into(), "Apply".into(), String::new()),
            ("kubectl-create".into(), "Update".into(), T0.into())
        ]
    );
    assert_eq!(managed(&out)[0].get("time"), None);
    assert_eq!(without_managed_fields(&out), without_managed_fields(&live));
}

/// A Pod as `kubectl apply` (client-side) leaves it.
fn client_side_applied_pod(image: &str, annotate: bool) -> Value {
    let mut obj = nginx_pod(image);
    if annotate {
        let last = go_json(&nginx_pod(image)) + "\n";
        obj["metadata"]["annotations"] = json!({LAST_APPLIED_ANNOTATION: last});
    }
    let mut obj = stored(obj);
    update(
        None,
        &mut obj,
        "kubectl-client-side-apply",
        "v1",
        None,
        pod(),
        T0,
    );
    obj
}

#[test]
fn conflict_with_an_update_manager_is_reported_as_upstream() {
    let live = client_side_applied_pod("nginx:1.25", false);
    let err = apply(
        Some(&live),
        &nginx_pod("nginx:1.26"),
        "kubectl",
        false,
        "v1",
        pod(),
        T1,
    )
    .unwrap_err();
    let ApplyError::Conflicts(cs) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        cs,
        &vec![Conflict {
            manager: "kubectl-client-side-apply".into(),
            operation: Operation::Update,
            api_version: "v1".into(),
            subresource: String::new(),
            field: ".spec.containers[name=\"nginx\"].image".into(),
        }]
    );
    // Byte for byte what kubectl 1.32 was given (shared/reference/kubectl-wire.md §7).
    assert_eq!(
        String::from_utf8(err.to_api_error().to_body()).unwrap(),
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Apply failed with 1 conflict: conflict with \\\"kubectl-client-side-apply\\\" using v1: .spec.containers[name=\\\"nginx\\\"].image\",\"reason\":\"Conflict\",\"details\":{\"causes\":[{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl-client-side-apply\\\" using v1\",\"field\":\".spec.containers[name=\\\"nginx\\\"].image\"}]},\"code\":409}\n"
    );

    // Several conflicts, several managers: grouped by manager, sorted.
    let mut live2 = live.clone();
    let mut new = live2.clone();
    new["metadata"]["labels"] = json!({"team": "a"});
    new["spec"]["containers"][0]["ports"][0]["name"] = json!("http");
    update(
        Some(&live2),
        &mut new,
        "kubectl-label",
        "v1",
        None,
        pod(),
        T1,
    );
    live2 = new;
    let mut cfg = nginx_pod("nginx:1.26");
    cfg["metadata"]["labels"] = json!({"team": "b"});
    cfg["spec"]["containers"][0]["ports"][0]["name"] = json!("web");
    let err = apply(Some(&live2), &cfg, "mgr", false, "v1", pod(), T2).unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 3 conflicts: conflicts with \"kubectl-client-side-apply\" using v1:\n\
         - .spec.containers[name=\"nginx\"].image\n\
         conflicts with \"kubectl-label\" using v1:\n\
         - .metadata.labels.team\n\
         - .spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].name"
    );
    let api = err.to_api_error();
    assert_eq!((api.code, api.reason), (409, "Conflict"));
    assert_eq!(api.details.unwrap().causes.len(), 3);
}

#[test]
fn force_takes_ownership() {
    let live = client_side_applied_pod("nginx:1.25", false);
    let out = apply(
        Some(&live),
        &nginx_pod("nginx:1.26"),
        "kubectl",
        true,
        "v1",
        pod(),
        T1,
    )
    .unwrap();
    assert_eq!(out["spec"]["containers"][0]["image"], "nginx:1.26");
    let csa =
        FieldSet::from_fields_v1(&fields(&out, "kubectl-client-side-apply", "Update")).unwrap();
    let mine = FieldSet::from_fields_v1(&fields(&out, "kubectl", "Apply")).unwrap();
    let image = ".spec.containers[name=\"nginx\"].image".to_string();
    assert!(!csa.paths().contains(&image));
    assert!(mine.paths().contains(&image));
    // Fields with unchanged values stay shared.
    let name = ".spec.containers[name=\"nginx\"].name".to_string();
    assert!(csa.paths().contains(&name) && mine.paths().contains(&name));
    assert_eq!(
        entries(&out),
        vec![
            ("kubectl".into(), "Apply".into(), T1.into()),
            (
                "kubectl-client-side-apply".into(),
                "Update".into(),
                T0.into()
            )
        ]
    );
    // The former owner cannot take it back by applying without force either.
    let err = apply(
        Some(&out),
        &nginx_pod("nginx:1.25"),
        "other",
        false,
        "v1",
        pod(),
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn kubectl_upgrades_from_client_side_apply() {
    // With a last-applied annotation that matches the object, `kubectl` takes the fields it set
    // client-side without a conflict, and the annotation follows the new configuration.
    let live = client_side_applied_pod("nginx:1.25", true);
    let cfg = nginx_pod("nginx:1.26");
    let out = apply(Some(&live), &cfg, "kubectl", false, "v1", pod(), T1).unwrap();
    assert_eq!(out["spec"]["containers"][0]["image"], "nginx:1.26");
    assert_eq!(
        out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"image\":\"nginx:1.26\",\"name\":\"nginx\",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}]}}\n"
    );
    // Any other manager still conflicts.
    let err = apply(Some(&live), &cfg, "other", false, "v1", pod(), T1).unwrap_err();
    assert!(matches!(err, ApplyError::Conflicts(_)));
}

#[test]
fn label_maps_merge_key_by_key() {
    let live = stored(ok_apply(
        None,
        &configmap(Value::Null, json!({"app": "web"})),
        "applier",
        cm(),
        T0,
    ));
    // Someone else adds a label with a merge patch.
    let mut new = live.clone();
    new["metadata"]["labels"]["owner"] = json!("ops");
    update(Some(&live), &mut new, "kubectl-label", "v1", None, cm(), T1);
    assert_eq!(
        fields(&new, "kubectl-label", "Update"),
        json!({"f:metadata": {"f:labels": {"f:owner": {}}}})
    );
    // The applier adds one and changes none: the other label is untouched.
    let out = ok_apply(
        Some(&new),
        &configmap(Value::Null, json!({"app": "web", "env": "prod"})),
        "applier",
        cm(),
        T2,
    );
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "owner": "ops", "env": "prod"})
    );
    // The applier drops all of its labels: only the other manager's remains.
    let out = ok_apply(
        Some(&out),
        &configmap(Value::Null, Value::Null),
        "applier",
        cm(),
        T3,
    );
    assert_eq!(out["metadata"]["labels"], json!({"owner": "ops"}));
    assert_eq!(
        entries(&out),
        vec![("kubectl-label".into(), "Update".into(), T1.into())]
    );
}

#[test]
fn containers_merge_by_name() {
    let pod_with = |containers: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"containers": containers}})
    };
    let names = |obj: &Value| -> Vec<String> {
        obj["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    let live = stored(ok_apply(
        None,
        &pod_with(json!([{"name": "nginx", "image": "nginx:1.25"}])),
        "app",
        pod(),
        T0,
    ));
    // An injector adds a sidecar through an update.
    let mut new = live.clone();
    new["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "envoy"}));
    update(Some(&live), &mut new, "injector", "v1", None, pod(), T1);
    assert_eq!(
        fields(&new, "injector", "Update"),
        json!({"f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
    );

    // (config containers, resulting names, resulting nginx image)
    let steps: Vec<(Value, Vec<&str>, &str)> = vec![
        (
            json!([{"name": "nginx", "image": "nginx:1.26"}]),
            vec!["nginx", "sidecar"],
            "nginx:1.26",
        ),
        (
            json!([{"name": "nginx", "image": "nginx:1.26"}, {"name": "log", "image": "fluent"}]),
            vec!["nginx", "sidecar", "log"],
            "nginx:1.26",
        ),
        (
            json!([{"name": "init", "image": "busybox"}, {"name": "nginx", "image": "nginx:1.26"}, {"name": "log", "image": "fluent"}]),
            vec!["init", "nginx", "sidecar", "log"],
            "nginx:1.26",
        ),
        (
            json!([{"name": "log", "image": "fluent"}]),
            vec!["sidecar", "log"],
            "",
        ),
    ];
    let mut live = new;
    for (i, (containers, want, image)) in steps.into_iter().enumerate() {
        live = ok_apply(Some(&live), &pod_with(containers), "app", pod(), T2);
        assert_eq!(names(&live), want, "step {i}");
        let nginx = live["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "nginx");
        assert_eq!(
            nginx.map_or("", |c| c["image"].as_str().unwrap()),
            image,
            "step {i}"
        );
    }
    // The sidecar still belongs to the injector alone.
    assert_eq!(
        fields(&live, "injector", "Update"),
        json!({"f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
    );
}

#[test]
fn ports_are_keyed_by_container_port_and_protocol() {
    let with_ports = |ports: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": ports}]}})
    };
    // `protocol` defaults to TCP in the key, whether or not the config sets it.
    let live = stored(ok_apply(
        None,
        &with_ports(
            json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53, "protocol": "TCP"}]),
        ),
        "app",
        pod(),
        T0,
    ));
    assert_eq!(
        fields(&live, "app", "Apply"),
        json!({"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
            "k:{\"containerPort\":53,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}},
            "k:{\"containerPort\":53,\"protocol\":\"UDP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}},
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}
        }}}}})
    );
    // Dropping 53/UDP removes that port only, even though 53/TCP shares its containerPort.
    let out = ok_apply(
        Some(&live),
        &with_ports(json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "TCP"}])),
        "app",
        pod(),
        T1,
    );
    assert_eq!(
        out["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "TCP"}])
    );
}

#[test]
fn update_after_a_merge_patch() {
    let live = created_configmap();
    // `kubectl label --overwrite app=api env=prod` (a merge patch), then the registry calls update().
    let mut new = live.clone();
    new["metadata"]["labels"] = json!({"app": "api", "env": "prod"});
    update(Some(&live), &mut new, "kubectl-label", "v1", None, cm(), T1);
    assert_eq!(
        fields(&new, "kubectl-label", "Update"),
        json!({"f:metadata": {"f:labels": {"f:app": {}, "f:env": {}}}})
    );
    // The label map itself and data stay with kubectl-create; the changed label moved. (The map is
    // now a member without children: `{}`, no ".".)
    assert_eq!(
        fields(&new, "kubectl-create", "Update"),
        json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {}}})
    );
    assert_eq!(
        entries(&new),
        vec![
            ("kubectl-create".into(), "Update".into(), T0.into()),
            ("kubectl-label".into(), "Update".into(), T1.into())
        ]
    );

    // A write that only removes takes the fields from their owners and records no entry of its own.
    let mut removed = new.clone();
    removed.as_object_mut().unwrap().shift_remove("data");
    update(
        Some(&new),
        &mut removed,
        "kubectl-patch",
        "v1",
        None,
        cm(),
        T2,
    );
    assert_eq!(
        fields(&removed, "kubectl-create", "Update"),
        json!({"f:metadata": {"f:labels": {}}})
    );
    assert_eq!(fields(&removed, "kubectl-patch", "Update"), Value::Null);

    // A write that changes nothing keeps every time.
    let mut same = removed.clone();
    update(
        Some(&removed),
        &mut same,
        "kubectl-label",
        "v1",
        None,
        cm(),
        T3,
    );
    assert_eq!(same, removed);

    // The same manager writing again: its entry grows and its time moves.
    let mut again = removed.clone();
    again["metadata"]["labels"]["tier"] = json!("db");
    update(
        Some(&removed),
        &mut again,
        "kubectl-label",
        "v1",
        None,
        cm(),
        T3,
    );
    assert_eq!(
        fields(&again, "kubectl-label", "Update"),
        json!({"f:metadata": {"f:labels": {"f:app": {}, "f:env": {}, "f:tier": {}}}})
    );
    assert_eq!(
        entries(&again)[1],
        ("kubectl-label".into(), "Update".into(), T3.into())
    );
}

#[test]
fn status_is_owned_through_the_subresource_only() {
    let mut live = stored(nginx_pod("nginx"));
    update(None, &mut live, "kubectl-create", "v1", None, pod(), T0);

    // A main-resource write that also carries status: status is not tracked.
    let mut new = live.clone();
    new["status"] = json!({"phase": "Pending"});
    new["metadata"]["labels"] = json!({"a": "b"});
    update(Some(&live), &mut new, "ctl", "v1", None, pod(), T1);
    assert_eq!(
        fields(&new, "ctl", "Update"),
        json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );

    // The kubelet's status write: an entry with the subresource, status fields only.
    let mut st = new.clone();
    st["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    update(
        Some(&new),
        &mut st,
        "kubelet",
        "v1",
        Some("status"),
        pod(),
        T2,
    );
    let e = managed(&st)
        .into_iter()
        .find(|e| e["manager"] == "kubelet")
        .unwrap();
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {"f:conditions": {".": {}, "k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:phase": {}}})
    );
    // Entry order: by time.
    let order: Vec<String> = entries(&st).into_iter().map(|e| e.0).collect();
    assert_eq!(order, vec!["kubectl-create", "ctl", "kubelet"]);
    // A conflict with it names the subresource.
    let mut cfg = nginx_pod("nginx");
    cfg["status"] = json!({"phase": "Failed"});
    let err = apply_to_subresource(Some(&st), &cfg, "x", false, "v1", Some("status"), pod(), T3)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"kubelet\" with subresource \"status\" using v1: .status.phase"
    );
}

#[test]
fn invalid_configurations() {
    let cfg = configmap(json!({"a": "1"}), Value::Null);
    let mut no_version = cfg.clone();
    no_version
        .as_object_mut()
        .unwrap()
        .shift_remove("apiVersion");
    no_version.as_object_mut().unwrap().shift_remove("kind");
    let mut wrong_kind = cfg.clone();
    wrong_kind["kind"] = json!("Secret");
    let mut wrong_version = cfg.clone();
    wrong_version["apiVersion"] = json!("apps/v1");
    let mut with_managed = cfg.clone();
    with_managed["metadata"]["managedFields"] = json!([]);
    let mut dup = nginx_pod("nginx");
    dup["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    let mut keyless = nginx_pod("nginx");
    keyless["spec"]["containers"] = json!([{"image": "a"}]);
    let cases: Vec<(Value, Option<TypeRef>, &str)> = vec![
        (no_version, cm(), "invalid object type: /, Kind="),
        (wrong_kind, cm(), "invalid object type: /v1, Kind=Secret"),
        (wrong_version, cm(), "invalid object type: apps/v1, Kind=ConfigMap"),
        (json!([1]), cm(), "invalid object type: /, Kind="),
        (with_managed, cm(), "metadata.managedFields must be nil"),
        (
            dup,
            pod(),
            "failed to create typed patch object (default/web; /v1, Kind=Pod): .spec.containers: duplicate entries for key [name=\"a\"]",
        ),
        (
            keyless,
            pod(),
            "failed to create typed patch object (default/web; /v1, Kind=Pod): .spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
        ),
    ];
    for (cfg, ty, want) in cases {
        let err = apply(None, &cfg, "m", false, "v1", ty, T0).unwrap_err();
        assert_eq!(err, ApplyError::Invalid(want.to_string()));
        let api = err.to_api_error();
        assert_eq!(
            (api.code, api.reason, api.message.as_str()),
            (400, "BadRequest", want)
        );
    }
}

#[test]
fn first_apply_to_an_untracked_object() {
    // An object stored without managed fields: updates do not start tracking it ...
    let live = stored(configmap(json!({"a": "1", "b": "2"}), Value::Null));
    let mut new = live.clone();
    new["data"]["b"] = json!("3");
    update(Some(&live), &mut new, "ctl", "v1", None, cm(), T1);
    assert!(managed(&new).is_empty());
    // ... and a client may reset them with an empty list.
    let mut reset = created_configmap();
    let old = reset.clone();
    reset["metadata"]["managedFields"] = json!([]);
    update(Some(&old), &mut reset, "ctl", "v1", None, cm(), T1);
    assert!(reset["metadata"].get("managedFields").is_none());

    // The first apply gives the existing fields to before-first-apply.
    let out = ok_apply(
        Some(&live),
        &configmap(json!({"a": "1"}), Value::Null),
        "app",
        cm(),
        T2,
    );
    assert_eq!(
        fields(&out, BEFORE_FIRST_APPLY, "Update"),
        json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
    );
    assert_eq!(fields(&out, "app", "Apply"), json!({"f:data": {"f:a": {}}}));
    let err = apply(
        Some(&live),
        &configmap(json!({"a": "9"}), Value::Null),
        "app",
        false,
        "v1",
        cm(),
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
    );
}

#[test]
fn update_managers_are_capped() {
    let mut obj = created_configmap();
    for i in 0..12 {
        let old = obj.clone();
        obj["data"][format!("k{i}")] = json!("v");
        let now = format!("2024-05-01T11:{i:02}:00Z");
        update(
            Some(&old),
            &mut obj,
            &format!("m{i:02}"),
            "v1",
            None,
            cm(),
            &now,
        );
    }
    let names: Vec<String> = entries(&obj).into_iter().map(|e| e.0).collect();
    assert_eq!(names.len(), MAX_UPDATE_MANAGERS);
    // The oldest were folded into one bucket, which holds their fields and the newest folded time.
    assert_eq!(names[..2], [ANCIENT_CHANGES, "m03"]);
    assert_eq!(entries(&obj)[0].2, "2024-05-01T11:02:00Z");
    assert!(!names.contains(&"kubectl-create".to_string()));
    assert_eq!(
        fields(&obj, ANCIENT_CHANGES, "Update"),
        json!({"f:data": {".": {}, "f:a": {}, "f:k0": {}, "f:k1": {}, "f:k2": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
}

#[test]
fn managed_fields_decode_errors_fall_back() {
    let live = created_configmap();
    // Garbage sent by a client is ignored in favour of the stored entries.
    let mut new = live.clone();
    new["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Bogus"}]);
    new["data"]["a"] = json!("2");
    update(Some(&live), &mut new, "ctl", "v1", None, cm(), T1);
    let names: Vec<String> = entries(&new).into_iter().map(|e| e.0).collect();
    assert_eq!(names, vec!["kubectl-create", "ctl"]);
    // Entries a client sends deliberately replace the stored ones.
    let mut replaced = live.clone();
    replaced["metadata"]["managedFields"] = json!([{"manager": "someone", "operation": "Update", "apiVersion": "v1",
        "time": T0, "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}]);
    update(Some(&live), &mut replaced, "ctl", "v1", None, cm(), T1);
    let names: Vec<String> = entries(&replaced).into_iter().map(|e| e.0).collect();
    assert_eq!(names, vec!["someone"]);
}

/// structured-merge-diff's `merge/nested_test.go` struct cases (untyped: objects are structs).
#[test]
fn upstream_struct_pruning_cases() {
    enum Op {
        Apply(&'static str, Value),
        Update(&'static str, Value),
    }
    use Op::{Apply as A, Update as U};
    let cases: Vec<(&str, Vec<Op>, Value)> = vec![
        (
            "struct_apply_remove_all",
            vec![
                A("default", json!({"struct": {"name": "a", "value": 1}})),
                A("default", json!({})),
            ],
            json!({}),
        ),
        (
            // Upstream stores `struct: null`; here the emptied struct is dropped.
            "struct_apply_remove_dangling",
            vec![
                A("default", json!({"struct": {"name": "a"}})),
                A("default", json!({"struct": null})),
            ],
            json!({}),
        ),
        (
            "struct_apply_update_remove_all",
            vec![
                A("default", json!({"struct": {"name": "a"}})),
                U("controller", json!({"struct": {"name": "a", "value": 1}})),
                A("default", json!({})),
            ],
            json!({"struct": {"value": 1}}),
        ),
        (
            "struct_apply_update_dict_dangling",
            vec![
                A("default", json!({"struct": {"name": "a"}})),
                U("controller", json!({"struct": {"name": "a", "value": 1}})),
                A("default", json!({"struct": {}})),
            ],
            json!({"struct": {"value": 1}}),
        ),
        (
            "struct_apply_update_dict_null",
            vec![
                A("default", json!({"struct": {"name": "a"}})),
                U("controller", json!({"struct": {"name": "a", "value": 1}})),
                A("default", json!({"struct": null})),
            ],
            json!({"struct": {"value": 1}}),
        ),
        (
            "struct_apply_update_took_over",
            vec![
                A("default", json!({"struct": {"name": "a"}})),
                U("controller", json!({"struct": {"name": "b", "value": 1}})),
                A("default", json!({"struct": null})),
            ],
            json!({"struct": {"name": "b", "value": 1}}),
        ),
    ];
    let with_meta = |body: &Value| {
        let mut obj = json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"}});
        for (k, v) in body.as_object().unwrap() {
            obj[k] = v.clone();
        }
        obj
    };
    for (name, ops, want) in cases {
        let mut live: Option<Value> = None;
        for (i, op) in ops.into_iter().enumerate() {
            let now = format!("2024-05-01T12:00:0{i}Z");
            live = Some(match op {
                A(manager, body) => {
                    let out = apply(
                        live.as_ref(),
                        &with_meta(&body),
                        manager,
                        false,
                        "v1",
                        None,
                        &now,
                    )
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                    if live.is_none() {
                        stored(out)
                    } else {
                        out
                    }
                }
                U(manager, body) => {
                    let old = live.clone().unwrap();
                    let mut new = with_meta(&body);
                    new["metadata"] = old["metadata"].clone();
                    update(Some(&old), &mut new, manager, "v1", None, None, &now);
                    new
                }
            });
        }
        let mut got = live.unwrap();
        for k in ["apiVersion", "kind", "metadata"] {
            got.as_object_mut().unwrap().shift_remove(k);
        }
        assert_eq!(got, want, "{name}");
    }
}

/// structured-merge-diff's `merge/set_test.go`, on a ConfigMap's `metadata.finalizers` (a set):
/// (name, operations as (manager, is_apply, items), final list, default's items, controller's items).
#[test]
fn upstream_set_cases() {
    type Case = (
        &'static str,
        Vec<(&'static str, bool, Vec<&'static str>)>,
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "apply_twice",
            vec![
                ("default", true, vec!["a", "c"]),
                ("default", true, vec!["a", "b", "c", "d"]),
            ],
            vec!["a", "b", "c", "d"],
            vec!["a", "b", "c", "d"],
            vec![],
        ),
        (
            "apply_update_apply_no_overlap",
            vec![
                ("default", true, vec!["a", "c"]),
                ("controller", false, vec!["a", "b", "c", "d"]),
                ("default", true, vec!["a", "aprime", "c", "cprime"]),
            ],
            vec!["a", "b", "aprime", "c", "d", "cprime"],
            vec!["a", "aprime", "c", "cprime"],
            vec!["b", "d"],
        ),
        (
            "apply_update_apply_with_overlap",
            vec![
                ("default", true, vec!["a", "c"]),
                ("controller", false, vec!["a", "b", "c", "d"]),
                ("default", true, vec!["a", "b", "c"]),
            ],
            vec!["a", "b", "c", "d"],
            vec!["a", "b", "c"],
            vec!["b", "d"],
        ),
        (
            "apply_twice_reorder",
            vec![
                ("default", true, vec!["a", "b", "c", "d"]),
                ("default", true, vec!["a", "d", "c", "b"]),
            ],
            vec!["a", "d", "c", "b"],
            vec!["a", "b", "c", "d"],
            vec![],
        ),
        (
            "apply_update_apply_reorder",
            vec![
                ("default", true, vec!["a", "b", "c", "d"]),
                ("controller", false, vec!["a", "d", "c", "b"]),
                ("default", true, vec!["a", "b", "c", "d"]),
            ],
            vec!["a", "b", "c", "d"],
            vec!["a", "b", "c", "d"],
            vec![],
        ),
        (
            "apply_twice_remove",
            vec![
                ("default", true, vec!["a", "b", "c", "d"]),
                ("default", true, vec!["a", "c"]),
            ],
            vec!["a", "c"],
            vec!["a", "c"],
            vec![],
        ),
    ];
    let owned = |obj: &Value, manager: &str, op: &str| -> Vec<String> {
        let f = fields(obj, manager, op);
        FieldSet::from_fields_v1(&f)
            .unwrap()
            .path_elements()
            .into_iter()
            .map(|p| match p.last() {
                Some(PathElement::Value(Value::String(s))) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    for (name, ops, want, want_default, want_controller) in cases {
        let mut live: Option<Value> = None;
        for (i, (manager, is_apply, items)) in ops.into_iter().enumerate() {
            let now = format!("2024-05-01T12:00:0{i}Z");
            let mut obj = configmap(Value::Null, Value::Null);
            obj["metadata"]["finalizers"] = json!(items);
            live = Some(if is_apply {
                let out = ok_apply(live.as_ref(), &obj, manager, cm(), &now);
                if live.is_none() {
                    stored(out)
                } else {
                    out
                }
            } else {
                let old = live.clone().unwrap();
                let mut new = old.clone();
                new["metadata"]["finalizers"] = obj["metadata"]["finalizers"].clone();
                update(Some(&old), &mut new, manager, "v1", None, cm(), &now);
                new
            });
        }
        let live = live.unwrap();
        assert_eq!(live["metadata"]["finalizers"], json!(want), "{name}");
        assert_eq!(owned(&live, "default", "Apply"), want_default, "{name}");
        assert_eq!(
            owned(&live, "controller", "Update"),
            want_controller,
            "{name}"
        );
    }
}

/// Objects as creates bring them, with the type they are written under.
fn created_fixtures() -> Vec<(Value, Option<TypeRef>, &'static str)> {
    let meta = |name: &str| {
        json!({"name": name, "namespace": "default", "uid": "u-1", "creationTimestamp": T0,
               "generation": 1, "labels": {"app": "web", "a\"b": "x"},
               "annotations": {"note\n": "y", "k": ""}})
    };
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": meta("p"),
        "spec": {
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "containers": [
                {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "resources": {"requests": {"cpu": "100m"}, "limits": {}},
                 "volumeMounts": [{"name": "v", "mountPath": "/v"}], "securityContext": null},
                {"name": "d", "image": "busybox", "args": []}],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "nodeSelector": {"disk": "ssd"}, "restartPolicy": "Always", "priority": 0,
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
        },
        "status": {"phase": "Pending"}
    });
    let mut owned = pod.clone();
    owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "rs", "uid": "u-2", "controller": true}]);
    owned["metadata"]["finalizers"] = json!(["a/b", "c/d"]);
    let mut template = pod.clone();
    template["metadata"]["creationTimestamp"] = Value::Null;
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("d"),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": template["metadata"], "spec": pod["spec"]}},
        "status": {}
    });
    let event = json!({
        "apiVersion": "v1", "kind": "Event", "metadata": meta("e"),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p", "uid": "u-1",
                           "apiVersion": "v1", "resourceVersion": "7"},
        "reason": "Scheduled", "message": "Successfully assigned default/p to n1",
        "source": {"component": "default-scheduler"}, "firstTimestamp": T0, "lastTimestamp": T0,
        "count": 1, "type": "Normal", "eventTime": null, "reportingComponent": "", "reportingInstance": ""
    });
    let new_event = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("e2"),
        "eventTime": "2024-05-01T10:00:00.000000Z", "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-n1", "action": "Scheduling", "reason": "Scheduled",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}, "note": "ok", "type": "Normal"
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": meta("s"),
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}],
                 "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "type": "ClusterIP"},
        "status": {"loadBalancer": {}}
    });
    let node = json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "4"}}
    });
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm"),
                    "data": {"a": "1", "b": ""}, "binaryData": {}});
    let pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                    "metadata": {"name": "high"}, "value": 0, "globalDefault": false});
    let pc_high = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                         "metadata": {"name": "high"}, "value": 1000, "description": "x"});
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]}});
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("l"),
                       "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    let untyped = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta("w"),
                         "spec": {"list": [1, 2], "nested": {"x": null, "y": {}}, "weird \u{1}key": true}});
    vec![
        (pod.clone(), root_type("", "Pod"), "v1"),
        (owned, root_type("", "Pod"), "v1"),
        (deployment, root_type("apps", "Deployment"), "apps/v1"),
        (event, root_type("", "Event"), "v1"),
        (
            new_event,
            root_type("events.k8s.io", "Event"),
            "events.k8s.io/v1",
        ),
        (service, root_type("", "Service"), "v1"),
        (node, root_type("", "Node"), "v1"),
        (cm, root_type("", "ConfigMap"), "v1"),
        (
            pc,
            root_type("scheduling.k8s.io", "PriorityClass"),
            "scheduling.k8s.io/v1",
        ),
        (
            pc_high,
            root_type("scheduling.k8s.io", "PriorityClass"),
            "scheduling.k8s.io/v1",
        ),
        (ns, root_type("", "Namespace"), "v1"),
        (
            lease,
            root_type("coordination.k8s.io", "Lease"),
            "coordination.k8s.io/v1",
        ),
        (untyped, None, "example.com/v1"),
    ]
}

/// The create shortcut writes exactly what the general path stores, for every kind of object, and
/// leaves to the general path what it does not handle.
#[test]
fn created_fields_match_the_general_path() {
    let text = |obj: &Value| serde_json::to_vec(obj).unwrap();
    let general = |obj: &Value, ty: Option<TypeRef>, api_version: &str, manager: &str| {
        let mut o = obj.clone();
        update(None, &mut o, manager, api_version, None, ty, T1);
        o.pointer("/metadata/managedFields")
            .map(|v| serde_json::to_string(v).unwrap())
    };
    for (obj, ty, api_version) in created_fixtures() {
        for manager in ["kubectl-create", "", "we\"ird"] {
            let fast = created_entries_json(&text(&obj), manager, api_version, ty, T1);
            let fast = fast.unwrap_or_else(|| panic!("no shortcut for {obj}"));
            assert_eq!(Some(fast), general(&obj, ty, api_version, manager), "{obj}");
        }
    }
    // Duplicate list items, and objects that bring their own managed fields, take the general path.
    let (mut dup, ty, _) = created_fixtures().remove(0);
    dup["spec"]["containers"][1]["name"] = json!("c");
    assert_eq!(created_entries_json(&text(&dup), "m", "v1", ty, T1), None);
    let (mut own, ty, _) = created_fixtures().remove(0);
    own["metadata"]["managedFields"] = json!([]);
    assert_eq!(created_entries_json(&text(&own), "m", "v1", ty, T1), None);
    // Nothing set at all: no entry (the general path stores none).
    let bare = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    assert_eq!(
        created_entries_json(&text(&bare), "m", "v1", cm(), T1),
        None
    );
    assert_eq!(general(&bare, cm(), "v1", "m"), None);
}
