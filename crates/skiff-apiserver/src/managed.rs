//! `metadata.managedFields` bookkeeping for non-apply writes: each manager's entry records the time of its
//! last write and the fields it set (`fieldsV1`).
//!
//! Lists are recorded as a whole here; server-side apply refines entries with list keys.

use serde_json::{json, Map, Value};

/// Server-owned metadata that no manager owns.
const SERVER_FIELDS: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// Records a write by `manager` into `new`'s managedFields.
pub fn record(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    subresource: Option<&str>,
) {
    if manager.is_empty() {
        return;
    }
    let mut set = Map::new();
    changed_fields(old.map(strip), &strip(new), &mut set, true);
    let mut entries: Vec<Value> = old
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let sub = subresource.unwrap_or("");
    let time = crate::registry::now();
    let pos = entries.iter().position(|e| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some(operation)
            && e.get("subresource").and_then(Value::as_str).unwrap_or("") == sub
    });
    if set.is_empty() && pos.is_none() {
        if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            if !entries.is_empty() {
                m.insert("managedFields".into(), Value::Array(entries));
            }
        }
        return;
    }
    let mut fields = pos
        .and_then(|p| {
            entries[p]
                .get("fieldsV1")
                .and_then(Value::as_object)
                .cloned()
        })
        .unwrap_or_default();
    merge_sets(&mut fields, &set);
    let mut entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if !sub.is_empty() {
        entry
            .as_object_mut()
            .expect("object")
            .insert("subresource".into(), json!(sub));
    }
    match pos {
        Some(p) => entries[p] = entry,
        None => entries.push(entry),
    }
    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("managedFields".into(), Value::Array(entries));
    }
}

fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("apiVersion");
        o.remove("kind");
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in SERVER_FIELDS {
                m.remove(*f);
            }
            m.remove("name");
            m.remove("namespace");
        }
    }
    v
}

/// Adds to `out` the `f:` paths of the leaves of `new` that differ from `old` (all of them without `old`).
fn changed_fields(old: Option<Value>, new: &Value, out: &mut Map<String, Value>, _top: bool) {
    let Value::Object(n) = new else { return };
    for (k, v) in n {
        let ov = old.as_ref().and_then(|o| o.get(k)).cloned();
        if ov.as_ref() == Some(v) {
            continue;
        }
        let key = format!("f:{k}");
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                let mut child = Map::new();
                changed_fields(ov, v, &mut child, false);
                if !child.is_empty() {
                    child.insert(".".into(), json!({}));
                    out.insert(key, Value::Object(child));
                }
            }
            _ => {
                out.insert(key, json!({}));
            }
        }
    }
}

fn merge_sets(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_sets(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}
