//! A CNI client (spec 1.0.0, also 0.3.x/0.4.0 configurations): loads a network configuration
//! list, runs its plugins as executables with the `CNI_*` environment (chaining `prevResult`
//! through the list on ADD, in reverse on DEL), parses results and plugin errors, and caches
//! the configuration and result of every ADD so that DEL and CHECK use the same configuration
//! even after an agent restart or a configuration change (like libcni's cache).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;

/// Why a CNI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid CNI network configuration: {0}")]
    Config(String),
    #[error("CNI plugin {plugin:?} not found in {dirs:?}")]
    PluginNotFound { plugin: String, dirs: Vec<PathBuf> },
    /// The plugin exited non-zero; `code`/`msg`/`details` come from its error JSON (CNI
    /// well-known codes: 1 incompatible version, 2 unsupported field, 3 unknown container,
    /// 4 invalid env, 5 I/O, 6 decode, 7 invalid network config, 11 try again later).
    #[error("CNI plugin {plugin} {command} failed (code {code}): {msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
    Plugin {
        plugin: String,
        command: String,
        code: u64,
        msg: String,
        details: String,
    },
    #[error("CNI plugin {plugin} {command} timed out after {after:?}")]
    Timeout {
        plugin: String,
        command: String,
        after: Duration,
    },
    #[error("CNI plugin {plugin} returned an invalid result: {msg}")]
    BadResult { plugin: String, msg: String },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CniError {
    let context = context.into();
    move |source| CniError::Io { context, source }
}

/// Compares dotted CNI versions ("0.4.0" < "1.0.0").
fn version_tuple(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// Versions this client understands (configs and results).
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0"];

/// A network configuration list (a `.conflist`).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfigList {
    pub cni_version: String,
    pub name: String,
    pub disable_check: bool,
    /// The plugin configurations, in order, as given (each has at least `type`).
    pub plugins: Vec<Map<String, Value>>,
    /// The whole list as parsed.
    pub raw: Value,
    /// Where it was loaded from, if from a file.
    pub source: Option<PathBuf>,
}

impl NetworkConfigList {
    pub fn from_value(raw: Value) -> Result<Self, CniError> {
        let obj = raw
            .as_object()
            .ok_or_else(|| CniError::Config("not a JSON object".into()))?;
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CniError::Config("missing \"name\"".into()))?
            .to_string();
        let cni_version = obj
            .get("cniVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| CniError::Config("missing \"cniVersion\"".into()))?
            .to_string();
        if !SUPPORTED_VERSIONS.contains(&cni_version.as_str()) {
            return Err(CniError::Config(format!(
                "unsupported cniVersion {cni_version:?} (supported: {SUPPORTED_VERSIONS:?})"
            )));
        }
        let disable_check = match obj.get("disableCheck") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        let plugins = obj
            .get("plugins")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| CniError::Config("missing or empty \"plugins\"".into()))?
            .iter()
            .map(|p| {
                let p = p
                    .as_object()
                    .ok_or_else(|| CniError::Config("plugin is not an object".into()))?;
                match p.get("type").and_then(Value::as_str) {
                    Some(t) if !t.is_empty() && !t.contains('/') => Ok(p.clone()),
                    _ => Err(CniError::Config("plugin without a valid \"type\"".into())),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            cni_version,
            name,
            disable_check,
            plugins,
            raw,
            source: None,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CniError> {
        let raw: Value =
            serde_json::from_slice(bytes).map_err(|e| CniError::Config(e.to_string()))?;
        Self::from_value(raw)
    }

    /// Loads the first `*.conflist` of `dir` in lexical order (as kubelet/containerd pick the
    /// network); `None` if there is none (or the dir does not exist).
    pub fn load_dir(dir: &Path) -> Result<Option<Self>, CniError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(format!("reading {}", dir.display()))(e)),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conflist") && p.is_file())
            .collect();
        files.sort();
        let Some(first) = files.into_iter().next() else {
            return Ok(None);
        };
        let bytes =
            std::fs::read(&first).map_err(io_err(format!("reading {}", first.display())))?;
        let mut list = Self::from_bytes(&bytes)
            .map_err(|e| CniError::Config(format!("{}: {e}", first.display())))?;
        list.source = Some(first);
        Ok(Some(list))
    }

    /// The bridge device of the first `bridge` plugin (the plugin's default is `cni0`).
    pub fn bridge_name(&self) -> Option<String> {
        self.plugins
            .iter()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("bridge"))
            .map(|p| {
                p.get("bridge")
                    .and_then(Value::as_str)
                    .unwrap_or("cni0")
                    .to_string()
            })
    }
}

