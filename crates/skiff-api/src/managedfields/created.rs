//! The `FieldsV1` JSON of what a create sets, written in one walk of the object.
//!
//! On a create, [`super::update`] compares the kind's zero object with the new object, takes what was
//! modified or added, drops the reset fields (whole subtrees) and the fields nobody owns (members
//! only), and encodes the one resulting set. Nearly every write to the API server is a create (pods,
//! events), and building those sets (a trie of owned path elements per level, then a JSON map per
//! level) was a tenth of the server's work under load. This module gives the same text straight from
//! the two objects. It handles the shapes creates have; for anything else (a granular list on the zero
//! side, duplicate list items, an empty result) it answers `None` and the caller takes the general
//! path. The test `created_fields_match_the_general_path` holds the two to the same output.
//!
//! The walk reads both objects as borrowed trees of their JSON text ([`Raw`]): the new object is the
//! text about to be stored, so no `serde_json::Value` of it is needed at all.

use super::fieldset::{FieldSet, PathElement};
use super::raw::Raw;
use super::typed::{atom_of, item_pe, Atom, ListKind, Ty};
use super::value::values_equal;
use serde_json::{Map, Value};

/// Why the walk gave up: the general path handles the case.
struct Fallback;

/// The exclusions that apply below one node: `reset` drops subtrees, `strip` drops members.
#[derive(Clone, Copy)]
struct Excluded<'a> {
    reset: Option<&'a FieldSet>,
    strip: Option<&'a FieldSet>,
}

impl<'a> Excluded<'a> {
    /// For the child `pe`: whether it is dropped whole, whether its own membership is dropped, and
    /// the exclusions below it.
    fn child(self, pe: &PathElement) -> (bool, bool, Excluded<'a>) {
        self.descend(|s| s.is_member(pe), |s| s.with_prefix(pe))
    }

    /// [`Excluded::child`] given how a set answers "member?" and "what is below?" for the child.
    fn descend(
        self,
        member: impl Fn(&FieldSet) -> bool,
        below: impl Fn(&'a FieldSet) -> Option<&'a FieldSet>,
    ) -> (bool, bool, Excluded<'a>) {
        let reset = self.reset.is_some_and(&member);
        let strip = self.strip.is_some_and(&member);
        let below = Excluded {
            reset: self.reset.and_then(&below),
            strip: self.strip.and_then(&below),
        };
        (reset, strip, below)
    }
}

/// Writes the members of `compare(zero, new)`'s modified-or-added set, less `reset` (with everything
/// below it) and less the members of `strip`, as the inside of a `FieldsV1` object (no braces):
/// `"f:metadata":{"f:labels":{...}},"f:spec":{...}`. `metadata.managedFields` is never part of it.
/// `None` if the general path must decide, including when the set is empty.
pub(crate) fn fields_v1(
    zero: &Raw<'_>,
    new: &Raw<'_>,
    ty: Ty,
    reset: &FieldSet,
    strip: &FieldSet,
) -> Option<String> {
    let mut out = String::with_capacity(1024);
    let excluded = Excluded {
        reset: Some(reset),
        strip: Some(strip),
    };
    match pair_contents(Some(zero), new, ty, excluded, Place::Root, &mut out) {
        Ok(true) => Some(out),
        Ok(false) | Err(Fallback) => None,
    }
}

/// Where a node is, for the one field skipped by position (`metadata.managedFields`).
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Root,
    Metadata,
    Other,
}

impl Place {
    fn child(self, key: &str) -> Place {
        if self == Place::Root && key == "metadata" {
            Place::Metadata
        } else {
            Place::Other
        }
    }
}

/// Writes the contents of the node whose old value is `l` (from the zero object) and new value `r`;
/// returns whether anything was written. The node's own membership is the caller's business.
fn pair_contents(
    l: Option<&Raw<'_>>,
    r: &Raw<'_>,
    ty: Ty,
    excluded: Excluded<'_>,
    place: Place,
    out: &mut String,
) -> Result<bool, Fallback> {
    let Some(l) = l else {
        return added_contents(r, ty, excluded, place, out);
    };
    match pair_atom(ty, Some(l), Some(r)) {
        Atom::Leaf => Ok(false),
        Atom::Object => {
            // Keys only the zero object has are removed, not taken: only `r`'s keys can add members.
            let keys = sorted_members(r, place);
            let mut first = true;
            for (k, rv) in keys {
                let lv = l.get(k);
                let child_ty = ty.field(k);
                // A changed leaf is modified and a new field added (a member either way); a
                // changed object or list only holds members.
                let member = match lv {
                    Some(lv) if lv.same(rv) => continue,
                    Some(lv) => {
                        matches!(pair_atom(child_ty, Some(lv), Some(rv)), Atom::Leaf)
                            && !values_equal(&lv.to_value(), &rv.to_value())
                    }
                    None => true,
                };
                let (dropped, unowned, child_excluded) = field_exclusions(excluded, k);
                if dropped {
                    continue;
                }
                write_node(out, &mut first, "f:", k, member && !unowned, |out| {
                    pair_contents(lv, rv, child_ty, child_excluded, place.child(k), out)
                })?;
            }
            Ok(!first)
        }
        Atom::List(_) if !l.items().is_empty() => Err(Fallback),
        Atom::List(kind) => list_contents(r.items(), kind, ty.item(), excluded, out),
    }
}

