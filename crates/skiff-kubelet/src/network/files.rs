//! The pod's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`, as upstream kubelet (and the
//! CRI runtime it drives) writes them: pure functions over the pod's `ObjectMeta`/`PodSpec`.
//!
//! Sources followed: `pkg/kubelet/kubelet_pods.go` (`managedHostsFileContent`,
//! `nodeHostsFileContent`, `hostsEntriesFromHostAliases`, `truncatePodHostnameIfNeeded`),
//! `pkg/kubelet/kubelet_pods.go`/`GeneratePodHostNameAndDomain`, `pkg/kubelet/util`
//! `GetNodenameForKernel`, `pkg/kubelet/network/dns/dns.go` (`GetPodDNS` and helpers) and
//! containerd's resolv.conf formatting of the CRI `DNSConfig`.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{HostAlias, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// First line of a pod's managed `/etc/hosts`.
pub const MANAGED_HOSTS_HEADER: &str = "# Kubernetes-managed hosts file.\n";
/// First line of a host-network pod's `/etc/hosts` (the node's file follows).
pub const MANAGED_HOSTS_HEADER_HOST_NETWORK: &str =
    "# Kubernetes-managed hosts file (host network).\n";

/// Hostname problems kubelet refuses to start a pod with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    #[error("pod {field} {value:?} is not a valid DNS label")]
    InvalidLabel { field: &'static str, value: String },
    #[error("hostname for pod {pod:?} was invalid: {hostname:?}")]
    InvalidHostname { pod: String, hostname: String },
    #[error("failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long (64 characters is the max, {} characters requested)", fqdn.len())]
    FqdnTooLong { fqdn: String },
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Caps a hostname at 63 characters, then trims trailing `-` and `.` (upstream
/// `truncatePodHostnameIfNeeded`).
pub fn truncate_hostname(pod_name: &str, hostname: &str) -> Result<String, FilesError> {
    const MAX: usize = 63;
    if hostname.len() <= MAX {
        return Ok(hostname.to_string());
    }
    // Hostnames are ASCII (validated labels or object names); cut on a char boundary anyway.
    let mut end = MAX;
    while !hostname.is_char_boundary(end) {
        end -= 1;
    }
    let truncated = hostname[..end].trim_end_matches(['-', '.']);
    if truncated.is_empty() {
        return Err(FilesError::InvalidHostname {
            pod: pod_name.to_string(),
            hostname: hostname.to_string(),
        });
    }
    Ok(truncated.to_string())
}

/// The pod's hostname and domain (upstream `GeneratePodHostNameAndDomain`): `spec.hostname` or
/// the pod name, truncated to 63 characters; the domain is `<subdomain>.<namespace>.svc.<cluster
/// domain>` when `spec.subdomain` is set, else empty.
pub fn pod_hostname_and_domain(
    meta: &ObjectMeta,
    spec: &PodSpec,
    cluster_domain: &str,
) -> Result<(String, String), FilesError> {
    let pod_name = meta.name.as_deref().unwrap_or_default();
    let mut hostname = pod_name;
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        if !is_dns1123_label(h) {
            return Err(FilesError::InvalidLabel {
                field: "Hostname",
                value: h.to_string(),
            });
        }
        hostname = h;
    }
    let hostname = truncate_hostname(pod_name, hostname)?;
    let mut domain = String::new();
    if let Some(sub) = spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        if !is_dns1123_label(sub) {
            return Err(FilesError::InvalidLabel {
                field: "Subdomain",
                value: sub.to_string(),
            });
        }
        let ns = meta.namespace.as_deref().unwrap_or("default");
        domain = format!("{sub}.{ns}.svc.{cluster_domain}");
    }
    Ok((hostname, domain))
}

/// The UTS hostname of the pod (what the runtime writes to `/etc/hostname`, upstream
/// `GetNodenameForKernel`): the FQDN when `setHostnameAsFQDN` and a domain are set (at most 64
/// characters), else the short hostname.
pub fn kernel_hostname(
    hostname: &str,
    domain: &str,
    set_hostname_as_fqdn: bool,
) -> Result<String, FilesError> {
    if !domain.is_empty() && set_hostname_as_fqdn {
        let fqdn = format!("{hostname}.{domain}");
        if fqdn.len() > 64 {
            return Err(FilesError::FqdnTooLong { fqdn });
        }
        return Ok(fqdn);
    }
    Ok(hostname.to_string())
}

