//! The per-container shim: `skiff shim --bundle <bundle>` (see [`shim_main`]).
//!
//! Started by [`RuncRuntime::start`](super::RuncRuntime) with stdin `/dev/null`, stdout a pipe to
//! the agent (exactly one JSON line, [`StartReport`], then never written again) and stderr
//! `<bundle>/shim.log`. It
//! 1. leaves the agent's session (`setsid`) and becomes a child subreaper;
//! 2. runs `runc create` with the container's stdout/stderr being pipes it holds, then
//!    `runc start`; on failure it runs `runc delete --force` and reports runc's error;
//! 3. writes `started.json`, reports success, copies stdout/stderr into the CRI log;
//! 4. reaps the container's init process (reparented to it), reads the cgroup's `oom_kill` counter,
//!    writes `exit.json` atomically and exits. The runc container (state "stopped") and its cgroup
//!    stay until `remove`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::logs::{copy_lines, CriLogWriter, Stream};
use super::state::{self, Exit, Started};

/// File name of the shim's configuration in the bundle.
pub const SHIM_CONFIG_FILE: &str = "shim.json";
/// File name of the shim's pid in the bundle.
pub const SHIM_PID_FILE: &str = "shim.pid";
/// File name of runc's JSON log in the bundle.
pub const RUNC_LOG_FILE: &str = "runc.log";
/// File name of the container init's pid in the bundle.
pub const INIT_PID_FILE: &str = "init.pid";

/// What the shim needs besides the bundle's `config.json`; written by the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimConfig {
    pub id: String,
    pub runc: PathBuf,
    pub runc_root: PathBuf,
    pub log_path: PathBuf,
    pub cgroups_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The one line the shim writes to its stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Entry point of the shim process. `args` are the arguments after the subcommand, i.e.
/// `["--bundle", "/path/to/bundle"]` (a leading `"shim"` is tolerated). Returns the exit code.
/// Call it from a synchronous `main` (it starts threads, no async runtime needed), before any
/// tokio runtime is created.
pub fn shim_main(args: Vec<String>) -> i32 {
    let mut bundle = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--bundle" {
            bundle = it.next();
        } else if let Some(b) = a.strip_prefix("--bundle=") {
            bundle = Some(b.to_string());
        }
    }
    let Some(bundle) = bundle.map(PathBuf::from) else {
        report(&StartReport {
            pid: None,
            error: Some("shim: missing --bundle".into()),
        });
        return 2;
    };
    match run(&bundle) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shim: {e}");
            1
        }
    }
}

fn report(r: &StartReport) {
    let mut line = serde_json::to_string(r).unwrap_or_default();
    line.push('\n');
    let mut out = io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn fail(msg: String) -> io::Result<()> {
    eprintln!("shim: start failed: {msg}");
    report(&StartReport {
        pid: None,
        error: Some(msg.clone()),
    });
    Err(io::Error::other(msg))
}

/// The last error message in runc's JSON log (`--log-format json`), if any.
pub fn last_runc_error(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["level"] == "error" || v["level"] == "fatal")
        .and_then(|v| v["msg"].as_str().map(str::to_string))
}

fn runc_error(bundle: &Path, stderr: &[u8], what: &str) -> String {
    let log = std::fs::read_to_string(bundle.join(RUNC_LOG_FILE)).unwrap_or_default();
    last_runc_error(&log)
        .or_else(|| {
            let s = String::from_utf8_lossy(stderr).trim().to_string();
            (!s.is_empty()).then_some(s)
        })
        .unwrap_or_else(|| format!("runc {what} failed"))
}

fn runc_cmd(cfg: &ShimConfig, bundle: &Path) -> Command {
    let mut c = Command::new(&cfg.runc);
    c.arg("--root")
        .arg(&cfg.runc_root)
        .arg("--log")
        .arg(bundle.join(RUNC_LOG_FILE))
        .arg("--log-format")
        .arg("json");
    c
}

