//! The OCI runtime spec (`config.json`) of one container, with containerd's defaults for a
//! non-privileged container (capabilities, mounts, masked and read-only paths, rlimits).

use serde_json::{json, Value};

use super::ContainerConfig;

/// containerd's default capability set (14 capabilities).
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// containerd's default masked paths.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// containerd's default read-only paths.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host facts that change the spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostFeatures {
    /// cgroup v1 `memory.memsw.*` exists: set the swap limit equal to the memory limit (no swap),
    /// as containerd's CRI plugin does.
    pub memory_swap: bool,
}

impl HostFeatures {
    /// Probes the running host.
    pub fn detect() -> HostFeatures {
        HostFeatures {
            memory_swap: std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                .exists(),
        }
    }
}

fn default_mounts() -> Vec<Value> {
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ]
}

/// Generates `config.json` for `cfg`.
pub fn generate(cfg: &ContainerConfig, host: HostFeatures) -> Value {
    let caps: Vec<&str> = DEFAULT_CAPABILITIES.to_vec();
    let cwd = if cfg.cwd.is_empty() {
        "/"
    } else {
        cfg.cwd.as_str()
    };

    // Caller's bind mounts replace a default mount with the same destination (as containerd).
    let mut mounts: Vec<Value> = default_mounts()
        .into_iter()
        .filter(|m| {
            !cfg.mounts
                .iter()
                .any(|u| m["destination"] == Value::String(u.destination.clone()))
        })
        .collect();
    for m in &cfg.mounts {
        mounts.push(json!({
            "destination": m.destination,
            "type": "bind",
            "source": m.source,
            "options": ["rbind", "rprivate", if m.read_only { "ro" } else { "rw" }],
        }));
    }

    let ns = |kind: &str, path: &Option<std::path::PathBuf>| match path {
        Some(p) => json!({"type": kind, "path": p}),
        None => json!({"type": kind}),
    };
    let namespaces = vec![
        json!({"type": "pid"}),
        ns("ipc", &cfg.ipcns),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
        ns("network", &cfg.netns),
    ];

    let mut resources = json!({
        "devices": [{"allow": false, "access": "rwm"}],
    });
    let r = &cfg.resources;
    if let Some(limit) = r.memory_limit.filter(|l| *l > 0) {
        let mut mem = json!({ "limit": limit });
        if host.memory_swap {
            mem["swap"] = json!(limit);
        }
        resources["memory"] = mem;
    }
    let mut cpu = serde_json::Map::new();
    if let Some(shares) = r.cpu_shares {
        cpu.insert("shares".into(), json!(shares));
    }
    if let Some(quota) = r.cpu_quota.filter(|q| *q > 0) {
        cpu.insert("quota".into(), json!(quota));
        cpu.insert(
            "period".into(),
            json!(r.cpu_period.unwrap_or(super::CPU_PERIOD)),
        );
    } else if let Some(period) = r.cpu_period {
        cpu.insert("period".into(), json!(period));
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }

    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {
                "uid": cfg.uid,
                "gid": cfg.gid,
                "additionalGids": cfg.additional_gids,
            },
            "args": cfg.args,
            "env": cfg.env,
            "cwd": cwd,
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": false,
        },
        "root": { "path": cfg.rootfs, "readonly": false },
        "hostname": cfg.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": cfg.cgroups_path,
            "resources": resources,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{milli_cpu_to_quota, milli_cpu_to_shares, Mount, Resources};
    use std::path::PathBuf;

    fn cfg() -> ContainerConfig {
        ContainerConfig {
            id: "abc-c-0".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            args: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "".into(),
            uid: 1000,
            gid: 100,
            additional_gids: vec![10, 20],
            hostname: "pod-a".into(),
            mounts: vec![
                Mount {
                    source: "/v/data".into(),
                    destination: "/data".into(),
                    read_only: true,
                },
                Mount {
                    source: "/v/shm".into(),
                    destination: "/dev/shm".into(),
                    read_only: false,
                },
            ],
            netns: Some(PathBuf::from("/run/netns/p")),
            ipcns: None,
            cgroups_path: "/skiff/podabc/c".into(),
            resources: Resources {
                cpu_shares: Some(milli_cpu_to_shares(250)),
                cpu_quota: milli_cpu_to_quota(500),
                cpu_period: None,
                memory_limit: Some(64 << 20),
            },
            log_path: "/l".into(),
            stop_signal: None,
        }
    }

    #[test]
    fn process_fields() {
        let s = generate(&cfg(), HostFeatures::default());
        let p = &s["process"];
        assert_eq!(p["args"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(p["env"], json!(["PATH=/bin"]));
        assert_eq!(p["cwd"], "/");
        assert_eq!(
            p["user"],
            json!({"uid": 1000, "gid": 100, "additionalGids": [10, 20]})
        );
        assert_eq!(p["noNewPrivileges"], false);
        assert_eq!(p["terminal"], false);
        assert_eq!(p["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(
            p["capabilities"]["effective"],
            p["capabilities"]["bounding"]
        );
        assert!(p["capabilities"].get("inheritable").is_none());
        assert_eq!(p["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(s["hostname"], "pod-a");
        assert_eq!(s["root"]["path"], "/b/rootfs");
    }

    #[test]
    fn namespaces_and_resources() {
        let s = generate(&cfg(), HostFeatures { memory_swap: true });
        let l = &s["linux"];
        assert_eq!(
            l["namespaces"],
            json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                   {"type": "network", "path": "/run/netns/p"}])
        );
        assert_eq!(l["cgroupsPath"], "/skiff/podabc/c");
        assert_eq!(
            l["resources"]["memory"],
            json!({"limit": 67108864, "swap": 67108864})
        );
        assert_eq!(
            l["resources"]["cpu"],
            json!({"shares": 256, "quota": 50000, "period": 100000})
        );
        assert_eq!(l["maskedPaths"].as_array().unwrap().len(), 11);
        assert_eq!(l["readonlyPaths"][3], "/proc/sys");
        assert!(l.get("seccomp").is_none());

        let mut c = cfg();
        c.resources = Resources::default();
        c.ipcns = Some("/proc/7/ns/ipc".into());
        let s = generate(&c, HostFeatures { memory_swap: true });
        assert!(s["linux"]["resources"].get("memory").is_none());
        assert!(s["linux"]["resources"].get("cpu").is_none());
        assert_eq!(
            s["linux"]["namespaces"][1],
            json!({"type": "ipc", "path": "/proc/7/ns/ipc"})
        );
    }

    #[test]
    fn mounts() {
        let s = generate(&cfg(), HostFeatures::default());
        let m = s["mounts"].as_array().unwrap();
        let dests: Vec<&str> = m
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/dev/mqueue",
                "/sys",
                "/sys/fs/cgroup",
                "/data",
                "/dev/shm"
            ]
        );
        assert_eq!(m[4]["options"].as_array().unwrap().last().unwrap(), "ro");
        assert_eq!(
            m[6],
            json!({"destination": "/data", "type": "bind", "source": "/v/data",
                   "options": ["rbind", "rprivate", "ro"]})
        );
        assert_eq!(m[7]["options"][2], "rw");
    }

    #[test]
    fn cpu_conversions() {
        assert_eq!(milli_cpu_to_shares(0), 2);
        assert_eq!(milli_cpu_to_shares(1), 2);
        assert_eq!(milli_cpu_to_shares(1000), 1024);
        assert_eq!(milli_cpu_to_quota(0), None);
        assert_eq!(milli_cpu_to_quota(5), Some(1000));
        assert_eq!(milli_cpu_to_quota(1500), Some(150000));
    }
}
