//! Validation as a Kubernetes 1.32 API server performs it, with upstream's field paths and messages, on
//! k8s-openapi types after [`defaults`](crate::defaults) have run.
//!
//! One file per group of kinds: [`pods`] (Pod, pod templates, binding), [`workloads`] (Deployment,
//! ReplicaSet), [`services`], [`configs`] (ConfigMap, Secret) and [`cluster`] (Namespace, Node, Event,
//! Lease, PriorityClass). This file holds what they share: `ObjectMeta`, labels, annotations, label
//! selectors, and the rendering of non-string values the way Go's `%#v` prints them in messages
//! (`map[string]string{"app":"web"}`), since kubectl shows those strings verbatim.
//!
//! Upstream quirks are kept on purpose, because clients and tests match the text: label errors name the
//! `labels` map rather than the key, `subPath` errors omit the mount index, a Service's missing
//! `allocateLoadBalancerNodePorts` is reported without `spec.`, and node taints are reported under
//! `metadata.taints`. Feature gates are taken at their 1.32 defaults (relaxed environment variable names
//! on, sidecar containers on, pod-level resources and sleep-zero off). Go iterates maps in random order;
//! here keys are visited in sorted order, so the error order is stable.

pub mod cluster;
pub mod configs;
pub mod pods;
pub mod services;
pub mod workloads;

pub use crate::names::NameValidator;
pub use cluster::{
    event, event_update, lease, lease_update, namespace, namespace_update, node, node_update,
    priority_class, priority_class_update,
};
pub use configs::{config_map, config_map_update, secret, secret_update};
pub use pods::{pod, pod_binding, pod_spec, pod_status_update, pod_template_spec, pod_update};
pub use services::{service, service_update};
pub use workloads::{deployment, deployment_update, replica_set, replica_set_update};

use crate::field::{quote, ErrorList, FieldError, Path};
use crate::names;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";
/// `IsNegativeErrorMsg`.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";
/// `isNotPositiveErrorMsg`.
pub const IS_NOT_POSITIVE: &str = "must be greater than zero";

/// `%#v` of a `[]string`.
pub fn go_strings(v: Option<&[String]>) -> String {
    match v {
        None => "[]string(nil)".to_string(),
        Some(v) => format!(
            "[]string{{{}}}",
            v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `%#v` of a `map[string]string` (Go prints keys sorted).
pub fn go_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => format!(
            "map[string]string{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `%#v` of a `metav1.LabelSelector` value.
pub fn go_label_selector(s: &LabelSelector) -> String {
    let exprs = match &s.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(e) => format!(
            "[]v1.LabelSelectorRequirement{{{}}}",
            e.iter()
                .map(|r| format!(
                    "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                    quote(&r.key),
                    quote(&r.operator),
                    go_strings(r.values.as_deref())
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_map(s.match_labels.as_ref()),
        exprs
    )
}

/// `%#v` of an `intstr.IntOrString` value.
pub fn go_intstr(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            quote(s)
        ),
    }
}

/// `%v` of an optional pointer to a number: the number, or `null`.
pub fn go_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// One `Invalid` error per message, all at `path` with the string value.
pub fn invalid_each(path: &Path, value: &str, msgs: Vec<String>) -> ErrorList {
    msgs.into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

/// `ValidateNonnegativeField`.
pub fn nonnegative(value: i64, path: &Path) -> ErrorList {
    if value < 0 {
        vec![FieldError::invalid_raw(path, value, IS_NEGATIVE)]
    } else {
        Vec::new()
    }
}

/// `ValidateLabelName`.
pub fn label_name(key: &str, path: &Path) -> ErrorList {
    invalid_each(path, key, names::is_qualified_name(key))
}

/// `ValidateLabels`: errors are reported at the map's path, as upstream does.
pub fn labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(label_name(k, path));
        errs.extend(invalid_each(path, v, names::is_valid_label_value(v)));
    }
    errs
}

/// `ValidateAnnotations`: lower-cased keys must be qualified names; 256 KiB in total.
pub fn annotations(annotations: Option<&BTreeMap<String, String>>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let Some(a) = annotations else { return errs };
    for k in a.keys() {
        errs.extend(invalid_each(
            path,
            k,
            names::is_qualified_name(&k.to_lowercase()),
        ));
    }
    if names::annotations_size(a) > names::TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            path,
            names::TOTAL_ANNOTATION_SIZE_LIMIT,
        ));
    }
    errs
}

