//! Pod networking: one network namespace per pod sandbox, attached through CNI.
//!
//! [`PodNetwork`] is what the pod manager uses: [`PodNetwork::setup`] creates the pod's named
//! network namespace (`<netns_dir>/<pod uid>`), brings `lo` up (the `loopback` plugin) and runs
//! CNI ADD of the node's network (`eth0`), returning the namespace path (for the runtime's
//! `linux.namespaces` network entry) and the pod IPs; [`PodNetwork::teardown`] runs CNI DEL and
//! deletes the namespace. Every sandbox is recorded under `<data_dir>/network/sandboxes/` and
//! every CNI ADD in the CNI cache (`<data_dir>/cni/cache`), so teardown works after an agent
//! restart and [`PodNetwork::list_sandboxes`] lists what a crashed agent left behind.
//!
//! The node's network is the first `.conflist` in `cni_conf_dir`; if there is none, a default
//! is written (bridge `bridge_name` with host-local IPAM over `pod_cidr` and ipMasq, then
//! portmap; see [`cni::default_conflist`]).
//!
//! [`files`] renders the pod's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`.
//!
//! Calls for one pod must not overlap (the per-pod worker serializes them); different pods
//! may be set up concurrently (the plugins lock their own state). Needs root (mounts,
//! namespaces, iptables for ipMasq/portmap).
//!
//! The bridge plugin finds a pod's ipMasq rules through the addresses inside its namespace, so
//! tear the network down before anything deletes the namespace; if it is gone anyway,
//! [`PodNetwork::teardown`] removes the rules itself.

pub mod cni;
pub mod files;
pub mod netns;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::PodSpec;
use serde::{Deserialize, Serialize};

pub use cni::{CniClient, CniError, CniResult, NetworkConfigList, PortMapping, RuntimeConf};

/// The interface name of the pod's network attachment.
pub const POD_IFNAME: &str = "eth0";

/// How the node's pod network is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Where CNI plugin executables are looked up, in order (also `CNI_PATH`).
    pub cni_bin_dirs: Vec<PathBuf>,
    /// Where the network configuration list is (or the default one is written).
    pub cni_conf_dir: PathBuf,
    /// Agent state: `cni/networks` (host-local IPAM), `cni/cache`, `network/sandboxes`.
    pub data_dir: PathBuf,
    /// The node's pod CIDR (`node.spec.podCIDR`), used only when writing the default config.
    pub pod_cidr: String,
    /// Where the named network namespaces are mounted (made a shared mount point).
    pub netns_dir: PathBuf,
    /// The bridge of the default config (tests use a unique one).
    pub bridge_name: String,
    /// The network name of the default config.
    pub network_name: String,
    /// Limit on one CNI plugin run.
    pub plugin_timeout: Duration,
}

impl NetworkConfig {
    /// Defaults: plugins from `/opt/cni/bin`, `/usr/lib/cni`, `/usr/libexec/cni`; config in
    /// `<data_dir>/cni/net.d`; namespaces in `/run/skiff/netns`; bridge `skiff0`; network
    /// `skiff`; 60s per plugin run.
    pub fn new(data_dir: impl Into<PathBuf>, pod_cidr: impl Into<String>) -> Self {
        let data_dir = data_dir.into();
        Self {
            cni_bin_dirs: vec![
                "/opt/cni/bin".into(),
                "/usr/lib/cni".into(),
                "/usr/libexec/cni".into(),
            ],
            cni_conf_dir: data_dir.join("cni/net.d"),
            data_dir,
            pod_cidr: pod_cidr.into(),
            netns_dir: "/run/skiff/netns".into(),
            bridge_name: "skiff0".into(),
            network_name: "skiff".into(),
            plugin_timeout: Duration::from_secs(60),
        }
    }
}

/// Identifies a pod.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
    /// `metadata.uid`; also the sandbox's CNI container ID and netns name.
    pub uid: String,
}

