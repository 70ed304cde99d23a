//! The agent's Node: registration, status and heartbeat, as the kubelet's node status manager.
//!
//! - Registration creates the Node (or adopts an existing one of the same name) with the labels
//!   upstream's kubelet sets and the host's facts.
//! - Status (capacity, allocatable, conditions, addresses, nodeInfo, daemonEndpoints, images) is
//!   patched when it changes and at least every `status_report_frequency` (upstream: 5 min; the
//!   issue asks for a minute) so the node's heartbeat in its status never goes stale.
//! - The heartbeat proper is a Lease in `kube-node-lease` renewed every 10 s (upstream's
//!   NodeLease), owned by the Node so it goes when the Node does.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ContainerImage, Node};
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// Kubernetes' release this agent reports as its kubelet version (the API server's minor).
pub const KUBELET_VERSION: &str = "v1.32.4-skiff";

/// Memory kept back from pods: upstream's default hard eviction threshold `memory.available<100Mi`.
const EVICTION_MEMORY: u64 = 100 * 1024 * 1024;

/// What the host has, read once at start (capacity does not change while running).
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub cpus: u64,
    pub memory_bytes: u64,
    pub ephemeral_storage_bytes: u64,
    pub hostname: String,
    pub kernel_version: String,
    pub os_image: String,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub runtime_version: String,
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl HostInfo {
    /// Reads the host's facts; `data_dir` is where ephemeral storage lives.
    pub fn detect(data_dir: &Path, runtime_version: String) -> HostInfo {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1);
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(0);
        let ephemeral_storage_bytes = rustix::fs::statvfs(data_dir)
            .map(|s| s.f_blocks * s.f_frsize)
            .unwrap_or(0);
        let os_image = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "Linux".into());
        let uname = rustix::system::uname();
        HostInfo {
            cpus,
            memory_bytes,
            ephemeral_storage_bytes,
            hostname: uname.nodename().to_string_lossy().to_lowercase(),
            kernel_version: uname.release().to_string_lossy().into_owned(),
            os_image,
            machine_id: read_trim("/etc/machine-id"),
            system_uuid: read_trim("/sys/class/dmi/id/product_uuid"),
            boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
            runtime_version,
        }
    }
}

/// The node's own settings.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub name: String,
    pub ip: String,
    pub kubelet_port: u16,
    pub pod_cidr: String,
    pub max_pods: u32,
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The capacity and allocatable lists.
pub fn resources(host: &HostInfo, max_pods: u32) -> (Value, Value) {
    let mem_ki = host.memory_bytes / 1024;
    let capacity = json!({
        "cpu": host.cpus.to_string(),
        "ephemeral-storage": format!("{}Ki", host.ephemeral_storage_bytes / 1024),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": format!("{mem_ki}Ki"),
        "pods": max_pods.to_string(),
    });
    let allocatable = json!({
        "cpu": host.cpus.to_string(),
        // Upstream's default `nodefs.available<10%` keeps a tenth back.
        "ephemeral-storage": (host.ephemeral_storage_bytes / 10 * 9).to_string(),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": format!("{}Ki", host.memory_bytes.saturating_sub(EVICTION_MEMORY) / 1024),
        "pods": max_pods.to_string(),
    });
    (capacity, allocatable)
}

/// The labels the kubelet puts on its node.
pub fn labels(settings: &NodeSettings) -> BTreeMap<String, String> {
    [
        ("beta.kubernetes.io/arch", arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch()),
        ("kubernetes.io/hostname", settings.name.as_str()),
        ("kubernetes.io/os", "linux"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    since: &str,
) -> Value {
    json!({"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since,
        "reason": reason, "message": message})
}

/// The node's status, every field the kubelet owns. `since` is when the agent became ready (the
/// conditions' transition time).
pub fn status(
    host: &HostInfo,
    settings: &NodeSettings,
    images: &[ContainerImage],
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Value {
    let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (capacity, allocatable) = resources(host, settings.max_pods);
    json!({
        "capacity": capacity,
        "allocatable": allocatable,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", &now, &since),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", &now, &since),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", &now, &since),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", &now, &since),
        ],
        "addresses": [
            {"type": "InternalIP", "address": settings.ip},
            {"type": "Hostname", "address": settings.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": settings.kubelet_port}},
        "nodeInfo": {
            "machineID": host.machine_id,
            "systemUUID": host.system_uuid,
            "bootID": host.boot_id,
            "kernelVersion": host.kernel_version,
            "osImage": host.os_image,
            "containerRuntimeVersion": host.runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": arch(),
        },
        "images": images,
    })
}

/// The status without the times that change on every heartbeat, to tell a real change.
fn without_heartbeat(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(conds) = s.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastHeartbeatTime");
            }
        }
    }
    s
}

