//! [`RuncRuntime`]: the [`Runtime`] over runc, one detached [shim](super::shim) per container.
//!
//! Skiff keeps one record per container besides runc's own state: a symlink
//! `<state_dir>/<id>` → bundle, so that `state`, `remove` and `list` find a container's bundle
//! after an agent restart, even when runc no longer knows the container (failed or half-done
//! start, a crash between steps).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

use super::shim::{ShimConfig, StartReport, SHIM_CONFIG_FILE, SHIM_PID_FILE};
use super::spec::{self, HostFeatures};
use super::state::{self, Exit, Started, EXIT_FILE, STARTED_FILE};
use super::{ContainerConfig, ContainerState, Runtime, RuntimeError};

/// How to run runc and the shim.
#[derive(Debug, Clone)]
pub struct RuncConfig {
    /// The runc binary (a name is looked up in `PATH`).
    pub runc: PathBuf,
    /// runc's state directory (`runc --root`), e.g. `/run/skiff/runc`.
    pub root: PathBuf,
    /// Skiff's per-container records (symlink id → bundle), e.g. `/run/skiff/containers`.
    pub state_dir: PathBuf,
    /// Program and arguments that run [`shim_main`](super::shim_main); the runtime appends
    /// `--bundle <bundle>`. In production `[current_exe, "shim"]`.
    pub shim_command: Vec<OsString>,
    /// How long `start` waits for the shim's report.
    pub start_timeout: Duration,
}

impl RuncConfig {
    /// `runc` from `PATH`, runc root `<dir>/runc`, state dir `<dir>/containers`.
    pub fn new(dir: &Path, shim_command: Vec<OsString>) -> RuncConfig {
        RuncConfig {
            runc: PathBuf::from("runc"),
            root: dir.join("runc"),
            state_dir: dir.join("containers"),
            shim_command,
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// The runc runtime. Cheap to create; any number of instances over the same directories see the
/// same containers (e.g. after an agent restart).
pub struct RuncRuntime {
    cfg: RuncConfig,
}

const POLL: Duration = Duration::from_millis(50);
/// How long to wait for the exit record after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
}

/// Extracts logrus' `msg="..."` from runc's text stderr, else the trimmed text.
fn runc_message(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr);
    for line in s.lines().rev() {
        if let Some(i) = line.find("msg=\"") {
            let rest = &line[i + 5..];
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '"' => break,
                    c => out.push(c),
                }
            }
            return out;
        }
    }
    s.trim().to_string()
}

fn is_not_exist(msg: &str) -> bool {
    msg.contains("does not exist") || msg.contains("not exist")
}

