//! API discovery: `/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]`, in the legacy form and in the
//! aggregated form (`apidiscovery.k8s.io/v2`) that kubectl prefers. Built once from the resource table.

use bytes::Bytes;
use serde_json::{json, Value};
use skiff_api::resources::{self, Resource, RESOURCES};
use std::sync::OnceLock;

/// The Content-Type aggregated discovery must carry, or kubectl ignores the body.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the client asked for aggregated discovery.
pub fn wants_aggregated(accept: Option<&str>) -> bool {
    accept.unwrap_or("").split(',').any(|item| {
        let params: Vec<&str> = item.split(';').skip(1).map(str::trim).collect();
        params.contains(&"as=APIGroupDiscoveryList")
            && params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
    })
}

fn resource_discovery(r: &Resource) -> Value {
    let mut v = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    let o = v.as_object_mut().expect("object");
    if !r.short_names.is_empty() {
        o.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        o.insert("categories".into(), json!(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r
            .subresources
            .iter()
            .map(|s| {
                json!({"subresource": s.name, "responseKind": {"group": s.group, "version": s.version, "kind": s.kind}, "verbs": s.verbs})
            })
            .collect();
        o.insert("subresources".into(), Value::Array(subs));
    }
    v
}

fn group_discovery(group: &str, version: &str) -> Value {
    let mut res: Vec<&Resource> = resources::in_group_version(group, version).collect();
    res.sort_by_key(|r| r.plural);
    let mut item = json!({
        "metadata": {"creationTimestamp": null},
        "versions": [{"version": version, "resources": res.iter().map(|r| resource_discovery(r)).collect::<Vec<_>>(), "freshness": "Current"}]
    });
    if !group.is_empty() {
        item["metadata"]["name"] = json!(group);
    }
    item
}

fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = resources::groups()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, v)| group_discovery(g, v))
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn legacy_group(group: &str, version: &str) -> Value {
    let gv = format!("{group}/{version}");
    json!({"name": group, "versions": [{"groupVersion": gv, "version": version}], "preferredVersion": {"groupVersion": gv, "version": version}})
}

/// `APIResourceList` of one group/version, with subresources as `pods/status` entries.
fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut out = Vec::new();
    let mut res: Vec<&Resource> = resources::in_group_version(group, version).collect();
    res.sort_by_key(|r| r.plural);
    for r in res {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        out.push(e);
        for s in r.subresources {
            let mut se = json!({"name": format!("{}/{}", r.plural, s.name), "singularName": "", "namespaced": r.namespaced, "kind": s.kind, "verbs": s.verbs});
            if s.group != r.group || s.version != r.version {
                se["group"] = json!(s.group);
                se["version"] = json!(s.version);
            }
            out.push(se);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out})
}

struct Docs {
    api_aggregated: Bytes,
    apis_aggregated: Bytes,
    apis_legacy: Bytes,
}

fn docs() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let groups: Vec<Value> = resources::groups()
            .into_iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, v)| legacy_group(g, v))
            .collect();
        Docs {
            api_aggregated: enc(&aggregated(true)),
            apis_aggregated: enc(&aggregated(false)),
            apis_legacy: enc(
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            ),
        }
    })
}

fn enc(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("discovery encodes"))
}

/// `/api`: aggregated, or the legacy `APIVersions` naming the server's address.
pub fn api(aggregated: bool, server_address: &str) -> (Bytes, &'static str) {
    if aggregated {
        (docs().api_aggregated.clone(), AGGREGATED_V2)
    } else {
        let v = json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]});
        (enc(&v), "application/json")
    }
}

/// `/apis`.
pub fn apis(aggregated: bool) -> (Bytes, &'static str) {
    if aggregated {
        (docs().apis_aggregated.clone(), AGGREGATED_V2)
    } else {
        (docs().apis_legacy.clone(), "application/json")
    }
}

/// `/apis/{group}`.
pub fn group(group: &str) -> Option<Bytes> {
    let (g, v) = resources::groups()
        .into_iter()
        .find(|(g, _)| *g == group && !g.is_empty())?;
    let mut doc = legacy_group(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(enc(&doc))
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub fn group_version(group: &str, version: &str) -> Option<Bytes> {
    RESOURCES
        .iter()
        .any(|r| r.group == group && r.version == version)
        .then(|| enc(&resource_list(group, version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_accept_is_recognised() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(Some(kubectl)));
        assert!(!wants_aggregated(Some("application/json, */*")));
        assert!(!wants_aggregated(None));
    }

    #[test]
    fn pods_have_response_kind_and_short_names() {
        let v: Value = serde_json::from_slice(&api(true, "x").0).unwrap();
        let pods = &v["items"][0]["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap()
            .clone();
        assert_eq!(pods["responseKind"]["kind"], "Pod");
        assert_eq!(pods["shortNames"][0], "po");
        let l: Value = serde_json::from_slice(&group_version("apps", "v1").unwrap()).unwrap();
        assert!(l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "deployments/scale" && r["group"] == "autoscaling"));
    }
}
