use serde_json::Value;
use skiff_api::resources::RESOURCES;

use super::*;

fn doc(path: &str) -> Value {
    let bytes = group_version(path).unwrap_or_else(|| panic!("no document for {path}"));
    serde_json::from_slice(&bytes).expect("documents are JSON")
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]["schemas"]
        .get(name)
        .unwrap_or_else(|| panic!("no schema {name}"))
}

fn gvk_json(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Every `$ref` string anywhere under `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn root_lists_every_group_version_with_its_hash() {
    let root = root();
    let paths = root["paths"].as_object().unwrap();
    let expected: Vec<String> = resources::groups()
        .iter()
        .map(|(g, v)| gv_path(g, v))
        .collect();
    assert_eq!(paths.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
    for (path, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().unwrap();
        let hash = url
            .strip_prefix(&format!("/openapi/v3/{path}?hash="))
            .unwrap();
        assert_eq!(hash.len(), 128);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "{hash}"
        );
        assert_eq!(Some(hash), group_version_hash(path));
        assert_eq!(super::hash(&group_version(path).unwrap()), hash);
    }
    assert_eq!(
        serde_json::from_slice::<Value>(&root_bytes()).unwrap(),
        root
    );
}

#[test]
fn documents_are_built_once_and_shared() {
    let a = group_version("api/v1").unwrap();
    let b = group_version("/api/v1").unwrap();
    assert_eq!(a.as_ptr(), b.as_ptr());
    assert!(group_version("apis/batch/v1").is_none());
    assert!(group_version("apis/apps").is_none());
}

#[test]
fn every_resource_table_kind_has_a_schema() {
    for r in RESOURCES {
        assert!(
            schemas::is_known(r.group, r.version, r.kind),
            "no k8s-openapi type for {}/{} {}",
            r.group,
            r.version,
            r.kind
        );
    }
}

/// What kubectl's `--validate=strict` looks for: every PATCH operation of the kind's GVK lists
/// `fieldValidation` as a query parameter (kubectl checks the first it finds, in map order).
#[test]
fn every_kind_has_a_patch_with_field_validation() {
    for r in RESOURCES {
        let doc = doc(&gv_path(r.group, r.version));
        let gvk = gvk_json(r.group, r.version, r.kind);
        let patches: Vec<&Value> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|p| p.get("patch"))
            .filter(|op| op["x-kubernetes-group-version-kind"] == gvk)
            .collect();
        assert!(!patches.is_empty(), "no PATCH for {gvk}");
        for op in patches {
            let params = op["parameters"].as_array().unwrap();
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
                "PATCH {} lacks fieldValidation",
                op["operationId"]
            );
            assert_eq!(op["x-kubernetes-action"], "patch");
        }
    }
}

#[test]
fn paths_follow_kube_apiserver() {
    let core = doc("api/v1");
    let paths = &core["paths"];
    let pods = &paths["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(pods["get"]["operationId"], "listCoreV1NamespacedPod");
    assert_eq!(pods["get"]["x-kubernetes-action"], "list");
    assert_eq!(pods["post"]["operationId"], "createCoreV1NamespacedPod");
    assert_eq!(pods["delete"]["x-kubernetes-action"], "deletecollection");
    let pod = &paths["/api/v1/namespaces/{namespace}/pods/{name}"];
    for (method, action) in [
        ("get", "get"),
        ("put", "put"),
        ("patch", "patch"),
        ("delete", "delete"),
    ] {
        assert_eq!(pod[method]["x-kubernetes-action"], action);
        assert_eq!(
            pod[method]["x-kubernetes-group-version-kind"],
            gvk_json("", "v1", "Pod")
        );
    }
    let names: Vec<&str> = pod["patch"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    assert!(paths["/api/v1/pods"]["get"].is_object());
    assert!(paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"].is_object());
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"]
            ["x-kubernetes-group-version-kind"],
        gvk_json("", "v1", "Binding")
    );
    assert!(paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"].is_object());
    // Cluster-scoped kinds have no namespace segment; namespaces cannot be deleted as a collection.
    assert_eq!(
        paths["/api/v1/nodes/{name}"]["get"]["operationId"],
        "readCoreV1Node"
    );
    assert!(paths["/api/v1/namespaces"].get("delete").is_none());
    assert!(paths["/api/v1/namespaces/{name}/finalize"]["put"].is_object());

    let apps = doc("apis/apps/v1");
    let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"],
        gvk_json("autoscaling", "v1", "Scale")
    );
    assert_eq!(
        scale["patch"]["operationId"],
        "patchAppsV1NamespacedDeploymentScale"
    );
    assert_eq!(
        scale["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
    );
    let scale_schema = schema(&apps, "io.k8s.api.autoscaling.v1.Scale");
    assert_eq!(
        scale_schema["x-kubernetes-group-version-kind"],
        json!([gvk_json("autoscaling", "v1", "Scale")])
    );
    assert!(doc("apis/events.k8s.io/v1")["paths"]
        ["/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}"]["patch"]
        .is_object());
    assert!(doc("apis/scheduling.k8s.io/v1")["paths"]
        ["/apis/scheduling.k8s.io/v1/priorityclasses/{name}"]["patch"]
        .is_object());
    assert_eq!(
        doc("apis/coordination.k8s.io/v1")["paths"]
            ["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"]["get"]["tags"],
        json!(["coordination_v1"])
    );
}

#[test]
fn every_ref_resolves() {
    for (group, version) in resources::groups() {
        let doc = doc(&gv_path(group, version));
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(
            all.len() > 20,
            "{group}/{version} has only {} refs",
            all.len()
        );
        for r in all {
            let name = r
                .strip_prefix(schemas::REF_PREFIX)
                .unwrap_or_else(|| panic!("foreign ref {r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} does not resolve in {group}/{version}"
            );
        }
    }
}

#[test]
fn kinds_carry_their_gvk_and_upstream_required_lists() {
    let core = doc("api/v1");
    let pod = schema(&core, "io.k8s.api.core.v1.Pod");
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([gvk_json("", "v1", "Pod")])
    );
    assert!(
        pod.get("required").is_none(),
        "upstream does not require Pod.metadata"
    );
    let list = schema(&core, "io.k8s.api.core.v1.PodList");
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        json!([gvk_json("", "v1", "PodList")])
    );
    assert_eq!(list["required"], json!(["items"]));
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Pod"
    );
    let event_required = schema(&core, "io.k8s.api.core.v1.Event")["required"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        event_required.contains(&json!("metadata"))
            && event_required.contains(&json!("involvedObject"))
    );
    assert_eq!(
        schema(&core, "io.k8s.api.core.v1.Container")["required"],
        json!(["name"])
    );
    let events = doc("apis/events.k8s.io/v1");
    assert_eq!(
        schema(&events, "io.k8s.api.events.v1.Event")["x-kubernetes-group-version-kind"],
        json!([gvk_json("events.k8s.io", "v1", "Event")])
    );
}

#[test]
fn pod_spec_is_described_as_upstream_does() {
    let core = doc("api/v1");
    let spec = schema(&core, "io.k8s.api.core.v1.PodSpec");
    assert_eq!(spec["type"], "object");
    let containers = &spec["properties"]["containers"];
    assert!(containers["description"]
        .as_str()
        .unwrap()
        .starts_with("List of containers belonging to the pod."));
    assert_eq!(containers["type"], "array");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(spec["required"], json!(["containers"]));
    // A described reference is wrapped in allOf, the description beside it.
    let affinity = &spec["properties"]["affinity"];
    assert_eq!(
        affinity["allOf"],
        json!([{ "$ref": "#/components/schemas/io.k8s.api.core.v1.Affinity" }])
    );
    assert!(affinity.get("$ref").is_none());
    assert!(affinity["description"].is_string());
    assert_eq!(
        spec["properties"]["activeDeadlineSeconds"]["format"],
        "int64"
    );

    let ports = &schema(&core, "io.k8s.api.core.v1.Container")["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-list-type"], "map");
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    let meta = schema(&core, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    assert_eq!(
        meta["properties"]["creationTimestamp"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"
    );
    assert_eq!(
        meta["properties"]["finalizers"]["x-kubernetes-list-type"],
        "set"
    );
}

#[test]
fn scalar_schemas_have_upstream_shapes() {
    let apps = doc("apis/apps/v1");
    let time = schema(&apps, "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
    assert_eq!(
        (&time["type"], &time["format"]),
        (&json!("string"), &json!("date-time"))
    );
    let ios = schema(&apps, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assert_eq!(ios["x-kubernetes-int-or-string"], true);
    assert_eq!(ios["format"], "int-or-string");
    assert!(
        ios.get("type").is_none(),
        "kubectl explain names it IntOrString only without a type"
    );
    let quantity = schema(&apps, "io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert_eq!(
        quantity["oneOf"],
        json!([{ "type": "string" }, { "type": "number" }])
    );
    let strategy =
        &schema(&apps, "io.k8s.api.apps.v1.RollingUpdateDeployment")["properties"]["maxSurge"];
    assert_eq!(
        strategy["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    );
}

#[test]
fn every_extension_names_an_existing_property() {
    let docs: Vec<Value> = resources::groups()
        .iter()
        .map(|(g, v)| doc(&gv_path(g, v)))
        .collect();
    for (schema_name, property) in extensions::all_targets() {
        let found = docs
            .iter()
            .any(|d| match d["components"]["schemas"].get(schema_name) {
                Some(s) => property.is_empty() || s["properties"].get(property).is_some(),
                None => false,
            });
        assert!(
            found,
            "extension target {schema_name}.{property} does not exist"
        );
    }
}

#[test]
fn documents_stay_small() {
    let total: usize = resources::groups()
        .iter()
        .map(|(g, v)| group_version(&gv_path(g, v)).unwrap().len())
        .sum();
    assert!(total < 4 << 20, "the v3 documents take {total} bytes");
}

/// Writes the documents to `$SKIFF_OPENAPI_DUMP/` for a look by eye (`SKIFF_OPENAPI_DUMP=/tmp/x cargo test dump`).
#[test]
fn dump() {
    let Some(dir) = std::env::var_os("SKIFF_OPENAPI_DUMP") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("root.json"), root_bytes()).unwrap();
    for (g, v) in resources::groups() {
        let path = gv_path(g, v);
        std::fs::write(
            dir.join(format!("{}.json", path.replace('/', "__"))),
            group_version(&path).unwrap(),
        )
        .unwrap();
    }
}
