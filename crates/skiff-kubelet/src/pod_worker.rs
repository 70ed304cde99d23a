//! One task per pod (the kubelet's pod worker): brings what runs on the node in line with the pod
//! object and reports it back.
//!
//! Each sync: admit the pod once (node-level admission), set up the sandbox (netns + CNI, the
//! pod's `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`, volumes), run init containers one at a
//! time to completion, start the app containers, restart exited ones per `restartPolicy` with
//! CrashLoopBackOff, and write the status when it changed. A deleted pod's containers are stopped
//! within its grace period (stop signal, then SIGKILL), its sandbox torn down, and the deletion
//! confirmed to the API server. Every step is recorded on disk first ([`crate::state`]) so an agent
//! restarted at any moment adopts running containers and cleans what was half done.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::Api;
use serde_json::{json, Value};
use skiff_api::quantity::Quantity;

use crate::container::{self, References, RuntimeFacts};
use crate::events::{EventRecorder, NORMAL, WARNING};
use crate::image::{overlay, ImageRecord, ImageStore, PullOptions, PullPolicy};
use crate::network::{files as netfiles, PodKey, PodNetwork};
use crate::runtime::{self, ContainerConfig, ContainerState, Runtime};
use crate::state::{ContainerRecord, PodRecord, SandboxRecord, TerminalPhase, Terminated};
use crate::status::{self, Live};
use crate::volumes;

/// Back-off of restarts and pulls: upstream's 10 s doubling to 5 min, forgotten after a container
/// ran 10 minutes.
#[derive(Debug, Clone, Copy)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
        }
    }
}

/// Where pods' shared IPC namespaces are pinned (beside the network namespaces).
const IPCNS_DIR: &str = "/run/skiff/ipcns";

/// What every pod worker shares.
pub struct PodContext {
    pub client: kube::Client,
    pub node_name: String,
    pub host_ip: String,
    pub data_dir: PathBuf,
    pub images: ImageStore,
    pub pull_options: PullOptions,
    pub runtime: Arc<dyn Runtime>,
    pub network: Arc<PodNetwork>,
    pub dns: netfiles::DnsSettings,
    pub events: EventRecorder,
    pub backoff: BackoffConfig,
    /// Pods admitted and not finished, for node-level admission.
    pub admitted: Mutex<HashMap<String, Pod>>,
    /// (namespace, name) → uid of the pods on this node, for the log server.
    pub pods_by_name: Mutex<HashMap<(String, String), String>>,
}

impl PodContext {
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.data_dir.join("pods").join(uid)
    }

    /// `<data-dir>/logs/<namespace>_<name>_<uid>`: upstream's `/var/log/pods` layout.
    pub fn pod_log_dir(&self, ns: &str, name: &str, uid: &str) -> PathBuf {
        self.data_dir
            .join("logs")
            .join(format!("{ns}_{name}_{uid}"))
    }
}

/// What a worker hears from the pod manager.
#[derive(Debug, Clone)]
pub enum PodUpdate {
    Pod(Arc<Pod>),
    /// The pod is gone from the API server (deleted, or bound elsewhere): stop everything now.
    Gone,
}

struct Backoff {
    delay: Duration,
    last: Instant,
}

/// What a sync wants next.
enum Next {
    /// Sync again after this long (or on an update).
    After(Duration),
    /// Nothing to do until the pod changes.
    Idle,
    /// The pod is finished on this node: the worker ends.
    Done,
}

pub struct Worker {
    ctx: Arc<PodContext>,
    uid: String,
    pod: Arc<Pod>,
    record: PodRecord,
    live: BTreeMap<String, Live>,
    backoff: HashMap<String, Backoff>,
    /// The last pull error per container, for the `ImagePullBackOff` message.
    pull_errors: HashMap<String, String>,
    last_status: Option<Value>,
    admitted: bool,
    pod_dir: PathBuf,
}

/// A duration as Go's `time.Duration.String` writes it (`10s`, `1m20s`, `5m0s`, `189ms`,
/// `1.234s`), which upstream's messages use.
fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let frac = d.subsec_millis();
    let s = if frac == 0 {
        format!("{}s", secs % 60)
    } else {
        let f = format!("{frac:03}");
        format!("{}.{}s", secs % 60, f.trim_end_matches('0'))
    };
    match secs / 60 {
        0 => s,
        m if m < 60 => format!("{m}m{s}"),
        m => format!("{}h{}m{s}", m / 60, m % 60),
    }
}

fn container_field_path(pod: &Pod, name: &str) -> String {
    let init = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .any(|c| c.name == name);
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}