fn process_alive(pid: u32) -> bool {
    // A zombie counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|s| s != 'Z'),
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Removes the cgroup `path` (runc's `cgroupsPath`) from every cgroup v1 hierarchy and the
/// unified one. Only empty cgroups can go; a missing one is fine. The pod manager can use it for
/// the pod-level cgroup after its containers are removed.
pub fn remove_cgroup(path: &str) -> io::Result<()> {
    let rel = path.trim_matches('/');
    if rel.is_empty() {
        return Ok(());
    }
    let base = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![base.join(rel)];
    if let Ok(rd) = std::fs::read_dir(base) {
        for e in rd.flatten() {
            // Skip the symlinks (cpu -> cpu,cpuacct): the real directory is visited too.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(e.path().join(rel));
            }
        }
    }
    let mut first_err = None;
    for d in dirs {
        match std::fs::remove_dir(&d) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(io::Error::new(e.kind(), format!("{}: {e}", d.display())));
                }
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Removes `dir` recursively without crossing into other file systems (a still-mounted rootfs
/// under the bundle is left alone, and then so is the bundle directory).
fn remove_dir_same_fs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    fn walk(dir: &Path, dev: u64) -> io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let p = e.path();
            let m = std::fs::symlink_metadata(&p)?;
            if m.is_dir() {
                if m.dev() != dev {
                    return Err(io::Error::other(format!(
                        "{} is a mount point; not removing it",
                        p.display()
                    )));
                }
                walk(&p, dev)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        std::fs::remove_dir(dir)
    }
    walk(dir, meta.dev())
}

impl RuncRuntime {
    /// Creates the runtime, making its directories.
    pub fn new(cfg: RuncConfig) -> Result<RuncRuntime, RuntimeError> {
        for d in [&cfg.root, &cfg.state_dir] {
            std::fs::create_dir_all(d)
                .map_err(RuntimeError::io(format!("creating {}", d.display())))?;
        }
        if cfg.shim_command.is_empty() {
            return Err(RuntimeError::InvalidConfig("empty shim_command".into()));
        }
        Ok(RuncRuntime { cfg })
    }

    pub fn config(&self) -> &RuncConfig {
        &self.cfg
    }

    async fn runc(&self, args: &[&str]) -> Result<Vec<u8>, RuntimeError> {
        let out = Command::new(&self.cfg.runc)
            .arg("--root")
            .arg(&self.cfg.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(RuntimeError::io(format!(
                "running {}",
                self.cfg.runc.display()
            )))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(RuntimeError::Runc {
                command: args.join(" "),
                message: runc_message(&out.stderr),
            })
        }
    }

    /// runc's state JSON; `Ok(None)` when runc does not know the container.
    async fn runc_state(&self, id: &str) -> Result<Option<serde_json::Value>, RuntimeError> {
        if !self.cfg.root.join(id).exists() {
            return Ok(None);
        }
        match self.runc(&["state", id]).await {
            Ok(out) => serde_json::from_slice(&out)
                .map(Some)
                .map_err(|e| RuntimeError::Runc {
                    command: format!("state {id}"),
                    message: format!("bad output: {e}"),
                }),
            Err(RuntimeError::Runc { message, .. }) if is_not_exist(&message) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn index_path(&self, id: &str) -> PathBuf {
        self.cfg.state_dir.join(id)
    }

    /// The bundle of `id`: from skiff's index, else from runc's state.
    async fn bundle(&self, id: &str) -> Result<Option<PathBuf>, RuntimeError> {
        if !valid_id(id) {
            return Err(RuntimeError::InvalidConfig(format!(
                "invalid container id {id:?}"
            )));
        }
        if let Ok(b) = std::fs::read_link(self.index_path(id)) {
            return Ok(Some(b));
        }
        Ok(self
            .runc_state(id)
            .await?
            .and_then(|s| s["bundle"].as_str().map(PathBuf::from)))
    }

    fn shim_alive(bundle: &Path) -> bool {
        read_pid(&bundle.join(SHIM_PID_FILE)).is_some_and(process_alive)
    }

    fn exited(exit: Exit) -> ContainerState {
        ContainerState::Exited {
            exit_code: exit.exit_code,
            signal: exit.signal,
            started_at: exit.started_at,
            finished_at: exit.finished_at,
            oom_killed: exit.oom_killed,
        }
    }

    async fn state_of(&self, id: &str, bundle: &Path) -> Result<ContainerState, RuntimeError> {
        let read_exit = || {
            state::read::<Exit>(bundle, EXIT_FILE).map_err(RuntimeError::io(format!(
                "reading {}/{EXIT_FILE}",
                bundle.display()
            )))
        };
        if let Some(exit) = read_exit()? {
            return Ok(Self::exited(exit));
        }
        let runc = self.runc_state(id).await?;
        let status = runc
            .as_ref()
            .and_then(|s| s["status"].as_str())
            .unwrap_or("");
        match status {
            "running" | "paused" | "pausing" => {
                let started = state::read::<Started>(bundle, STARTED_FILE).ok().flatten();
                let pid = runc.as_ref().and_then(|s| s["pid"].as_u64()).unwrap_or(0) as u32;
                let started_at = started
                    .map(|s| s.started_at)
                    .or_else(|| {
                        runc.as_ref()
                            .and_then(|s| s["created"].as_str())
                            .and_then(|c| c.parse().ok())
                    })
                    .unwrap_or_else(chrono::Utc::now);
                Ok(ContainerState::Running { pid, started_at })
            }
            "created" => Ok(ContainerState::Created),
            _ => {
                // Stopped (or unknown to runc): the shim records the exit shortly.
                let deadline = Instant::now() + Duration::from_secs(2);
                while Self::shim_alive(bundle) && Instant::now() < deadline {
                    tokio::time::sleep(POLL).await;
                    if let Some(exit) = read_exit()? {
                        return Ok(Self::exited(exit));
                    }
                }
                if let Some(exit) = read_exit()? {
                    return Ok(Self::exited(exit));
                }
                if runc.is_none() && Self::shim_alive(bundle) {
                    return Ok(ContainerState::Created); // still starting
                }
                Ok(ContainerState::Unknown)
            }
        }
    }

    /// Waits until the exit is recorded (or the shim is gone), up to `timeout`.
    async fn wait_exit(&self, bundle: &Path, timeout: Duration) -> Option<Exit> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(exit)) = state::read::<Exit>(bundle, EXIT_FILE) {
                return Some(exit);
            }
            if Instant::now() >= deadline || !Self::shim_alive(bundle) {
                return state::read::<Exit>(bundle, EXIT_FILE).ok().flatten();
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn kill_raw(&self, id: &str, signal: &str) -> Result<(), RuntimeError> {
        match self.runc(&["kill", id, signal]).await {
            Ok(_) => Ok(()),
            // Already stopped, or gone: nothing to signal.
            Err(RuntimeError::Runc { message, .. })
                if message.contains("not running")
                    || message.contains("process already finished")
                    || is_not_exist(&message) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes runc state, cgroup, bundle and index entry (the container must not run).
    async fn cleanup(&self, id: &str, bundle: Option<&Path>) -> Result<(), RuntimeError> {
        if self.runc_state(id).await?.is_some() {
            match self.runc(&["delete", "--force", id]).await {
                Ok(_) => {}
                Err(RuntimeError::Runc { message, .. }) if is_not_exist(&message) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(bundle) = bundle {
            // The shim exits right after recording the exit; make sure it is gone before
            // deleting its bundle.
            if let Some(pid) = read_pid(&bundle.join(SHIM_PID_FILE)) {
                let deadline = Instant::now() + Duration::from_secs(5);
                while process_alive(pid) && Instant::now() < deadline {
                    tokio::time::sleep(POLL).await;
                }
                if process_alive(pid) {
                    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                    }
                }
            }
            if let Ok(Some(shim)) = state::read::<ShimConfig>(bundle, SHIM_CONFIG_FILE) {
                if let Err(e) = remove_cgroup(&shim.cgroups_path) {
                    tracing::warn!(id, error = %e, "removing cgroup");
                }
            }
            remove_dir_same_fs(bundle).map_err(RuntimeError::io(format!(
                "removing bundle {}",
                bundle.display()
            )))?;
        }
        match std::fs::remove_file(self.index_path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RuntimeError::io(format!("removing index entry of {id}"))(e)),
        }
    }

    async fn spawn_shim(&self, id: &str, bundle: &Path) -> Result<StartReport, RuntimeError> {
        let shim_log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(bundle.join("shim.log"))
            .map_err(RuntimeError::io("creating shim.log"))?;
        let mut child = Command::new(&self.cfg.shim_command[0])
            .args(&self.cfg.shim_command[1..])
            .arg("--bundle")
            .arg(bundle)
            .current_dir(bundle)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(shim_log)
            // The shim outlives the agent; tokio reaps it if it exits while we run.
            .kill_on_drop(false)
            .spawn()
            .map_err(RuntimeError::io(format!(
                "spawning shim {:?}",
                self.cfg.shim_command[0]
            )))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(self.cfg.start_timeout, lines.next_line())
            .await
            .map_err(|_| RuntimeError::Timeout(format!("shim of {id} did not report")))?
            .map_err(RuntimeError::io("reading shim report"))?;
        let Some(line) = line else {
            let log = std::fs::read_to_string(bundle.join("shim.log")).unwrap_or_default();
            return Err(RuntimeError::StartFailed {
                id: id.into(),
                message: format!("shim exited without a report: {}", log.trim()),
            });
        };
        serde_json::from_str(&line).map_err(|e| RuntimeError::StartFailed {
            id: id.into(),
            message: format!("bad shim report {line:?}: {e}"),
        })
    }
}

#[async_trait::async_trait]
impl Runtime for RuncRuntime {
    async fn start(&self, cfg: &ContainerConfig) -> Result<(), RuntimeError> {
        let id = cfg.id.as_str();
        if !valid_id(id) {
            return Err(RuntimeError::InvalidConfig(format!(
                "invalid container id {id:?}"
            )));
        }
        if cfg.args.is_empty() {
            return Err(RuntimeError::InvalidConfig("no args".into()));
        }
        if !cfg.bundle.is_absolute() || !cfg.rootfs.is_absolute() || !cfg.log_path.is_absolute() {
            return Err(RuntimeError::InvalidConfig(
                "bundle, rootfs and log_path must be absolute".into(),
            ));
        }
        let index = self.index_path(id);
        if index.symlink_metadata().is_ok() || self.cfg.root.join(id).exists() {
            return Err(RuntimeError::AlreadyExists(id.into()));
        }
        let bundle = &cfg.bundle;
        std::fs::create_dir_all(bundle).map_err(RuntimeError::io(format!(
            "creating bundle {}",
            bundle.display()
        )))?;
        for f in [EXIT_FILE, STARTED_FILE, SHIM_PID_FILE] {
            let _ = std::fs::remove_file(bundle.join(f));
        }
        std::os::unix::fs::symlink(bundle, &index)
            .map_err(RuntimeError::io(format!("creating {}", index.display())))?;
        let result = async {
            let spec = spec::generate(cfg, HostFeatures::detect());
            state::write_atomic(bundle, "config.json", &spec)
                .map_err(RuntimeError::io("writing config.json"))?;
            let shim = ShimConfig {
                id: id.into(),
                runc: self.cfg.runc.clone(),
                runc_root: self.cfg.root.clone(),
                log_path: cfg.log_path.clone(),
                cgroups_path: cfg.cgroups_path.clone(),
                stop_signal: cfg.stop_signal.clone(),
            };
            state::write_atomic(bundle, SHIM_CONFIG_FILE, &shim)
                .map_err(RuntimeError::io("writing shim.json"))?;
            let report = self.spawn_shim(id, bundle).await?;
            match (report.pid, report.error) {
                (Some(pid), _) => {
                    tracing::debug!(id, pid, "container started");
                    Ok(())
                }
                (None, error) => Err(RuntimeError::StartFailed {
                    id: id.into(),
                    message: error.unwrap_or_else(|| "unknown error".into()),
                }),
            }
        }
        .await;
        if let Err(e) = &result {
            tracing::warn!(id, error = %e, "container start failed; cleaning up");
            if let Err(ce) = self.cleanup(id, Some(bundle)).await {
                tracing::warn!(id, error = %ce, "cleanup after failed start");
            }
        }
        result
    }

    async fn state(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        let bundle = self
            .bundle(id)
            .await?
            .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
        self.state_of(id, &bundle).await
    }

    async fn kill(&self, id: &str, signal: i32) -> Result<(), RuntimeError> {
        if self.bundle(id).await?.is_none() {
            return Err(RuntimeError::NotFound(id.into()));
        }
        self.kill_raw(id, &signal.to_string()).await
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<ContainerState, RuntimeError> {
        let bundle = self
            .bundle(id)
            .await?
            .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
        match self.state_of(id, &bundle).await? {
            s @ (ContainerState::Exited { .. } | ContainerState::Unknown) => return Ok(s),
            ContainerState::Created | ContainerState::Running { .. } => {}
        }
        let signal = state::read::<ShimConfig>(&bundle, SHIM_CONFIG_FILE)
            .ok()
            .flatten()
            .and_then(|s| s.stop_signal)
            .unwrap_or_else(|| "SIGTERM".into());
        if !grace.is_zero() {
            self.kill_raw(id, &signal).await?;
            if let Some(exit) = self.wait_exit(&bundle, grace).await {
                return Ok(Self::exited(exit));
            }
        }
        self.kill_raw(id, "SIGKILL").await?;
        if let Some(exit) = self.wait_exit(&bundle, KILL_TIMEOUT).await {
            return Ok(Self::exited(exit));
        }
        self.state_of(id, &bundle).await
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let bundle = self.bundle(id).await?;
        if let Some(b) = &bundle {
            if matches!(
                self.state_of(id, b).await?,
                ContainerState::Running { .. } | ContainerState::Created
            ) {
                self.kill_raw(id, "SIGKILL").await?;
                self.wait_exit(b, KILL_TIMEOUT).await;
            }
        }
        self.cleanup(id, bundle.as_deref()).await
    }

    async fn list(&self) -> Result<Vec<String>, RuntimeError> {
        let mut ids = Vec::new();
        for dir in [&self.cfg.state_dir, &self.cfg.root] {
            let rd = match std::fs::read_dir(dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(RuntimeError::io(format!("listing {}", dir.display()))(e)),
            };
            for e in rd.flatten() {
                if let Some(name) = e.file_name().to_str() {
                    if valid_id(name) {
                        ids.push(name.to_string());
                    }
                }
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_messages() {
        let err = b"time=\"2024-01-01T00:00:00Z\" level=error msg=\"container \\\"x\\\" does not exist\"\n";
        assert_eq!(runc_message(err), "container \"x\" does not exist");
        assert!(is_not_exist(&runc_message(err)));
        assert_eq!(runc_message(b"plain\n"), "plain");
    }

    #[test]
    fn ids() {
        assert!(valid_id("abcd1234-app-0"));
        assert!(!valid_id("../x"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
    }

    #[test]
    fn remove_same_fs() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path().join("bundle");
        std::fs::create_dir_all(b.join("rootfs/bin")).unwrap();
        std::fs::write(b.join("rootfs/bin/x"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", b.join("link")).unwrap();
        remove_dir_same_fs(&b).unwrap();
        assert!(!b.exists());
        remove_dir_same_fs(&b).unwrap();
        assert!(Path::new("/etc").exists());
    }
}
