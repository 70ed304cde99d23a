//! JSON patch (RFC 6902), used by `kubectl rollout undo`, `kubectl patch --type=json` and clients that
//! send `application/json-patch+json` (the Python client for list bodies).
//!
//! Operations `add`, `remove`, `replace`, `move`, `copy`, `test`; paths are JSON pointers (RFC 6901,
//! `~1` is `/`, `~0` is `~`), `-` appends to an array. Application is atomic: on any error the target is
//! left unchanged.
//!
//! Semantics and messages are those of `gopkg.in/evanphx/json-patch.v4`, which kube-apiserver uses, down
//! to its leniencies: `replace` of a missing object member adds it, negative array indices count from
//! the end, `copy` of a missing member copies `null`, `test` of a missing member against `null`
//! succeeds, and a whole-document `replace` with a scalar is a no-op. Errors read like
//! `add operation does not apply: doc is missing path: "/spec/foo/bar": missing value`. Written by hand
//! because the `json-patch` crate is strict RFC with different messages.

use super::PatchError;
use serde_json::{Map, Value};

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";
const TEST_FAILED: &str = "test failed";

/// Applies the JSON patch `patch` (an array of operations) to `target`; on error `target` is unchanged.
///
/// A patch that is not an array of objects is a `BadRequest` (upstream's decode error, e.g.
/// `json: cannot unmarshal object into Go value of type jsonpatch.Patch`); a failing operation is
/// `Unprocessable`.
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops: &[Value] = match patch {
        Value::Null => &[],
        Value::Array(ops) => ops,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                go_type(other)
            )))
        }
    };
    for op in ops {
        if !op.is_object() && !op.is_null() {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                go_type(op)
            )));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    let mut doc = target.clone();
    for op in ops {
        apply_op(&mut doc, op).map_err(PatchError::Unprocessable)?;
    }
    *target = doc;
    Ok(())
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string field of an operation: `Err` carries upstream's error for a missing or mistyped field.
fn str_field<'a>(op: &'a Value, name: &str, missing: &str) -> Result<&'a str, String> {
    match op.get(name) {
        None | Some(Value::Null) => Err(format!("{missing}: {MISSING}")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            go_type(other)
        )),
    }
}

fn path_of(op: &Value) -> Result<&str, String> {
    str_field(op, "path", "operation missing path field")
}

fn from_of(op: &Value) -> Result<&str, String> {
    str_field(op, "from", "operation, missing from field")
}

