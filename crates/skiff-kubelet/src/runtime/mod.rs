//! Container runtime: runs a pod's containers with `runc`, each under its own detached shim.
//!
//! * [`Runtime`] is what the pod manager calls; [`RuncRuntime`] implements it with runc.
//! * [`spec`] turns a [`ContainerConfig`] into the OCI runtime spec (`config.json`), with
//!   containerd's defaults for a non-privileged container.
//! * [`shim`] is the per-container supervisor (`skiff shim --bundle B`, see [`shim_main`]): it runs
//!   `runc create`/`runc start`, copies the container's stdout/stderr into a CRI-format log, reaps
//!   the container's init process and records its exit in the bundle. It is detached from the agent
//!   (own session, no stdio tied to the agent), so containers survive an agent restart.
//! * [`logs`] writes and reads CRI-format log files (what `kubectl logs` serves).
//! * [`state`] holds the small JSON records the shim leaves in the bundle.
//!
//! Bundle layout (the directory [`ContainerConfig::bundle`], owned by the runtime):
//! `config.json` (OCI spec), `shim.json` (shim arguments), `shim.pid`, `shim.log` (shim's own
//! diagnostics), `init.pid`, `runc.log`, `started.json`, `exit.json`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub mod logs;
pub mod runc;
pub mod shim;
pub mod spec;
pub mod state;

pub use runc::{remove_cgroup, RuncConfig, RuncRuntime};
pub use shim::shim_main;

/// Everything needed to create and start one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerConfig {
    /// Unique container id (runc's id), e.g. `<podUID8>-<name>-<restartCount>`. Letters, digits,
    /// `-`, `_`, `.` only.
    pub id: String,
    /// Directory the runtime owns for this container (created if missing, removed by `remove`).
    pub bundle: PathBuf,
    /// Already-mounted root filesystem.
    pub rootfs: PathBuf,
    /// Final argv.
    pub args: Vec<String>,
    /// `NAME=value`.
    pub env: Vec<String>,
    /// Working directory inside the container (`/` when empty).
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    /// Bind mounts (volumes, /etc/hosts, /etc/resolv.conf, /etc/hostname).
    pub mounts: Vec<Mount>,
    /// Join this network namespace (the pod's); `None`: a new, empty one.
    pub netns: Option<PathBuf>,
    /// Join this IPC namespace; `None`: a new one per container.
    pub ipcns: Option<PathBuf>,
    /// cgroup path (runc `linux.cgroupsPath`), e.g. `/skiff/pod<uid>/<container>`.
    pub cgroups_path: String,
    pub resources: Resources,
    /// CRI-format log file the shim appends to (its directory is created if missing).
    pub log_path: PathBuf,
    /// Signal name or number used by `stop` (`SIGTERM` when `None`), e.g. `SIGINT`, `QUIT`, `9`.
    pub stop_signal: Option<String>,
}

/// One bind mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// cgroup resources of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// `cpu.shares`; see [`milli_cpu_to_shares`]. `None`: not set.
    pub cpu_shares: Option<u64>,
    /// `cpu.cfs_quota_us`; see [`milli_cpu_to_quota`]. `None`: unlimited.
    pub cpu_quota: Option<i64>,
    /// `cpu.cfs_period_us` (100000 when a quota is set and this is `None`).
    pub cpu_period: Option<u64>,
    /// Memory limit in bytes; `None` or `Some(0)`: unlimited.
    pub memory_limit: Option<i64>,
}

/// Upstream kubelet's `MilliCPUToShares`: requests (milli-CPU) → `cpu.shares`, min 2.
pub fn milli_cpu_to_shares(milli_cpu: i64) -> u64 {
    if milli_cpu <= 0 {
        return 2;
    }
    ((milli_cpu as u64) * 1024 / 1000).max(2)
}

/// CFS period used with [`milli_cpu_to_quota`].
pub const CPU_PERIOD: u64 = 100_000;

/// Upstream kubelet's `MilliCPUToQuota` (period 100000): limits (milli-CPU) → `cpu.cfs_quota_us`,
/// `None` for no limit; min 1000.
pub fn milli_cpu_to_quota(milli_cpu: i64) -> Option<i64> {
    if milli_cpu <= 0 {
        return None;
    }
    Some((milli_cpu * CPU_PERIOD as i64 / 1000).max(1000))
}

/// What the runtime knows about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, not started (only seen while `start` runs or after a shim crash mid-start).
    Created,
    Running {
        pid: u32,
        started_at: DateTime<Utc>,
    },
    Exited {
        /// Exit status; `128 + signal` when killed by a signal (as containerd reports).
        exit_code: i32,
        signal: Option<i32>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        oom_killed: bool,
    },
    /// The container is stopped but its exit was not recorded (its shim died, e.g. was killed).
    Unknown,
}

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container {0} not found")]
    NotFound(String),
    #[error("container {0} already exists")]
    AlreadyExists(String),
    #[error("invalid container config: {0}")]
    InvalidConfig(String),
    /// The container could not be created or started; the message is runc's (for example
    /// `exec: "nosuch": executable file not found in $PATH`).
    #[error("failed to start container {id}: {message}")]
    StartFailed { id: String, message: String },
    /// A runc command failed.
    #[error("runc {command} failed: {message}")]
    Runc { command: String, message: String },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl RuntimeError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let context = context.into();
        move |source| RuntimeError::Io { context, source }
    }
}

/// The container runtime the pod manager drives. All ids are [`ContainerConfig::id`].
#[async_trait::async_trait]
pub trait Runtime: Send + Sync {
    /// Creates and starts the container; returns once its process runs, or fails with runc's
    /// message (after cleaning up: no runc state, no cgroup; the bundle stays for inspection and is
    /// removed by [`Runtime::remove`]).
    async fn start(&self, cfg: &ContainerConfig) -> Result<(), RuntimeError>;
    /// Current state; works for containers started by an earlier agent process.
    async fn state(&self, id: &str) -> Result<ContainerState, RuntimeError>;
    /// Sends `signal` to the container's init process.
    async fn kill(&self, id: &str, signal: i32) -> Result<(), RuntimeError>;
    /// Sends the stop signal (default SIGTERM), waits up to `grace`, then SIGKILL, and waits for
    /// the exit to be recorded. Returns the final state. Stopping an exited container is a no-op.
    async fn stop(&self, id: &str, grace: Duration) -> Result<ContainerState, RuntimeError>;
    /// Kills (if needed) and deletes the container: runc state, cgroup and bundle. Idempotent.
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// Ids of all containers the runtime knows (running, exited, or half-created leftovers).
    async fn list(&self) -> Result<Vec<String>, RuntimeError>;
}
