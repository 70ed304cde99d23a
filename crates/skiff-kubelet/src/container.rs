//! What a container runs, worked out from its pod and its image as upstream does: the argv
//! (`command`/`args` over the image's `Entrypoint`/`Cmd`), the environment (image env, then `env`
//! and `envFrom` with `$(VAR)` expansion and `valueFrom` sources), the working directory and the
//! user. Pure functions: the pod worker fetches referenced ConfigMaps and Secrets first and passes
//! them in, so everything here is unit-tested without a cluster.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use skiff_api::quantity::Quantity;

use crate::image::ImageConfig;

/// The process a container runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    /// `NAME=value`, in order, each name once (later definitions replace earlier ones in place).
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// Why a container's config could not be made: the waiting reason is
/// `CreateContainerConfigError` and this is its message, as upstream words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The values `valueFrom.fieldRef` may name that are not in the pod object yet.
#[derive(Debug, Clone, Default)]
pub struct RuntimeFacts {
    pub pod_ips: Vec<String>,
    pub host_ips: Vec<String>,
    pub node_name: String,
}

/// ConfigMaps and Secrets of the pod's namespace that its containers reference, by name; absent
/// ones are missing from the cluster.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub config_maps: BTreeMap<String, ConfigMap>,
    pub secrets: BTreeMap<String, Secret>,
}

/// The names of the ConfigMaps and Secrets a container's env and envFrom read.
pub fn referenced_objects(c: &Container) -> (Vec<String>, Vec<String>) {
    let mut cms = Vec::new();
    let mut secrets = Vec::new();
    for e in c.env.iter().flatten() {
        if let Some(v) = &e.value_from {
            if let Some(r) = &v.config_map_key_ref {
                cms.push(r.name.clone());
            }
            if let Some(r) = &v.secret_key_ref {
                secrets.push(r.name.clone());
            }
        }
    }
    for f in c.env_from.iter().flatten() {
        if let Some(r) = &f.config_map_ref {
            cms.push(r.name.clone());
        }
        if let Some(r) = &f.secret_ref {
            secrets.push(r.name.clone());
        }
    }
    cms.sort();
    cms.dedup();
    secrets.sort();
    secrets.dedup();
    (cms, secrets)
}

/// The process for `c` of `pod` on an image with `image` config and root filesystem `rootfs` (read
/// for user and group names).
pub fn process_spec(
    pod: &Pod,
    c: &Container,
    image: &ImageConfig,
    rootfs: &Path,
    facts: &RuntimeFacts,
    refs: &References,
) -> Result<ProcessSpec, ConfigError> {
    let env = environment(pod, c, image, facts, refs)?;
    let lookup: BTreeMap<&str, &str> = env.iter().filter_map(|kv| kv.split_once('=')).collect();
    let args = argv(c, image)
        .into_iter()
        .map(|a| expand(&a, &lookup))
        .collect();
    let cwd = c
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| Some(image.working_dir.clone()).filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    let (uid, gid, additional_gids) = user(pod, c, image, rootfs)?;
    Ok(ProcessSpec {
        args,
        env,
        cwd,
        uid,
        gid,
        additional_gids,
    })
}

/// Upstream's argv rule: `command` replaces the image's Entrypoint and, when given, also drops its
/// Cmd; `args` replaces Cmd.
pub fn argv(c: &Container, image: &ImageConfig) -> Vec<String> {
    let command = c.command.as_ref().filter(|v| !v.is_empty());
    let args = c.args.as_ref().filter(|v| !v.is_empty());
    match (command, args) {
        (Some(cmd), Some(args)) => cmd.iter().chain(args).cloned().collect(),
        (Some(cmd), None) => cmd.clone(),
        (None, Some(args)) => image.entrypoint.iter().chain(args).cloned().collect(),
        (None, None) => image.entrypoint.iter().chain(&image.cmd).cloned().collect(),
    }
}

/// `$(VAR)` expansion as `k8s.io/kubernetes/third_party/forked/golang/expansion`: a defined
/// variable is replaced, an undefined reference is left as written, `$$` is a literal `$`.
pub fn expand(input: &str, vars: &BTreeMap<&str, &str>) -> String {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            match b[i + 1] {
                b'$' => {
                    out.push_str(&input[last..i]);
                    out.push('$');
                    i += 2;
                    last = i;
                    continue;
                }
                b'(' => {
                    if let Some(end) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + end];
                        out.push_str(&input[last..i]);
                        match vars.get(name) {
                            Some(v) => out.push_str(v),
                            None => out.push_str(&input[i..i + 3 + end]),
                        }
                        i += 3 + end;
                        last = i;
                        continue;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.push_str(&input[last..]);
    out
}

fn set_var(env: &mut Vec<(String, String)>, name: &str, value: String) {
    match env.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value,
        None => env.push((name.to_string(), value)),
    }
}

