//! Resource arithmetic as the scheduler counts it: `framework.Resource` and `resourcehelper.PodRequests`.
//!
//! Quantities are parsed once (when a pod or node enters the snapshot, or once per cycle for the pod
//! being scheduled) into integers: milli-CPU, bytes, pod counts and scalar (extended, hugepages,
//! attachable-volumes) values, so that Filter and Score compare integers only.
//!
//! Pod requests follow `PodRequests` of v1.32: the sum of the app containers, restartable (sidecar)
//! init containers added to that sum and to every later init container, the max with each init
//! container, plus `spec.overhead`. The "non-zero" variant (used for scoring) substitutes 100m CPU and
//! 200Mi memory for a container that does not mention the resource at all (an explicit `0` stays 0).

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use std::collections::BTreeMap;

/// `schedutil.DefaultMilliCPURequest`: CPU assumed for scoring when a container requests none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// `schedutil.DefaultMemoryRequest`: memory assumed for scoring when a container requests none (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// `v1helper.IsExtendedResourceName`: a domain-qualified name outside `kubernetes.io/`.
pub fn is_extended_resource_name(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    skiff_api::labels::is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// `IsNativeResource`: no domain, or a `kubernetes.io/` one.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `schedutil.IsScalarResourceName`: extended, hugepages, prefixed native or attachable-volumes.
pub fn is_scalar_resource_name(name: &str) -> bool {
    is_extended_resource_name(name)
        || name.starts_with("hugepages-")
        || name.contains("kubernetes.io/")
        || name.starts_with("attachable-volumes-")
}

/// `framework.Resource`: integer amounts of every resource the scheduler accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Only meaningful for allocatable (`pods`).
    pub allowed_pod_number: i64,
    /// Scalar resources, sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resource {
    /// `Resource.Add(ResourceList)`: cpu as milli-value, the others as values; names that are not
    /// scalar resources are ignored.
    pub fn from_list(list: &BTreeMap<String, K8sQuantity>) -> Self {
        let mut r = Resource::default();
        for (name, q) in list {
            match name.as_str() {
                CPU => r.milli_cpu += milli_value(q),
                MEMORY => r.memory += value(q),
                PODS => r.allowed_pod_number += value(q),
                EPHEMERAL_STORAGE => r.ephemeral_storage += value(q),
                other => {
                    if is_scalar_resource_name(other) {
                        r.add_scalar(other, value(q));
                    }
                }
            }
        }
        r
    }

    /// The amount of a scalar resource (0 when absent).
    #[inline]
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar_opt(name).unwrap_or(0)
    }

    /// The amount of a scalar resource, `None` when absent.
    #[inline]
    pub fn scalar_opt(&self, name: &str) -> Option<i64> {
        self.scalar.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    pub fn add_scalar(&mut self, name: &str, v: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 += v,
            Err(i) => self.scalar.insert(i, (name.to_string(), v)),
        }
    }

    /// Adds every amount of `other`.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (n, v) in &other.scalar {
            self.add_scalar(n, *v);
        }
    }

    /// Subtracts every amount of `other`.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (n, v) in &other.scalar {
            self.add_scalar(n, -*v);
        }
    }

    /// True when no resource is requested (`MilliCPU == 0 && Memory == 0 && ... && no scalars`).
    pub fn is_zero_request(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.is_empty()
    }

    /// The amount of a named resource (`cpu` in millis).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar(other),
        }
    }
}

fn milli_value(q: &K8sQuantity) -> i64 {
    skiff_api::quantity::Quantity::try_from(q)
        .map(|q| q.milli_value())
        .unwrap_or(0)
}

fn value(q: &K8sQuantity) -> i64 {
    skiff_api::quantity::Quantity::try_from(q)
        .map(|q| q.value())
        .unwrap_or(0)
}

/// A pod's requests, each resource with a "present" flag so that maxima follow `maxResourceList`
/// (which only considers keys present in either list) and the non-zero defaults apply to missing keys.
#[derive(Debug, Clone, Default)]
struct ReqList {
    cpu: Option<i64>,
    mem: Option<i64>,
    eph: Option<i64>,
    scalar: Vec<(String, i64)>,
}

