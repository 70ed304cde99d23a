//! `pods/binding`: assigning a stored pod to a node (upstream `BindingREST.assignPod`).
//!
//! Every scheduled pod is written once more by its binding, so the write is made on the stored JSON:
//! only the pod's metadata (without its managed fields) and status are decoded and encoded again; the
//! spec gets its `nodeName` spliced in and everything else is copied as stored. The result is what
//! decoding the whole pod, changing it and encoding it would give, byte for byte (the stored JSON is
//! `serde_json`'s compact encoding, which decoding and encoding again reproduces); the tests hold it to
//! that.

use crate::jsonscan;
use serde_json::{json, Map, Value};
use skiff_api::status::ApiError;

/// The parts of a Binding body the binding reads (upstream reads the same from the decoded
/// `api.Binding`).
#[derive(Debug, Default, PartialEq)]
pub struct BindingBody {
    /// `metadata.name`, which must match the pod's name when set.
    pub name: String,
    /// `target.name`: the node.
    pub target: String,
    /// `metadata.uid` and `metadata.resourceVersion`, preconditions on the pod when not empty.
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// `metadata.annotations`, copied onto the pod.
    pub annotations: Option<Map<String, Value>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct TypedBinding {
    metadata: TypedMeta,
    target: TypedTarget,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TypedMeta {
    name: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    annotations: Option<Map<String, Value>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct TypedTarget {
    name: Option<String>,
}

impl BindingBody {
    /// Straight from a JSON body (every scheduler's binding), without building a JSON value; `None`
    /// where the body is not a JSON object whose fields have the types this reads (then
    /// [`BindingBody::from_value`] on the decoded body gives the answer, errors included).
    pub fn from_json(body: &[u8]) -> Option<BindingBody> {
        // serde reads a struct from a JSON array too; the value path reads objects only.
        let (top, nested) = jsonscan::members_two_levels(body, &["metadata", "target"])?;
        for (i, name) in ["metadata", "target"].into_iter().enumerate() {
            if jsonscan::member(&top, name).is_some() && nested[i].is_none() {
                return None;
            }
        }
        let typed: TypedBinding = serde_json::from_slice(body).ok()?;
        // The value path's `meta`/`pointer` reads also accept a null metadata or target, which the
        // typed decode turns into its defaults too.
        Some(BindingBody {
            name: typed.metadata.name.unwrap_or_default(),
            target: typed.target.name.unwrap_or_default(),
            uid: typed.metadata.uid,
            resource_version: typed.metadata.resource_version,
            annotations: typed.metadata.annotations,
        })
    }

    /// From a decoded body (any encoding): fields of other types than expected count as absent.
    pub fn from_value(binding: &Value) -> BindingBody {
        let meta = binding.get("metadata");
        let text = |field: &str| {
            meta.and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        BindingBody {
            name: text("name").unwrap_or_default(),
            target: binding
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            uid: text("uid"),
            resource_version: text("resourceVersion"),
            annotations: meta
                .and_then(|m| m.get("annotations"))
                .and_then(Value::as_object)
                .cloned(),
        }
    }
}

/// What a binding asks of the pod.
pub struct Assignment<'a> {
    /// The pod's name, for messages.
    pub name: &'a str,
    /// `target.name`: the node.
    pub node: &'a str,
    /// The Binding's annotations, copied onto the pod (upstream `setPodHostAndAnnotations`).
    pub annotations: Option<&'a Map<String, Value>>,
    /// The Binding's `metadata.uid` and `metadata.resourceVersion`: preconditions on the pod.
    pub want_uid: Option<&'a str>,
    pub want_rv: Option<&'a str>,
    /// The PodScheduled condition's transition time.
    pub now: &'a str,
}

/// The stored pod `raw` (at revision `rev`) assigned to the node: `spec.nodeName` set, the Binding's
/// annotations added, the `PodScheduled=True` condition replaced in place or appended (upstream
/// `UpdatePodCondition`, which keeps the transition time of a condition that was already true).
/// Refused as upstream refuses: a failed precondition, a pod being deleted, already assigned or still
/// gated.
pub fn assign(raw: &[u8], rev: i64, a: &Assignment<'_>) -> Result<Vec<u8>, ApiError> {
    let broken = || ApiError::internal(format!("stored pod {} is not a JSON object", a.name));
    // The metadata's members are found in the same pass as the object's.
    let (members, nested) = jsonscan::members_two_levels(raw, &["metadata"]).ok_or_else(broken)?;
    let meta_range = jsonscan::member(&members, "metadata")
        .filter(|r| raw[r.start] == b'{')
        .ok_or_else(broken)?
        .clone();
    let meta_members = nested[0].as_ref().ok_or_else(broken)?;
    let spec_range = jsonscan::member(&members, "spec")
        .filter(|r| raw[r.start] == b'{')
        .ok_or_else(broken)?
        .clone();

    // Metadata without its managed fields, which are copied back as stored.
    let meta_raw = &raw[meta_range.clone()];
    let managed = jsonscan::member(meta_members, "managedFields")
        .map(|r| r.start - meta_range.start..r.end - meta_range.start);
    let mut meta: Value = match &managed {
        Some(r) => serde_json::from_slice(&jsonscan::replace_range(meta_raw, r.clone(), b"null")),
        None => serde_json::from_slice(meta_raw),
    }
    .map_err(|_| broken())?;
    let meta_str = |field: &str| meta.get(field).and_then(Value::as_str).unwrap_or("");
    let rv = rev.to_string();
    for (label, want, have) in [
        ("UID", a.want_uid, meta_str("uid")),
        ("ResourceVersion", a.want_rv, rv.as_str()),
    ] {
        if let Some(want) = want.filter(|w| *w != have) {
            return Err(ApiError::conflict(
                "",
                "pods",
                a.name,
                &format!("Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"),
            ));
        }
    }
    let refuse = |why: String| Err(ApiError::conflict("", "pods/binding", a.name, &why));
    if !meta_str("deletionTimestamp").is_empty() {
        return refuse(format!(
            "pod {} is being deleted, cannot be assigned to a host",
            a.name
        ));
    }

    // The spec: only `nodeName` and `schedulingGates` are read.
    let spec_raw = &raw[spec_range.clone()];
    let spec_members = jsonscan::top_level_members(spec_raw).ok_or_else(broken)?;
    let spec_field = |key: &str| -> Result<Option<Value>, ApiError> {
        jsonscan::member(&spec_members, key)
            .map(|r| serde_json::from_slice(&spec_raw[r.clone()]).map_err(|_| broken()))
            .transpose()
    };
    let node_name = spec_field("nodeName")?;
    let current = node_name.as_ref().and_then(Value::as_str).unwrap_or("");
    if !current.is_empty() {
        return refuse(format!(
            "pod {} is already assigned to node \"{current}\"",
            a.name
        ));
    }
    if spec_field("schedulingGates")?
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty())
    {
        return refuse(format!(
            "pod {} has non-empty .spec.schedulingGates",
            a.name
        ));
    }
    let node_json = serde_json::to_vec(a.node).expect("strings encode");
    let spec = match jsonscan::member(&spec_members, "nodeName") {
        // Set where it is, as an insert into the decoded map would.
        Some(r) => jsonscan::replace_range(spec_raw, r.clone(), &node_json),
        None => jsonscan::with_last_member(spec_raw, b"nodeName", &node_json),
    };

    // The metadata changes if the Binding has annotations, or if it came from the watch cache (whose
    // copy carries the resourceVersion, which is never stored).
    let obj = meta.as_object_mut().ok_or_else(broken)?;
    let had_server_fields =
        obj.shift_remove("resourceVersion").is_some() | obj.shift_remove("selfLink").is_some();
    let annotations = a.annotations.filter(|m| !m.is_empty());
    let new_meta = match (annotations, had_server_fields) {
        (None, false) => None,
        (annotations, _) => {
            if let Some(annotations) = annotations {
                let pod_annotations = object_member(obj, "annotations");
                for (k, v) in annotations {
                    if let Some(v) = v.as_str() {
                        pod_annotations.insert(k.clone(), json!(v));
                    }
                }
            }
            let mut bytes = serde_json::to_vec(&meta).expect("JSON values encode");
            if let Some(stored) = &managed {
                if let Some(r) = jsonscan::find_member(&bytes, "managedFields") {
                    bytes = jsonscan::replace_range(&bytes, r, &meta_raw[stored.clone()]);
                }
            }
            Some(bytes)
        }
    };

    // The PodScheduled condition.
    let mut status = match jsonscan::member(&members, "status") {
        Some(r) => serde_json::from_slice(&raw[r.clone()]).map_err(|_| broken())?,
        None => Value::Object(Map::new()),
    };
    if !status.is_object() {
        status = Value::Object(Map::new());
    }
    let status_obj = status.as_object_mut().expect("made an object above");
    if !status_obj.get("conditions").is_some_and(Value::is_array) {
        status_obj.insert("conditions".into(), json!([]));
    }
    let conditions = status_obj
        .get_mut("conditions")
        .and_then(Value::as_array_mut)
        .expect("conditions is an array");
    set_pod_scheduled(conditions, a.now);
    let status = serde_json::to_vec(&status).expect("JSON values encode");

    // The pod again, member by member, with the three changed ones in place (a missing status last).
    let mut out = Vec::with_capacity(raw.len() + 256);
    out.push(b'{');
    let mut wrote_status = false;
    for (i, (key, range)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":");
        match *key {
            b"metadata" if new_meta.is_some() && *range == meta_range => {
                out.extend_from_slice(new_meta.as_deref().expect("checked"))
            }
            b"spec" if *range == spec_range => out.extend_from_slice(&spec),
            b"status" => {
                out.extend_from_slice(&status);
                wrote_status = true;
            }
            _ => out.extend_from_slice(&raw[range.clone()]),
        }
    }
    if !wrote_status {
        if !members.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"status\":");
        out.extend_from_slice(&status);
    }
    out.push(b'}');
    Ok(out)
}

