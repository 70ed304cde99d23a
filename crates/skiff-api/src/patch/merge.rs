//! JSON merge patch (RFC 7386), used by `kubectl label`, `annotate`, `scale` and every client that sends
//! `application/merge-patch+json`.
//!
//! An object in the patch is merged key by key: `null` deletes the key, objects merge recursively, every
//! other value (arrays included) replaces. A value placed where there was no object to merge into has its
//! `null` members removed (recursively, also inside arrays), as evanphx/json-patch v4 (the library
//! kube-apiserver uses) does. Written by hand: it is a dozen lines, and the `json-patch` crate differs in
//! these details (it keeps nulls inside arrays) and in its error texts.

use super::PatchError;
use serde_json::{Map, Value};

/// Applies `patch` to `target` (RFC 7386 `MergePatch`). A patch that is not an object replaces the target.
pub fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = pruned(patch);
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(doc) = target else {
        unreachable!()
    };
    merge_object(doc, patch);
}

/// Applies a merge patch as kube-apiserver does: the patch must be a JSON object, anything else is
/// `Invalid JSON Patch` (400).
pub fn apply_strict(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_object() {
        return Err(PatchError::BadRequest("Invalid JSON Patch".to_string()));
    }
    apply(target, patch);
    Ok(())
}

fn merge_object(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.shift_remove(k);
            continue;
        }
        match (doc.get_mut(k), v) {
            (Some(cur @ Value::Object(_)), Value::Object(pv)) => {
                let Value::Object(cur) = cur else {
                    unreachable!()
                };
                merge_object(cur, pv);
            }
            (Some(cur), _) => *cur = pruned(v),
            (None, _) => {
                doc.insert(k.clone(), pruned(v));
            }
        }
    }
}

/// A copy of `v` without `null` object members (at any depth; array items that are `null` stay).
fn pruned(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), pruned(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(pruned).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (doc, patch, want) in cases {
            let mut d = doc.clone();
            apply(&mut d, &patch);
            assert_eq!(d, want, "doc {doc} patch {patch}");
        }
    }

    #[test]
    fn kubectl_label_annotate_scale() {
        let mut pod = json!({"metadata": {"name": "web", "labels": {"app": "web", "old": "x"}}, "spec": {"replicas": 1}});
        apply(
            &mut pod,
            &json!({"metadata": {"labels": {"tier": "front", "old": null}}}),
        );
        assert_eq!(
            pod["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        apply(&mut pod, &json!({"metadata": {"annotations": {"a": "1"}}}));
        assert_eq!(pod["metadata"]["annotations"], json!({"a": "1"}));
        apply(&mut pod, &json!({"spec": {"replicas": 3}}));
        assert_eq!(pod["spec"]["replicas"], 3);
        // Key order is kept; new keys go last.
        assert_eq!(
            serde_json::to_string(&pod["metadata"]).unwrap(),
            r#"{"name":"web","labels":{"app":"web","tier":"front"},"annotations":{"a":"1"}}"#
        );
        // Nulls inside new values are pruned, also inside arrays (evanphx v4 behaviour).
        apply(&mut pod, &json!({"x": [{"a": null, "b": 1}, null]}));
        assert_eq!(pod["x"], json!([{"b": 1}, null]));
    }

    #[test]
    fn strict_rejects_non_objects() {
        let mut d = json!({"a": 1});
        for p in [json!(null), json!([1]), json!("x"), json!(3)] {
            assert_eq!(
                apply_strict(&mut d, &p),
                Err(PatchError::BadRequest("Invalid JSON Patch".into()))
            );
        }
        assert_eq!(d, json!({"a": 1}));
        apply_strict(&mut d, &json!({"b": 2})).unwrap();
        assert_eq!(d, json!({"a": 1, "b": 2}));
    }
}
