//! Defaulting as a Kubernetes 1.32 API server applies it, per kind, on k8s-openapi types.
//!
//! Upstream fills defaults in three places, and so that a served object looks exactly like a real
//! cluster's, each `pod`/`deployment`/... function here does all of them that need no cluster state:
//!
//! - the versioned defaulters (`pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`, ...);
//! - the registry strategies' `PrepareForCreate` (pod `status.phase: Pending` and `qosClass`, namespace
//!   `spec.finalizers` and `status.phase`);
//! - the admission plugins that every cluster runs: `ServiceAccount` (`serviceAccountName: default`),
//!   `DefaultTolerationSeconds` (the not-ready/unreachable tolerations) and `Priority` for pods without a
//!   `priorityClassName`. A named class needs a lookup, so the server resolves it and calls
//!   [`set_pod_priority`].
//!
//! Quantities in container resources are rewritten to upstream's canonical spelling (`0.5` → `500m`),
//! because a real server re-encodes them on the way to storage. Service `clusterIP` allocation is the
//! server's job. Functions for create-only steps say so; update paths call only the versioned defaulters
//! (`pod_spec_defaults` through the kind functions marked as such).

use crate::quantity::{self, Quantity};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStrategy, ReplicaSet, RollingUpdateDeployment,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, Event, HTTPGetAction, LifecycleHandler, Namespace,
    NamespaceSpec, NamespaceStatus, Node, ObjectFieldSelector, Pod, PodCondition, PodSpec,
    PodStatus, PodTemplateSpec, Probe, ResourceRequirements, Secret, Service, Toleration, Volume,
};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// `defaultMode` of configMap, secret, downwardAPI and projected volumes: 0644.
pub const DEFAULT_VOLUME_MODE: i32 = 0o644;
/// `DefaultTolerationSeconds` admission: five minutes.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// Taint keys the node lifecycle controller puts on unhealthy nodes.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The label every namespace carries with its own name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";

fn set_if_none<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Empty strings count as unset, as for Go's zero values.
fn set_str_if_empty(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(str::is_empty) {
        *slot = Some(value.to_string());
    }
}

fn set_i32_if_zero(slot: &mut Option<i32>, value: i32) {
    if slot.is_none_or(|v| v == 0) {
        *slot = Some(value);
    }
}

/// The tag `parsers.ParseImageName` finds: `latest` when there is neither tag nor digest, empty when
/// there is a digest only or the reference does not parse.
fn image_tag(image: &str) -> Option<&str> {
    if image.is_empty() || image != image.trim() {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if name.is_empty() {
        return None;
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    // A repository path must be lower case (`docker/reference` rejects upper case there).
    let path = repo.split_once('/').map_or(repo, |(host, rest)| {
        if host.contains('.') || host.contains(':') || host == "localhost" {
            rest
        } else {
            repo
        }
    });
    if path.bytes().any(|c| c.is_ascii_uppercase()) || path.is_empty() {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) if !t.is_empty() => Some(t),
        (Some(_), _) => None,
        (None, Some(_)) => Some(""),
        (None, None) => Some("latest"),
    }
}

/// `imagePullPolicy` for an image: `Always` for `:latest` or no tag, else `IfNotPresent`.
pub fn default_pull_policy(image: &str) -> &'static str {
    if image_tag(image) == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

fn http_get(h: &mut HTTPGetAction) {
    set_str_if_empty(&mut h.path, "/");
    set_str_if_empty(&mut h.scheme, "HTTP");
}

fn probe(p: &mut Probe) {
    set_i32_if_zero(&mut p.timeout_seconds, 1);
    set_i32_if_zero(&mut p.period_seconds, 10);
    set_i32_if_zero(&mut p.success_threshold, 1);
    set_i32_if_zero(&mut p.failure_threshold, 3);
    if let Some(h) = &mut p.http_get {
        http_get(h);
    }
    if let Some(g) = &mut p.grpc {
        set_if_none(&mut g.service, String::new());
    }
}

fn lifecycle_handler(h: &mut LifecycleHandler) {
    if let Some(g) = &mut h.http_get {
        http_get(g);
    }
}

fn field_selector(f: &mut ObjectFieldSelector) {
    set_str_if_empty(&mut f.api_version, "v1");
}

fn normalize_resources(r: &mut ResourceRequirements) {
    for list in [&mut r.limits, &mut r.requests].into_iter().flatten() {
        for q in list.values_mut() {
            quantity::normalize(q);
        }
    }
}

/// Defaults shared by containers, init containers and ephemeral containers.
macro_rules! container_common {
    ($c:expr) => {{
        let c = $c;
        if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
            c.image_pull_policy =
                Some(default_pull_policy(c.image.as_deref().unwrap_or("")).to_string());
        }
        set_str_if_empty(&mut c.termination_message_path, "/dev/termination-log");
        set_str_if_empty(&mut c.termination_message_policy, "File");
        for p in c.ports.iter_mut().flatten() {
            set_str_if_empty(&mut p.protocol, "TCP");
        }
        // The empty `resources: {}` a real server always writes.
        normalize_resources(c.resources.get_or_insert_with(Default::default));
        for e in c.env.iter_mut().flatten() {
            if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
                field_selector(f);
            }
        }
        for p in [
            &mut c.liveness_probe,
            &mut c.readiness_probe,
            &mut c.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            probe(p);
        }
        if let Some(l) = &mut c.lifecycle {
            for h in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
                lifecycle_handler(h);
            }
        }
    }};
}