/// The network of a set-up pod sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSandboxNetwork {
    /// The pod's network namespace (give it to the runtime as the network namespace path).
    pub netns_path: PathBuf,
    /// The pod IPs on `eth0` (for `status.podIP(s)`, first is the primary).
    pub ips: Vec<IpAddr>,
    /// The default gateway the IPAM handed out, if any.
    pub gateway: Option<IpAddr>,
}

/// A sandbox recorded on disk (also while its setup is in progress or after it failed half-way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub pod: PodKey,
    pub netns_path: PathBuf,
    /// Empty until CNI ADD succeeded.
    pub ips: Vec<IpAddr>,
    pub gateway: Option<IpAddr>,
    /// The CNI network name used.
    pub network: String,
}

impl SandboxRecord {
    /// Whether setup completed (CNI ADD returned addresses).
    pub fn is_ready(&self) -> bool {
        !self.ips.is_empty()
    }
}

/// Why a pod network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid pod uid {0:?} (want [A-Za-z0-9][A-Za-z0-9_.-]*)")]
    InvalidUid(String),
    #[error("network namespace {path}: {source}")]
    Netns {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Cni(#[from] CniError),
    #[error("CNI ADD returned no pod IP: {0}")]
    NoIp(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("blocking task failed: {0}")]
    Join(String),
}

fn check_uid(uid: &str) -> Result<(), NetworkError> {
    let b = uid.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(NetworkError::InvalidUid(uid.to_string()))
    }
}

fn masquerade_rule(pod_cidr: &str) -> [&str; 12] {
    [
        "POSTROUTING",
        "-s",
        pod_cidr,
        "!",
        "-d",
        pod_cidr,
        "-m",
        "comment",
        "--comment",
        "skiff: masquerade pod traffic leaving the node",
        "-j",
        "MASQUERADE",
    ]
}

fn masquerade_op(op: &str, pod_cidr: &str) -> Result<bool, NetworkError> {
    std::process::Command::new("iptables")
        .args(["-w", "-t", "nat", op])
        .args(masquerade_rule(pod_cidr))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .map_err(|source| NetworkError::Io {
            context: "running iptables".into(),
            source,
        })
}

/// Makes sure traffic from the pod CIDR to anywhere else is masqueraded (one rule in the `nat`
/// table's POSTROUTING chain, added once per node; k3s's flannel does the same for its cluster
/// CIDR). Idempotent.
pub fn ensure_masquerade(pod_cidr: &str) -> Result<(), NetworkError> {
    if masquerade_op("-C", pod_cidr)? || masquerade_op("-A", pod_cidr)? {
        return Ok(());
    }
    Err(NetworkError::Io {
        context: format!("adding the masquerade rule for {pod_cidr}"),
        source: std::io::Error::other("iptables failed"),
    })
}

/// Removes the rule [`ensure_masquerade`] added (a node leaving; tests and benchmarks cleaning
/// up). Idempotent.
pub fn remove_masquerade(pod_cidr: &str) {
    while matches!(masquerade_op("-D", pod_cidr), Ok(true)) {}
}

/// The node's pod network.
#[derive(Debug)]
pub struct PodNetwork {
    config: NetworkConfig,
    list: NetworkConfigList,
    cni: CniClient,
}

