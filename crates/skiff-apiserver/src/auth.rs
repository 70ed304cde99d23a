//! Authentication: who sends a request. As kube-apiserver's union authenticator, in order:
//! - a TLS client certificate that verified against the cluster CA (the handshake checked it): user
//!   = the subject's CommonName, groups = its Organizations;
//! - `Authorization: Bearer <token>`: a token from the static token table (the join secret, which
//!   authenticates as `system:bootstrap:skiff` in group `system:bootstrappers`, and the lines of an
//!   upstream `--token-auth-file`, `token,user,uid,"group1,group2"`).
//!
//! The first that names a user wins (a certificate user ignores the header); a bearer token that
//! matches nothing is refused (401). A server started without [`Security`] (`skiff server --plain-http`,
//! loopback only) treats every request as `system:admin` in `system:masters`, as the old insecure port.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::CertificateDer;

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

pub const MASTERS: &str = "system:masters";
pub const NODES: &str = "system:nodes";
pub const BOOTSTRAPPERS: &str = "system:bootstrappers";
/// The prefix of a node's user name (`system:node:<nodeName>`).
pub const NODE_PREFIX: &str = "system:node:";

impl User {
    pub fn new(name: impl Into<String>, groups: &[&str]) -> User {
        User {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// The superuser of a server without authentication.
    pub fn admin() -> User {
        User::new("system:admin", &[MASTERS])
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The node this user is, when it is a node credential (`system:node:<name>` in `system:nodes`).
    pub fn node_name(&self) -> Option<&str> {
        if !self.in_group(NODES) {
            return None;
        }
        self.name
            .strip_prefix(NODE_PREFIX)
            .filter(|n| !n.is_empty())
    }

    /// The user a verified client certificate names, or `None` if it names none (no CommonName).
    pub fn from_certificate(der: &CertificateDer<'_>) -> Option<User> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let subject = cert.subject();
        let name = subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())?
            .to_string();
        if name.is_empty() {
            return None;
        }
        let groups = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(str::to_string))
            .collect();
        Some(User { name, groups })
    }
}

/// Node credentials the server's CA issued: PEM certificates and PKCS#8 keys.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedNodeCredentials {
    /// The CA certificate (to verify the API server and other nodes).
    pub certificate_authority: String,
    /// Client certificate for `system:node:<name>` in `system:nodes`.
    pub client_certificate: String,
    pub client_key: String,
    /// The kubelet's serving certificate (SANs: the node name and its addresses).
    pub serving_certificate: String,
    pub serving_key: String,
}

/// Signs node credentials with the cluster CA (implemented by the binary, which owns the CA key).
pub trait NodeCredentialIssuer: Send + Sync {
    fn issue(&self, node: &str, addresses: &[IpAddr]) -> Result<IssuedNodeCredentials, String>;
}

/// What a TLS-serving API server needs to authenticate and to reach kubelets.
pub struct Security {
    /// Serving certificate, and client certificates verified against the CA (optional per connection).
    pub tls: Arc<rustls::ServerConfig>,
    /// How `pods/log` reaches kubelets: the CA verifies them, and the kubelet-client certificate is ours.
    pub kubelet_client: Arc<rustls::ClientConfig>,
    /// The CA certificate as PEM, served unauthenticated at `/cacerts` for joining nodes to pin.
    pub ca_pem: Bytes,
    /// Bearer tokens.
    pub tokens: HashMap<String, User>,
    pub issuer: Arc<dyn NodeCredentialIssuer>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

/// Parses an upstream token file (`token,user,uid,"group1,group2"` per line; `#` comments).
pub fn parse_token_file(text: &str) -> Result<HashMap<String, User>, String> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, groups) = match line.split_once(",\"") {
            Some((h, g)) => (h, g.trim_end_matches('"')),
            None => (line, ""),
        };
        let fields: Vec<&str> = head.split(',').map(str::trim).collect();
        let groups: Vec<String> = if fields.len() > 3 {
            fields[3..].iter().map(|g| g.to_string()).collect()
        } else {
            groups
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect()
        };
        if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
            return Err(format!("line {}: want token,user,uid[,\"groups\"]", i + 1));
        }
        out.insert(
            fields[0].to_string(),
            User {
                name: fields[1].to_string(),
                groups,
            },
        );
    }
    Ok(out)
}

/// Why a request is not authenticated.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthnError {
    /// No credentials at all.
    Missing,
    /// A bearer token that matches nothing.
    InvalidToken,
}

/// Compares without an early exit, so the time taken does not tell how much of a token matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request's user: the connection's certificate user, else the bearer token's.
pub fn authenticate(
    security: &Security,
    connection_user: Option<&User>,
    headers: &http::HeaderMap,
) -> Result<User, AuthnError> {
    if let Some(u) = connection_user {
        return Ok(u.clone());
    }
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty())
        .ok_or(AuthnError::Missing)?;
    security
        .tokens
        .iter()
        .fold(None, |hit, (t, u)| {
            if same(t.as_bytes(), bearer.as_bytes()) {
                Some(u)
            } else {
                hit
            }
        })
        .cloned()
        .ok_or(AuthnError::InvalidToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_as_upstream() {
        let t = parse_token_file(
            "# comment\nabc,alice,1,\"system:masters,dev\"\ndef,bob,2\nghi,carol,3,ops\n",
        )
        .unwrap();
        assert_eq!(t["abc"], User::new("alice", &["system:masters", "dev"]));
        assert_eq!(t["def"], User::new("bob", &[]));
        assert_eq!(t["ghi"], User::new("carol", &["ops"]));
        assert!(parse_token_file("onlytoken\n").is_err());
    }

    #[test]
    fn node_names() {
        assert_eq!(User::new("system:node:a", &[NODES]).node_name(), Some("a"));
        assert_eq!(User::new("system:node:a", &[]).node_name(), None);
        assert_eq!(User::new("system:node:", &[NODES]).node_name(), None);
    }
}