/// `SetDefaults_Container` and the defaults of everything a container holds.
pub fn container(c: &mut Container) {
    container_common!(c);
}

/// `SetDefaults_EphemeralContainer`.
pub fn ephemeral_container(c: &mut EphemeralContainer) {
    container_common!(c);
}

/// `SetDefaults_Volume` and the per-source defaulters.
pub fn volume(v: &mut Volume) {
    let any_source = v.aws_elastic_block_store.is_some()
        || v.azure_disk.is_some()
        || v.azure_file.is_some()
        || v.cephfs.is_some()
        || v.cinder.is_some()
        || v.config_map.is_some()
        || v.csi.is_some()
        || v.downward_api.is_some()
        || v.empty_dir.is_some()
        || v.ephemeral.is_some()
        || v.fc.is_some()
        || v.flex_volume.is_some()
        || v.flocker.is_some()
        || v.gce_persistent_disk.is_some()
        || v.git_repo.is_some()
        || v.glusterfs.is_some()
        || v.host_path.is_some()
        || v.image.is_some()
        || v.iscsi.is_some()
        || v.nfs.is_some()
        || v.persistent_volume_claim.is_some()
        || v.photon_persistent_disk.is_some()
        || v.portworx_volume.is_some()
        || v.projected.is_some()
        || v.quobyte.is_some()
        || v.rbd.is_some()
        || v.scale_io.is_some()
        || v.secret.is_some()
        || v.storageos.is_some()
        || v.vsphere_volume.is_some();
    if !any_source {
        v.empty_dir = Some(Default::default());
    }
    if let Some(e) = &mut v.empty_dir {
        if let Some(q) = &mut e.size_limit {
            quantity::normalize(q);
        }
    }
    if let Some(h) = &mut v.host_path {
        set_if_none(&mut h.type_, String::new());
    }
    if let Some(s) = &mut v.secret {
        set_if_none(&mut s.default_mode, DEFAULT_VOLUME_MODE);
    }
    if let Some(c) = &mut v.config_map {
        set_if_none(&mut c.default_mode, DEFAULT_VOLUME_MODE);
    }
    if let Some(d) = &mut v.downward_api {
        set_if_none(&mut d.default_mode, DEFAULT_VOLUME_MODE);
        for item in d.items.iter_mut().flatten() {
            if let Some(f) = &mut item.field_ref {
                field_selector(f);
            }
        }
    }
    if let Some(p) = &mut v.projected {
        set_if_none(&mut p.default_mode, DEFAULT_VOLUME_MODE);
        for src in p.sources.iter_mut().flatten() {
            if let Some(t) = &mut src.service_account_token {
                set_if_none(&mut t.expiration_seconds, 3600);
            }
            if let Some(d) = &mut src.downward_api {
                for item in d.items.iter_mut().flatten() {
                    if let Some(f) = &mut item.field_ref {
                        field_selector(f);
                    }
                }
            }
        }
    }
    if let Some(i) = &mut v.iscsi {
        set_str_if_empty(&mut i.iscsi_interface, "default");
        set_str_if_empty(&mut i.fs_type, "ext4");
    }
    if let Some(r) = &mut v.rbd {
        set_str_if_empty(&mut r.pool, "rbd");
        set_str_if_empty(&mut r.user, "admin");
        set_str_if_empty(&mut r.keyring, "/etc/ceph/keyring");
        set_str_if_empty(&mut r.fs_type, "ext4");
    }
}