/// `ValidateLabelSelectorRequirement` for one `matchExpressions` entry.
pub fn label_selector_requirement(
    key: &str,
    operator: &str,
    values: Option<&[String]>,
    allow_invalid_values: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let n = values.map_or(0, <[String]>::len);
    match operator {
        "In" | "NotIn" => {
            if n == 0 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if n > 0 {
                errs.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        _ => errs.push(FieldError::invalid(
            &path.child("operator"),
            operator,
            "not a valid selector operator",
        )),
    }
    errs.extend(label_name(key, &path.child("key")));
    if !allow_invalid_values {
        for (i, v) in values.into_iter().flatten().enumerate() {
            errs.extend(invalid_each(
                &path.child("values").index(i),
                v,
                names::is_valid_label_value(v),
            ));
        }
    }
    errs
}

/// `ValidateLabelSelector`.
pub fn label_selector(
    sel: Option<&LabelSelector>,
    allow_invalid_values: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let Some(sel) = sel else { return errs };
    errs.extend(labels(
        sel.match_labels.as_ref(),
        &path.child("matchLabels"),
    ));
    for (i, r) in sel.match_expressions.iter().flatten().enumerate() {
        errs.extend(label_selector_requirement(
            &r.key,
            &r.operator,
            r.values.as_deref(),
            allow_invalid_values,
            &path.child("matchExpressions").index(i),
        ));
    }
    errs
}

/// Whether `metav1.LabelSelectorAsSelector` accepts the selector.
pub fn label_selector_converts(sel: &LabelSelector) -> bool {
    for (k, v) in sel.match_labels.iter().flatten() {
        if !names::is_qualified_name(k).is_empty() || !names::is_valid_label_value(v).is_empty() {
            return false;
        }
    }
    for r in sel.match_expressions.iter().flatten() {
        let n = r.values.as_ref().map_or(0, Vec::len);
        let ok_op = match r.operator.as_str() {
            "In" | "NotIn" => n > 0,
            "Exists" | "DoesNotExist" => n == 0,
            _ => false,
        };
        if !ok_op || !names::is_qualified_name(&r.key).is_empty() {
            return false;
        }
        if r.values
            .iter()
            .flatten()
            .any(|v| !names::is_valid_label_value(v).is_empty())
        {
            return false;
        }
    }
    true
}

/// Whether a selector has no requirements (it then selects everything).
pub fn label_selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether the selector matches a label set.
pub fn label_selector_matches(sel: &LabelSelector, set: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let set = set.unwrap_or(&empty);
    for (k, v) in sel.match_labels.iter().flatten() {
        if set.get(k) != Some(v) {
            return false;
        }
    }
    for r in sel.match_expressions.iter().flatten() {
        let has = set.get(&r.key);
        let values = r.values.as_deref().unwrap_or(&[]);
        let ok = match r.operator.as_str() {
            "In" => has.is_some_and(|v| values.contains(v)),
            "NotIn" => has.is_none_or(|v| !values.contains(v)),
            "Exists" => has.is_some(),
            "DoesNotExist" => has.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Finalizers that need no domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `validateKubeFinalizerName`: an unqualified finalizer must be a standard one.
fn kube_finalizer_name(name: &str, path: &Path) -> ErrorList {
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        vec![FieldError::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

/// `ValidateFinalizers` (apimachinery).
fn finalizers(list: Option<&[String]>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let list = list.unwrap_or(&[]);
    for f in list {
        errs.extend(invalid_each(path, f, names::is_qualified_name(f)));
    }
    if list.iter().any(|f| f == "orphan") && list.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid_raw(
            path,
            go_strings(Some(list)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

fn owner_references(meta: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in meta.owner_references.iter().flatten() {
        let version = r
            .api_version
            .rsplit_once('/')
            .map_or(r.api_version.as_str(), |(_, v)| v);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                &r.api_version,
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("kind"),
                &r.kind,
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("name"),
                &r.name,
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("uid"),
                &r.uid,
                "uid must not be empty",
            ));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid_raw(
                path,
                format!(
                    "v1.OwnerReference{{APIVersion:\"v1\", Kind:\"Event\", Name:{}, UID:{}}}",
                    quote(&r.name),
                    quote(&r.uid)
                ),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let cur = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid_raw(
                    path,
                    "[]v1.OwnerReference{...}",
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"),
                )),
                None => first_controller = Some(cur),
            }
        }
    }
    errs
}

fn managed_fields(meta: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, f) in meta.managed_fields.iter().flatten().enumerate() {
        let p = path.index(i);
        let op = f.operation.as_deref().unwrap_or("");
        if op != "Apply" && op != "Update" {
            errs.push(FieldError::invalid(
                &p.child("operation"),
                op,
                "must be `Apply` or `Update`",
            ));
        }
        let ft = f.fields_type.as_deref().unwrap_or("");
        if !ft.is_empty() && ft != "FieldsV1" {
            errs.push(FieldError::invalid(
                &p.child("fieldsType"),
                ft,
                "must be `FieldsV1`",
            ));
        }
        if f.manager.as_deref().unwrap_or("").len() > 128 {
            errs.push(FieldError::too_long(&p.child("manager"), 128));
        }
        if f.subresource.as_deref().unwrap_or("").len() > 256 {
            errs.push(FieldError::too_long(&p.child("subresource"), 256));
        }
    }
    errs
}

/// apimachinery's `ValidateObjectMetaAccessor` without the core finalizer rule.
fn generic_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_validator: NameValidator,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        errs.extend(invalid_each(
            &path.child("generateName"),
            generate_name,
            name_validator(generate_name, true),
        ));
    }
    let name = meta.name.as_deref().unwrap_or("");
    // Upstream validates after the server has generated a name from `generateName`; a name still missing
    // then is an error only when there is no `generateName` either (the server must generate it before
    // storing, with `names::generate_name`).
    if name.is_empty() && generate_name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        ));
    } else if !name.is_empty() {
        errs.extend(invalid_each(
            &path.child("name"),
            name,
            name_validator(name, false),
        ));
    }
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            errs.extend(invalid_each(
                &path.child("namespace"),
                ns,
                names::name_is_dns_label(ns, false),
            ));
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(nonnegative(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(owner_references(meta, &path.child("ownerReferences")));
    errs.extend(finalizers(
        meta.finalizers.as_deref(),
        &path.child("finalizers"),
    ));
    errs.extend(managed_fields(meta, &path.child("managedFields")));
    errs
}

/// `ValidateObjectMeta` (core's: apimachinery's plus the rule that unqualified finalizers are standard
/// ones). The server passes whether the kind is namespaced and the kind's name rule
/// ([`names::name_is_dns_subdomain`] for most kinds).
pub fn object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_validator: NameValidator,
    path: &Path,
) -> ErrorList {
    let mut errs = generic_object_meta(meta, namespaced, name_validator, path);
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        errs.extend(kube_finalizer_name(f, &path.child("finalizers").index(i)));
    }
    errs
}

