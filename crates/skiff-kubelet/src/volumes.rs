//! Pod volumes on the node: `emptyDir` (a directory in the pod's directory, gone with the pod),
//! `hostPath` (with upstream's `type` checks), and `configMap`/`secret` (their keys written as files,
//! `items` and `defaultMode` honoured, mounted read-only as upstream). Each volume becomes a host
//! path that containers bind-mount at their `volumeMounts`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, Pod, Secret, Volume};

/// A volume ready on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    pub path: PathBuf,
    /// ConfigMap and Secret volumes are always mounted read-only.
    pub force_read_only: bool,
}

/// A bind mount for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// Why a volume could not be set up (event `FailedMount`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VolumeError(pub String);

/// The ConfigMaps and Secrets the pod's volumes name.
pub fn referenced_objects(pod: &Pod) -> (Vec<String>, Vec<String>) {
    let mut cms = Vec::new();
    let mut secrets = Vec::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(cm) = &v.config_map {
            cms.push(cm.name.clone());
        }
        if let Some(s) = &v.secret {
            secrets.extend(s.secret_name.clone());
        }
    }
    (cms, secrets)
}

fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

fn write_items(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: i32,
    kind: &str,
    name: &str,
) -> Result<(), VolumeError> {
    let err = |e: std::io::Error| VolumeError(format!("writing {kind} volume {name}: {e}"));
    // Rewrite in a fresh directory and swap, so a container never sees half the files.
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(err)?;
    let entries: Vec<(String, String, i32)> = match items {
        Some(items) => {
            let mut v = Vec::new();
            for it in items {
                if !data.contains_key(&it.key) {
                    return Err(VolumeError(format!(
                        "configmap references non-existent config key: {}",
                        it.key
                    )));
                }
                v.push((
                    it.key.clone(),
                    it.path.clone(),
                    it.mode.unwrap_or(default_mode),
                ));
            }
            v
        }
        None => data
            .keys()
            .map(|k| (k.clone(), k.clone(), default_mode))
            .collect(),
    };
    for (key, path, mode) in entries {
        if !safe_relative(&path) {
            return Err(VolumeError(format!(
                "invalid path {path:?} in {kind} volume {name}"
            )));
        }
        let target = tmp.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        std::fs::write(&target, &data[&key]).map_err(err)?;
        std::fs::set_permissions(
            &target,
            std::fs::Permissions::from_mode(mode as u32 & 0o7777),
        )
        .map_err(err)?;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(err)?;
    Ok(())
}

/// Sets up every volume of `pod` under `pod_dir/volumes`.
pub fn prepare(
    pod: &Pod,
    pod_dir: &Path,
    config_maps: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<BTreeMap<String, HostVolume>, VolumeError> {
    let mut out = BTreeMap::new();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        out.insert(
            v.name.clone(),
            prepare_one(v, ns, pod_dir, config_maps, secrets)?,
        );
    }
    Ok(out)
}

fn prepare_one(
    v: &Volume,
    ns: &str,
    pod_dir: &Path,
    config_maps: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<HostVolume, VolumeError> {
    let io = |e: std::io::Error| VolumeError(format!("volume {}: {e}", v.name));
    if v.empty_dir.is_some() {
        let path = pod_dir
            .join("volumes/kubernetes.io~empty-dir")
            .join(&v.name);
        std::fs::create_dir_all(&path).map_err(io)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).map_err(io)?;
        return Ok(HostVolume {
            path,
            force_read_only: false,
        });
    }
    if let Some(hp) = &v.host_path {
        let path = PathBuf::from(&hp.path);
        let kind = hp.type_.as_deref().unwrap_or("");
        let meta = std::fs::metadata(&path);
        let fail = |what: &str| {
            Err(VolumeError(format!(
                "hostPath type check failed: {} is not a {what}",
                hp.path
            )))
        };
        match kind {
            "DirectoryOrCreate" if meta.is_err() => {
                std::fs::create_dir_all(&path).map_err(io)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(io)?;
            }
            "Directory" if !meta.as_ref().is_ok_and(|m| m.is_dir()) => return fail("directory"),
            "FileOrCreate" if meta.is_err() => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::fs::File::create(&path).map_err(io)?;
            }
            "File" if !meta.as_ref().is_ok_and(|m| m.is_file()) => return fail("file"),
            "Socket" | "CharDevice" | "BlockDevice" if meta.is_err() => return fail(kind),
            _ => {}
        }
        return Ok(HostVolume {
            path,
            force_read_only: false,
        });
    }
    if let Some(cm) = &v.config_map {
        let path = pod_dir
            .join("volumes/kubernetes.io~configmap")
            .join(&v.name);
        let data: BTreeMap<String, Vec<u8>> = match config_maps.get(&cm.name) {
            Some(obj) => obj
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                .chain(
                    obj.binary_data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.0.clone())),
                )
                .collect(),
            None if cm.optional == Some(true) => BTreeMap::new(),
            None => return Err(VolumeError(format!("configmap \"{}\" not found", cm.name))),
        };
        write_items(
            &path,
            &data,
            cm.items.as_ref(),
            cm.default_mode.unwrap_or(0o644),
            "configmap",
            &v.name,
        )?;
        return Ok(HostVolume {
            path,
            force_read_only: true,
        });
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let path = pod_dir.join("volumes/kubernetes.io~secret").join(&v.name);
        let data: BTreeMap<String, Vec<u8>> = match secrets.get(&name) {
            Some(obj) => obj
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            None if s.optional == Some(true) => BTreeMap::new(),
            None => return Err(VolumeError(format!("secret \"{name}\" not found"))),
        };
        write_items(
            &path,
            &data,
            s.items.as_ref(),
            s.default_mode.unwrap_or(0o644),
            "secret",
            &v.name,
        )?;
        return Ok(HostVolume {
            path,
            force_read_only: true,
        });
    }
    Err(VolumeError(format!(
        "volume {} in namespace {ns}: this volume type is not supported by Skiff's node agent (supported: emptyDir, hostPath, configMap, secret)",
        v.name
    )))
}