fn host_network_ports(containers: &mut [Container]) {
    for c in containers {
        for p in c.ports.iter_mut().flatten() {
            if p.host_port.is_none_or(|h| h == 0) {
                p.host_port = Some(p.container_port);
            }
        }
    }
}

/// `SetDefaults_PodSpec` plus the defaults of its containers and volumes: what a pod template gets.
pub fn pod_spec(s: &mut PodSpec) {
    set_str_if_empty(&mut s.dns_policy, "ClusterFirst");
    set_str_if_empty(&mut s.restart_policy, "Always");
    set_if_none(&mut s.security_context, Default::default());
    set_if_none(&mut s.termination_grace_period_seconds, 30);
    set_str_if_empty(&mut s.scheduler_name, "default-scheduler");
    for c in s
        .containers
        .iter_mut()
        .chain(s.init_containers.iter_mut().flatten())
    {
        container(c);
    }
    for c in s.ephemeral_containers.iter_mut().flatten() {
        ephemeral_container(c);
    }
    for v in s.volumes.iter_mut().flatten() {
        volume(v);
    }
    if let Some(o) = &mut s.overhead {
        for q in o.values_mut() {
            quantity::normalize(q);
        }
    }
    // v1 conversion: serviceAccount mirrors serviceAccountName (and fills it when only it is set).
    match (
        s.service_account_name.as_deref(),
        s.service_account.as_deref(),
    ) {
        (None | Some(""), Some(sa)) if !sa.is_empty() => {
            s.service_account_name = Some(sa.to_string())
        }
        _ => {}
    }
    if let Some(name) = s.service_account_name.clone().filter(|n| !n.is_empty()) {
        s.service_account = Some(name);
    }
}

/// `SetDefaults_PodTemplateSpec` (the spec defaults; pod-only defaults such as `enableServiceLinks` and
/// requests-from-limits are not applied to templates, as upstream).
pub fn pod_template(t: &mut PodTemplateSpec) {
    pod_spec(t.spec.get_or_insert_with(Default::default));
}

/// `SetDefaults_Pod`: requests default to limits key by key; `enableServiceLinks: true`; host-network
/// pods get `hostPort = containerPort`. Applies to creates and updates alike.
pub fn pod_versioned(p: &mut Pod) {
    let s = p.spec.get_or_insert_with(Default::default);
    for c in s
        .containers
        .iter_mut()
        .chain(s.init_containers.iter_mut().flatten())
    {
        let r = c.resources.get_or_insert_with(Default::default);
        if let Some(limits) = &r.limits {
            let requests = r.requests.get_or_insert_with(BTreeMap::new);
            for (k, v) in limits {
                requests.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    set_if_none(&mut s.enable_service_links, true);
    if s.host_network == Some(true) {
        host_network_ports(&mut s.containers);
        if let Some(ic) = &mut s.init_containers {
            host_network_ports(ic);
        }
    }
    pod_spec(s);
}

/// Everything a pod gets on create: [`pod_versioned`], the `ServiceAccount` and `DefaultTolerationSeconds`
/// admission defaults, priority 0 when no `priorityClassName` is named, and the strategy's status
/// (`phase: Pending`, `qosClass`, the `SchedulingGated` condition) and affinity `matchLabelKeys` merge.
pub fn pod(p: &mut Pod) {
    pod_versioned(p);
    let labels = p.metadata.labels.clone().unwrap_or_default();
    let s = p.spec.get_or_insert_with(Default::default);
    set_str_if_empty(&mut s.service_account_name, "default");
    if let Some(name) = s.service_account_name.clone() {
        s.service_account = Some(name);
    }
    default_toleration_seconds(s.tolerations.get_or_insert_with(Vec::new));
    if s.priority_class_name.as_deref().is_none_or(str::is_empty) && s.priority.is_none() {
        s.priority = Some(0);
    }
    set_str_if_empty(&mut s.preemption_policy, "PreemptLowerPriority");
    merge_match_label_keys(s, &labels);
    let gated = s.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty());
    let qos = pod_qos(s).to_string();
    let mut status = PodStatus {
        phase: Some("Pending".into()),
        qos_class: Some(qos),
        ..Default::default()
    };
    if gated {
        status.conditions = Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("SchedulingGated".into()),
            message: Some("Scheduling is blocked due to non-empty scheduling gates".into()),
            ..Default::default()
        }]);
    }
    p.status = Some(status);
}