/// `/etc/hostname` content for a pod network pod (host-network pods keep the node's).
pub fn hostname_file_content(kernel_hostname: &str) -> String {
    format!("{kernel_hostname}\n")
}

fn host_alias_entries(aliases: &[HostAlias]) -> String {
    if aliases.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n# Entries added by HostAliases.\n");
    for a in aliases {
        // For each IP, all aliases on a single line.
        let names = a.hostnames.as_deref().unwrap_or_default().join("\t");
        out.push_str(&format!("{}\t{}\n", a.ip, names));
    }
    out
}

/// Upstream `managedHostsFileContent`: the header, localhost lines, one line per pod IP
/// (`IP\tHOST.DOMAIN\tHOST` with a domain, `IP\tHOST` without), then the host aliases.
pub fn managed_hosts_content(
    pod_ips: &[IpAddr],
    hostname: &str,
    domain: &str,
    aliases: &[HostAlias],
) -> String {
    let mut out = String::from(MANAGED_HOSTS_HEADER);
    out.push_str("127.0.0.1\tlocalhost\n");
    out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    out.push_str("fe00::0\tip6-localnet\n");
    out.push_str("fe00::0\tip6-mcastprefix\n");
    out.push_str("fe00::1\tip6-allnodes\n");
    out.push_str("fe00::2\tip6-allrouters\n");
    for ip in pod_ips {
        if domain.is_empty() {
            out.push_str(&format!("{ip}\t{hostname}\n"));
        } else {
            out.push_str(&format!("{ip}\t{hostname}.{domain}\t{hostname}\n"));
        }
    }
    out.push_str(&host_alias_entries(aliases));
    out
}

/// Upstream `nodeHostsFileContent`: for host-network pods, the node's hosts file under the
/// host-network header, plus the host aliases.
pub fn node_hosts_content(node_hosts: &str, aliases: &[HostAlias]) -> String {
    format!(
        "{MANAGED_HOSTS_HEADER_HOST_NETWORK}{node_hosts}{}",
        host_alias_entries(aliases)
    )
}

/// The pod's `/etc/hosts`: [`node_hosts_content`] for `hostNetwork` pods (given the node's
/// `/etc/hosts`), else [`managed_hosts_content`] with the pod's hostname and domain.
pub fn hosts_file_content(
    meta: &ObjectMeta,
    spec: &PodSpec,
    pod_ips: &[IpAddr],
    cluster_domain: &str,
    node_hosts: &str,
) -> Result<String, FilesError> {
    let aliases = spec.host_aliases.as_deref().unwrap_or_default();
    if spec.host_network == Some(true) {
        return Ok(node_hosts_content(node_hosts, aliases));
    }
    let (hostname, domain) = pod_hostname_and_domain(meta, spec, cluster_domain)?;
    Ok(managed_hosts_content(pod_ips, &hostname, &domain, aliases))
}

/// The node's DNS settings (kubelet's `clusterDNS`, `clusterDomain`, `resolvConf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsSettings {
    /// Cluster DNS servers; empty = none configured (ClusterFirst falls back to Default).
    pub cluster_dns: Vec<IpAddr>,
    /// E.g. `cluster.local`; empty = no cluster search domains.
    pub cluster_domain: String,
    /// The content of the resolver configuration (kubelet `--resolv-conf`, usually the host's
    /// `/etc/resolv.conf`); `None` = configured as empty (no host DNS: localhost is used).
    pub host_resolv_conf: Option<String>,
    /// The node's IPs (only used when `host_resolv_conf` is `None`).
    pub node_ips: Vec<IpAddr>,
}

