//! Skiff's scheduler core: kube-scheduler's framework, default plugins and scheduling algorithm,
//! without I/O.
//!
//! The component around it (queue, informers, binding, events) feeds a [`framework::Snapshot`] with
//! nodes and pods, builds [`framework::Profile`]s from a [`config::KubeSchedulerConfiguration`], and
//! for each pod calls [`schedule_one::Algorithm::schedule_pod`]; on a [`schedule_one::FitError`] it
//! runs PostFilter (preemption) and writes the upstream message; on success it assumes the pod in the
//! snapshot and runs Reserve, Permit and Bind. Semantics, messages, args and defaults follow
//! kube-scheduler v1.32; the hot paths (Filter, Score) work on precomputed integers and dense arrays
//! and do not allocate. The explain mode returns every plugin's verdict per node, which Skiff writes
//! onto the pod as annotations.

pub mod config;
pub mod framework;
pub mod informer;
pub mod labels;
pub mod leader_election;
pub mod nodeaffinity;
pub mod plugins;
pub mod queue;
pub mod resources;
pub mod schedule_one;
pub mod server;

#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use config::{ConfigError, KubeSchedulerConfiguration};
pub use framework::{CycleState, Handle, NodeInfo, PodInfo, Profile, Snapshot, Status};
pub use schedule_one::{Algorithm, Explanation, FitError, ScheduleError, ScheduleResult};
