//! `NodePorts` (PreFilter, Filter): the pod's host ports must be free on the node.
//!
//! A wanted port conflicts with a used one of the same protocol and number when either binds
//! `0.0.0.0` or both bind the same IP (`HostPortInfo.CheckConflict`).

use crate::framework::{
    Code, CycleState, FilterPlugin, HostPort, NodeInfo, Plugin, PodInfo, PreFilterPlugin,
    PreFilterResult, Snapshot, Status,
};

/// `ErrReason`.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Checks host port conflicts.
#[derive(Debug, Default)]
pub struct NodePorts;

#[derive(Clone)]
struct PreFilterState(Vec<HostPort>);

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        super::names::NODE_PORTS
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        _snapshot: &Snapshot,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        if pod.host_ports.is_empty() {
            return (None, Status::skip());
        }
        state.write(PreFilterState(pod.host_ports.clone()));
        (None, Status::success())
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let wanted = match state.read::<PreFilterState>() {
            Some(s) => &s.0,
            None => &pod.host_ports,
        };
        let used = node.used_ports();
        if wanted.iter().any(|w| w.conflicts_with(used)) {
            return Status::new(Code::Unschedulable, ERR_REASON);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use std::sync::Arc;

    fn node_with(ports: &[(&str, &str, i32)]) -> NodeInfo {
        let mut ni = NodeInfo::new(node("n").build());
        for (i, (ip, proto, port)) in ports.iter().enumerate() {
            ni.add_pod(Arc::new(PodInfo::new(
                pod(&format!("e{i}"))
                    .host_port_full(ip, proto, *port)
                    .build(),
            )));
        }
        ni
    }

    #[test]
    fn table() {
        type Ports<'a> = Vec<(&'a str, &'a str, i32)>;
        let cases: Vec<(Ports, Ports, bool)> = vec![
            (vec![], vec![], true),
            (vec![("", "UDP", 8080)], vec![("", "UDP", 9090)], true),
            (vec![("", "UDP", 8080)], vec![("", "UDP", 8080)], false),
            (
                vec![("127.0.0.1", "TCP", 8080)],
                vec![("127.0.0.1", "TCP", 8080)],
                false,
            ),
            (
                vec![("127.0.0.1", "TCP", 8080)],
                vec![("127.0.0.2", "TCP", 8080)],
                true,
            ),
            (
                vec![("127.0.0.1", "TCP", 8080)],
                vec![("127.0.0.1", "UDP", 8080)],
                true,
            ),
            (
                vec![("0.0.0.0", "TCP", 8001)],
                vec![("127.0.0.1", "TCP", 8001)],
                false,
            ),
            (
                vec![("10.0.10.10", "TCP", 8001)],
                vec![("0.0.0.0", "TCP", 8001)],
                false,
            ),
            (
                vec![("", "", 8001)],
                vec![("127.0.0.1", "TCP", 8001)],
                false,
            ),
        ];
        for (i, (want, used, fits)) in cases.into_iter().enumerate() {
            let mut b = pod("p");
            for (ip, proto, port) in &want {
                b = b.host_port_full(ip, proto, *port);
            }
            let p = PodInfo::new(b.build());
            let n = node_with(&used);
            let mut st = CycleState::new();
            let snap = Snapshot::new();
            let (_, pre) = NodePorts.pre_filter(&mut st, &snap, &p);
            if want.is_empty() {
                assert!(pre.is_skip(), "case {i}");
                continue;
            }
            let s = NodePorts.filter(&st, &p, &n);
            assert_eq!(s.is_success(), fits, "case {i}");
            if !fits {
                assert_eq!(s.message(), ERR_REASON);
                assert_eq!(s.code(), Code::Unschedulable);
            }
        }
    }
}
