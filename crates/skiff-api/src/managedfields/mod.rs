//! Server-side apply and `metadata.managedFields`: who owns which field of an object.
//!
//! # The model
//!
//! Every write names a *field manager* (`?fieldManager=`, or the user agent). An object's
//! `metadata.managedFields` holds one entry per manager and operation: `{manager, operation, apiVersion,
//! time, fieldsType: "FieldsV1", fieldsV1, subresource}`, where `fieldsV1` is a [`FieldSet`] — a trie of
//! field paths (`f:<field>`, `k:{<list-map keys>}`, `v:<set value>`, `"."` for "this node itself"). Entries
//! are keyed by manager, operation and subresource, plus the API version for `Update` entries.
//!
//! - **Apply** ([`apply`], `PATCH` with `application/apply-patch+yaml`) sends the manager's whole intent.
//!   It is merged into the live object (objects key by key, associative lists by their keys, atomic
//!   values replaced), and the manager's `Apply` entry becomes exactly the fields of the configuration.
//!   Fields the manager applied last time but omits now are removed from the object unless another
//!   manager (applier or updater) owns them. Changing a field that another manager owns is a *conflict*
//!   (409) unless `force`, which moves the field to the applier. Setting a field to the value it already
//!   has is never a conflict: both managers then own it.
//! - **Update** ([`update`], create / update / patch / subresources) records that the manager owns what
//!   it changed: the fields that differ between the old and the new object are added to its `Update`
//!   entry and taken from every other manager; fields the write removed are taken from everyone.
//!
//! This follows structured-merge-diff v4.4 and apimachinery's `pkg/util/managedfields` (Kubernetes
//! v1.32) step by step, wrappers included:
//!
//! - Server-set fields are never owned: `apiVersion`, `kind`, `metadata.{name, namespace, uid,
//!   resourceVersion, generation, creationTimestamp, selfLink, managedFields}` are stripped from the
//!   writer's set (so `kubectl apply --server-side` of a ConfigMap records `{"f:data":{..}}` and
//!   `f:metadata` only for labels or annotations). Fields the write path resets are ignored too
//!   ([`reset_fields`]): `status` for main-resource writes of kinds with a status subresource, `spec`
//!   for `status` writes.
//! - `Update` times change only when the write changed something; an `Apply` entry's time only when the
//!   apply changed the object (so a manager whose first apply changes nothing has an entry without a
//!   time). Re-applying an unchanged configuration returns the live object as it is, time included, so
//!   the caller can skip the write.
//! - An existing object without managed fields is not tracked by updates; the first apply gives its
//!   current fields to `before-first-apply`. More than ten `Update` entries are folded, oldest first,
//!   into `ancient-changes` entries per API version.
//! - The manager `kubectl` upgrades from client-side apply: conflicts on fields its
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation set (with the live value) are
//!   forced, and the annotation is kept in sync with each server-side apply.
//! - Entries are sorted by operation (`Apply` first), then time, manager, API version and subresource.
//!
//! Types come from [`crate::patch::schema`]: list types and map keys as kube-openapi gives them to SSA
//! (containers by `name`, container ports by `containerPort`+`protocol` with `protocol` defaulting to
//! `TCP`, finalizers as a set), atomic structs and maps as single values, and lists the graph does not
//! describe as atomic. On create, the old object is the kind's Go zero value, as upstream's is.
//!
//! Deviations, all deliberate: no conversion between API versions (each kind is served at one
//! version); an applied configuration upstream's typed conversion rejects (duplicate or keyless list
//! items) is answered with 400 `BadRequest` instead of upstream's 500; stored managed fields that do
//! not decode are treated as absent instead of failing the apply; pruning never removes the server-set
//! metadata listed above, even when the applier drops `metadata` altogether; a map or list emptied by
//! pruning is dropped instead of being left `null` for typed decoding to drop; object keys count as
//! struct fields unless the graph says the object is a map (see `typed`). Not covered: the `scale`
//! subresource's mapping of `spec.replicas` ownership between a Scale and its parent.
//!
//! Written by hand: no Rust crate implements structured-merge-diff.

mod created;
mod fieldset;
mod raw;
mod shape;
mod typed;
mod value;

