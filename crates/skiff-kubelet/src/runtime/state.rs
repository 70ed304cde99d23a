//! Small JSON records the shim leaves in the bundle: `started.json` once the container runs and
//! `exit.json` once its init process exited. Both are written atomically (temp file + rename).

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// File name of the [`Started`] record in the bundle.
pub const STARTED_FILE: &str = "started.json";
/// File name of the [`Exit`] record in the bundle.
pub const EXIT_FILE: &str = "exit.json";

/// Written by the shim after `runc start` succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub pid: u32,
    pub started_at: DateTime<Utc>,
}

/// Written by the shim after the container's init process was reaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    pub pid: u32,
    /// Exit status, or `128 + signal` when killed by a signal.
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    #[serde(default)]
    pub oom_killed: bool,
}

impl Exit {
    /// Builds the record from a reaped status: either an exit status or a terminating signal.
    pub fn new(
        pid: u32,
        exit_status: Option<i32>,
        signal: Option<i32>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        oom_killed: bool,
    ) -> Exit {
        let exit_code = match (exit_status, signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 255,
        };
        Exit {
            pid,
            exit_code,
            signal: if exit_status.is_some() { None } else { signal },
            started_at,
            finished_at,
            oom_killed,
        }
    }
}

/// Writes `value` as JSON to `dir/name` atomically.
pub fn write_atomic<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let data = serde_json::to_vec(value).map_err(io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))
}

/// Reads `dir/name`; `Ok(None)` when it does not exist.
pub fn read<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> io::Result<Option<T>> {
    match std::fs::read(dir.join(name)) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses cgroup v1 `memory.oom_control` or cgroup v2 `memory.events`: the `oom_kill` counter.
pub fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some("oom_kill"))
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

/// The container's `oom_kill` count from its memory cgroup (v1 `memory.oom_control` under
/// `/sys/fs/cgroup/memory`, else v2 `memory.events`), `None` if neither can be read.
pub fn read_oom_kill(cgroups_path: &str) -> Option<u64> {
    let rel = cgroups_path.trim_start_matches('/');
    let candidates: [PathBuf; 3] = [
        Path::new("/sys/fs/cgroup/memory")
            .join(rel)
            .join("memory.oom_control"),
        Path::new("/sys/fs/cgroup").join(rel).join("memory.events"),
        Path::new("/sys/fs/cgroup/unified")
            .join(rel)
            .join("memory.events"),
    ];
    candidates.iter().find_map(|p| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| parse_oom_kill(&t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let t = Utc::now();
        let e = Exit::new(5, Some(3), None, t, t, false);
        assert_eq!((e.exit_code, e.signal), (3, None));
        let e = Exit::new(5, None, Some(9), t, t, true);
        assert_eq!((e.exit_code, e.signal, e.oom_killed), (137, Some(9), true));
    }

    #[test]
    fn roundtrip_and_parse() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read::<Exit>(dir.path(), EXIT_FILE).unwrap().is_none());
        let t: DateTime<Utc> = "2024-01-02T03:04:05.123456789Z".parse().unwrap();
        let e = Exit::new(5, None, Some(15), t, t, false);
        write_atomic(dir.path(), EXIT_FILE, &e).unwrap();
        assert_eq!(read::<Exit>(dir.path(), EXIT_FILE).unwrap(), Some(e));
        let text = r#"{"pid":1,"exit_code":0,"started_at":"2024-01-02T03:04:05Z","finished_at":"2024-01-02T03:04:06Z"}"#;
        let e: Exit = serde_json::from_str(text).unwrap();
        assert!(!e.oom_killed && e.signal.is_none());
        std::fs::write(dir.path().join(EXIT_FILE), "{garbage").unwrap();
        assert!(read::<Exit>(dir.path(), EXIT_FILE).is_err());
    }

    #[test]
    fn oom_kill_counter() {
        assert_eq!(
            parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            Some(2)
        );
        assert_eq!(
            parse_oom_kill("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n"),
            Some(1)
        );
        assert_eq!(parse_oom_kill("oom_kill_disable 0\n"), None);
    }
}
