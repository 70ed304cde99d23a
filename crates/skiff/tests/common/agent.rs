//! Test harness for the node agent: starts a real `skiff agent` (root) beside a test's
//! `skiff server`, with its own data dir, CNI bridge and pod CIDR so tests run side by side, and
//! cleans up on drop whatever a failed test left running (containers, mounts, netns, bridge).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::Server;

pub fn skiff_bin() -> &'static str {
    env!("CARGO_BIN_EXE_skiff")
}

/// Fails unless the agent tests can run here (root, runc); CI runs them as root.
pub fn require_root() {
    skiff_kubelet::image::test_util::require_root("the node agent tests");
    assert!(
        Path::new("/usr/sbin/runc").exists() || Path::new("/usr/bin/runc").exists(),
        "runc is not installed (scripts/install-deps.sh installs it)"
    );
}

pub struct Agent {
    pub dir: tempfile::TempDir,
    pub node: String,
    pub bridge: String,
    pub cidr: String,
    /// The admin kubeconfig (for cleanup); the agent itself joins with the server's token.
    kubeconfig: PathBuf,
    server_url: String,
    token_file: PathBuf,
    child: Option<Child>,
}

impl Agent {
    /// Starts `skiff agent` for node `node` against `server`; `bridge` (≤ 15 chars) and `cidr` must
    /// be unique to the test.
    pub fn start(server: &Server, node: &str, bridge: &str, cidr: &str) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut a = Agent {
            dir,
            node: node.into(),
            bridge: bridge.into(),
            cidr: cidr.into(),
            kubeconfig: server.kubeconfig.clone(),
            server_url: server.url.clone(),
            token_file: server.dir.path().join("token"),
            child: None,
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("agent.log"))
            .expect("log file");
        // Joins as a node would (token, pinned CA, node credentials): the agent runs as
        // system:node:<name> under the Node authorizer.
        let child = Command::new(skiff_bin())
            .args([
                "agent",
                "-v",
                "1",
                "--server",
                &self.server_url,
                "--token-file",
            ])
            .arg(&self.token_file)
            .args(["--node-name", &self.node, "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--node-ip", "127.0.0.1", "--kubelet-port", "0"])
            .args(["--bridge", &self.bridge, "--pod-cidr", &self.cidr])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn skiff agent");
        self.child = Some(child);
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    /// Kills the agent (SIGKILL: no chance to clean anything) and starts it again on the same
    /// data dir.
    pub fn crash_and_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }
}

/// Lines of /proc/mounts whose mount point contains `needle`.
pub fn mounts_containing(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|m| m.contains(needle))
        })
        .map(str::to_string)
        .collect()
}

/// Processes whose command line contains `needle`.
pub fn processes_containing(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && !cmd.contains("processes_containing") {
                out.push(format!("{}: {cmd}", name.to_string_lossy()));
            }
        }
    }
    out
}

/// cgroup directories (any hierarchy) of a pod.
pub fn pod_cgroups(uid: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path().join("skiff").join(format!("pod{uid}"));
        if p.exists() {
            out.push(p);
        }
    }
    out
}

impl Drop for Agent {
    fn drop(&mut self) {
        // First let the agent itself clean up: pods removed from the API are torn down at once
        // (containers, CNI DEL with its iptables rules, netns, mounts). Bounded: a broken agent
        // gets the brute-force cleanup below.
        if self.child.is_some() {
            let _ = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args([
                    "delete",
                    "pods",
                    "--all",
                    "-A",
                    "--force",
                    "--grace-period=0",
                    "--wait=false",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            while std::time::Instant::now() < deadline
                && std::fs::read_dir(self.data().join("pods")).is_ok_and(|mut d| d.next().is_some())
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever the test left: containers (their shims' command lines name bundles in our
        // data dir), mounts, network namespaces, the bridge.
        let data = self.data();
        let root = data.join("run/runc");
        if let Ok(out) = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["list", "-q"])
            .output()
        {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "-f", id])
                    .status();
            }
        }
        let data_s = data.to_string_lossy().into_owned();
        for p in processes_containing(&data_s) {
            if let Some(pid) = p.split(':').next() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let mut mounts: Vec<String> = mounts_containing(&data_s)
            .iter()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        mounts.reverse();
        for m in mounts {
            let _ = Command::new("umount").args(["-l", &m]).status();
        }
        for e in std::fs::read_dir(data.join("pods"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let uid = e.file_name().to_string_lossy().into_owned();
            let ns = Path::new("/run/skiff/netns").join(&uid);
            let _ = Command::new("umount").arg(&ns).status();
            let _ = std::fs::remove_file(&ns);
            for cg in pod_cgroups(&uid) {
                for sub in std::fs::read_dir(&cg).into_iter().flatten().flatten() {
                    if sub.path().is_dir() {
                        let _ = std::fs::remove_dir(sub.path());
                    }
                }
                let _ = std::fs::remove_dir(&cg);
            }
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        // The node-wide masquerade rule the agent added for its pod CIDR.
        skiff_kubelet::network::remove_masquerade(&self.cidr);
    }
}
