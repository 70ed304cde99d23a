//! Pod, pod template and binding validation (`ValidatePodCreate`, `ValidatePodSpec`, `ValidatePodUpdate`,
//! `ValidatePodStatusUpdate`, `ValidatePodBinding`, `ValidatePodTemplateSpec`).
//!
//! Volume sources Skiff cannot serve (cloud disks and the like) are still counted for the "exactly one
//! source" rule, but only the common ones (emptyDir, hostPath, configMap, secret, projected, downwardAPI,
//! persistentVolumeClaim, nfs, gitRepo, csi) have their inner fields checked.

use super::{
    go_opt, go_strings, invalid_each, label_name, label_selector, labels, nonnegative, object_meta,
    object_meta_update, IS_NOT_POSITIVE,
};
use crate::field::{quote, ErrorList, FieldError, Path};
use crate::names;
use crate::quantity::Quantity;
use k8s_openapi::api::core::v1::{
    Affinity, Binding, Container, EnvFromSource, EnvVar, HTTPGetAction, KeyToPath, Lifecycle,
    LifecycleHandler, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector,
    Pod, PodAffinityTerm, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecurityContext,
    Toleration, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// The settings that differ between a pod and a pod template.
#[derive(Clone, Copy)]
struct Opts {
    resource_is_pod: bool,
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// `ValidateDNS1123Label` at a path.
fn dns_label(value: &str, path: &Path) -> ErrorList {
    invalid_each(path, value, names::is_dns1123_label(value))
}

fn dns_subdomain(value: &str, path: &Path) -> ErrorList {
    invalid_each(path, value, names::is_dns1123_subdomain(value))
}

fn qualified_name(value: &str, path: &Path) -> ErrorList {
    invalid_each(path, value, names::is_qualified_name(value))
}

/// `validatePathNoBacksteps`.
fn no_backsteps(target: &str, path: &Path) -> ErrorList {
    if target.replace('\\', "/").split('/').any(|p| p == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// `validateLocalDescendingPath`.
fn local_descending_path(target: &str, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// `ValidateLocalNonReservedPath`.
fn local_non_reserved_path(target: &str, path: &Path) -> ErrorList {
    let mut errs = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errs
}

fn file_mode(mode: Option<i32>, path: &Path) -> ErrorList {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => {
            vec![FieldError::invalid_raw(path, m, FILE_MODE_ERR)]
        }
        _ => Vec::new(),
    }
}

fn key_to_path(kp: &KeyToPath, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if kp.key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    if kp.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(local_non_reserved_path(&kp.path, &path.child("path")));
    errs.extend(file_mode(kp.mode, &path.child("mode")));
    errs
}

const VOLUME_DOWNWARD_FIELDS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];
const ENV_DOWNWARD_FIELDS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_EXPRESSIONS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `validateObjectFieldSelector` (after the v1 downward API label conversion, which accepts the paths
/// listed plus subscripted `metadata.labels['k']` / `metadata.annotations['k']`).
fn object_field_selector(fs: &ObjectFieldSelector, allowed: &[&str], path: &Path) -> ErrorList {
    let api_version = s(&fs.api_version);
    if api_version.is_empty() {
        return vec![FieldError::required(&path.child("apiVersion"), "")];
    }
    if fs.field_path.is_empty() {
        return vec![FieldError::required(&path.child("fieldPath"), "")];
    }
    let fp = fs.field_path.as_str();
    if let Some((base, rest)) = fp.split_once('[') {
        if let Some(sub) = rest
            .strip_suffix(']')
            .and_then(|r| r.strip_prefix('\''))
            .and_then(|r| r.strip_suffix('\''))
        {
            return match base {
                "metadata.annotations" => qualified_name(&sub.to_lowercase(), path),
                "metadata.labels" => qualified_name(sub, path),
                _ => vec![FieldError::invalid(
                    path,
                    base,
                    "does not support subscript",
                )],
            };
        }
    }
    let known = allowed.contains(&fp)
        || VOLUME_DOWNWARD_FIELDS.contains(&fp)
        || ENV_DOWNWARD_FIELDS.contains(&fp);
    if !known || api_version != "v1" {
        return vec![FieldError::invalid(
            &path.child("fieldPath"),
            fp,
            format!("error converting fieldPath: field label not supported: {fp}"),
        )];
    }
    if !allowed.contains(&fp) {
        let mut sorted: Vec<&str> = allowed.to_vec();
        sorted.sort_unstable();
        return vec![FieldError::not_supported(
            &path.child("fieldPath"),
            fp,
            &sorted,
        )];
    }
    Vec::new()
}

fn volume_source_count(v: &Volume) -> Vec<&'static str> {
    let mut set = Vec::new();
    macro_rules! check {
        ($($f:ident => $n:literal),* $(,)?) => { $( if v.$f.is_some() { set.push($n); } )* };
    }
    check!(
        empty_dir => "emptyDir", host_path => "hostPath", git_repo => "gitRepo",
        gce_persistent_disk => "gcePersistentDisk", aws_elastic_block_store => "awsElasticBlockStore",
        secret => "secret", nfs => "nfs", iscsi => "iscsi", glusterfs => "glusterfs", flocker => "flocker",
        persistent_volume_claim => "persistentVolumeClaim", rbd => "rbd", cinder => "cinder", cephfs => "cephFS",
        quobyte => "quobyte", downward_api => "downwarAPI", fc => "fc", flex_volume => "flexVolume",
        config_map => "configMap", azure_file => "azureFile", vsphere_volume => "vsphereVolume",
        photon_persistent_disk => "photonPersistentDisk", portworx_volume => "portworxVolume",
        azure_disk => "azureDisk", storageos => "storageos", projected => "projected", scale_io => "scaleIO",
        csi => "csi", ephemeral => "ephemeral", image => "image",
    );
    set
}

/// `validateVolumeSource`.
fn volume_source(v: &Volume, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let sources = volume_source_count(v);
    if sources.is_empty() {
        errs.push(FieldError::required(path, "must specify a volume type"));
        return errs;
    }
    for extra in &sources[1..] {
        errs.push(FieldError::forbidden(
            &path.child(extra),
            "may not specify more than 1 volume type",
        ));
    }
    match sources[0] {
        "emptyDir" => {
            if let Some(q) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) {
                if Quantity::try_from(q).is_ok_and(|q| q.is_negative()) {
                    errs.push(FieldError::forbidden(
                        &path.child("emptyDir").child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
        }
        "hostPath" => {
            let h = v.host_path.as_ref().expect("counted");
            let p = path.child("hostPath");
            if h.path.is_empty() {
                errs.push(FieldError::required(&p.child("path"), ""));
            } else {
                errs.extend(no_backsteps(&h.path, &p.child("path")));
                let ty = s(&h.type_);
                const TYPES: [&str; 8] = [
                    "",
                    "BlockDevice",
                    "CharDevice",
                    "Directory",
                    "DirectoryOrCreate",
                    "File",
                    "FileOrCreate",
                    "Socket",
                ];
                if h.type_.is_some() && !TYPES.contains(&ty) {
                    errs.push(FieldError::not_supported(&p.child("type"), ty, &TYPES));
                }
            }
        }
        "gitRepo" => {
            let g = v.git_repo.as_ref().expect("counted");
            let p = path.child("gitRepo");
            if g.repository.is_empty() {
                errs.push(FieldError::required(&p.child("repository"), ""));
            }
            errs.extend(local_descending_path(
                s(&g.directory),
                &p.child("directory"),
            ));
        }
        "secret" => {
            let sv = v.secret.as_ref().expect("counted");
            let p = path.child("secret");
            if s(&sv.secret_name).is_empty() {
                errs.push(FieldError::required(&p.child("secretName"), ""));
            }
            errs.extend(file_mode(sv.default_mode, &p.child("defaultMode")));
            for (i, kp) in sv.items.iter().flatten().enumerate() {
                errs.extend(key_to_path(kp, &p.child("items").index(i)));
            }
        }
        "configMap" => {
            let c = v.config_map.as_ref().expect("counted");
            let p = path.child("configMap");
            if c.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            errs.extend(file_mode(c.default_mode, &p.child("defaultMode")));
            for (i, kp) in c.items.iter().flatten().enumerate() {
                errs.extend(key_to_path(kp, &p.child("items").index(i)));
            }
        }
        "persistentVolumeClaim" => {
            let c = v.persistent_volume_claim.as_ref().expect("counted");
            if c.claim_name.is_empty() {
                errs.push(FieldError::required(
                    &path.child("persistentVolumeClaim").child("claimName"),
                    "",
                ));
            }
        }
        "nfs" => {
            let n = v.nfs.as_ref().expect("counted");
            let p = path.child("nfs");
            if n.server.is_empty() {
                errs.push(FieldError::required(&p.child("server"), ""));
            }
            if n.path.is_empty() {
                errs.push(FieldError::required(&p.child("path"), ""));
            }
            if !n.path.starts_with('/') {
                errs.push(FieldError::invalid(
                    &p.child("path"),
                    &n.path,
                    "must be an absolute path",
                ));
            }
        }
        "csi" => {
            let c = v.csi.as_ref().expect("counted");
            if c.driver.is_empty() {
                errs.push(FieldError::required(&path.child("csi").child("driver"), ""));
            }
        }
        "downwarAPI" => {
            let d = v.downward_api.as_ref().expect("counted");
            let p = path.child("downwardAPI");
            errs.extend(file_mode(d.default_mode, &p.child("defaultMode")));
            for f in d.items.iter().flatten() {
                errs.extend(downward_api_file(f, &p));
            }
        }
        "projected" => {
            let pr = v.projected.as_ref().expect("counted");
            let p = path.child("projected");
            errs.extend(file_mode(pr.default_mode, &p.child("defaultMode")));
            errs.extend(projection_sources(pr, &p));
        }
        _ => {}
    }
    errs
}

fn downward_api_file(
    f: &k8s_openapi::api::core::v1::DownwardAPIVolumeFile,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    if f.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(local_non_reserved_path(&f.path, &path.child("path")));
    match (&f.field_ref, &f.resource_field_ref) {
        (Some(fr), rr) => {
            errs.extend(object_field_selector(
                fr,
                &VOLUME_DOWNWARD_FIELDS,
                &path.child("fieldRef"),
            ));
            if rr.is_some() {
                errs.push(FieldError::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(rr)) => errs.extend(resource_field_selector(
            rr,
            &path.child("resourceFieldRef"),
            true,
        )),
        (None, None) => errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    errs.extend(file_mode(f.mode, &path.child("mode")));
    errs
}

fn resource_field_selector(
    fs: &k8s_openapi::api::core::v1::ResourceFieldSelector,
    path: &Path,
    volume: bool,
) -> ErrorList {
    let mut errs = Vec::new();
    if volume && s(&fs.container_name).is_empty() {
        errs.push(FieldError::required(&path.child("containerName"), ""));
    } else if fs.resource.is_empty() {
        errs.push(FieldError::required(&path.child("resource"), ""));
    } else if !RESOURCE_FIELD_EXPRESSIONS.contains(&fs.resource.as_str())
        && !fs.resource.starts_with("requests.hugepages-")
        && !fs.resource.starts_with("limits.hugepages-")
    {
        errs.push(FieldError::not_supported(
            &path.child("resource"),
            &fs.resource,
            &RESOURCE_FIELD_EXPRESSIONS,
        ));
    }
    errs
}

fn projection_sources(
    pr: &k8s_openapi::api::core::v1::ProjectedVolumeSource,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut all_paths: BTreeSet<String> = BTreeSet::new();
    for (i, src) in pr.sources.iter().flatten().enumerate() {
        let mut n = 0;
        let sp = path.child("sources").index(i);
        if let Some(sec) = &src.secret {
            n += 1;
            let p = sp.child("secret");
            if sec.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, kp) in sec.items.iter().flatten().enumerate() {
                errs.extend(key_to_path(kp, &p.child("items").index(j)));
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        &sec.name,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(cm) = &src.config_map {
            n += 1;
            let p = sp.child("configMap");
            if cm.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, kp) in cm.items.iter().flatten().enumerate() {
                errs.extend(key_to_path(kp, &p.child("items").index(j)));
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        &cm.name,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(d) = &src.downward_api {
            n += 1;
            let p = sp.child("downwardAPI");
            for f in d.items.iter().flatten() {
                errs.extend(downward_api_file(f, &p));
                if !f.path.is_empty() && !all_paths.insert(f.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        &f.path,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(t) = &src.service_account_token {
            n += 1;
            let p = sp.child("serviceAccountToken");
            let exp = t.expiration_seconds.unwrap_or(0);
            if exp < 600 {
                errs.push(FieldError::invalid_raw(
                    &p.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errs.push(FieldError::invalid_raw(
                    &p.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(local_non_reserved_path(&t.path, &path.child("path")));
            }
        }
        if src.cluster_trust_bundle.is_some() {
            n += 1;
        }
        if n > 1 {
            errs.push(FieldError::forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errs
}

/// `ValidateVolumes`: returns the volumes that validated (mounts may only name those) and the errors.
fn volumes<'a>(vols: &'a [Volume], path: &Path) -> (BTreeMap<&'a str, &'a Volume>, ErrorList) {
    let mut errs = Vec::new();
    let mut ok: BTreeMap<&str, &Volume> = BTreeMap::new();
    let mut all_names: BTreeSet<&str> = BTreeSet::new();
    for (i, v) in vols.iter().enumerate() {
        let p = path.index(i);
        let name_path = p.child("name");
        let mut el = volume_source(v, &p);
        if v.name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            el.extend(dns_label(&v.name, &name_path));
        }
        if all_names.contains(v.name.as_str()) {
            el.push(FieldError::duplicate(&name_path, &v.name));
        }
        if el.is_empty() {
            all_names.insert(&v.name);
            ok.insert(&v.name, v);
        } else {
            errs.extend(el);
        }
    }
    (ok, errs)
}

fn container_ports(c: &Container, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut names_seen: BTreeSet<&str> = BTreeSet::new();
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let ip = path.index(i);
        let name = s(&p.name);
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(invalid_each(&ip.child("name"), name, msgs));
            } else if !names_seen.insert(name) {
                errs.push(FieldError::duplicate(&ip.child("name"), name));
            }
        }
        if p.container_port == 0 {
            errs.push(FieldError::required(&ip.child("containerPort"), ""));
        } else {
            for m in names::is_valid_port_num(i64::from(p.container_port)) {
                errs.push(FieldError::invalid_raw(
                    &ip.child("containerPort"),
                    p.container_port,
                    m,
                ));
            }
        }
        let hp = p.host_port.unwrap_or(0);
        if hp != 0 {
            for m in names::is_valid_port_num(i64::from(hp)) {
                errs.push(FieldError::invalid_raw(&ip.child("hostPort"), hp, m));
            }
        }
        errs.extend(protocol(s(&p.protocol), &ip.child("protocol")));
    }
    errs
}

/// Port protocols (`supportedPortProtocols`).
pub(crate) fn protocol(proto: &str, path: &Path) -> ErrorList {
    match proto {
        "" => vec![FieldError::required(path, "")],
        "TCP" | "UDP" | "SCTP" => Vec::new(),
        other => vec![FieldError::not_supported(
            path,
            other,
            &["SCTP", "TCP", "UDP"],
        )],
    }
}

fn env(vars: &[EnvVar], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let ip = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(&ip.child("name"), ""));
        } else {
            errs.extend(invalid_each(
                &ip.child("name"),
                &ev.name,
                names::is_relaxed_env_var_name(&ev.name),
            ));
        }
        let Some(vf) = &ev.value_from else { continue };
        let vp = ip.child("valueFrom");
        let mut n = 0;
        if let Some(f) = &vf.field_ref {
            n += 1;
            errs.extend(object_field_selector(
                f,
                &ENV_DOWNWARD_FIELDS,
                &vp.child("fieldRef"),
            ));
        }
        if let Some(r) = &vf.resource_field_ref {
            n += 1;
            errs.extend(resource_field_selector(
                r,
                &vp.child("resourceFieldRef"),
                false,
            ));
        }
        if let Some(c) = &vf.config_map_key_ref {
            n += 1;
            errs.extend(key_selector(&c.name, &c.key, &vp.child("configMapKeyRef")));
        }
        if let Some(c) = &vf.secret_key_ref {
            n += 1;
            errs.extend(key_selector(&c.name, &c.key, &vp.child("secretKeyRef")));
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !s(&ev.value).is_empty() {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn key_selector(name: &str, key: &str, path: &Path) -> ErrorList {
    let mut errs = invalid_each(
        &path.child("name"),
        name,
        names::name_is_dns_subdomain(name, false),
    );
    if key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    } else {
        errs.extend(invalid_each(
            &path.child("key"),
            key,
            names::is_config_map_key(key),
        ));
    }
    errs
}

fn env_from(list: &[EnvFromSource], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, ev) in list.iter().enumerate() {
        let ip = path.index(i);
        let prefix = s(&ev.prefix);
        if !prefix.is_empty() {
            errs.extend(invalid_each(
                &ip.child("prefix"),
                prefix,
                names::is_relaxed_env_var_name(prefix),
            ));
        }
        let mut n = 0;
        for (name, p) in [
            (
                ev.config_map_ref.as_ref().map(|c| c.name.as_str()),
                ip.child("configMapRef"),
            ),
            (
                ev.secret_ref.as_ref().map(|c| c.name.as_str()),
                ip.child("secretRef"),
            ),
        ] {
            let Some(name) = name else { continue };
            n += 1;
            if name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            } else {
                errs.extend(invalid_each(
                    &p.child("name"),
                    name,
                    names::name_is_dns_subdomain(name, true),
                ));
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn volume_mounts(c: &Container, vols: &BTreeMap<&str, &Volume>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut mount_points: BTreeSet<&str> = BTreeSet::new();
    let devices: BTreeMap<&str, &str> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    let privileged = c.security_context.as_ref().and_then(|s| s.privileged) == Some(true);
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let ip = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&ip.child("name"), ""));
        }
        if !vols.contains_key(m.name.as_str()) {
            errs.push(FieldError::not_found(&ip.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&ip.child("mountPath"), ""));
        }
        if !mount_points.insert(&m.mount_path) {
            errs.push(FieldError::invalid(
                &ip.child("mountPath"),
                &m.mount_path,
                "must be unique",
            ));
        }
        if devices.contains_key(m.name.as_str()) {
            errs.push(FieldError::invalid(
                &ip.child("name"),
                &m.name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|p| *p == m.mount_path) {
            errs.push(FieldError::invalid(
                &ip.child("mountPath"),
                &m.mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = s(&m.sub_path);
        let sub_expr = s(&m.sub_path_expr);
        if vols.get(m.name.as_str()).is_some_and(|v| v.image.is_some()) {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &ip.child("subPath"),
                    sub_path,
                    "not allowed in image volume sources",
                ));
            }
            if !sub_expr.is_empty() {
                errs.push(FieldError::invalid(
                    &ip.child("subPathExpr"),
                    sub_expr,
                    "not allowed in image volume sources",
                ));
            }
        }
        // Upstream reports these two without the mount's index.
        if !sub_path.is_empty() {
            errs.extend(local_descending_path(sub_path, &path.child("subPath")));
        }
        if !sub_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &ip.child("subPathExpr"),
                    sub_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(local_descending_path(sub_expr, &path.child("subPathExpr")));
        }
        errs.extend(mount_propagation(
            m,
            privileged,
            &path.child("mountPropagation"),
        ));
        errs.extend(recursive_read_only(m, &path.child("recursiveReadOnly")));
    }
    errs
}

fn mount_propagation(m: &VolumeMount, privileged: bool, path: &Path) -> ErrorList {
    let Some(mp) = m.mount_propagation.as_deref() else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    const MODES: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
    if !MODES.contains(&mp) {
        errs.push(FieldError::not_supported(path, mp, &MODES));
    }
    if mp == "Bidirectional" && !privileged {
        errs.push(FieldError::forbidden(
            path,
            "Bidirectional mount propagation is available only to privileged containers",
        ));
    }
    errs
}

fn recursive_read_only(m: &VolumeMount, path: &Path) -> ErrorList {
    let Some(rro) = m.recursive_read_only.as_deref() else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    match rro {
        "Disabled" => {}
        "Enabled" | "IfPossible" => {
            if m.read_only != Some(true) {
                errs.push(FieldError::forbidden(
                    path,
                    "may only be specified when readOnly is true",
                ));
            }
            if m.mount_propagation.as_deref().is_some_and(|p| p != "None") {
                errs.push(FieldError::forbidden(
                    path,
                    "may only be specified when mountPropagation is None or not specified",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            path,
            other,
            &["Disabled", "Enabled", "IfPossible"],
        )),
    }
    errs
}

fn pull_policy(p: &str, path: &Path) -> ErrorList {
    match p {
        "Always" | "IfNotPresent" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "IfNotPresent", "Never"],
        )],
    }
}

const STANDARD_CONTAINER_RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];
const STANDARD_RESOURCES: [&str; 24] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
    "count/pods",
    "requests.hugepages-",
    "limits.hugepages-",
    "hugepages-",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && names::is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

/// `validateContainerResourceName`.
fn container_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errs = qualified_name(name, path);
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        let standard = STANDARD_RESOURCES.contains(&name) || is_hugepages(name);
        if !standard {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
        }
        if !(STANDARD_CONTAINER_RESOURCES.contains(&name) || is_hugepages(name)) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// `ValidateResourceQuantityValue`: parses, and checks non-negative and integral where required.
fn resource_quantity(name: &str, raw: &str, path: &Path) -> (Option<Quantity>, ErrorList) {
    let q = match Quantity::parse(raw.trim()) {
        Ok(q) => q,
        Err(e) => return (None, vec![FieldError::invalid(path, raw, e.to_string())]),
    };
    let mut errs = Vec::new();
    if q.is_negative() {
        errs.push(FieldError::invalid(
            path,
            &q.to_string(),
            super::IS_NEGATIVE,
        ));
    }
    if is_extended(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path,
            &q.to_string(),
            "must be an integer",
        ));
    }
    (Some(q), errs)
}

fn hugepage_divisible(name: &str, q: &Quantity) -> Option<String> {
    let size = Quantity::parse(name.strip_prefix("hugepages-")?).ok()?;
    let (v, sz) = (q.value(), size.value());
    if sz <= 0 || v % sz != 0 {
        Some(format!("{q} is not positive integer multiple of {name}"))
    } else {
        None
    }
}

/// `ValidateContainerResourceRequirements`.
fn resources(r: &ResourceRequirements, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) =
        (false, false, false, false);
    let mut parsed_limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    for (name, q) in r.limits.iter().flatten() {
        let p = lim_path.key(name);
        errs.extend(container_resource_name(name, &p));
        let (parsed, e) = resource_quantity(name, &q.0, &p);
        errs.extend(e);
        if let Some(parsed) = parsed {
            if is_hugepages(name) {
                lim_huge = true;
                if let Some(m) = hugepage_divisible(name, &parsed) {
                    errs.push(FieldError::invalid(&p, &parsed.to_string(), m));
                }
            }
            parsed_limits.insert(name, parsed);
        }
        if name == "cpu" || name == "memory" {
            lim_cpu_mem = true;
        }
    }
    for (name, q) in r.requests.iter().flatten() {
        let p = req_path.key(name);
        errs.extend(container_resource_name(name, &p));
        let (parsed, e) = resource_quantity(name, &q.0, &p);
        errs.extend(e);
        if let Some(parsed) = &parsed {
            if let Some(limit) = parsed_limits.get(name.as_str()) {
                if parsed != limit && !overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        &req_path,
                        &parsed.to_string(),
                        format!("must be equal to {name} limit of {limit}"),
                    ));
                } else if parsed > limit {
                    errs.push(FieldError::invalid(
                        &req_path,
                        &parsed.to_string(),
                        format!("must be less than or equal to {name} limit of {limit}"),
                    ));
                }
            } else if !overcommit_allowed(name)
                && !r.limits.as_ref().is_some_and(|l| l.contains_key(name))
            {
                errs.push(FieldError::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            if is_hugepages(name) {
                req_huge = true;
                if let Some(m) = hugepage_divisible(name, parsed) {
                    errs.push(FieldError::invalid(&p, &parsed.to_string(), m));
                }
            }
        }
        if name == "cpu" || name == "memory" {
            req_cpu_mem = true;
        }
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errs
}

fn security_context(sc: Option<&SecurityContext>, host_users: bool, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let Some(sc) = sc else { return errs };
    for (v, name) in [
        (sc.run_as_user, "runAsUser"),
        (sc.run_as_group, "runAsGroup"),
    ] {
        if let Some(v) = v {
            for m in names::is_valid_id(v) {
                errs.push(FieldError::invalid_raw(&path.child(name), v, m));
            }
        }
    }
    if let Some(pm) = sc.proc_mount.as_deref() {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(FieldError::not_supported(
                &path.child("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errs.push(FieldError::invalid(
                &path.child("procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    if let Some(sp) = &sc.seccomp_profile {
        errs.extend(seccomp_profile(
            &sp.type_,
            sp.localhost_profile.as_deref(),
            &path.child("seccompProfile"),
        ));
    }
    if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
        errs.push(FieldError::invalid_raw(
            path,
            "core.SecurityContext{...}",
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    errs
}

fn seccomp_profile(ty: &str, localhost: Option<&str>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    match ty {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(FieldError::required(
            &path.child("type"),
            "type is required when seccompProfile is set",
        )),
        other => errs.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    if ty == "Localhost" {
        match localhost {
            None => errs.push(FieldError::required(
                &path.child("localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(l) => errs.extend(local_descending_path(l, &path.child("localhostProfile"))),
        }
    }
    errs
}

fn http_get(h: &HTTPGetAction, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if s(&h.path).is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(port_num_or_name(&h.port, &path.child("port")));
    let scheme = s(&h.scheme);
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(FieldError::not_supported(
            &path.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for hdr in h.http_headers.iter().flatten() {
        errs.extend(invalid_each(
            &path.child("httpHeaders"),
            &hdr.name,
            names::is_http_header_name(&hdr.name),
        ));
    }
    errs
}

/// `ValidatePortNumOrName`.
pub(crate) fn port_num_or_name(port: &IntOrString, path: &Path) -> ErrorList {
    match port {
        IntOrString::Int(i) => names::is_valid_port_num(i64::from(*i))
            .into_iter()
            .map(|m| FieldError::invalid_raw(path, i, m))
            .collect(),
        IntOrString::String(v) => invalid_each(path, v, names::is_valid_port_name(v)),
    }
}

/// `validateHandler` for probes (`probe = true`) and lifecycle handlers.
#[allow(clippy::too_many_arguments)]
fn handler(
    exec: Option<&k8s_openapi::api::core::v1::ExecAction>,
    http: Option<&HTTPGetAction>,
    tcp: Option<&IntOrString>,
    grpc: Option<i32>,
    sleep: Option<i64>,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut n = 0;
    let mut take = |name: &str, errs: &mut ErrorList| -> bool {
        if n > 0 {
            errs.push(FieldError::forbidden(
                &path.child(name),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            n += 1;
            true
        }
    };
    if let Some(e) = exec {
        if take("exec", &mut errs) && e.command.as_ref().is_none_or(Vec::is_empty) {
            errs.push(FieldError::required(
                &path.child("exec").child("command"),
                "",
            ));
        }
    }
    if let Some(h) = http {
        if take("httpGet", &mut errs) {
            errs.extend(http_get(h, &path.child("httpGet")));
        }
    }
    if let Some(p) = tcp {
        if take("tcpSocket", &mut errs) {
            errs.extend(port_num_or_name(p, &path.child("tcpSocket").child("port")));
        }
    }
    if let Some(p) = grpc {
        if take("grpc", &mut errs) {
            errs.extend(port_num_or_name(
                &IntOrString::Int(p),
                &path.child("grpc").child("port"),
            ));
        }
    }
    if let Some(secs) = sleep {
        if take("sleep", &mut errs) {
            if let Some(g) = grace {
                if secs <= 0 || secs > g {
                    errs.push(FieldError::invalid_raw(
                        &path.child("sleep"),
                        secs,
                        format!("must be greater than 0 and less than terminationGracePeriodSeconds ({g}). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep."),
                    ));
                }
            }
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn probe(p: &Probe, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = handler(
        p.exec.as_ref(),
        p.http_get.as_ref(),
        p.tcp_socket.as_ref().map(|t| &t.port),
        p.grpc.as_ref().map(|g| g.port),
        None,
        grace,
        path,
    );
    for (v, name) in [
        (p.initial_delay_seconds, "initialDelaySeconds"),
        (p.timeout_seconds, "timeoutSeconds"),
        (p.period_seconds, "periodSeconds"),
        (p.success_threshold, "successThreshold"),
        (p.failure_threshold, "failureThreshold"),
    ] {
        errs.extend(nonnegative(i64::from(v.unwrap_or(0)), &path.child(name)));
    }
    if let Some(t) = p.termination_grace_period_seconds {
        if t <= 0 {
            errs.push(FieldError::invalid_raw(
                &path.child("terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
    }
    errs
}

fn liveness_or_startup(p: Option<&Probe>, grace: Option<i64>, path: &Path) -> ErrorList {
    let Some(p) = p else { return Vec::new() };
    let mut errs = probe(p, grace, path);
    let st = p.success_threshold.unwrap_or(0);
    if st != 1 {
        errs.push(FieldError::invalid_raw(
            &path.child("successThreshold"),
            st,
            "must be 1",
        ));
    }
    errs
}

fn readiness(p: Option<&Probe>, grace: Option<i64>, path: &Path) -> ErrorList {
    let Some(p) = p else { return Vec::new() };
    let mut errs = probe(p, grace, path);
    if let Some(t) = p.termination_grace_period_seconds {
        errs.push(FieldError::invalid_raw(
            &path.child("terminationGracePeriodSeconds"),
            t,
            "must not be set for readinessProbes",
        ));
    }
    errs
}

fn lifecycle(l: &Lifecycle, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let h = |lh: &LifecycleHandler, p: &Path| {
        handler(
            lh.exec.as_ref(),
            lh.http_get.as_ref(),
            lh.tcp_socket.as_ref().map(|t| &t.port),
            None,
            lh.sleep.as_ref().map(|s| s.seconds),
            grace,
            p,
        )
    };
    if let Some(ps) = &l.post_start {
        errs.extend(h(ps, &path.child("postStart")));
    }
    if let Some(ps) = &l.pre_stop {
        errs.extend(h(ps, &path.child("preStop")));
    }
    errs
}

/// `validateContainerCommon`.
fn container_common(
    c: &Container,
    vols: &BTreeMap<&str, &Volume>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        errs.extend(dns_label(&c.name, &name_path));
    }
    if s(&c.image).is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    match s(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &path.child("terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            &path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(container_ports(c, &path.child("ports")));
    errs.extend(env(c.env.as_deref().unwrap_or(&[]), &path.child("env")));
    errs.extend(env_from(
        c.env_from.as_deref().unwrap_or(&[]),
        &path.child("envFrom"),
    ));
    errs.extend(volume_mounts(c, vols, &path.child("volumeMounts")));
    errs.extend(volume_devices(c, vols, &path.child("volumeDevices")));
    errs.extend(pull_policy(
        s(&c.image_pull_policy),
        &path.child("imagePullPolicy"),
    ));
    if let Some(r) = &c.resources {
        errs.extend(resources(r, &path.child("resources")));
    }
    errs.extend(security_context(
        c.security_context.as_ref(),
        host_users,
        &path.child("securityContext"),
    ));
    errs
}

fn volume_devices(c: &Container, vols: &BTreeMap<&str, &Volume>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mounts: BTreeMap<&str, &str> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    let mut paths: BTreeSet<&str> = BTreeSet::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, d) in c.volume_devices.iter().flatten().enumerate() {
        let ip = path.index(i);
        let v = vols.get(d.name.as_str());
        if d.name.is_empty() {
            errs.push(FieldError::required(&ip.child("name"), ""));
        }
        if seen.contains(d.name.as_str()) {
            errs.push(FieldError::invalid(
                &ip.child("name"),
                &d.name,
                "must be unique",
            ));
        }
        match v {
            Some(v) if v.persistent_volume_claim.is_none() && v.ephemeral.is_none() => errs.push(FieldError::invalid(
                &ip.child("name"),
                &d.name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(_) => {}
            None => errs.push(FieldError::not_found(&ip.child("name"), &d.name)),
        }
        if d.device_path.is_empty() {
            errs.push(FieldError::required(&ip.child("devicePath"), ""));
        }
        if paths.contains(d.device_path.as_str()) {
            errs.push(FieldError::invalid(
                &ip.child("devicePath"),
                &d.device_path,
                "must be unique",
            ));
        }
        if !d.device_path.is_empty() && !no_backsteps(&d.device_path, path).is_empty() {
            errs.push(FieldError::invalid(
                &ip.child("devicePath"),
                &d.device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(&d.device_path);
        }
        if mounts.contains_key(d.name.as_str()) {
            errs.push(FieldError::invalid(
                &ip.child("name"),
                &d.name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|p| *p == d.device_path) {
            errs.push(FieldError::invalid(
                &ip.child("devicePath"),
                &d.device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !d.name.is_empty() {
            seen.insert(&d.name);
        }
    }
    errs
}

/// `AccumulateUniqueHostPorts` over a group of containers.
fn host_port_conflicts(containers: &[&Container], indexes: &[usize], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (c, ci) in containers.iter().zip(indexes) {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", s(&p.protocol), s(&p.host_ip), hp);
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    &path.index(*ci).child("ports").index(pi).child("hostPort"),
                    &key,
                ));
            }
        }
    }
    errs
}

fn containers(
    spec: &PodSpec,
    vols: &BTreeMap<&str, &Volume>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    if spec.containers.is_empty() {
        errs.push(FieldError::required(path, ""));
        return errs;
    }
    let grace = spec.termination_grace_period_seconds;
    let mut all: BTreeSet<&str> = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(container_common(c, vols, host_users, &p));
        if !all.insert(&c.name) {
            errs.push(FieldError::duplicate(&p.child("name"), &c.name));
        }
        if let Some(l) = &c.lifecycle {
            errs.extend(lifecycle(l, grace, &p.child("lifecycle")));
        }
        errs.extend(liveness_or_startup(
            c.liveness_probe.as_ref(),
            grace,
            &p.child("livenessProbe"),
        ));
        errs.extend(readiness(
            c.readiness_probe.as_ref(),
            grace,
            &p.child("readinessProbe"),
        ));
        errs.extend(liveness_or_startup(
            c.startup_probe.as_ref(),
            grace,
            &p.child("startupProbe"),
        ));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let all_refs: Vec<&Container> = spec.containers.iter().collect();
    let idx: Vec<usize> = (0..all_refs.len()).collect();
    errs.extend(host_port_conflicts(&all_refs, &idx, path));
    errs
}

fn init_containers(
    spec: &PodSpec,
    vols: &BTreeMap<&str, &Volume>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let grace = spec.termination_grace_period_seconds;
    let mut all: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let p = path.index(i);
        errs.extend(container_common(c, vols, host_users, &p));
        let mut restart_always = false;
        if let Some(rp) = c.restart_policy.as_deref() {
            if rp == "Always" {
                restart_always = true;
            } else {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        if all.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), &c.name));
        } else if !c.name.is_empty() {
            all.insert(&c.name);
        }
        errs.extend(host_port_conflicts(&[c], &[i], path));
        if restart_always {
            if let Some(l) = &c.lifecycle {
                errs.extend(lifecycle(l, grace, &p.child("lifecycle")));
            }
            errs.extend(liveness_or_startup(
                c.liveness_probe.as_ref(),
                grace,
                &p.child("livenessProbe"),
            ));
            errs.extend(readiness(
                c.readiness_probe.as_ref(),
                grace,
                &p.child("readinessProbe"),
            ));
            errs.extend(liveness_or_startup(
                c.startup_probe.as_ref(),
                grace,
                &p.child("startupProbe"),
            ));
        } else {
            const MSG: &str = "may not be set for init containers without restartPolicy=Always";
            if c.lifecycle.is_some() {
                errs.push(FieldError::forbidden(&p.child("lifecycle"), MSG));
            }
            if c.liveness_probe.is_some() {
                errs.push(FieldError::forbidden(&p.child("livenessProbe"), MSG));
            }
            if c.readiness_probe.is_some() {
                errs.push(FieldError::forbidden(&p.child("readinessProbe"), MSG));
            }
            if c.startup_probe.is_some() {
                errs.push(FieldError::forbidden(&p.child("startupProbe"), MSG));
            }
        }
    }
    errs
}

fn ephemeral_containers(
    spec: &PodSpec,
    vols: &BTreeMap<&str, &Volume>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let Some(ecs) = &spec.ephemeral_containers else {
        return errs;
    };
    let others: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| c.name.as_str())
        .collect();
    let mut all = others.clone();
    for (i, ec) in ecs.iter().enumerate() {
        let p = path.index(i);
        let as_container: Container = serde_json::to_value(ec)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        errs.extend(container_common(&as_container, vols, host_users, &p));
        errs.extend(image_whitespace(s(&ec.image), &p.child("image")));
        if !all.insert(&ec.name) {
            errs.push(FieldError::duplicate(&p.child("name"), &ec.name));
        }
        let target = s(&ec.target_container_name);
        if !target.is_empty() && !others.contains(target) {
            errs.push(FieldError::not_found(
                &p.child("targetContainerName"),
                target,
            ));
        }
        const MSG: &str = "cannot be set for an Ephemeral Container";
        for (set, name) in [
            (ec.ports.is_some(), "ports"),
            (
                ec.resources
                    .as_ref()
                    .is_some_and(|r| r != &Default::default()),
                "resources",
            ),
            (ec.liveness_probe.is_some(), "livenessProbe"),
            (ec.readiness_probe.is_some(), "readinessProbe"),
            (ec.startup_probe.is_some(), "startupProbe"),
            (ec.lifecycle.is_some(), "lifecycle"),
            (ec.resize_policy.is_some(), "resizePolicy"),
            (ec.restart_policy.is_some(), "restartPolicy"),
        ] {
            if set {
                errs.push(FieldError::forbidden(&p.child(name), MSG));
            }
        }
        for (j, vm) in ec.volume_mounts.iter().flatten().enumerate() {
            if !s(&vm.sub_path).is_empty() {
                errs.push(FieldError::forbidden(
                    &p.child("volumeMounts").index(j).child("subPath"),
                    MSG,
                ));
            }
            if !s(&vm.sub_path_expr).is_empty() {
                errs.push(FieldError::forbidden(
                    &p.child("volumeMounts").index(j).child("subPathExpr"),
                    MSG,
                ));
            }
        }
    }
    errs
}

fn image_whitespace(image: &str, path: &Path) -> ErrorList {
    if image.len() != image.trim().len() {
        vec![FieldError::invalid(
            path,
            image,
            "must not have leading or trailing whitespace",
        )]
    } else {
        Vec::new()
    }
}

fn node_selector_requirement(
    r: &NodeSelectorRequirement,
    allow_invalid_values: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let n = r.values.as_ref().map_or(0, Vec::len);
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if n == 0 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if n > 0 {
                errs.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if n != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(label_name(&r.key, &path.child("key")));
    if !allow_invalid_values {
        for (i, v) in r.values.iter().flatten().enumerate() {
            errs.extend(invalid_each(
                &path.child("values").index(i),
                v,
                names::is_valid_label_value(v),
            ));
        }
    }
    errs
}

fn node_selector_term(t: &NodeSelectorTerm, allow_invalid_values: bool, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (j, r) in t.match_expressions.iter().flatten().enumerate() {
        errs.extend(node_selector_requirement(
            r,
            allow_invalid_values,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, r) in t.match_fields.iter().flatten().enumerate() {
        let p = path.child("matchFields").index(j);
        match r.operator.as_str() {
            "In" | "NotIn" => {
                if r.values.as_ref().map_or(0, Vec::len) != 1 {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                &p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        if r.key != "metadata.name" {
            errs.push(FieldError::invalid(
                &p.child("key"),
                &r.key,
                "not a valid field selector key",
            ));
        } else {
            for (i, v) in r.values.iter().flatten().enumerate() {
                errs.extend(invalid_each(
                    &p.child("values").index(i),
                    v,
                    names::name_is_dns_subdomain(v, false),
                ));
            }
        }
    }
    errs
}

fn node_selector(ns: &NodeSelector, path: &Path) -> ErrorList {
    let tp = path.child("nodeSelectorTerms");
    if ns.node_selector_terms.is_empty() {
        return vec![FieldError::required(
            &tp,
            "must have at least one node selector term",
        )];
    }
    ns.node_selector_terms
        .iter()
        .enumerate()
        .flat_map(|(i, t)| node_selector_term(t, false, &tp.index(i)))
        .collect()
}

fn pod_affinity_term(t: &PodAffinityTerm, path: &Path) -> ErrorList {
    let mut errs = label_selector(
        t.label_selector.as_ref(),
        false,
        &path.child("labelSelector"),
    );
    errs.extend(label_selector(
        t.namespace_selector.as_ref(),
        false,
        &path.child("namespaceSelector"),
    ));
    for ns in t.namespaces.iter().flatten() {
        errs.extend(invalid_each(
            &path.child("namespace"),
            ns,
            names::name_is_dns_label(ns, false),
        ));
    }
    errs.extend(match_label_keys(path, t));
    if t.topology_key.is_empty() {
        errs.push(FieldError::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errs.extend(label_name(&t.topology_key, &path.child("topologyKey")));
    errs
}

fn match_label_keys(path: &Path, t: &PodAffinityTerm) -> ErrorList {
    let mut errs = Vec::new();
    for (keys, name) in [
        (&t.match_label_keys, "matchLabelKeys"),
        (&t.mismatch_label_keys, "mismatchLabelKeys"),
    ] {
        let Some(keys) = keys.as_ref().filter(|k| !k.is_empty()) else {
            continue;
        };
        if t.label_selector.is_none() {
            errs.push(FieldError::forbidden(
                &path.child(name),
                "must not be specified when labelSelector is not set",
            ));
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            errs.extend(label_name(k, &path.child(name).index(i)));
        }
    }
    let mismatch: BTreeSet<&String> = t.mismatch_label_keys.iter().flatten().collect();
    for (i, k) in t.match_label_keys.iter().flatten().enumerate() {
        if mismatch.contains(k) {
            errs.push(FieldError::invalid(
                &path.child("matchLabelKeys").index(i),
                k,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    errs
}

fn affinity(a: &Affinity, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(na) = &a.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            errs.extend(node_selector(
                req,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        for (i, t) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            let tp = p
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if t.weight <= 0 || t.weight > 100 {
                errs.push(FieldError::invalid_raw(
                    &tp.child("weight"),
                    t.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(node_selector_term(
                &t.preference,
                true,
                &tp.child("preference"),
            ));
        }
    }
    let pod_terms = |req: &Option<Vec<PodAffinityTerm>>,
                     pref: &Option<Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>,
                     p: &Path| {
        let mut errs = Vec::new();
        for (i, t) in req.iter().flatten().enumerate() {
            errs.extend(pod_affinity_term(
                t,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(i),
            ));
        }
        for (j, w) in pref.iter().flatten().enumerate() {
            let wp = p
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(j);
            if w.weight <= 0 || w.weight > 100 {
                errs.push(FieldError::invalid_raw(
                    &wp.child("weight"),
                    w.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(pod_affinity_term(
                &w.pod_affinity_term,
                &wp.child("podAffinityTerm"),
            ));
        }
        errs
    };
    if let Some(pa) = &a.pod_affinity {
        errs.extend(pod_terms(
            &pa.required_during_scheduling_ignored_during_execution,
            &pa.preferred_during_scheduling_ignored_during_execution,
            &path.child("podAffinity"),
        ));
    }
    if let Some(pa) = &a.pod_anti_affinity {
        errs.extend(pod_terms(
            &pa.required_during_scheduling_ignored_during_execution,
            &pa.preferred_during_scheduling_ignored_during_execution,
            &path.child("podAntiAffinity"),
        ));
    }
    errs
}

/// `validateTaintEffect`.
pub(crate) fn taint_effect(effect: &str, allow_empty: bool, path: &Path) -> ErrorList {
    if !allow_empty && effect.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => Vec::new(),
        other => vec![FieldError::not_supported(
            path,
            other,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )],
    }
}

/// `ValidateTolerations`.
pub fn tolerations(list: &[Toleration], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let ip = path.index(i);
        let key = s(&t.key);
        let op = s(&t.operator);
        let value = s(&t.value);
        let effect = s(&t.effect);
        if !key.is_empty() {
            errs.extend(label_name(key, &ip.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &ip.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &ip.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &ip.child("operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &ip.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &ip.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(taint_effect(effect, true, &ip.child("effect")));
        }
    }
    errs
}

fn topology_spread(list: &[TopologySpreadConstraint], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldError::invalid_raw(
                &p.child("maxSkew"),
                c.max_skew,
                IS_NOT_POSITIVE,
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldError::required(
                &p.child("topologyKey"),
                "can not be empty",
            ));
        }
        let wu = c.when_unsatisfiable.as_str();
        if wu != "DoNotSchedule" && wu != "ScheduleAnyway" {
            errs.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                wu,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if list[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errs.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                &format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(FieldError::invalid_raw(
                    &p.child("minDomains"),
                    md,
                    IS_NOT_POSITIVE,
                ));
            }
            if wu != "DoNotSchedule" {
                errs.push(FieldError::invalid_raw(
                    &p.child("minDomains"),
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {wu}"),
                ));
            }
        }
        for (v, name) in [
            (&c.node_affinity_policy, "nodeAffinityPolicy"),
            (&c.node_taints_policy, "nodeTaintsPolicy"),
        ] {
            if let Some(v) = v.as_deref() {
                if v != "Honor" && v != "Ignore" {
                    errs.push(FieldError::not_supported(
                        &p.child(name),
                        v,
                        &["Honor", "Ignore"],
                    ));
                }
            }
        }
        if let Some(keys) = c.match_label_keys.as_ref().filter(|k| !k.is_empty()) {
            let mlk = p.child("matchLabelKeys");
            let mut sel_keys: BTreeSet<&str> = BTreeSet::new();
            match &c.label_selector {
                Some(sel) => {
                    sel_keys.extend(sel.match_labels.iter().flatten().map(|(k, _)| k.as_str()));
                    sel_keys.extend(
                        sel.match_expressions
                            .iter()
                            .flatten()
                            .map(|e| e.key.as_str()),
                    );
                }
                None => errs.push(FieldError::forbidden(
                    &mlk,
                    "must not be specified when labelSelector is not set",
                )),
            }
            for (j, k) in keys.iter().enumerate() {
                errs.extend(label_name(k, &mlk.index(j)));
                if sel_keys.contains(k.as_str()) {
                    errs.push(FieldError::invalid(
                        &mlk.index(j),
                        k,
                        "exists in both matchLabelKeys and labelSelector",
                    ));
                }
            }
        }
        errs.extend(label_selector(
            c.label_selector.as_ref(),
            false,
            &p.child("labelSelector"),
        ));
    }
    errs
}

fn dns_config(spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if s(&spec.dns_policy) == "None" {
        match &spec.dns_config {
            None => {
                return vec![FieldError::required(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )]
            }
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                return vec![FieldError::required(
                    &path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )]
            }
            _ => {}
        }
    }
    let Some(c) = &spec.dns_config else {
        return errs;
    };
    let ns = c.nameservers.as_deref().unwrap_or(&[]);
    if ns.len() > 3 {
        errs.push(FieldError::invalid_raw(
            &path.child("nameservers"),
            go_strings(Some(ns)),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in ns.iter().enumerate() {
        errs.extend(invalid_each(
            &path.child("nameservers").index(i),
            n,
            names::is_valid_ip(n),
        ));
    }
    let searches = c.searches.as_deref().unwrap_or(&[]);
    if searches.len() > 32 {
        errs.push(FieldError::invalid_raw(
            &path.child("searches"),
            go_strings(Some(searches)),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(FieldError::invalid_raw(
            &path.child("searches"),
            go_strings(Some(searches)),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, sp) in searches.iter().enumerate() {
        let trimmed = sp.strip_suffix('.').unwrap_or(sp);
        errs.extend(dns_subdomain(trimmed, &path.child("searches").index(i)));
    }
    for (i, o) in c.options.iter().flatten().enumerate() {
        if s(&o.name).is_empty() {
            errs.push(FieldError::required(
                &path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

fn pod_security_context(spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let Some(sc) = &spec.security_context else {
        return errs;
    };
    for (v, name) in [
        (sc.fs_group, "fsGroup"),
        (sc.run_as_user, "runAsUser"),
        (sc.run_as_group, "runAsGroup"),
    ] {
        if let Some(v) = v {
            for m in names::is_valid_id(v) {
                errs.push(FieldError::invalid_raw(&path.child(name), v, m));
            }
        }
    }
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        for m in names::is_valid_id(*g) {
            errs.push(FieldError::invalid_raw(
                &path.child("supplementalGroups").index(i),
                g,
                m,
            ));
        }
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(FieldError::invalid_raw(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, sy) in sc.sysctls.iter().flatten().enumerate() {
        let np = path.child("sysctls").index(i).child("name");
        if sy.name.is_empty() {
            errs.push(FieldError::required(&np, ""));
        } else if !valid_sysctl(&sy.name) {
            errs.push(FieldError::invalid(
                &np,
                &sy.name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if seen.contains(sy.name.as_str()) {
            errs.push(FieldError::duplicate(&np, &sy.name));
        }
        seen.insert(&sy.name);
    }
    if let Some(p) = sc.fs_group_change_policy.as_deref() {
        if p != "OnRootMismatch" && p != "Always" {
            errs.push(FieldError::not_supported(
                &path.child("fsGroupChangePolicy"),
                p,
                &["Always", "OnRootMismatch"],
            ));
        }
    }
    if let Some(sp) = &sc.seccomp_profile {
        errs.extend(seccomp_profile(
            &sp.type_,
            sp.localhost_profile.as_deref(),
            &path.child("seccompProfile"),
        ));
    }
    errs
}

fn valid_sysctl(name: &str) -> bool {
    if name.len() > 253 {
        return false;
    }
    name.split(['.', '/']).all(|seg| {
        let b = seg.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
    })
}

/// `ValidatePodSpec` with the pod/template distinction.
fn pod_spec_opts(spec: &PodSpec, path: &Path, opts: Opts) -> ErrorList {
    let mut errs = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let host_users = spec.host_users.is_none_or(|h| h);
    let (vols, verrs) = volumes(
        spec.volumes.as_deref().unwrap_or(&[]),
        &path.child("volumes"),
    );
    errs.extend(verrs);
    errs.extend(containers(
        spec,
        &vols,
        host_users,
        &path.child("containers"),
    ));
    errs.extend(init_containers(
        spec,
        &vols,
        host_users,
        &path.child("initContainers"),
    ));
    errs.extend(ephemeral_containers(
        spec,
        &vols,
        host_users,
        &path.child("ephemeralContainers"),
    ));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != p.container_port {
                    errs.push(FieldError::invalid_raw(
                        &path
                            .child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match s(&spec.restart_policy) {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    match s(&spec.dns_policy) {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(&path.child("dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    errs.extend(pod_security_context(spec, &path.child("securityContext")));
    if let Some(a) = &spec.affinity {
        errs.extend(affinity(a, &path.child("affinity")));
    }
    errs.extend(dns_config(spec, &path.child("dnsConfig")));
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(qualified_name(
            &g.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates_seen: BTreeSet<&str> = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let gp = path.child("schedulingGates").index(i);
        errs.extend(qualified_name(&g.name, &gp));
        if !gates_seen.insert(&g.name) {
            errs.push(FieldError::duplicate(&gp, &g.name));
        }
    }
    errs.extend(topology_spread(
        spec.topology_spread_constraints.as_deref().unwrap_or(&[]),
        &path.child("topologySpreadConstraints"),
    ));
    if spec.host_users == Some(false) {
        if spec.host_network == Some(true) {
            errs.push(FieldError::forbidden(
                &path.child("hostNetwork"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_pid == Some(true) {
            errs.push(FieldError::forbidden(
                &path.child("HostPID"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_ipc == Some(true) {
            errs.push(FieldError::forbidden(
                &path.child("HostIPC"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
    }
    let sa = s(&spec.service_account_name);
    if !sa.is_empty() {
        errs.extend(invalid_each(
            &path.child("serviceAccountName"),
            sa,
            names::name_is_dns_subdomain(sa, false),
        ));
    }
    let node = s(&spec.node_name);
    if !node.is_empty() {
        errs.extend(invalid_each(
            &path.child("nodeName"),
            node,
            names::name_is_dns_subdomain(node, false),
        ));
    }
    if let Some(ads) = spec.active_deadline_seconds {
        if ads < 1 || ads > i64::from(i32::MAX) {
            errs.push(FieldError::invalid_raw(
                &path.child("activeDeadlineSeconds"),
                ads,
                names::inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    let hostname = s(&spec.hostname);
    if !hostname.is_empty() {
        errs.extend(dns_label(hostname, &path.child("hostname")));
    }
    let subdomain = s(&spec.subdomain);
    if !subdomain.is_empty() {
        errs.extend(dns_label(subdomain, &path.child("subdomain")));
    }
    if let Some(t) = spec.tolerations.as_ref().filter(|t| !t.is_empty()) {
        errs.extend(tolerations(t, &path.child("tolerations")));
    }
    for (i, ha) in spec.host_aliases.iter().flatten().enumerate() {
        let hp = path.child("hostAliases").index(i);
        errs.extend(invalid_each(
            &hp.child("ip"),
            &ha.ip,
            names::is_valid_ip(&ha.ip),
        ));
        for (j, h) in ha.hostnames.iter().flatten().enumerate() {
            errs.extend(dns_subdomain(h, &hp.child("hostnames").index(j)));
        }
    }
    let pcn = s(&spec.priority_class_name);
    if !pcn.is_empty() {
        errs.extend(invalid_each(
            &path.child("priorityClassName"),
            pcn,
            names::name_is_dns_subdomain(pcn, false),
        ));
    }
    if let Some(rc) = spec.runtime_class_name.as_deref() {
        errs.extend(invalid_each(
            &path.child("runtimeClassName"),
            rc,
            names::name_is_dns_subdomain(rc, false),
        ));
    }
    if let Some(pp) = spec.preemption_policy.as_deref() {
        errs.extend(preemption_policy(pp, &path.child("preemptionPolicy")));
    }
    if let Some(o) = &spec.overhead {
        let r = ResourceRequirements {
            limits: Some(o.clone()),
            ..Default::default()
        };
        errs.extend(resources(&r, &path.child("overhead")));
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(FieldError::required(
                &path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if os.name != "linux" && os.name != "windows" {
            errs.push(FieldError::not_supported(
                &path.child("os"),
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
    errs
}

/// `ValidatePreemptionPolicy`.
pub(crate) fn preemption_policy(pp: &str, path: &Path) -> ErrorList {
    match pp {
        "PreemptLowerPriority" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["PreemptLowerPriority", "Never"],
        )],
    }
}

/// `ValidatePodSpec` for a spec embedded in another object (a template).
pub fn pod_spec(spec: &PodSpec, path: &Path) -> ErrorList {
    pod_spec_opts(
        spec,
        path,
        Opts {
            resource_is_pod: false,
        },
    )
}

/// `ValidatePodTemplateSpec`: labels, annotations and the spec of a template at `path`
/// (`spec.template` in workloads).
pub fn pod_template_spec(t: &PodTemplateSpec, path: &Path) -> ErrorList {
    let meta = t.metadata.clone().unwrap_or_default();
    let mut errs = labels(meta.labels.as_ref(), &path.child("labels"));
    errs.extend(super::annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    let spec = t.spec.clone().unwrap_or_default();
    errs.extend(pod_spec(&spec, &path.child("spec")));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// The pod's spec, borrowed; an absent one validates as the empty spec.
fn spec_or_default(p: &Pod) -> std::borrow::Cow<'_, PodSpec> {
    match &p.spec {
        Some(spec) => std::borrow::Cow::Borrowed(spec),
        None => std::borrow::Cow::Owned(PodSpec::default()),
    }
}

fn metadata_and_spec(p: &Pod) -> ErrorList {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let mut errs = object_meta(&p.metadata, true, names::name_is_dns_subdomain, &meta_path);
    let spec = spec_or_default(p);
    let spec = spec.as_ref();
    if let Some(v) = p
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubernetes.io/config.mirror"))
    {
        if s(&spec.node_name).is_empty() {
            errs.push(FieldError::invalid(
                &meta_path
                    .child("annotations")
                    .key("kubernetes.io/config.mirror"),
                v,
                "must set spec.nodeName if mirror pod annotation is set",
            ));
        }
    }
    if let Some(v) = p
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
    {
        if v.parse::<i32>().is_err() {
            errs.push(FieldError::invalid(
                &meta_path
                    .child("annotations")
                    .key("controller.kubernetes.io/pod-deletion-cost"),
                v,
                "must be a 32bit integer",
            ));
        }
    }
    errs.extend(pod_spec_opts(
        spec,
        &spec_path,
        Opts {
            resource_is_pod: true,
        },
    ));
    if s(&spec.service_account_name).is_empty() {
        for (vi, v) in spec.volumes.iter().flatten().enumerate() {
            for (si, src) in v
                .projected
                .iter()
                .flat_map(|p| p.sources.iter().flatten())
                .enumerate()
            {
                if src.service_account_token.is_some() {
                    errs.push(FieldError::forbidden(
                        &spec_path
                            .child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for (i, c) in spec.containers.iter().enumerate() {
        errs.extend(image_whitespace(
            s(&c.image),
            &spec_path.child("containers").index(i).child("image"),
        ));
    }
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        errs.extend(image_whitespace(
            s(&c.image),
            &spec_path.child("initContainers").index(i).child("image"),
        ));
    }
    errs
}

/// `ValidatePodCreate`.
pub fn pod(p: &Pod) -> ErrorList {
    let mut errs = metadata_and_spec(p);
    let spec_path = Path::new("spec");
    let spec = spec_or_default(p);
    let spec = spec.as_ref();
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !s(&spec.node_name).is_empty()
        && spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        errs.push(FieldError::forbidden(
            &spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

/// The fields a pod update may change, as upstream lists them in its message.
const UPDATABLE_POD_SPEC_FIELDS: [&str; 5] = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

fn container_updates(new: &[Container], old: &[Container], path: &Path) -> (ErrorList, bool) {
    if new.len() != old.len() {
        return (
            vec![FieldError::forbidden(
                path,
                "pod updates may not add or remove containers",
            )],
            true,
        );
    }
    let mut errs = Vec::new();
    for (i, c) in new.iter().enumerate() {
        let image = s(&c.image);
        if image.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("image"), ""));
        }
        errs.extend(image_whitespace(image, &path.index(i).child("image")));
    }
    (errs, false)
}

/// A `cmp.Diff`-like rendering of two pod specs: one `-`/`+` pair per changed top-level field. Upstream
/// prints the Go structs with `cmp.Diff`, whose output is deliberately unstable; this keeps its shape.
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let o = serde_json::to_value(old).unwrap_or_default();
    let n = serde_json::to_value(new).unwrap_or_default();
    let empty = serde_json::Map::new();
    let om = o.as_object().unwrap_or(&empty);
    let nm = n.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
    let mut out = String::from("  core.PodSpec{\n");
    let go_name = |k: &str| {
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    let mut identical = 0;
    for k in keys {
        let (a, b) = (om.get(k), nm.get(k));
        if a == b {
            identical += 1;
            continue;
        }
        let show = |v: Option<&serde_json::Value>| {
            v.map_or_else(|| "nil".to_string(), ToString::to_string)
        };
        if identical > 0 {
            out.push_str(&format!("  \t... // {identical} identical fields\n"));
            identical = 0;
        }
        out.push_str(&format!("- \t{}: {},\n", go_name(k), show(a)));
        out.push_str(&format!("+ \t{}: {},\n", go_name(k), show(b)));
    }
    if identical > 0 {
        out.push_str(&format!("  \t... // {identical} identical fields\n"));
    }
    out.push_str("  }\n");
    out
}

/// `ValidatePodUpdate`: only images, `activeDeadlineSeconds`, added tolerations, removed scheduling gates
/// and a negative grace period set to 1 may change.
pub fn pod_update(new: &Pod, old: &Pod) -> ErrorList {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path);
    errs.extend(metadata_and_spec(new));
    errs.extend(annotation_updates(
        new,
        old,
        &meta_path.child("annotations"),
    ));
    let ns = new.spec.clone().unwrap_or_default();
    let os = old.spec.clone().unwrap_or_default();
    let (e, stop) = container_updates(
        &ns.containers,
        &os.containers,
        &spec_path.child("containers"),
    );
    errs.extend(e);
    if stop {
        return errs;
    }
    let empty = Vec::new();
    let (e, stop) = container_updates(
        ns.init_containers.as_ref().unwrap_or(&empty),
        os.init_containers.as_ref().unwrap_or(&empty),
        &spec_path.child("initContainers"),
    );
    errs.extend(e);
    if stop {
        return errs;
    }
    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (ns.active_deadline_seconds, os.active_deadline_seconds) {
        (Some(n), old_v) => {
            if n < 0 || n > i64::from(i32::MAX) {
                errs.push(FieldError::invalid_raw(
                    &ads_path,
                    n,
                    names::inclusive_range_error(0, i64::from(i32::MAX)),
                ));
                return errs;
            }
            if old_v.is_some_and(|o| o < n) {
                errs.push(FieldError::invalid_raw(
                    &ads_path,
                    n,
                    "must be less than or equal to previous value",
                ));
                return errs;
            }
        }
        (None, Some(_)) => {
            errs.push(FieldError::invalid_raw(
                &ads_path,
                "null",
                "must not update from a positive integer to nil value",
            ));
        }
        (None, None) => {}
    }
    // Only additions to tolerations (an existing one may change its tolerationSeconds).
    let new_tol = ns.tolerations.clone().unwrap_or_default();
    let tol_path = spec_path.child("tolerations");
    let mut tol_ok = true;
    for o in os.tolerations.iter().flatten() {
        let found = new_tol.iter().any(|n| {
            let mut oc = o.clone();
            oc.toleration_seconds = n.toleration_seconds;
            &oc == n
        });
        if !found {
            errs.push(FieldError::forbidden(
                &tol_path,
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            tol_ok = false;
            break;
        }
    }
    if tol_ok {
        errs.extend(tolerations(&new_tol, &tol_path));
    }
    // Only deletions of scheduling gates.
    if let Some(new_gates) = ns.scheduling_gates.as_ref().filter(|g| !g.is_empty()) {
        let old_names: BTreeSet<&str> = os
            .scheduling_gates
            .iter()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        for (i, g) in new_gates.iter().enumerate() {
            if !old_names.contains(g.name.as_str()) {
                errs.push(FieldError::forbidden(
                    &spec_path.child("schedulingGates").index(i).child("name"),
                    format!(
                        "only deletion is allowed, but found new scheduling gate '{}'",
                        g.name
                    ),
                ));
            }
        }
    }
    if ns == os {
        return errs;
    }
    let mut munged = ns.clone();
    for (c, oc) in munged.containers.iter_mut().zip(&os.containers) {
        c.image.clone_from(&oc.image);
    }
    if let (Some(m), Some(o)) = (&mut munged.init_containers, &os.init_containers) {
        for (c, oc) in m.iter_mut().zip(o) {
            c.image.clone_from(&oc.image);
        }
    }
    munged.active_deadline_seconds = os.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&os.scheduling_gates);
    munged.tolerations.clone_from(&os.tolerations);
    if os.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = os.termination_grace_period_seconds;
    }
    if !os.scheduling_gates.as_ref().is_none_or(Vec::is_empty) {
        // Gated pods may add node selector entries and change node affinity; those are checked loosely here.
        munged.node_selector.clone_from(&os.node_selector);
        if let (Some(m), o) = (&mut munged.affinity, &os.affinity) {
            m.node_affinity = o.as_ref().and_then(|a| a.node_affinity.clone());
        }
    }
    if munged != os {
        errs.push(FieldError::forbidden(
            &spec_path,
            format!(
                "pod updates may not change fields other than {}\n{}",
                UPDATABLE_POD_SPEC_FIELDS.join(","),
                spec_diff(&os, &munged)
            ),
        ));
    }
    errs
}

fn annotation_updates(new: &Pod, old: &Pod, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let empty = BTreeMap::new();
    let na = new.metadata.annotations.as_ref().unwrap_or(&empty);
    let oa = old.metadata.annotations.as_ref().unwrap_or(&empty);
    const MIRROR: &str = "kubernetes.io/config.mirror";
    if let Some(ov) = oa.get(MIRROR) {
        if na.get(MIRROR) != Some(ov) {
            errs.push(FieldError::forbidden(
                &path.key(MIRROR),
                "may not remove or update mirror pod annotation",
            ));
        }
    } else if na.contains_key(MIRROR) {
        errs.push(FieldError::forbidden(
            &path.key(MIRROR),
            "may not add mirror pod annotation",
        ));
    }
    errs
}

/// `ValidatePodStatusUpdate`: the kubelet's status writes.
pub fn pod_status_update(new: &Pod, old: &Pod) -> ErrorList {
    let meta_path = Path::new("metadata");
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path);
    errs.extend(annotation_updates(
        new,
        old,
        &meta_path.child("annotations"),
    ));
    let nst = new.status.clone().unwrap_or_default();
    let ost = old.status.clone().unwrap_or_default();
    for (i, c) in nst.conditions.iter().flatten().enumerate() {
        if !["PodScheduled", "Ready", "Initialized"].contains(&c.type_.as_str()) {
            errs.extend(qualified_name(
                &c.type_,
                &meta_path.child("conditions").index(i).child("Type"),
            ));
        }
    }
    let status_path = Path::new("status");
    let ns = new.spec.clone().unwrap_or_default();
    let os = old.spec.clone().unwrap_or_default();
    if ns.node_name != os.node_name {
        errs.push(FieldError::forbidden(
            &status_path.child("nodeName"),
            "may not be changed directly",
        ));
    }
    let nom = s(&nst.nominated_node_name);
    if nst.nominated_node_name != ost.nominated_node_name && !nom.is_empty() {
        errs.extend(invalid_each(
            &status_path.child("nominatedNodeName"),
            nom,
            names::name_is_dns_subdomain(nom, false),
        ));
    }
    if nst.qos_class != ost.qos_class {
        errs.push(FieldError::invalid(
            &status_path.child("qosClass"),
            s(&nst.qos_class),
            super::FIELD_IMMUTABLE,
        ));
    }
    let restart = s(&os.restart_policy).to_string();
    let transitions = |new_st: &Option<Vec<k8s_openapi::api::core::v1::ContainerStatus>>,
                       old_st: &Option<Vec<k8s_openapi::api::core::v1::ContainerStatus>>,
                       path: &Path,
                       policy: &str,
                       restartable: &dyn Fn(&str) -> bool| {
        let mut errs = Vec::new();
        if policy == "Always" {
            return errs;
        }
        for (i, o) in old_st.iter().flatten().enumerate() {
            let Some(term) = o.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
                continue;
            };
            if term.exit_code != 0 && policy == "OnFailure" {
                continue;
            }
            if restartable(&o.name) {
                continue;
            }
            for n in new_st.iter().flatten() {
                if n.name == o.name
                    && n.state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .is_none()
                {
                    errs.push(FieldError::forbidden(
                        &path.index(i).child("state"),
                        "may not be transitioned to non-terminated state",
                    ));
                }
            }
        }
        errs
    };
    errs.extend(transitions(
        &nst.container_statuses,
        &ost.container_statuses,
        &status_path.child("containerStatuses"),
        &restart,
        &|_| false,
    ));
    let restartable_init = |name: &str| {
        os.init_containers
            .iter()
            .flatten()
            .any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"))
    };
    errs.extend(transitions(
        &nst.init_container_statuses,
        &ost.init_container_statuses,
        &status_path.child("initContainerStatuses"),
        &restart,
        &restartable_init,
    ));
    errs.extend(transitions(
        &nst.ephemeral_container_statuses,
        &ost.ephemeral_container_statuses,
        &status_path.child("ephemeralContainerStatuses"),
        "Never",
        &|_| false,
    ));
    errs.extend(ip_list(
        nst.pod_ips
            .iter()
            .flatten()
            .map(|p| p.ip.as_str())
            .collect(),
        &status_path.child("podIPs"),
    ));
    if let Some(hips) = nst.host_ips.as_ref().filter(|h| !h.is_empty()) {
        let hp = status_path.child("hostIPs");
        if s(&nst.host_ip) != hips[0].ip {
            errs.push(FieldError::invalid(
                &hp.index(0).child("ip"),
                &hips[0].ip,
                "must be equal to `hostIP`",
            ));
        }
        errs.extend(ip_list(hips.iter().map(|h| h.ip.as_str()).collect(), &hp));
    }
    errs
}

fn ip_list(ips: Vec<&str>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        errs.extend(invalid_each(&path.index(i), ip, names::is_valid_ip(ip)));
    }
    if ips.len() > 1 {
        let parsed: Vec<_> = ips
            .iter()
            .filter_map(|i| names::parse_ip_sloppy(i))
            .collect();
        let v4 = parsed.iter().filter(|i| i.is_ipv4()).count();
        let dual = parsed.len() == ips.len() && v4 >= 1 && v4 < parsed.len();
        if !dual || ips.len() > 2 {
            let rendered = format!(
                "[]core.PodIP{{{}}}",
                ips.iter()
                    .map(|i| format!("core.PodIP{{IP:{}}}", quote(i)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            errs.push(FieldError::invalid_raw(
                path,
                rendered,
                "may specify no more than one IP for each IP family",
            ));
        }
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for (i, ip) in ips.iter().enumerate() {
            if !seen.insert(ip) {
                errs.push(FieldError::duplicate_raw(
                    &path.index(i),
                    format!("core.PodIP{{IP:{}}}", quote(ip)),
                ));
            }
        }
    }
    errs
}

/// `ValidatePodBinding`: the target must name a node.
pub fn pod_binding(b: &Binding) -> ErrorList {
    let mut errs = Vec::new();
    let kind = s(&b.target.kind);
    if !kind.is_empty() && kind != "Node" {
        errs.push(FieldError::not_supported(
            &Path::new("target").child("kind"),
            kind,
            &["Node", "<empty>"],
        ));
    }
    if s(&b.target.name).is_empty() {
        errs.push(FieldError::required(&Path::new("target").child("name"), ""));
    }
    errs
}

/// Renders an optional grace period the way the update errors print it.
#[allow(dead_code)]
fn grace(v: Option<i64>) -> String {
    go_opt(v)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::defaults;
    use serde_json::json;

    type Case = (Box<dyn FnOnce(&mut serde_json::Value)>, Vec<&'static str>);

    fn pod_from(spec: serde_json::Value) -> Pod {
        let mut p: Pod =
            from(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}));
        defaults::pod(&mut p);
        p
    }

    fn base() -> serde_json::Value {
        json!({"containers": [{"name": "nginx", "image": "nginx:1.25"}]})
    }

    fn with(f: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
        let mut spec = base();
        f(&mut spec);
        rendered(&pod(&pod_from(spec)))
    }

    #[test]
    fn valid_pod_passes() {
        assert_eq!(rendered(&pod(&pod_from(base()))), Vec::<String>::new());
        let full = json!({
            "containers": [{"name": "app", "image": "app:1", "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "A", "value": "1"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "readinessProbe": {"httpGet": {"port": "http"}}}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "x"}}}]
        });
        assert_eq!(rendered(&pod(&pod_from(full))), Vec::<String>::new());
    }

    #[test]
    fn container_rules() {
        let cases: Vec<Case> = vec![
            (Box::new(|s| s["containers"] = json!([])), vec!["spec.containers: Required value"]),
            (Box::new(|s| s["containers"][0]["image"] = json!("")), vec!["spec.containers[0].image: Required value"]),
            (
                Box::new(|s| s["containers"][0]["image"] = json!(" nginx")),
                vec!["spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"],
            ),
            (
                Box::new(|s| s["containers"].as_array_mut().unwrap().push(json!({"name": "nginx", "image": "x"}))),
                vec!["spec.containers[1].name: Duplicate value: \"nginx\""],
            ),
            (
                Box::new(|s| s["initContainers"] = json!([{"name": "nginx", "image": "x"}])),
                vec!["spec.initContainers[0].name: Duplicate value: \"nginx\""],
            ),
            (
                Box::new(|s| s["containers"][0]["name"] = json!("Bad_Name")),
                vec!["spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"],
            ),
            (
                Box::new(|s| s["containers"][0]["ports"] = json!([{"containerPort": 70000}])),
                vec!["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"],
            ),
            (
                Box::new(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "protocol": "HTTP"}])),
                vec!["spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""],
            ),
            (
                Box::new(|s| s["containers"][0]["ports"] = json!([{"name": "web", "containerPort": 80}, {"name": "web", "containerPort": 81}])),
                vec!["spec.containers[0].ports[1].name: Duplicate value: \"web\""],
            ),
            (
                Box::new(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 80}, {"containerPort": 81, "hostPort": 80}])),
                vec!["spec.containers[0].ports[1].hostPort: Duplicate value: \"TCP//80\""],
            ),
            (
                Box::new(|s| s["containers"][0]["env"] = json!([{"name": "A=B"}])),
                vec!["spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"],
            ),
            (
                Box::new(|s| s["containers"][0]["volumeMounts"] = json!([{"name": "missing", "mountPath": "/x"}])),
                vec!["spec.containers[0].volumeMounts[0].name: Not found: \"missing\""],
            ),
            (
                Box::new(|s| s["containers"][0]["resources"] = json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})),
                vec!["spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"],
            ),
            (
                Box::new(|s| s["containers"][0]["resources"] = json!({"requests": {"memory": "-1Mi"}})),
                vec!["spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0"],
            ),
            (
                Box::new(|s| s["containers"][0]["resources"] = json!({"requests": {"cpu": "abc"}})),
                vec!["spec.containers[0].resources.requests[cpu]: Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
            ),
            (
                Box::new(|s| s["containers"][0]["resources"] = json!({"requests": {"gpu": "1"}})),
                vec![
                    "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                    "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
                ],
            ),
            (
                Box::new(|s| s["containers"][0]["imagePullPolicy"] = json!("Sometimes")),
                vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""],
            ),
            (
                Box::new(|s| s["containers"][0]["terminationMessagePolicy"] = json!("Nope")),
                vec!["spec.containers[0].terminationMessagePolicy: Unsupported value: \"Nope\": supported values: \"File\", \"FallbackToLogsOnError\""],
            ),
            (
                Box::new(|s| s["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["true"]}, "successThreshold": 2})),
                vec!["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
            ),
            (
                Box::new(|s| s["initContainers"] = json!([{"name": "i", "image": "x", "livenessProbe": {"exec": {"command": ["true"]}}}])),
                vec!["spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"],
            ),
        ];
        for (f, want) in cases {
            assert_eq!(with(f), want);
        }
    }

    #[test]
    fn spec_rules() {
        let cases: Vec<Case> = vec![
            (
                Box::new(|s| s["restartPolicy"] = json!("Sometimes")),
                vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""],
            ),
            (
                Box::new(|s| s["dnsPolicy"] = json!("Bogus")),
                vec!["spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""],
            ),
            (
                Box::new(|s| s["terminationGracePeriodSeconds"] = json!(-1)),
                vec![],
            ),
            (
                Box::new(|s| s["activeDeadlineSeconds"] = json!(0)),
                vec!["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"],
            ),
            (
                Box::new(|s| s["volumes"] = json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}])),
                vec!["spec.volumes[1].name: Duplicate value: \"a\""],
            ),
            (
                Box::new(|s| s["volumes"] = json!([{"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}}])),
                vec!["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"],
            ),
            (
                Box::new(|s| s["volumes"] = json!([{"name": "c", "configMap": {"name": "cm", "defaultMode": 1000}}])),
                vec!["spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive"],
            ),
            (
                Box::new(|s| s["nodeSelector"] = json!({"disk": "bad value"})),
                vec!["spec.nodeSelector: Invalid value: \"bad value\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"],
            ),
            (
                Box::new(|s| s["tolerations"] = json!([{"operator": "Equal", "value": "x"}])),
                vec!["spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""],
            ),
            (
                Box::new(|s| s["tolerations"] = json!([{"key": "k", "operator": "Exists", "value": "v"}])),
                vec!["spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'"],
            ),
            (
                Box::new(|s| s["tolerations"] = json!([{"key": "k", "operator": "Exists", "effect": "Sometimes"}])),
                vec!["spec.tolerations[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""],
            ),
            (
                Box::new(|s| s["tolerations"] = json!([{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}])),
                vec!["spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"],
            ),
            (
                Box::new(|s| s["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}]}}})),
                vec!["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator"],
            ),
            (
                Box::new(|s| s["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]}, "topologyKey": "zone"}]}})),
                vec!["spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
            ),
            (
                Box::new(|s| s["topologySpreadConstraints"] = json!([{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}])),
                vec![
                    "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
                    "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
                ],
            ),
            (
                Box::new(|s| s["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}])),
                vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"],
            ),
        ];
        for (f, want) in cases {
            assert_eq!(with(f), want);
        }
    }

    #[test]
    fn updates() {
        let mut old = pod_from(base());
        old.metadata.resource_version = Some("1".into());
        old.metadata.uid = Some("u".into());
        let mut new = old.clone();
        new.spec.as_mut().unwrap().containers[0].image = Some("nginx:1.26".into());
        new.spec.as_mut().unwrap().active_deadline_seconds = Some(30);
        new.spec
            .as_mut()
            .unwrap()
            .tolerations
            .as_mut()
            .unwrap()
            .push(Toleration {
                key: Some("x".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            });
        assert_eq!(rendered(&pod_update(&new, &old)), Vec::<String>::new());

        let mut bad = old.clone();
        bad.spec.as_mut().unwrap().restart_policy = Some("Never".into());
        let errs = rendered(&pod_update(&bad, &old));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with(
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n"
        ), "{}", errs[0]);
        assert!(
            errs[0].contains("- \tRestartPolicy: \"Always\",\n+ \tRestartPolicy: \"Never\",\n"),
            "{}",
            errs[0]
        );

        let mut removed = old.clone();
        removed.spec.as_mut().unwrap().containers.push(Container {
            name: "b".into(),
            image: Some("b".into()),
            ..Default::default()
        });
        assert_eq!(
            rendered(&pod_update(&removed, &old))
                .last()
                .map(String::as_str),
            Some("spec.containers: Forbidden: pod updates may not add or remove containers")
        );

        let mut tol = old.clone();
        tol.spec.as_mut().unwrap().tolerations = Some(vec![]);
        assert_eq!(
            rendered(&pod_update(&tol, &old)),
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
        );

        let mut ads_old = old.clone();
        ads_old.spec.as_mut().unwrap().active_deadline_seconds = Some(10);
        let mut ads_new = ads_old.clone();
        ads_new.spec.as_mut().unwrap().active_deadline_seconds = Some(20);
        assert_eq!(
            rendered(&pod_update(&ads_new, &ads_old)),
            vec!["spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"]
        );
    }

    #[test]
    fn status_update_and_binding() {
        let mut old = pod_from(base());
        old.metadata.resource_version = Some("1".into());
        let mut new = old.clone();
        new.status.as_mut().unwrap().phase = Some("Running".into());
        new.status.as_mut().unwrap().pod_ip = Some("10.0.0.5".into());
        assert_eq!(
            rendered(&pod_status_update(&new, &old)),
            Vec::<String>::new()
        );
        new.status.as_mut().unwrap().qos_class = Some("Guaranteed".into());
        new.spec.as_mut().unwrap().node_name = Some("n1".into());
        assert_eq!(
            rendered(&pod_status_update(&new, &old)),
            vec![
                "status.nodeName: Forbidden: may not be changed directly",
                "status.qosClass: Invalid value: \"Guaranteed\": field is immutable"
            ]
        );
        let b: Binding = from(json!({"metadata": {"name": "web"}, "target": {"kind": "Node"}}));
        assert_eq!(
            rendered(&pod_binding(&b)),
            vec!["target.name: Required value"]
        );
        let b: Binding =
            from(json!({"metadata": {"name": "web"}, "target": {"kind": "Pod", "name": "x"}}));
        assert_eq!(
            rendered(&pod_binding(&b)),
            vec![
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\""
            ]
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let p: Pod = from(
            json!({"metadata": {}, "spec": {"containers": [{"name": ""}],
            "volumes": [{"name": ""}], "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": ""},
            {"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": ""}]}}),
        );
        let _ = pod(&p);
        let _ = pod_update(&p, &Pod::default());
        let _ = pod_status_update(&Pod::default(), &p);
        let _ = pod(&Pod::default());
    }
}