impl Worker {
    /// A worker for `pod`; picks up what an earlier agent recorded for it.
    pub fn new(ctx: Arc<PodContext>, pod: Arc<Pod>) -> Worker {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pod_dir = ctx.pod_dir(&uid);
        let record = PodRecord::load(&pod_dir);
        let admitted = record.is_some();
        let record = record.unwrap_or_else(|| PodRecord {
            uid: uid.clone(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            ..Default::default()
        });
        Worker {
            ctx,
            uid,
            pod,
            record,
            live: BTreeMap::new(),
            backoff: HashMap::new(),
            pull_errors: HashMap::new(),
            last_status: None,
            admitted,
            pod_dir,
        }
    }

    /// Runs until the pod is finished on this node.
    pub async fn run(mut self, mut updates: tokio::sync::watch::Receiver<PodUpdate>) {
        let mut gone = false;
        loop {
            let next = if gone {
                self.terminate(Duration::ZERO).await;
                Next::Done
            } else {
                self.sync().await
            };
            let wait = match next {
                Next::Done => break,
                Next::After(d) => Some(d),
                Next::Idle => None,
            };
            let changed = async {
                match wait {
                    Some(d) => tokio::time::timeout(d, updates.changed())
                        .await
                        .unwrap_or(Ok(())),
                    None => updates.changed().await,
                }
            };
            if changed.await.is_err() {
                // The manager is gone (agent shutting down): leave containers running.
                return;
            }
            match &*updates.borrow_and_update() {
                PodUpdate::Pod(p) => self.pod = p.clone(),
                PodUpdate::Gone => gone = true,
            }
        }
        self.ctx
            .admitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.uid);
    }

    fn event(&self, container: Option<&str>, kind: &str, reason: &str, message: String) {
        let field = container.map(|c| container_field_path(&self.pod, c));
        self.ctx.events.pod(&self.pod, field, kind, reason, message);
    }

    fn save(&self) {
        if let Err(e) = self.record.save(&self.pod_dir) {
            tracing::warn!(pod = %self.record.name, error = %e, "saving pod state failed");
        }
    }

    async fn sync(&mut self) -> Next {
        if self.pod.metadata.deletion_timestamp.is_some() {
            let grace = self
                .pod
                .metadata
                .deletion_grace_period_seconds
                .unwrap_or(30)
                .max(0) as u64;
            self.terminate(Duration::from_secs(grace)).await;
            self.confirm_deletion().await;
            return Next::Done;
        }
        if !self.admitted {
            match self.admit().await {
                Ok(()) => self.admitted = true,
                Err(rejection) => {
                    self.record.terminal = Some(TerminalPhase {
                        phase: "Failed".into(),
                        reason: Some(rejection.reason.clone()),
                        message: Some(rejection.message.clone()),
                    });
                    self.event(None, WARNING, &rejection.reason, rejection.message);
                    self.write_status().await;
                    return Next::Idle;
                }
            }
        }
        if self.record.start_time.is_none() {
            self.record.start_time = Some(Utc::now());
            self.save();
        }
        self.refresh_live().await;
        if self.record.terminal.is_some() {
            self.release_sandbox().await;
            self.write_status().await;
            return Next::Idle;
        }
        if self.record.sandbox.is_none() {
            if let Err(message) = self.create_sandbox().await {
                self.event(
                    None,
                    WARNING,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {message}"),
                );
                self.write_status().await;
                return Next::After(Duration::from_secs(2));
            }
            // Report the IP as soon as it exists.
            self.write_status().await;
        }
        let mut wake: Option<Duration> = None;
        let mut soonest = |d: Duration| wake = Some(wake.map_or(d, |w: Duration| w.min(d)));
        let spec = self.pod.spec.clone().unwrap_or_default();
        let policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".into());

        // Init containers, one at a time.
        let mut init_done = true;
        for c in spec.init_containers.iter().flatten() {
            match self.live.get(&c.name) {
                Some(Live::Terminated(t)) if t.exit_code == 0 => continue,
                Some(Live::Running { .. }) => {
                    init_done = false;
                    soonest(Duration::from_millis(200));
                    break;
                }
                Some(Live::Terminated(_)) if policy == "Never" => {
                    self.finish("Failed");
                    init_done = false;
                    break;
                }
                _ => {
                    init_done = false;
                    if let Some(d) = self.start_or_restart(c, true).await {
                        soonest(d);
                    }
                    soonest(Duration::from_millis(200));
                    break;
                }
            }
        }
        if init_done && self.record.terminal.is_none() {
            for c in &spec.containers {
                let image_changed = self
                    .record
                    .containers
                    .get(&c.name)
                    .is_some_and(|r| Some(&r.image) != c.image.as_ref());
                if image_changed && matches!(self.live.get(&c.name), Some(Live::Running { .. })) {
                    self.event(
                        Some(&c.name),
                        NORMAL,
                        "Killing",
                        format!("Container {} definition changed, will be restarted", c.name),
                    );
                    self.stop_container(&c.name, self.grace()).await;
                    self.refresh_live().await;
                }
                let restart = match self.live.get(&c.name) {
                    Some(Live::Running { .. }) => {
                        soonest(Duration::from_secs(1));
                        false
                    }
                    Some(Live::Terminated(t)) => {
                        image_changed
                            || policy == "Always"
                            || (policy == "OnFailure" && t.exit_code != 0)
                    }
                    // Not created yet, or waiting for a back-off.
                    _ => true,
                };
                if restart {
                    if let Some(d) = self.start_or_restart(c, false).await {
                        soonest(d);
                    }
                    soonest(Duration::from_secs(1));
                }
            }
            let phase = status::phase(&self.pod, &self.record, &self.live);
            if phase == "Succeeded" || phase == "Failed" {
                self.finish(&phase);
            }
        }
        if self.record.terminal.is_some() {
            self.release_sandbox().await;
        }
        self.write_status().await;
        match wake {
            Some(d) if self.record.terminal.is_none() => Next::After(d),
            _ if self.record.terminal.is_none() => Next::After(Duration::from_secs(1)),
            _ => Next::Idle,
        }
    }

