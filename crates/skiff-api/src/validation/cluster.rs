//! Namespace, Node, Event, Lease and PriorityClass validation.

use super::{
    generic_object_meta, generic_object_meta_update, invalid_each, label_name, meta_path,
    object_meta, object_meta_update,
};
use crate::field::{quote, ErrorList, FieldError, Path};
use crate::names;
use crate::quantity::Quantity;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Namespace, Node};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use std::collections::BTreeSet;

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// `ValidateNamespace`.
pub fn namespace(ns: &Namespace) -> ErrorList {
    let mut errs = object_meta(&ns.metadata, false, names::name_is_dns_label, &meta_path());
    // Upstream reports these at `spec.finalizers`, without the index.
    let fp = Path::new("spec").child("finalizers");
    for f in ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
        errs.extend(invalid_each(&fp, f, names::is_qualified_name(f)));
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f.as_str())
        {
            errs.push(FieldError::invalid(
                &fp,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// `ValidateNamespaceUpdate`.
pub fn namespace_update(new: &Namespace, old: &Namespace) -> ErrorList {
    object_meta_update(&new.metadata, &old.metadata, &meta_path())
}

/// `%#v` of a `core.Taint`.
fn go_taint(t: &k8s_openapi::api::core::v1::Taint) -> String {
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
        quote(&t.key),
        quote(s(&t.value)),
        quote(&t.effect)
    )
}

fn taints(node: &Node, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in node
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .enumerate()
    {
        let ip = path.index(i);
        errs.extend(label_name(&t.key, &ip.child("key")));
        let msgs = names::is_valid_label_value(s(&t.value));
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &ip.child("value"),
                s(&t.value),
                msgs.join(";"),
            ));
        }
        errs.extend(super::pods::taint_effect(
            &t.effect,
            false,
            &ip.child("effect"),
        ));
        if !unique.insert((t.effect.clone(), t.key.clone())) {
            let mut e = FieldError::duplicate_raw(&ip, go_taint(t));
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
    errs
}

fn node_resources(node: &Node) -> ErrorList {
    let mut errs = Vec::new();
    let Some(st) = &node.status else { return errs };
    for (field, list) in [("capacity", &st.capacity), ("allocatable", &st.allocatable)] {
        for (k, v) in list.iter().flatten() {
            let p = Path::new("status").child(field).child(k);
            match Quantity::try_from(v) {
                Err(e) => errs.push(FieldError::invalid(&p, &v.0, e.to_string())),
                Ok(q) if q.is_negative() => {
                    errs.push(FieldError::invalid(&p, &q.to_string(), super::IS_NEGATIVE))
                }
                Ok(_) => {}
            }
        }
    }
    errs
}

fn pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.clone().unwrap_or_default();
    match spec.pod_cidrs.filter(|c| !c.is_empty()) {
        Some(c) => c,
        None => spec
            .pod_cidr
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
    }
}