/// Upstream's `UpdatePodCondition` for `PodScheduled=True`: an existing PodScheduled condition is
/// replaced where it is (keeping its transition time if it was already true), otherwise appended.
fn set_pod_scheduled(conditions: &mut Vec<Value>, now: &str) {
    let mut condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                               "lastTransitionTime": now});
    match conditions.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(old) => {
            if old["status"] == "True" {
                condition["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
            *old = condition;
        }
        None => conditions.push(condition),
    }
}

/// The member `key` of `obj` as an object, made one if it is missing or not an object.
fn object_member<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("made an object above")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding body read without a JSON value reads as the value path reads it; bodies the typed
    /// decode refuses (other types, null objects, duplicate members) fall back to the value path.
    #[test]
    fn binding_bodies_read_as_the_value_path_reads_them() {
        let bodies = [
            r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p","uid":"u1","resourceVersion":"7","annotations":{"a":"b","n":1}},"target":{"kind":"Node","name":"n1"},"extra":[1]}"#,
            r#"{"metadata":{"name":"p"},"target":{"name":"n1"}}"#,
            r#"{"target":{"name":"n1"}}"#,
            r#"{"metadata":{"name":"p","uid":null,"annotations":null},"target":{"name":null}}"#,
            r#"{}"#,
        ];
        for body in bodies {
            let typed = BindingBody::from_json(body.as_bytes()).expect(body);
            let value: Value = serde_json::from_str(body).unwrap();
            assert_eq!(typed, BindingBody::from_value(&value), "{body}");
        }
        let refused = [
            r#"{"metadata":{"name":"p","uid":5},"target":{"name":"n1"}}"#,
            r#"{"metadata":null,"target":{"name":"n1"}}"#,
            r#"{"metadata":{"name":"p"},"target":{"name":"n1"},"target":{"name":"n2"}}"#,
            r#"{"metadata":{"annotations":["x"]},"target":{"name":"n1"}}"#,
            r#"{"metadata":{"name":"p"},"target":["Node","n1"]}"#,
            r#"{"metadata":["p"],"target":{"name":"n1"}}"#,
            r#"[]"#,
        ];
        for body in refused {
            assert_eq!(BindingBody::from_json(body.as_bytes()), None, "{body}");
        }
        let last_wins: Value = serde_json::from_str(refused[2]).unwrap();
        assert_eq!(BindingBody::from_value(&last_wins).target, "n2");
        let odd: Value = serde_json::from_str(refused[0]).unwrap();
        assert_eq!(BindingBody::from_value(&odd).uid, None);
    }

    /// The binding as decoding the whole pod would make it: the reference for the byte-level path.
    fn assign_decoded(raw: &[u8], a: &Assignment<'_>) -> Vec<u8> {
        let mut pod: Value = serde_json::from_slice(raw).unwrap();
        let obj = pod.as_object_mut().unwrap();
        let meta = object_member(obj, "metadata");
        meta.shift_remove("resourceVersion");
        meta.shift_remove("selfLink");
        object_member(obj, "spec").insert("nodeName".into(), json!(a.node));
        if let Some(annotations) = a.annotations.filter(|m| !m.is_empty()) {
            let pod_annotations = object_member(object_member(obj, "metadata"), "annotations");
            for (k, v) in annotations {
                if let Some(v) = v.as_str() {
                    pod_annotations.insert(k.clone(), json!(v));
                }
            }
        }
        let status = object_member(obj, "status");
        if !status.get("conditions").is_some_and(Value::is_array) {
            status.insert("conditions".into(), json!([]));
        }
        set_pod_scheduled(status["conditions"].as_array_mut().unwrap(), a.now);
        serde_json::to_vec(&pod).unwrap()
    }

    fn pods() -> Vec<Value> {
        let base = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u-1", "labels": {"a": "b"},
                         "managedFields": [{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1",
                                            "fieldsV1": {"f:spec": {"f:containers": {}}}}]},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": 0.5}}}],
                     "priority": 0}});
        let mut with_status = base.clone();
        with_status["status"] = json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": "t0"},
            {"type": "Other", "status": "True"}]});
        let mut scheduled_before = base.clone();
        scheduled_before["status"] = json!({"conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"}]});
        let mut empty_node = base.clone();
        empty_node["spec"]["nodeName"] = json!("");
        empty_node["metadata"]["annotations"] = json!({"x": "y"});
        let mut status_first = json!({"status": {}});
        for (k, v) in base.as_object().unwrap() {
            status_first[k] = v.clone();
        }
        let mut no_managed = base.clone();
        no_managed["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        // As the watch cache holds it: the resourceVersion first in the metadata.
        let mut cached = json!({});
        for (k, v) in base.as_object().unwrap() {
            cached[k] = v.clone();
        }
        let mut meta = json!({"resourceVersion": "5"});
        for (k, v) in base["metadata"].as_object().unwrap() {
            meta[k] = v.clone();
        }
        cached["metadata"] = meta;
        vec![
            cached,
            base,
            with_status,
            scheduled_before,
            empty_node,
            status_first,
            no_managed,
        ]
    }

    #[test]
    fn binding_bytes_equal_decoding_the_whole_pod() {
        let mut annotations = Map::new();
        annotations.insert("scheduler.skiff.dev/explain".into(), json!("{\"n1\":1}"));
        for pod in pods() {
            let raw = serde_json::to_vec(&pod).unwrap();
            for annotations in [None, Some(&annotations)] {
                let a = Assignment {
                    name: "p",
                    node: "node-\"1\"",
                    annotations,
                    want_uid: Some("u-1"),
                    want_rv: Some("5"),
                    now: "2026-11-28T05:00:00Z",
                };
                let fast = assign(&raw, 5, &a).unwrap();
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(assign_decoded(&raw, &a)).unwrap()
                );
            }
        }
    }

    #[test]
    fn binding_refusals() {
        let pod = pods().remove(0);
        let a = |want_uid, want_rv| Assignment {
            name: "p",
            node: "n1",
            annotations: None,
            want_uid,
            want_rv,
            now: "t",
        };
        let raw = serde_json::to_vec(&pod).unwrap();
        let err = assign(&raw, 5, &a(Some("other"), None)).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains(
                "Precondition failed: UID in precondition: other, UID in object meta: u-1"
            ),
            "{}",
            err.message
        );
        let err = assign(&raw, 5, &a(None, Some("4"))).unwrap_err();
        assert!(
            err.message
                .contains("ResourceVersion in precondition: 4, ResourceVersion in object meta: 5"),
            "{}",
            err.message
        );

        let mut assigned = pod.clone();
        assigned["spec"]["nodeName"] = json!("n0");
        let err = assign(&serde_json::to_vec(&assigned).unwrap(), 5, &a(None, None)).unwrap_err();
        assert!(
            err.message
                .contains("pod p is already assigned to node \"n0\""),
            "{}",
            err.message
        );

        let mut gated = pod.clone();
        gated["spec"]["schedulingGates"] = json!([{"name": "g"}]);
        let err = assign(&serde_json::to_vec(&gated).unwrap(), 5, &a(None, None)).unwrap_err();
        assert!(
            err.message.contains("has non-empty .spec.schedulingGates"),
            "{}",
            err.message
        );

        let mut deleting = pod;
        deleting["metadata"]["deletionTimestamp"] = json!("t");
        let err = assign(&serde_json::to_vec(&deleting).unwrap(), 5, &a(None, None)).unwrap_err();
        assert!(err.message.contains("is being deleted"), "{}", err.message);
    }
}
