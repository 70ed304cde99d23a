//! Node-level admission (`lifecycle.NewPredicateAdmitHandler`): before running a pod the kubelet
//! checks again what the scheduler checked, against the pods it actually runs, because a pod may
//! be bound by something other than the scheduler (`spec.nodeName` set by hand) or the scheduler
//! may have worked from stale state. A pod that does not fit is rejected: phase Failed with
//! upstream's reasons (`OutOfcpu`, `OutOfmemory`, `OutOfpods`, `NodeAffinity`) and messages.
//! The checks reuse the scheduler's own accounting (`skiff_scheduler::resources`), as the kubelet
//! reuses the scheduler's predicates upstream.

use k8s_openapi::api::core::v1::{Node, Pod};
use skiff_scheduler::nodeaffinity::RequiredNodeAffinity;
use skiff_scheduler::resources::{pod_requests, Resource};

/// Why a pod was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    pub message: String,
}

/// Checks `pod` against `node`'s allocatable given the pods already admitted there.
pub fn admit(pod: &Pod, node: &Node, admitted: &[&Pod]) -> Result<(), Rejection> {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let affinity = RequiredNodeAffinity::from_pod(pod);
    if !affinity.matches(&labels, node_name) {
        return Err(Rejection {
            reason: "NodeAffinity".into(),
            message: "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector".into(),
        });
    }
    let allocatable = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .map(Resource::from_list)
        .unwrap_or_default();
    let allowed_pods = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get("pods"))
        .and_then(|q| q.0.parse::<i64>().ok())
        .unwrap_or(110);
    if admitted.len() as i64 + 1 > allowed_pods {
        return Err(Rejection {
            reason: "OutOfpods".into(),
            message: format!(
                "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: {}, capacity: {allowed_pods}",
                admitted.len()
            ),
        });
    }
    let want = pod_requests(pod, false);
    let mut used = Resource::default();
    for p in admitted {
        used.add(&pod_requests(p, false));
    }
    let checks = [
        ("cpu", want.milli_cpu, used.milli_cpu, allocatable.milli_cpu),
        ("memory", want.memory, used.memory, allocatable.memory),
        (
            "ephemeral-storage",
            want.ephemeral_storage,
            used.ephemeral_storage,
            allocatable.ephemeral_storage,
        ),
    ];
    for (name, requested, used, capacity) in checks {
        if requested > 0 && requested + used > capacity {
            return Err(Rejection {
                reason: format!("OutOf{name}"),
                message: format!(
                    "Pod was rejected: Node didn't have enough resource: {name}, requested: {requested}, used: {used}, capacity: {capacity}"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": "n1", "labels": {"disk": "ssd"}},
            "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "2"}}}),
        )
        .unwrap()
    }

    fn pod(cpu: &str, selector: Option<&str>) -> Pod {
        let mut v = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": cpu}}}]}});
        if let Some(s) = selector {
            v["spec"]["nodeSelector"] = json!({ "disk": s });
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let n = node();
        assert!(admit(&pod("1", None), &n, &[]).is_ok());
        let big = admit(&pod("3", None), &n, &[]).unwrap_err();
        assert_eq!(big.reason, "OutOfcpu");
        assert_eq!(
            big.message,
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000"
        );
        let one = pod("1500m", None);
        assert_eq!(
            admit(&pod("1", None), &n, &[&one]).unwrap_err().reason,
            "OutOfcpu"
        );
        let a = pod("0", None);
        assert_eq!(
            admit(&pod("0", None), &n, &[&a, &a]).unwrap_err().reason,
            "OutOfpods"
        );
        assert_eq!(
            admit(&pod("1", Some("hdd")), &n, &[]).unwrap_err().reason,
            "NodeAffinity"
        );
        assert!(admit(&pod("1", Some("ssd")), &n, &[]).is_ok());
    }
}