pub use fieldset::{path_string, FieldSet, PathElement};

use crate::patch::schema::TypeRef;
use crate::status::{ApiError, Cause, Details};
use created::push_json_string;
use serde_json::{Map, Value};
use std::fmt;
use typed::Ty;
use value::{go_json, values_equal, write_go_json_string};

/// The client-side apply annotation.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `Update` entries kept before the oldest are folded into `ancient-changes` (upstream
/// `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that owns an object's existing fields when it is applied to for the first time.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The manager `Update` entries are folded into beyond [`MAX_UPDATE_MANAGERS`].
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// Total size of all annotations (keys and values) an object may carry.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// `managedFields[].operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// A field another manager owns and the apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager's name.
    pub manager: String,
    /// How it came to own the field.
    pub operation: Operation,
    /// The API version of its entry.
    pub api_version: String,
    /// The subresource of its entry (`""` for the main resource).
    pub subresource: String,
    /// The field, as upstream prints it: `.spec.containers[name="nginx"].image`.
    pub field: String,
}

impl Conflict {
    /// How upstream names the manager in messages (`printManager`): `"m"` for an applier,
    /// `"m" using v1` for an updater, `"m" with subresource "status" using v1`.
    pub fn describe_manager(&self) -> String {
        let mut out = value::go_quote(&self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(
                " with subresource {}",
                value::go_quote(&self.subresource)
            ));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn identifier(&self) -> String {
        identifier(
            &self.manager,
            self.operation,
            &self.api_version,
            &self.subresource,
        )
    }
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// Fields owned by other managers would change; retry with `force` to take them.
    Conflicts(Vec<Conflict>),
    /// The applied configuration is unacceptable (wrong `apiVersion`/`kind`, `metadata.managedFields`
    /// set, list items without keys or duplicated); answered with 400 `BadRequest`.
    Invalid(String),
}

impl ApplyError {
    /// The `Status` message (upstream `getConflictMessage` for conflicts).
    pub fn message(&self) -> String {
        match self {
            ApplyError::Invalid(m) => m.clone(),
            ApplyError::Conflicts(cs) => conflicts_message(cs),
        }
    }

    /// The `Status` kube-apiserver answers with: 409 `Conflict` with one `FieldManagerConflict` cause per
    /// field, or 400 `BadRequest`.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            ApplyError::Invalid(m) => ApiError::bad_request(m.clone()),
            ApplyError::Conflicts(cs) => ApiError {
                code: 409,
                reason: "Conflict",
                message: conflicts_message(cs),
                details: Some(Box::new(Details {
                    causes: cs
                        .iter()
                        .map(|c| Cause {
                            reason: "FieldManagerConflict".to_string(),
                            message: format!("conflict with {}", c.describe_manager()),
                            field: c.field.clone(),
                        })
                        .collect(),
                    ..Default::default()
                })),
            },
        }
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ApplyError {}

fn conflicts_message(cs: &[Conflict]) -> String {
    if let [c] = cs {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.describe_manager(),
            c.field
        );
    }
    let mut ids: Vec<String> = cs.iter().map(Conflict::identifier).collect();
    ids.sort();
    ids.dedup();
    let mut lines = Vec::new();
    for id in ids {
        let mine: Vec<&Conflict> = cs.iter().filter(|c| c.identifier() == id).collect();
        lines.push(format!("conflicts with {}:", mine[0].describe_manager()));
        lines.extend(mine.iter().map(|c| format!("- {}", c.field)));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        cs.len(),
        lines.join("\n")
    )
}

// ---------------------------------------------------------------------------------------------------------
// Entries

#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    subresource: String,
    time: Option<String>,
    set: FieldSet,
}

/// What identifies an entry: manager, operation, subresource, and the API version for updates
/// (upstream `BuildManagerIdentifier`).
type Key = (String, Operation, String, String);

