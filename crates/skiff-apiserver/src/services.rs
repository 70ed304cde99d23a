//! Service IP and port allocation (upstream's service REST storage): a ClusterIP from the service CIDR for
//! every service that wants one, and a node port from 30000-32767 for NodePort and LoadBalancer ports.

use crate::watchcache::WatchCache;
use serde_json::{json, Value};
use skiff_api::field::{FieldError, Path};
use skiff_api::resources::{self, Resource};
use skiff_api::ApiError;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// The service CIDR (k3s' default): 10.43.0.0/16; the first address is the `kubernetes` service's.
pub const SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 43, 0, 0), 16);
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Addresses and ports handed out but perhaps not yet visible in the watch cache.
#[derive(Default)]
pub struct Allocator {
    recent_ips: Mutex<HashSet<Ipv4Addr>>,
    recent_ports: Mutex<HashSet<i64>>,
}

fn in_cidr(ip: Ipv4Addr) -> bool {
    let (base, bits) = SERVICE_CIDR;
    let mask = u32::MAX << (32 - bits);
    (u32::from(ip) & mask) == (u32::from(base) & mask)
}

fn used(cache: &WatchCache) -> (HashSet<Ipv4Addr>, HashSet<i64>) {
    let svc: &Resource = resources::find("", "v1", "services").expect("services");
    let (all, _) = cache.list(svc, &svc.key_prefix(), None);
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    for s in all {
        let v = s.value();
        if let Some(ip) = v
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|i| i.parse().ok())
        {
            ips.insert(ip);
        }
        for p in v
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                ports.insert(n);
            }
        }
    }
    (ips, ports)
}

impl Allocator {
    /// Fills `spec.clusterIP(s)` and node ports of a new Service, or checks the ones it asks for.
    pub fn allocate(&self, cache: &WatchCache, svc: &mut Value) -> Result<(), ApiError> {
        let name = svc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let type_ = spec
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        if type_ == "ExternalName" {
            return Ok(());
        }
        let (used_ips, used_ports) = used(cache);
        let requested = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let path = Path::new("spec").child("clusterIPs").index(0);
        let invalid = |detail: &str, ip: &str| {
            ApiError::invalid(
                "",
                "Service",
                &name,
                &[FieldError::invalid(&path, ip, detail)],
            )
        };
        if requested != "None" {
            let mut recent = self.recent_ips.lock().expect("allocator lock");
            let ip = if requested.is_empty() {
                let (base, bits) = SERVICE_CIDR;
                let size = 1u32 << (32 - bits);
                // .0 is the network, .1 belongs to the kubernetes service, the last is broadcast.
                let first = if name == "kubernetes" { 1 } else { 2 };
                (first..size - 1)
                    .map(|i| Ipv4Addr::from(u32::from(base) + i))
                    .find(|ip| !used_ips.contains(ip) && !recent.contains(ip))
                    .ok_or_else(|| ApiError::new(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full"))?
            } else {
                let ip: Ipv4Addr = requested
                    .parse()
                    .map_err(|_| invalid("must be a valid IP address", &requested))?;
                if !in_cidr(ip) {
                    return Err(invalid("provided IP is not in the valid range. The range of valid IPs is 10.43.0.0/16", &requested));
                }
                if used_ips.contains(&ip) || recent.contains(&ip) {
                    return Err(invalid("provided IP is already allocated", &requested));
                }
                ip
            };
            recent.insert(ip);
            if recent.len() > 4096 {
                recent.clear();
                recent.insert(ip);
            }
            spec.insert("clusterIP".into(), json!(ip.to_string()));
            spec.insert("clusterIPs".into(), json!([ip.to_string()]));
        } else {
            spec.insert("clusterIPs".into(), json!(["None"]));
        }
        if type_ == "NodePort" || type_ == "LoadBalancer" {
            let mut recent = self.recent_ports.lock().expect("allocator lock");
            for (i, p) in spec
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(port) = p.as_object_mut() else {
                    continue;
                };
                match port.get("nodePort").and_then(Value::as_i64) {
                    Some(n) if n != 0 => {
                        if used_ports.contains(&n) || recent.contains(&n) {
                            let path = Path::new("spec").child("ports").index(i).child("nodePort");
                            return Err(ApiError::invalid(
                                "",
                                "Service",
                                &name,
                                &[FieldError::invalid_raw(
                                    &path,
                                    n,
                                    "provided port is already allocated",
                                )],
                            ));
                        }
                        recent.insert(n);
                    }
                    _ => {
                        let n = NODE_PORTS
                            .clone()
                            .find(|n| !used_ports.contains(n) && !recent.contains(n))
                            .ok_or_else(|| ApiError::new(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full"))?;
                        recent.insert(n);
                        port.insert("nodePort".into(), json!(n));
                    }
                }
            }
        }
        Ok(())
    }
}
