//! `PrioritySort` (QueueSort): higher `spec.priority` first, then the earlier queue timestamp.

use crate::framework::{Plugin, QueueSortPlugin, QueuedPodInfo};

/// Orders the active queue by priority, then by the time the pod entered the queue.
#[derive(Debug, Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        super::names::PRIORITY_SORT
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        Some(self)
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (p1, p2) = (a.pod_info.priority(), b.pod_info.priority());
        p1 > p2 || (p1 == p2 && a.timestamp < b.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::PodInfo;
    use crate::testing::pod;
    use std::sync::Arc;

    fn q(prio: i32, ts: i128) -> QueuedPodInfo {
        QueuedPodInfo {
            pod_info: Arc::new(PodInfo::new(pod("p").priority(prio).build())),
            timestamp: ts,
            attempts: 0,
            initial_attempt_timestamp: None,
        }
    }

    #[test]
    fn less() {
        let cases = [
            (q(10, 2), q(1, 1), true),
            (q(1, 1), q(10, 2), false),
            (q(5, 1), q(5, 2), true),
            (q(5, 2), q(5, 1), false),
            (q(5, 1), q(5, 1), false),
        ];
        for (i, (a, b, want)) in cases.iter().enumerate() {
            assert_eq!(PrioritySort.less(a, b), *want, "case {i}");
        }
    }
}
