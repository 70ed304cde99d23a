//! Deployment and ReplicaSet validation (`pkg/apis/apps/validation`): selector required and matching the
//! template's labels, replicas non-negative, a pod template that restarts `Always`, the rolling-update
//! parameters, and an immutable selector on update.

use super::{
    go_intstr, go_label_selector, go_map, go_opt, label_selector, label_selector_converts,
    label_selector_is_empty, label_selector_matches, meta_path, nonnegative, object_meta,
    object_meta_update, pods, FIELD_IMMUTABLE,
};
use crate::field::{ErrorList, FieldError, Path};
use crate::names;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Selector checks shared by both kinds; returns whether the selector converts.
fn selector(sel: &LabelSelector, path: &Path) -> (ErrorList, bool) {
    let mut errs = label_selector(Some(sel), false, path);
    if label_selector_is_empty(sel) {
        errs.push(FieldError::invalid_raw(
            path,
            go_label_selector(sel),
            "empty selector is invalid for deployment",
        ));
    }
    let converts = label_selector_converts(sel);
    if !converts {
        errs.push(FieldError::invalid_raw(
            path,
            go_label_selector(sel),
            "invalid label selector",
        ));
    }
    (errs, converts)
}

/// `ValidatePodTemplateSpecForReplicaSet`.
fn template_for_replica_set(t: &PodTemplateSpec, sel: &LabelSelector, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let tlabels = t.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !label_selector_is_empty(sel) && !label_selector_matches(sel, tlabels) {
        errs.push(FieldError::invalid_raw(
            &path.child("metadata").child("labels"),
            go_map(tlabels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(pods::pod_template_spec(t, path));
    let spec = t.spec.clone().unwrap_or_default();
    let rp = spec.restart_policy.as_deref().unwrap_or("");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            &path.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

fn percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::String(s) => s.strip_suffix('%').and_then(|n| n.parse().ok()),
        IntOrString::Int(_) => None,
    }
}

fn int_or_percent_value(v: Option<&IntOrString>) -> i64 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => i64::from(*i),
        Some(s) => percent_value(s).unwrap_or(0),
    }
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: &IntOrString, path: &Path) -> ErrorList {
    match v {
        IntOrString::String(s) => names::is_valid_percent(s)
            .into_iter()
            .map(|m| FieldError::invalid_raw(path, go_intstr(v), m))
            .collect(),
        IntOrString::Int(i) => nonnegative(i64::from(*i), path),
    }
}

/// `ValidateDeploymentStrategy`.
fn strategy(st: Option<&DeploymentStrategy>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let default = DeploymentStrategy::default();
    let st = st.unwrap_or(&default);
    match st.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if st.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &st.rolling_update {
            None => errs.push(FieldError::required(
                &path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let mu = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let ms = ru.max_surge.as_ref().unwrap_or(&zero);
                errs.extend(positive_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(ms, &rp.child("maxSurge")));
                if int_or_percent_value(Some(mu)) == 0 && int_or_percent_value(Some(ms)) == 0 {
                    errs.push(FieldError::invalid_raw(
                        &rp.child("maxUnavailable"),
                        go_intstr(mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if percent_value(mu).is_some_and(|p| p > 100) {
                    errs.push(FieldError::invalid_raw(
                        &rp.child("maxUnavailable"),
                        go_intstr(mu),
                        "must not be greater than 100%",
                    ));
                }
            }
        },
        other => {
            let rendered = format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
                crate::field::quote(other)
            );
            errs.push(FieldError {
                kind: crate::field::ErrorType::NotSupported,
                field: path.as_str().to_string(),
                bad_value: Some(rendered),
                detail: "supported values: \"Recreate\", \"RollingUpdate\"".into(),
            });
        }
    }
    errs
}

fn deployment_spec(d: &Deployment, path: &Path) -> ErrorList {
    let spec = d.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(0);
    let mut errs = nonnegative(i64::from(replicas), &path.child("replicas"));
    let (e, converts) = selector(&spec.selector, &path.child("selector"));
    errs.extend(e);
    if converts {
        errs.extend(template_for_replica_set(
            &spec.template,
            &spec.selector,
            &path.child("template"),
        ));
    }
    errs.extend(strategy(spec.strategy.as_ref(), &path.child("strategy")));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(nonnegative(
        i64::from(min_ready),
        &path.child("minReadySeconds"),
    ));
    if let Some(r) = spec.revision_history_limit {
        errs.extend(nonnegative(
            i64::from(r),
            &path.child("revisionHistoryLimit"),
        ));
    }
    if let Some(p) = spec.progress_deadline_seconds {
        errs.extend(nonnegative(
            i64::from(p),
            &path.child("progressDeadlineSeconds"),
        ));
        if p <= min_ready {
            errs.push(FieldError::invalid_raw(
                &path.child("progressDeadlineSeconds"),
                go_opt(Some(p)),
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// `spec.selector` may not change after creation (Deployments and ReplicaSets in apps/v1).
fn immutable_selector(new: Option<&LabelSelector>, old: Option<&LabelSelector>) -> ErrorList {
    let new = new.cloned().unwrap_or_default();
    if new == old.cloned().unwrap_or_default() {
        return Vec::new();
    }
    vec![FieldError::invalid_raw(
        &Path::new("spec").child("selector"),
        go_label_selector(&new),
        FIELD_IMMUTABLE,
    )]
}

/// `ValidateDeployment`.
pub fn deployment(d: &Deployment) -> ErrorList {
    let mut errs = object_meta(
        &d.metadata,
        true,
        names::name_is_dns_subdomain,
        &meta_path(),
    );
    errs.extend(deployment_spec(d, &Path::new("spec")));
    errs
}

/// `ValidateDeploymentUpdate`: the spec rules plus an immutable `spec.selector`.
pub fn deployment_update(new: &Deployment, old: &Deployment) -> ErrorList {
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path());
    errs.extend(deployment_spec(new, &Path::new("spec")));
    errs.extend(immutable_selector(
        new.spec.as_ref().map(|s| &s.selector),
        old.spec.as_ref().map(|s| &s.selector),
    ));
    errs
}

fn replica_set_spec(r: &ReplicaSet, path: &Path) -> ErrorList {
    let spec = r.spec.clone().unwrap_or_default();
    let mut errs = nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    );
    errs.extend(nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    ));
    let (e, converts) = selector(&spec.selector, &path.child("selector"));
    errs.extend(e);
    if converts {
        let template = spec.template.clone().unwrap_or_default();
        errs.extend(template_for_replica_set(
            &template,
            &spec.selector,
            &path.child("template"),
        ));
    }
    errs
}

/// `ValidateReplicaSet`.
pub fn replica_set(r: &ReplicaSet) -> ErrorList {
    let mut errs = object_meta(
        &r.metadata,
        true,
        names::name_is_dns_subdomain,
        &meta_path(),
    );
    errs.extend(replica_set_spec(r, &Path::new("spec")));
    errs
}

/// `ValidateReplicaSetUpdate`: the spec rules plus an immutable `spec.selector`.
pub fn replica_set_update(new: &ReplicaSet, old: &ReplicaSet) -> ErrorList {
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path());
    errs.extend(replica_set_spec(new, &Path::new("spec")));
    errs.extend(immutable_selector(
        new.spec.as_ref().map(|s| &s.selector),
        old.spec.as_ref().map(|s| &s.selector),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::defaults;
    use serde_json::json;

    fn deploy(v: serde_json::Value) -> Deployment {
        let mut d: Deployment = from(v);
        defaults::deployment(&mut d);
        d
    }

    fn good() -> serde_json::Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    }

    #[test]
    fn deployment_rules() {
        assert_eq!(rendered(&deployment(&deploy(good()))), Vec::<String>::new());
        let mut v = good();
        v["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"]
        );
        let mut v = good();
        v["spec"]["replicas"] = json!(-1);
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
        let mut v = good();
        v["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec!["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]
        );
        let mut v = good();
        v["spec"]["selector"] = json!({});
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
        );
        let mut v = good();
        v["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}});
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"]
        );
        let mut v = good();
        v["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "120%", "maxSurge": "x"}});
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec![
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}: must not be greater than 100%",
            ]
        );
        let mut v = good();
        v["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
        assert_eq!(
            rendered(&deployment(&deploy(v))),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn deployment_selector_immutable() {
        let mut old = deploy(good());
        old.metadata.resource_version = Some("1".into());
        let mut new = old.clone();
        new.spec.as_mut().unwrap().selector = from(json!({"matchLabels": {"app": "web2"}}));
        new.spec
            .as_mut()
            .unwrap()
            .template
            .metadata
            .as_mut()
            .unwrap()
            .labels = Some(from(json!({"app": "web2"})));
        assert_eq!(
            rendered(&deployment_update(&new, &old)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
        );
    }

    #[test]
    fn replica_set_rules() {
        let mut rs: ReplicaSet = from(
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        );
        defaults::replica_set(&mut rs);
        assert_eq!(rendered(&replica_set(&rs)), Vec::<String>::new());
        rs.spec.as_mut().unwrap().replicas = Some(-2);
        assert_eq!(
            rendered(&replica_set(&rs)),
            vec!["spec.replicas: Invalid value: -2: must be greater than or equal to 0"]
        );
        let mut old = rs.clone();
        old.spec.as_mut().unwrap().replicas = Some(1);
        old.metadata.resource_version = Some("3".into());
        let mut new = old.clone();
        new.spec.as_mut().unwrap().selector.match_labels = Some(from(json!({"app": "x"})));
        assert!(rendered(&replica_set_update(&new, &old)).contains(
            &"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable".to_string()
        ));
    }
}
