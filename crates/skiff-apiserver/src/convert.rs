//! Conversions between the stored form of an object and the form a request names: events.k8s.io/v1
//! Events are stored as core/v1 Events (as upstream stores both as one resource), and the `scale`
//! subresource presents `spec.replicas` as an autoscaling/v1 `Scale`.

use crate::decode::{typed, FieldValidation};
use serde_json::{json, Map, Value};
use skiff_api::labels::LabelSelector;
use skiff_api::resources::{self, Resource};
use skiff_api::ApiError;

/// (events.k8s.io/v1 name, core/v1 name) of the fields that differ.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

pub fn needs_conversion(r: &Resource) -> bool {
    r.group == "events.k8s.io"
}

/// The resource whose storage holds `r`'s objects (with its own kind and version).
pub fn storage_resource(r: &'static Resource) -> &'static Resource {
    if needs_conversion(r) {
        resources::find("", "v1", "events").expect("core events are served")
    } else {
        r
    }
}

fn rename(
    obj: Value,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
    api_version: &str,
) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!("Event"));
    out.insert("apiVersion".into(), json!(api_version));
    let pairs: Vec<(&str, &str)> = pairs.collect();
    for (k, v) in std::mem::take(&mut m) {
        if k == "kind" || k == "apiVersion" {
            continue;
        }
        let name = pairs
            .iter()
            .find(|(from, _)| *from == k)
            .map(|(_, to)| to.to_string())
            .unwrap_or(k);
        out.insert(name, v);
    }
    Value::Object(out)
}

/// An object as the request's resource presents it.
pub fn for_output(r: &Resource, obj: Value) -> Value {
    if needs_conversion(r) {
        rename(
            obj,
            EVENT_FIELDS.iter().map(|(new, old)| (*old, *new)),
            "events.k8s.io/v1",
        )
    } else {
        obj
    }
}

/// A request body in the storage form: events.k8s.io/v1 Events are checked against their own schema and
/// converted to core/v1. Returns the storage resource, the object and warnings.
pub fn for_storage(
    r: &'static Resource,
    obj: Value,
    fv: FieldValidation,
) -> Result<(&'static Resource, Value, Vec<String>), ApiError> {
    if !needs_conversion(r) {
        return Ok((r, obj, Vec::new()));
    }
    let (ev, warnings) = typed::<k8s_openapi::api::events::v1::Event>(r, obj, fv)?;
    let v = serde_json::to_value(ev).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        storage_resource(r),
        rename(v, EVENT_FIELDS.iter().copied(), "v1"),
        warnings,
    ))
}

/// The autoscaling/v1 Scale of a Deployment or ReplicaSet.
pub fn scale_of(obj: &Value) -> Value {
    let m = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut meta = Map::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = m.get(f) {
            meta.insert(f.into(), v.clone());
        }
    }
    let selector = obj
        .pointer("/spec/selector")
        .and_then(|s| LabelSelector::from_metav1(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0), "selector": selector},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_convert_both_ways() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "count": 2});
        let r = resources::find("events.k8s.io", "v1", "events").unwrap();
        let out = for_output(r, core);
        assert_eq!(out["apiVersion"], "events.k8s.io/v1");
        assert_eq!(out["regarding"]["name"], "p");
        assert_eq!(out["note"], "hi");
        assert_eq!(out["deprecatedCount"], 2);
        let (res, back, _) = for_storage(r, out, FieldValidation::Strict).unwrap();
        assert_eq!(res.group, "");
        assert_eq!(back["involvedObject"]["name"], "p");
        assert_eq!(back["message"], "hi");
        assert_eq!(back["apiVersion"], "v1");
    }
}
