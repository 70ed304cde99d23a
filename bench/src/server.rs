//! The `skiff server` under test: started in a fresh data directory on a free loopback port, watched through
//! `/proc` (RSS, CPU time), stopped with SIGTERM (then SIGKILL) when dropped.

use crate::client::{check_loopback, Conn};
use anyhow::{bail, Context};
use http::Method;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to write its kubeconfig and answer `/readyz`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    log: PathBuf,
    /// Deleted on drop unless the user asked to keep it.
    _dir: Option<tempfile::TempDir>,
}

pub struct Options<'a> {
    pub skiff: &'a Path,
    pub data_root: &'a Path,
    pub extra_args: &'a [String],
    pub env: &'a [(String, String)],
    pub keep_data: bool,
}

/// A port that was free a moment ago (the kernel picks it; nothing else on this machine binds ports at random).
fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// `server: http://HOST:PORT` from the admin kubeconfig the server writes once it serves.
fn server_addr(kubeconfig: &str) -> Option<SocketAddr> {
    kubeconfig.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("server:")?.trim();
        let hostport = rest
            .strip_prefix("http://")
            .unwrap_or(rest)
            .trim_end_matches('/');
        hostport.parse().ok()
    })
}

impl Server {
    pub async fn start(opts: &Options<'_>) -> anyhow::Result<Server> {
        std::fs::create_dir_all(opts.data_root)
            .with_context(|| format!("creating {}", opts.data_root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("skiff-bench-")
            .tempdir_in(opts.data_root)
            .context("creating the data dir")?;
        let data_dir = dir.path().to_path_buf();
        let log = data_dir.join("server.log");
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(opts.skiff)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir.join("data"))
            .arg("--listen")
            .arg(&listen)
            // The benchmark measures the API machinery over plain HTTP (loopback only), as before TLS.
            .arg("--plain-http")
            .args(opts.extra_args)
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            // Its own process group, so that stopping it also stops anything it started (or a wrapper's
            // child), and a terminal's Ctrl-C reaches only this benchmark, which then stops it.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with: cargo build --release -p skiff)",
                    opts.skiff.display()
                )
            })?;
        let pid = child.id();
        let guard = if opts.keep_data {
            eprintln!("keeping the server's data dir {}", data_dir.display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let mut server = Server {
            child,
            pid,
            addr: listen.parse()?,
            data_dir: data_dir.clone(),
            log,
            _dir: guard,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let kubeconfig = self.data_dir.join("data").join("admin.kubeconfig");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "skiff server exited during start ({status}); its log:\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "skiff server did not become ready within {START_TIMEOUT:?}; its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(text) = std::fs::read_to_string(&kubeconfig) {
                if let Some(addr) = server_addr(&text) {
                    check_loopback(addr)?;
                    self.addr = addr;
                    if let Ok(mut c) = Conn::connect(addr).await {
                        if let Ok((s, _)) = c.request(Method::GET, "/readyz", None).await {
                            if s.is_success() {
                                return Ok(());
                            }
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Resident memory now and at its peak, from `/proc/PID/status`.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        proc_memory(self.pid)
    }

    /// User + system CPU time the server has used so far.
    pub fn cpu(&self) -> anyhow::Result<Duration> {
        proc_cpu(&format!("/proc/{}/stat", self.pid))
    }

    /// Size of the database directory (database, WAL and shared-memory files).
    pub fn db_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(rd) = std::fs::read_dir(p) else {
                return 0;
            };
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.data_dir.join("data").join("db"))
    }

    /// SIGTERM to the server's process group, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        let Some(pgid) = rustix::process::Pid::from_raw(self.pid as i32) else {
            return;
        };
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Whatever is left in the group (the server after 10 s, or a straggler it started) goes now.
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

pub fn proc_memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status")?;
    let kib = |key: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(key))
            .with_context(|| format!("no {key} in /proc/{pid}/status"))?;
        let n = line[key.len()..].trim().trim_end_matches("kB").trim();
        Ok(n.parse::<u64>()? * 1024)
    };
    Ok(Memory {
        rss_bytes: kib("VmRSS:")?,
        peak_rss_bytes: kib("VmHWM:")?,
    })
}

/// utime + stime from a `/proc/.../stat` file.
pub fn proc_cpu(stat_path: &str) -> anyhow::Result<Duration> {
    let stat =
        std::fs::read_to_string(stat_path).with_context(|| format!("reading {stat_path}"))?;
    // The command name (field 2) may hold spaces; fields after the closing parenthesis are plain.
    let after = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_secs_f64((utime + stime) as f64 / hz as f64))
}

/// CPU time the whole machine spent busy (all cores, all processes, kernel included), from `/proc/stat`.
pub fn machine_busy() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    let busy: u64 = f
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| *v)
        .sum();
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_secs_f64(busy as f64 / hz as f64))
}

/// CPU used during a measured stretch: by the server, by this benchmark, and by everything else.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    server: Duration,
    client: Duration,
    machine: Duration,
    pub at: Instant,
}

/// Cores used on average since a [`CpuMark`]: (server, this benchmark, rest of the machine).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CpuUse {
    pub server_cores: f64,
    pub client_cores: f64,
    pub other_cores: f64,
}

impl Server {
    pub fn cpu_mark(&self) -> anyhow::Result<CpuMark> {
        Ok(CpuMark {
            server: self.cpu()?,
            client: self_cpu()?,
            machine: machine_busy()?,
            at: Instant::now(),
        })
    }

    pub fn cpu_since(&self, mark: &CpuMark) -> anyhow::Result<CpuUse> {
        let wall = mark.at.elapsed().as_secs_f64().max(1e-6);
        let server = (self.cpu()? - mark.server).as_secs_f64();
        let client = (self_cpu()? - mark.client).as_secs_f64();
        let machine = (machine_busy()?.saturating_sub(mark.machine)).as_secs_f64();
        Ok(CpuUse {
            server_cores: server / wall,
            client_cores: client / wall,
            other_cores: ((machine - server - client) / wall).max(0.0),
        })
    }
}

/// CPU time of this benchmark process.
pub fn self_cpu() -> anyhow::Result<Duration> {
    proc_cpu("/proc/self/stat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_server_address_from_the_kubeconfig() {
        let k = "apiVersion: v1\nclusters:\n- name: skiff\n  cluster:\n    server: http://127.0.0.1:41234\n";
        assert_eq!(server_addr(k), Some("127.0.0.1:41234".parse().unwrap()));
    }

    #[test]
    fn reads_own_cpu_and_memory() {
        assert!(self_cpu().is_ok());
        assert!(proc_memory(std::process::id()).unwrap().rss_bytes > 0);
    }
}
