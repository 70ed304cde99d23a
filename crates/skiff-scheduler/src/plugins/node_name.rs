//! `NodeName` (Filter): a pod with `spec.nodeName` fits only that node.

use crate::framework::{Code, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};

/// `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Checks `spec.nodeName`.
#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        super::names::NODE_NAME
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let want = pod.node_name();
        if want.is_empty() || want == node.name() {
            Status::success()
        } else {
            Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn table() {
        let n = NodeInfo::new(node("foo").build());
        let st = CycleState::new();
        assert!(NodeName
            .filter(&st, &PodInfo::new(pod("p").build()), &n)
            .is_success());
        assert!(NodeName
            .filter(&st, &PodInfo::new(pod("p").node("foo").build()), &n)
            .is_success());
        let s = NodeName.filter(&st, &PodInfo::new(pod("p").node("bar").build()), &n);
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s.message(), ERR_REASON);
    }
}
