//! The objects every cluster starts with: the namespaces `default`, `kube-system`, `kube-public` and
//! `kube-node-lease` (each with its `default` service account), and the two built-in priority classes.

use crate::registry::{Registry, WriteOptions};
use serde_json::json;
use skiff_api::resources;

const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn run(reg: &Registry) {
    let opts = WriteOptions::system("skiff-apiserver");
    let ns_res = resources::find("", "v1", "namespaces").expect("namespaces");
    for ns in NAMESPACES {
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        match reg.create(ns_res, None, obj, &opts).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => reg.ensure_default_service_account(ns).await,
            Err(e) => {
                tracing::error!(namespace = ns, error = %e, "could not create a built-in namespace")
            }
        }
    }
    // The `kubernetes` service in default names the API server, as upstream.
    let svc = resources::find("", "v1", "services").expect("services");
    let obj = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default",
        "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
    match reg.create(svc, Some("default"), obj, &opts).await {
        Ok(_) => {}
        Err(e) if e.reason == "AlreadyExists" => {}
        Err(e) => tracing::error!(error = %e, "could not create the kubernetes service"),
    }
    let pc =
        resources::find("scheduling.k8s.io", "v1", "priorityclasses").expect("priorityclasses");
    for (name, value, description) in [
        ("system-node-critical", 2_000_001_000i64, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000i64, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        let obj = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority"});
        match reg.create(pc, None, obj, &opts).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => tracing::error!(class = name, error = %e, "could not create a built-in priority class"),
        }
    }
}