fn time_str<T: serde::Serialize>(t: &Option<T>) -> String {
    t.as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// apimachinery's `ValidateObjectMetaAccessorUpdate`.
fn generic_object_meta_update(new: &ObjectMeta, old: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f: Vec<&String> = old.finalizers.iter().flatten().collect();
        let mut extra: Vec<String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_f.contains(f))
            .cloned()
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_strings(Some(&extra))
                ),
            ));
        }
    }
    let rv = new.resource_version.as_deref().unwrap_or("");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    let (ng, og) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if ng < og {
        errs.push(FieldError::invalid_raw(
            &path.child("generation"),
            ng,
            "must not be decremented",
        ));
    }
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    for (field, n, o) in [
        ("name", s(&new.name), s(&old.name)),
        ("namespace", s(&new.namespace), s(&old.namespace)),
        ("uid", s(&new.uid), s(&old.uid)),
    ] {
        if n != o {
            errs.push(FieldError::invalid(&path.child(field), &n, FIELD_IMMUTABLE));
        }
    }
    if new.creation_timestamp != old.creation_timestamp {
        errs.push(FieldError::invalid_raw(
            &path.child("creationTimestamp"),
            time_str(&new.creation_timestamp),
            FIELD_IMMUTABLE,
        ));
    }
    if new.deletion_timestamp != old.deletion_timestamp {
        errs.push(FieldError::invalid_raw(
            &path.child("deletionTimestamp"),
            time_str(&new.deletion_timestamp),
            FIELD_IMMUTABLE,
        ));
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        errs.push(FieldError::invalid_raw(
            &path.child("deletionGracePeriodSeconds"),
            go_opt(new.deletion_grace_period_seconds),
            FIELD_IMMUTABLE,
        ));
    }
    errs.extend(labels(new.labels.as_ref(), &path.child("labels")));
    errs.extend(annotations(
        new.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(owner_references(new, &path.child("ownerReferences")));
    errs.extend(managed_fields(new, &path.child("managedFields")));
    errs
}

/// `ValidateObjectMetaUpdate` (core's).
pub fn object_meta_update(new: &ObjectMeta, old: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = generic_object_meta_update(new, old, path);
    for (i, f) in new.finalizers.iter().flatten().enumerate() {
        errs.extend(kube_finalizer_name(f, &path.child("finalizers").index(i)));
    }
    errs
}

fn meta_path() -> Path {
    Path::new("metadata")
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::field::ErrorList;

    pub fn rendered(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    pub fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    pub const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    pub const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    pub const NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn object_meta_rules() {
        let p = Path::new("metadata");
        let ok: ObjectMeta =
            from(json!({"name": "web", "namespace": "default", "labels": {"app": "web"}}));
        assert!(object_meta(&ok, true, names::name_is_dns_subdomain, &p).is_empty());

        let cases: Vec<(serde_json::Value, bool, Vec<String>)> = vec![
            (
                json!({"name": "Bad_Name", "namespace": "default"}),
                true,
                vec![format!("metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN}")],
            ),
            (json!({"namespace": "default"}), true, vec!["metadata.name: Required value: name or generateName is required".into()]),
            (json!({"generateName": "web-", "namespace": "default"}), true, vec![]),
            (json!({"name": "a"}), true, vec!["metadata.namespace: Required value".into()]),
            (json!({"name": "a", "namespace": "x"}), false, vec!["metadata.namespace: Forbidden: not allowed on this type".into()]),
            (
                json!({"name": "a", "namespace": "d", "labels": {"app": "bad value"}}),
                true,
                vec![format!("metadata.labels: Invalid value: \"bad value\": {LABEL_VALUE}")],
            ),
            (
                json!({"name": "a", "namespace": "d", "labels": {"-k": "v"}}),
                true,
                vec![format!("metadata.labels: Invalid value: \"-k\": {NAME_PART}")],
            ),
            (
                json!({"name": "a", "namespace": "d", "annotations": {"x": "a".repeat(262_144)}}),
                true,
                vec!["metadata.annotations: Too long: may not be more than 262144 bytes".into()],
            ),
            (
                json!({"name": "a", "namespace": "d", "finalizers": ["custom"]}),
                true,
                vec!["metadata.finalizers[0]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified".into()],
            ),
            (
                json!({"name": "a", "namespace": "d", "ownerReferences": [{"apiVersion": "v1", "kind": "", "name": "x", "uid": "u"}]}),
                true,
                vec!["metadata.ownerReferences.kind: Invalid value: \"\": kind must not be empty".into()],
            ),
        ];
        for (meta, namespaced, want) in cases {
            let m: ObjectMeta = from(meta.clone());
            assert_eq!(
                rendered(&object_meta(
                    &m,
                    namespaced,
                    names::name_is_dns_subdomain,
                    &p
                )),
                want,
                "{meta}"
            );
        }
    }

    #[test]
    fn object_meta_update_rules() {
        let p = Path::new("metadata");
        let old: ObjectMeta =
            from(json!({"name": "a", "namespace": "d", "uid": "1", "resourceVersion": "5"}));
        let same: ObjectMeta =
            from(json!({"name": "a", "namespace": "d", "uid": "1", "resourceVersion": "5"}));
        assert!(object_meta_update(&same, &old, &p).is_empty());
        let changed: ObjectMeta = from(json!({"name": "b", "namespace": "d", "uid": "1"}));
        assert_eq!(
            rendered(&object_meta_update(&changed, &old, &p)),
            vec![
                "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
                "metadata.name: Invalid value: \"b\": field is immutable"
            ]
        );
    }

    #[test]
    fn selectors() {
        let p = Path::new("spec").child("selector");
        let sel: LabelSelector = from(
            json!({"matchExpressions": [{"key": "a", "operator": "Bogus"},
            {"key": "b", "operator": "In"}, {"key": "c", "operator": "Exists", "values": ["x"]}]}),
        );
        assert_eq!(
            rendered(&label_selector(Some(&sel), false, &p)),
            vec![
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Bogus\": not a valid selector operator",
                "spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[2].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ]
        );
        assert!(!label_selector_converts(&sel));
        let ok: LabelSelector = from(
            json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}),
        );
        let set: BTreeMap<String, String> = from(json!({"app": "web", "tier": "front"}));
        assert!(label_selector_matches(&ok, Some(&set)));
        assert!(!label_selector_matches(&ok, None));
        assert_eq!(
            go_label_selector(&ok),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"tier\", Operator:\"NotIn\", Values:[]string{\"db\"}}}}"
        );
    }
}
