//! Authorization: what a user may do. There is no RBAC yet, so:
//! - `system:masters` may do anything;
//! - a node (`system:node:<name>` in `system:nodes`) gets upstream's Node authorizer and
//!   NodeRestriction admission, simplified but safe: it reads nodes, pods, services, endpoints,
//!   namespaces and configmaps; reads a secret only when a pod bound to it references it (volumes,
//!   projected volumes, env, envFrom, imagePullSecrets); writes only its own Node (and status), its
//!   own Lease in `kube-node-lease`, the status of pods bound to it, deletes of those pods, and events;
//!   it creates no pods and touches no other node;
//! - every authenticated user may read discovery and OpenAPI (upstream's `system:discovery`);
//! - anything else is forbidden (403, upstream's message).

use serde_json::Value;
use skiff_api::resources::{find, Resource};
use skiff_api::ApiError;

use crate::auth::{User, MASTERS};
use crate::State;

/// The request attributes a decision looks at (upstream's `authorizer.Attributes`).
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'static str,
    pub resource: &'a Resource,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// The verb of a resource request, as upstream's RequestInfo names it.
pub fn verb(method: &http::Method, has_name: bool, watching: bool) -> &'static str {
    use http::Method;
    match *method {
        Method::GET | Method::HEAD if !has_name && watching => "watch",
        Method::GET | Method::HEAD if !has_name => "list",
        Method::GET | Method::HEAD if watching => "watch",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if !has_name => "deletecollection",
        Method::DELETE => "delete",
        _ => "unknown",
    }
}

/// Upstream's 403: `nodes "b" is forbidden: User "system:node:a" cannot patch resource "nodes" in API
/// group "" at the cluster scope[: reason]`.
pub fn forbidden(user: &User, a: &Attributes<'_>, reason: &str) -> ApiError {
    let resource = match a.subresource {
        Some(s) => format!("{}/{s}", a.resource.plural),
        None => a.resource.plural.to_string(),
    };
    let qualified = skiff_api::status::qualified(a.resource.plural, a.resource.group);
    let head = match a.name {
        Some(n) => format!("{qualified} \"{n}\" is forbidden"),
        None => format!("{qualified} is forbidden"),
    };
    let scope = match a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut message = format!(
        "{head}: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.resource.group
    );
    if !reason.is_empty() {
        message.push_str(": ");
        message.push_str(reason);
    }
    let mut e = ApiError::forbidden(message);
    e.details = Some(Box::new(skiff_api::status::Details {
        name: a.name.unwrap_or("").to_string(),
        group: a.resource.group.to_string(),
        kind: a.resource.plural.to_string(),
        ..Default::default()
    }));
    e
}

/// Upstream's 403 for a path that is no resource (`/metrics`).
pub fn forbidden_path(user: &User, verb: &str, path: &str) -> ApiError {
    ApiError::forbidden(format!(
        "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
        user.name
    ))
}

/// Decides a resource request. `body` is the decoded request body for creates (the name of a created
/// object is in it, not in the path).
pub fn authorize(
    state: &State,
    user: &User,
    a: &Attributes<'_>,
    body: Option<&Value>,
) -> Result<(), ApiError> {
    if user.in_group(MASTERS) {
        return Ok(());
    }
    let Some(node) = user.node_name() else {
        return Err(forbidden(user, a, ""));
    };
    node_authorize(state, node, a, body).map_err(|reason| forbidden(user, a, &reason))
}

const READ: &[&str] = &["get", "list", "watch"];