/// The default network for a node: a bridge with host-local IPAM over the node's pod CIDR, then
/// `portmap` for `hostPort`s (as k3s's default). Traffic leaving the CIDR is masqueraded by one
/// node-wide rule ([`super::ensure_masquerade`]) rather than the bridge plugin's `ipMasq`, which
/// adds a chain and rules per pod: iptables calls hold the xtables lock, so per-pod rules
/// serialize every pod start and stop on the node.
pub fn default_conflist(name: &str, bridge: &str, pod_cidr: &str, ipam_data_dir: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": ipam_data_dir,
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    })
}

/// Loads the network from `conf_dir`, writing `10-<name>.conflist` from [`default_conflist`]
/// first if the directory has no configuration list.
pub fn load_or_write_default(
    conf_dir: &Path,
    name: &str,
    bridge: &str,
    pod_cidr: &str,
    ipam_data_dir: &Path,
) -> Result<NetworkConfigList, CniError> {
    if let Some(list) = NetworkConfigList::load_dir(conf_dir)? {
        return Ok(list);
    }
    std::fs::create_dir_all(conf_dir)
        .map_err(io_err(format!("creating {}", conf_dir.display())))?;
    let value = default_conflist(name, bridge, pod_cidr, ipam_data_dir);
    let path = conf_dir.join(format!("10-{name}.conflist"));
    write_atomic(&path, &serde_json::to_vec_pretty(&value).expect("json"))?;
    tracing::info!(path = %path.display(), pod_cidr, "wrote default CNI configuration");
    let mut list = NetworkConfigList::from_value(value)?;
    list.source = Some(path);
    Ok(list)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CniError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io_err(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io_err(format!("renaming to {}", path.display())))
}