fn key(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Key {
    let version = match operation {
        Operation::Apply => "",
        Operation::Update => api_version,
    };
    (
        manager.to_string(),
        operation,
        version.to_string(),
        subresource.to_string(),
    )
}

impl Entry {
    fn key(&self) -> Key {
        key(
            &self.manager,
            self.operation,
            &self.api_version,
            &self.subresource,
        )
    }

    fn identifier(&self) -> String {
        identifier(
            &self.manager,
            self.operation,
            &self.api_version,
            &self.subresource,
        )
    }

    fn time_seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp())
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::String(self.manager.clone()));
        }
        m.insert("operation".into(), self.operation.as_str().into());
        m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(t) = &self.time {
            m.insert("time".into(), Value::String(t.clone()));
        }
        m.insert("fieldsType".into(), "FieldsV1".into());
        m.insert("fieldsV1".into(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert(
                "subresource".into(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(m)
    }
}

/// The JSON manager identifier upstream sorts conflict messages by.
fn identifier(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> String {
    let mut out = String::from("{");
    if !manager.is_empty() {
        out.push_str("\"manager\":");
        write_go_json_string(manager, &mut out);
        out.push(',');
    }
    out.push_str(&format!("\"operation\":\"{}\"", operation.as_str()));
    if operation == Operation::Update && !api_version.is_empty() {
        out.push_str(",\"apiVersion\":");
        write_go_json_string(api_version, &mut out);
    }
    if !subresource.is_empty() {
        out.push_str(",\"subresource\":");
        write_go_json_string(subresource, &mut out);
    }
    out.push('}');
    out
}

fn find(entries: &[Entry], k: &Key) -> Option<usize> {
    entries.iter().position(|e| e.key() == *k)
}

/// Decodes `metadata.managedFields` (upstream `DecodeManagedFields`, with its error texts).
fn decode_entries(v: Option<&Value>) -> Result<Vec<Entry>, String> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("managedFields must be a list".to_string()),
    };
    let mut out: Vec<Entry> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let s = |k: &str| {
            item.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let operation = match s("operation").as_str() {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".to_string()),
        };
        let api_version = s("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".to_string());
        }
        match s("fieldsType").as_str() {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ))
            }
        }
        let set = match item.get("fieldsV1") {
            Some(f) => FieldSet::from_fields_v1(f)
                .map_err(|e| format!("error decoding versioned set: {e}"))?,
            None => FieldSet::new(),
        };
        let entry = Entry {
            manager: s("manager"),
            operation,
            api_version,
            subresource: s("subresource"),
            time: item.get("time").and_then(Value::as_str).map(str::to_string),
            set,
        };
        match find(&out, &entry.key()) {
            Some(j) => out[j] = entry,
            None => out.push(entry),
        }
    }
    Ok(out)
}

/// Encodes entries sorted as upstream sorts them (`sortEncodedManagedFields`).
fn encode_entries(entries: &[Entry]) -> Vec<Value> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|p, q| {
        p.operation
            .as_str()
            .cmp(q.operation.as_str())
            .then_with(|| p.time_seconds().cmp(&q.time_seconds()))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    sorted.into_iter().map(Entry::to_value).collect()
}

fn managed_fields_of(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("managedFields")
}

/// A copy of `obj` without `metadata.managedFields`.
fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    remove_managed_fields(&mut out);
    out
}

fn remove_managed_fields(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
}

