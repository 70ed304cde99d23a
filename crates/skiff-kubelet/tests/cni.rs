//! Pod networking against the real CNI plugins (bridge, host-local, loopback, portmap): two
//! sandboxes on a test bridge, traffic from the host into each namespace, teardown (twice, and
//! from a new `PodNetwork` as after an agent restart). Needs root and the plugins in
//! `/usr/lib/cni` (or `/opt/cni/bin`); skips with a message otherwise. Never sends anything off
//! the machine: every pod IP is checked to route through the test bridge first.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use skiff_kubelet::network::{netns, NetworkConfig, PodKey, PodNetwork, PortMapping};

const CIDR: &str = "10.244.77.0/24";

fn plugin_dir() -> Option<PathBuf> {
    ["/usr/lib/cni", "/opt/cni/bin", "/usr/libexec/cni"]
        .into_iter()
        .map(PathBuf::from)
        .find(|d| {
            ["bridge", "host-local", "loopback", "portmap"]
                .iter()
                .all(|p| d.join(p).is_file())
        })
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes what the test created even when it fails half-way.
struct Cleanup {
    bridge: String,
    netns_dir: PathBuf,
    /// Whether portmap's shared `CNI-HOSTPORT-*` nat chains existed before the test.
    had_hostport_chains: bool,
}

fn hostport_chains_exist() -> bool {
    sh("iptables-save", &["-t", "nat"]).contains("CNI-HOSTPORT-")
}

/// Removes portmap's shared nat chains and the jumps to them (the plugin leaves them behind).
fn remove_hostport_chains() {
    let rules = sh("iptables-save", &["-t", "nat"]);
    for line in rules.lines() {
        if let Some(rest) = line.strip_prefix("-A ") {
            let builtin = ["PREROUTING ", "OUTPUT ", "POSTROUTING ", "INPUT "]
                .iter()
                .any(|c| rest.starts_with(c));
            if builtin && rest.contains("-j CNI-HOSTPORT-") {
                let _ = Command::new("sh")
                    .args(["-c", &format!("iptables -t nat -D {rest}")])
                    .output();
            }
        }
    }
    for line in rules.lines() {
        if let Some(chain) = line.strip_prefix(':').and_then(|l| l.split(' ').next()) {
            if chain.starts_with("CNI-HOSTPORT-") {
                let _ = Command::new("iptables")
                    .args(["-t", "nat", "-F", chain])
                    .output();
            }
        }
    }
    for line in rules.lines() {
        if let Some(chain) = line.strip_prefix(':').and_then(|l| l.split(' ').next()) {
            if chain.starts_with("CNI-HOSTPORT-") {
                let _ = Command::new("iptables")
                    .args(["-t", "nat", "-X", chain])
                    .output();
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(names) = netns::list(&self.netns_dir) {
            for n in names {
                let _ = netns::delete(&self.netns_dir, &n);
            }
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        if !self.had_hostport_chains {
            remove_hostport_chains();
        }
        // The netns dir was bind-mounted onto itself; lazily unmount so the tempdir can go.
        let _ = Command::new("umount")
            .args(["-l"])
            .arg(&self.netns_dir)
            .output();
    }
}

fn pod(n: u32) -> PodKey {
    PodKey {
        namespace: "default".into(),
        name: format!("net-test-{n}"),
        uid: format!("7e57c0de-0000-4000-8000-{:06}{:06}", std::process::id(), n),
    }
}

/// A TCP listener bound inside the namespace (a socket stays in the namespace it was made in).
fn listen_in(netns_path: &Path) -> TcpListener {
    netns::run_in(netns_path, || TcpListener::bind("0.0.0.0:8080"))
        .expect("enter netns")
        .expect("bind in netns")
}

fn talk(ip: IpAddr, listener: &TcpListener) {
    let addr = SocketAddr::new(ip, 8080);
    let mut client =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to pod");
    let (mut server, peer) = listener.accept().expect("accept");
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // The host reaches the pod from the bridge (gateway) address.
    assert_eq!(peer.ip().to_string(), "10.244.77.1");
}

fn ping(ip: IpAddr) -> bool {
    Command::new("busybox")
        .args(["ping", "-c", "1", "-W", "3", &ip.to_string()])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn two_sandboxes_on_a_bridge() {
    skiff_kubelet::image::test_util::require_root("the CNI test");
    let bins = plugin_dir().expect(
        "CNI plugins (bridge, host-local, loopback, portmap) not found: install Debian's \
         containernetworking-plugins (scripts/install-deps.sh does)",
    );
    // Refuse to run if something else on this host already uses the test range: traffic must
    // only ever reach this test's own namespaces.
    let existing = sh(
        "ip",
        &["-o", "-4", "route", "show", "to", "match", "10.244.77.2"],
    );
    assert!(
        !existing.lines().any(|l| l.contains("10.244.77.")),
        "{CIDR} is already routed on this host ({existing}): refusing to send test traffic there"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bridge = format!("skt{}", std::process::id() % 1_000_000);
    let netns_dir = tmp.path().join("netns");
    let _cleanup = Cleanup {
        bridge: bridge.clone(),
        netns_dir: netns_dir.clone(),
        had_hostport_chains: hostport_chains_exist(),
    };
    let mut cfg = NetworkConfig::new(tmp.path().join("data"), CIDR);
    cfg.cni_bin_dirs = vec![bins];
    cfg.netns_dir = netns_dir.clone();
    cfg.bridge_name = bridge.clone();
    cfg.network_name = "skiff-test".into();
    cfg.plugin_timeout = Duration::from_secs(30);
    let net = PodNetwork::new(cfg.clone()).unwrap();
    assert_eq!(net.bridge_name().as_deref(), Some(bridge.as_str()));
    assert!(cfg.cni_conf_dir.join("10-skiff-test.conflist").is_file());

    let (p1, p2) = (pod(1), pod(2));
    let s1 = net.setup(&p1).await.unwrap();
    let s2 = net.setup(&p2).await.unwrap();
    eprintln!("sandboxes: {s1:?} {s2:?}");
    for s in [&s1, &s2] {
        assert!(netns::is_netns(&s.netns_path));
        assert_eq!(s.ips.len(), 1);
        let ip = s.ips[0];
        let IpAddr::V4(v4) = ip else { panic!("{ip}") };
        assert_eq!(&v4.octets()[..3], &[10, 244, 77]);
        assert_eq!(s.gateway, Some("10.244.77.1".parse().unwrap()));
        // Never send anything unless it stays on the bridge.
        assert!(net.route_via_bridge(ip), "{ip} not routed via {bridge}");
    }
    assert_ne!(s1.ips, s2.ips);
    // Setup is idempotent.
    assert_eq!(net.setup(&p1).await.unwrap(), s1);
    let recorded = net.list_sandboxes().unwrap();
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(|r| r.is_ready()));
    assert_eq!(net.list_netns().unwrap().len(), 2);

    // Traffic from the host into both namespaces.
    for s in [&s1, &s2] {
        assert!(ping(s.ips[0]), "ping {}", s.ips[0]);
        let l = listen_in(&s.netns_path);
        talk(s.ips[0], &l);
    }
    // Loopback is up inside the namespace.
    let lo_ok = netns::run_in(&s1.netns_path, || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        TcpStream::connect_timeout(&l.local_addr().unwrap(), Duration::from_secs(2)).is_ok()
    })
    .unwrap();
    assert!(lo_ok, "lo is not up in the pod namespace");

    // A hostPort (portmap): 127.0.0.1:<hostPort> on the host reaches the pod's port 8080.
    let p3 = pod(3);
    let host_port = 18000 + (std::process::id() % 1000) as u16;
    let s3 = net
        .setup_with_ports(
            &p3,
            &[PortMapping {
                host_port,
                container_port: 8080,
                protocol: "tcp".into(),
                host_ip: String::new(),
            }],
        )
        .await
        .unwrap();
    assert!(net.route_via_bridge(s3.ips[0]));
    {
        let l = listen_in(&s3.netns_path);
        let addr: SocketAddr = ([127, 0, 0, 1], host_port).into();
        let mut client =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect hostPort");
        let (mut server, _) = l.accept().expect("accept via hostPort");
        client.write_all(b"port").unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"port");
    }
    assert!(sh("iptables-save", &["-t", "nat"]).contains(&format!("--dport {host_port}")));
    net.teardown(&p3.uid).await.unwrap();
    assert!(!sh("iptables-save", &["-t", "nat"]).contains(&format!("--dport {host_port}")));

    // The namespace vanished before teardown (e.g. removed by someone else): DEL still
    // releases the address (and would remove per-pod ipMasq rules of a configuration that asks
    // for them; the default one masquerades with one node-wide rule instead, so pods add none).
    let p4 = pod(4);
    let s4 = net.setup(&p4).await.unwrap();
    assert!(
        !sh("iptables-save", &["-t", "nat"]).contains(&p4.uid),
        "no per-pod nat rules"
    );
    netns::delete_path(&s4.netns_path).unwrap();
    net.teardown(&p4.uid).await.unwrap();
    assert!(!sh("iptables-save", &["-t", "nat"]).contains(&p4.uid));
    assert!(!tmp
        .path()
        .join("data/cni/networks/skiff-test")
        .join(s4.ips[0].to_string())
        .exists());

    let ipam_dir = tmp.path().join("data/cni/networks/skiff-test");
    let ip1 = s1.ips[0].to_string();
    assert!(ipam_dir.join(&ip1).exists(), "host-local allocation file");
    let nat_before = sh("iptables-save", &["-t", "nat"]);
    assert!(!nat_before.contains(&p1.uid), "no per-pod nat rules");
    // One node-wide masquerade rule for the CIDR, however often it is ensured.
    skiff_kubelet::network::ensure_masquerade(CIDR).unwrap();
    skiff_kubelet::network::ensure_masquerade(CIDR).unwrap();
    let masq = sh("iptables-save", &["-t", "nat"]);
    let rule = format!("-A POSTROUTING -s {CIDR} ! -d {CIDR}");
    assert_eq!(masq.matches(&rule).count(), 1, "{masq}");
    skiff_kubelet::network::remove_masquerade(CIDR);
    assert!(!sh("iptables-save", &["-t", "nat"]).contains(&rule));

    // Teardown, twice.
    net.teardown(&p1.uid).await.unwrap();
    net.teardown(&p1.uid).await.unwrap();
    assert!(!s1.netns_path.exists());
    assert!(!ipam_dir.join(&ip1).exists(), "allocation released");
    assert!(!sh("iptables-save", &["-t", "nat"]).contains(&p1.uid));
    assert_eq!(net.list_sandboxes().unwrap().len(), 1);
    // One veth left on the bridge (pod 2's).
    let ports = sh("ip", &["-o", "link", "show", "master", &bridge]);
    assert_eq!(ports.lines().count(), 1, "{ports}");

    // "Restart": a new instance tears down pod 2 from the recorded state.
    drop(net);
    let net = PodNetwork::new(cfg).unwrap();
    assert_eq!(net.list_sandboxes().unwrap()[0].pod, p2);
    net.teardown(&p2.uid).await.unwrap();
    net.teardown(&p2.uid).await.unwrap();
    assert!(!s2.netns_path.exists());
    assert!(!ipam_dir.join(s2.ips[0].to_string()).exists());
    assert!(net.list_sandboxes().unwrap().is_empty());
    assert!(net.list_netns().unwrap().is_empty());
    let ports = sh("ip", &["-o", "link", "show", "master", &bridge]);
    assert!(ports.trim().is_empty(), "veths left: {ports}");
    assert!(!sh("iptables-save", &["-t", "nat"]).contains(&p2.uid));
    // A pod this node never saw.
    net.teardown("never-set-up").await.unwrap();
}