/// The operation's `value`; a missing value counts as `null`, as upstream's lazy nodes do.
fn value_of(op: &Value) -> Value {
    op.get("value").cloned().unwrap_or(Value::Null)
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    match kind {
        "add" => {
            let path = path_of(op)
                .map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
            })?;
            add(con, &key, value_of(op))
                .map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let path = path_of(op)
                .map_err(|_| format!("remove operation failed to decode path: {MISSING}"))?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                )
            })?;
            remove(con, &key)
                .map(drop)
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            let path =
                path_of(op).map_err(|e| format!("replace operation failed to decode path: {e}"))?;
            if path.is_empty() {
                // Upstream replaces the whole document only with an object or an array; with anything
                // else its error wraps a nil error, which is no error at all.
                let v = value_of(op);
                if v.is_object() || v.is_array() {
                    *doc = v;
                }
                return Ok(());
            }
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
            })?;
            if get(con, &key).is_err() {
                return Err(format!(
                    "replace operation does not apply: doc is missing key: {path}: {MISSING}"
                ));
            }
            set(con, &key, value_of(op))
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "move" => {
            let from =
                from_of(op).map_err(|e| format!("move operation failed to decode from: {e}"))?;
            let (con, key) = find_object(doc, from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            get(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let val =
                remove(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let path =
                path_of(op).map_err(|e| format!("move operation failed to decode path: {e}"))?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            add(con, &key, val).map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "test" => {
            let path =
                path_of(op).map_err(|e| format!("test operation failed to decode path: {e}"))?;
            let want = value_of(op);
            let failed = || format!("testing value {path} failed: {TEST_FAILED}");
            if path.is_empty() {
                return if *doc == want { Ok(()) } else { Err(failed()) };
            }
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: {MISSING}")
            })?;
            let got =
                get(con, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            let got = got.cloned().unwrap_or(Value::Null);
            if got == want {
                Ok(())
            } else {
                Err(failed())
            }
        }
        "copy" => {
            let from =
                from_of(op).map_err(|e| format!("copy operation failed to decode from: {e}"))?;
            let (con, key) = find_object(doc, from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            let val = get(con, &key)
                .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
                .cloned()
                .unwrap_or(Value::Null);
            let path = path_of(op)
                .map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
            let (con, key) = find_object(doc, path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            add(con, &key, val).map_err(|e| format!("error while adding value during copy: {e}"))
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// RFC 6901 unescaping in one pass: `~1` → `/`, `~0` → `~`.
fn decode_key(k: &str) -> String {
    if !k.contains('~') {
        return k.to_string();
    }
    let mut out = String::with_capacity(k.len());
    let mut chars = k.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    out.push('/');
                    continue;
                }
                Some('0') => {
                    chars.next();
                    out.push('~');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// The container (object or array) holding the last path segment, and that segment decoded
/// (upstream `findObject`). `None` when the path has no `/` or an intermediate step is missing, `null`
/// or a scalar.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut cur = doc;
    for part in &split[1..split.len() - 1] {
        let key = decode_key(part);
        let next = match cur {
            Value::Object(m) => m.get_mut(&key)?,
            Value::Array(a) => {
                let i = resolve_index(atoi(&key).ok()?, a.len())?;
                a.get_mut(i)?
            }
            _ => return None,
        };
        if !next.is_object() && !next.is_array() {
            return None;
        }
        cur = next;
    }
    if !cur.is_object() && !cur.is_array() {
        return None;
    }
    Some((cur, decode_key(split[split.len() - 1])))
}

/// `strconv.Atoi`, with Go's error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing \"{s}\": invalid syntax"));
    }
    s.parse()
        .map_err(|_| format!("strconv.Atoi: parsing \"{s}\": value out of range"))
}

/// An index into an array of `len` items; negative indices count from the end.
fn resolve_index(idx: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let idx = if idx < 0 { idx + len } else { idx };
    (0..len).contains(&idx).then_some(idx as usize)
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}: {INVALID_INDEX}")
}

/// `container.get`: for objects a missing member is `Ok(None)`; for arrays an index out of range errs.
fn get<'a>(con: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match con {
        Value::Object(m) => Ok(m.get(key).filter(|v| !v.is_null())),
        Value::Array(a) => {
            let idx = atoi(key)?;
            let i = resolve_index(idx, a.len()).ok_or_else(|| invalid_index(idx))?;
            Ok(Some(&a[i]))
        }
        _ => Err(MISSING.to_string()),
    }
}

/// `container.set` (replace): objects set the member, arrays overwrite an existing index.
fn set(con: &mut Value, key: &str, val: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), val);
            Ok(())
        }
        Value::Array(a) => {
            let idx = atoi(key)?;
            let i = resolve_index(idx, a.len()).ok_or_else(|| invalid_index(idx))?;
            a[i] = val;
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

/// `container.add`: objects set the member, arrays insert before an index (`-` or `len` appends).
fn add(con: &mut Value, key: &str, val: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), val);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(val);
                return Ok(());
            }
            let idx = atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = a.len() as i64 + 1;
            if idx >= size || idx < -size {
                return Err(invalid_index(idx));
            }
            let i = if idx < 0 { idx + size } else { idx };
            a.insert(i as usize, val);
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

/// `container.remove`, returning the removed value.
fn remove(con: &mut Value, key: &str) -> Result<Value, String> {
    match con {
        Value::Object(m) => remove_member(m, key),
        Value::Array(a) => {
            let idx = atoi(key)?;
            let i = resolve_index(idx, a.len()).ok_or_else(|| invalid_index(idx))?;
            Ok(a.remove(i))
        }
        _ => Err(MISSING.to_string()),
    }
}