impl ReqList {
    fn of_container(c: &Container, non_zero: bool) -> Self {
        let mut out = ReqList::default();
        if let Some(reqs) = c.resources.as_ref().and_then(|r| r.requests.as_ref()) {
            for (name, q) in reqs {
                match name.as_str() {
                    CPU => out.cpu = Some(milli_value(q)),
                    MEMORY => out.mem = Some(value(q)),
                    EPHEMERAL_STORAGE => out.eph = Some(value(q)),
                    other => {
                        if is_scalar_resource_name(other) {
                            add_scalar(&mut out.scalar, other, value(q));
                        }
                    }
                }
            }
        }
        if non_zero {
            out.cpu.get_or_insert(DEFAULT_MILLI_CPU_REQUEST);
            out.mem.get_or_insert(DEFAULT_MEMORY_REQUEST);
        }
        out
    }

    fn add(&mut self, o: &ReqList) {
        fn add1(a: &mut Option<i64>, b: Option<i64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0) + b);
            }
        }
        add1(&mut self.cpu, o.cpu);
        add1(&mut self.mem, o.mem);
        add1(&mut self.eph, o.eph);
        for (n, v) in &o.scalar {
            add_scalar(&mut self.scalar, n, *v);
        }
    }

    fn max(&mut self, o: &ReqList) {
        fn max1(a: &mut Option<i64>, b: Option<i64>) {
            if let Some(b) = b {
                *a = Some(a.map_or(b, |a| a.max(b)));
            }
        }
        max1(&mut self.cpu, o.cpu);
        max1(&mut self.mem, o.mem);
        max1(&mut self.eph, o.eph);
        for (n, v) in &o.scalar {
            match self.scalar.binary_search_by(|(x, _)| x.as_str().cmp(n)) {
                Ok(i) => self.scalar[i].1 = self.scalar[i].1.max(*v),
                Err(i) => self.scalar.insert(i, (n.clone(), *v)),
            }
        }
    }

    fn into_resource(self) -> Resource {
        Resource {
            milli_cpu: self.cpu.unwrap_or(0),
            memory: self.mem.unwrap_or(0),
            ephemeral_storage: self.eph.unwrap_or(0),
            allowed_pod_number: 0,
            scalar: self.scalar,
        }
    }
}

fn add_scalar(list: &mut Vec<(String, i64)>, name: &str, v: i64) {
    match list.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
        Ok(i) => list[i].1 += v,
        Err(i) => list.insert(i, (name.to_string(), v)),
    }
}

/// `resourcehelper.PodRequests` (v1.32, without in-place resize status): what the pod needs on a node.
/// With `non_zero`, containers that do not mention cpu or memory count 100m / 200Mi.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let mut reqs = ReqList::default();
    for c in &spec.containers {
        reqs.add(&ReqList::of_container(c, non_zero));
    }
    let mut restartable = ReqList::default();
    let mut init_max = ReqList::default();
    for c in spec.init_containers.iter().flatten() {
        let creqs = ReqList::of_container(c, non_zero);
        let effective = if c.restart_policy.as_deref() == Some("Always") {
            // Sidecars run alongside the app containers and every later init container.
            reqs.add(&creqs);
            restartable.add(&creqs);
            restartable.clone()
        } else {
            let mut tmp = creqs;
            tmp.add(&restartable);
            tmp
        };
        init_max.max(&effective);
    }
    reqs.max(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        let mut o = ReqList::default();
        for (name, q) in overhead {
            match name.as_str() {
                CPU => o.cpu = Some(milli_value(q)),
                MEMORY => o.mem = Some(value(q)),
                EPHEMERAL_STORAGE => o.eph = Some(value(q)),
                other => {
                    if is_scalar_resource_name(other) {
                        add_scalar(&mut o.scalar, other, value(q));
                    }
                }
            }
        }
        reqs.add(&o);
    }
    reqs.into_resource()
}

