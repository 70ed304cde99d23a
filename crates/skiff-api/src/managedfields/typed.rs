//! The typed walks of structured-merge-diff over JSON objects: the field set of an object, the merge
//! of an applied configuration into a live object, the comparison of two objects, the removal of a
//! set of fields, and validation of an applied configuration.
//!
//! Types come from the pruned graph of [`crate::patch::schema`]. What the graph does not describe has
//! the default semantics (see that module): an object is a granular struct, a list is atomic, anything
//! else a scalar. Upstream tells struct fields from map keys (`labels`, `data`) by the schema; the
//! graph only knows maps that carry metadata, so here every object key is taken for a struct field
//! unless the graph says the object is a map. The two differ only for map entries whose values are
//! themselves objects or lists (upstream owns such an entry as a whole as well as its contents), which
//! none of the served kinds have.

use super::fieldset::{FieldSet, PathElement};
use super::value::values_equal;
use crate::patch::schema::{ListType, Shape, TypeRef};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};

/// The type expected at a position of an object.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    /// Nothing known: an object is a granular struct, a list atomic, anything else a scalar.
    Any,
    /// A struct of the graph (a whole value if `+structType=atomic`).
    Struct(TypeRef),
    /// A `map[string]T`.
    Map { elem: Option<TypeRef>, atomic: bool },
    /// A list.
    List {
        elem: Option<TypeRef>,
        list_type: ListType,
    },
}

impl Ty {
    pub(crate) fn root(ty: Option<TypeRef>) -> Ty {
        ty.map_or(Ty::Any, Ty::Struct)
    }

    fn of_shape(shape: Shape) -> Ty {
        match shape {
            Shape::Struct(t) => Ty::Struct(t),
            Shape::Map { elem, atomic } => Ty::Map { elem, atomic },
            Shape::List { elem, list_type } => Ty::List { elem, list_type },
        }
    }

    fn of_elem(elem: Option<TypeRef>) -> Ty {
        elem.map_or(Ty::Any, Ty::Struct)
    }

    /// The type of key `key` of an object of this type.
    pub(crate) fn field(self, key: &str) -> Ty {
        match self {
            Ty::Struct(t) => t.field(key).map_or(Ty::Any, |f| Ty::of_shape(f.shape())),
            Ty::Map { elem, .. } => Ty::of_elem(elem),
            Ty::Any | Ty::List { .. } => Ty::Any,
        }
    }

    /// The type of the items of a list of this type.
    pub(crate) fn item(self) -> Ty {
        match self {
            Ty::List { elem, .. } => Ty::of_elem(elem),
            _ => Ty::Any,
        }
    }

    /// Whether a key of an object of this type is a struct field (as opposed to a map key).
    fn is_struct(self) -> bool {
        !matches!(self, Ty::Map { .. })
    }
}

/// How a granular list identifies its items.
#[derive(Clone, Copy)]
pub(crate) enum ListKind {
    Set,
    Keys(&'static [&'static str]),
}

/// How a value (or a pair of values) is walked.
#[derive(Clone, Copy)]
pub(crate) enum Atom {
    /// One value: a scalar, `null`, or an atomic list, map or struct.
    Leaf,
    /// A granular object; children typed by [`Ty::field`].
    Object,
    /// A granular list.
    List(ListKind),
}

/// Decides how to walk `ty` given the values present (upstream `deduceAtom` / `handleAtom`): an
/// object on either side makes a granular object unless the type is atomic, a list a granular list
/// only for `set` / `map` lists, anything else (or a mix of shapes) a leaf.
fn atom(ty: Ty, values: &[Option<&Value>]) -> Atom {
    let mut object = false;
    let mut array = false;
    for v in values.iter().flatten() {
        match v {
            Value::Object(_) => object = true,
            Value::Array(_) => array = true,
            _ => {}
        }
    }
    atom_of(ty, object, array)
}