/// The per-attachment runtime parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimeConf {
    /// `CNI_CONTAINERID`: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
    pub container_id: String,
    /// `CNI_NETNS`. On DEL a namespace that no longer exists is passed as empty.
    pub netns: PathBuf,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS` pairs (`IgnoreUnknown=1` is prepended).
    pub args: Vec<(String, String)>,
    /// Capability arguments (`portMappings`, ...) injected as `runtimeConfig` into plugins
    /// that declare the capability.
    pub capability_args: Map<String, Value>,
}

impl RuntimeConf {
    fn cni_args(&self) -> String {
        std::iter::once("IgnoreUnknown=1".to_string())
            .chain(self.args.iter().map(|(k, v)| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// An interface in a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CniInterface {
    pub name: String,
    #[serde(default)]
    pub mac: String,
    /// The netns path for interfaces inside the container, empty for host-side ones.
    #[serde(default)]
    pub sandbox: String,
}

/// An address in a result.
#[derive(Debug, Clone, PartialEq)]
pub struct CniIp {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    /// Index into [`CniResult::interfaces`].
    pub interface: Option<usize>,
}

/// A route in a result.
#[derive(Debug, Clone, PartialEq)]
pub struct CniRoute {
    pub dst: String,
    pub gw: Option<IpAddr>,
}

/// A parsed ADD result (any supported version; 0.2.0's `ip4`/`ip6` form too).
#[derive(Debug, Clone, PartialEq)]
pub struct CniResult {
    pub cni_version: String,
    pub interfaces: Vec<CniInterface>,
    pub ips: Vec<CniIp>,
    pub routes: Vec<CniRoute>,
    pub dns: Value,
    /// The result as the last plugin printed it.
    pub raw: Value,
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

impl CniResult {
    pub fn parse(raw: Value) -> Result<Self, String> {
        let obj = raw.as_object().ok_or("result is not an object")?;
        let cni_version = obj
            .get("cniVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let interfaces: Vec<CniInterface> = match obj.get("interfaces") {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("interfaces: {e}"))?,
            None => Vec::new(),
        };
        let mut ips = Vec::new();
        let mut routes = Vec::new();
        let parse_route = |r: &Value| -> Result<CniRoute, String> {
            Ok(CniRoute {
                dst: r
                    .get("dst")
                    .and_then(Value::as_str)
                    .ok_or("route without dst")?
                    .to_string(),
                gw: match r.get("gw").and_then(Value::as_str) {
                    Some(g) => Some(g.parse().map_err(|_| format!("bad route gw {g:?}"))?),
                    None => None,
                },
            })
        };
        for ip in obj
            .get("ips")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let addr = ip
                .get("address")
                .and_then(Value::as_str)
                .ok_or("ip without address")?;
            let (address, prefix_len) =
                parse_cidr(addr).ok_or_else(|| format!("bad address {addr:?}"))?;
            let gateway = match ip.get("gateway").and_then(Value::as_str) {
                Some(g) => Some(g.parse().map_err(|_| format!("bad gateway {g:?}"))?),
                None => None,
            };
            let interface = ip
                .get("interface")
                .and_then(Value::as_u64)
                .map(|i| i as usize);
            ips.push(CniIp {
                address,
                prefix_len,
                gateway,
                interface,
            });
        }
        for r in obj
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            routes.push(parse_route(r)?);
        }
        // 0.1.0/0.2.0 results.
        for key in ["ip4", "ip6"] {
            if let Some(v) = obj.get(key) {
                let addr = v
                    .get("ip")
                    .and_then(Value::as_str)
                    .ok_or("ip4/ip6 without ip")?;
                let (address, prefix_len) =
                    parse_cidr(addr).ok_or_else(|| format!("bad address {addr:?}"))?;
                let gateway = v
                    .get("gateway")
                    .and_then(Value::as_str)
                    .and_then(|g| g.parse().ok());
                ips.push(CniIp {
                    address,
                    prefix_len,
                    gateway,
                    interface: None,
                });
                for r in v
                    .get("routes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    routes.push(parse_route(r)?);
                }
            }
        }
        Ok(Self {
            cni_version,
            interfaces,
            ips,
            routes,
            dns: obj.get("dns").cloned().unwrap_or(Value::Null),
            raw,
        })
    }

    /// The addresses on container-side interfaces (those with a `sandbox`), or all addresses
    /// when the result does not say which interface they are on.
    pub fn pod_ips(&self) -> Vec<&CniIp> {
        let in_sandbox = |ip: &&CniIp| match ip.interface.and_then(|i| self.interfaces.get(i)) {
            Some(iface) => !iface.sandbox.is_empty(),
            None => true,
        };
        self.ips.iter().filter(in_sandbox).collect()
    }
}

/// What the client records for every ADD, so DEL/CHECK use the same configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheEntry {
    kind: String,
    container_id: String,
    if_name: String,
    network_name: String,
    config: Value,
    cni_args: Vec<(String, String)>,
    #[serde(default)]
    capability_args: Map<String, Value>,
    #[serde(default)]
    result: Value,
}

/// Runs CNI plugins.
#[derive(Debug, Clone)]
pub struct CniClient {
    pub bin_dirs: Vec<PathBuf>,
    /// Where ADDs are recorded (`<cache_dir>/results/<containerID>-<ifname>.json`).
    pub cache_dir: PathBuf,
    /// Limit for one plugin run; the plugin is killed when it is exceeded.
    pub timeout: Duration,
}

impl CniClient {
    pub fn new(bin_dirs: Vec<PathBuf>, cache_dir: PathBuf) -> Self {
        Self {
            bin_dirs,
            cache_dir,
            timeout: Duration::from_secs(30),
        }
    }

    fn cache_path(&self, container_id: &str, ifname: &str) -> PathBuf {
        self.cache_dir
            .join("results")
            .join(format!("{container_id}-{ifname}.json"))
    }

    fn read_cache(&self, container_id: &str, ifname: &str) -> Option<CacheEntry> {
        let path = self.cache_path(container_id, ifname);
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unreadable CNI cache entry: {e}");
                None
            }
        }
    }

    fn write_cache(&self, entry: &CacheEntry) -> Result<(), CniError> {
        let path = self.cache_path(&entry.container_id, &entry.if_name);
        let dir = path.parent().expect("cache path has a parent");
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        write_atomic(&path, &serde_json::to_vec(entry).expect("json"))
    }

    /// Whether an ADD for this attachment is recorded.
    pub fn has_cached(&self, container_id: &str, ifname: &str) -> bool {
        self.cache_path(container_id, ifname).exists()
    }

    /// The recorded ADD result for this attachment, if any.
    pub fn cached_result(&self, container_id: &str, ifname: &str) -> Option<CniResult> {
        let e = self.read_cache(container_id, ifname)?;
        CniResult::parse(e.result).ok()
    }

    fn find_plugin(&self, ty: &str) -> Result<PathBuf, CniError> {
        self.bin_dirs
            .iter()
            .map(|d| d.join(ty))
            .find(|p| p.is_file())
            .ok_or_else(|| CniError::PluginNotFound {
                plugin: ty.to_string(),
                dirs: self.bin_dirs.clone(),
            })
    }

    /// Runs one plugin; returns its stdout (parsed JSON, `Null` if empty).
    async fn exec(
        &self,
        ty: &str,
        command: &str,
        conf: &Value,
        rt: &RuntimeConf,
    ) -> Result<Value, CniError> {
        let path = self.find_plugin(ty)?;
        let cni_path = std::env::join_paths(&self.bin_dirs)
            .map_err(|e| CniError::Config(format!("bin dirs: {e}")))?;
        let netns = if command == "DEL" && !rt.netns.exists() {
            PathBuf::new()
        } else {
            rt.netns.clone()
        };
        let stdin = serde_json::to_vec(conf).expect("json");
        tracing::debug!(
            plugin = ty,
            command,
            container = rt.container_id,
            "running CNI plugin"
        );
        let mut child = tokio::process::Command::new(&path)
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", &rt.container_id)
            .env("CNI_NETNS", &netns)
            .env("CNI_IFNAME", &rt.ifname)
            .env("CNI_ARGS", rt.cni_args())
            .env("CNI_PATH", &cni_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io_err(format!("running {}", path.display())))?;
        let mut child_stdin = child.stdin.take().expect("piped stdin");
        let run = async move {
            child_stdin.write_all(&stdin).await?;
            drop(child_stdin);
            child.wait_with_output().await
        };
        let output = match tokio::time::timeout(self.timeout, run).await {
            Ok(out) => out.map_err(io_err(format!("running {}", path.display())))?,
            Err(_) => {
                return Err(CniError::Timeout {
                    plugin: ty.to_string(),
                    command: command.to_string(),
                    after: self.timeout,
                })
            }
        };
        if !output.status.success() {
            let parsed: Option<Value> = serde_json::from_slice(&output.stdout).ok();
            let field = |k: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let mut msg = field("msg");
            if msg.is_empty() {
                msg = format!(
                    "{}; stdout: {}; stderr: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stdout).trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            return Err(CniError::Plugin {
                plugin: ty.to_string(),
                command: command.to_string(),
                code: parsed
                    .as_ref()
                    .and_then(|v| v.get("code"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                msg,
                details: field("details"),
            });
        }
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&output.stdout).map_err(|e| CniError::BadResult {
            plugin: ty.to_string(),
            msg: format!("{e}: {}", String::from_utf8_lossy(&output.stdout)),
        })
    }

    /// One plugin's stdin: its own config plus `name`, `cniVersion`, `runtimeConfig` for its
    /// declared capabilities, and `prevResult` (libcni's buildOneConfig/injectRuntimeConfig).
    fn plugin_conf(
        list: &NetworkConfigList,
        plugin: &Map<String, Value>,
        prev: Option<&Value>,
        capability_args: &Map<String, Value>,
    ) -> Value {
        let mut conf = plugin.clone();
        conf.insert("name".into(), Value::String(list.name.clone()));
        conf.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
        if let Some(Value::Object(caps)) = plugin.get("capabilities") {
            let mut rc = match conf.get("runtimeConfig") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            for (cap, enabled) in caps {
                if enabled == &Value::Bool(true) {
                    if let Some(v) = capability_args.get(cap) {
                        rc.insert(cap.clone(), v.clone());
                    }
                }
            }
            if !rc.is_empty() {
                conf.insert("runtimeConfig".into(), Value::Object(rc));
            }
        }
        match prev {
            Some(p) if !p.is_null() => {
                conf.insert("prevResult".into(), p.clone());
            }
            _ => {}
        }
        Value::Object(conf)
    }

    /// CNI ADD of every plugin of `list` in order, each getting the previous one's result.
    /// The configuration is recorded before the first plugin runs (so a DEL after a crash in
    /// the middle uses it) and the final result after the last.
    pub async fn add_network_list(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<CniResult, CniError> {
        let mut entry = CacheEntry {
            kind: "cniCacheV1".into(),
            container_id: rt.container_id.clone(),
            if_name: rt.ifname.clone(),
            network_name: list.name.clone(),
            config: list.raw.clone(),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: Value::Null,
        };
        self.write_cache(&entry)?;
        let mut prev: Option<Value> = None;
        let mut last_type = "";
        for plugin in &list.plugins {
            let ty = plugin["type"].as_str().unwrap_or_default();
            let conf = Self::plugin_conf(list, plugin, prev.as_ref(), &rt.capability_args);
            let out = self.exec(ty, "ADD", &conf, rt).await?;
            // A plugin that prints nothing passes the previous result on.
            if !out.is_null() {
                prev = Some(out);
            }
            last_type = ty;
        }
        let raw = prev.unwrap_or(Value::Null);
        entry.result = raw.clone();
        self.write_cache(&entry)?;
        CniResult::parse(raw).map_err(|msg| CniError::BadResult {
            plugin: last_type.to_string(),
            msg,
        })
    }

    /// CNI DEL of every plugin in reverse order, with the configuration (and arguments) of the
    /// recorded ADD if there is one, else `current`; nothing to do when neither exists.
    /// Idempotent: plugins treat missing state as success, a missing netns is passed as empty.
    /// The record is removed on success.
    pub async fn del_network_list(
        &self,
        current: Option<&NetworkConfigList>,
        rt: &RuntimeConf,
    ) -> Result<(), CniError> {
        let cached = self.read_cache(&rt.container_id, &rt.ifname);
        let (list, rt, prev) = match &cached {
            Some(e) => {
                let list = NetworkConfigList::from_value(e.config.clone())?;
                let mut rt = rt.clone();
                rt.args = e.cni_args.clone();
                rt.capability_args = e.capability_args.clone();
                (list, rt, Some(e.result.clone()))
            }
            None => match current {
                Some(l) => (l.clone(), rt.clone(), None),
                None => return Ok(()),
            },
        };
        // prevResult on DEL exists since 0.4.0.
        let prev = prev.filter(|_| version_tuple(&list.cni_version) >= (0, 4, 0));
        for plugin in list.plugins.iter().rev() {
            let ty = plugin["type"].as_str().unwrap_or_default();
            let conf = Self::plugin_conf(&list, plugin, prev.as_ref(), &rt.capability_args);
            self.exec(ty, "DEL", &conf, &rt).await?;
        }
        match std::fs::remove_file(self.cache_path(&rt.container_id, &rt.ifname)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err("removing CNI cache entry")(e))
            }
            _ => {}
        }
        Ok(())
    }

    /// CNI CHECK (0.4.0+) of the recorded ADD: every plugin in order with the recorded result
    /// as `prevResult`. Errors if there is no record; a list with `disableCheck` or a pre-0.4.0
    /// version passes without running anything.
    pub async fn check_network_list(&self, rt: &RuntimeConf) -> Result<(), CniError> {
        let Some(e) = self.read_cache(&rt.container_id, &rt.ifname) else {
            return Err(CniError::Config(format!(
                "no recorded ADD for container {} interface {}",
                rt.container_id, rt.ifname
            )));
        };
        let list = NetworkConfigList::from_value(e.config.clone())?;
        if list.disable_check || version_tuple(&list.cni_version) < (0, 4, 0) {
            return Ok(());
        }
        let mut rt = rt.clone();
        rt.args = e.cni_args.clone();
        rt.capability_args = e.capability_args.clone();
        for plugin in &list.plugins {
            let ty = plugin["type"].as_str().unwrap_or_default();
            let conf = Self::plugin_conf(&list, plugin, Some(&e.result), &rt.capability_args);
            self.exec(ty, "CHECK", &conf, &rt).await?;
        }
        Ok(())
    }

    /// `CNI_COMMAND=VERSION` of one plugin: the versions it supports.
    pub async fn plugin_versions(&self, ty: &str) -> Result<Vec<String>, CniError> {
        let out = self
            .exec(
                ty,
                "VERSION",
                &json!({"cniVersion": "1.0.0"}),
                &RuntimeConf::default(),
            )
            .await?;
        Ok(out
            .get("supportedVersions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect())
    }
}

/// The CNI `portMappings` capability argument entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp` (lowercase, as the portmap plugin wants).
    pub protocol: String,
    #[serde(rename = "hostIP", default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