/// The `Priority` admission result for a pod: the resolved class value and its preemption policy
/// (`PreemptLowerPriority` when the class has none).
pub fn set_pod_priority(p: &mut Pod, value: i32, preemption_policy: Option<&str>) {
    let s = p.spec.get_or_insert_with(Default::default);
    s.priority = Some(value);
    s.preemption_policy = Some(
        preemption_policy
            .filter(|x| !x.is_empty())
            .unwrap_or("PreemptLowerPriority")
            .to_string(),
    );
}

fn tolerates(t: &Toleration, key: &str) -> bool {
    let k = t.key.as_deref().unwrap_or("");
    let e = t.effect.as_deref().unwrap_or("");
    (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
}

/// `DefaultTolerationSeconds` admission: tolerate not-ready and unreachable nodes for 300 s unless the pod
/// already tolerates them.
pub fn default_toleration_seconds(tolerations: &mut Vec<Toleration>) {
    for key in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
        if !tolerations.iter().any(|t| tolerates(t, key)) {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                value: None,
            });
        }
    }
}

/// The pod strategy's `mutatePodAffinity`: `matchLabelKeys`/`mismatchLabelKeys` of pod (anti-)affinity
/// terms become `In`/`NotIn` requirements on the pod's own label values.
fn merge_match_label_keys(s: &mut PodSpec, labels: &BTreeMap<String, String>) {
    let Some(aff) = &mut s.affinity else { return };
    let mut terms: Vec<&mut k8s_openapi::api::core::v1::PodAffinityTerm> = Vec::new();
    if let Some(pa) = &mut aff.pod_affinity {
        terms.extend(
            pa.required_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten(),
        );
        terms.extend(
            pa.preferred_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten()
                .map(|w| &mut w.pod_affinity_term),
        );
    }
    if let Some(pa) = &mut aff.pod_anti_affinity {
        terms.extend(
            pa.required_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten(),
        );
        terms.extend(
            pa.preferred_during_scheduling_ignored_during_execution
                .iter_mut()
                .flatten()
                .map(|w| &mut w.pod_affinity_term),
        );
    }
    for t in terms {
        let Some(sel) = &mut t.label_selector else {
            continue;
        };
        let mut add: Vec<LabelSelectorRequirement> = Vec::new();
        for (keys, op) in [
            (&t.match_label_keys, "In"),
            (&t.mismatch_label_keys, "NotIn"),
        ] {
            for k in keys.iter().flatten() {
                if let Some(v) = labels.get(k) {
                    add.push(LabelSelectorRequirement {
                        key: k.clone(),
                        operator: op.into(),
                        values: Some(vec![v.clone()]),
                    });
                }
            }
        }
        if !add.is_empty() {
            merge_requirements(sel, add);
        }
    }
}

fn merge_requirements(sel: &mut LabelSelector, add: Vec<LabelSelectorRequirement>) {
    sel.match_expressions
        .get_or_insert_with(Vec::new)
        .extend(add);
}

