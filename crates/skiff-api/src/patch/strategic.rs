//! Strategic merge patch (`application/strategic-merge-patch+json`): what `kubectl apply` (client-side),
//! `kubectl set image`, `kubectl rollout restart` and the Python client's dict patches send.
//!
//! Like a JSON merge patch (objects merge key by key, `null` deletes), except that lists follow the
//! type's patch metadata ([`super::schema`]): a list with `patchStrategy: merge` merges element by element,
//! by its `patchMergeKey` for lists of objects (containers by `name`, Service ports by `port`) or by value
//! for lists of scalars (finalizers); every other list is replaced. Directives:
//!
//! - `"$patch": "replace"` in an object replaces the object instead of merging it; `"$patch": "delete"`
//!   empties it. As a list element, `{"$patch": "replace"}` replaces the whole list with the other
//!   elements, `{"name": "x", "$patch": "delete"}` removes the element with that key. (`"$patch": "merge"`
//!   is rejected, as upstream rejects it: "merging lists cannot yet be specified in the patch" in lists,
//!   "unknown patch type: merge in map: ..." in objects.)
//! - `"$retainKeys": [..]` clears every key of the object not listed (union types such as volume
//!   sources and Deployment `spec.strategy`); every key set by the patch must be listed.
//! - `"$setElementOrder/<list>": [..]` gives the final order of a merged list (by merge key, or by value
//!   for scalars); elements only in the live object keep their place relative to their neighbours.
//! - `"$deleteFromPrimitiveList/<list>": [..]` removes these values from a list of scalars.
//!
//! Without `$setElementOrder`, merged lists put the patch's elements in patch order and interleave the
//! live object's other elements by their original positions (`mergeSortedSlice` upstream), so an element
//! new to the list comes before the old ones it is compared with.
//!
//! This follows apimachinery's `strategicpatch.StrategicMergeMapPatch` (server side: parallel lists are
//! merged, `null`s for absent keys ignored) step by step, with its error texts. Deviations, all in corners
//! where upstream would produce a value that only its typed decoding cleans up, or would fail on a patch
//! with no meaningful effect: values placed without merging (new keys, replaced lists, new list
//! elements) are stored without `null` members and without `$...` directive keys; a `$setElementOrder`
//! for a list that is empty on both sides is ignored instead of failing; numbers compare as one type.
//! Written by hand: no Rust crate implements strategic merge patch.

use super::schema::{Shape, Strategy, TypeRef};
use super::PatchError;
use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

const ERR_BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";

/// Applies the strategic merge patch `patch` to `original` and returns the result.
///
/// `ty` is the root type of the object's kind ([`super::schema::root_type`]); `None` (or a type that
/// does not know a field) means no metadata: lists are replaced, objects merged. `original` must be an
/// object (`null` counts as `{}`); a `null` patch changes nothing.
pub fn apply(original: &Value, patch: &Value, ty: Option<TypeRef>) -> Result<Value, PatchError> {
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(bad("invalid JSON document")),
    };
    let patch = match patch {
        Value::Object(m) => m.clone(),
        Value::Null => return Ok(Value::Object(original)),
        other => {
            return Err(bad(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_type(other)
            )))
        }
    };
    let schema = ty.map_or(Schema::Unknown, Schema::Struct);
    merge_map(original, patch, schema).map(Value::Object)
}

fn bad(msg: impl Into<String>) -> PatchError {
    PatchError::BadRequest(msg.into())
}

// ---------------------------------------------------------------------------------------------------------
// Schema positions.

/// Where in the type graph a map being merged sits.
#[derive(Clone, Copy)]
enum Schema {
    /// No metadata: every list is replaced.
    Unknown,
    Struct(TypeRef),
    /// A `map[string]T`: every key has type `T`.
    MapOf(TypeRef),
}

/// The patch metadata of one key (`LookupPatchMetadataForStruct` / `ForSlice`).
struct Meta {
    strategy: Strategy,
    merge_key: &'static str,
    /// The field's type for objects, the element type for lists.
    sub: Schema,
}