/// The members of the object `r` in `FieldsV1` order (by name), `metadata.managedFields` left out.
fn sorted_members<'r, 'a>(r: &'r Raw<'a>, place: Place) -> Vec<(&'r str, &'r Raw<'a>)> {
    let mut keys: Vec<(&str, &Raw)> = r
        .members()
        .iter()
        .map(|(k, v)| (k.as_ref(), v))
        .filter(|(k, _)| !(place == Place::Metadata && *k == "managedFields"))
        .collect();
    keys.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    keys
}

/// [`super::typed::pair_atom`] of two raw values.
fn pair_atom(ty: Ty, l: Option<&Raw<'_>>, r: Option<&Raw<'_>>) -> Atom {
    let object = l.is_some_and(Raw::is_object) || r.is_some_and(Raw::is_object);
    let array = l.is_some_and(Raw::is_array) || r.is_some_and(Raw::is_array);
    let empty = |v: Option<&Raw>| v.is_none_or(Raw::is_empty_container);
    match atom_of(ty, object, array) {
        Atom::Leaf => Atom::Leaf,
        _ if empty(l) && empty(r) => Atom::Leaf,
        a => a,
    }
}

/// [`item_pe`] of a raw list item: only the key fields of an object item become values.
fn raw_item_pe(kind: ListKind, item: &Raw<'_>) -> Result<PathElement, String> {
    match kind {
        ListKind::Keys(keys) if item.is_object() => {
            let mut m = Map::new();
            for key in keys {
                if let Some(v) = item.get(key) {
                    m.insert((*key).to_string(), v.to_value());
                }
            }
            item_pe(kind, &Value::Object(m))
        }
        _ => item_pe(kind, &item.to_value()),
    }
}

/// Writes the contents of a node only the new object has (every field below it is added, each one a
/// member); returns whether anything was written.
fn added_contents(
    r: &Raw<'_>,
    ty: Ty,
    excluded: Excluded<'_>,
    place: Place,
    out: &mut String,
) -> Result<bool, Fallback> {
    match pair_atom(ty, None, Some(r)) {
        Atom::Leaf => Ok(false),
        Atom::Object => {
            let keys = sorted_members(r, place);
            let mut first = true;
            for (k, v) in keys {
                let (dropped, unowned, child_excluded) = field_exclusions(excluded, k);
                if dropped {
                    continue;
                }
                let child_ty = ty.field(k);
                write_node(out, &mut first, "f:", k, !unowned, |out| {
                    added_contents(v, child_ty, child_excluded, place.child(k), out)
                })?;
            }
            Ok(!first)
        }
        Atom::List(kind) => list_contents(r.items(), kind, ty.item(), excluded, out),
    }
}

/// The items of a granular list that only the new object has, in path element order. Items without
/// a valid element are skipped (as the comparison skips them); an element carried by two items is
/// left to the general path.
fn list_contents(
    items: &[Raw<'_>],
    kind: ListKind,
    item_ty: Ty,
    excluded: Excluded<'_>,
    out: &mut String,
) -> Result<bool, Fallback> {
    let mut pes: Vec<(PathElement, &Raw)> = items
        .iter()
        .filter_map(|item| raw_item_pe(kind, item).ok().map(|pe| (pe, item)))
        .collect();
    pes.sort_by(|a, b| a.0.cmp(&b.0));
    if pes.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Fallback);
    }
    let mut first = true;
    for (pe, item) in &pes {
        let (dropped, unowned, child_excluded) = excluded.child(pe);
        if dropped {
            continue;
        }
        let key = pe.to_fields_v1_key();
        write_node(out, &mut first, "", &key, !unowned, |out| {
            added_contents(item, item_ty, child_excluded, Place::Other, out)
        })?;
    }
    Ok(!first)
}

/// [`Excluded::child`] for the field `k`, without building its path element (the exclusion sets
/// are a handful of fields; this runs for every member of the object's top two levels).
fn field_exclusions<'a>(excluded: Excluded<'a>, k: &str) -> (bool, bool, Excluded<'a>) {
    excluded.descend(|s| s.is_field_member(k), |s| s.with_field_prefix(k))
}

/// Writes `"<prefix><name>":{...}` for one node (`prefix` is `f:` for a field, empty for a list
/// item's ready-made key): `"."` first when the node is a member with members below it, nothing at
/// all when it is neither a member nor a parent.
fn write_node(
    out: &mut String,
    first: &mut bool,
    prefix: &str,
    name: &str,
    member: bool,
    contents: impl FnOnce(&mut String) -> Result<bool, Fallback>,
) -> Result<(), Fallback> {
    let start = out.len();
    if !*first {
        out.push(',');
    }
    out.push('"');
    out.push_str(prefix);
    push_escaped(name, out);
    out.push_str("\":{");
    let inner = out.len();
    let wrote = contents(out)?;
    if !wrote && !member {
        out.truncate(start);
        return Ok(());
    }
    if wrote && member {
        out.insert_str(inner, "\".\":{},");
    }
    out.push('}');
    *first = false;
    Ok(())
}

/// `s` as a JSON string, quoted, as `serde_json` writes it.
pub(crate) fn push_json_string(s: &str, out: &mut String) {
    out.push('"');
    push_escaped(s, out);
    out.push('"');
}

/// A JSON string's contents as `serde_json` writes them (quotes, backslashes and control characters
/// escaped; nothing else), so that the text equals the general path's encoding byte for byte.
fn push_escaped(s: &str, out: &mut String) {
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        return;
    }
    let quoted = serde_json::to_string(s).expect("strings encode");
    out.push_str(&quoted[1..quoted.len() - 1]);
}
