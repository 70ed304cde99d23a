//! The create shortcut's cache: creates of the same kind mostly differ only in values that cannot
//! change their managed fields (names, uids, times, messages, label values), and writing the managed
//! fields is a walk of the whole object. So the walk runs on the object's *shape*, its JSON text with
//! those values masked, and its result is kept per shape: every pod of a Deployment, every event of a
//! reason, costs one scan and a lookup.
//!
//! What the walk reads of a value ([`super::created`]): object keys; whether a value is an object, a
//! list or a scalar; whether a scalar equals the zero object's scalar at its place (the zero objects'
//! scalars are `null`, `""` and `0`); and everything inside lists (list-map keys, set values,
//! duplicates). So a shape keeps keys, structure, lists verbatim, and the scalar members of objects
//! that are `null`, `""`, `false` or a zero number; any other scalar member becomes `"~"`, which
//! differs from every zero scalar as the value it replaces does. The walk's answer on the shape is the
//! answer on the object (the test `created_fields_match_the_general_path` runs the shortcut through
//! here), and by construction a function of the shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Shapes kept per process; the cache is emptied when it fills (creates come in runs of few shapes).
const MAX_SHAPES: usize = 256;
/// Larger shapes (long lists are kept whole) are walked every time, not kept: the cache stays under
/// `MAX_SHAPES` × this (4 MiB).
const MAX_SHAPE_BYTES: usize = 16 * 1024;

/// The shape of a JSON text; `None` if it is not well-formed (the walk reports that).
pub(crate) fn shape_of(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    // Open containers (`{` or `[`), and how many of them are lists.
    let mut open: Vec<u8> = Vec::with_capacity(16);
    let mut lists = 0usize;
    let mut expect_key = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        match c {
            b'{' | b'[' => {
                open.push(c);
                lists += usize::from(c == b'[');
                expect_key = c == b'{';
                out.push(c);
                i += 1;
            }
            b'}' | b']' => {
                let top = open.pop()?;
                if (top == b'{') != (c == b'}') {
                    return None;
                }
                lists -= usize::from(top == b'[');
                expect_key = false;
                out.push(c);
                i += 1;
            }
            b',' => {
                expect_key = open.last() == Some(&b'{');
                out.push(c);
                i += 1;
            }
            b':' => {
                expect_key = false;
                out.push(c);
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                let end = if c == b'"' {
                    crate::jsonscan::string_end(text, i)?
                } else {
                    i + text[i..]
                        .iter()
                        .position(|&b| {
                            matches!(b, b',' | b'}' | b']' | b':') || b.is_ascii_whitespace()
                        })
                        .unwrap_or(text.len() - i)
                };
                let value = &text[i..end];
                let member = !expect_key && lists == 0 && open.last() == Some(&b'{');
                if member && !zero_like(value) {
                    out.extend_from_slice(b"\"~\"");
                } else {
                    out.extend_from_slice(value);
                }
                expect_key = false;
                i = end;
            }
        }
    }
    open.is_empty().then_some(out)
}

/// `null`, `""`, `false`, or a number equal to zero.
fn zero_like(value: &[u8]) -> bool {
    match value {
        b"null" | b"\"\"" | b"false" => true,
        [b'-' | b'0'..=b'9', ..] => std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|f| f == 0.0),
        _ => false,
    }
}

type Shapes = HashMap<(&'static str, Vec<u8>), Option<Arc<str>>, foldhash::fast::RandomState>;

/// The walk's answer for `shape` of the kind `kind`, computed by `walk` the first time.
pub(crate) fn cached(
    kind: &'static str,
    shape: Vec<u8>,
    walk: impl FnOnce(&[u8]) -> Option<String>,
) -> Option<Arc<str>> {
    static SHAPES: Mutex<Option<Shapes>> = Mutex::new(None);
    if shape.len() > MAX_SHAPE_BYTES {
        return walk(&shape).map(Arc::from);
    }
    let key = (kind, shape);
    if let Some(hit) = SHAPES
        .lock()
        .ok()
        .and_then(|s| s.as_ref().and_then(|s| s.get(&key).cloned()))
    {
        return hit;
    }
    let fields: Option<Arc<str>> = walk(&key.1).map(Arc::from);
    if let Ok(mut shapes) = SHAPES.lock() {
        let shapes = shapes.get_or_insert_with(Default::default);
        if shapes.len() >= MAX_SHAPES {
            shapes.clear();
        }
        shapes.insert(key, fields.clone());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_mask_the_values_of_object_members_only() {
        let text = br#"{"a":"x","b":"","c":null,"d":0,"e":0.0,"f":7,"g":true,"h":false,"i":{"j":"y"},"k":["z",{"l":"w","m":1}],"n":{}}"#;
        let shape = shape_of(text).unwrap();
        assert_eq!(
            std::str::from_utf8(&shape).unwrap(),
            r#"{"a":"~","b":"","c":null,"d":0,"e":0.0,"f":"~","g":"~","h":false,"i":{"j":"~"},"k":["z",{"l":"w","m":1}],"n":{}}"#
        );
        let spaced = br#" { "a" : "x\"y" , "k" : [ 1 ] } "#;
        assert_eq!(shape_of(spaced).unwrap(), br#"{"a":"~","k":[1]}"#);
        for bad in [&b"{"[..], b"{]", b"[}", b"}", b"\"abc"] {
            assert!(shape_of(bad).is_none(), "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn small_shapes_are_walked_once_large_ones_every_time() {
        let walks = std::cell::Cell::new(0);
        let walk = |_: &[u8]| {
            walks.set(walks.get() + 1);
            Some("x".to_string())
        };
        let small = br#"{"kind":"shape-test-small"}"#.to_vec();
        let large = format!(
            r#"{{"kind":"shape-test-large","l":[{}1]}}"#,
            "1,".repeat(MAX_SHAPE_BYTES)
        );
        for _ in 0..2 {
            assert_eq!(cached("test", small.clone(), walk).as_deref(), Some("x"));
            assert_eq!(
                cached("test", large.clone().into_bytes(), walk).as_deref(),
                Some("x")
            );
        }
        assert_eq!(walks.get(), 3);
    }

    /// The masking keeps the walk's answer only while every scalar of every kind's zero object is
    /// one a shape keeps.
    #[test]
    fn zero_objects_have_only_scalars_that_shapes_keep() {
        fn check(v: &serde_json::Value, kind: &str) {
            match v {
                serde_json::Value::Object(m) => m.values().for_each(|v| check(v, kind)),
                serde_json::Value::Array(a) => a.iter().for_each(|v| check(v, kind)),
                scalar => {
                    let text = serde_json::to_vec(scalar).unwrap();
                    assert!(zero_like(&text), "{kind}: {scalar}");
                }
            }
        }
        for r in crate::resources::RESOURCES {
            let ty = crate::patch::schema::root_type(r.group, r.kind);
            check(&super::super::typed::zero_object(ty), r.kind);
        }
        check(&super::super::typed::zero_object(None), "untyped");
    }
}