fn force_delete(cfg: &ShimConfig, bundle: &Path) {
    let _ = runc_cmd(cfg, bundle)
        .args(["delete", "--force", &cfg.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn run(bundle: &Path) -> io::Result<()> {
    // Leave the agent's session and process group: signals to the agent's group or a closing
    // terminal never reach the shim or the container.
    let _ = rustix::process::setsid();
    let cfg: ShimConfig = match state::read(bundle, SHIM_CONFIG_FILE) {
        Ok(Some(c)) => c,
        Ok(None) => return fail(format!("{}/{SHIM_CONFIG_FILE} missing", bundle.display())),
        Err(e) => return fail(format!("reading {SHIM_CONFIG_FILE}: {e}")),
    };
    std::fs::write(bundle.join(SHIM_PID_FILE), std::process::id().to_string())?;
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        return fail(format!("set_child_subreaper: {e}"));
    }
    let log = match CriLogWriter::open(&cfg.log_path) {
        Ok(l) => Arc::new(Mutex::new(l)),
        Err(e) => return fail(format!("opening log {}: {e}", cfg.log_path.display())),
    };
    let (out_r, out_w) = io::pipe()?;
    let (err_r, err_w) = io::pipe()?;
    let _ = std::fs::remove_file(bundle.join(RUNC_LOG_FILE));
    let pid_file = bundle.join(INIT_PID_FILE);
    let mut create = runc_cmd(&cfg, bundle);
    create
        .arg("create")
        .arg("--bundle")
        .arg(bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&cfg.id)
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w);
    // The agent (and so this shim) runs with transparent huge pages disabled, a flag children
    // inherit across fork and exec; the container should get the host's THP policy, so it is
    // lifted for the moment runc (and through it the container's init) is forked.
    let thp_was_disabled = rustix::thread::transparent_huge_pages_are_disabled().unwrap_or(false);
    if thp_was_disabled {
        let _ = rustix::thread::disable_transparent_huge_pages(false);
    }
    let child = create.spawn();
    if thp_was_disabled {
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
    drop(create); // closes our copies of the pipes' write ends
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("running {}: {e}", cfg.runc.display())),
    };

    // Copy the container's output (and runc create's own messages) into the log.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    for (r, stream) in [(out_r, Stream::Stdout), (err_r, Stream::Stderr)] {
        let log = log.clone();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            if let Err(e) = copy_lines(r, stream, &log) {
                eprintln!("shim: copying {}: {e}", stream.as_str());
            }
            drop(done);
        });
    }
    drop(done_tx);

    let status = child.wait()?;
    if !status.success() {
        let msg = runc_error(bundle, b"", "create");
        force_delete(&cfg, bundle);
        return fail(msg);
    }
    let start = runc_cmd(&cfg, bundle)
        .args(["start", &cfg.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if !start.status.success() {
        let msg = runc_error(bundle, &start.stderr, "start");
        force_delete(&cfg, bundle);
        return fail(msg);
    }
    let started_at = Utc::now();
    let pid: u32 = match std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        Some(p) => p,
        None => {
            force_delete(&cfg, bundle);
            return fail(format!("runc wrote no pid to {}", pid_file.display()));
        }
    };
    state::write_atomic(bundle, state::STARTED_FILE, &Started { pid, started_at })?;
    report(&StartReport {
        pid: Some(pid),
        error: None,
    });

    // Reap everything reparented to us until the init process exits.
    let (exit_status, signal) = loop {
        match rustix::process::wait(rustix::process::WaitOptions::empty()) {
            Ok(Some((p, st))) if p.as_raw_nonzero().get() as u32 == pid => {
                break (st.exit_status(), st.terminating_signal());
            }
            Ok(_) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                // ECHILD: init is not our child (should not happen); poll until it is gone.
                eprintln!("shim: wait: {e}; polling /proc/{pid}");
                while Path::new(&format!("/proc/{pid}")).exists() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                break (None, None);
            }
        }
    };
    let finished_at = Utc::now();
    let oom_killed = state::read_oom_kill(&cfg.cgroups_path).is_some_and(|n| n > 0);
    // Let the copiers drain what the container wrote (bounded: a leaked fd could keep a pipe open).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while done_rx
        .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        .is_ok()
    {}
    let exit = Exit::new(
        pid,
        exit_status,
        signal,
        started_at,
        finished_at,
        oom_killed,
    );
    state::write_atomic(bundle, state::EXIT_FILE, &exit)?;
    eprintln!(
        "shim: container {} exited: code {} signal {:?} oom {}",
        cfg.id, exit.exit_code, exit.signal, exit.oom_killed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_error_from_json_log() {
        let log = r#"{"level":"warning","msg":"x","time":"t"}
{"level":"error","msg":"runc run failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH","time":"t"}
"#;
        assert_eq!(
            last_runc_error(log).unwrap(),
            "runc run failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH"
        );
        assert_eq!(last_runc_error("not json\n"), None);
    }

    #[test]
    fn report_roundtrip() {
        let r: StartReport = serde_json::from_str(r#"{"pid":42}"#).unwrap();
        assert_eq!(
            r,
            StartReport {
                pid: Some(42),
                error: None
            }
        );
    }
}