/// Stores `entries` as `metadata.managedFields` (removing it when there are none).
fn store_entries(obj: &mut Value, entries: &[Entry]) {
    if entries.is_empty() {
        remove_managed_fields(obj);
        return;
    }
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(
            "managedFields".to_string(),
            Value::Array(encode_entries(entries)),
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fields nobody owns

fn field_path(names: &[&str]) -> Vec<PathElement> {
    names
        .iter()
        .map(|n| PathElement::Field(n.to_string()))
        .collect()
}

/// The fields stripped from every writer's set (upstream `NewStripMetaManager`).
fn strip_set() -> &'static FieldSet {
    static STRIP: std::sync::OnceLock<FieldSet> = std::sync::OnceLock::new();
    STRIP.get_or_init(|| {
        let mut s = FieldSet::new();
        for p in [
            &["apiVersion"][..],
            &["kind"],
            &["metadata"],
            &["metadata", "name"],
            &["metadata", "namespace"],
            &["metadata", "creationTimestamp"],
            &["metadata", "selfLink"],
            &["metadata", "uid"],
            &["metadata", "clusterName"],
            &["metadata", "generation"],
            &["metadata", "managedFields"],
            &["metadata", "resourceVersion"],
        ] {
            s.insert(&field_path(p));
        }
        s
    })
}

/// Kinds whose `status` is written only through the `status` subresource.
const STATUS_SUBRESOURCE_KINDS: &[&str] = &[
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.Node",
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.apps.v1.ReplicaSet",
];

/// The fields a write through `subresource` cannot change and so never owns (upstream strategies'
/// `GetResetFields`): `status` for main-resource writes of kinds with a status subresource, `spec` for
/// `status` writes, nothing otherwise. Ignored fields and everything below them are left out of
/// comparisons and sets.
pub fn reset_fields(ty: Option<TypeRef>, subresource: Option<&str>) -> FieldSet {
    let mut s = FieldSet::new();
    match subresource {
        None => {
            if ty.is_some_and(|t| STATUS_SUBRESOURCE_KINDS.contains(&t.name())) {
                s.insert(&field_path(&["status"]));
            }
        }
        Some("status") => s.insert(&field_path(&["spec"])),
        Some(_) => {}
    }
    s
}

// ---------------------------------------------------------------------------------------------------------
// The updater

/// A conflict before it is rendered: the owning entry and the field.
struct RawConflict {
    owner: Entry,
    path: Vec<PathElement>,
}

/// Upstream `Updater.update`: what the write modified or added is taken from every manager but `skip`
/// (a conflict unless `force`), and what it removed is taken from them all; entries left empty go.
fn take_changes(
    entries: &mut Vec<Entry>,
    cmp: &typed::Comparison,
    skip: Option<&Key>,
    force: bool,
) -> Result<(), Vec<RawConflict>> {
    if entries.is_empty() {
        // Nothing to take from (every create): no copy of the changed set.
        return Ok(());
    }
    let changed = cmp.modified_or_added();
    let mut conflicts = Vec::new();
    for e in entries.iter() {
        if skip == Some(&e.key()) {
            continue;
        }
        let taken = e.set.intersection(&changed);
        if !taken.is_empty() {
            conflicts.push((e.key(), taken));
        }
    }
    if !force && !conflicts.is_empty() {
        let mut out = Vec::new();
        for (k, set) in conflicts {
            let owner = entries.iter().find(|e| e.key() == k).cloned();
            for path in set.path_elements() {
                if let Some(owner) = &owner {
                    out.push(RawConflict {
                        owner: owner.clone(),
                        path,
                    });
                }
            }
        }
        return Err(out);
    }
    for e in entries.iter_mut() {
        if skip == Some(&e.key()) {
            continue;
        }
        if let Some((_, taken)) = conflicts.iter().find(|(k, _)| *k == e.key()) {
            e.set.subtract(taken);
        }
        e.set.subtract(&cmp.removed);
    }
    entries.retain(|e| !e.set.is_empty());
    Ok(())
}

/// The `Update` path for one manager: it takes what changed from `old` to `new`; its time moves only
/// if it took something (upstream `managedFieldsUpdater` with its `current-operation` manager).
#[allow(clippy::too_many_arguments)]
fn record_update(
    entries: &mut Vec<Entry>,
    old: &Value,
    new: &Value,
    manager: &str,
    api_version: &str,
    subresource: &str,
    ty: Option<TypeRef>,
    reset: &FieldSet,
    now: &str,
) {
    let mut cmp = typed::compare(old, new, Ty::root(ty));
    cmp.exclude(reset);
    // Every entry, the manager's own included, gives up what changed (force: updates never conflict).
    let _ = take_changes(entries, &cmp, None, true);
    let mut taken = cmp.into_modified_or_added();
    taken.subtract(strip_set());
    if taken.is_empty() {
        return;
    }
    let k = key(manager, Operation::Update, api_version, subresource);
    match find(entries, &k) {
        Some(i) => {
            let e = &mut entries[i];
            taken.merge(std::mem::take(&mut e.set));
            e.set = taken;
            e.api_version = api_version.to_string();
            e.time = Some(now.to_string());
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: Operation::Update,
            api_version: api_version.to_string(),
            subresource: subresource.to_string(),
            time: Some(now.to_string()),
            set: taken,
        }),
    }
}