/// Registers the node: creates it, or takes over an existing Node of the same name (the agent
/// restarted). Returns the Node's uid.
pub async fn register(
    nodes: &Api<Node>,
    settings: &NodeSettings,
    status: &Value,
) -> Result<String, kube::Error> {
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": settings.name,
            "labels": labels(settings),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"podCIDR": settings.pod_cidr, "podCIDRs": [settings.pod_cidr]},
    }))
    .map_err(kube::Error::SerdeError)?;
    let created = match nodes.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 409 => {
            // Re-registration: make sure our labels are there, keep everything else.
            let patch = json!({"metadata": {"labels": labels(settings)}});
            nodes
                .patch(
                    &settings.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?
        }
        Err(e) => return Err(e),
    };
    nodes
        .patch_status(
            &settings.name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await?;
    Ok(created.metadata.uid.unwrap_or_default())
}

/// Keeps the node's status and Lease fresh until `stop` fires.
pub struct Heartbeat {
    pub nodes: Api<Node>,
    pub leases: Api<Lease>,
    pub settings: NodeSettings,
    pub host: HostInfo,
    pub node_uid: String,
    pub lease_interval: Duration,
    pub status_report_frequency: Duration,
    pub ready_since: DateTime<Utc>,
}

impl Heartbeat {
    /// Runs the lease renewal and status loop. `images` gives the current `status.images`.
    pub async fn run(
        self,
        images: impl Fn() -> Vec<ContainerImage> + Send,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut last_status: Option<(Value, std::time::Instant)> = None;
        let mut tick = tokio::time::interval(self.lease_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = self.renew_lease().await {
                tracing::warn!(error = %e, "renewing the node lease failed");
            }
            let status = status(
                &self.host,
                &self.settings,
                &images(),
                Utc::now(),
                self.ready_since,
            );
            let key = without_heartbeat(&status);
            let due = match &last_status {
                None => true,
                Some((prev, at)) => *prev != key || at.elapsed() >= self.status_report_frequency,
            };
            if due {
                let patch = json!({ "status": status });
                match self
                    .nodes
                    .patch_status(
                        &self.settings.name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    Ok(_) => last_status = Some((key, std::time::Instant::now())),
                    Err(e) => tracing::warn!(error = %e, "updating the node status failed"),
                }
            }
        }
    }

    async fn renew_lease(&self) -> Result<(), kube::Error> {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let name = &self.settings.name;
        let patch =
            json!({"spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}});
        match self
            .leases
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let lease: Lease = serde_json::from_value(json!({
                    "metadata": {"name": name, "namespace": "kube-node-lease",
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": self.node_uid}]},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now},
                }))
                .map_err(kube::Error::SerdeError)?;
                self.leases
                    .create(&PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostInfo {
        HostInfo {
            cpus: 2,
            memory_bytes: 4 * 1024 * 1024 * 1024,
            ephemeral_storage_bytes: 100 * 1024 * 1024 * 1024,
            hostname: "h".into(),
            kernel_version: "6.1".into(),
            os_image: "Debian".into(),
            machine_id: "m".into(),
            system_uuid: "s".into(),
            boot_id: "b".into(),
            runtime_version: "runc://1.1.5".into(),
        }
    }

    #[test]
    fn status_has_upstream_shape() {
        let settings = NodeSettings {
            name: "n1".into(),
            ip: "127.0.0.1".into(),
            kubelet_port: 10250,
            pod_cidr: "10.42.0.0/24".into(),
            max_pods: 110,
        };
        let s = status(&host(), &settings, &[], Utc::now(), Utc::now());
        assert_eq!(s["capacity"]["memory"], "4194304Ki");
        assert_eq!(s["allocatable"]["memory"], "4091904Ki");
        assert_eq!(s["capacity"]["pods"], "110");
        assert_eq!(s["conditions"][3]["type"], "Ready");
        assert_eq!(s["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n1"}, "status": s})).unwrap();
        assert_eq!(
            node.status.unwrap().node_info.unwrap().kubelet_version,
            KUBELET_VERSION
        );
        assert_eq!(labels(&settings)["kubernetes.io/hostname"], "n1");
    }

    #[test]
    fn heartbeat_times_do_not_count_as_change() {
        let settings = NodeSettings {
            name: "n1".into(),
            ip: "127.0.0.1".into(),
            kubelet_port: 1,
            pod_cidr: "10.42.0.0/24".into(),
            max_pods: 110,
        };
        let since = Utc::now();
        let a = status(&host(), &settings, &[], since, since);
        let b = status(
            &host(),
            &settings,
            &[],
            since + chrono::Duration::seconds(30),
            since,
        );
        assert_ne!(a, b);
        assert_eq!(without_heartbeat(&a), without_heartbeat(&b));
    }
}
