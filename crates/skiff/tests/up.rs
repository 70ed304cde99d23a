//! `skiff up` end to end, as root, with nothing from the internet: an image built from Debian's
//! busybox with `skiff image build`, a single-node cluster in one process, the real kubectl over
//! the kubeconfig `skiff up` writes, `skiff trace`, and a restart that adopts the running pod.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::agent::{require_root, skiff_bin};
use common::eventually;

struct Up {
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Up {
    fn start(data: &Path, port: u16) -> Up {
        let log = data.join(format!("up-{}.log", Instant::now().elapsed().as_nanos()));
        let child = Command::new(skiff_bin())
            .args(["up", "--data-dir"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--node-name",
                "up-node",
                "--node-ip",
                "127.0.0.1",
                "--kubelet-port",
                "0",
            ])
            .args(["--bridge", "sku0", "--pod-cidr", "10.88.9.0/24"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn skiff up");
        let up = Up {
            child: Some(child),
            log,
        };
        eventually(Duration::from_secs(60), || {
            let text = std::fs::read_to_string(&up.log).unwrap_or_default();
            text.contains("cluster ready").then_some(())
        });
        up
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kubectl(data: &Path, cache: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(data.join("admin.kubeconfig"))
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(data: &Path, cache: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(data, cache, args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skiff_up_runs_an_imported_image_and_adopts_it_after_a_restart() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cache = dir.path().join("kubectl-cache");

    // The image: busybox and its applet links, packed by `skiff image build`.
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "sleep", "hostname", "cat"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let built = Command::new(skiff_bin())
        .args(["image", "build", "--data-dir"])
        .arg(&data)
        .arg("--rootfs")
        .arg(&rootfs)
        .args(["--tag", "skiff.local/demo:1", "--cmd", "sh", "-c"])
        .arg("echo hello from $(hostname); while true; do sleep 1; done")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let listed = Command::new(skiff_bin())
        .args(["image", "ls", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("skiff.local/demo"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut up = Up::start(&data, port);
    let kubeconfig = std::fs::read_to_string(data.join("admin.kubeconfig")).unwrap();
    assert!(
        kubeconfig.contains(&format!("127.0.0.1:{port}")),
        "{kubeconfig}"
    );

    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\nspec:\n  containers:\n  - name: demo\n    image: skiff.local/demo:1\n    imagePullPolicy: Never\n";
    ok(&data, &cache, &["apply", "-f", "-"], Some(pod));
    ok(
        &data,
        &cache,
        &["wait", "--for=condition=Ready", "pod/demo", "--timeout=60s"],
        None,
    );
    let logs = eventually(Duration::from_secs(10), || {
        let l = ok(&data, &cache, &["logs", "demo"], None);
        l.contains("hello").then_some(l)
    });
    assert_eq!(logs.trim(), "hello from demo");
    let wide = ok(&data, &cache, &["get", "pods", "-o", "wide"], None);
    assert!(
        wide.contains("Running") && wide.contains("up-node") && wide.contains("10.88.9."),
        "{wide}"
    );

    let trace = Command::new(skiff_bin())
        .args(["trace", "pod", "demo", "--kubeconfig"])
        .arg(data.join("admin.kubeconfig"))
        .output()
        .unwrap();
    let trace_text = String::from_utf8_lossy(&trace.stdout).into_owned();
    assert!(
        trace.status.success(),
        "{}",
        String::from_utf8_lossy(&trace.stderr)
    );
    for want in [
        "received and stored by the API server",
        "to node up-node",
        "already present on machine",
        "IP 10.88.9.",
        "1 of 1 node(s) feasible",
        "container demo created",
        "container demo started",
        "phase Running",
    ] {
        assert!(
            trace_text.contains(want),
            "no {want:?} in the trace:\n{trace_text}"
        );
    }

    // Restart: the same container keeps running and is adopted.
    let id = ok(
        &data,
        &cache,
        &[
            "get",
            "pod",
            "demo",
            "-o",
            "jsonpath={.status.containerStatuses[0].containerID}",
        ],
        None,
    );
    up.stop();
    let mut up = Up::start(&data, port);
    std::thread::sleep(Duration::from_secs(2));
    let after = ok(&data, &cache, &["get", "pod", "demo", "-o", "jsonpath={.status.phase} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}"], None);
    assert_eq!(after, format!("Running {id} 0"));

    ok(
        &data,
        &cache,
        &["delete", "pod", "demo", "--grace-period=1", "--timeout=60s"],
        None,
    );
    up.stop();
    let _ = Command::new("ip")
        .args(["link", "del", "sku0"])
        .stderr(Stdio::null())
        .status();
    skiff_kubelet::network::remove_masquerade("10.88.9.0/24");
}