    fn finish(&mut self, phase: &str) {
        self.record.terminal = Some(TerminalPhase {
            phase: phase.into(),
            reason: None,
            message: None,
        });
        self.save();
    }

    fn grace(&self) -> Duration {
        Duration::from_secs(
            self.pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
                .unwrap_or(30)
                .max(0) as u64,
        )
    }

    /// Starts or lengthens the back-off `key` (10 s, doubling to 5 min by default) from now;
    /// returns its new delay.
    fn bump_backoff(&mut self, key: String) -> Duration {
        let delay = match self.backoff.get(&key) {
            None => self.ctx.backoff.initial,
            Some(b) => (b.delay * 2).min(self.ctx.backoff.max),
        };
        self.backoff.insert(
            key,
            Backoff {
                delay,
                last: Instant::now(),
            },
        );
        delay
    }

    async fn admit(&self) -> Result<(), crate::admission::Rejection> {
        let nodes: Api<Node> = Api::all(self.ctx.client.clone());
        let node = match nodes.get(&self.ctx.node_name).await {
            Ok(n) => n,
            // Without the node object we cannot check; the scheduler did.
            Err(_) => return Ok(()),
        };
        let mut admitted = self.ctx.admitted.lock().unwrap_or_else(|p| p.into_inner());
        let others: Vec<&Pod> = admitted
            .iter()
            .filter(|(uid, _)| **uid != self.uid)
            .map(|(_, p)| p)
            .collect();
        crate::admission::admit(&self.pod, &node, &others)?;
        admitted.insert(self.uid.clone(), (*self.pod).clone());
        Ok(())
    }

    /// Reads every recorded container's state from the runtime.
    async fn refresh_live(&mut self) {
        let names: Vec<String> = self.record.containers.keys().cloned().collect();
        let mut changed = false;
        for name in names {
            let rec = self.record.containers[&name].clone();
            if let Some(t) = &rec.finished {
                if !matches!(self.live.get(&name), Some(Live::Waiting { .. })) {
                    self.live.insert(name.clone(), Live::Terminated(t.clone()));
                }
                continue;
            }
            let state = self.ctx.runtime.state(&rec.id).await;
            let live = match state {
                Ok(ContainerState::Running { started_at, .. }) => Live::Running { started_at },
                Ok(ContainerState::Created) => continue,
                Ok(ContainerState::Exited {
                    exit_code,
                    signal,
                    started_at,
                    finished_at,
                    oom_killed,
                }) => {
                    let reason = if oom_killed {
                        "OOMKilled"
                    } else if exit_code == 0 {
                        "Completed"
                    } else {
                        "Error"
                    };
                    let t = Terminated {
                        exit_code,
                        signal,
                        reason: reason.into(),
                        message: None,
                        started_at: Some(started_at),
                        finished_at,
                        container_id: status::container_id(&rec.id),
                    };
                    if let Some(r) = self.record.containers.get_mut(&name) {
                        r.finished = Some(t.clone());
                        changed = true;
                    }
                    Live::Terminated(t)
                }
                Ok(ContainerState::Unknown) | Err(_) => {
                    let t = Terminated {
                        exit_code: 137,
                        signal: None,
                        reason: "ContainerStatusUnknown".into(),
                        message: Some(
                            "The container could not be located when the pod was terminated".into(),
                        ),
                        started_at: rec.started_at,
                        finished_at: Utc::now(),
                        container_id: status::container_id(&rec.id),
                    };
                    if let Some(r) = self.record.containers.get_mut(&name) {
                        r.finished = Some(t.clone());
                        changed = true;
                    }
                    Live::Terminated(t)
                }
            };
            self.live.insert(name, live);
        }
        if changed {
            self.save();
        }
    }

