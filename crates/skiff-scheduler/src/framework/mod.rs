//! The scheduling framework: extension points, per-cycle state, node and pod views, the snapshot and
//! the instantiated profile that runs the plugins (upstream `pkg/scheduler/framework`).

pub mod cycle_state;
pub mod interface;
pub mod node_info;
pub mod profile;
pub mod snapshot;
pub mod status;
pub mod types;

pub use crate::labels::Selector;
pub use cycle_state::{CycleState, StateData};
pub use interface::*;
pub use node_info::NodeInfo;
pub use profile::{Handle, PluginFactory, Profile, Registry, ScoreBuffers};
pub use snapshot::{PodGroup, Snapshot, SnapshotError, TopologyIndex, Workloads};
pub use status::{Code, Status};
pub use types::{AffinityTerm, HostPort, ImageStateSummary, PodInfo, WeightedAffinityTerm};