/// Folds the oldest `Update` entries into `ancient-changes` entries per API version while there are
/// more than [`MAX_UPDATE_MANAGERS`] (upstream `capUpdateManagers`).
fn cap_update_managers(entries: &mut Vec<Entry>) {
    // Counted before anything is copied: nearly every write has few managers.
    let count = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .count();
    if count <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut updaters: Vec<Entry> = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .cloned()
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|a, b| {
        a.time_seconds()
            .cmp(&b.time_seconds())
            .then_with(|| a.identifier().cmp(&b.identifier()))
    });
    let mut first_of_version: Vec<(String, Key)> = Vec::new();
    let mut length = updaters.len();
    for updater in &updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = updater.api_version.clone();
        let bucket = key(ANCIENT_CHANGES, Operation::Update, &version, "");
        let Some((_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version, updater.key()));
            continue;
        };
        if updater.key() == bucket {
            // The bucket itself, met after an older entry: it stays (upstream would drop it).
            continue;
        }
        if find(entries, &bucket).is_none() {
            // The first entry seen at this version becomes the bucket.
            if let Some(i) = find(entries, first) {
                let e = &mut entries[i];
                e.manager = ANCIENT_CHANGES.to_string();
                e.subresource = String::new();
            }
        }
        let Some(i) = find(entries, &updater.key()) else {
            continue;
        };
        let merged = entries.remove(i);
        if let Some(b) = find(entries, &bucket) {
            let e = &mut entries[b];
            e.set = merged.set.union(&e.set);
            e.api_version = merged.api_version;
            e.time = merged.time;
        }
        length -= 1;
    }
}

/// Removes what the applier applied last time (`last`) but no longer applies, unless someone else
/// owns it (upstream `Updater.prune` with `addBackOwnedItems` and `addBackDanglingItems`, which also
/// drop a struct whose every owned field went away).
fn prune(merged: &Value, entries: &[Entry], last: &FieldSet, ty: Ty) -> Value {
    let named = |s: &FieldSet| typed::ensure_named(s, ty);
    let field_set = |v: &Value| named(&typed::to_field_set(v, ty));
    // Server-set metadata always counts as owned, so that pruning never touches it.
    let owned = entries
        .iter()
        .fold(strip_set().clone(), |acc, e| acc.union(&e.set));
    let last = named(last);
    let all = field_set(merged);
    let pruned = typed::remove_items(merged, &last, ty);
    let kept = field_set(&pruned).union(&named(&owned));
    let pruned = typed::remove_items(merged, &all.difference(&kept), ty);
    let dangling = all.difference(&field_set(&pruned)).intersection(&last);
    typed::drop_removal_nulls(&typed::remove_items(merged, &dangling, ty), merged, ty)
}

struct Applied {
    object: Value,
    entries: Vec<Entry>,
}

/// One run of the apply pipeline below the client-side-apply upgrade.
#[allow(clippy::too_many_arguments)]
fn apply_once(
    live: Option<&Value>,
    config: &Value,
    mut entries: Vec<Entry>,
    manager: &str,
    force: bool,
    api_version: &str,
    subresource: &str,
    ty: Option<TypeRef>,
    reset: &FieldSet,
    now: &str,
) -> Result<Applied, Vec<RawConflict>> {
    let tyr = Ty::root(ty);
    let live_obj = live.map_or_else(|| Value::Object(Map::new()), without_managed_fields);
    if entries.is_empty() && live.is_some() {
        // An object nobody tracked yet: its current fields go to `before-first-apply`.
        record_update(
            &mut entries,
            &typed::zero_object(ty),
            &live_obj,
            BEFORE_FIRST_APPLY,
            api_version,
            subresource,
            ty,
            reset,
            now,
        );
        cap_update_managers(&mut entries);
    }
    let k = key(manager, Operation::Apply, api_version, subresource);
    let merged = typed::merge(&live_obj, config, tyr);
    let last = find(&entries, &k).map(|i| entries[i].set.clone());
    let set = typed::to_field_set(config, tyr).recursive_difference(reset);
    match find(&entries, &k) {
        Some(i) => {
            entries[i].set = set;
            entries[i].api_version = api_version.to_string();
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: Operation::Apply,
            api_version: api_version.to_string(),
            subresource: subresource.to_string(),
            time: None,
            set,
        }),
    }
    let object = match last {
        Some(last) if !last.is_empty() => prune(&merged, &entries, &last, tyr),
        _ => merged,
    };
    let mut cmp = typed::compare(&live_obj, &object, tyr);
    cmp.exclude(reset);
    take_changes(&mut entries, &cmp, Some(&k), force)?;
    let changed = live.is_none() || !values_equal(&live_obj, &object);
    if let Some(i) = find(&entries, &k) {
        if changed {
            entries[i].time = Some(now.to_string());
        }
        entries[i].set = entries[i].set.difference(strip_set());
        if entries[i].set.is_empty() {
            entries.remove(i);
        }
    }
    Ok(Applied {
        object: if changed { object } else { live_obj },
        entries,
    })
}

