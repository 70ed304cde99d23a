//! Field sets (`fieldpath.Set` of structured-merge-diff) and their `FieldsV1` JSON encoding.
//!
//! A set is a trie: at every node, `members` are the path elements that belong to the set themselves
//! and `children` the path elements under which further members sit. A node can be both (a list item
//! owned as a whole and some of its fields); `FieldsV1` then writes the node's own membership as
//! `".": {}`. Appearing only as a parent does not make a node a member: `{"f:spec":{"f:replicas":{}}}`
//! owns `.spec.replicas`, not `.spec`.

use super::typed::{self, Ty};
use super::value::{compare_values, go_json, to_go_string, write_go_json_string};
use crate::patch::schema::TypeRef;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// `f:<name>`: a struct field or a map key.
    Field(String),
    /// `k:{"name":"nginx"}`: an item of an associative list, by its key fields (sorted by name).
    Key(Vec<(String, Value)>),
    /// `v:"kubernetes"`: an item of a set of scalars, by its value.
    Value(Value),
    /// `i:0`: a list item by position (upstream never produces these for typed objects).
    Index(usize),
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key: `f:name`, `k:{"name":"nginx"}`, `v:"x"`, `i:0`.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_json_string(name, &mut out);
                    out.push(':');
                    out.push_str(&go_json(value));
                }
                out.push('}');
                out
            }
            PathElement::Value(v) => format!("v:{}", go_json(v)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key; `Ok(None)` for an unknown element type (skipped, as upstream does).
    pub fn from_fields_v1_key(key: &str) -> Result<Option<PathElement>, String> {
        let bytes = key.as_bytes();
        if bytes.len() < 2 {
            return Err("key must be 2 characters long:".to_string());
        }
        if bytes[1] != b':' {
            return Err(format!("missing colon: {key}"));
        }
        let rest = &key[2..];
        let pe = match bytes[0] {
            b'f' => PathElement::Field(rest.to_string()),
            b'v' => PathElement::Value(serde_json::from_str(rest).map_err(|e| e.to_string())?),
            b'k' => {
                let fields: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| e.to_string())?;
                let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                PathElement::Key(fields)
            }
            b'i' => PathElement::Index(
                rest.parse()
                    .map_err(|_| format!("strconv.Atoi: parsing \"{rest}\": invalid syntax"))?,
            ),
            _ => return Ok(None),
        };
        Ok(Some(pe))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.as_bytes().cmp(b.as_bytes()),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an
                        .as_bytes()
                        .cmp(bn.as_bytes())
                        .then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

/// Upstream's `PathElement.String()`: `.name`, `[name="nginx"]`, `[="x"]`, `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(n, v)| format!("{n}={}", to_go_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", to_go_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders a path as upstream does: `.spec.containers[name="nginx"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of fields (`fieldpath.Set`), as stored in `metadata.managedFields[].fieldsV1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    /// Never holds an empty set.
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the `FieldsV1` trie (`{"f:metadata":{"f:labels":{"f:app":{}}}}`). A key mapping to `{}`
    /// (or with a `"."` entry) is a member; unknown element types are skipped as upstream skips them.
    pub fn from_fields_v1(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(Self::new()),
            Value::Object(m) => Ok(read_fields_v1(m)?.0.unwrap_or_default()),
            _ => Err("ReadMapCB: expect { or n".to_string()),
        }
    }

    /// Encodes the set as a `FieldsV1` trie, elements sorted as upstream sorts them.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit_fields_v1(false))
    }

    /// The fields an object sets (upstream `TypedValue.ToFieldSet`): every scalar, every atomic value,
    /// every list item and map entry, and every empty or `null` value, under `ty` (the root type of the
    /// object's kind; `None` means no type metadata: lists atomic, objects granular). Struct fields with a
    /// non-empty value are parents only. Nothing is stripped: the result includes `apiVersion`, `kind`
    /// and `metadata.name` if the object sets them.
    pub fn from_object(obj: &Value, ty: Option<TypeRef>) -> Self {
        typed::to_field_set(obj, Ty::root(ty))
    }

    /// Whether the set has no member at all.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }

    /// Adds the field at `path` (its parents are not added). The empty path is ignored: nobody owns
    /// the whole object.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            // The key is cloned only when the child is new: inserts mostly land in existing ones.
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => {
                    let mut child = FieldSet::new();
                    child.insert(rest);
                    self.children.insert(first.clone(), child);
                }
            },
        }
    }

    /// Adds `pe` as a member and `child` (the members below it) as its children.
    pub(crate) fn add_child(&mut self, pe: PathElement, child: FieldSet) {
        if !child.is_empty() {
            match self.children.get_mut(&pe) {
                Some(mine) => mine.merge(child),
                None => {
                    self.children.insert(pe.clone(), child);
                }
            }
        }
        self.members.insert(pe);
    }

    /// Adds the field at `path` as a member and `below` (relative to it) under it: the same set as
    /// inserting `path` and each of `below`'s paths prefixed with `path`, without walking from the
    /// root for each.
    pub(crate) fn insert_subtree(&mut self, path: &[PathElement], below: FieldSet) {
        match path {
            [] => self.merge(below),
            [last] => self.add_child(last.clone(), below),
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert_subtree(rest, below),
                None => {
                    let mut child = FieldSet::new();
                    child.insert_subtree(rest, below);
                    self.children.insert(first.clone(), child);
                }
            },
        }
    }

    /// Whether the field at `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The members under `pe`, relative to it.
    pub fn with_prefix(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    /// [`FieldSet::is_member`] for the field `name`, without building its path element.
    pub(crate) fn is_field_member(&self, name: &str) -> bool {
        self.members
            .iter()
            .take_while(|m| matches!(m, PathElement::Field(_)))
            .any(|m| matches!(m, PathElement::Field(n) if n == name))
    }

    /// [`FieldSet::with_prefix`] for the field `name`, without building its path element.
    pub(crate) fn with_field_prefix(&self, name: &str) -> Option<&FieldSet> {
        self.children
            .iter()
            .take_while(|(pe, _)| matches!(pe, PathElement::Field(_)))
            .find(|(pe, _)| matches!(pe, PathElement::Field(n) if n == name))
            .map(|(_, child)| child)
    }

    pub(crate) fn is_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    pub(crate) fn insert_member(&mut self, pe: PathElement) {
        self.members.insert(pe);
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    pub(crate) fn set_child(&mut self, pe: PathElement, set: FieldSet) {
        if set.is_empty() {
            self.children.remove(&pe);
        } else {
            self.children.insert(pe, set);
        }
    }

    /// Members of either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// [`FieldSet::union`] into `self`, taking `other` (nothing is copied).
    pub fn merge(&mut self, other: FieldSet) {
        if self.is_empty() {
            *self = other;
            return;
        }
        self.members.extend(other.members);
        for (pe, child) in other.children {
            match self.children.get_mut(&pe) {
                Some(mine) => mine.merge(child),
                None => {
                    self.children.insert(pe, child);
                }
            }
        }
    }

    /// [`FieldSet::difference`] in place.
    pub fn subtract(&mut self, other: &FieldSet) {
        if other.is_empty() {
            return;
        }
        self.members.retain(|m| !other.members.contains(m));
        self.children.retain(|pe, child| {
            if let Some(theirs) = other.children.get(pe) {
                child.subtract(theirs);
            }
            !child.is_empty()
        });
    }

    /// Members of `self` that are not members of `other`. A member of `other` does not remove what
    /// `self` holds below it (upstream `Set.Difference`).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            out.set_child(pe.clone(), rest);
        }
        out
    }

    /// Like [`FieldSet::difference`], but a member of `other` also removes everything below it
    /// (upstream `Set.RecursiveDifference`, used for ignored fields).
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let rest = match other.children.get(pe) {
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            out.set_child(pe.clone(), rest);
        }
        out
    }

    /// [`FieldSet::recursive_difference`] in place (nothing is copied).
    pub fn recursive_subtract(&mut self, other: &FieldSet) {
        if other.is_empty() {
            return;
        }
        self.members.retain(|m| !other.members.contains(m));
        self.children.retain(|pe, child| {
            if other.members.contains(pe) {
                return false;
            }
            if let Some(theirs) = other.children.get(pe) {
                child.recursive_subtract(theirs);
            }
            !child.is_empty()
        });
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                out.set_child(pe.clone(), child.intersection(theirs));
            }
        }
        out
    }

    /// Every member's path, in upstream's iteration order (a node's own members, then its children,
    /// each sorted).
    pub fn path_elements(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Every member rendered as upstream prints paths (`.metadata.labels.app`), in iteration order.
    pub fn paths(&self) -> Vec<String> {
        self.path_elements()
            .iter()
            .map(|p| path_string(p))
            .collect()
    }

    fn emit_fields_v1(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::with_capacity(self.members.len() + self.children.len() + 1);
        if include_self && !self.is_empty() {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        // Members and children are each sorted: merged, they give every element once, in order.
        let mut members = self.members.iter().peekable();
        let mut children = self.children.iter().peekable();
        loop {
            let (pe, value) = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(m), Some((c, child))) if m == c => {
                    let v = child.emit_fields_v1(true);
                    let pe = *c;
                    members.next();
                    children.next();
                    (pe, v)
                }
                (Some(m), Some((c, _))) if m < c => (members.next().expect("peeked"), Map::new()),
                (Some(m), None) => {
                    let m = *m;
                    members.next();
                    (m, Map::new())
                }
                (_, Some(_)) => {
                    let (c, child) = children.next().expect("peeked");
                    (c, child.emit_fields_v1(false))
                }
            };
            out.insert(pe.to_fields_v1_key(), Value::Object(value));
        }
        out
    }
}