impl Schema {
    fn lookup(self, key: &str) -> Meta {
        let none = Meta {
            strategy: Strategy::None,
            merge_key: "",
            sub: Schema::Unknown,
        };
        match self {
            Schema::Unknown => none,
            Schema::MapOf(t) => Meta {
                sub: Schema::Struct(t),
                ..none
            },
            Schema::Struct(t) => match t.field(key) {
                None => none,
                Some(f) => Meta {
                    strategy: f.strategy(),
                    merge_key: f.merge_key().unwrap_or(""),
                    sub: match f.shape() {
                        Shape::Struct(t) => Schema::Struct(t),
                        Shape::List { elem, .. } => elem.map_or(Schema::Unknown, Schema::Struct),
                        Shape::Map { elem, .. } => elem.map_or(Schema::Unknown, Schema::MapOf),
                    },
                },
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Maps.

/// `mergeMap`: merges `patch` into `original`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(clean_map(patch))
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(d, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, schema)?;

    for (key, patch_v) in patch {
        let (key, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?, true)
        } else {
            (key, false)
        };
        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let Some(orig_v) = original.get_mut(&key) else {
            if !delete_list {
                if let Some(v) = clean(patch_v) {
                    original.insert(key, v);
                }
            }
            continue;
        };
        if !same_type(orig_v, &patch_v) {
            if !delete_list {
                match clean(patch_v) {
                    Some(v) => *orig_v = v,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }
        match (orig_v, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                let meta = schema.lookup(&key);
                if meta.strategy == Strategy::Replace {
                    *o = p;
                } else {
                    *o = merge_map(std::mem::take(o), p, meta.sub)?;
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                let meta = schema.lookup(&key);
                *o = merge_slice_handler(std::mem::take(o), p, &meta, delete_list, None)?;
            }
            (o, p) => *o = p,
        }
    }
    Ok(original)
}

/// Same JSON type, as Go's `reflect.TypeOf` compares decoded values (all numbers alike).
fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// `$retainKeys`: drop every key of `original` that is not listed; every key the patch sets must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad(ERR_BAD_RETAIN_KEYS));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(bad(ERR_BAD_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$deleteFromPrimitiveList/<key>` and `$setElementOrder/<key>` → `<key>`.
fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ => Err(bad(if prefix == DELETE_FROM_PRIMITIVE_LIST {
            ERR_BAD_PRIMITIVE_LIST
        } else {
            ERR_BAD_SET_ELEMENT_ORDER
        })),
    }
}

/// `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder` and puts it in that order.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let order = patch.shift_remove(&key).unwrap_or(Value::Null);
        let Value::Array(order) = order else {
            return Err(bad(bad_arg_type("[]interface {}", &order)));
        };
        let list_key = extract_key(&key, SET_ELEMENT_ORDER)?;
        let as_list = |v: Option<&Value>| -> Result<Option<Vec<Value>>, PatchError> {
            match v {
                None => Ok(None),
                Some(Value::Array(a)) => Ok(Some(a.clone())),
                Some(other) => Err(bad(bad_arg_type("[]interface {}", other))),
            }
        };
        let orig_list = as_list(original.get(&list_key))?;
        let patch_list = as_list(patch.get(&list_key))?;
        let meta = schema.lookup(&list_key);
        validate_patch_with_set_order(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            meta.merge_key,
        )?;

        let orig_len = orig_list.as_ref().map_or(0, Vec::len);
        let mut alias = Alias {
            buf: orig_list.clone().unwrap_or_default(),
            len: orig_len,
        };
        let merged = match (&orig_list, patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => p.into_iter().filter_map(clean).collect(),
            (Some(o), Some(p)) => {
                merge_slice_handler(o.clone(), p, &meta, false, Some(&mut alias))?
            }
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, meta.merge_key)?;
        // The live order to interleave by is the live list as upstream sees it after merging, which
        // shares its backing array with the merged list (see `Alias`).
        let orig_list = alias.buf;
        let patch_list: &[Value] = match patch.get(&list_key) {
            Some(Value::Array(p)) => p,
            _ => &[],
        };
        let sorted = match element_kind(&[&orig_list, patch_list])? {
            // Nothing to order (upstream fails here with "no elements in any of the given slices").
            None => [in_order, server_only].concat(),
            Some(kind) => normalize_element_order(
                in_order,
                server_only,
                &order,
                &orig_list,
                meta.merge_key,
                kind,
            )?,
        };
        original.insert(list_key.clone(), Value::Array(sorted));
        patch.shift_remove(&list_key);
    }
    Ok(())
}

/// Checks that the patch list's elements appear in the `$setElementOrder` list in the same relative order
/// (`validatePatchWithSetOrderList`).
fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut v = Vec::new();
        for item in patch_list {
            let m = item
                .as_object()
                .ok_or_else(|| bad(bad_arg_type("map[string]interface {}", item)))?;
            if m.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                v.push(item);
            }
        }
        v
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < order.len() {
        if non_delete[pi]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE))
        {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[pi], &order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_v(&Value::Array(patch_list.to_vec())),
            go_v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left
        .as_object()
        .ok_or_else(|| bad(bad_arg_type("map[string]interface {}", left)))?;
    let r = right
        .as_object()
        .ok_or_else(|| bad(bad_arg_type("map[string]interface {}", right)))?;
    let lv = l
        .get(merge_key)
        .ok_or_else(|| bad(no_merge_key(l, merge_key)))?;
    let rv = r
        .get(merge_key)
        .ok_or_else(|| bad(no_merge_key(r, merge_key)))?;
    Ok(lv == rv)
}