impl PodNetwork {
    /// Loads (or writes the default) network configuration and prepares the state directories.
    /// Cheap and restart-safe: a new instance picks up the records of an earlier one.
    pub fn new(config: NetworkConfig) -> Result<Self, NetworkError> {
        let list = cni::load_or_write_default(
            &config.cni_conf_dir,
            &config.network_name,
            &config.bridge_name,
            &config.pod_cidr,
            &config.data_dir.join("cni/networks"),
        )?;
        let mut cni = CniClient::new(
            config.cni_bin_dirs.clone(),
            config.data_dir.join("cni/cache"),
        );
        cni.timeout = config.plugin_timeout;
        let this = Self { config, list, cni };
        let dir = this.records_dir();
        std::fs::create_dir_all(&dir).map_err(|source| NetworkError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
        tracing::info!(
            network = this.list.name,
            source = ?this.list.source,
            "pod network configured"
        );
        Ok(this)
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The CNI network in use.
    pub fn network_list(&self) -> &NetworkConfigList {
        &self.list
    }

    /// The bridge device of the network (if its first plugin chain has a bridge).
    pub fn bridge_name(&self) -> Option<String> {
        self.list.bridge_name()
    }

    /// The CNI client (for CHECK, or plugin version queries).
    pub fn cni(&self) -> &CniClient {
        &self.cni
    }

    fn records_dir(&self) -> PathBuf {
        self.config.data_dir.join("network/sandboxes")
    }

    fn record_path(&self, uid: &str) -> PathBuf {
        self.records_dir().join(format!("{uid}.json"))
    }

    /// Where the pod's network namespace is (or would be).
    pub fn netns_path(&self, uid: &str) -> PathBuf {
        self.config.netns_dir.join(uid)
    }

    fn write_record(&self, rec: &SandboxRecord) -> Result<(), NetworkError> {
        cni::write_atomic(
            &self.record_path(&rec.pod.uid),
            &serde_json::to_vec_pretty(rec).expect("json"),
        )
        .map_err(NetworkError::Cni)
    }

    fn read_record(&self, uid: &str) -> Option<SandboxRecord> {
        let bytes = std::fs::read(self.record_path(uid)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn runtime_conf(&self, pod: &PodKey, netns: &Path, ifname: &str) -> RuntimeConf {
        RuntimeConf {
            container_id: pod.uid.clone(),
            netns: netns.to_path_buf(),
            ifname: ifname.to_string(),
            args: vec![
                ("K8S_POD_NAMESPACE".into(), pod.namespace.clone()),
                ("K8S_POD_NAME".into(), pod.name.clone()),
                ("K8S_POD_INFRA_CONTAINER_ID".into(), pod.uid.clone()),
                ("K8S_POD_UID".into(), pod.uid.clone()),
            ],
            capability_args: Default::default(),
        }
    }

    /// [`setup_with_ports`](Self::setup_with_ports) without host ports.
    pub async fn setup(&self, pod: &PodKey) -> Result<PodSandboxNetwork, NetworkError> {
        self.setup_with_ports(pod, &[]).await
    }

    /// Creates the pod's network namespace, brings `lo` up and attaches `eth0` (CNI ADD, with
    /// `portMappings` for the `portmap` plugin). Idempotent: a pod already set up returns its
    /// recorded network; leftovers of a half-done setup are torn down first. On failure,
    /// whatever was set up is torn down again before the error is returned.
    pub async fn setup_with_ports(
        &self,
        pod: &PodKey,
        port_mappings: &[PortMapping],
    ) -> Result<PodSandboxNetwork, NetworkError> {
        check_uid(&pod.uid)?;
        let netns_path = self.netns_path(&pod.uid);
        if let Some(rec) = self.read_record(&pod.uid) {
            if rec.is_ready() && netns::is_netns(&rec.netns_path) {
                return Ok(PodSandboxNetwork {
                    netns_path: rec.netns_path,
                    ips: rec.ips,
                    gateway: rec.gateway,
                });
            }
        }
        if self.read_record(&pod.uid).is_some() || netns_path.exists() {
            tracing::info!(uid = pod.uid, "cleaning up a half-done pod network first");
            self.teardown(&pod.uid).await?;
        }
        let mut rec = SandboxRecord {
            pod: pod.clone(),
            netns_path: netns_path.clone(),
            ips: Vec::new(),
            gateway: None,
            network: self.list.name.clone(),
        };
        self.write_record(&rec)?;
        match self.attach(pod, &netns_path, port_mappings).await {
            Ok(result) => {
                let ips = result.pod_ips();
                rec.ips = ips.iter().map(|ip| ip.address).collect();
                rec.gateway = ips.iter().find_map(|ip| ip.gateway);
                if rec.ips.is_empty() {
                    let raw = result.raw.to_string();
                    let _ = self.teardown(&pod.uid).await;
                    return Err(NetworkError::NoIp(raw));
                }
                self.write_record(&rec)?;
                tracing::info!(uid = pod.uid, ips = ?rec.ips, "pod network set up");
                Ok(PodSandboxNetwork {
                    netns_path,
                    ips: rec.ips,
                    gateway: rec.gateway,
                })
            }
            Err(e) => {
                if let Err(te) = self.teardown(&pod.uid).await {
                    tracing::warn!(uid = pod.uid, "cleanup after failed setup: {te}");
                }
                Err(e)
            }
        }
    }

    async fn attach(
        &self,
        pod: &PodKey,
        netns_path: &Path,
        port_mappings: &[PortMapping],
    ) -> Result<CniResult, NetworkError> {
        let (dir, uid) = (self.config.netns_dir.clone(), pod.uid.clone());
        tokio::task::spawn_blocking(move || netns::create(&dir, &uid))
            .await
            .map_err(|e| NetworkError::Join(e.to_string()))?
            .map_err(|source| NetworkError::Netns {
                path: netns_path.to_path_buf(),
                source,
            })?;
        let lo = self.runtime_conf(pod, netns_path, "lo");
        self.cni.add_network_list(&loopback_list(), &lo).await?;
        let mut rt = self.runtime_conf(pod, netns_path, POD_IFNAME);
        if !port_mappings.is_empty() {
            rt.capability_args.insert(
                "portMappings".into(),
                serde_json::to_value(port_mappings).expect("json"),
            );
        }
        Ok(self.cni.add_network_list(&self.list, &rt).await?)
    }

    /// Detaches the pod (CNI DEL with the configuration recorded at ADD, or the current one)
    /// and deletes its network namespace and record. Idempotent; works after an agent restart
    /// and for pods this node never set up. If CNI DEL fails the namespace and record are
    /// kept (so a retry can still DEL) and the error is returned: retry later.
    pub async fn teardown(&self, uid: &str) -> Result<(), NetworkError> {
        check_uid(uid)?;
        let rec = self.read_record(uid);
        let pod = rec.as_ref().map(|r| r.pod.clone()).unwrap_or(PodKey {
            namespace: String::new(),
            name: String::new(),
            uid: uid.to_string(),
        });
        let netns_path = rec
            .as_ref()
            .map(|r| r.netns_path.clone())
            .unwrap_or_else(|| self.netns_path(uid));
        let rt = self.runtime_conf(&pod, &netns_path, POD_IFNAME);
        // Without a record of an ADD (nor of the sandbox) there is nothing CNI knows about.
        let fallback = if rec.is_some() || netns_path.exists() {
            Some(&self.list)
        } else {
            None
        };
        let netns_gone = !netns::is_netns(&netns_path);
        let had_add = self.cni.has_cached(uid, POD_IFNAME) || rec.is_some();
        self.cni.del_network_list(fallback, &rt).await?;
        if netns_gone && had_add {
            // The bridge plugin finds the addresses whose ipMasq rules it removes inside the
            // namespace; with the namespace gone they would leak.
            let network = rec.as_ref().map_or(self.list.name.as_str(), |r| &r.network);
            let network = network.to_string();
            let id = uid.to_string();
            let _ = tokio::task::spawn_blocking(move || remove_leaked_ipmasq(&network, &id)).await;
        }
        let lo = self.runtime_conf(&pod, &netns_path, "lo");
        if let Err(e) = self.cni.del_network_list(None, &lo).await {
            // Only puts `lo` down; the namespace goes away anyway.
            tracing::debug!(uid, "loopback DEL: {e}");
        }
        let path = netns_path.clone();
        tokio::task::spawn_blocking(move || netns::delete_path(&path))
            .await
            .map_err(|e| NetworkError::Join(e.to_string()))?
            .map_err(|source| NetworkError::Netns {
                path: netns_path.clone(),
                source,
            })?;
        match std::fs::remove_file(self.record_path(uid)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NetworkError::Io {
                    context: "removing sandbox record".into(),
                    source: e,
                })
            }
            _ => {}
        }
        tracing::info!(uid, "pod network torn down");
        Ok(())
    }

    /// The sandboxes recorded on disk (set up, or half-done after a crash), by uid. After a
    /// restart, [`teardown`](Self::teardown) those whose pods no longer belong to this node.
    pub fn list_sandboxes(&self) -> Result<Vec<SandboxRecord>, NetworkError> {
        let dir = self.records_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(NetworkError::Io {
                    context: format!("reading {}", dir.display()),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<SandboxRecord>(&b)) {
                Ok(Ok(rec)) => out.push(rec),
                _ => tracing::warn!(path = %path.display(), "unreadable sandbox record"),
            }
        }
        out.sort_by(|a, b| a.pod.uid.cmp(&b.pod.uid));
        Ok(out)
    }

    /// The names (pod uids) of the network namespaces in `netns_dir`, recorded or not. Careful:
    /// several agents on one host (tests) share the default `/run/skiff/netns`, so an entry
    /// here without a record of this agent may belong to another agent; clean up from
    /// [`list_sandboxes`](Self::list_sandboxes) (the record is written before the namespace).
    pub fn list_netns(&self) -> Result<Vec<String>, NetworkError> {
        netns::list(&self.config.netns_dir).map_err(|source| NetworkError::Netns {
            path: self.config.netns_dir.clone(),
            source,
        })
    }

    /// Whether the host routes `ip` through the network's bridge (so traffic to it stays on
    /// this machine): `ip route get IP` names the bridge as the device.
    pub fn route_via_bridge(&self, ip: IpAddr) -> bool {
        match self.bridge_name() {
            Some(bridge) => route_via_device(ip, &bridge),
            None => false,
        }
    }
}

/// Whether `ip route get IP` routes `ip` through device `dev` (and not as a local address).
pub fn route_via_device(ip: IpAddr, dev: &str) -> bool {
    let out = match std::process::Command::new("ip")
        .args(["-o", "route", "get", &ip.to_string()])
        .output()
    {
        Ok(o) if o.status.success() => o,
        _ => return false,
    };
    parse_route_get_dev(&String::from_utf8_lossy(&out.stdout)).as_deref() == Some(dev)
}

/// The `dev` of an `ip route get` line, `None` for local/unreachable/other route types.
fn parse_route_get_dev(out: &str) -> Option<String> {
    let line = out.lines().next()?;
    let mut words = line.split_whitespace();
    let first = words.clone().next()?;
    if matches!(
        first,
        "local" | "broadcast" | "unreachable" | "prohibit" | "blackhole" | "throw" | "multicast"
    ) {
        return None;
    }
    while let Some(w) = words.next() {
        if w == "dev" {
            return words.next().map(str::to_string);
        }
    }
    None
}

/// The per-container nat chain of the bridge plugin's ipMasq (`utils.FormatChainName`):
/// `CNI-` and the first 24 hex digits of sha512(network name + container ID).
pub fn ipmasq_chain_name(network: &str, container_id: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha512::digest(format!("{network}{container_id}").as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("CNI-{}", &hex[..24])
}

/// Removes the bridge plugin's ipMasq chain of a container and the POSTROUTING jumps to it
/// (iptables and ip6tables), if present. Best effort.
fn remove_leaked_ipmasq(network: &str, container_id: &str) {
    let chain = ipmasq_chain_name(network, container_id);
    for tool in ["iptables", "ip6tables"] {
        let exists = std::process::Command::new(tool)
            .args(["-w", "-t", "nat", "-S", &chain])
            .output()
            .is_ok_and(|o| o.status.success());
        if !exists {
            continue;
        }
        tracing::info!(chain, container_id, "removing leaked ipMasq chain");
        let rules = std::process::Command::new(tool)
            .args(["-w", "-t", "nat", "-S", "POSTROUTING"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for rule in rules.lines() {
            if let Some(rest) = rule.strip_prefix("-A ") {
                if rest.ends_with(&format!("-j {chain}")) {
                    // `-S` output is shell-quoted (the comment); let sh split it.
                    let _ = std::process::Command::new("sh")
                        .args(["-c", &format!("{tool} -w -t nat -D {rest}")])
                        .output();
                }
            }
        }
        for op in ["-F", "-X"] {
            let _ = std::process::Command::new(tool)
                .args(["-w", "-t", "nat", op, &chain])
                .output();
        }
    }
}

/// The list used to bring `lo` up in a new namespace.
fn loopback_list() -> NetworkConfigList {
    NetworkConfigList::from_value(serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "cni-loopback",
        "plugins": [{"type": "loopback"}]
    }))
    .expect("valid loopback list")
}

/// The pod's `hostPort`s as CNI port mappings (what kubelet hands the `portmap` plugin): one
/// per container port with a non-zero `hostPort`.
pub fn port_mappings(spec: &PodSpec) -> Vec<PortMapping> {
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    let mut out = Vec::new();
    for c in containers {
        for p in c.ports.iter().flatten() {
            let Some(host_port) = p.host_port.filter(|h| *h > 0) else {
                continue;
            };
            let (Ok(host_port), Ok(container_port)) =
                (u16::try_from(host_port), u16::try_from(p.container_port))
            else {
                continue;
            };
            out.push(PortMapping {
                host_port,
                container_port,
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                host_ip: p.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort};

    #[test]
    fn route_get_parsing() {
        assert_eq!(
            parse_route_get_dev("10.244.77.2 dev skiff0 src 10.244.77.1 uid 0 \\    cache \n")
                .as_deref(),
            Some("skiff0")
        );
        assert_eq!(
            parse_route_get_dev("10.0.0.1 via 192.0.2.1 dev eth0 src 192.0.2.5 uid 0").as_deref(),
            Some("eth0")
        );
        assert_eq!(
            parse_route_get_dev("local 127.0.0.1 dev lo src 127.0.0.1 uid 0"),
            None
        );
        assert_eq!(parse_route_get_dev(""), None);
    }

    #[test]
    fn chain_names() {
        // As the bridge plugin names it (checked against a rule it created).
        assert_eq!(
            ipmasq_chain_name("skiff", "a87c8dec-5288-4295-b825-549ba5ad4d03"),
            "CNI-4030159c6d955eb1904a4a5c"
        );
    }

    #[test]
    fn uids() {
        assert!(check_uid("6f0e1c1a-7a43-4c0e-9d4b-2f9a7b1c0d11").is_ok());
        for bad in ["", "../x", "a/b", "-x", "a b"] {
            assert!(check_uid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_ports() {
        let spec = PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![
                    ContainerPort {
                        container_port: 80,
                        host_port: Some(8080),
                        ..Default::default()
                    },
                    ContainerPort {
                        container_port: 53,
                        host_port: Some(5353),
                        protocol: Some("UDP".into()),
                        host_ip: Some("127.0.0.1".into()),
                        ..Default::default()
                    },
                    ContainerPort {
                        container_port: 9090,
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let pm = port_mappings(&spec);
        assert_eq!(pm.len(), 2);
        assert_eq!(pm[0].protocol, "tcp");
        assert_eq!((pm[1].host_port, pm[1].protocol.as_str()), (5353, "udp"));
        assert_eq!(pm[1].host_ip, "127.0.0.1");
    }
}