/// `qos.ComputePodQOS`: `Guaranteed` when every container limits cpu and memory and requests equal
/// limits, `BestEffort` when nothing requests or limits cpu or memory, else `Burstable`.
pub fn pod_qos(s: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let zero = Quantity::from_i64(0, quantity::Format::DecimalSI);
    for c in s
        .containers
        .iter()
        .chain(s.init_containers.iter().flatten())
    {
        let r = c.resources.as_ref();
        for (name, q) in r.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            let name = name.as_str();
            if name != "cpu" && name != "memory" {
                continue;
            }
            let Ok(q) = Quantity::try_from(q) else {
                continue;
            };
            if q > zero {
                let sum = requests
                    .get(name)
                    .map_or_else(|| q.clone(), |prev| q.add(prev));
                requests.insert(name, sum);
            }
        }
        let mut found = (false, false);
        for (name, q) in r.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            let name = name.as_str();
            if name != "cpu" && name != "memory" {
                continue;
            }
            let Ok(q) = Quantity::try_from(q) else {
                continue;
            };
            if q > zero {
                if name == "cpu" {
                    found.0 = true;
                } else {
                    found.1 = true;
                }
                let sum = limits
                    .get(name)
                    .map_or_else(|| q.clone(), |prev| q.add(prev));
                limits.insert(name, sum);
            }
        }
        if found != (true, true) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests.iter().any(|(k, r)| limits.get(k) != Some(r)) {
        guaranteed = false;
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// `SetDefaults_Deployment` plus the template: replicas 1, `RollingUpdate` 25%/25%,
/// `revisionHistoryLimit: 10`, `progressDeadlineSeconds: 600`.
pub fn deployment(d: &mut Deployment) {
    let s = d.spec.get_or_insert_with(Default::default);
    set_if_none(&mut s.replicas, 1);
    let strategy = s.strategy.get_or_insert_with(DeploymentStrategy::default);
    set_str_if_empty(&mut strategy.type_, "RollingUpdate");
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        set_if_none(&mut ru.max_unavailable, IntOrString::String("25%".into()));
        set_if_none(&mut ru.max_surge, IntOrString::String("25%".into()));
    }
    set_if_none(&mut s.revision_history_limit, 10);
    set_if_none(&mut s.progress_deadline_seconds, 600);
    pod_template(&mut s.template);
}

/// `SetDefaults_ReplicaSet` plus the template: replicas 1.
pub fn replica_set(r: &mut ReplicaSet) {
    let s = r.spec.get_or_insert_with(Default::default);
    set_if_none(&mut s.replicas, 1);
    if let Some(t) = &mut s.template {
        pod_template(t);
    }
}

/// `SetDefaults_Service` plus the IP-family fields the allocator fills on a single-stack IPv4 cluster.
pub fn service(svc: &mut Service) {
    let s = svc.spec.get_or_insert_with(Default::default);
    set_str_if_empty(&mut s.session_affinity, "None");
    if s.session_affinity.as_deref() == Some("ClientIP") {
        let cfg = s
            .session_affinity_config
            .get_or_insert_with(Default::default);
        let ip = cfg.client_ip.get_or_insert_with(Default::default);
        set_if_none(&mut ip.timeout_seconds, 10800);
    }
    set_str_if_empty(&mut s.type_, "ClusterIP");
    for p in s.ports.iter_mut().flatten() {
        set_str_if_empty(&mut p.protocol, "TCP");
        let unset = match &p.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(v)) => v.is_empty(),
            _ => false,
        };
        if unset {
            p.target_port = Some(IntOrString::Int(p.port));
        }
    }
    let ty = s.type_.clone().unwrap_or_default();
    if (ty == "NodePort" || ty == "LoadBalancer")
        && s.external_traffic_policy
            .as_deref()
            .is_none_or(str::is_empty)
    {
        s.external_traffic_policy = Some("Cluster".into());
    }
    if ty != "ExternalName" && s.internal_traffic_policy.is_none() {
        s.internal_traffic_policy = Some("Cluster".into());
    }
    if ty == "LoadBalancer" {
        set_if_none(&mut s.allocate_load_balancer_node_ports, true);
    }
    if ty != "ExternalName" {
        // clusterIPs mirrors clusterIP.
        if let Some(ip) = s.cluster_ip.clone().filter(|ip| !ip.is_empty()) {
            if s.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
                s.cluster_ips = Some(vec![ip]);
            }
        }
        let headless = s.cluster_ip.as_deref() == Some("None");
        let selectorless = s.selector.as_ref().is_none_or(BTreeMap::is_empty);
        if s.ip_family_policy.is_none() {
            let policy = if headless
                && selectorless
                && s.ip_families.as_ref().is_none_or(|f| f.len() != 1)
            {
                "RequireDualStack"
            } else {
                "SingleStack"
            };
            s.ip_family_policy = Some(policy.into());
        }
        if s.ip_families.as_ref().is_none_or(Vec::is_empty) {
            s.ip_families = Some(vec!["IPv4".into()]);
        }
    }
}

