//! The in-tree plugins, one file each, named as upstream names them, and the default [`Registry`].
//!
//! | plugin | extension points |
//! |---|---|
//! | `SchedulingGates` | PreEnqueue |
//! | `PrioritySort` | QueueSort |
//! | `NodeUnschedulable`, `NodeName` | Filter |
//! | `NodePorts` | PreFilter, Filter |
//! | `NodeResourcesFit` | PreFilter, Filter, PreScore, Score |
//! | `NodeResourcesBalancedAllocation` | PreScore, Score |
//! | `TaintToleration` | Filter, PreScore, Score |
//! | `NodeAffinity` | PreFilter, Filter, PreScore, Score |
//! | `InterPodAffinity`, `PodTopologySpread` | PreFilter, Filter, PreScore, Score |
//! | `ImageLocality` | PreScore, Score |
//! | `DefaultPreemption` | PostFilter |
//! | `DefaultBinder` | Bind |

pub mod default_binder;
pub mod default_preemption;
pub mod helper;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_balanced_allocation;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod priority_sort;
pub mod scheduling_gates;
pub mod taint_toleration;

use crate::framework::{Plugin, Registry};
use std::sync::Arc;

/// Upstream plugin names (`plugins/names`).
pub mod names {
    pub const PRIORITY_SORT: &str = "PrioritySort";
    pub const SCHEDULING_GATES: &str = "SchedulingGates";
    pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
    pub const NODE_NAME: &str = "NodeName";
    pub const NODE_PORTS: &str = "NodePorts";
    pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
    pub const NODE_RESOURCES_BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
    pub const TAINT_TOLERATION: &str = "TaintToleration";
    pub const NODE_AFFINITY: &str = "NodeAffinity";
    pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
    pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
    pub const IMAGE_LOCALITY: &str = "ImageLocality";
    pub const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
    pub const DEFAULT_BINDER: &str = "DefaultBinder";
}

fn no_args(name: &str, args: Option<&serde_json::Value>) -> Result<(), String> {
    match args {
        Some(v) if !v.as_object().is_none_or(|o| o.is_empty()) => {
            Err(format!("plugin {name} takes no arguments"))
        }
        _ => Ok(()),
    }
}

/// The in-tree registry: every plugin above.
pub fn default_registry() -> Registry {
    let mut r = Registry::new();
    r.register(names::PRIORITY_SORT, |a, _| {
        no_args(names::PRIORITY_SORT, a)?;
        Ok(Arc::new(priority_sort::PrioritySort) as Arc<dyn Plugin>)
    });
    r.register(names::SCHEDULING_GATES, |a, _| {
        no_args(names::SCHEDULING_GATES, a)?;
        Ok(Arc::new(scheduling_gates::SchedulingGates) as Arc<dyn Plugin>)
    });
    r.register(names::NODE_UNSCHEDULABLE, |a, _| {
        no_args(names::NODE_UNSCHEDULABLE, a)?;
        Ok(Arc::new(node_unschedulable::NodeUnschedulable) as Arc<dyn Plugin>)
    });
    r.register(names::NODE_NAME, |a, _| {
        no_args(names::NODE_NAME, a)?;
        Ok(Arc::new(node_name::NodeName) as Arc<dyn Plugin>)
    });
    r.register(names::NODE_PORTS, |a, _| {
        no_args(names::NODE_PORTS, a)?;
        Ok(Arc::new(node_ports::NodePorts) as Arc<dyn Plugin>)
    });
    r.register(names::NODE_RESOURCES_FIT, |a, _| {
        Ok(Arc::new(node_resources_fit::Fit::new(a)?) as Arc<dyn Plugin>)
    });
    r.register(names::NODE_RESOURCES_BALANCED_ALLOCATION, |a, _| {
        Ok(
            Arc::new(node_resources_balanced_allocation::BalancedAllocation::new(
                a,
            )?) as Arc<dyn Plugin>,
        )
    });
    r.register(names::TAINT_TOLERATION, |a, _| {
        no_args(names::TAINT_TOLERATION, a)?;
        Ok(Arc::new(taint_toleration::TaintToleration) as Arc<dyn Plugin>)
    });
    r.register(names::NODE_AFFINITY, |a, _| {
        Ok(Arc::new(node_affinity::NodeAffinity::new(a)?) as Arc<dyn Plugin>)
    });
    r.register(names::INTER_POD_AFFINITY, |a, _| {
        Ok(Arc::new(inter_pod_affinity::InterPodAffinity::new(a)?) as Arc<dyn Plugin>)
    });
    r.register(names::POD_TOPOLOGY_SPREAD, |a, _| {
        Ok(Arc::new(pod_topology_spread::PodTopologySpread::new(a)?) as Arc<dyn Plugin>)
    });
    r.register(names::IMAGE_LOCALITY, |a, _| {
        no_args(names::IMAGE_LOCALITY, a)?;
        Ok(Arc::new(image_locality::ImageLocality) as Arc<dyn Plugin>)
    });
    r.register(names::DEFAULT_PREEMPTION, |a, h| {
        Ok(Arc::new(default_preemption::DefaultPreemption::new(a, h)?) as Arc<dyn Plugin>)
    });
    r.register(names::DEFAULT_BINDER, |a, h| {
        no_args(names::DEFAULT_BINDER, a)?;
        Ok(Arc::new(default_binder::DefaultBinder::new(h.binder.clone())) as Arc<dyn Plugin>)
    });
    r
}
