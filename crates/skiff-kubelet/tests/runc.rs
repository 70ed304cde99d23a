//! Integration tests of the runc runtime (root, runc and busybox needed; skipped with a message
//! otherwise). A plain test binary (`harness = false`): run with `shim` as its first argument it
//! is the shim ([`shim_main`]), so the runtime's `shim_command` is `[current_exe, "shim"]`.
//! Other arguments filter the cases by name.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skiff_kubelet::runtime::logs::{parse_record, read_logs, LogOptions, Stream};
use skiff_kubelet::runtime::{
    remove_cgroup, shim_main, ContainerConfig, ContainerState, Mount, Resources, RuncConfig,
    RuncRuntime, Runtime, RuntimeError,
};

const CGROUP_PARENT: &str = "skiff-runtime-test";
const RUNC: &str = "/usr/sbin/runc";

struct Fixture {
    /// Prefix of container ids (unique per test process, or the parent's for the `agent` mode).
    prefix: String,
    dir: PathBuf,
    rootfs: PathBuf,
    rt: RuncRuntime,
}

fn runc_config(dir: &Path) -> RuncConfig {
    let mut cfg = RuncConfig::new(
        &dir.join("run"),
        vec![
            std::env::current_exe().unwrap().into_os_string(),
            OsString::from("shim"),
        ],
    );
    cfg.runc = PathBuf::from(RUNC);
    cfg.start_timeout = Duration::from_secs(30);
    cfg
}

impl Fixture {
    fn new(dir: &Path) -> Fixture {
        let rootfs = dir.join("rootfs");
        if !rootfs.exists() {
            std::fs::create_dir_all(rootfs.join("bin")).unwrap();
            std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
            for tool in [
                "sh", "echo", "sleep", "cat", "head", "tail", "true", "false", "ls",
            ] {
                std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(tool)).unwrap();
            }
        }
        Fixture {
            prefix: format!("t{}", std::process::id()),
            dir: dir.to_path_buf(),
            rootfs,
            rt: RuncRuntime::new(runc_config(dir)).unwrap(),
        }
    }

    fn cfg(&self, name: &str, args: &[&str]) -> ContainerConfig {
        let id = format!("{}-{name}", self.prefix);
        ContainerConfig {
            bundle: self.dir.join("bundles").join(&id),
            rootfs: self.rootfs.clone(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            hostname: name.into(),
            cgroups_path: format!("/{CGROUP_PARENT}/{id}"),
            log_path: self.dir.join("logs").join(format!("{id}.log")),
            id,
            ..Default::default()
        }
    }
}