// ---------------------------------------------------------------------------------------------------------
// Lists.

/// The type of a list's elements (`sliceElementType`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Scalar(u8),
}

/// The common element type of `lists`; `None` when they are all empty.
fn element_kind(lists: &[&[Value]]) -> Result<Option<Kind>, PatchError> {
    let mut kind = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let k = match v {
            Value::Array(_) => {
                return Err(PatchError::Unprocessable(ERR_NO_LIST_OF_LISTS.to_string()))
            }
            Value::Object(_) => Kind::Object,
            Value::Null => Kind::Scalar(0),
            Value::Bool(_) => Kind::Scalar(1),
            Value::Number(_) => Kind::Scalar(2),
            Value::String(_) => Kind::Scalar(3),
        };
        match kind {
            None => kind = Some(k),
            Some(prev) if prev != k => {
                let all = Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
                return Err(bad(format!(
                    "list element types are not identical: {}",
                    go_v(&all)
                )));
            }
            Some(_) => {}
        }
    }
    Ok(kind)
}

/// Upstream's view of the live list after merging it, in `mergePatchIntoOriginal`.
///
/// Upstream merges a list with `$setElementOrder` and then orders it by the *live* list's positions, but
/// its merge deletes (`$patch: delete`) and appends in place, in the Go slice that still backs the live
/// list: a deletion shifts the later elements left (the last one stays, duplicated), an appended element
/// lands in the first free slot. Its own tests ("add map and delete map from merging list") depend on
/// the resulting order, so this replays those writes on a copy of the live list (`buf`, whose first
/// `len` elements are the list being merged).
struct Alias {
    buf: Vec<Value>,
    len: usize,
}

impl Alias {
    fn delete(&mut self, i: usize) {
        for j in i..self.len.saturating_sub(1) {
            self.buf[j] = self.buf[j + 1].clone();
        }
        self.len -= 1;
    }
    fn append(&mut self, v: &Value) {
        if self.len < self.buf.len() {
            self.buf[self.len] = v.clone();
            self.len += 1;
        }
    }
}

/// `mergeSliceHandler`: merge lists with the `merge` strategy (and deletion lists), replace the others.
fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: &Meta,
    delete_list: bool,
    alias: Option<&mut Alias>,
) -> Result<Vec<Value>, PatchError> {
    if meta.strategy == Strategy::Merge || delete_list {
        merge_slice(
            original,
            patch,
            meta.sub,
            meta.merge_key,
            delete_list,
            alias,
        )
    } else {
        Ok(patch)
    }
}

/// `mergeSlice`: merges two lists of scalars (by value) or of objects (by `merge_key`), then orders the
/// result: patch elements in patch order, interleaved with the live-only elements by their old places.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem: Schema,
    merge_key: &str,
    delete_list: bool,
    mut alias: Option<&mut Alias>,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let Some(kind) = element_kind(&[&original, &patch])? else {
        return Ok(original);
    };
    let (original, patch, merged) = if kind != Kind::Object {
        if delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(bad("cannot merge lists without merge key for struct"));
        }
        let (original, patch) =
            merge_slice_with_special_elements(original, patch, merge_key, alias.as_deref_mut())?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, merge_key, elem, alias)?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Applies the `$patch` elements of a list of objects: `delete` removes the live elements with that key,
/// `replace` makes the other patch elements the whole list. Returns the live list and the plain patch
/// elements.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    mut alias: Option<&mut Alias>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad(bad_arg_type("map[string]interface {}", &v)));
        };
        let Some(d) = m.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match d.as_str() {
            Some("delete") => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(bad(no_merge_key(m, merge_key)));
                };
                while let Some(i) = find_by_key(&original, merge_key, key_value)? {
                    original.remove(i);
                    if let Some(a) = alias.as_deref_mut() {
                        a.delete(i);
                    }
                }
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(bad("merging lists cannot yet be specified in the patch")),
            _ => return Err(bad_patch_type(d, m)),
        }
    }
    if replace {
        Ok((plain.into_iter().filter_map(clean).collect(), Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges each patch element into the live element with the same merge key, or appends it.
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem: Schema,
    mut alias: Option<&mut Alias>,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad(bad_arg_type("map[string]interface {}", v)));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(bad(no_merge_key(m, merge_key)));
        };
        match find_by_key(&original, merge_key, key_value)? {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut original[i]) else {
                    unreachable!()
                };
                original[i] = Value::Object(merge_map(o, m.clone(), elem)?);
            }
            None => {
                if let Some(a) = alias.as_deref_mut() {
                    a.append(v);
                }
                if let Some(v) = clean(v.clone()) {
                    original.push(v);
                }
            }
        }
    }
    Ok(original)
}