fn remove_member(m: &mut Map<String, Value>, key: &str) -> Result<Value, String> {
    m.shift_remove(key)
        .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, patch: Value) -> Result<Value, PatchError> {
        let mut d = doc.clone();
        match apply(&mut d, &patch) {
            Ok(()) => Ok(d),
            Err(e) => {
                assert_eq!(d, doc, "target must be unchanged on error");
                Err(e)
            }
        }
    }

    #[test]
    fn operations() {
        let cases = [
            // add
            (
                json!({"a": 1}),
                json!([{"op": "add", "path": "/b", "value": 2}]),
                json!({"a": 1, "b": 2}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "add", "path": "/a", "value": 2}]),
                json!({"a": 2}),
            ),
            (
                json!({"l": [1, 2]}),
                json!([{"op": "add", "path": "/l/1", "value": 9}]),
                json!({"l": [1, 9, 2]}),
            ),
            (
                json!({"l": [1, 2]}),
                json!([{"op": "add", "path": "/l/2", "value": 9}]),
                json!({"l": [1, 2, 9]}),
            ),
            (
                json!({"l": [1, 2]}),
                json!([{"op": "add", "path": "/l/-", "value": 9}]),
                json!({"l": [1, 2, 9]}),
            ),
            (
                json!({"l": [1, 2]}),
                json!([{"op": "add", "path": "/l/-1", "value": 9}]),
                json!({"l": [1, 2, 9]}),
            ),
            (
                json!({"l": [1, 2]}),
                json!([{"op": "add", "path": "/l/-3", "value": 9}]),
                json!({"l": [9, 1, 2]}),
            ),
            (
                json!({}),
                json!([{"op": "add", "path": "/a~1b~0c", "value": 1}]),
                json!({"a/b~c": 1}),
            ),
            (
                json!({}),
                json!([{"op": "add", "path": "/a", "value": {"b": [1]}}]),
                json!({"a": {"b": [1]}}),
            ),
            (
                json!({}),
                json!([{"op": "add", "path": "/a"}]),
                json!({"a": null}),
            ),
            // remove
            (
                json!({"a": 1, "b": 2}),
                json!([{"op": "remove", "path": "/a"}]),
                json!({"b": 2}),
            ),
            (
                json!({"l": [1, 2, 3]}),
                json!([{"op": "remove", "path": "/l/1"}]),
                json!({"l": [1, 3]}),
            ),
            (
                json!({"l": [1, 2, 3]}),
                json!([{"op": "remove", "path": "/l/-1"}]),
                json!({"l": [1, 2]}),
            ),
            (
                json!({"a": null}),
                json!([{"op": "remove", "path": "/a"}]),
                json!({}),
            ),
            // replace
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "/a", "value": 3}]),
                json!({"a": 3}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "/b", "value": 3}]),
                json!({"a": 1, "b": 3}),
            ),
            (
                json!({"l": [1, 2]}),
                json!([{"op": "replace", "path": "/l/0", "value": 3}]),
                json!({"l": [3, 2]}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "", "value": {"b": 2}}]),
                json!({"b": 2}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "replace", "path": "", "value": 5}]),
                json!({"a": 1}),
            ),
            // move / copy
            (
                json!({"a": 1, "b": {}}),
                json!([{"op": "move", "from": "/a", "path": "/b/c"}]),
                json!({"b": {"c": 1}}),
            ),
            (
                json!({"l": [1, 2, 3]}),
                json!([{"op": "move", "from": "/l/0", "path": "/l/-"}]),
                json!({"l": [2, 3, 1]}),
            ),
            (
                json!({"a": {"x": 1}}),
                json!([{"op": "copy", "from": "/a", "path": "/b"}]),
                json!({"a": {"x": 1}, "b": {"x": 1}}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "copy", "from": "/zz", "path": "/b"}]),
                json!({"a": 1, "b": null}),
            ),
            // test
            (
                json!({"a": [1, {"b": "c"}]}),
                json!([{"op": "test", "path": "/a", "value": [1, {"b": "c"}]}]),
                json!({"a": [1, {"b": "c"}]}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "test", "path": "/zz", "value": null}]),
                json!({"a": 1}),
            ),
            (
                json!({"a": 1}),
                json!([{"op": "test", "path": "", "value": {"a": 1}}]),
                json!({"a": 1}),
            ),
            // sequences
            (
                json!({"metadata": {"labels": {"a": "b"}}}),
                json!([{"op": "test", "path": "/metadata/labels/a", "value": "b"}, {"op": "remove", "path": "/metadata/labels/a"}, {"op": "add", "path": "/metadata/labels/c", "value": "d"}]),
                json!({"metadata": {"labels": {"c": "d"}}}),
            ),
            (json!({"a": 1}), json!([]), json!({"a": 1})),
            (json!({"a": 1}), json!(null), json!({"a": 1})),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(
                run(doc.clone(), patch.clone()).unwrap_or_else(|e| panic!("{doc} {patch}: {e}")),
                want,
                "doc {doc} patch {patch}"
            );
        }
    }

    #[test]
    fn rollout_undo_style_replace_of_template() {
        let dep = json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}});
        let patch = json!([
            {"op": "replace", "path": "/spec/template", "value": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}},
            {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "3"}}
        ]);
        let err = run(dep.clone(), patch).unwrap_err();
        assert_eq!(err.to_string(), "replace operation does not apply: doc is missing path: /metadata/annotations: missing value");
        let patch = json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.25"}]);
        assert_eq!(
            run(dep, patch).unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.25"
        );
    }

    #[test]
    fn errors_are_upstream_text() {
        let doc = json!({"a": {"b": 1}, "l": [1, 2], "s": "x"});
        let cases = [
            (json!([{"op": "add", "path": "/x/y", "value": 1}]), "add operation does not apply: doc is missing path: \"/x/y\": missing value"),
            (json!([{"op": "add", "path": "/s/y", "value": 1}]), "add operation does not apply: doc is missing path: \"/s/y\": missing value"),
            (json!([{"op": "add", "path": "", "value": 1}]), "add operation does not apply: doc is missing path: \"\": missing value"),
            (json!([{"op": "add", "value": 1}]), "add operation failed to decode path: missing value"),
            (json!([{"op": "add", "path": "/l/5", "value": 1}]), "error in add for path: '/l/5': Unable to access invalid index: 5: invalid index referenced"),
            (json!([{"op": "add", "path": "/l/x", "value": 1}]), "error in add for path: '/l/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax"),
            (json!([{"op": "remove", "path": "/zz"}]), "error in remove for path: '/zz': Unable to remove nonexistent key: zz: missing value"),
            (json!([{"op": "remove", "path": "/l/2"}]), "error in remove for path: '/l/2': Unable to access invalid index: 2: invalid index referenced"),
            (json!([{"op": "remove", "path": "/x/y"}]), "remove operation does not apply: doc is missing path: \"/x/y\": missing value"),
            (json!([{"op": "replace", "path": "/l/9", "value": 1}]), "replace operation does not apply: doc is missing key: /l/9: missing value"),
            (json!([{"op": "replace", "path": "/x/y", "value": 1}]), "replace operation does not apply: doc is missing path: /x/y: missing value"),
            (json!([{"op": "replace", "value": 1}]), "replace operation failed to decode path: operation missing path field: missing value"),
            (json!([{"op": "move", "from": "/zz", "path": "/b"}]), "error in move for path: 'zz': Unable to remove nonexistent key: zz: missing value"),
            (json!([{"op": "move", "path": "/b"}]), "move operation failed to decode from: operation, missing from field: missing value"),
            (json!([{"op": "move", "from": "/a", "path": "/a/b/c"}]), "move operation does not apply: doc is missing destination path: /a/b/c: missing value"),
            (json!([{"op": "copy", "from": "/x/y", "path": "/b"}]), "copy operation does not apply: doc is missing from path: /x/y: missing value"),
            (json!([{"op": "copy", "from": "/a", "path": "/x/y"}]), "copy operation does not apply: doc is missing destination path: /x/y: missing value"),
            (json!([{"op": "test", "path": "/a/b", "value": 2}]), "testing value /a/b failed: test failed"),
            (json!([{"op": "test", "path": "/a/b", "value": 1.0}]), "testing value /a/b failed: test failed"),
            (json!([{"op": "test", "path": "", "value": {}}]), "testing value  failed: test failed"),
            (json!([{"op": "test", "path": "/x/y", "value": 1}]), "test operation does not apply: is missing path: /x/y: missing value"),
            (json!([{"op": "test", "path": "/l/7", "value": 1}]), "error in test for path: '/l/7': Unable to access invalid index: 7: invalid index referenced"),
            (json!([{"op": "frob", "path": "/a"}]), "Unexpected kind: frob"),
            (json!([{"path": "/a"}]), "Unexpected kind: unknown"),
            (json!([{"op": "add", "path": 5, "value": 1}]), "add operation failed to decode path: missing value"),
            // The first operation applies, the second fails: nothing changes.
            (json!([{"op": "add", "path": "/n", "value": 1}, {"op": "test", "path": "/n", "value": 2}]), "testing value /n failed: test failed"),
        ];
        for (patch, want) in cases {
            match run(doc.clone(), patch.clone()) {
                Err(PatchError::Unprocessable(m)) => assert_eq!(m, want, "patch {patch}"),
                other => panic!("patch {patch}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_patches_are_bad_requests() {
        let cases = [
            (
                json!({"op": "add"}),
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            ),
            (
                json!("x"),
                "json: cannot unmarshal string into Go value of type jsonpatch.Patch",
            ),
            (
                json!([1]),
                "json: cannot unmarshal number into Go value of type jsonpatch.Operation",
            ),
        ];
        for (patch, want) in cases {
            assert_eq!(
                run(json!({}), patch.clone()),
                Err(PatchError::BadRequest(want.into())),
                "patch {patch}"
            );
        }
    }
}