async fn wait_exited(rt: &RuncRuntime, id: &str, timeout: Duration) -> ContainerState {
    let deadline = Instant::now() + timeout;
    loop {
        let s = rt.state(id).await.unwrap();
        if matches!(s, ContainerState::Exited { .. }) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not exit in {timeout:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn exit_code(s: &ContainerState) -> (i32, Option<i32>, bool) {
    match s {
        ContainerState::Exited {
            exit_code,
            signal,
            oom_killed,
            ..
        } => (*exit_code, *signal, *oom_killed),
        other => panic!("not exited: {other:?}"),
    }
}

/// `remove` and check nothing is left behind.
async fn remove_and_check(f: &Fixture, cfg: &ContainerConfig) {
    f.rt.remove(&cfg.id).await.unwrap();
    f.rt.remove(&cfg.id).await.unwrap(); // idempotent
    assert_no_leftovers(f, cfg).await;
}

async fn assert_no_leftovers(f: &Fixture, cfg: &ContainerConfig) {
    let rel = cgroup_rel(cfg);
    for e in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = e.path().join(&rel);
        assert!(!p.exists(), "cgroup {} left behind", p.display());
    }
    assert!(
        !f.rt.config().root.join(&cfg.id).exists(),
        "runc state left behind"
    );
    assert!(!cfg.bundle.exists(), "bundle left behind");
    assert!(!f.rt.list().await.unwrap().contains(&cfg.id));
    assert!(matches!(
        f.rt.state(&cfg.id).await,
        Err(RuntimeError::NotFound(_))
    ));
}

fn cgroup_rel(cfg: &ContainerConfig) -> String {
    cfg.cgroups_path.trim_start_matches('/').to_string()
}

async fn echo_logs(f: &Fixture) {
    let cfg = f.cfg(
        "echo",
        &[
            "sh",
            "-c",
            "echo out1; echo err1 >&2; echo out2; printf tail",
        ],
    );
    f.rt.start(&cfg).await.unwrap();
    assert!(f.rt.list().await.unwrap().contains(&cfg.id));
    let s = wait_exited(&f.rt, &cfg.id, Duration::from_secs(10)).await;
    assert_eq!(exit_code(&s), (0, None, false));
    let text = std::fs::read_to_string(&cfg.log_path).unwrap();
    let mut out = Vec::new();
    let mut err = Vec::new();
    for line in text.lines() {
        let (_, stream, partial, content) =
            parse_record(line.as_bytes()).unwrap_or_else(|| panic!("bad record {line:?}"));
        assert!(!partial);
        let c = String::from_utf8(content.to_vec()).unwrap();
        match stream {
            Stream::Stdout => out.push(c),
            Stream::Stderr => err.push(c),
        }
    }
    assert_eq!(out, ["out1", "out2", "tail"], "log:\n{text}");
    assert_eq!(err, ["err1"], "log:\n{text}");
    let all = read_logs(
        &cfg.log_path,
        &LogOptions {
            stream: Some(Stream::Stdout),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(all, b"out1\nout2\ntail\n");
    // Stopping an exited container is a no-op returning its state.
    assert_eq!(f.rt.stop(&cfg.id, Duration::from_secs(1)).await.unwrap(), s);
    remove_and_check(f, &cfg).await;
}

async fn process_settings(f: &Fixture) {
    let data = f.dir.join("data-volume");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f"), "from-volume").unwrap();
    let mut cfg = f.cfg(
        "settings",
        &[
            "sh",
            "-c",
            "id -u; id -g; id -G; hostname; pwd; echo $FOO; cat /data/f; echo; \
             touch /data/g 2>/dev/null && echo writable || echo read-only",
        ],
    );
    cfg.env.push("FOO=bar baz".into());
    cfg.uid = 1000;
    cfg.gid = 1001;
    cfg.additional_gids = vec![1002];
    cfg.cwd = "/work".into();
    cfg.hostname = "my-pod".into();
    cfg.mounts = vec![Mount {
        source: data,
        destination: "/data".into(),
        read_only: true,
    }];
    f.rt.start(&cfg).await.unwrap();
    let s = wait_exited(&f.rt, &cfg.id, Duration::from_secs(10)).await;
    let out = String::from_utf8(read_logs(&cfg.log_path, &LogOptions::default()).unwrap()).unwrap();
    assert_eq!(exit_code(&s), (0, None, false), "{out}");
    assert_eq!(
        out,
        "1000\n1001\n1001 1002\nmy-pod\n/work\nbar baz\nfrom-volume\nread-only\n"
    );
    remove_and_check(f, &cfg).await;
}

async fn exit_code_3(f: &Fixture) {
    let cfg = f.cfg("exit3", &["sh", "-c", "exit 3"]);
    f.rt.start(&cfg).await.unwrap();
    let s = wait_exited(&f.rt, &cfg.id, Duration::from_secs(10)).await;
    assert_eq!(exit_code(&s), (3, None, false));
    if let ContainerState::Exited {
        started_at,
        finished_at,
        ..
    } = s
    {
        assert!(started_at <= finished_at);
    }
    remove_and_check(f, &cfg).await;
}

async fn stop_with_sigterm(f: &Fixture) {
    let cfg = f.cfg(
        "term",
        &["sh", "-c", "trap 'exit 7' TERM; sleep 1000 & wait"],
    );
    f.rt.start(&cfg).await.unwrap();
    assert!(matches!(
        f.rt.state(&cfg.id).await.unwrap(),
        ContainerState::Running { .. }
    ));
    tokio::time::sleep(Duration::from_millis(200)).await; // let sh install its trap
    let t = Instant::now();
    let s = f.rt.stop(&cfg.id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(exit_code(&s), (7, None, false));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    remove_and_check(f, &cfg).await;
}

async fn stop_escalates_to_sigkill(f: &Fixture) {
    // PID 1 without a TERM handler ignores SIGTERM.
    let mut cfg = f.cfg("kill", &["sleep", "1000"]);
    cfg.stop_signal = Some("SIGINT".into());
    f.rt.start(&cfg).await.unwrap();
    let t = Instant::now();
    let s = f.rt.stop(&cfg.id, Duration::from_secs(1)).await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(exit_code(&s), (137, Some(9), false));
    remove_and_check(f, &cfg).await;
}

async fn kill_signal(f: &Fixture) {
    let cfg = f.cfg("sigkill", &["sleep", "1000"]);
    f.rt.start(&cfg).await.unwrap();
    f.rt.kill(&cfg.id, 9).await.unwrap();
    let s = wait_exited(&f.rt, &cfg.id, Duration::from_secs(10)).await;
    assert_eq!(exit_code(&s), (137, Some(9), false));
    f.rt.kill(&cfg.id, 9).await.unwrap(); // exited: no-op
    remove_and_check(f, &cfg).await;
}

async fn oom_killed(f: &Fixture) {
    let mut cfg = f.cfg(
        "oom",
        &[
            "sh",
            "-c",
            "echo start; x=0123456789abcdef; while :; do x=$x$x; done",
        ],
    );
    cfg.resources = Resources {
        memory_limit: Some(16 << 20),
        ..Default::default()
    };
    f.rt.start(&cfg).await.unwrap();
    let s = wait_exited(&f.rt, &cfg.id, Duration::from_secs(30)).await;
    assert_eq!(exit_code(&s), (137, Some(9), true));
    remove_and_check(f, &cfg).await;
}

async fn missing_executable(f: &Fixture) {
    let cfg = f.cfg("nosuch", &["nosuch"]);
    match f.rt.start(&cfg).await {
        Err(e @ RuntimeError::StartFailed { .. }) => {
            println!("  start error: {e}");
            let RuntimeError::StartFailed { message, .. } = e else {
                unreachable!()
            };
            assert!(
                message.contains(r#"exec: "nosuch": executable file not found in $PATH"#),
                "{message}"
            )
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
    assert_no_leftovers(f, &cfg).await;
    f.rt.remove(&cfg.id).await.unwrap();
}

async fn survives_agent_restart(f: &Fixture) {
    let cfg = f.cfg("adopt", &["sh", "-c", "echo hello; exec sleep 1000"]);
    f.rt.start(&cfg).await.unwrap();
    let pid = match f.rt.state(&cfg.id).await.unwrap() {
        ContainerState::Running { pid, .. } => pid,
        s => panic!("{s:?}"),
    };
    // A new runtime over the same directories (the agent restarted).
    let rt2 = RuncRuntime::new(runc_config(&f.dir)).unwrap();
    assert!(rt2.list().await.unwrap().contains(&cfg.id));
    match rt2.state(&cfg.id).await.unwrap() {
        ContainerState::Running { pid: p, .. } => assert_eq!(p, pid),
        s => panic!("{s:?}"),
    }
    let s = rt2.stop(&cfg.id, Duration::from_secs(1)).await.unwrap();
    assert_eq!(exit_code(&s).1, Some(9));
    assert_eq!(
        read_logs(&cfg.log_path, &LogOptions::default()).unwrap(),
        b"hello\n"
    );
    rt2.remove(&cfg.id).await.unwrap();
    assert_no_leftovers(f, &cfg).await;
}

fn killed_agent_cfg(f: &Fixture) -> ContainerConfig {
    f.cfg(
        "agentdied",
        &[
            "sh",
            "-c",
            "echo before; sleep 1; echo after; exec sleep 1000",
        ],
    )
}

/// `agent <dir> <prefix>`: a stand-in for the node agent that starts a container, reports, and
/// waits to be killed.
fn agent_main(dir: &str, prefix: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut f = Fixture::new(Path::new(dir));
        f.prefix = prefix.to_string();
        f.rt.start(&killed_agent_cfg(&f)).await.unwrap();
        println!("started");
        std::future::pending::<()>().await;
    });
}

async fn survives_agent_kill(f: &Fixture) {
    use tokio::io::AsyncBufReadExt;
    let mut agent = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("agent")
        .arg(&f.dir)
        .arg(&f.prefix)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(agent.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("started"));
    agent.kill().await.unwrap(); // SIGKILL, as a crash would
    let cfg = killed_agent_cfg(f);
    // The shim keeps running: the container runs and its output is still logged.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(matches!(
        f.rt.state(&cfg.id).await.unwrap(),
        ContainerState::Running { .. }
    ));
    assert_eq!(
        read_logs(&cfg.log_path, &LogOptions::default()).unwrap(),
        b"before\nafter\n"
    );
    let s =
        f.rt.stop(&cfg.id, Duration::from_millis(500))
            .await
            .unwrap();
    assert_eq!(exit_code(&s), (137, Some(9), false));
    remove_and_check(f, &cfg).await;
}

async fn remove_running(f: &Fixture) {
    let mut cfg = f.cfg("rmrun", &["sleep", "1000"]);
    cfg.resources = Resources {
        cpu_shares: Some(256),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        memory_limit: Some(64 << 20),
    };
    f.rt.start(&cfg).await.unwrap();
    let rel = cgroup_rel(&cfg);
    let read = |ctrl: &str, file: &str| {
        let p = Path::new("/sys/fs/cgroup").join(ctrl).join(&rel).join(file);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    assert_eq!(read("cpu", "cpu.shares").trim(), "256");
    assert_eq!(read("cpu", "cpu.cfs_quota_us").trim(), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us").trim(), "100000");
    assert_eq!(
        read("memory", "memory.limit_in_bytes").trim(),
        (64u64 << 20).to_string()
    );
    let t = Instant::now();
    remove_and_check(f, &cfg).await;
    assert!(t.elapsed() < Duration::from_secs(10));
}

async fn duplicate_id(f: &Fixture) {
    let cfg = f.cfg("dup", &["sleep", "1000"]);
    f.rt.start(&cfg).await.unwrap();
    assert!(matches!(
        f.rt.start(&cfg).await,
        Err(RuntimeError::AlreadyExists(_))
    ));
    remove_and_check(f, &cfg).await;
}

type Case =
    for<'a> fn(&'a Fixture) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

macro_rules! case {
    ($f:ident) => {
        (stringify!($f), (|f| Box::pin($f(f))) as Case)
    };
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("shim") {
        std::process::exit(shim_main(args[2..].to_vec()));
    }
    if args.get(1).map(String::as_str) == Some("agent") {
        agent_main(&args[2], &args[3]);
        return;
    }
    // CI runs the tests as root with runc and busybox-static installed (scripts/install-deps.sh): a
    // missing piece fails the tests rather than skipping them.
    skiff_kubelet::image::test_util::require_root("the runc tests");
    skiff_kubelet::image::test_util::require_busybox();
    assert!(
        Path::new(RUNC).exists(),
        "runc not found at {RUNC}: install Debian's runc (scripts/install-deps.sh does)"
    );
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test -- --list`: the cases are not listed individually
    }
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let cases = [
        case!(echo_logs),
        case!(process_settings),
        case!(exit_code_3),
        case!(stop_with_sigterm),
        case!(stop_escalates_to_sigkill),
        case!(kill_signal),
        case!(oom_killed),
        case!(missing_executable),
        case!(survives_agent_restart),
        case!(survives_agent_kill),
        case!(remove_running),
        case!(duplicate_id),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, case) in cases {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let t = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let f = Fixture::new(tmp.path());
                tokio::time::timeout(Duration::from_secs(60), case(&f))
                    .await
                    .unwrap_or_else(|_| panic!("timed out"));
            })
        }));
        match result {
            Ok(()) => println!("test {name} ... ok ({:?})", t.elapsed()),
            Err(_) => {
                println!("test {name} ... FAILED ({:?})", t.elapsed());
                failed.push(name);
            }
        }
    }
    // Best effort: the per-test cgroups' parent.
    let _ = remove_cgroup(&format!("/{CGROUP_PARENT}"));
    println!("\n{ran} ran, {} failed: {failed:?}", failed.len());
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