/// Namespace defaults and create strategy: `spec.finalizers: [kubernetes]`, `status.phase: Active`, and
/// the `kubernetes.io/metadata.name` label.
pub fn namespace(ns: &mut Namespace) {
    if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
        ns.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(LABEL_METADATA_NAME.into(), name);
    }
    ns.spec = Some(NamespaceSpec {
        finalizers: Some(vec!["kubernetes".into()]),
    });
    let st = ns.status.get_or_insert_with(NamespaceStatus::default);
    set_str_if_empty(&mut st.phase, "Active");
}

/// Namespace defaults on update (the label is kept in step with the name; phase defaults).
pub fn namespace_update(ns: &mut Namespace) {
    if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
        ns.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(LABEL_METADATA_NAME.into(), name);
    }
    let st = ns.status.get_or_insert_with(NamespaceStatus::default);
    set_str_if_empty(&mut st.phase, "Active");
}

/// `SetDefaults_Secret`: `type: Opaque`; `stringData` is merged into `data` as the v1 conversion does.
pub fn secret(s: &mut Secret) {
    set_str_if_empty(&mut s.type_, "Opaque");
    if let Some(sd) = s.string_data.take() {
        let data = s.data.get_or_insert_with(BTreeMap::new);
        for (k, v) in sd {
            data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
        }
    }
}

/// `SetDefaults_NodeStatus`: allocatable defaults to capacity; quantities canonical.
pub fn node(n: &mut Node) {
    if let Some(st) = &mut n.status {
        if st.allocatable.is_none() {
            st.allocatable.clone_from(&st.capacity);
        }
        for list in [&mut st.capacity, &mut st.allocatable]
            .into_iter()
            .flatten()
        {
            for q in list.values_mut() {
                quantity::normalize(q);
            }
        }
    }
}

/// Events have no defaults upstream; kept for symmetry (and so a future default has a home).
pub fn event(_e: &mut Event) {}

/// Leases have no defaults upstream.
pub fn lease(_l: &mut Lease) {}