/// [`atom`] given whether the values present include an object and a list.
pub(crate) fn atom_of(ty: Ty, object: bool, array: bool) -> Atom {
    if object && array {
        return Atom::Leaf;
    }
    if object {
        return match ty {
            Ty::Any => Atom::Object,
            Ty::Struct(t) if !t.is_atomic() => Atom::Object,
            Ty::Map { atomic: false, .. } => Atom::Object,
            _ => Atom::Leaf,
        };
    }
    if array {
        return match ty {
            Ty::List {
                list_type: ListType::Set,
                ..
            } => Atom::List(ListKind::Set),
            Ty::List {
                list_type: ListType::Map(keys),
                ..
            } => Atom::List(ListKind::Keys(keys)),
            _ => Atom::Leaf,
        };
    }
    Atom::Leaf
}

/// `null`, absent, `{}` or `[]`.
fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// The pair's walk, with upstream's "both empty or null: treat as a leaf" rule (which keeps `{}`
/// distinct from `null`).
pub(crate) fn pair_atom(ty: Ty, l: Option<&Value>, r: Option<&Value>) -> Atom {
    match atom(ty, &[l, r]) {
        Atom::Leaf => Atom::Leaf,
        _ if is_empty_container(l) && is_empty_container(r) => Atom::Leaf,
        a => a,
    }
}

static EMPTY_MAP: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

pub(crate) fn as_map(v: Option<&Value>) -> &Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m,
        _ => &EMPTY_MAP,
    }
}

pub(crate) fn as_list(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// Default values of list-map key fields, which upstream takes from the OpenAPI `default`
/// (`ContainerPort.protocol` and `ServicePort.protocol` default to `TCP`).
fn key_default(key: &str) -> Option<Value> {
    (key == "protocol").then(|| Value::String("TCP".to_string()))
}

/// The path element of a list item (upstream `listItemToPathElement`).
pub(crate) fn item_pe(kind: ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Keys(keys) => {
            let m = match item {
                Value::Object(m) => m,
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into())
                }
                _ => return Err("associative list with keys may not have non-map elements".into()),
            };
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                match m.get(*key).cloned().or_else(|| key_default(key)) {
                    Some(v) => fields.push((key.to_string(), v)),
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                            key
                        ))
                    }
                }
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        ListKind::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
    }
}

/// Path elements of a list's items; an item whose element cannot be built is identified by its
/// position (live objects are validated elsewhere; upstream would fail the whole operation).
fn item_pes(kind: ListKind, items: &[Value]) -> Vec<PathElement> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| item_pe(kind, item).unwrap_or(PathElement::Index(i)))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// ToFieldSet

/// The fields `v` sets (upstream `TypedValue.ToFieldSet`).
pub(crate) fn to_field_set(v: &Value, ty: Ty) -> FieldSet {
    let mut out = FieldSet::new();
    walk_set(v, ty, &mut Vec::new(), &mut out);
    out
}