/// `findMapInSliceBasedOnKeyValue`: the index of the first object whose `key` equals `value`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (i, v) in list.iter().enumerate() {
        let Some(m) = v.as_object() else {
            return Err(bad(format!("value for key {i} is not a map")));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Splits `merged` into the elements present in `by` (by merge key, or by value) and the others.
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::with_capacity(merged.len());
    let mut others = Vec::with_capacity(merged.len());
    for v in merged {
        let found = if merge_key.is_empty() {
            by.contains(&v)
        } else {
            let m = v
                .as_object()
                .ok_or_else(|| bad(bad_arg_type("map[string]interface {}", &v)))?;
            let kv = m
                .get(merge_key)
                .ok_or_else(|| bad(no_merge_key(m, merge_key)))?;
            find_by_key(by, merge_key, kv)?.is_some()
        };
        if found {
            present.push(v);
        } else {
            others.push(v);
        }
    }
    Ok((present, others))
}

/// `normalizeElementOrder`: sorts the patch elements by `patch_order` and the live-only elements by
/// `server_order`, then interleaves them.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted_slice(
        server_only,
        patch_items,
        server_order,
        merge_key,
        kind,
    ))
}

/// The position of `v` in `list`, comparing merge-key values for objects and whole values for scalars.
fn index_of(list: &[Value], v: &Value, merge_key: &str, kind: Kind) -> Option<usize> {
    if kind == Kind::Object {
        let key = |x: &Value| x.as_object().and_then(|m| m.get(merge_key)).cloned();
        let want = key(v);
        list.iter().position(|x| key(x) == want)
    } else {
        list.iter().position(|x| x == v)
    }
}

/// `normalizeSliceOrder`: a stable sort of `items` by their position in `order` (elements marked
/// `$patch: delete` go last).
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut items, to_delete) = if kind == Kind::Object {
        for v in items.iter().chain(order.iter()) {
            let m = v
                .as_object()
                .ok_or_else(|| bad(bad_arg_type("map[string]interface {}", v)))?;
            if !m.contains_key(merge_key) {
                return Err(bad(no_merge_key(m, merge_key)));
            }
        }
        items
            .into_iter()
            .partition(|v| v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
    } else {
        (items, Vec::new())
    };
    // Insertion sort with upstream's comparator, which calls an element absent from `order` "less"
    // than anything (sort.SliceStable is an insertion sort for up to 20 elements).
    let pos: Vec<Option<usize>> = items
        .iter()
        .map(|v| index_of(order, v, merge_key, kind))
        .collect();
    let mut idx: Vec<usize> = (0..items.len()).collect();
    let less = |a: usize, b: usize| match (pos[a], pos[b]) {
        (Some(x), Some(y)) => x < y,
        _ => true,
    };
    for i in 1..idx.len() {
        let mut j = i;
        while j > 0 && less(idx[j], idx[j - 1]) {
            idx.swap(j, j - 1);
            j -= 1;
        }
    }
    let mut slots: Vec<Option<Value>> = items.drain(..).map(Some).collect();
    let mut out: Vec<Value> = idx.into_iter().filter_map(|i| slots[i].take()).collect();
    out.extend(to_delete);
    Ok(out)
}

/// `mergeSortedSlice`: inserts the live-only elements (`left`) among the patch elements (`right`),
/// keeping both relative orders; a live element goes first when both are in `server_order` and it is
/// earlier there.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index_of(server_order, l, merge_key, kind),
                    index_of(server_order, r, merge_key, kind),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Values placed without merging.

fn is_directive_key(k: &str) -> bool {
    k == RETAIN_KEYS
        || k.strip_prefix(SET_ELEMENT_ORDER)
            .is_some_and(|r| r.starts_with('/'))
        || k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST)
            .is_some_and(|r| r.starts_with('/'))
}

/// A patch value placed as is: `null` members dropped (`discardNullValuesFromPatch`), objects carrying
/// `$patch` dropped entirely (`removeDirectives`), other directive keys dropped. `None` when the value
/// itself is dropped.
fn clean(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Object(clean_map(m)))
        }
        Value::Array(a) => Some(Value::Array(a.into_iter().filter_map(clean).collect())),
        other => Some(other),
    }
}

fn clean_map(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Upstream's error texts (Go `%v` rendering of decoded JSON).

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The Go type of a decoded JSON value, as `reflect.TypeOf(v)` prints under `%s`.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// `mergepatch.ErrBadArgType`.
fn bad_arg_type(expected: &str, actual: &Value) -> String {
    format!("expected a {expected}, but received a {}", go_type(actual))
}

/// `mergepatch.ErrNoMergeKey`.
fn no_merge_key(m: &Map<String, Value>, key: &str) -> String {
    format!(
        "map: {} does not contain declared merge key: {key}",
        go_map(m)
    )
}

/// `mergepatch.ErrBadPatchType`.
fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> PatchError {
    let t = match t {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        other => format!("%!s({}={})", go_type(other), go_v(other)),
    };
    bad(format!("unknown patch type: {t} in map: {}", go_map(m)))
}

/// Go's `%v` of a decoded JSON value: `map[k:v ...]` with sorted keys, `[a b]`, `<nil>`.
fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => go_map(m),
    }
}