/// The bind mounts of `c`'s `volumeMounts` (with `subPath` resolved inside the volume).
pub fn container_mounts(
    c: &Container,
    volumes: &BTreeMap<String, HostVolume>,
) -> Result<Vec<BindMount>, VolumeError> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let vol = volumes
            .get(&m.name)
            .ok_or_else(|| VolumeError(format!("unable to find volume {}", m.name)))?;
        let mut source = vol.path.clone();
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if !safe_relative(sub) {
                return Err(VolumeError(format!("invalid subPath {sub:?}")));
            }
            source = source.join(sub);
            if !source.exists() {
                std::fs::create_dir_all(&source)
                    .map_err(|e| VolumeError(format!("subPath {sub}: {e}")))?;
            }
        }
        out.push(BindMount {
            source,
            destination: m.mount_path.clone(),
            read_only: vol.force_read_only || m.read_only == Some(true),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volumes_become_host_paths() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host");
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {
            "containers": [{"name": "c", "volumeMounts": [
                {"name": "scratch", "mountPath": "/scratch"},
                {"name": "cfg", "mountPath": "/etc/cfg"},
                {"name": "h", "mountPath": "/h", "readOnly": true},
            ]}],
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a", "path": "sub/a.txt"}]}},
                {"name": "h", "hostPath": {"path": host.to_str().unwrap(), "type": "DirectoryOrCreate"}},
            ]}})).unwrap();
        let mut cms = BTreeMap::new();
        cms.insert(
            "cm".to_string(),
            serde_json::from_value(
                json!({"metadata": {"name": "cm"}, "data": {"a": "A", "b": "B"}}),
            )
            .unwrap(),
        );
        let vols = prepare(&pod, dir.path(), &cms, &BTreeMap::new()).unwrap();
        assert!(vols["scratch"].path.is_dir());
        assert_eq!(
            std::fs::read_to_string(vols["cfg"].path.join("sub/a.txt")).unwrap(),
            "A"
        );
        assert!(!vols["cfg"].path.join("b").exists());
        assert!(host.is_dir());
        let mounts = container_mounts(&pod.spec.as_ref().unwrap().containers[0], &vols).unwrap();
        assert_eq!(mounts.len(), 3);
        assert!(mounts[1].read_only && mounts[2].read_only && !mounts[0].read_only);
        assert_eq!(
            prepare(&pod, dir.path(), &BTreeMap::new(), &BTreeMap::new())
                .unwrap_err()
                .0,
            "configmap \"cm\" not found"
        );
    }
}