/// `SetDefaults_PriorityClass`: `preemptionPolicy: PreemptLowerPriority`.
pub fn priority_class(pc: &mut PriorityClass) {
    set_str_if_empty(&mut pc.preemption_policy, "PreemptLowerPriority");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_matches_a_real_server() {
        let mut p: Pod = from(json!({
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
        }));
        pod(&mut p);
        let got = serde_json::to_value(&p).unwrap();
        assert_eq!(
            got["spec"],
            json!({
                "containers": [{
                    "image": "nginx:1.25", "name": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "resources": {}
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "serviceAccount": "default",
                "serviceAccountName": "default",
                "enableServiceLinks": true,
                "preemptionPolicy": "PreemptLowerPriority",
                "priority": 0,
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]
            })
        );
        assert_eq!(
            got["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn pull_policies() {
        for (image, want) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("localhost:5000/nginx", "Always"),
            ("localhost:5000/nginx:v1", "IfNotPresent"),
            (
                "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "IfNotPresent",
            ),
            ("", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            ("registry.example.com/team/app:latest", "Always"),
        ] {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn requests_from_limits_and_qos() {
        let mut p: Pod = from(json!({
            "metadata": {"name": "g"},
            "spec": {"containers": [{"name": "a", "image": "x:1", "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}}}]}
        }));
        pod(&mut p);
        let r = serde_json::to_value(&p.spec.as_ref().unwrap().containers[0].resources).unwrap();
        assert_eq!(
            r,
            json!({"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}})
        );
        assert_eq!(p.status.unwrap().qos_class.as_deref(), Some("Guaranteed"));

        let burst: PodSpec = from(
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}),
        );
        assert_eq!(pod_qos(&burst), "Burstable");
        let unequal: PodSpec = from(json!({"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "200m", "memory": "1Gi"}}}]}));
        assert_eq!(pod_qos(&unequal), "Burstable");
        let zero: PodSpec =
            from(json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "0"}}}]}));
        assert_eq!(pod_qos(&zero), "BestEffort");
    }

    #[test]
    fn tolerations_not_duplicated_and_priority() {
        let mut p: Pod = from(
            json!({"metadata": {"name": "t"}, "spec": {"containers": [{"name": "a", "image": "b"}],
            "tolerations": [{"operator": "Exists"}], "priorityClassName": "high"}}),
        );
        pod(&mut p);
        let s = p.spec.as_ref().unwrap();
        assert_eq!(s.tolerations.as_ref().unwrap().len(), 1);
        assert_eq!(s.priority, None);
        set_pod_priority(&mut p, 1000, None);
        let s = p.spec.as_ref().unwrap();
        assert_eq!(
            (s.priority, s.preemption_policy.as_deref()),
            (Some(1000), Some("PreemptLowerPriority"))
        );
    }

    #[test]
    fn volumes_probes_and_gates() {
        let mut p: Pod = from(
            json!({"metadata": {"name": "v", "labels": {"app": "x"}}, "spec": {
                "containers": [{"name": "a", "image": "b", "livenessProbe": {"httpGet": {"port": 80}},
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
                "volumes": [{"name": "e"}, {"name": "c", "configMap": {"name": "cm"}}, {"name": "h", "hostPath": {"path": "/x"}},
                            {"name": "s", "secret": {"secretName": "s"}}],
                "schedulingGates": [{"name": "wait"}],
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {}, "topologyKey": "kubernetes.io/hostname", "matchLabelKeys": ["app"]}]}}
            }}),
        );
        pod(&mut p);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v["spec"]["volumes"][0],
            json!({"name": "e", "emptyDir": {}})
        );
        assert_eq!(
            v["spec"]["volumes"][1]["configMap"]["defaultMode"],
            json!(420)
        );
        assert_eq!(
            v["spec"]["volumes"][2]["hostPath"],
            json!({"path": "/x", "type": ""})
        );
        assert_eq!(v["spec"]["volumes"][3]["secret"]["defaultMode"], json!(420));
        assert_eq!(
            v["spec"]["containers"][0]["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10,
                   "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            v["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            json!("v1")
        );
        assert_eq!(
            v["status"]["conditions"][0]["reason"],
            json!("SchedulingGated")
        );
        assert_eq!(
            v["spec"]["affinity"]["podAntiAffinity"]
                ["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"],
            json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]})
        );
    }

    #[test]
    fn deployment_and_replicaset() {
        let mut d: Deployment = from(
            json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        );
        deployment(&mut d);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["spec"]["replicas"], json!(1));
        assert_eq!(
            v["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(v["spec"]["revisionHistoryLimit"], json!(10));
        assert_eq!(v["spec"]["progressDeadlineSeconds"], json!(600));
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            json!("Always")
        );
        assert!(v["spec"]["template"]["spec"]
            .get("enableServiceLinks")
            .is_none());
        let mut rs: ReplicaSet = from(json!({"metadata": {"name": "r"}, "spec": {"selector": {}}}));
        replica_set(&mut rs);
        assert_eq!(rs.spec.unwrap().replicas, Some(1));
    }

    #[test]
    fn service_namespace_secret_priorityclass() {
        let mut s: Service = from(
            json!({"metadata": {"name": "s"}, "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}]}}),
        );
        service(&mut s);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v["spec"],
            json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"a": "b"},
                   "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                   "internalTrafficPolicy": "Cluster"})
        );
        let mut ns: Namespace = from(json!({"metadata": {"name": "team"}}));
        namespace(&mut ns);
        let v = serde_json::to_value(&ns).unwrap();
        assert_eq!(
            v["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "team"})
        );
        assert_eq!(v["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(v["status"], json!({"phase": "Active"}));
        let mut sec: Secret = from(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}));
        secret(&mut sec);
        assert_eq!(sec.type_.as_deref(), Some("Opaque"));
        assert_eq!(sec.data.unwrap()["k"].0, b"v".to_vec());
        let mut pc: PriorityClass = from(json!({"metadata": {"name": "p"}, "value": 5}));
        priority_class(&mut pc);
        assert_eq!(
            pc.preemption_policy.as_deref(),
            Some("PreemptLowerPriority")
        );
    }
}