fn go_map(m: &Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{k}:{}", go_v(v)))
        .collect();
    format!("map[{}]", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::super::schema::{root_type, upstream_test_type};
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"},
                "finalizers": ["a/x", "b/y"]},
            "spec": {
                "containers": [
                    {"name": "nginx", "image": "nginx:1.25",
                     "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "args": ["--a", "--b"]},
                    {"name": "sidecar", "image": "busybox", "command": ["sleep", "3600"]}
                ],
                "tolerations": [{"key": "k1", "operator": "Exists"}],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "nodeSelector": {"disk": "ssd"}
            },
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
        })
    }

    fn smp(original: &Value, patch: Value, group: &str, kind: &str) -> Value {
        apply(original, &patch, root_type(group, kind))
            .unwrap_or_else(|e| panic!("patch {patch}: {e}"))
    }

    #[test]
    fn kubectl_apply_patch_from_the_wire() {
        let patch = json!({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"new\":1}\n"},"labels":{"tier":"front"}},
            "spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.26","name":"nginx"}]}});
        let out = smp(&pod(), patch, "", "Pod");
        assert_eq!(
            out["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        assert_eq!(
            out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{\"new\":1}\n"
        );
        let containers = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(
            containers.len(),
            2,
            "the sidecar is a server-only element and stays"
        );
        assert_eq!(containers[0]["name"], "nginx");
        assert_eq!(containers[0]["image"], "nginx:1.26");
        assert_eq!(
            containers[0]["env"],
            pod()["spec"]["containers"][0]["env"],
            "untouched fields stay"
        );
        assert_eq!(containers[1]["name"], "sidecar");
        assert!(!out["spec"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with('$')));
        // Everything else is as before, in the same key order.
        let mut want = pod();
        want["metadata"]["labels"]["tier"] = json!("front");
        want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!("{\"new\":1}\n");
        want["spec"]["containers"][0]["image"] = json!("nginx:1.26");
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
        let out = smp(
            &svc,
            json!({"spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}),
            "",
            "Service",
        );
        let ports = out["spec"]["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!(
            ports[0]["port"], 443,
            "new elements come first without $setElementOrder"
        );
        assert_eq!(ports[1]["port"], 80);
        // Same port again: merged, not duplicated.
        let out = smp(
            &svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            "",
            "Service",
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}])
        );
        // The selector is a map: merged key by key.
        let out = smp(
            &svc,
            json!({"spec": {"selector": {"tier": "front"}}}),
            "",
            "Service",
        );
        assert_eq!(
            out["spec"]["selector"],
            json!({"app": "web", "tier": "front"})
        );
        // Without type information the port list is replaced.
        let out = apply(&svc, &json!({"spec": {"ports": [{"port": 443}]}}), None).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 443}]));
    }

    #[test]
    fn container_lists() {
        let p = pod();
        type Check = Box<dyn Fn(&Value)>;
        let cases: Vec<(&str, Value, Check)> = vec![
            (
                "env merges by name",
                json!({"spec": {"containers": [{"name": "nginx", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["containers"][0]["env"],
                        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
                    );
                }),
            ),
            (
                "env element deleted",
                json!({"spec": {"containers": [{"name": "nginx", "env": [{"name": "A", "$patch": "delete"}]}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["containers"][0]["env"],
                        json!([{"name": "B", "value": "2"}])
                    );
                }),
            ),
            (
                "env field deleted by null",
                json!({"spec": {"containers": [{"name": "nginx", "env": [{"name": "A", "value": null}]}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["containers"][0]["env"],
                        json!([{"name": "A"}, {"name": "B", "value": "2"}])
                    );
                }),
            ),
            (
                "container deleted",
                json!({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}),
                Box::new(|o: &Value| {
                    let c = o["spec"]["containers"].as_array().unwrap();
                    assert_eq!(c.len(), 1);
                    assert_eq!(c[0]["name"], "nginx");
                }),
            ),
            (
                "container list replaced",
                json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x", "foo": null}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["containers"],
                        json!([{"name": "only", "image": "x"}])
                    );
                }),
            ),
            (
                "container added",
                json!({"spec": {"containers": [{"name": "new", "image": "redis"}]}}),
                Box::new(|o: &Value| {
                    let names: Vec<&str> = o["spec"]["containers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["name"].as_str().unwrap())
                        .collect();
                    assert_eq!(names, ["new", "nginx", "sidecar"]);
                }),
            ),
            (
                "container added with order",
                json!({"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}, {"name": "new"}], "containers": [{"name": "new", "image": "redis"}]}}),
                Box::new(|o: &Value| {
                    let names: Vec<&str> = o["spec"]["containers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["name"].as_str().unwrap())
                        .collect();
                    assert_eq!(names, ["nginx", "sidecar", "new"]);
                }),
            ),
            (
                "ports merge by containerPort",
                json!({"spec": {"containers": [{"name": "nginx", "ports": [{"containerPort": 443}]}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["containers"][0]["ports"],
                        json!([{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}])
                    );
                }),
            ),
            (
                "args are replaced",
                json!({"spec": {"containers": [{"name": "nginx", "args": ["--c"]}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["spec"]["containers"][0]["args"], json!(["--c"]));
                }),
            ),
            (
                "command is replaced",
                json!({"spec": {"containers": [{"name": "sidecar", "command": ["true"]}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["spec"]["containers"][1]["command"], json!(["true"]));
                }),
            ),
            (
                "tolerations are replaced",
                json!({"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["tolerations"],
                        json!([{"key": "k2", "operator": "Exists"}])
                    );
                }),
            ),
            (
                "finalizers merge as a set",
                json!({"metadata": {"finalizers": ["c/z", "a/x"]}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["metadata"]["finalizers"], json!(["c/z", "a/x", "b/y"]));
                }),
            ),
            (
                "finalizer removed",
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x", "nope"]}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["metadata"]["finalizers"], json!(["b/y"]));
                }),
            ),
            (
                "finalizers reordered",
                json!({"metadata": {"$setElementOrder/finalizers": ["b/y", "a/x"]}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["metadata"]["finalizers"], json!(["b/y", "a/x"]));
                }),
            ),
            (
                "conditions merge by type",
                json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "X"}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["status"]["conditions"],
                        json!([{"type": "Ready", "status": "False", "reason": "X"}, {"type": "PodScheduled", "status": "True"}])
                    );
                }),
            ),
            (
                "labels replaced by directive",
                json!({"metadata": {"labels": {"$patch": "replace", "only": "this"}}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["metadata"]["labels"], json!({"only": "this"}));
                }),
            ),
            (
                "map emptied by delete directive",
                json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["spec"]["nodeSelector"], json!({}));
                }),
            ),
            (
                "null deletes a field",
                json!({"metadata": {"annotations": null}, "status": {"phase": null}}),
                Box::new(|o: &Value| {
                    assert!(o["metadata"].get("annotations").is_none());
                    assert!(o["status"].get("phase").is_none());
                }),
            ),
            (
                "null for an absent field is ignored",
                json!({"spec": {"hostname": null}}),
                Box::new(|o: &Value| {
                    assert!(o["spec"].get("hostname").is_none());
                }),
            ),
            (
                "volume source switched with retainKeys",
                json!({"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}}),
                Box::new(|o: &Value| {
                    assert_eq!(
                        o["spec"]["volumes"],
                        json!([{"name": "data", "hostPath": {"path": "/x"}}])
                    );
                }),
            ),
            (
                "new value without nulls and directives",
                json!({"spec": {"affinity": {"nodeAffinity": {"x": null, "$setElementOrder/y": [], "y": [1]}}}}),
                Box::new(|o: &Value| {
                    assert_eq!(o["spec"]["affinity"], json!({"nodeAffinity": {"y": [1]}}));
                }),
            ),
            (
                "new value with $patch is dropped",
                json!({"spec": {"securityContext": {"$patch": "replace", "runAsUser": 1}}}),
                Box::new(|o: &Value| {
                    assert!(o["spec"].get("securityContext").is_none());
                }),
            ),
        ];
        for (name, patch, check) in cases {
            let out =
                apply(&p, &patch, root_type("", "Pod")).unwrap_or_else(|e| panic!("{name}: {e}"));
            check(&out);
        }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 1},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "log", "image": "fluentbit"}]}
                }
            },
            "status": {"conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]}
        })
    }

    #[test]
    fn deployment_patches_from_kubectl() {
        // kubectl set image deployment/web nginx=nginx:1.26
        let out = smp(
            &deployment(),
            json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.26","name":"nginx"}]}}}}),
            "apps",
            "Deployment",
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx:1.26"}, {"name": "log", "image": "fluentbit"}])
        );
        // kubectl rollout restart
        let out = smp(
            &deployment(),
            json!({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-01-02T03:04:05Z"}}}}}),
            "apps",
            "Deployment",
        );
        assert_eq!(
            out["spec"]["template"]["metadata"],
            json!({"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}})
        );
        assert_eq!(
            out["spec"]["template"]["spec"],
            deployment()["spec"]["template"]["spec"]
        );
        // kubectl apply switching the strategy to Recreate: $retainKeys clears rollingUpdate.
        let out = smp(
            &deployment(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            "apps",
            "Deployment",
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        // The selector is atomic for SSA but a plain map for SMP: merged.
        let out = smp(
            &deployment(),
            json!({"spec": {"selector": {"matchLabels": {"tier": "x"}}}}),
            "apps",
            "Deployment",
        );
        assert_eq!(
            out["spec"]["selector"],
            json!({"matchLabels": {"app": "web", "tier": "x"}})
        );
        // Conditions by type, on ReplicaSets too.
        let out = smp(
            &deployment(),
            json!({"status": {"conditions": [{"type": "Progressing", "status": "False"}]}}),
            "apps",
            "ReplicaSet",
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False"}])
        );
    }

    #[test]
    fn errors() {
        let p = pod();
        let cases: Vec<(Value, PatchError)> = vec![
            (json!({"spec": {"containers": [{"image": "x"}]}}), bad("map: map[image:x] does not contain declared merge key: name")),
            (json!({"spec": {"containers": [{"$patch": "delete"}]}}), bad("map: map[$patch:delete] does not contain declared merge key: name")),
            (json!({"spec": {"containers": [{"name": "nginx", "$patch": "merge"}]}}), bad("merging lists cannot yet be specified in the patch")),
            (json!({"spec": {"containers": [{"name": "nginx", "$patch": "frob"}]}}), bad("unknown patch type: frob in map: map[$patch:frob name:nginx]")),
            (json!({"metadata": {"labels": {"$patch": "merge"}}}), bad("unknown patch type: merge in map: map[$patch:merge]")),
            (json!({"$patch": 1}), bad("unknown patch type: %!s(int64=1) in map: map[$patch:1]")),
            (json!({"spec": {"$setElementOrder/containers": "x"}}), bad("expected a []interface {}, but received a string")),
            (json!({"spec": {"$setElementOrderX": []}}), bad("invalid patch format of setElementOrder list")),
            (json!({"metadata": {"$deleteFromPrimitiveList": ["a/x"]}}), bad("invalid patch format of primitive list")),
            (json!({"spec": {"$retainKeys": "x"}}), bad("invalid patch format of retainKeys")),
            (json!({"spec": {"$retainKeys": ["volumes"], "hostname": "h"}}), bad("invalid patch format of retainKeys")),
            (
                json!({"spec": {"$setElementOrder/containers": [{"name": "nginx"}], "containers": [{"name": "sidecar", "image": "x"}]}}),
                bad("The order in patch list:\n[map[image:x name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:nginx]]\n"),
            ),
            (json!({"spec": {"containers": [{"name": "nginx"}, "x"]}}), bad("list element types are not identical: [[map[args:[--a --b] env:[map[name:A value:1] map[name:B value:2]] image:nginx:1.25 name:nginx ports:[map[containerPort:80 protocol:TCP]]] map[command:[sleep 3600] image:busybox name:sidecar]] [map[name:nginx] x]]")),
            (json!({"metadata": {"finalizers": [["x"]]}}), PatchError::Unprocessable("lists of lists are not supported".into())),
            (json!({"spec": {"tolerations": [{"key": "a"}], "$deleteFromPrimitiveList/tolerations": [{"key": "k1"}]}}), bad("cannot merge lists without merge key for struct")),
        ];
        for (patch, want) in cases {
            assert_eq!(
                apply(&p, &patch, root_type("", "Pod")),
                Err(want),
                "patch {patch}"
            );
        }
        assert_eq!(
            apply(&p, &json!([1]), None),
            Err(bad(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
            ))
        );
        assert_eq!(
            apply(&json!("x"), &json!({}), None),
            Err(bad("invalid JSON document"))
        );
        assert_eq!(apply(&p, &Value::Null, None).unwrap(), p);
        assert_eq!(
            apply(&p, &json!({"$patch": "delete"}), None).unwrap(),
            json!({})
        );
    }

    /// Cases from upstream's `patch_test.go` (its raw cases: the three-way patch applied to the current
    /// object, or the two-way patch to the original), replayed with its `MergeItem` test type. All of
    /// upstream's raw and YAML cases were checked to pass; these are a representative selection.
    #[test]
    fn upstream_cases() {
        let cases: Vec<(&str, &str, Result<&str, &str>)> = vec![
            // $setElementOrder contains item that is not present in the list to be merged
            (
                r#"{"mergingList":[{"name":1},{"name":3}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
                Ok(r#"{"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#),
            ),
            // should check if order in $setElementOrder and patch list match
            (
                r#"{"mergingList":[{"name":1},{"name":3},{"name":2}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
                Err("doesn't match"),
            ),
            // missing merge key should error out
            (
                r#"{"mergingList":[{"name":1,"value":"a"}]}"#,
                r#"{"mergingList":[{"value":"b"}]}"#,
                Err("does not contain declared merge key"),
            ),
            // $deleteFromPrimitiveList should delete item from a list without merge patch strategy
            (
                r#"{"nonMergingIntList":[1,2,3]}"#,
                r#"{"$deleteFromPrimitiveList/nonMergingIntList":[2]}"#,
                Ok(r#"{"nonMergingIntList":[1,3]}"#),
            ),
            // delete all duplicate items in lists of scalars
            (
                r#"{"mergingIntList":[1,2,3,3,4]}"#,
                r#"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
                Ok(r#"{"mergingIntList":[1,2,4]}"#),
            ),
            // add and delete items in lists of scalars
            (
                r#"{"mergingIntList":[1,2,3,4]}"#,
                r#"{"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
                Ok(r#"{"mergingIntList":[1,2,4]}"#),
            ),
            // add map and delete map from merging list
            (
                r#"{"mergingList":[{"name":1},{"name":2,"other":"b"},{"name":4,"other":"c"}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]}"#,
                Ok(r#"{"mergingList":[{"name":2,"other":"b"},{"name":4,"other":"c"},{"name":3}]}"#),
            ),
            // replace non merging list nested in merging list
            (
                r#"{"mergingList":[{"name":1,"other":"a","nonMergingList":[{"name":1},{"name":2,"value":2}]},{"name":2,"other":"b"}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"nonMergingList":[{"name":1,"value":1}]}]}"#,
                Ok(
                    r#"{"mergingList":[{"name":1,"other":"a","nonMergingList":[{"name":1,"value":1}]},{"name":2,"other":"b"}]}"#,
                ),
            ),
            // add field to map in merging list nested in merging list
            (
                r#"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1},{"name":2,"value":2}]},{"name":2,"other":"b"}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"$setElementOrder/mergingList":[{"name":1},{"name":2}],"name":1,"mergingList":[{"name":1,"value":1}]}]}"#,
                Ok(
                    r#"{"mergingList":[{"name":1,"other":"a","mergingList":[{"name":1,"value":1},{"name":2,"value":2}]},{"name":2,"other":"b"}]}"#,
                ),
            ),
            // add an item in a list of primitives and preserve order
            (
                r#"{"mergingIntList":[1,4,2]}"#,
                r#"{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]}"#,
                Ok(r#"{"mergingIntList":[3,1,4,2]}"#),
            ),
            // delete an item in a list of primitives and preserve order
            (
                r#"{"mergingIntList":[1,2,3]}"#,
                r#"{"$setElementOrder/mergingIntList":[2,1],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
                Ok(r#"{"mergingIntList":[2,1]}"#),
            ),
            // add multiple items in a list and preserve order
            (
                r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":1},{"name":4},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
                Ok(
                    r#"{"mergingList":[{"name":1,"other":"a"},{"name":4,"value":4},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#,
                ),
            ),
            // set elements order in a list with server-only items 3
            (
                r#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":7},{"name":9},{"name":8},{"name":3,"value":3},{"name":4,"value":4}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#,
                Ok(
                    r#"{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":7},{"name":9},{"name":8},{"name":4,"value":4},{"name":3,"value":3}]}"#,
                ),
            ),
            // behavior of set element order for a merging list with duplicate
            (
                r#"{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}"#,
                r#"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}"#,
                Ok(
                    r#"{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}"#,
                ),
            ),
            // retainKeys map should clear defaulted field
            (
                r#"{"retainKeysMap":{"value":"foo"}}"#,
                r#"{"retainKeysMap":{"$retainKeys":["other"],"other":"bar"}}"#,
                Ok(r#"{"retainKeysMap":{"other":"bar"}}"#),
            ),
            // retainKeys map adds an item and deletes an item in nested merging int list
            (
                r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3,4]}}"#,
                r#"{"retainKeysMap":{"$retainKeys":["mergingIntList","name"],"mergingIntList":[5],"$deleteFromPrimitiveList/mergingIntList":[2],"$setElementOrder/mergingIntList":[1,3,5]}}"#,
                Ok(r#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,3,5,4]}}"#),
            ),
            // retainKeys list of maps clears a field
            (
                r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a","other":"x"}]}"#,
                r#"{"$setElementOrder/retainKeysMergingList":[{"name":"bar"},{"name":"foo"}],"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo"}]}"#,
                Ok(r#"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#),
            ),
        ];
        let j = |s: &str| -> Value { serde_json::from_str(s).unwrap() };
        for (current, patch, want) in cases {
            let got = apply(&j(current), &j(patch), Some(upstream_test_type()));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, j(want), "current {current}\npatch {patch}"),
                (Err(e), Err(want)) => {
                    assert!(e.to_string().contains(want), "{e} should contain {want}")
                }
                (got, want) => {
                    panic!("current {current}\npatch {patch}\ngot {got:?}, want {want:?}")
                }
            }
        }
    }
}
