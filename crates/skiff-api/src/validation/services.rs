//! Service validation (`ValidateService`, `ValidateServiceUpdate`): ports, type, session affinity, the
//! cluster-IP/IP-family fields and their immutability on update.

use super::{go_strings, invalid_each, labels, meta_path, object_meta, object_meta_update};
use crate::field::{quote, ErrorList, FieldError, Path};
use crate::names;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeSet;

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or(&[])
}

fn is_headless(spec: &ServiceSpec) -> bool {
    let ips = cluster_ips(spec);
    ips.len() == 1 && ips[0] == "None"
}

/// `%#v` of the `core.ServicePort` key upstream uses for duplicate detection.
fn go_service_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        quote(protocol)
    )
}

fn service_port(
    sp: &ServicePort,
    require_name: bool,
    all_names: &mut BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let name = s(&sp.name);
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(invalid_each(
            &path.child("name"),
            name,
            names::is_dns1123_label(name),
        ));
        if !all_names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&path.child("name"), name));
        }
    }
    for m in names::is_valid_port_num(i64::from(sp.port)) {
        errs.push(FieldError::invalid_raw(&path.child("port"), sp.port, m));
    }
    errs.extend(super::pods::protocol(
        s(&sp.protocol),
        &path.child("protocol"),
    ));
    let tp = sp.target_port.clone().unwrap_or(IntOrString::Int(0));
    errs.extend(super::pods::port_num_or_name(
        &tp,
        &path.child("targetPort"),
    ));
    if let Some(ap) = sp.app_protocol.as_deref() {
        errs.extend(invalid_each(
            &path.child("appProtocol"),
            ap,
            names::is_qualified_name(ap),
        ));
    }
    errs
}