/// Summarises a result per interface kind: handy for logs.
pub fn describe(result: &CniResult) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ip in &result.ips {
        let iface = ip
            .interface
            .and_then(|i| result.interfaces.get(i))
            .map(|i| i.name.clone())
            .unwrap_or_default();
        out.entry(iface)
            .or_default()
            .push(format!("{}/{}", ip.address, ip.prefix_len));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_parses() {
        let v = default_conflist("skiff", "skiff0", "10.42.0.0/24", Path::new("/var/lib/x"));
        let l = NetworkConfigList::from_value(v).unwrap();
        assert_eq!(l.name, "skiff");
        assert_eq!(l.cni_version, "1.0.0");
        assert_eq!(l.plugins.len(), 2);
        assert_eq!(l.bridge_name().as_deref(), Some("skiff0"));
        assert_eq!(
            l.plugins[0]["ipam"]["ranges"][0][0]["subnet"],
            "10.42.0.0/24"
        );
        assert_eq!(l.plugins[0]["ipam"]["dataDir"], "/var/lib/x");
    }

    #[test]
    fn bad_lists() {
        for bad in [
            r#"[]"#,
            r#"{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}"#,
            r#"{"cniVersion":"9.9.9","name":"n","plugins":[{"type":"bridge"}]}"#,
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[]}"#,
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../x"}]}"#,
        ] {
            assert!(
                NetworkConfigList::from_bytes(bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn load_dir_first_lexical_and_default() {
        let dir = tempfile::tempdir().unwrap();
        assert!(NetworkConfigList::load_dir(dir.path()).unwrap().is_none());
        let l = load_or_write_default(dir.path(), "skiff", "br9", "10.9.0.0/16", Path::new("/d"))
            .unwrap();
        assert!(dir.path().join("10-skiff.conflist").exists());
        assert_eq!(l.bridge_name().as_deref(), Some("br9"));
        // A lexically earlier list wins; other extensions are ignored.
        std::fs::write(
            dir.path().join("05-other.conflist"),
            r#"{"cniVersion":"0.4.0","name":"other","plugins":[{"type":"bridge"}]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("01-x.conf"), "{}").unwrap();
        let l = load_or_write_default(dir.path(), "skiff", "br9", "10.9.0.0/16", Path::new("/d"))
            .unwrap();
        assert_eq!(l.name, "other");
        assert_eq!(l.bridge_name().as_deref(), Some("cni0"));
    }

    #[test]
    fn parse_result_v1() {
        let raw = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "skiff0", "mac": "aa:bb:cc:dd:ee:ff"},
                {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:01"},
                {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/run/skiff/netns/x"}
            ],
            "ips": [{"interface": 2, "address": "10.244.77.2/24", "gateway": "10.244.77.1"}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {}
        });
        let r = CniResult::parse(raw).unwrap();
        assert_eq!(r.interfaces.len(), 3);
        let ips = r.pod_ips();
        assert_eq!(ips.len(), 1);
        assert_eq!(ips[0].address, "10.244.77.2".parse::<IpAddr>().unwrap());
        assert_eq!(ips[0].prefix_len, 24);
        assert_eq!(ips[0].gateway, Some("10.244.77.1".parse().unwrap()));
        assert_eq!(
            r.routes,
            vec![CniRoute {
                dst: "0.0.0.0/0".into(),
                gw: None
            }]
        );
        assert_eq!(describe(&r)["eth0"], vec!["10.244.77.2/24".to_string()]);
    }

    #[test]
    fn parse_result_old_versions() {
        let r = CniResult::parse(json!({
            "cniVersion": "0.3.1",
            "ips": [{"version": "6", "address": "fd00::5/64"}]
        }))
        .unwrap();
        assert_eq!(r.pod_ips()[0].address, "fd00::5".parse::<IpAddr>().unwrap());
        let r = CniResult::parse(json!({
            "cniVersion": "0.2.0",
            "ip4": {"ip": "10.1.2.3/16", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]}
        }))
        .unwrap();
        assert_eq!(r.ips[0].address, "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(r.routes.len(), 1);
        assert!(CniResult::parse(json!({"ips": [{"address": "nope"}]})).is_err());
    }

    #[test]
    fn plugin_conf_injects() {
        let list = NetworkConfigList::from_value(default_conflist(
            "n",
            "b",
            "10.0.0.0/24",
            Path::new("/d"),
        ))
        .unwrap();
        let mut caps = Map::new();
        caps.insert(
            "portMappings".into(),
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
        );
        caps.insert("bandwidth".into(), json!({}));
        let prev = json!({"cniVersion": "1.0.0", "ips": []});
        let c = CniClient::plugin_conf(&list, &list.plugins[1], Some(&prev), &caps);
        assert_eq!(c["name"], "n");
        assert_eq!(c["cniVersion"], "1.0.0");
        assert_eq!(c["prevResult"], prev);
        assert_eq!(c["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
        assert!(c["runtimeConfig"].get("bandwidth").is_none());
        let c = CniClient::plugin_conf(&list, &list.plugins[0], None, &caps);
        assert!(c.get("runtimeConfig").is_none());
        assert!(c.get("prevResult").is_none());
    }

    #[test]
    fn cni_args_and_versions() {
        let rt = RuntimeConf {
            args: vec![("K8S_POD_NAME".into(), "p".into())],
            ..Default::default()
        };
        assert_eq!(rt.cni_args(), "IgnoreUnknown=1;K8S_POD_NAME=p");
        assert!(version_tuple("0.4.0") < version_tuple("1.0.0"));
        assert!(version_tuple("0.3.1") < (0, 4, 0));
        let pm = PortMapping {
            host_port: 80,
            container_port: 8080,
            protocol: "tcp".into(),
            host_ip: String::new(),
        };
        assert_eq!(
            serde_json::to_value(&pm).unwrap(),
            json!({"hostPort": 80, "containerPort": 8080, "protocol": "tcp"})
        );
    }

    #[tokio::test]
    async fn plugin_error_json_and_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let write_script = |name: &str, body: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write_script(
            "failer",
            r#"cat >/dev/null; echo '{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"subnet"}'; exit 1"#,
        );
        write_script("sleeper", "cat >/dev/null; sleep 5");
        write_script(
            "echoer",
            r#"cat >/dev/null; echo "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.9/8\"}],\"dns\":{\"search\":[\"$CNI_COMMAND $CNI_IFNAME\"]}}""#,
        );
        let mut client = CniClient::new(vec![bin.clone()], dir.path().join("cache"));
        client.timeout = Duration::from_millis(500);
        let rt = RuntimeConf {
            container_id: "c1".into(),
            netns: "/nonexistent".into(),
            ifname: "eth0".into(),
            ..Default::default()
        };
        let list = |ty: &str| {
            NetworkConfigList::from_value(
                json!({"cniVersion":"1.0.0","name":"t","plugins":[{"type": ty}]}),
            )
            .unwrap()
        };
        match client.add_network_list(&list("failer"), &rt).await {
            Err(CniError::Plugin {
                code, msg, details, ..
            }) => {
                assert_eq!(
                    (code, msg.as_str(), details.as_str()),
                    (7, "bad config", "subnet")
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            client.add_network_list(&list("sleeper"), &rt).await,
            Err(CniError::Timeout { .. })
        ));
        assert!(matches!(
            client.add_network_list(&list("missing"), &rt).await,
            Err(CniError::PluginNotFound { .. })
        ));
        let r = client.add_network_list(&list("echoer"), &rt).await.unwrap();
        assert_eq!(r.ips[0].address, "10.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(r.dns["search"][0], "ADD eth0");
        assert!(client.has_cached("c1", "eth0"));
        // DEL uses the cached config (even with a different current one) and drops the record.
        client
            .del_network_list(Some(&list("failer")), &rt)
            .await
            .unwrap();
        assert!(!client.has_cached("c1", "eth0"));
        // Without a record and without a current config there is nothing to do.
        client.del_network_list(None, &rt).await.unwrap();
    }
}