/// The fields `kubectl` may take from client-side apply without a conflict: those its last-applied
/// annotation set to the value the object still has (upstream `allowedConflictsFromLastApplied`).
fn allowed_by_last_applied(
    live: &Value,
    api_version: &str,
    ty: Option<TypeRef>,
) -> Option<FieldSet> {
    let text = live
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()?;
    if text.is_empty() {
        return None;
    }
    let last: Value = serde_json::from_str(text).ok()?;
    if !last.is_object() || last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let tyr = Ty::root(ty);
    typed::validate(&last, tyr).ok()?;
    let cmp = typed::compare(&last, live, tyr);
    Some(
        FieldSet::from_object(&last, ty)
            .difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// Keeps the client-side apply annotation in step with a server-side apply by `kubectl` (upstream
/// `lastAppliedUpdater`): when the object has one, it becomes the applied configuration (without the
/// annotation itself) in Go's JSON encoding, newline-terminated.
fn update_last_applied(obj: &mut Value, config: &Value) {
    let has = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has {
        return;
    }
    let mut config = config.clone();
    if let Some(a) = config
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.shift_remove(LAST_APPLIED_ANNOTATION);
    }
    let text = go_json(&config) + "\n";
    if let Some(a) = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED_ANNOTATION.to_string(), Value::String(text));
        let size: usize = a
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if size > TOTAL_ANNOTATION_SIZE_LIMIT {
            a.shift_remove(LAST_APPLIED_ANNOTATION);
        }
    }
}

/// `schema.GroupVersionKind.String()` of an object: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`, and
/// `/, Kind=` when `apiVersion` is missing or unparsable.
fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [""] => ("", ""),
        [v] => ("", *v),
        [g, v] => (*g, *v),
        _ => return "/, Kind=".to_string(),
    };
    format!("{group}/{version}, Kind={kind}")
}

/// The kind an applied configuration must name: the live object's, else the type's.
fn expected_kind(live: Option<&Value>, ty: Option<TypeRef>) -> Option<String> {
    if let Some(k) = live
        .and_then(|l| l.get("kind"))
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    {
        return Some(k.to_string());
    }
    ty.map(|t| t.name().rsplit('.').next().unwrap_or_default().to_string())
}

