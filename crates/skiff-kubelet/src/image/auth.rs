//! Registry credentials from `imagePullSecrets`: the `kubernetes.io/dockerconfigjson` format
//! (`{"auths": {"<registry>": {"auth": base64(user:pass)}}}`) and the older `kubernetes.io/dockercfg`
//! (the same map without `auths`).
//!
//! Keys are matched to the image's registry as the kubelet's credential keyring does: the key's
//! scheme and path are ignored, the host and port must match, a `*` matches one DNS label
//! (`*.example.com`), and Docker Hub's aliases (`index.docker.io`, `registry-1.docker.io`,
//! `https://index.docker.io/v1/`) all mean `docker.io`.

use base64::Engine;
use serde::Deserialize;

/// A username and password for one registry (basic auth, or exchanged for a bearer token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct ConfigJson {
    auths: Option<std::collections::BTreeMap<String, AuthEntry>>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl AuthEntry {
    fn credentials(&self) -> Option<Credentials> {
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            if !u.is_empty() {
                return Some(Credentials {
                    username: u.clone(),
                    password: p.clone(),
                });
            }
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.auth.as_deref()?.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })
    }
}

/// Canonical host[:port] of a registry key or host: scheme, path and Docker Hub aliases removed.
fn canonical_host(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let split = |s: &str| -> (String, Option<String>) {
        match s.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                (h.to_string(), Some(p.to_string()))
            }
            _ => (s.to_string(), None),
        }
    };
    let (ph, pp) = split(pattern);
    let (hh, hp) = split(host);
    if pp != hp {
        return false;
    }
    let pl: Vec<&str> = ph.split('.').collect();
    let hl: Vec<&str> = hh.split('.').collect();
    pl.len() == hl.len()
        && pl
            .iter()
            .zip(&hl)
            .all(|(p, h)| *p == "*" || p.eq_ignore_ascii_case(h))
}

/// The credentials for `registry_host` (`docker.io`, `127.0.0.1:5000`) in a dockerconfigjson or
/// dockercfg document, or `None` if it has none for that host (or is not such a document).
pub fn parse_docker_config_json(bytes: &[u8], registry_host: &str) -> Option<Credentials> {
    let auths = match serde_json::from_slice::<ConfigJson>(bytes) {
        Ok(ConfigJson { auths: Some(a) }) => a,
        _ => serde_json::from_slice::<std::collections::BTreeMap<String, AuthEntry>>(bytes).ok()?,
    };
    let host = canonical_host(registry_host);
    // Exact keys first, then wildcards.
    let mut candidates: Vec<(&String, &AuthEntry)> = auths
        .iter()
        .filter(|(k, _)| host_matches(&canonical_host(k), &host))
        .collect();
    candidates.sort_by_key(|(k, _)| k.contains('*'));
    candidates.into_iter().find_map(|(_, e)| e.credentials())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn dockerconfigjson_by_host() {
        let doc = format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{}"}},
                "127.0.0.1:5000":{{"username":"u","password":"p:w"}},
                "*.corp.example":{{"auth":"{}"}},
                "ghcr.io":{{"auth":"not base64!"}}
            }}}}"#,
            b64("hub:pw"),
            b64("corp:x:y")
        );
        let c = |h| parse_docker_config_json(doc.as_bytes(), h);
        assert_eq!(c("docker.io").unwrap().username, "hub");
        assert_eq!(c("docker.io").unwrap().password, "pw");
        let local = c("127.0.0.1:5000").unwrap();
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("u", "p:w")
        );
        assert_eq!(c("127.0.0.1:5001"), None);
        assert_eq!(c("127.0.0.1"), None);
        let corp = c("reg.corp.example").unwrap();
        assert_eq!(
            (corp.username.as_str(), corp.password.as_str()),
            ("corp", "x:y")
        );
        assert_eq!(c("a.b.corp.example"), None);
        assert_eq!(c("ghcr.io"), None);
        assert_eq!(c("quay.io"), None);
        assert!(!format!("{local:?}").contains("p:w"));
    }

    #[test]
    fn legacy_dockercfg() {
        let doc = format!(r#"{{"registry.example:443":{{"auth":"{}"}}}}"#, b64("a:b"));
        let c = parse_docker_config_json(doc.as_bytes(), "registry.example:443").unwrap();
        assert_eq!(c.username, "a");
        assert_eq!(parse_docker_config_json(b"not json", "x"), None);
    }
}