/// The resolver settings for a pod (the CRI `DNSConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// Upstream `parseResolvConf`: nameservers accumulate, the last `search` line wins (trailing
/// dots removed), the last `options` line wins; comments start with `#`.
pub fn parse_resolv_conf(content: &str) -> DnsConfig {
    let mut cfg = DnsConfig::default();
    for line in content.split('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        match fields.first() {
            Some(&"nameserver") if fields.len() >= 2 => cfg.servers.push(fields[1].to_string()),
            Some(&"search") => {
                cfg.searches = fields[1..]
                    .iter()
                    .map(|s| s.strip_suffix('.').unwrap_or(s).to_string())
                    .collect()
            }
            Some(&"options") => cfg.options = fields[1..].iter().map(|s| s.to_string()).collect(),
            _ => {}
        }
    }
    cfg
}

fn omit_duplicates(v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|s| seen.insert(s.clone())).collect()
}

/// Upstream `mergeDNSOptions`: the pod's options override same-named existing ones. (Upstream
/// iterates a Go map, so its order is random; this keeps first-appearance order.)
fn merge_dns_options(
    existing: &[String],
    pod: &[k8s_openapi::api::core::v1::PodDNSConfigOption],
) -> Vec<String> {
    let mut opts: Vec<(String, String)> = Vec::new();
    let mut set = |name: &str, value: &str| match opts.iter_mut().find(|(n, _)| n == name) {
        Some(o) => o.1 = value.to_string(),
        None => opts.push((name.to_string(), value.to_string())),
    };
    for op in existing {
        match op.split_once(':') {
            Some((n, v)) => set(n, v),
            None => set(op, ""),
        }
    }
    for op in pod {
        set(
            op.name.as_deref().unwrap_or_default(),
            op.value.as_deref().unwrap_or_default(),
        );
    }
    opts.into_iter()
        .map(|(n, v)| if v.is_empty() { n } else { format!("{n}:{v}") })
        .collect()
}

/// Upstream limits (ExpandedDNSConfig, GA since 1.28): 3 nameservers, 32 search domains of at
/// most 253 characters each, 2048 characters for the search line.
fn fit_limits(mut cfg: DnsConfig) -> DnsConfig {
    cfg.servers.truncate(3);
    cfg.searches.truncate(32);
    cfg.searches.retain(|s| s.len() <= 253);
    let line_len = |s: &[String]| s.join(" ").len();
    while line_len(&cfg.searches) > 2048 {
        cfg.searches.pop();
    }
    cfg
}

/// Upstream `GetPodDNS`. `dnsPolicy`: `None` starts empty; `ClusterFirst` (the default) and
/// `ClusterFirstWithHostNet` use the cluster DNS servers, the cluster search domains before
/// the host's, and `ndots:5` — falling back to `Default` when no cluster DNS is configured
/// (and `ClusterFirst` on a host-network pod is `Default`); `Default` uses the host's resolver
/// configuration (or localhost when it is configured empty). `spec.dnsConfig` is then merged:
/// nameservers and searches appended without duplicates, options overriding by name.
pub fn pod_dns_config(spec: &PodSpec, namespace: &str, settings: &DnsSettings) -> DnsConfig {
    let mut cfg = settings
        .host_resolv_conf
        .as_deref()
        .map(parse_resolv_conf)
        .unwrap_or_default();
    let host_network = spec.host_network == Some(true);
    #[derive(PartialEq)]
    enum Kind {
        Cluster,
        Host,
        None,
    }
    let kind = match spec.dns_policy.as_deref() {
        Some("None") => Kind::None,
        Some("ClusterFirstWithHostNet") => Kind::Cluster,
        Some("ClusterFirst") | None if host_network => Kind::Host,
        Some("Default") => Kind::Host,
        // ClusterFirst, and invalid policies (upstream falls back to ClusterFirst).
        _ => Kind::Cluster,
    };
    let mut use_host = kind == Kind::Host;
    match kind {
        Kind::None => cfg = DnsConfig::default(),
        Kind::Cluster if !settings.cluster_dns.is_empty() => {
            cfg.servers = settings
                .cluster_dns
                .iter()
                .map(|ip| ip.to_string())
                .collect();
            if !settings.cluster_domain.is_empty() {
                let d = &settings.cluster_domain;
                let mut s = vec![
                    format!("{namespace}.svc.{d}"),
                    format!("svc.{d}"),
                    d.clone(),
                ];
                s.append(&mut cfg.searches);
                cfg.searches = omit_duplicates(s);
            }
            cfg.options = vec!["ndots:5".to_string()];
        }
        Kind::Cluster => {
            tracing::warn!(
                "no cluster DNS configured: pod with the ClusterFirst DNS policy falls back to Default"
            );
            use_host = true;
        }
        Kind::Host => {}
    }
    if use_host && settings.host_resolv_conf.is_none() {
        for ip in &settings.node_ips {
            cfg.servers
                .push(if ip.is_ipv6() { "::1" } else { "127.0.0.1" }.to_string());
        }
        if cfg.servers.is_empty() {
            cfg.servers.push("127.0.0.1".to_string());
        }
        cfg.searches = vec![".".to_string()];
    }
    if let Some(pod) = &spec.dns_config {
        let mut servers = std::mem::take(&mut cfg.servers);
        servers.extend(pod.nameservers.iter().flatten().cloned());
        cfg.servers = omit_duplicates(servers);
        let mut searches = std::mem::take(&mut cfg.searches);
        searches.extend(pod.searches.iter().flatten().cloned());
        cfg.searches = omit_duplicates(searches);
        cfg.options = merge_dns_options(&cfg.options, pod.options.as_deref().unwrap_or_default());
    }
    fit_limits(cfg)
}