fn check_applied(
    live: Option<&Value>,
    applied: &Value,
    api_version: &str,
    ty: Option<TypeRef>,
) -> Result<(), ApplyError> {
    let s = |k: &str| applied.get(k).and_then(Value::as_str).unwrap_or("");
    let (av, kind) = (s("apiVersion"), s("kind"));
    let kind_ok = match expected_kind(live, ty) {
        Some(want) => kind == want,
        None => !kind.is_empty(),
    };
    if !applied.is_object() || av != api_version || !kind_ok {
        let gvk = if av.split('/').count() > 2 {
            "/, Kind=".to_string()
        } else {
            gvk_string(av, kind)
        };
        return Err(ApplyError::Invalid(format!("invalid object type: {gvk}")));
    }
    if applied
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|mf| !mf.is_null())
    {
        return Err(ApplyError::Invalid(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    if let Err(e) = typed::validate(applied, Ty::root(ty)) {
        let meta = |k: &str| {
            applied
                .get("metadata")
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        return Err(ApplyError::Invalid(format!(
            "failed to create typed patch object ({}/{}; {}): {e}",
            meta("namespace"),
            meta("name"),
            gvk_string(av, kind)
        )));
    }
    Ok(())
}

fn render_conflicts(raw: Vec<RawConflict>) -> Vec<Conflict> {
    let mut out: Vec<Conflict> = raw
        .into_iter()
        .map(|c| Conflict {
            manager: c.owner.manager,
            operation: c.owner.operation,
            api_version: c.owner.api_version,
            subresource: c.owner.subresource,
            field: path_string(&c.path),
        })
        .collect();
    // Stable: within one manager, fields stay in set order.
    out.sort_by_key(Conflict::identifier);
    out
}

// ---------------------------------------------------------------------------------------------------------
// Public entry points

/// Server-side apply of the main resource: see [`apply_to_subresource`].
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    ty: Option<TypeRef>,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_to_subresource(live, applied, manager, force, api_version, None, ty, now)
}

/// Server-side apply: merges `applied` (the manager's full intent, in its external JSON form) into
/// `live` (`None`: the object is being created) and returns the new object with `managedFields`
/// updated.
///
/// `api_version` is the served group/version (`v1`, `apps/v1`), which `applied` must name along with
/// the kind; `ty` is the kind's root type ([`crate::patch::schema::root_type`]); `now` is the RFC 3339
/// time (`2024-01-02T03:04:05Z`) recorded for the manager if the object changes. The result is the live
/// object unchanged but for `managedFields` when the configuration changes nothing; the caller still
/// defaults, validates and stores it (and resets `status` on main-resource writes, as for any update).
#[allow(clippy::too_many_arguments)]
pub fn apply_to_subresource(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    subresource: Option<&str>,
    ty: Option<TypeRef>,
    now: &str,
) -> Result<Value, ApplyError> {
    check_applied(live, applied, api_version, ty)?;
    let manager_name = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    let subresource = subresource.unwrap_or("");
    let entries = live
        .and_then(|l| decode_entries(managed_fields_of(l)).ok())
        .unwrap_or_default();
    let reset = reset_fields(ty, Some(subresource).filter(|s| !s.is_empty()));
    let run = |force: bool| {
        apply_once(
            live,
            applied,
            entries.clone(),
            manager_name,
            force,
            api_version,
            subresource,
            ty,
            &reset,
            now,
        )
    };
    let done = match run(force) {
        Ok(done) => done,
        Err(conflicts) => {
            // Upgrading from client-side apply: `kubectl` may take what its annotation set.
            let allowed = (manager == "kubectl")
                .then(|| live.and_then(|l| allowed_by_last_applied(l, api_version, ty)))
                .flatten();
            let Some(allowed) = allowed else {
                return Err(ApplyError::Conflicts(render_conflicts(conflicts)));
            };
            let rest: Vec<RawConflict> = conflicts
                .into_iter()
                .filter(|c| !allowed.has(&c.path))
                .collect();
            if !rest.is_empty() {
                return Err(ApplyError::Conflicts(render_conflicts(rest)));
            }
            run(true).map_err(|c| ApplyError::Conflicts(render_conflicts(c)))?
        }
    };
    let mut object = done.object;
    store_entries(&mut object, &done.entries);
    if manager == "kubectl" {
        update_last_applied(&mut object, applied);
    }
    Ok(object)
}

/// Records a non-apply write (create, update, patch, or a subresource write) by `manager`: the fields
/// that differ between `old` (`None` on create) and `new` join its `Update` entry (keyed by manager, API
/// version and subresource, time refreshed) and leave every other entry; removed fields leave every
/// entry. `new`'s `metadata.managedFields` is rewritten; a client may send managed fields to replace
/// them (an empty list resets them), except through a subresource. Call it on the object about to be
/// stored, after defaulting; server-set metadata is never tracked, so it may already be set.
pub fn update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    ty: Option<TypeRef>,
    now: &str,
) {
    let manager = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    let mut entries = live_or_new_entries(old, new, subresource.is_some());
    remove_managed_fields(new);
    if entries.is_empty() {
        // Objects that exist without managed fields are not tracked until applied to.
        let uid = old
            .and_then(|o| o.pointer("/metadata/uid"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !uid.is_empty() {
            return;
        }
    }
    // The comparison skips `metadata.managedFields`, so `old` need not be copied without them.
    let zero;
    let old_obj = match old {
        Some(old) => old,
        None => {
            zero = typed::zero_object(ty);
            &zero
        }
    };
    let reset = reset_fields(ty, subresource);
    record_update(
        &mut entries,
        old_obj,
        new,
        manager,
        api_version,
        subresource.unwrap_or(""),
        ty,
        &reset,
        now,
    );
    cap_update_managers(&mut entries);
    store_entries(new, &entries);
}

/// [`update`] for a create (no old object, no subresource) whose object carries no
/// `metadata.managedFields`, which is nearly every create: the JSON text of the `managedFields` list
/// [`update`] would store (one `Update` entry), written without building field sets, to be placed
/// last in `metadata` by the caller. `new` is the object's JSON text. `None` when this shortcut does
/// not apply; [`update`] then does the work.
pub fn created_entries_json(
    new: &[u8],
    manager: &str,
    api_version: &str,
    ty: Option<TypeRef>,
    now: &str,
) -> Option<String> {
    let fields = shape::cached(ty.map_or("", TypeRef::name), shape::shape_of(new)?, |new| {
        let new = raw::Raw::parse(new)?;
        if new
            .get("metadata")
            .is_some_and(|m| m.get("managedFields").is_some())
        {
            return None;
        }
        let baseline = create_baseline(ty);
        let (zero, reset) = &*baseline;
        let zero = raw::Raw::parse(zero)?;
        created::fields_v1(&zero, &new, Ty::root(ty), reset, strip_set())
    })?;
    let manager = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    let mut out = String::with_capacity(fields.len() + 160);
    out.push_str("[{\"manager\":");
    push_json_string(manager, &mut out);
    out.push_str(",\"operation\":\"Update\",\"apiVersion\":");
    push_json_string(api_version, &mut out);
    out.push_str(",\"time\":");
    push_json_string(now, &mut out);
    out.push_str(",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{");
    out.push_str(&fields);
    out.push_str("}}]");
    Some(out)
}

/// What a create of a kind is compared with and what it leaves out (its zero object's JSON text and
/// reset fields), built once per kind: every create of the kind needs the same two.
fn create_baseline(ty: Option<TypeRef>) -> std::sync::Arc<(Vec<u8>, FieldSet)> {
    use std::collections::HashMap;
    use std::sync::{Arc, OnceLock, RwLock};
    type Baselines = RwLock<HashMap<&'static str, Arc<(Vec<u8>, FieldSet)>>>;
    static BASELINES: OnceLock<Baselines> = OnceLock::new();
    let baselines = BASELINES.get_or_init(Default::default);
    let name = ty.map_or("", TypeRef::name);
    if let Some(b) = baselines.read().expect("baselines lock").get(name) {
        return b.clone();
    }
    let zero = serde_json::to_vec(&typed::zero_object(ty)).expect("JSON values encode");
    let built = Arc::new((zero, reset_fields(ty, None)));
    baselines
        .write()
        .expect("baselines lock")
        .entry(name)
        .or_insert(built)
        .clone()
}

/// The entries an update starts from (upstream `decodeLiveOrNew`).
fn live_or_new_entries(old: Option<&Value>, new: &Value, subresource: bool) -> Vec<Entry> {
    let from_old = || {
        old.and_then(|o| decode_entries(managed_fields_of(o)).ok())
            .unwrap_or_default()
    };
    if subresource {
        return from_old();
    }
    match managed_fields_of(new) {
        Some(Value::Array(items)) if items.is_empty() => return Vec::new(),
        Some(Value::Array(items))
            if items.len() == 1 && items[0].as_object().is_some_and(Map::is_empty) =>
        {
            return Vec::new()
        }
        _ => {}
    }
    match decode_entries(managed_fields_of(new)) {
        Ok(entries) if !entries.is_empty() => entries,
        _ => from_old(),
    }
}

#[cfg(test)]
mod tests;