    async fn create_sandbox(&mut self) -> Result<(), String> {
        let key = PodKey {
            namespace: self.record.namespace.clone(),
            name: self.record.name.clone(),
            uid: self.uid.clone(),
        };
        let ports = crate::network::port_mappings(&self.pod.spec.clone().unwrap_or_default());
        let net = self
            .ctx
            .network
            .setup_with_ports(&key, &ports)
            .await
            .map_err(|e| e.to_string())?;
        let ips: Vec<String> = net.ips.iter().map(|ip| ip.to_string()).collect();
        // Record first: a crash from here on is cleaned up by tearing this sandbox down.
        let ipc_dir = Path::new(IPCNS_DIR);
        let _ = crate::network::netns::delete(ipc_dir, &self.uid);
        let ipcns = crate::network::netns::create_ipc(ipc_dir, &self.uid)
            .map_err(|e| format!("creating the pod's IPC namespace: {e}"))?;
        self.record.sandbox = Some(SandboxRecord {
            ipcns: Some(ipcns),
            netns: net.netns_path.clone(),
            ips,
            created_at: Utc::now(),
        });
        self.save();
        self.write_pod_files(&net.ips).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn write_pod_files(&self, ips: &[std::net::IpAddr]) -> Result<(), String> {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let meta = &self.pod.metadata;
        let etc = self.pod_dir.join("etc");
        std::fs::create_dir_all(&etc).map_err(|e| e.to_string())?;
        let node_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let hosts = netfiles::hosts_file_content(
            meta,
            &spec,
            ips,
            &self.ctx.dns.cluster_domain,
            &node_hosts,
        )
        .map_err(|e| e.to_string())?;
        let ns = meta.namespace.as_deref().unwrap_or("default");
        let dns = netfiles::pod_dns_config(&spec, ns, &self.ctx.dns);
        let resolv = netfiles::resolv_conf_content(&dns);
        let (hostname, domain) =
            netfiles::pod_hostname_and_domain(meta, &spec, &self.ctx.dns.cluster_domain)
                .map_err(|e| e.to_string())?;
        let kernel =
            netfiles::kernel_hostname(&hostname, &domain, spec.set_hostname_as_fqdn == Some(true))
                .map_err(|e| e.to_string())?;
        for (name, content) in [
            ("hosts", hosts),
            ("resolv.conf", resolv),
            ("hostname", netfiles::hostname_file_content(&kernel)),
        ] {
            std::fs::write(etc.join(name), content).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Starts `c` (first time) or restarts it when its back-off allows; returns when to look again
    /// if it had to wait.
    async fn start_or_restart(&mut self, c: &Container, init: bool) -> Option<Duration> {
        let previous = self.record.containers.get(&c.name).cloned();
        if let Some(prev) = &previous {
            if let Some(t) = &prev.finished {
                // Back-off: the first restart is immediate, then 10 s doubling to 5 min.
                let key = format!("crash/{}", c.name);
                let ran = t
                    .started_at
                    .map(|s| (t.finished_at - s).to_std().unwrap_or_default())
                    .unwrap_or_default();
                if ran >= self.ctx.backoff.reset_after {
                    self.backoff.remove(&key);
                }
                if let Some(b) = self.backoff.get(&key) {
                    let ready_at = b.last + b.delay;
                    if Instant::now() < ready_at {
                        let message = format!(
                            "back-off {} restarting failed container={} pod={}_{}({})",
                            fmt_duration(b.delay),
                            c.name,
                            self.record.name,
                            self.record.namespace,
                            self.uid
                        );
                        if !matches!(self.live.get(&c.name), Some(Live::Waiting { reason, .. }) if reason == "CrashLoopBackOff")
                        {
                            self.event(
                                Some(&c.name),
                                WARNING,
                                "BackOff",
                                format!(
                                    "Back-off restarting failed container {} in pod {}_{}({})",
                                    c.name, self.record.name, self.record.namespace, self.uid
                                ),
                            );
                        }
                        self.live.insert(
                            c.name.clone(),
                            Live::Waiting {
                                reason: "CrashLoopBackOff".into(),
                                message: Some(message),
                            },
                        );
                        return Some(ready_at - Instant::now());
                    }
                }
                self.bump_backoff(key);
                // The old instance goes; its end becomes lastState, its log stays for --previous.
                self.record
                    .last_terminated
                    .insert(c.name.clone(), t.clone());
                self.remove_instance(prev).await;
            }
        }
        let restart_count = previous.as_ref().map(|p| p.restart_count + 1).unwrap_or(0);
        self.start_container(c, init, restart_count).await.err()
    }

    /// Pulls, prepares and starts one instance of `c`. On failure the container's waiting reason is
    /// set and the error is returned as the time to wait before trying again.
    async fn start_container(
        &mut self,
        c: &Container,
        init: bool,
        restart_count: i32,
    ) -> Result<(), Duration> {
        let image_name = c.image.clone().unwrap_or_default();
        let image = self.ensure_image(c, &image_name).await?;
        let fail = |this: &mut Worker, reason: &str, message: String| {
            this.event(
                Some(&c.name),
                WARNING,
                "Failed",
                format!("Error: {message}"),
            );
            this.live.insert(
                c.name.clone(),
                Live::Waiting {
                    reason: reason.into(),
                    message: Some(message),
                },
            );
            Duration::from_secs(2)
        };
        let refs = match self.references(c).await {
            Ok(r) => r,
            Err(message) => return Err(fail(self, "CreateContainerConfigError", message)),
        };
        let vols =
            match volumes::prepare(&self.pod, &self.pod_dir, &refs.config_maps, &refs.secrets) {
                Ok(v) => v,
                Err(e) => {
                    self.event(
                        None,
                        WARNING,
                        "FailedMount",
                        format!("MountVolume.SetUp failed for volume: {e}"),
                    );
                    return Err(fail(self, "CreateContainerConfigError", e.0));
                }
            };
        let instance = format!("{}-{restart_count}", c.name);
        let dir = self.pod_dir.join("containers").join(&instance);
        let rootfs = dir.join("rootfs");
        let log_path = self
            .ctx
            .pod_log_dir(&self.record.namespace, &self.record.name, &self.uid)
            .join(&c.name)
            .join(format!("{restart_count}.log"));
        let id = format!("{}-{}", self.uid, instance);
        let record = ContainerRecord {
            id: id.clone(),
            restart_count,
            image: image_name.clone(),
            image_name: image
                .repo_tags
                .first()
                .cloned()
                .unwrap_or_else(|| image_name.clone()),
            image_id: image
                .repo_digests
                .first()
                .cloned()
                .unwrap_or_else(|| image.id.clone()),
            init,
            dir: dir.clone(),
            log_path: log_path.clone(),
            started_at: None,
            finished: None,
        };
        // Recorded before anything is made, so a crash mid-way is cleaned up.
        self.record.containers.insert(c.name.clone(), record);
        self.save();
        if let Err(e) = self.mount_rootfs(&image, &dir, &rootfs) {
            return Err(fail(self, "CreateContainerError", e));
        }
        let facts = RuntimeFacts {
            pod_ips: self
                .record
                .sandbox
                .as_ref()
                .map(|s| s.ips.clone())
                .unwrap_or_default(),
            host_ips: vec![self.ctx.host_ip.clone()],
            node_name: self.ctx.node_name.clone(),
        };
        let process =
            match container::process_spec(&self.pod, c, &image.config, &rootfs, &facts, &refs) {
                Ok(p) => p,
                Err(e) => return Err(fail(self, "CreateContainerConfigError", e.0)),
            };
        let mut mounts: Vec<runtime::Mount> = match volumes::container_mounts(c, &vols) {
            Ok(m) => m
                .into_iter()
                .map(|m| runtime::Mount {
                    source: m.source,
                    destination: m.destination,
                    read_only: m.read_only,
                })
                .collect(),
            Err(e) => return Err(fail(self, "CreateContainerConfigError", e.0)),
        };
        let etc = self.pod_dir.join("etc");
        for name in ["hosts", "resolv.conf", "hostname"] {
            if !mounts
                .iter()
                .any(|m| m.destination == format!("/etc/{name}"))
            {
                mounts.push(runtime::Mount {
                    source: etc.join(name),
                    destination: format!("/etc/{name}"),
                    read_only: false,
                });
            }
        }
        let hostname = std::fs::read_to_string(etc.join("hostname"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| container::pod_hostname(&self.pod));
        let cfg = ContainerConfig {
            id: id.clone(),
            bundle: dir.join("bundle"),
            rootfs: rootfs.clone(),
            args: process.args,
            env: process.env,
            cwd: process.cwd,
            uid: process.uid,
            gid: process.gid,
            additional_gids: process.additional_gids,
            hostname,
            mounts,
            netns: self.record.sandbox.as_ref().map(|s| s.netns.clone()),
            ipcns: self.record.sandbox.as_ref().and_then(|s| s.ipcns.clone()),
            cgroups_path: format!("/skiff/pod{}/{}", self.uid, instance),
            resources: resources(c),
            log_path,
            stop_signal: image.config.stop_signal.clone(),
        };
        if cfg.args.is_empty() {
            return Err(fail(
                self,
                "CreateContainerError",
                "no command specified".into(),
            ));
        }
        match self.ctx.runtime.start(&cfg).await {
            Ok(()) => {
                let now = Utc::now();
                self.event(
                    Some(&c.name),
                    NORMAL,
                    "Created",
                    format!("Created container: {}", c.name),
                );
                self.event(
                    Some(&c.name),
                    NORMAL,
                    "Started",
                    format!("Started container {}", c.name),
                );
                if let Some(r) = self.record.containers.get_mut(&c.name) {
                    r.started_at = Some(now);
                }
                self.save();
                self.live
                    .insert(c.name.clone(), Live::Running { started_at: now });
                Ok(())
            }
            Err(e) => {
                let message = match &e {
                    runtime::RuntimeError::StartFailed { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                // The failed instance counts as a run that exited (upstream: RunContainerError,
                // then CrashLoopBackOff).
                let t = Terminated {
                    exit_code: 128,
                    signal: None,
                    reason: "StartError".into(),
                    message: Some(message.clone()),
                    started_at: None,
                    finished_at: Utc::now(),
                    container_id: status::container_id(&id),
                };
                if let Some(r) = self.record.containers.get_mut(&c.name) {
                    r.finished = Some(t);
                }
                self.save();
                self.event(
                    Some(&c.name),
                    WARNING,
                    "Failed",
                    format!("Error: {message}"),
                );
                self.live.insert(
                    c.name.clone(),
                    Live::Waiting {
                        reason: "RunContainerError".into(),
                        message: Some(message),
                    },
                );
                Err(Duration::from_millis(500))
            }
        }
    }

    fn mount_rootfs(&self, image: &ImageRecord, dir: &Path, rootfs: &Path) -> Result<(), String> {
        let upper = dir.join("upper");
        let work = dir.join("work");
        for d in [&upper, &work, &rootfs.to_path_buf()] {
            std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        if overlay::is_mount_point(rootfs).unwrap_or(false) {
            return Ok(());
        }
        let layers = self.ctx.images.layer_paths(image);
        overlay::mount_rootfs(&layers, &upper, &work, rootfs).map_err(|e| e.to_string())
    }

    async fn ensure_image(&mut self, c: &Container, image: &str) -> Result<ImageRecord, Duration> {
        let key = format!("pull/{}", c.name);
        if let Some(b) = self.backoff.get(&key) {
            if Instant::now() < b.last + b.delay {
                let mut message = format!("Back-off pulling image \"{image}\"");
                if let Some(last) = self.pull_errors.get(&c.name) {
                    message.push_str(&format!(": {last}"));
                }
                if !matches!(self.live.get(&c.name), Some(Live::Waiting { reason, .. }) if reason == "ImagePullBackOff")
                {
                    self.event(Some(&c.name), NORMAL, "BackOff", message.clone());
                    self.event(
                        Some(&c.name),
                        WARNING,
                        "Failed",
                        "Error: ImagePullBackOff".into(),
                    );
                }
                self.live.insert(
                    c.name.clone(),
                    Live::Waiting {
                        reason: "ImagePullBackOff".into(),
                        message: Some(message),
                    },
                );
                return Err(b.last + b.delay - Instant::now());
            }
        }
        let policy = PullPolicy::for_container(c.image_pull_policy.as_deref(), image);
        let present = self.ctx.images.get(image).is_some();
        let pulling = matches!(policy, PullPolicy::Always)
            || (!present && matches!(policy, PullPolicy::IfNotPresent));
        if pulling {
            self.event(
                Some(&c.name),
                NORMAL,
                "Pulling",
                format!("Pulling image \"{image}\""),
            );
        }
        let mut opts = self.ctx.pull_options.clone();
        opts.credentials = self.pull_credentials(image).await;
        let started = Instant::now();
        match self.ctx.images.ensure(image, policy, &opts).await {
            Ok((record, pulled)) => {
                self.backoff.remove(&key);
                self.pull_errors.remove(&c.name);
                if pulled {
                    let took = fmt_duration(started.elapsed());
                    self.event(Some(&c.name), NORMAL, "Pulled", format!(
                        "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {} bytes.",
                        record.size
                    ));
                } else {
                    self.event(
                        Some(&c.name),
                        NORMAL,
                        "Pulled",
                        format!("Container image \"{image}\" already present on machine"),
                    );
                }
                Ok(record)
            }
            Err(e) => {
                let reason = e.reason();
                let message = if reason == "ErrImageNeverPull" {
                    format!("Container image \"{image}\" is not present with pull policy of Never")
                } else {
                    format!("Failed to pull image \"{image}\": {e}")
                };
                self.event(Some(&c.name), WARNING, "Failed", message.clone());
                self.event(Some(&c.name), WARNING, "Failed", format!("Error: {reason}"));
                self.pull_errors
                    .insert(c.name.clone(), format!("{reason}: {e}"));
                let delay = self.bump_backoff(key);
                self.live.insert(
                    c.name.clone(),
                    Live::Waiting {
                        reason: reason.into(),
                        message: Some(message),
                    },
                );
                Err(delay)
            }
        }
    }

    /// Credentials for `image` from the pod's `imagePullSecrets` (dockerconfigjson).
    async fn pull_credentials(&self, image: &str) -> Option<crate::image::Credentials> {
        let names: Vec<String> = self
            .pod
            .spec
            .iter()
            .flat_map(|s| s.image_pull_secrets.iter().flatten())
            .map(|r| r.name.clone())
            .collect();
        if names.is_empty() {
            return None;
        }
        let host = crate::image::ImageRef::parse(image)
            .ok()?
            .host()
            .to_string();
        let secrets: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.record.namespace);
        for name in names {
            let Ok(secret) = secrets.get(&name).await else {
                continue;
            };
            let data = secret.data.unwrap_or_default();
            let Some(bytes) = data
                .get(".dockerconfigjson")
                .or_else(|| data.get(".dockercfg"))
            else {
                continue;
            };
            if let Some(c) = crate::image::parse_docker_config_json(&bytes.0, &host) {
                return Some(c);
            }
        }
        None
    }

    /// Fetches the ConfigMaps and Secrets the pod's volumes and `c`'s env name.
    async fn references(&self, c: &Container) -> Result<References, String> {
        let (mut cms, mut secrets) = container::referenced_objects(c);
        let (vcms, vsecrets) = volumes::referenced_objects(&self.pod);
        cms.extend(vcms);
        secrets.extend(vsecrets);
        cms.sort();
        cms.dedup();
        secrets.sort();
        secrets.dedup();
        let mut refs = References::default();
        let cm_api: Api<ConfigMap> =
            Api::namespaced(self.ctx.client.clone(), &self.record.namespace);
        for name in cms {
            match cm_api.get_opt(&name).await {
                Ok(Some(cm)) => {
                    refs.config_maps.insert(name, cm);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("reading configmap {name}: {e}")),
            }
        }
        let s_api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.record.namespace);
        for name in secrets {
            match s_api.get_opt(&name).await {
                Ok(Some(s)) => {
                    refs.secrets.insert(name, s);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("reading secret {name}: {e}")),
            }
        }
        Ok(refs)
    }

    async fn stop_container(&mut self, name: &str, grace: Duration) {
        let Some(rec) = self.record.containers.get(name).cloned() else {
            return;
        };
        if rec.finished.is_some() {
            return;
        }
        if let Err(e) = self.ctx.runtime.stop(&rec.id, grace).await {
            tracing::warn!(container = %rec.id, error = %e, "stopping a container failed");
        }
    }

    /// The runtime's container (state, cgroup, bundle), its rootfs mount and its directory.
    async fn remove_container(&self, rec: &ContainerRecord) {
        if let Err(e) = self.ctx.runtime.remove(&rec.id).await {
            tracing::warn!(container = %rec.id, error = %e, "removing a container failed");
        }
        let rootfs = rec.dir.join("rootfs");
        if overlay::is_mount_point(&rootfs).unwrap_or(false) {
            let _ = overlay::unmount(&rootfs);
        }
        let _ = std::fs::remove_dir_all(&rec.dir);
    }

    /// Removes one container instance: runtime state, cgroup, rootfs mount and its directory. Logs
    /// stay: the previous instance's log serves `kubectl logs --previous`; older ones go.
    async fn remove_instance(&mut self, rec: &ContainerRecord) {
        self.remove_container(rec).await;
        if let Some(dir) = rec.log_path.parent() {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let n = entry
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".log")
                    .parse::<i32>()
                    .unwrap_or(i32::MAX);
                if n < rec.restart_count {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    /// Stops every container within `grace`, in parallel, then tears the sandbox down.
    async fn terminate(&mut self, grace: Duration) {
        let running: Vec<ContainerRecord> = self
            .record
            .containers
            .values()
            .filter(|r| r.finished.is_none())
            .cloned()
            .collect();
        let stops = running.iter().map(|r| {
            let name = self
                .record
                .containers
                .iter()
                .find(|(_, v)| v.id == r.id)
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
            if !grace.is_zero() || self.pod.metadata.deletion_timestamp.is_some() {
                self.event(
                    Some(&name),
                    NORMAL,
                    "Killing",
                    format!("Stopping container {name}"),
                );
            }
            let runtime = self.ctx.runtime.clone();
            let id = r.id.clone();
            async move {
                if let Err(e) = runtime.stop(&id, grace).await {
                    tracing::warn!(container = %id, error = %e, "stopping a container failed");
                }
            }
        });
        futures::future::join_all(stops).await;
        self.refresh_live().await;
        self.release_sandbox().await;
        let _ = std::fs::remove_dir_all(&self.pod_dir);
        let _ = std::fs::remove_dir_all(self.ctx.pod_log_dir(
            &self.record.namespace,
            &self.record.name,
            &self.uid,
        ));
    }

    /// Removes the containers (their exits are recorded), the rootfs mounts and the network of a
    /// pod that will not run again. Logs stay until the pod is deleted.
    async fn release_sandbox(&mut self) {
        let records: Vec<ContainerRecord> = self.record.containers.values().cloned().collect();
        let any_live = records.iter().any(|r| r.dir.exists());
        for rec in &records {
            if rec.finished.is_none() {
                let _ = self.ctx.runtime.stop(&rec.id, Duration::ZERO).await;
            }
            if rec.dir.exists() {
                self.remove_container(rec).await;
            }
        }
        // The pod-level cgroup the containers' cgroups were made under.
        if let Err(e) = runtime::remove_cgroup(&format!("/skiff/pod{}", self.uid)) {
            tracing::debug!(pod = %self.record.name, error = %e, "removing the pod cgroup failed");
        }
        if let Some(ipc) = self.record.sandbox.as_ref().and_then(|s| s.ipcns.clone()) {
            let _ = crate::network::netns::delete_path(&ipc);
        }
        let _ = crate::network::netns::delete(Path::new(IPCNS_DIR), &self.uid);
        if self.record.sandbox.is_some() || any_live {
            if let Err(e) = self.ctx.network.teardown(&self.uid).await {
                tracing::warn!(pod = %self.record.name, error = %e, "tearing down the pod network failed");
            }
            if self.record.sandbox.take().is_some() {
                self.save();
            }
        }
    }

    /// Tells the API server the pod is gone from this node: the final delete (grace 0, this uid).
    async fn confirm_deletion(&self) {
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.record.namespace);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&self.record.name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => {
                tracing::warn!(pod = %self.record.name, error = %e, "confirming the pod's deletion failed")
            }
        }
    }

    async fn write_status(&mut self) {
        let status = status::pod_status(&status::Inputs {
            pod: &self.pod,
            record: &self.record,
            live: &self.live,
            host_ip: &self.ctx.host_ip,
            now: Utc::now(),
        });
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        // Skip a write that would not change what the API server has.
        if let Some(current) = &self.pod.status {
            if serde_json::to_value(current).ok().as_ref() == Some(&status) {
                self.last_status = Some(status);
                return;
            }
        }
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.record.namespace);
        match api
            .patch_status(
                &self.record.name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await
        {
            Ok(p) => {
                self.pod = Arc::new(p);
                self.last_status = Some(status);
            }
            Err(e) => {
                tracing::debug!(pod = %self.record.name, error = %e, "writing the pod status failed")
            }
        }
    }
}

/// cgroup settings from the container's requests and limits.
fn resources(c: &Container) -> runtime::Resources {
    let r = c.resources.as_ref();
    let get = |list: Option<
        &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
               name: &str| {
        list.and_then(|l| l.get(name))
            .and_then(|q| Quantity::parse(&q.0).ok())
    };
    let limits = r.and_then(|r| r.limits.as_ref());
    let requests = r.and_then(|r| r.requests.as_ref());
    // A request defaults to the limit (the API server does this too).
    let cpu_request = get(requests, "cpu").or_else(|| get(limits, "cpu"));
    let cpu_limit = get(limits, "cpu");
    let mem_limit = get(limits, "memory");
    runtime::Resources {
        cpu_shares: Some(runtime::milli_cpu_to_shares(
            cpu_request.map(|q| q.milli_value()).unwrap_or(0),
        )),
        cpu_quota: cpu_limit
            .as_ref()
            .and_then(|q| runtime::milli_cpu_to_quota(q.milli_value())),
        cpu_period: cpu_limit.map(|_| runtime::CPU_PERIOD),
        memory_limit: mem_limit.map(|q| q.value()).filter(|v| *v > 0),
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(fmt_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(fmt_duration(Duration::from_millis(189)), "189ms");
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.234s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
    }
}