/// `pod_requests(pod, false)` with the CPU and memory of `pod_requests(pod, true)`: the second without a
/// second pass over the containers when every container names both cpu and memory among its requests,
/// since the non-zero defaults then change nothing (they fill only requests that are not there).
pub fn requests_and_non_zero(pod: &Pod) -> (Resource, i64, i64) {
    let requests = pod_requests(pod, false);
    let names_both = |c: &Container| {
        c.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|r| r.contains_key(CPU) && r.contains_key(MEMORY))
    };
    let defaults_change_nothing = pod.spec.as_ref().is_none_or(|s| {
        s.containers.iter().all(names_both) && s.init_containers.iter().flatten().all(names_both)
    });
    if defaults_change_nothing {
        let (cpu, memory) = (requests.milli_cpu, requests.memory);
        return (requests, cpu, memory);
    }
    let nz = pod_requests(pod, true);
    (requests, nz.milli_cpu, nz.memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    fn container(reqs: &[(&str, &str)]) -> Container {
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(
                    reqs.iter()
                        .map(|(k, v)| (k.to_string(), K8sQuantity(v.to_string())))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>, overhead: &[(&str, &str)]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                overhead: if overhead.is_empty() {
                    None
                } else {
                    Some(
                        overhead
                            .iter()
                            .map(|(k, v)| (k.to_string(), K8sQuantity(v.to_string())))
                            .collect(),
                    )
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn non_zero_requests_without_a_second_pass_are_the_same() {
        let cases = [
            pod(
                vec![container(&[("cpu", "100m"), ("memory", "500Mi")])],
                vec![],
                &[],
            ),
            pod(
                vec![container(&[("cpu", "0"), ("memory", "0")])],
                vec![],
                &[("cpu", "50m")],
            ),
            pod(vec![container(&[("cpu", "100m")])], vec![], &[]),
            pod(
                vec![container(&[("memory", "1Gi")]), container(&[])],
                vec![],
                &[],
            ),
            pod(
                vec![container(&[("cpu", "1"), ("memory", "1Gi")])],
                vec![container(&[("cpu", "3")])],
                &[],
            ),
            Pod::default(),
        ];
        for p in &cases {
            let nz = pod_requests(p, true);
            let (requests, cpu, memory) = requests_and_non_zero(p);
            assert_eq!(requests, pod_requests(p, false));
            assert_eq!((cpu, memory), (nz.milli_cpu, nz.memory), "{:?}", p.spec);
        }
        // The defaults do apply where a container leaves one out.
        let (_, cpu, memory) = requests_and_non_zero(&cases[2]);
        assert_eq!((cpu, memory), (100, DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn upstream_example_init_containers_take_the_max() {
        // fit.go's example: init 2/1G and 2/3G, app 2/1G + 1/1G => 3 CPU, 3G.
        let p = pod(
            vec![
                container(&[("cpu", "2"), ("memory", "1G")]),
                container(&[("cpu", "1"), ("memory", "1G")]),
            ],
            vec![
                container(&[("cpu", "2"), ("memory", "1G")]),
                container(&[("cpu", "2"), ("memory", "3G")]),
            ],
            &[],
        );
        let r = pod_requests(&p, false);
        assert_eq!((r.milli_cpu, r.memory), (3000, 3_000_000_000));
    }

    #[test]
    fn sidecars_add_to_the_sum_and_to_later_init_containers() {
        let mut sidecar = container(&[("cpu", "1")]);
        sidecar.restart_policy = Some("Always".into());
        let p = pod(
            vec![container(&[("cpu", "1")])],
            vec![sidecar, container(&[("cpu", "2")])],
            &[],
        );
        // app 1 + sidecar 1 = 2; later init 2 + sidecar 1 = 3 => max 3.
        assert_eq!(pod_requests(&p, false).milli_cpu, 3000);
    }

    #[test]
    fn overhead_and_scalars() {
        let p = pod(
            vec![container(&[("cpu", "100m"), ("example.com/gpu", "2")])],
            vec![],
            &[("cpu", "50m"), ("memory", "10Mi")],
        );
        let r = pod_requests(&p, false);
        assert_eq!(r.milli_cpu, 150);
        assert_eq!(r.memory, 10 * 1024 * 1024);
        assert_eq!(r.scalar("example.com/gpu"), 2);
    }

    #[test]
    fn non_zero_defaults_only_for_missing_keys() {
        let p = pod(
            vec![container(&[]), container(&[("cpu", "0")])],
            vec![],
            &[],
        );
        let r = pod_requests(&p, true);
        assert_eq!(r.milli_cpu, 100);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
        let r = pod_requests(&p, false);
        assert!(r.is_zero_request());
    }

    #[test]
    fn scalar_names() {
        assert!(is_extended_resource_name("example.com/gpu"));
        assert!(!is_extended_resource_name("kubernetes.io/foo"));
        assert!(!is_extended_resource_name("cpu"));
        assert!(is_scalar_resource_name("hugepages-2Mi"));
        assert!(is_scalar_resource_name("attachable-volumes-aws-ebs"));
        assert!(!is_scalar_resource_name("storage"));
    }
}
