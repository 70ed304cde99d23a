//! What the agent knows about each of its pods, kept on disk (`<data-dir>/pods/<uid>/state.json`,
//! replaced atomically) so that an agent that restarts adopts its running containers instead of
//! starting them again, and so that whatever a crash left half set up (netns, mounts, containers)
//! is found and cleaned.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A pod's record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodRecord {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// When the agent first accepted the pod (`status.startTime`).
    pub start_time: Option<DateTime<Utc>>,
    pub sandbox: Option<SandboxRecord>,
    /// The current instance of each container, by name.
    pub containers: BTreeMap<String, ContainerRecord>,
    /// The previous instance's end, by container name (`lastState.terminated`).
    pub last_terminated: BTreeMap<String, Terminated>,
    /// Set once the pod reached Succeeded or Failed (or was rejected): nothing runs again.
    pub terminal: Option<TerminalPhase>,
}

/// The pod's network sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SandboxRecord {
    pub netns: PathBuf,
    /// The pod's IPC namespace, shared by its containers.
    #[serde(default)]
    pub ipcns: Option<PathBuf>,
    pub ips: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// One instance of a container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecord {
    pub id: String,
    pub restart_count: i32,
    /// The image as the spec names it.
    pub image: String,
    /// The image's normalized name (`docker.io/library/busybox:latest`).
    pub image_name: String,
    /// `name@sha256:...` as the status' `imageID`.
    pub image_id: String,
    pub init: bool,
    /// Where the container's rootfs is mounted (and its upper/work directories live beside it).
    pub dir: PathBuf,
    pub log_path: PathBuf,
    pub started_at: Option<DateTime<Utc>>,
    /// Set once the instance has exited and the agent saw it.
    pub finished: Option<Terminated>,
}

/// How a container instance ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Terminated {
    pub exit_code: i32,
    pub signal: Option<i32>,
    /// `Completed`, `Error`, `OOMKilled`, `ContainerStatusUnknown`.
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    pub container_id: String,
}

/// A final phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TerminalPhase {
    pub phase: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl PodRecord {
    pub fn path(pod_dir: &Path) -> PathBuf {
        pod_dir.join("state.json")
    }

    /// Loads the record in `pod_dir`, if there is one.
    pub fn load(pod_dir: &Path) -> Option<PodRecord> {
        let bytes = std::fs::read(Self::path(pod_dir)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes the record durably (temp file, fsync, rename).
    pub fn save(&self, pod_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(pod_dir)?;
        let tmp = pod_dir.join("state.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, Self::path(pod_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = PodRecord {
            uid: "u".into(),
            name: "p".into(),
            namespace: "default".into(),
            start_time: Some(Utc::now()),
            ..Default::default()
        };
        r.containers.insert(
            "c".into(),
            ContainerRecord {
                id: "id".into(),
                restart_count: 2,
                image: "busybox".into(),
                image_name: "docker.io/library/busybox:latest".into(),
                image_id: "docker.io/library/busybox@sha256:00".into(),
                init: false,
                dir: "/x".into(),
                log_path: "/y".into(),
                started_at: None,
                finished: None,
            },
        );
        r.save(dir.path()).unwrap();
        let back = PodRecord::load(dir.path()).unwrap();
        assert_eq!(back.containers, r.containers);
        assert!(PodRecord::load(&dir.path().join("none")).is_none());
    }
}