/// The `resolv.conf` a CRI runtime (containerd) writes for a `DNSConfig`: `search`, one
/// `nameserver` per server, `options`, each line only when non-empty.
pub fn resolv_conf_content(cfg: &DnsConfig) -> String {
    let mut out = String::new();
    if !cfg.searches.is_empty() {
        out.push_str(&format!("search {}\n", cfg.searches.join(" ")));
    }
    for s in &cfg.servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !cfg.options.is_empty() {
        out.push_str(&format!("options {}\n", cfg.options.join(" ")));
    }
    out
}

/// The host resolver configuration to base pods on, as k3s picks it: `/etc/resolv.conf`,
/// unless it only points at a loopback stub resolver (systemd-resolved's 127.0.0.53, which is
/// unreachable from a pod's namespace) and `/run/systemd/resolve/resolv.conf` exists.
pub fn host_resolv_conf_path() -> &'static str {
    const ETC: &str = "/etc/resolv.conf";
    const RESOLVED: &str = "/run/systemd/resolve/resolv.conf";
    let Ok(content) = std::fs::read_to_string(ETC) else {
        return ETC;
    };
    let cfg = parse_resolv_conf(&content);
    let all_loopback = !cfg.servers.is_empty()
        && cfg
            .servers
            .iter()
            .all(|s| s.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()));
    if all_loopback && std::path::Path::new(RESOLVED).exists() {
        RESOLVED
    } else {
        ETC
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodDNSConfig, PodDNSConfigOption};

    fn meta(name: &str, ns: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        }
    }

    // Upstream TestManagedHostsFileContent cases.
    #[test]
    fn managed_hosts() {
        let got = managed_hosts_content(&["123.45.67.89".parse().unwrap()], "podFoo", "", &[]);
        assert_eq!(
            got,
            "# Kubernetes-managed hosts file.\n\
             127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\n\
             fe00::1\tip6-allnodes\n\
             fe00::2\tip6-allrouters\n\
             123.45.67.89\tpodFoo\n"
        );
        let aliases = vec![
            HostAlias {
                ip: "123.45.67.89".into(),
                hostnames: Some(vec!["foo".into(), "bar".into(), "baz".into()]),
            },
            HostAlias {
                ip: "456.78.90.123".into(),
                hostnames: Some(vec!["park".into(), "doo".into(), "boo".into()]),
            },
        ];
        let got = managed_hosts_content(
            &["203.0.113.1".parse().unwrap(), "fd00::6".parse().unwrap()],
            "podFoo",
            "domainFoo",
            &aliases,
        );
        assert_eq!(
            got,
            "# Kubernetes-managed hosts file.\n\
             127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\n\
             fe00::1\tip6-allnodes\n\
             fe00::2\tip6-allrouters\n\
             203.0.113.1\tpodFoo.domainFoo\tpodFoo\n\
             fd00::6\tpodFoo.domainFoo\tpodFoo\n\
             \n\
             # Entries added by HostAliases.\n\
             123.45.67.89\tfoo\tbar\tbaz\n\
             456.78.90.123\tpark\tdoo\tboo\n"
        );
    }

    #[test]
    fn host_network_hosts() {
        let spec = PodSpec {
            host_network: Some(true),
            host_aliases: Some(vec![HostAlias {
                ip: "1.2.3.4".into(),
                hostnames: Some(vec!["a".into()]),
            }]),
            ..Default::default()
        };
        let got = hosts_file_content(
            &meta("p", "ns"),
            &spec,
            &[],
            "cluster.local",
            "127.0.0.1 me\n",
        )
        .unwrap();
        assert_eq!(
            got,
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 me\n\n# Entries added by HostAliases.\n1.2.3.4\ta\n"
        );
    }

    #[test]
    fn hostname_and_domain() {
        let spec = PodSpec::default();
        assert_eq!(
            pod_hostname_and_domain(&meta("web-0", "ns"), &spec, "cluster.local").unwrap(),
            ("web-0".to_string(), String::new())
        );
        let spec = PodSpec {
            hostname: Some("db".into()),
            subdomain: Some("sub".into()),
            ..Default::default()
        };
        let (h, d) = pod_hostname_and_domain(&meta("web-0", "ns"), &spec, "cluster.local").unwrap();
        assert_eq!((h.as_str(), d.as_str()), ("db", "sub.ns.svc.cluster.local"));
        assert_eq!(kernel_hostname(&h, &d, false).unwrap(), "db");
        assert_eq!(
            kernel_hostname(&h, &d, true).unwrap(),
            "db.sub.ns.svc.cluster.local"
        );
        assert!(kernel_hostname(&"x".repeat(60), &d, true).is_err());
        assert_eq!(hostname_file_content("db"), "db\n");
        let bad = PodSpec {
            hostname: Some("Not_A_Label".into()),
            ..Default::default()
        };
        assert!(pod_hostname_and_domain(&meta("p", "ns"), &bad, "c").is_err());
        let bad = PodSpec {
            subdomain: Some("-x".into()),
            ..Default::default()
        };
        assert!(pod_hostname_and_domain(&meta("p", "ns"), &bad, "c").is_err());
    }

    // Upstream TestTruncatePodHostname cases.
    #[test]
    fn truncation() {
        let name = "1234567.1234567"; // short: unchanged
        assert_eq!(truncate_hostname("p", name).unwrap(), name);
        let long = "1234567.1234567.1234567.1234567.1234567.1234567.1234567.1234567";
        assert_eq!(long.len(), 63);
        assert_eq!(truncate_hostname("p", long).unwrap(), long);
        let too_long = "1234567.1234567.1234567.1234567.1234567.1234567.1234567.1234567.1234567";
        assert_eq!(
            truncate_hostname("p", too_long).unwrap(),
            "1234567.1234567.1234567.1234567.1234567.1234567.1234567.1234567"
        );
        let hyphen = "1234567.1234567.1234567.1234567.1234567.1234567.1234567.123456-1234567";
        assert_eq!(
            truncate_hostname("p", hyphen).unwrap(),
            "1234567.1234567.1234567.1234567.1234567.1234567.1234567.123456"
        );
        let dot = "1234567.1234567.1234567.1234567.1234567.1234567.1234567.123456.1234567";
        assert_eq!(
            truncate_hostname("p", dot).unwrap(),
            "1234567.1234567.1234567.1234567.1234567.1234567.1234567.123456"
        );
        assert!(truncate_hostname("p", &"-".repeat(70)).is_err());
    }

    #[test]
    fn resolv_conf_parsing() {
        let c = parse_resolv_conf(
            "# comment\nnameserver 1.2.3.4\nsearch a.example. b\n nameserver 5.6.7.8 \nsearch c d.\noptions ndots:2 rotate\noptions timeout:1\nnameserver\n",
        );
        assert_eq!(c.servers, vec!["1.2.3.4", "5.6.7.8"]);
        assert_eq!(c.searches, vec!["c", "d"]);
        assert_eq!(c.options, vec!["timeout:1"]);
    }

    fn host_settings() -> DnsSettings {
        DnsSettings {
            cluster_dns: vec![],
            cluster_domain: "cluster.local".into(),
            host_resolv_conf: Some(
                "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n".into(),
            ),
            node_ips: vec![],
        }
    }

    #[test]
    fn dns_policies() {
        let s = host_settings();
        // Default policy: the host's configuration.
        let spec = PodSpec {
            dns_policy: Some("Default".into()),
            ..Default::default()
        };
        let c = pod_dns_config(&spec, "ns", &s);
        assert_eq!(
            resolv_conf_content(&c),
            "search corp.example\nnameserver 192.0.2.53\noptions edns0\n"
        );
        // ClusterFirst without cluster DNS: same as Default.
        let spec = PodSpec::default();
        assert_eq!(pod_dns_config(&spec, "ns", &s), c);
        // ClusterFirst with cluster DNS.
        let mut s2 = s.clone();
        s2.cluster_dns = vec!["10.43.0.10".parse().unwrap()];
        let c = pod_dns_config(&spec, "ns", &s2);
        assert_eq!(
            resolv_conf_content(&c),
            "search ns.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.43.0.10\noptions ndots:5\n"
        );
        // ClusterFirst on the host network is Default; ClusterFirstWithHostNet is cluster.
        let hn = PodSpec {
            host_network: Some(true),
            ..Default::default()
        };
        assert_eq!(pod_dns_config(&hn, "ns", &s2).servers, vec!["192.0.2.53"]);
        let hn = PodSpec {
            host_network: Some(true),
            dns_policy: Some("ClusterFirstWithHostNet".into()),
            ..Default::default()
        };
        assert_eq!(pod_dns_config(&hn, "ns", &s2).servers, vec!["10.43.0.10"]);
        // Empty resolver config: localhost.
        let mut s3 = s.clone();
        s3.host_resolv_conf = None;
        let c = pod_dns_config(&spec, "ns", &s3);
        assert_eq!(resolv_conf_content(&c), "search .\nnameserver 127.0.0.1\n");
    }

    #[test]
    fn dns_config_merge_and_none() {
        let mut s = host_settings();
        s.cluster_dns = vec!["10.43.0.10".parse().unwrap()];
        let dns_config = PodDNSConfig {
            nameservers: Some(vec!["10.43.0.10".into(), "8.8.8.8".into()]),
            searches: Some(vec!["svc.cluster.local".into(), "my.dns.search".into()]),
            options: Some(vec![
                PodDNSConfigOption {
                    name: Some("ndots".into()),
                    value: Some("2".into()),
                },
                PodDNSConfigOption {
                    name: Some("edns0".into()),
                    value: None,
                },
            ]),
        };
        let spec = PodSpec {
            dns_config: Some(dns_config.clone()),
            ..Default::default()
        };
        let c = pod_dns_config(&spec, "ns", &s);
        assert_eq!(c.servers, vec!["10.43.0.10", "8.8.8.8"]);
        assert_eq!(
            c.searches,
            vec![
                "ns.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example",
                "my.dns.search"
            ]
        );
        assert_eq!(c.options, vec!["ndots:2", "edns0"]);
        let spec = PodSpec {
            dns_policy: Some("None".into()),
            dns_config: Some(dns_config),
            ..Default::default()
        };
        let c = pod_dns_config(&spec, "ns", &s);
        assert_eq!(
            resolv_conf_content(&c),
            "search svc.cluster.local my.dns.search\nnameserver 10.43.0.10\nnameserver 8.8.8.8\noptions ndots:2 edns0\n"
        );
    }

    #[test]
    fn dns_limits() {
        let s = DnsSettings {
            host_resolv_conf: Some(format!(
                "nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\nnameserver 4.4.4.4\nsearch {}\n",
                (0..40).map(|i| format!("d{i}.example")).collect::<Vec<_>>().join(" ")
            )),
            ..Default::default()
        };
        let spec = PodSpec {
            dns_policy: Some("Default".into()),
            ..Default::default()
        };
        let c = pod_dns_config(&spec, "ns", &s);
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.searches.len(), 32);
    }
}