fn cluster_ip_fields(spec: &ServiceSpec) -> ErrorList {
    let mut errs = Vec::new();
    if s(&spec.type_) == "ExternalName" {
        return errs;
    }
    let sp = Path::new("spec");
    let ips_path = sp.child("clusterIPs");
    let ips = cluster_ips(spec);
    let cluster_ip = s(&spec.cluster_ip);
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid_raw(
                &ips_path,
                go_strings(Some(ips)),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid_raw(
            &ips_path,
            go_strings(Some(ips)),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, fam) in spec.ip_families.iter().flatten().enumerate() {
        let fp = sp.child("ipFamilies").index(i);
        if fam != "IPv4" && fam != "IPv6" {
            errs.push(FieldError::not_supported(&fp, fam, &["IPv4", "IPv6"]));
        }
        if !seen.insert(fam) {
            errs.push(FieldError::duplicate(&fp, fam));
        }
    }
    if let Some(p) = spec.ip_family_policy.as_deref() {
        if !["SingleStack", "PreferDualStack", "RequireDualStack"].contains(&p) {
            errs.push(FieldError::not_supported(
                &sp.child("ipFamilyPolicy"),
                p,
                &["PreferDualStack", "RequireDualStack", "SingleStack"],
            ));
        }
    }
    let mut invalid_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid_ips = true;
                errs.push(FieldError::invalid_raw(
                    &ips_path,
                    go_strings(Some(ips)),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = invalid_each(&ips_path.index(i), ip, names::is_valid_ip(ip));
        invalid_ips |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid_raw(
            &ips_path,
            go_strings(Some(ips)),
            "may only hold up to 2 values",
        ));
    }
    if invalid_ips {
        return errs;
    }
    if ips.len() > 1 {
        let parsed: Vec<_> = ips
            .iter()
            .filter_map(|i| names::parse_ip_sloppy(i))
            .collect();
        let v4 = parsed.iter().filter(|i| i.is_ipv4()).count();
        if !(v4 >= 1 && v4 < parsed.len()) || ips.len() > 2 {
            errs.push(FieldError::invalid_raw(
                &ips_path,
                go_strings(Some(ips)),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    let fams = spec.ip_families.as_deref().unwrap_or(&[]);
    if !is_headless(spec) && !ips.is_empty() && !fams.is_empty() {
        for (i, ip) in ips.iter().enumerate() {
            let Some(fam) = fams.get(i) else { break };
            let v6 = names::parse_ip_sloppy(ip).is_some_and(|p| p.is_ipv6());
            if fam == "IPv4" && v6 {
                errs.push(FieldError::invalid(
                    &ips_path.index(i),
                    ip,
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if fam == "IPv6" && !v6 {
                errs.push(FieldError::invalid(
                    &ips_path.index(i),
                    ip,
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

/// `ValidateService`.
pub fn service(svc: &Service) -> ErrorList {
    let mut errs = object_meta(
        &svc.metadata,
        true,
        names::name_is_dns1035_label,
        &meta_path(),
    );
    let spec = svc.spec.clone().unwrap_or_default();
    let sp = Path::new("spec");
    let ty = s(&spec.type_);
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    if ports.is_empty() && !is_headless(&spec) && ty != "ExternalName" {
        errs.push(FieldError::required(&sp.child("ports"), ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if is_headless(&spec) => {
            errs.push(FieldError::invalid(
                &sp.child("clusterIPs").index(0),
                "None",
                format!("may not be set to 'None' for {ty} services"),
            ));
        }
        "ExternalName" => {
            if !cluster_ips(&spec).is_empty() {
                errs.push(FieldError::forbidden(
                    &sp.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(FieldError::forbidden(
                    &sp.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden(
                    &sp.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = s(&spec.external_name);
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(FieldError::required(&sp.child("externalName"), ""));
            } else {
                errs.extend(invalid_each(
                    &sp.child("externalName"),
                    cname,
                    names::is_dns1123_subdomain(cname),
                ));
            }
        }
        _ => {}
    }
    let mut all_names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(service_port(
            p,
            ports.len() > 1,
            &mut all_names,
            &sp.child("ports").index(i),
        ));
    }
    if spec.selector.is_some() {
        errs.extend(labels(spec.selector.as_ref(), &sp.child("selector")));
    }
    match s(&spec.session_affinity) {
        "" => errs.push(FieldError::required(&sp.child("sessionAffinity"), "")),
        "ClientIP" => {
            let cfg_path = sp.child("sessionAffinityConfig");
            let msg = "when session affinity type is ClientIP";
            match spec.session_affinity_config.as_ref() {
                None => errs.push(FieldError::required(&cfg_path, msg)),
                Some(c) => match c.client_ip.as_ref() {
                    None => errs.push(FieldError::required(&cfg_path.child("clientIP"), msg)),
                    Some(ip) => match ip.timeout_seconds {
                        None => errs.push(FieldError::required(
                            &cfg_path.child("clientIP").child("timeoutSeconds"),
                            msg,
                        )),
                        Some(t) if t <= 0 || t > 86400 => errs.push(FieldError::invalid_raw(
                            &cfg_path.child("clientIP").child("timeoutSeconds"),
                            t,
                            "must be greater than 0 and less than 86400",
                        )),
                        Some(_) => {}
                    },
                },
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    &sp.child("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &sp.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    errs.extend(cluster_ip_fields(&spec));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let p = sp.child("externalIPs").index(i);
        let e = invalid_each(&p, ip, names::is_valid_ip(ip));
        if e.is_empty() {
            errs.extend(non_special_ip(ip, &p));
        } else {
            errs.extend(e);
        }
    }
    match ty {
        "" => errs.push(FieldError::required(&sp.child("type"), "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(FieldError::not_supported(
            &sp.child("type"),
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if ty == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.node_port.unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    &sp.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports: BTreeSet<(String, i32)> = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.node_port.unwrap_or(0);
        if np == 0 {
            continue;
        }
        if !node_ports.insert((s(&p.protocol).to_string(), np)) {
            errs.push(FieldError::duplicate_raw(
                &sp.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
    }
    let mut port_keys: BTreeSet<(String, i32)> = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        if !port_keys.insert((s(&p.protocol).to_string(), p.port)) {
            errs.push(FieldError::duplicate_raw(
                &sp.child("ports").index(i),
                go_service_port_key(s(&p.protocol), p.port),
            ));
        }
    }
    if let Some(ranges) = spec
        .load_balancer_source_ranges
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        let fp = sp.child("LoadBalancerSourceRanges");
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &fp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.trim();
            errs.extend(invalid_each(&fp.index(i), r, names::is_valid_cidr(r)));
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            &sp.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if ty == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        // Upstream names this field without `spec.`.
        errs.push(FieldError::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if let Some(class) = spec.load_balancer_class.as_deref() {
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &sp.child("loadBalancerClass"),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        } else {
            errs.extend(invalid_each(
                &sp.child("loadBalancerClass"),
                class,
                names::is_qualified_name(class),
            ));
        }
    }
    let externally_accessible = ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
    let etp = s(&spec.external_traffic_policy);
    if !externally_accessible {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                &sp.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(&sp.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            &sp.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let needs_hc = ty == "LoadBalancer" && etp == "Local";
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_hc {
        if hc != 0 {
            errs.push(FieldError::invalid_raw(
                &sp.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldError::required(&sp.child("healthCheckNodePort"), ""));
    } else {
        for m in names::is_valid_port_num(i64::from(hc)) {
            errs.push(FieldError::invalid_raw(
                &sp.child("healthCheckNodePort"),
                hc,
                m,
            ));
        }
    }
    match spec.internal_traffic_policy.as_deref() {
        None => {
            if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&ty) {
                errs.push(FieldError::required(&sp.child("internalTrafficPolicy"), ""));
            }
        }
        Some("Cluster" | "Local") => {}
        Some(other) => errs.push(FieldError::not_supported(
            &sp.child("internalTrafficPolicy"),
            other,
            &["Cluster", "Local"],
        )),
    }
    if let Some(td) = spec.traffic_distribution.as_deref() {
        if td != "PreferClose" {
            errs.push(FieldError::not_supported(
                &sp.child("trafficDistribution"),
                td,
                &["PreferClose"],
            ));
        }
    }
    errs
}

/// `ValidateNonSpecialIP`.
fn non_special_ip(ip: &str, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let Some(addr) = names::parse_ip_sloppy(ip) else {
        return vec![FieldError::invalid(path, ip, "must be a valid IP address")];
    };
    if addr.is_unspecified() {
        errs.push(FieldError::invalid(
            path,
            ip,
            format!("may not be unspecified ({ip})"),
        ));
    }
    if addr.is_loopback() {
        errs.push(FieldError::invalid(
            path,
            ip,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let link_local = match addr {
        std::net::IpAddr::V4(a) => a.is_link_local(),
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        errs.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    let ll_multicast = match addr {
        std::net::IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff02,
    };
    if ll_multicast {
        errs.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

/// `ValidateServiceUpdate`: cluster IPs and IP families may not change once set (except upgrading to or
/// downgrading from dual-stack), plus everything `service` checks.
pub fn service_update(new: &Service, old: &Service) -> ErrorList {
    let mut errs = object_meta_update(&new.metadata, &old.metadata, &meta_path());
    let ns = new.spec.clone().unwrap_or_default();
    let os = old.spec.clone().unwrap_or_default();
    let ext = |sp: &ServiceSpec| s(&sp.type_) == "ExternalName";
    let ips_path = Path::new("spec").child("clusterIPs");
    let fam_path = Path::new("spec").child("ipFamilies");
    let policy_path = Path::new("spec").child("ipFamilyPolicy");
    let both_headless = is_headless(&ns) && is_headless(&os);
    if !(ext(&ns) || ext(&os) || both_headless) {
        let (n, o) = (cluster_ips(&ns), cluster_ips(&os));
        let rendered = go_strings(ns.cluster_ips.as_deref());
        if n.len() == o.len() {
            for (i, ip) in o.iter().enumerate() {
                if ip != &n[i] {
                    errs.push(FieldError::invalid_raw(
                        &ips_path.index(i),
                        &rendered,
                        "may not change once set",
                    ));
                }
            }
        } else if o.len() > n.len() {
            if n.is_empty() {
                errs.push(FieldError::invalid_raw(
                    &ips_path.index(0),
                    &rendered,
                    "primary clusterIP can not be unset",
                ));
            }
            if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
                errs.push(FieldError::invalid_raw(
                    &ips_path.index(0),
                    &rendered,
                    "may not change once set",
                ));
            }
            if n.len() == 1 && ns.ip_family_policy.as_deref() != Some("SingleStack") {
                errs.push(FieldError::invalid_raw(
                    &policy_path,
                    ns.ip_family_policy
                        .as_deref()
                        .map_or("null".to_string(), quote),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if !o.is_empty() && n[0] != o[0] {
            errs.push(FieldError::invalid_raw(
                &ips_path.index(0),
                &rendered,
                "may not change once set",
            ));
        }
    }
    if !ext(&ns) && !ext(&os) && is_headless(&ns) == is_headless(&os) && !is_headless(&ns) {
        let nf = ns.ip_families.as_deref().unwrap_or(&[]);
        let of = os.ip_families.as_deref().unwrap_or(&[]);
        let rendered = format!(
            "[]core.IPFamily{{{}}}",
            nf.iter().map(|f| quote(f)).collect::<Vec<_>>().join(", ")
        );
        if nf.len() == of.len() {
            for (i, f) in of.iter().enumerate() {
                if f != &nf[i] {
                    errs.push(FieldError::invalid_raw(
                        &fam_path.index(0),
                        &rendered,
                        "may not change once set",
                    ));
                }
            }
        } else if of.len() > nf.len() {
            if cluster_ips(&ns).is_empty() {
                errs.push(FieldError::invalid_raw(
                    &fam_path.index(0),
                    &rendered,
                    "primary ipFamily can not be unset",
                ));
            }
            if !nf.is_empty() && nf[0] != of[0] {
                errs.push(FieldError::invalid_raw(
                    &fam_path.index(0),
                    go_strings(ns.cluster_ips.as_deref()),
                    "may not change once set",
                ));
            }
            if nf.len() == 1 && ns.ip_family_policy.as_deref() != Some("SingleStack") {
                errs.push(FieldError::invalid_raw(
                    &policy_path,
                    ns.ip_family_policy
                        .as_deref()
                        .map_or("null".to_string(), quote),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                ));
            }
        } else if !of.is_empty() && !nf.is_empty() && nf[0] != of[0] {
            errs.push(FieldError::invalid_raw(
                &fam_path.index(0),
                go_strings(ns.cluster_ips.as_deref()),
                "may not change once set",
            ));
        }
    }
    // loadBalancerClass may not change while the service stays a LoadBalancer.
    if s(&os.type_) == "LoadBalancer"
        && s(&ns.type_) == "LoadBalancer"
        && ns.load_balancer_class != os.load_balancer_class
    {
        errs.push(FieldError::invalid_raw(
            &Path::new("spec").child("loadBalancerClass"),
            ns.load_balancer_class
                .as_deref()
                .map_or("null".to_string(), quote),
            "may not change once set",
        ));
    }
    if s(&os.type_) == "LoadBalancer"
        && s(&os.external_traffic_policy) == "Local"
        && s(&ns.type_) == "LoadBalancer"
        && s(&ns.external_traffic_policy) == "Local"
        && ns.health_check_node_port != os.health_check_node_port
    {
        errs.push(FieldError::forbidden(
            &Path::new("spec").child("healthCheckNodePort"),
            "field is immutable",
        ));
    }
    errs.extend(service(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use crate::defaults;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        let mut s: Service =
            from(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}));
        defaults::service(&mut s);
        s
    }

    #[test]
    fn service_rules() {
        assert_eq!(
            rendered(&service(&svc(
                json!({"selector": {"app": "web"}, "ports": [{"port": 80}]})
            ))),
            Vec::<String>::new()
        );
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"selector": {"app": "web"}}), vec!["spec.ports: Required value"]),
            (json!({"clusterIP": "None"}), vec![]),
            (
                json!({"ports": [{"port": 0}]}),
                vec![
                    "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                ],
            ),
            (
                json!({"ports": [{"port": 80}, {"port": 81}]}),
                vec!["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
            ),
            (
                json!({"ports": [{"port": 80, "targetPort": "Bad_Port"}]}),
                vec!["spec.ports[0].targetPort: Invalid value: \"Bad_Port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"],
            ),
            (
                json!({"type": "Fancy", "ports": [{"port": 80}]}),
                vec!["spec.type: Unsupported value: \"Fancy\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""],
            ),
            (
                json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}),
                vec!["spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"],
            ),
            (
                json!({"ports": [{"port": 80, "nodePort": 30000}]}),
                vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            ),
            (json!({"type": "ExternalName", "externalName": "example.com"}), vec![]),
            (json!({"type": "ExternalName"}), vec!["spec.externalName: Required value"]),
            (
                json!({"ports": [{"port": 80}], "sessionAffinity": "Sticky"}),
                vec!["spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""],
            ),
            (
                json!({"ports": [{"port": 80}], "clusterIP": "10.0.0.300", "clusterIPs": ["10.0.0.300"]}),
                vec!["spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(rendered(&service(&svc(spec.clone()))), want, "{spec}");
        }
        let mut bad_name = svc(json!({"ports": [{"port": 80}]}));
        bad_name.metadata.name = Some("1web".into());
        assert_eq!(
            rendered(&service(&bad_name)),
            vec!["metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
        );
    }

    #[test]
    fn cluster_ip_immutable() {
        let mut old = svc(
            json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}),
        );
        old.metadata.resource_version = Some("1".into());
        let mut new = old.clone();
        assert_eq!(rendered(&service_update(&new, &old)), Vec::<String>::new());
        new.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.11".into());
        new.spec.as_mut().unwrap().cluster_ips = Some(vec!["10.96.0.11".into()]);
        assert_eq!(
            rendered(&service_update(&new, &old)),
            vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"]
        );
    }
}