/// Upstream `readIterV1`: the children found under this node and whether the node is a member.
fn read_fields_v1(m: &Map<String, Value>) -> Result<(Option<FieldSet>, bool), String> {
    let mut children: Option<FieldSet> = None;
    let mut is_member = false;
    for (key, value) in m {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = PathElement::from_fields_v1_key(key)
            .map_err(|e| format!("parsing key as path element: {e}"))?
        else {
            continue;
        };
        let (grandchildren, child_is_member) = match value {
            Value::Object(inner) => read_fields_v1(inner)?,
            Value::Null => (None, true),
            _ => return Err("ReadMapCB: expect { or n".to_string()),
        };
        let node = children.get_or_insert_with(FieldSet::new);
        if child_is_member {
            node.members.insert(pe.clone());
        }
        if let Some(g) = grandchildren {
            let merged = match node.children.remove(&pe) {
                Some(existing) => existing.union(&g),
                None => g,
            };
            node.set_child(pe, merged);
        }
    }
    if children.is_none() {
        is_member = true;
    }
    Ok((children, is_member))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    #[test]
    fn fields_v1_round_trip() {
        let cases = [
            json!({}),
            json!({"f:metadata":{"f:labels":{"f:app":{}}}}),
            json!({"f:data":{".":{},"f:a":{},"f:b":{}},"f:metadata":{"f:annotations":{".":{},"f:x":{}}}}),
            json!({"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},
                "f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}),
            json!({"f:metadata":{"f:finalizers":{".":{},"v:\"a\"":{},"v:\"kubernetes\"":{}}}}),
            json!({"f:a":{"i:0":{},"i:10":{}}}),
        ];
        for case in cases {
            let set = FieldSet::from_fields_v1(&case).unwrap();
            assert_eq!(set.to_fields_v1(), case);
            // Byte-exact key order too (Go writes sorted elements).
            assert_eq!(
                serde_json::to_string(&set.to_fields_v1()).unwrap(),
                serde_json::to_string(&case).unwrap()
            );
        }
        // Unsorted input, unknown element types and null children are accepted.
        let set = FieldSet::from_fields_v1(&json!({"f:b":{},"x:weird":{},"f:a":null})).unwrap();
        assert_eq!(set.to_fields_v1(), json!({"f:a":{},"f:b":{}}));
        // Key fields are sorted by name whatever the input order.
        let set = FieldSet::from_fields_v1(
            &json!({"f:p":{"k:{\"protocol\":\"TCP\",\"containerPort\":80}":{}}}),
        )
        .unwrap();
        assert_eq!(
            set.paths(),
            vec![".p[containerPort=80,protocol=\"TCP\"]".to_string()]
        );
        assert!(FieldSet::from_fields_v1(&json!({"fx":{}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f":{}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:notjson":{}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }

    #[test]
    fn set_operations() {
        let s = |v: Value| FieldSet::from_fields_v1(&v).unwrap();
        let a = s(json!({"f:a":{".":{},"f:b":{},"f:c":{}},"f:d":{}}));
        let b = s(json!({"f:a":{"f:b":{}},"f:d":{},"f:e":{}}));
        assert_eq!(
            a.union(&b).to_fields_v1(),
            json!({"f:a":{".":{},"f:b":{},"f:c":{}},"f:d":{},"f:e":{}})
        );
        assert_eq!(
            a.difference(&b).to_fields_v1(),
            json!({"f:a":{".":{},"f:c":{}}})
        );
        assert_eq!(
            a.intersection(&b).to_fields_v1(),
            json!({"f:a":{"f:b":{}},"f:d":{}})
        );
        // parent - child = parent; child - parent = child (only members are compared) ...
        let parent = s(json!({"f:a":{}}));
        let child = s(json!({"f:a":{"f:b":{}}}));
        assert_eq!(parent.difference(&child), parent);
        for (x, y) in [(&a, &b), (&b, &a), (&parent, &child), (&child, &parent)] {
            let mut merged = x.clone();
            merged.merge(y.clone());
            assert_eq!(merged, x.union(y));
            let mut rest = x.clone();
            rest.subtract(y);
            assert_eq!(rest, x.difference(y));
            let mut rest = x.clone();
            rest.recursive_subtract(y);
            assert_eq!(rest, x.recursive_difference(y));
        }
        assert_eq!(child.difference(&parent), child);
        // ... unless the difference is recursive.
        assert!(child.recursive_difference(&parent).is_empty());
        let mut in_place = child.clone();
        in_place.recursive_subtract(&parent);
        assert!(in_place.is_empty());
        assert!(FieldSet::new().is_empty());
        assert_eq!(a.len(), 4);
        assert!(a.has(&[f("a"), f("b")]));
        assert!(a.has(&[f("a")]));
        assert!(!b.has(&[f("a")]));
        assert_eq!(a.paths(), vec![".a", ".d", ".a.b", ".a.c"]);
    }
}
