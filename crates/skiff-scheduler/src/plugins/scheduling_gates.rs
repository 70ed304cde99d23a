//! `SchedulingGates` (PreEnqueue): a pod with `spec.schedulingGates` waits outside the active queue.

use crate::framework::{Code, Plugin, PodInfo, PreEnqueuePlugin, Status};

/// Keeps gated pods out of the active queue.
#[derive(Debug, Default)]
pub struct SchedulingGates;

impl Plugin for SchedulingGates {
    fn name(&self) -> &'static str {
        super::names::SCHEDULING_GATES
    }
    fn as_pre_enqueue(&self) -> Option<&dyn PreEnqueuePlugin> {
        Some(self)
    }
}

impl PreEnqueuePlugin for SchedulingGates {
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let gates = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduling_gates.as_deref())
            .unwrap_or_default();
        if gates.is_empty() {
            return Status::success();
        }
        let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
        Status::new(
            Code::UnschedulableAndUnresolvable,
            format!("waiting for scheduling gates: [{}]", names.join(" ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    #[test]
    fn gated_pods_wait() {
        let p = PodInfo::new(pod("p").scheduling_gate("a").scheduling_gate("b").build());
        let s = SchedulingGates.pre_enqueue(&p);
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s.message(), "waiting for scheduling gates: [a b]");
        assert!(SchedulingGates
            .pre_enqueue(&PodInfo::new(pod("q").build()))
            .is_success());
    }
}