fn environment(
    pod: &Pod,
    c: &Container,
    image: &ImageConfig,
    facts: &RuntimeFacts,
    refs: &References,
) -> Result<Vec<String>, ConfigError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env: Vec<(String, String)> = Vec::new();
    for kv in &image.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        set_var(&mut env, k, v.to_string());
    }
    // The container's own variables: envFrom first, then env, as upstream (env wins).
    let mut own: Vec<(String, String)> = Vec::new();
    for f in c.env_from.iter().flatten() {
        let prefix = f.prefix.as_deref().unwrap_or("");
        if let Some(r) = &f.config_map_ref {
            match refs.config_maps.get(&r.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        set_var(&mut own, &format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError(format!("configmap \"{}\" not found", r.name))),
            }
        }
        if let Some(r) = &f.secret_ref {
            match refs.secrets.get(&r.name) {
                Some(s) => {
                    for (k, v) in s.data.iter().flatten() {
                        set_var(
                            &mut own,
                            &format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError(format!("secret \"{}\" not found", r.name))),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(from) = &e.value_from {
            let v = if let Some(f) = &from.field_ref {
                Some(field_value(pod, &f.field_path, facts)?)
            } else if let Some(r) = &from.resource_field_ref {
                Some(resource_value(pod, c, r)?)
            } else if let Some(r) = &from.config_map_key_ref {
                match refs.config_maps.get(&r.name) {
                    Some(cm) => match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => Some(v.clone()),
                        None if r.optional == Some(true) => None,
                        None => {
                            return Err(ConfigError(format!(
                                "couldn't find key {} in ConfigMap {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if r.optional == Some(true) => None,
                    None => return Err(ConfigError(format!("configmap \"{}\" not found", r.name))),
                }
            } else if let Some(r) = &from.secret_key_ref {
                match refs.secrets.get(&r.name) {
                    Some(s) => match s.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => Some(String::from_utf8_lossy(&v.0).into_owned()),
                        None if r.optional == Some(true) => None,
                        None => {
                            return Err(ConfigError(format!(
                                "couldn't find key {} in Secret {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if r.optional == Some(true) => None,
                    None => return Err(ConfigError(format!("secret \"{}\" not found", r.name))),
                }
            } else {
                None
            };
            match v {
                Some(v) => v,
                None => continue,
            }
        } else {
            // `value` may refer to variables defined before it (and to the service variables).
            let defined: BTreeMap<&str, &str> =
                own.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            expand(e.value.as_deref().unwrap_or(""), &defined)
        };
        set_var(&mut own, &e.name, value);
    }
    for (k, v) in own {
        set_var(&mut env, &k, v);
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.insert(
            0,
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
        );
    }
    if !env.iter().any(|(k, _)| k == "HOSTNAME") {
        env.push(("HOSTNAME".into(), pod_hostname(pod)));
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// The pod's hostname as upstream: `spec.hostname`, else the pod's name, cut to 63 characters
/// without a trailing `-` or `.`.
pub fn pod_hostname(pod: &Pod) -> String {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default();
    if name.len() <= 63 {
        return name;
    }
    name[..63].trim_end_matches(['-', '.']).to_string()
}

/// `valueFrom.fieldRef` (the downward API's supported paths).
fn field_value(pod: &Pod, path: &str, facts: &RuntimeFacts) -> Result<String, ConfigError> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let annotated = |map: &Option<BTreeMap<String, String>>, prefix: &str| {
        let key = path
            .strip_prefix(prefix)?
            .strip_prefix("['")?
            .strip_suffix("']")?;
        Some(
            map.as_ref()
                .and_then(|m| m.get(key))
                .cloned()
                .unwrap_or_default(),
        )
    };
    let v = match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| facts.node_name.clone()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" => facts.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => facts.pod_ips.join(","),
        "status.hostIP" => facts.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => facts.host_ips.join(","),
        "metadata.labels" => format_map(&m.labels),
        "metadata.annotations" => format_map(&m.annotations),
        _ => match annotated(&m.labels, "metadata.labels")
            .or_else(|| annotated(&m.annotations, "metadata.annotations"))
        {
            Some(v) => v,
            None => return Err(ConfigError(format!("unsupported fieldPath: {path}"))),
        },
    };
    Ok(v)
}

fn format_map(m: &Option<BTreeMap<String, String>>) -> String {
    m.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `valueFrom.resourceFieldRef`: the container's limit (else the node's allocatable, which we report
/// as unset here) or request, divided by `divisor` and rounded up, as upstream.
fn resource_value(
    pod: &Pod,
    own: &Container,
    r: &k8s_openapi::api::core::v1::ResourceFieldSelector,
) -> Result<String, ConfigError> {
    let c = match r.container_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => pod
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .find(|c| c.name == name)
            .ok_or_else(|| ConfigError(format!("container {name} not found")))?,
        None => own,
    };
    let (kind, resource) = r
        .resource
        .split_once('.')
        .ok_or_else(|| ConfigError(format!("unsupported container resource : {}", r.resource)))?;
    let res = c.resources.as_ref();
    let list = match kind {
        "limits" => res.and_then(|r| r.limits.as_ref()),
        "requests" => res.and_then(|r| r.requests.as_ref()),
        _ => {
            return Err(ConfigError(format!(
                "unsupported container resource : {}",
                r.resource
            )))
        }
    };
    let q = list
        .and_then(|l| l.get(resource))
        .and_then(|q| Quantity::parse(&q.0).ok());
    let divisor = r
        .divisor
        .as_ref()
        .and_then(|d| Quantity::parse(&d.0).ok())
        .filter(|d| !d.is_zero());
    let Some(q) = q else {
        return Ok("0".into());
    };
    let v = match resource {
        "cpu" => {
            let div_m = divisor.map(|d| d.milli_value()).unwrap_or(1000).max(1);
            (q.milli_value() + div_m - 1) / div_m
        }
        _ => {
            let div = divisor.map(|d| d.value()).unwrap_or(1).max(1);
            (q.value() + div - 1) / div
        }
    };
    Ok(v.to_string())
}

/// uid, gid and supplementary groups: securityContext (container over pod), else the image's
/// `User`, with names looked up in the image's `/etc/passwd` and `/etc/group`.
fn user(
    pod: &Pod,
    c: &Container,
    image: &ImageConfig,
    rootfs: &Path,
) -> Result<(u32, u32, Vec<u32>), ConfigError> {
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let csc = c.security_context.as_ref();
    let run_as_user = csc
        .and_then(|s| s.run_as_user)
        .or_else(|| psc.and_then(|s| s.run_as_user));
    let run_as_group = csc
        .and_then(|s| s.run_as_group)
        .or_else(|| psc.and_then(|s| s.run_as_group));
    let (image_user, image_group) = match image.user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (image.user.as_str(), None),
    };
    let uid = match run_as_user {
        Some(u) => to_id(u)?,
        None if image_user.is_empty() => 0,
        None => match image_user.parse::<u32>() {
            Ok(u) => u,
            Err(_) => lookup_passwd(rootfs, image_user)
                .map(|(u, _)| u)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "unable to find user {image_user}: no matching entries in passwd file"
                    ))
                })?,
        },
    };
    let gid = match (run_as_group, image_group) {
        (Some(g), _) => to_id(g)?,
        (None, Some(g)) if run_as_user.is_none() => match g.parse::<u32>() {
            Ok(g) => g,
            Err(_) => lookup_group(rootfs, g).ok_or_else(|| {
                ConfigError(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        },
        _ => primary_gid(rootfs, uid).unwrap_or(0),
    };
    let mut extra: Vec<u32> = Vec::new();
    if let Some(psc) = psc {
        for g in psc.supplemental_groups.iter().flatten() {
            extra.push(to_id(*g)?);
        }
        if let Some(g) = psc.fs_group {
            extra.push(to_id(g)?);
        }
    }
    extra.sort_unstable();
    extra.dedup();
    Ok((uid, gid, extra))
}

fn to_id(v: i64) -> Result<u32, ConfigError> {
    u32::try_from(v).map_err(|_| ConfigError(format!("invalid user or group id {v}")))
}

fn read_db(rootfs: &Path, file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(rootfs.join(file))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

fn lookup_passwd(rootfs: &Path, name: &str) -> Option<(u32, u32)> {
    read_db(rootfs, "etc/passwd")
        .into_iter()
        .find(|f| f.first().map(String::as_str) == Some(name) && f.len() >= 4)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
}

fn primary_gid(rootfs: &Path, uid: u32) -> Option<u32> {
    read_db(rootfs, "etc/passwd")
        .into_iter()
        .find(|f| f.len() >= 4 && f[2].parse::<u32>().ok() == Some(uid))
        .and_then(|f| f[3].parse().ok())
}

fn lookup_group(rootfs: &Path, name: &str) -> Option<u32> {
    read_db(rootfs, "etc/group")
        .into_iter()
        .find(|f| f.first().map(String::as_str) == Some(name) && f.len() >= 3)
        .and_then(|f| f[2].parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn image() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["/entry".into()],
            cmd: vec!["cmd1".into(), "cmd2".into()],
            env: vec!["PATH=/bin".into(), "A=image".into()],
            ..Default::default()
        }
    }

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn argv_follows_upstream_rules() {
        let img = image();
        let c = |v| container(v);
        assert_eq!(
            argv(&c(json!({"name": "a"})), &img),
            ["/entry", "cmd1", "cmd2"]
        );
        assert_eq!(
            argv(&c(json!({"name": "a", "command": ["sh"]})), &img),
            ["sh"]
        );
        assert_eq!(
            argv(&c(json!({"name": "a", "args": ["x"]})), &img),
            ["/entry", "x"]
        );
        assert_eq!(
            argv(
                &c(json!({"name": "a", "command": ["sh"], "args": ["-c", "y"]})),
                &img
            ),
            ["sh", "-c", "y"]
        );
    }

    #[test]
    fn expansion_matches_upstream() {
        let vars: BTreeMap<&str, &str> = [("A", "1"), ("B", "two")].into_iter().collect();
        assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
        assert_eq!(expand("$(C)", &vars), "$(C)");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("$A $(A", &vars), "$A $(A");
        assert_eq!(expand("x$$y", &vars), "x$y");
    }

    #[test]
    fn environment_layers_and_downward_api() {
        let p = pod(json!({
            "metadata": {"name": "web", "namespace": "ns1", "uid": "u-1", "labels": {"app": "x"}},
            "spec": {"nodeName": "n1", "containers": [{
                "name": "c", "image": "busybox",
                "resources": {"limits": {"memory": "64Mi", "cpu": "1500m"}},
                "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
                "env": [
                    {"name": "A", "value": "container"},
                    {"name": "B", "value": "$(A)-b"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}
                ]
            }]}
        }));
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        let facts = RuntimeFacts {
            pod_ips: vec!["10.42.0.5".into()],
            host_ips: vec!["127.0.0.1".into()],
            node_name: "n1".into(),
        };
        let mut refs = References::default();
        refs.config_maps.insert(
            "cm".into(),
            serde_json::from_value(json!({"metadata": {"name": "cm"}, "data": {"k": "v"}}))
                .unwrap(),
        );
        let spec =
            process_spec(&p, &c, &image(), Path::new("/nonexistent"), &facts, &refs).unwrap();
        let get = |k: &str| {
            spec.env
                .iter()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
        };
        assert_eq!(get("PATH").as_deref(), Some("/bin"));
        assert_eq!(get("A").as_deref(), Some("container"));
        assert_eq!(get("B").as_deref(), Some("container-b"));
        assert_eq!(get("POD").as_deref(), Some("web"));
        assert_eq!(get("NS").as_deref(), Some("ns1"));
        assert_eq!(get("IP").as_deref(), Some("10.42.0.5"));
        assert_eq!(get("NODE").as_deref(), Some("n1"));
        assert_eq!(get("APP").as_deref(), Some("x"));
        assert_eq!(get("MEM").as_deref(), Some("64"));
        assert_eq!(get("CPU").as_deref(), Some("2"));
        assert_eq!(get("K").as_deref(), Some("v"));
        assert_eq!(get("CM_k").as_deref(), Some("v"));
        assert_eq!(get("HOSTNAME").as_deref(), Some("web"));
        assert_eq!(spec.cwd, "/");
        assert_eq!((spec.uid, spec.gid), (0, 0));

        let missing = process_spec(
            &p,
            &c,
            &image(),
            Path::new("/x"),
            &facts,
            &References::default(),
        );
        assert_eq!(missing.unwrap_err().0, "configmap \"cm\" not found");
    }

    #[test]
    fn user_from_security_context_and_image() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"securityContext": {"runAsUser": 1000, "supplementalGroups": [5], "fsGroup": 7}, "containers": [{"name": "c"}]}}),
        );
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        let img = ImageConfig {
            user: "www".into(),
            ..Default::default()
        };
        let s = process_spec(
            &p,
            &c,
            &img,
            dir.path(),
            &RuntimeFacts::default(),
            &References::default(),
        )
        .unwrap();
        assert_eq!((s.uid, s.gid, s.additional_gids), (1000, 0, vec![5, 7]));

        let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}));
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        let s = process_spec(
            &p,
            &c,
            &img,
            dir.path(),
            &RuntimeFacts::default(),
            &References::default(),
        )
        .unwrap();
        assert_eq!((s.uid, s.gid), (33, 34));
        let img = ImageConfig {
            user: "www:staff".into(),
            working_dir: "/srv".into(),
            ..Default::default()
        };
        let s = process_spec(
            &p,
            &c,
            &img,
            dir.path(),
            &RuntimeFacts::default(),
            &References::default(),
        )
        .unwrap();
        assert_eq!((s.uid, s.gid, s.cwd.as_str()), (33, 50, "/srv"));
        let img = ImageConfig {
            user: "nobody".into(),
            ..Default::default()
        };
        assert!(process_spec(
            &p,
            &c,
            &img,
            dir.path(),
            &RuntimeFacts::default(),
            &References::default()
        )
        .is_err());
    }
}
