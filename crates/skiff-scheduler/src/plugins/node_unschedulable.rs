//! `NodeUnschedulable` (Filter): cordoned nodes (`spec.unschedulable`) take only pods that tolerate
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use super::helper::tolerations_tolerate_taint;
use crate::framework::{Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};
use k8s_openapi::api::core::v1::Taint;
use std::sync::OnceLock;

/// `ErrReasonUnschedulable`.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// `v1.TaintNodeUnschedulable`.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Rejects cordoned nodes.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        super::names::NODE_UNSCHEDULABLE
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

fn unschedulable_taint() -> &'static Taint {
    static T: OnceLock<Taint> = OnceLock::new();
    T.get_or_init(|| Taint {
        key: TAINT_NODE_UNSCHEDULABLE.into(),
        effect: "NoSchedule".into(),
        value: None,
        time_added: None,
    })
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable() {
            return Status::success();
        }
        if tolerations_tolerate_taint(pod.tolerations(), unschedulable_taint()) {
            return Status::success();
        }
        Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON_UNSCHEDULABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn table() {
        let cordoned = NodeInfo::new(node("n").unschedulable().build());
        let open = NodeInfo::new(node("n").build());
        let cases = [
            (pod("p").build(), &open, true),
            (pod("p").build(), &cordoned, false),
            (
                pod("p")
                    .toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoSchedule")
                    .build(),
                &cordoned,
                true,
            ),
            (
                pod("p")
                    .toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoExecute")
                    .build(),
                &cordoned,
                false,
            ),
        ];
        for (i, (p, n, ok)) in cases.into_iter().enumerate() {
            let s = NodeUnschedulable.filter(&CycleState::new(), &PodInfo::new(p), n);
            assert_eq!(s.is_success(), ok, "case {i}");
            if !ok {
                assert_eq!(s.message(), ERR_REASON_UNSCHEDULABLE);
                assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
            }
        }
    }
}