/// The Node authorizer + NodeRestriction; `Err(reason)` denies.
fn node_authorize(
    state: &State,
    node: &str,
    a: &Attributes<'_>,
    body: Option<&Value>,
) -> Result<(), String> {
    let read = READ.contains(&a.verb);
    let created_name = || {
        body.map(|b| crate::registry::meta_str(b, "name"))
            .unwrap_or("")
    };
    match (a.resource.group, a.resource.plural, a.subresource) {
        ("", "nodes", None | Some("status")) => {
            if read {
                return Ok(());
            }
            let target = match a.verb {
                "create" => created_name(),
                "update" | "patch" | "delete" => a.name.unwrap_or(""),
                _ => return Err(String::new()),
            };
            if target == node {
                Ok(())
            } else {
                Err(format!(
                    "node \"{node}\" is not allowed to modify node \"{target}\""
                ))
            }
        }
        ("", "pods", None) if read => Ok(()),
        ("", "pods", None) if a.verb == "delete" => bound_pod(state, node, a),
        ("", "pods", Some("status")) if matches!(a.verb, "get" | "update" | "patch") => {
            bound_pod(state, node, a)
        }
        ("", "services" | "endpoints" | "namespaces" | "configmaps", None) if read => Ok(()),
        ("discovery.k8s.io", "endpointslices", None) if read => Ok(()),
        ("", "secrets", None) if a.verb == "get" => {
            let (Some(ns), Some(name)) = (a.namespace, a.name) else {
                return Err(String::new());
            };
            if node_references_secret(state, node, ns, name) {
                Ok(())
            } else {
                Err(format!(
                    "no relationship found between node '{node}' and this object"
                ))
            }
        }
        ("coordination.k8s.io", "leases", None) => {
            if a.namespace != Some("kube-node-lease") {
                return Err(String::new());
            }
            let target = match a.verb {
                "create" => created_name(),
                "get" | "update" | "patch" | "delete" => a.name.unwrap_or(""),
                _ => return Err(String::new()),
            };
            if target == node {
                Ok(())
            } else {
                Err(
                    "can only access node lease with the same name as the requesting node"
                        .to_string(),
                )
            }
        }
        ("" | "events.k8s.io", "events", None)
            if matches!(a.verb, "create" | "update" | "patch") =>
        {
            Ok(())
        }
        _ => Err(String::new()),
    }
}

/// The pod the request names, if it is bound to `node` (from the watch cache).
fn bound_pod(state: &State, node: &str, a: &Attributes<'_>) -> Result<(), String> {
    let pods = find("", "v1", "pods").ok_or_else(String::new)?;
    let (Some(ns), Some(name)) = (a.namespace, a.name) else {
        return Err(String::new());
    };
    let key = crate::registry::Registry::key(pods, Some(ns), name);
    let on = state.registry.cache.get(pods, &key).map(|o| {
        o.value()["spec"]["nodeName"]
            .as_str()
            .unwrap_or("")
            .to_string()
    });
    match on {
        // A pod that does not exist: let the handler answer 404, as upstream's NodeRestriction does.
        None => Ok(()),
        Some(n) if n == node => Ok(()),
        Some(_) => Err(format!("node \"{node}\" can only modify pods bound to it")),
    }
}

/// Whether a pod bound to `node` in namespace `ns` references secret `name`.
fn node_references_secret(state: &State, node: &str, ns: &str, name: &str) -> bool {
    let Some(pods) = find("", "v1", "pods") else {
        return false;
    };
    let (objects, _) = state
        .registry
        .cache
        .list(pods, &pods.namespace_prefix(ns), None);
    objects.iter().any(|o| {
        let pod = o.value();
        pod["spec"]["nodeName"].as_str() == Some(node)
            && pod_secret_names(&pod).iter().any(|s| s == name)
    })
}

/// The secrets a pod references: volumes (secret, projected sources), env `secretKeyRef`, envFrom
/// `secretRef`, imagePullSecrets.
pub fn pod_secret_names(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &Value| {
        if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
            out.push(s.to_string());
        }
    };
    let spec = &pod["spec"];
    for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        push(&s["name"]);
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        push(&v["secret"]["secretName"]);
        for src in v["projected"]["sources"].as_array().into_iter().flatten() {
            push(&src["secret"]["name"]);
        }
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            for e in c["env"].as_array().into_iter().flatten() {
                push(&e["valueFrom"]["secretKeyRef"]["name"]);
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                push(&e["secretRef"]["name"]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_a_pod_references() {
        let pod = json!({"spec": {
            "imagePullSecrets": [{"name": "pull"}],
            "volumes": [{"name": "v", "secret": {"secretName": "vol"}},
                        {"name": "p", "projected": {"sources": [{"secret": {"name": "proj"}}, {"configMap": {"name": "cm"}}]}}],
            "containers": [{"name": "c", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "env", "key": "k"}}}],
                            "envFrom": [{"secretRef": {"name": "envfrom"}}, {"configMapRef": {"name": "cm2"}}]}],
            "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init"}}]}]
        }});
        let mut names = pod_secret_names(&pod);
        names.sort();
        assert_eq!(names, ["env", "envfrom", "init", "proj", "pull", "vol"]);
    }

    #[test]
    fn forbidden_message_as_upstream() {
        let nodes = find("", "v1", "nodes").unwrap();
        let user = User::new("system:node:a", &[crate::auth::NODES]);
        let a = Attributes {
            verb: "patch",
            resource: nodes,
            subresource: None,
            namespace: None,
            name: Some("b"),
        };
        let e = forbidden(&user, &a, "");
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "nodes \"b\" is forbidden: User \"system:node:a\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope"
        );
    }
}