/// `ValidateNode`. Taint errors are reported under `metadata.taints`, as upstream does.
pub fn node(n: &Node) -> ErrorList {
    let mp = meta_path();
    let mut errs = object_meta(&n.metadata, false, names::name_is_dns_subdomain, &mp);
    errs.extend(taints(n, &mp.child("taints")));
    errs.extend(node_resources(n));
    let cidrs = pod_cidrs(n);
    let cp = Path::new("spec").child("podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        errs.extend(invalid_each(&cp.index(i), c, names::is_valid_cidr(c)));
    }
    if cidrs.len() > 1 {
        let parsed: Vec<_> = cidrs
            .iter()
            .filter_map(|c| names::parse_cidr_sloppy(c))
            .collect();
        let v4 = parsed.iter().filter(|(ip, _)| ip.is_ipv4()).count();
        if !(parsed.len() == cidrs.len() && v4 >= 1 && v4 < parsed.len()) || cidrs.len() > 2 {
            errs.push(FieldError::invalid_raw(
                &cp,
                super::go_strings(Some(&cidrs)),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(c) {
                errs.push(FieldError::duplicate(&cp.index(i), c));
            }
        }
    }
    errs
}

/// `ValidateNodeUpdate`: `podCIDRs` and `providerID` may only go from unset to set.
pub fn node_update(new: &Node, old: &Node) -> ErrorList {
    let mp = meta_path();
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &mp);
    errs.extend(node_resources(new));
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, a) in new
        .status
        .iter()
        .flat_map(|s| s.addresses.iter().flatten())
        .enumerate()
    {
        if !seen.insert((a.type_.clone(), a.address.clone())) {
            errs.push(FieldError::duplicate_raw(
                &Path::new("status").child("addresses").index(i),
                format!(
                    "core.NodeAddress{{Type:{}, Address:{}}}",
                    quote(&a.type_),
                    quote(&a.address)
                ),
            ));
        }
    }
    let (nc, oc) = (pod_cidrs(new), pod_cidrs(old));
    let cp = Path::new("spec").child("podCIDRs");
    const CIDR_MSG: &str = "node updates may not change podCIDR except from \"\" to valid";
    if !oc.is_empty() {
        if oc.len() != nc.len() {
            errs.push(FieldError::forbidden(&cp, CIDR_MSG));
        } else {
            for (o, n) in oc.iter().zip(&nc) {
                if o != n {
                    errs.push(FieldError::forbidden(&cp, CIDR_MSG));
                }
            }
        }
    }
    let (np, op) = (
        new.spec
            .as_ref()
            .and_then(|s| s.provider_id.clone())
            .unwrap_or_default(),
        old.spec
            .as_ref()
            .and_then(|s| s.provider_id.clone())
            .unwrap_or_default(),
    );
    if !op.is_empty() && op != np {
        errs.push(FieldError::forbidden(
            &Path::new("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errs.extend(taints(new, &mp.child("taints")));
    let ext = |n: &Node| {
        n.spec
            .as_ref()
            .and_then(|s| s.external_id.clone())
            .unwrap_or_default()
    };
    if ext(new) != ext(old) {
        errs.push(FieldError::forbidden(
            &Path::new("spec").child("externalID"),
            "may not be updated",
        ));
    }
    errs
}

/// The legacy (core/v1) event rules, which are all v1 requests get (`legacyValidateEvent`).
pub fn event(e: &Event) -> ErrorList {
    let mut errs = Vec::new();
    let ns = s(&e.metadata.namespace);
    let involved_ns = s(&e.involved_object.namespace);
    let ion = Path::new("involvedObject").child("namespace");
    if e.event_time.is_none() {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(FieldError::invalid(
                    &ion,
                    involved_ns,
                    "does not match event.namespace",
                ));
            }
        } else if ns != involved_ns {
            errs.push(FieldError::invalid(
                &ion,
                involved_ns,
                "does not match event.namespace",
            ));
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(FieldError::invalid(
                &ion,
                involved_ns,
                "does not match event.namespace",
            ));
        }
        let rc = s(&e.reporting_component);
        let rcp = Path::new("reportingController");
        if rc.is_empty() {
            errs.push(FieldError::required(&rcp, ""));
        }
        errs.extend(invalid_each(&rcp, rc, names::is_qualified_name(rc)));
        for (v, name, max, required) in [
            (s(&e.reporting_instance), "reportingInstance", 128, true),
            (s(&e.action), "action", 128, true),
            (s(&e.reason), "reason", 128, true),
            (s(&e.message), "message", 1024, false),
        ] {
            if required && v.is_empty() {
                errs.push(FieldError::required(&Path::new(name), ""));
            }
            if v.len() > max {
                errs.push(FieldError::invalid(
                    &Path::new(name),
                    "",
                    format!("can have at most {max} characters"),
                ));
            }
        }
    }
    errs.extend(invalid_each(
        &Path::new("namespace"),
        ns,
        names::is_dns1123_subdomain(ns),
    ));
    errs
}

/// Event updates through core/v1 get the same legacy rules as creates.
pub fn event_update(new: &Event, _old: &Event) -> ErrorList {
    event(new)
}

fn lease_spec(l: &Lease) -> ErrorList {
    let mut errs = Vec::new();
    let sp = Path::new("spec");
    let Some(spec) = &l.spec else { return errs };
    if let Some(d) = spec.lease_duration_seconds {
        if d <= 0 {
            errs.push(FieldError::invalid_raw(
                &sp.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = spec.lease_transitions {
        if t < 0 {
            errs.push(FieldError::invalid_raw(
                &sp.child("leaseTransitions"),
                t,
                super::IS_NEGATIVE,
            ));
        }
    }
    if let Some(st) = spec.strategy.as_deref() {
        let p = sp.child("strategy").child("strategy");
        if !st.contains('/') {
            if st != "OldestEmulationVersion" {
                errs.push(FieldError::not_supported(
                    &p,
                    st,
                    &["OldestEmulationVersion"],
                ));
            }
        } else {
            errs.extend(invalid_each(&p, st, names::is_qualified_name(st)));
        }
    }
    if spec
        .preferred_holder
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && spec.strategy.as_deref().is_none_or(str::is_empty)
    {
        errs.push(FieldError::forbidden(
            &sp.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

/// `ValidateLease`.
pub fn lease(l: &Lease) -> ErrorList {
    let mut errs = generic_object_meta(
        &l.metadata,
        true,
        names::name_is_dns_subdomain,
        &meta_path(),
    );
    errs.extend(lease_spec(l));
    errs
}

/// `ValidateLeaseUpdate`.
pub fn lease_update(new: &Lease, old: &Lease) -> ErrorList {
    let mut errs = generic_object_meta_update(&new.metadata, &old.metadata, &meta_path());
    errs.extend(lease_spec(new));
    errs
}

/// `HighestUserDefinablePriority`.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;
/// The built-in classes (`system-cluster-critical`, `system-node-critical`) and their values.
pub const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

/// `ValidatePriorityClass`.
pub fn priority_class(pc: &PriorityClass) -> ErrorList {
    let mut errs = object_meta(
        &pc.metadata,
        false,
        names::name_is_dns_subdomain,
        &meta_path(),
    );
    let name = s(&pc.metadata.name);
    if name.starts_with("system-") {
        let err = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, v)) if *v != pc.value => {
                Some(format!("value of {name} PriorityClass must be {v}"))
            }
            Some(_) if pc.global_default == Some(true) => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(err) = err {
            errs.push(FieldError::forbidden(
                &Path::new("metadata").child("name"),
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {err}"),
            ));
        }
    } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(FieldError::forbidden(
            &Path::new("value"),
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    if let Some(pp) = pc.preemption_policy.as_deref() {
        errs.extend(super::pods::preemption_policy(
            pp,
            &Path::new("preemptionPolicy"),
        ));
    }
    errs
}

/// `ValidatePriorityClassUpdate`: `value` and `preemptionPolicy` are immutable.
pub fn priority_class_update(new: &PriorityClass, old: &PriorityClass) -> ErrorList {
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path());
    if new.value != old.value {
        errs.push(FieldError::forbidden(
            &Path::new("value"),
            "may not be changed in an update.",
        ));
    }
    if new.preemption_policy != old.preemption_policy {
        errs.push(FieldError::invalid_raw(
            &Path::new("preemptionPolicy"),
            new.preemption_policy
                .as_deref()
                .map_or("null".to_string(), quote),
            super::FIELD_IMMUTABLE,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaces() {
        let ok: Namespace =
            from(json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]}}));
        assert!(namespace(&ok).is_empty());
        let bad: Namespace = from(json!({"metadata": {"name": "team.a"}}));
        assert_eq!(
            rendered(&namespace(&bad)),
            vec!["metadata.name: Invalid value: \"team.a\": must not contain dots"]
        );
        let fin: Namespace =
            from(json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["custom"]}}));
        assert_eq!(
            rendered(&namespace(&fin)),
            vec!["spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"]
        );
        let nsd: Namespace = from(json!({"metadata": {"name": "a", "namespace": "b"}}));
        assert_eq!(
            rendered(&namespace(&nsd)),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn nodes() {
        let ok: Node = from(
            json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.0.0/24",
            "taints": [{"key": "k", "effect": "NoSchedule"}]}, "status": {"capacity": {"cpu": "4", "memory": "8Gi"}}}),
        );
        assert!(node(&ok).is_empty());
        let bad: Node = from(
            json!({"metadata": {"name": "node-1"}, "spec": {"podCIDRs": ["10.244.0.0/33"],
            "taints": [{"key": "k", "effect": "Sometimes"}, {"key": "k", "effect": "Sometimes"}]}}),
        );
        assert_eq!(
            rendered(&node(&bad)),
            vec![
                "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "metadata.taints[1].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"Sometimes\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                "spec.podCIDRs[0]: Invalid value: \"10.244.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ]
        );
        let mut old = ok.clone();
        old.metadata.resource_version = Some("1".into());
        let mut new = old.clone();
        new.spec.as_mut().unwrap().pod_cidr = Some("10.245.0.0/24".into());
        assert_eq!(
            rendered(&node_update(&new, &old)),
            vec!["spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"]
        );
    }

    #[test]
    fn events_leases_priority_classes() {
        let ev: Event = from(
            json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"namespace": "other"}}),
        );
        assert_eq!(
            rendered(&event(&ev)),
            vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
        );
        let ok: Event = from(
            json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"namespace": "default"}}),
        );
        assert!(event(&ok).is_empty());

        let l: Lease = from(
            json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}}),
        );
        assert_eq!(
            rendered(&lease(&l)),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );

        let pc: PriorityClass = from(json!({"metadata": {"name": "high"}, "value": 2_000_000_000}));
        assert_eq!(
            rendered(&priority_class(&pc)),
            vec![
                "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
            ]
        );
        let sys: PriorityClass = from(json!({"metadata": {"name": "system-mine"}, "value": 1}));
        assert_eq!(
            rendered(&priority_class(&sys)),
            vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"]
        );
        let known: PriorityClass =
            from(json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000}));
        assert!(priority_class(&known).is_empty());
        let old: PriorityClass =
            from(json!({"metadata": {"name": "high", "resourceVersion": "1"}, "value": 10}));
        let mut new = old.clone();
        new.value = 11;
        assert_eq!(
            rendered(&priority_class_update(&new, &old)),
            vec!["value: Forbidden: may not be changed in an update."]
        );
    }
}