fn walk_set(v: &Value, ty: Ty, path: &mut Vec<PathElement>, out: &mut FieldSet) {
    match atom(ty, &[Some(v)]) {
        Atom::Leaf => out.insert(path),
        Atom::Object => {
            for (k, child) in as_map(Some(v)) {
                path.push(PathElement::Field(k.clone()));
                walk_set(child, ty.field(k), path, out);
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !ty.is_struct() {
                    out.insert(path);
                }
                path.pop();
            }
        }
        Atom::List(kind) => {
            let items = as_list(Some(v));
            let pes = item_pes(kind, items);
            let mut seen = std::collections::BTreeSet::new();
            let mut duplicates = std::collections::BTreeSet::new();
            for pe in &pes {
                if !seen.insert(pe.clone()) {
                    duplicates.insert(pe.clone());
                }
            }
            for pe in &duplicates {
                path.push(pe.clone());
                out.insert(path);
                path.pop();
            }
            for (item, pe) in items.iter().zip(pes) {
                if duplicates.contains(&pe) {
                    continue;
                }
                path.push(pe);
                walk_set(item, ty.item(), path, out);
                out.insert(path);
                path.pop();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Merge

/// Merges `rhs` (an applied configuration) into `lhs` (the live object): leaves and atomic values
/// from `rhs` win, objects merge key by key (live keys keep their order, new keys follow), granular
/// lists merge item by item in upstream's order. Nothing is removed.
pub(crate) fn merge(lhs: &Value, rhs: &Value, ty: Ty) -> Value {
    merge_values(Some(lhs), Some(rhs), ty).unwrap_or(Value::Null)
}

fn merge_values(l: Option<&Value>, r: Option<&Value>, ty: Ty) -> Option<Value> {
    let (l, r) = match (l, r) {
        (None, None) => return None,
        (Some(l), None) => return Some(l.clone()),
        (None, Some(r)) => return Some(r.clone()),
        (Some(l), Some(r)) => (l, r),
    };
    match pair_atom(ty, Some(l), Some(r)) {
        Atom::Leaf => Some(r.clone()),
        Atom::Object => {
            let (lm, rm) = (as_map(Some(l)), as_map(Some(r)));
            let mut out = Map::new();
            for (k, lv) in lm {
                if let Some(v) = merge_values(Some(lv), rm.get(k), ty.field(k)) {
                    out.insert(k.clone(), v);
                }
            }
            for (k, rv) in rm {
                if !lm.contains_key(k) {
                    out.insert(k.clone(), rv.clone());
                }
            }
            Some(Value::Object(out))
        }
        Atom::List(kind) => Some(Value::Array(merge_lists(
            as_list(Some(l)),
            as_list(Some(r)),
            kind,
            ty.item(),
        ))),
    }
}

/// Upstream's list merge order: items of the configuration in its order; live-only items keep their
/// place relative to the shared items they preceded; a new item comes before the shared item that
/// follows it in the configuration.
fn merge_lists(lhs: &[Value], rhs: &[Value], kind: ListKind, item_ty: Ty) -> Vec<Value> {
    let lpes = item_pes(kind, lhs);
    let rpes = item_pes(kind, rhs);
    // Live items by element; a duplicated element maps to None (not merged with the new value).
    let mut observed_l: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
    for (pe, item) in lpes.iter().zip(lhs) {
        observed_l
            .entry(pe)
            .and_modify(|v| *v = None)
            .or_insert(Some(item));
    }
    let mut observed_r: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (pe, item) in rpes.iter().zip(rhs) {
        observed_r.entry(pe).or_insert(item);
    }
    let mut shared: VecDeque<&PathElement> = rpes
        .iter()
        .filter(|pe| observed_l.contains_key(pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_r = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    while li < lpes.len() || ri < rpes.len() {
        if li < lpes.len() && ri < rpes.len() {
            let pe = &lpes[li];
            if *pe == rpes[ri] {
                merged_r.insert(pe);
                let lv = observed_l.get(pe).copied().flatten();
                if let Some(v) = merge_values(lv, observed_r.get(pe).copied(), item_ty) {
                    out.push(v);
                }
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_r.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                // A shared item, but not the one due now: it is merged when the config reaches it.
                li += 1;
                continue;
            }
        }
        if li < lpes.len() {
            let pe = &lpes[li];
            if !observed_r.contains_key(pe) {
                out.push(lhs[li].clone());
                li += 1;
                continue;
            } else if merged_r.contains(pe) {
                li += 1;
            }
        }
        if ri < rpes.len() {
            let pe = &rpes[ri];
            merged_r.insert(pe);
            let lv = observed_l.get(pe).copied().flatten();
            if let Some(v) = merge_values(lv, observed_r.get(pe).copied(), item_ty) {
                out.push(v);
            }
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Compare

/// What changed between two objects (upstream `typed.Comparison`).
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub removed: FieldSet,
    pub modified: FieldSet,
    pub added: FieldSet,
}

impl Comparison {
    /// Drops `ignored` fields and everything below them from all three sets.
    pub(crate) fn exclude(&mut self, ignored: &FieldSet) {
        if ignored.is_empty() {
            return;
        }
        self.removed.recursive_subtract(ignored);
        self.modified.recursive_subtract(ignored);
        self.added.recursive_subtract(ignored);
    }

    pub(crate) fn modified_or_added(&self) -> FieldSet {
        self.modified.union(&self.added)
    }

    /// [`Comparison::modified_or_added`], taking the comparison apart instead of copying.
    pub(crate) fn into_modified_or_added(self) -> FieldSet {
        let mut out = self.modified;
        out.merge(self.added);
        out
    }
}

/// Compares `lhs` (before) with `rhs` (after).
///
/// `metadata.managedFields` is not compared: it is the bookkeeping itself, a field nobody owns, so
/// callers may pass objects that still carry it.
pub(crate) fn compare(lhs: &Value, rhs: &Value, ty: Ty) -> Comparison {
    let mut cmp = Comparison::default();
    compare_values_at(&mut Vec::new(), Some(lhs), Some(rhs), ty, &mut cmp);
    cmp
}

fn compare_values_at(
    path: &mut Vec<PathElement>,
    l: Option<&Value>,
    r: Option<&Value>,
    ty: Ty,
    cmp: &mut Comparison,
) {
    // Equal subtrees hold no difference: most of an updated object is unchanged, and this check
    // costs far less than the walk (which allocates a path element per field).
    if let (Some(a), Some(b)) = (l, r) {
        if a == b {
            return;
        }
    }
    let at_metadata = matches!(path.as_slice(), [PathElement::Field(f)] if f == "metadata");
    if let (None, Some(r)) = (l, r) {
        // All of `r` is new (most of a create): its set is built bottom-up and attached once.
        let below = added_below(r, ty, at_metadata, path.is_empty());
        cmp.added.insert_subtree(path, below);
        return;
    }
    match pair_atom(ty, l, r) {
        Atom::Leaf => {
            match (l, r) {
                (None, _) => cmp.added.insert(path),
                (_, None) => cmp.removed.insert(path),
                (Some(l), Some(r)) if !values_equal(l, r) => cmp.modified.insert(path),
                _ => {}
            }
            return;
        }
        Atom::Object => {
            let (lm, rm) = (as_map(l), as_map(r));
            for (k, lv) in lm {
                if at_metadata && k == "managedFields" {
                    continue;
                }
                path.push(PathElement::Field(k.clone()));
                compare_values_at(path, Some(lv), rm.get(k), ty.field(k), cmp);
                path.pop();
            }
            for (k, rv) in rm {
                if at_metadata && k == "managedFields" {
                    continue;
                }
                if !lm.contains_key(k) {
                    path.push(PathElement::Field(k.clone()));
                    compare_values_at(path, None, Some(rv), ty.field(k), cmp);
                    path.pop();
                }
            }
        }
        Atom::List(kind) => compare_lists(path, as_list(l), as_list(r), kind, ty.item(), cmp),
    }
    if l.is_none() {
        cmp.added.insert(path);
    } else if r.is_none() {
        cmp.removed.insert(path);
    }
}

/// What [`compare_values_at`] adds below a node that only the right side has, relative to that node:
/// every field of `r` (each one a member, as each is added), items of granular lists by their path
/// element (an element carried by several items is a member only), `metadata.managedFields` left out.
/// `at_metadata`: the node is the root's `metadata`; `at_root`: the node is the root.
fn added_below(r: &Value, ty: Ty, at_metadata: bool, at_root: bool) -> FieldSet {
    let mut out = FieldSet::new();
    match pair_atom(ty, None, Some(r)) {
        Atom::Leaf => {}
        Atom::Object => {
            for (k, v) in as_map(Some(r)) {
                if at_metadata && k == "managedFields" {
                    continue;
                }
                let child = added_below(v, ty.field(k), at_root && k == "metadata", false);
                out.add_child(PathElement::Field(k.clone()), child);
            }
        }
        Atom::List(kind) => {
            let items = as_list(Some(r));
            // Elements in first-seen order with how many items carry each (items without a valid
            // element are skipped, as in `compare_lists`).
            let mut seen: Vec<(PathElement, &Value, usize)> = Vec::with_capacity(items.len());
            let mut index: BTreeMap<PathElement, usize> = BTreeMap::new();
            for item in items {
                let Ok(pe) = item_pe(kind, item) else {
                    continue;
                };
                match index.get(&pe) {
                    Some(&i) => seen[i].2 += 1,
                    None => {
                        index.insert(pe.clone(), seen.len());
                        seen.push((pe, item, 1));
                    }
                }
            }
            for (pe, item, count) in seen {
                let child = if count == 1 {
                    added_below(item, ty.item(), false, false)
                } else {
                    FieldSet::new()
                };
                out.add_child(pe, child);
            }
        }
    }
    out
}

fn compare_lists(
    path: &mut Vec<PathElement>,
    lhs: &[Value],
    rhs: &[Value],
    kind: ListKind,
    item_ty: Ty,
    cmp: &mut Comparison,
) {
    // Every element once, in first-seen order, with the items carrying it on each side.
    let mut order: Vec<PathElement> = Vec::new();
    let mut lvals: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    let mut rvals: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    for item in lhs {
        let Ok(pe) = item_pe(kind, item) else {
            continue;
        };
        if !lvals.contains_key(&pe) {
            order.push(pe.clone());
        }
        lvals.entry(pe).or_default().push(item);
    }
    for item in rhs {
        let Ok(pe) = item_pe(kind, item) else {
            continue;
        };
        if !lvals.contains_key(&pe) && !rvals.contains_key(&pe) {
            order.push(pe.clone());
        }
        rvals.entry(pe).or_default().push(item);
    }
    for pe in order {
        let l = lvals.get(&pe).map_or(&[][..], Vec::as_slice);
        let r = rvals.get(&pe).map_or(&[][..], Vec::as_slice);
        path.push(pe);
        match (l.len(), r.len()) {
            (0..=1, 0..=1) => {
                compare_values_at(path, l.first().copied(), r.first().copied(), item_ty, cmp)
            }
            (2.., 2..) => {
                let same = l.len() == r.len() && l.iter().zip(r).all(|(a, b)| values_equal(a, b));
                if !same {
                    cmp.modified.insert(path);
                }
            }
            (2.., _) => {
                if let Some(first) = r.first() {
                    compare_values_at(path, None, Some(first), item_ty, cmp);
                }
                cmp.removed.insert(path);
            }
            (_, 2..) => {
                if let Some(first) = l.first() {
                    compare_values_at(path, Some(first), None, item_ty, cmp);
                }
                cmp.added.insert(path);
            }
        }
        path.pop();
    }
}

// ---------------------------------------------------------------------------------------------------------
// RemoveItems

/// Removes the members of `set` from `v` (upstream `TypedValue.RemoveItems`), quirk included: a map or
/// list the removal visits that is or ends up empty becomes `null` (upstream's typed decoding then drops
/// it; [`drop_removal_nulls`] does that here). The intermediate results of pruning depend on those
/// `null`s, which count as fields.
pub(crate) fn remove_items(v: &Value, set: &FieldSet, ty: Ty) -> Value {
    if set.is_empty() {
        return v.clone();
    }
    match atom(ty, &[Some(v)]) {
        Atom::Leaf => v.clone(),
        Atom::Object => {
            let mut out = Map::new();
            for (k, child) in as_map(Some(v)) {
                let pe = PathElement::Field(k.clone());
                if set.is_member(&pe) {
                    continue;
                }
                let kept = match set.with_prefix(&pe) {
                    Some(sub) => remove_items(child, sub, ty.field(k)),
                    None => child.clone(),
                };
                out.insert(k.clone(), kept);
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        Atom::List(kind) => {
            let items = as_list(Some(v));
            let mut out = Vec::with_capacity(items.len());
            for (item, pe) in items.iter().zip(item_pes(kind, items)) {
                if set.is_member(&pe) {
                    continue;
                }
                out.push(match set.with_prefix(&pe) {
                    Some(sub) => remove_items(item, sub, ty.item()),
                    None => item.clone(),
                });
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
    }
}

/// Drops the `null`s [`remove_items`] left in `after` where `before` had a value: a map or list
/// emptied by the removal disappears instead of being stored as `null`.
pub(crate) fn drop_removal_nulls(after: &Value, before: &Value, ty: Ty) -> Value {
    match (after, before) {
        (Value::Null, b) if !b.is_null() => Value::Object(Map::new()),
        _ => drop_nulls_below(after, before, ty),
    }
}

fn drop_nulls_below(after: &Value, before: &Value, ty: Ty) -> Value {
    match (atom(ty, &[Some(before)]), after, before) {
        (Atom::Object, Value::Object(a), Value::Object(b)) => {
            let mut out = Map::new();
            for (k, av) in a {
                match b.get(k) {
                    Some(bv) if av.is_null() && !bv.is_null() => {}
                    Some(bv) => {
                        out.insert(k.clone(), drop_nulls_below(av, bv, ty.field(k)));
                    }
                    None => {
                        out.insert(k.clone(), av.clone());
                    }
                }
            }
            Value::Object(out)
        }
        (Atom::List(kind), Value::Array(a), Value::Array(b)) => {
            let had_nulls = b.iter().any(Value::is_null);
            let before_items: BTreeMap<PathElement, &Value> =
                item_pes(kind, b).into_iter().zip(b).collect();
            a.iter()
                .filter(|item| had_nulls || !item.is_null())
                .map(|item| {
                    match item_pe(kind, item)
                        .ok()
                        .and_then(|pe| before_items.get(&pe))
                    {
                        Some(bv) => drop_nulls_below(item, bv, ty.item()),
                        None => item.clone(),
                    }
                })
                .collect()
        }
        _ => after.clone(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// EnsureNamedFieldsAreMembers

/// `set` plus every struct field that is a parent in it (upstream `EnsureNamedFieldsAreMembers`): a set
/// holding `.spec.replicas` then also holds `.spec`, while `.metadata.labels.app` adds `.metadata` and
/// `.metadata.labels` but no map entry.
pub(crate) fn ensure_named(set: &FieldSet, ty: Ty) -> FieldSet {
    let mut out = FieldSet::new();
    for pe in set.members() {
        out.insert_member(pe.clone());
    }
    for (pe, child) in set.children() {
        let child_ty = match pe {
            PathElement::Field(k) => {
                if ty.is_struct() {
                    out.insert_member(pe.clone());
                }
                ty.field(k)
            }
            PathElement::Key(_) => ty.item(),
            _ => Ty::Any,
        };
        out.set_child(pe.clone(), ensure_named(child, child_ty));
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Validation of applied configurations

/// Checks what upstream's typed conversion of an applied configuration rejects: list items without
/// their keys, items a set cannot hold, and duplicate items. Returns upstream's error text
/// (`.spec.containers: duplicate entries for key [name="nginx"]`).
pub(crate) fn validate(v: &Value, ty: Ty) -> Result<(), String> {
    let mut errs = Vec::new();
    validate_at(v, ty, &mut String::new(), &mut errs);
    match errs.len() {
        0 => Ok(()),
        1 => Err(errs.remove(0)),
        _ => Err(format!("errors:\n  {}", errs.join("\n  "))),
    }
}

fn validate_at(v: &Value, ty: Ty, path: &mut String, errs: &mut Vec<String>) {
    let err = |path: &str, msg: String| {
        if path.is_empty() {
            msg
        } else {
            format!("{path}: {msg}")
        }
    };
    match atom(ty, &[Some(v)]) {
        Atom::Leaf => {}
        Atom::Object => {
            for (k, child) in as_map(Some(v)) {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                validate_at(child, ty.field(k), path, errs);
                path.truncate(len);
            }
        }
        Atom::List(kind) => {
            let mut seen = std::collections::BTreeSet::new();
            for (i, item) in as_list(Some(v)).iter().enumerate() {
                let pe = match item_pe(kind, item) {
                    Ok(pe) => pe,
                    Err(e) => {
                        errs.push(err(path, format!("element {i}: {e}")));
                        return;
                    }
                };
                if seen.contains(&pe) {
                    errs.push(err(path, format!("duplicate entries for key {pe}")));
                }
                let len = path.len();
                path.push_str(&pe.to_string());
                validate_at(item, ty.item(), path, errs);
                path.truncate(len);
                seen.insert(pe);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The empty object of a kind

/// The object upstream compares a new object with on create: the Go zero value of the kind as its JSON
/// encoding has it (non-pointer structs as objects, fields without `omitempty` as `null`, `0` or `""`).
/// A field present there is not itself added by a create (so `f:spec` carries no `"."`), and one whose
/// zero value the new object keeps (`template.metadata.creationTimestamp: null`, a PriorityClass
/// `value: 0`) is not owned by the creator. Fields of `status` are left out when only a status write can
/// set them.
pub(crate) fn zero_object(ty: Option<TypeRef>) -> Value {
    let meta = || json!({"creationTimestamp": null});
    let template = || json!({"metadata": meta(), "spec": {"containers": null}});
    let mut obj = match ty.map_or("", TypeRef::name) {
        "io.k8s.api.core.v1.Pod" => json!({"spec": {"containers": null}, "status": {}}),
        "io.k8s.api.core.v1.Node" => json!({"spec": {}, "status": {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {}}}),
        "io.k8s.api.core.v1.Namespace" => json!({"spec": {}, "status": {}}),
        "io.k8s.api.core.v1.Service" => json!({"spec": {}, "status": {"loadBalancer": {}}}),
        "io.k8s.api.core.v1.Event" => json!({
            "involvedObject": {}, "source": {}, "firstTimestamp": null, "lastTimestamp": null,
            "eventTime": null, "reportingComponent": "", "reportingInstance": ""}),
        "io.k8s.api.events.v1.Event" => json!({
            "eventTime": null, "regarding": {}, "deprecatedSource": {},
            "deprecatedFirstTimestamp": null, "deprecatedLastTimestamp": null}),
        "io.k8s.api.core.v1.Binding" => json!({"target": {}}),
        "io.k8s.api.coordination.v1.Lease" => json!({"spec": {}}),
        "io.k8s.api.scheduling.v1.PriorityClass" => json!({"value": 0}),
        "io.k8s.api.autoscaling.v1.Scale" => json!({"spec": {}, "status": {"replicas": 0}}),
        "io.k8s.api.apps.v1.Deployment" => json!({
            "spec": {"selector": null, "template": template(), "strategy": {}}, "status": {}}),
        "io.k8s.api.apps.v1.ReplicaSet" => json!({
            "spec": {"selector": null, "template": template()}, "status": {"replicas": 0}}),
        _ => json!({}),
    };
    obj["metadata"] = meta();
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::schema::root_type;

    fn pod() -> Ty {
        Ty::root(root_type("", "Pod"))
    }

    #[test]
    fn field_set_of_an_object() {
        let obj = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"], "annotations": {}},
            "spec": {
                "containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
                                "args": ["a", "b"], "resources": {}}],
                "nodeSelector": {"disk": "ssd"},
                "initContainers": []
            }
        });
        assert_eq!(
            to_field_set(&obj, pod()).to_fields_v1(),
            json!({
                "f:apiVersion": {}, "f:kind": {},
                "f:metadata": {"f:annotations": {}, "f:finalizers": {"v:\"a\"": {}}, "f:labels": {"f:app": {}}, "f:name": {}},
                "f:spec": {
                    "f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                        "f:resources": {}}},
                    "f:nodeSelector": {}
                }
            })
        );
    }

    #[test]
    fn merge_orders_list_items_as_upstream() {
        let ty = Ty::List {
            elem: None,
            list_type: ListType::Map(&["name"]),
        };
        let items = |names: &[&str]| -> Value {
            Value::Array(names.iter().map(|n| json!({"name": n})).collect())
        };
        let names = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string())
                .collect()
        };
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["a", "b", "c"], &["c", "d"], &["a", "b", "c", "d"]),
            (&["a", "b", "c"], &["d", "a"], &["d", "a", "b", "c"]),
            (&["a", "b"], &["b", "a"], &["b", "a"]),
            (&[], &["x", "y"], &["x", "y"]),
            (&["a", "b", "c"], &["c", "b", "a"], &["c", "b", "a"]),
            (&["a", "b", "c"], &["b"], &["a", "b", "c"]),
        ];
        for (live, config, want) in cases {
            let merged = merge(&items(live), &items(config), ty);
            assert_eq!(names(&merged), *want, "{live:?} + {config:?}");
        }
    }

    #[test]
    fn compare_and_remove() {
        let before = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}, "metadata": {"labels": {"a": "1"}}});
        let after = json!({"spec": {"containers": [{"name": "a", "image": "y"}, {"name": "b", "image": "z"}]},
                           "metadata": {}});
        let cmp = compare(&before, &after, pod());
        assert_eq!(
            cmp.modified.paths(),
            vec![".spec.containers[name=\"a\"].image"]
        );
        assert_eq!(
            cmp.added.to_fields_v1(),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
        );
        assert_eq!(
            cmp.removed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
        );

        let set = FieldSet::from_fields_v1(
            &json!({"f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {}}},
                                                     "f:metadata": {"f:labels": {"f:a": {}}}}),
        )
        .unwrap();
        let obj = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "metadata": {"name": "x", "labels": {"a": "1"}}});
        let removed = remove_items(&obj, &set, pod());
        assert_eq!(
            removed,
            json!({"spec": {"containers": [{"name": "a"}]}, "metadata": {"name": "x", "labels": null}})
        );
        assert_eq!(
            drop_removal_nulls(&removed, &obj, pod()),
            json!({"spec": {"containers": [{"name": "a"}]}, "metadata": {"name": "x"}})
        );
    }

    #[test]
    fn named_fields() {
        let set = FieldSet::from_fields_v1(&json!({"f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {"f:nodeSelector": {}, "f:containers": {"k:{\"name\":\"a\"}": {"f:image": {}}}}}))
        .unwrap();
        assert_eq!(
            ensure_named(&set, pod()).to_fields_v1(),
            json!({"f:metadata": {".": {}, "f:labels": {".": {}, "f:a": {}}},
                   "f:spec": {".": {}, "f:containers": {".": {}, "k:{\"name\":\"a\"}": {"f:image": {}}}, "f:nodeSelector": {}}})
        );
    }

    #[test]
    fn validation_errors() {
        let cases = [
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}),
                ".spec.containers: duplicate entries for key [name=\"a\"]",
            ),
            (
                json!({"spec": {"containers": [{"image": "a"}]}}),
                ".spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
            ),
            (
                json!({"metadata": {"finalizers": [{"a": 1}]}}),
                ".metadata.finalizers: element 0: associative list without keys has an element that's a map type",
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(validate(&obj, pod()).unwrap_err(), want);
        }
        assert!(validate(&json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}]}]}}), pod()).is_ok());
    }
}
