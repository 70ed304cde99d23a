//! The cluster's certificates (ECDSA P-256, made with `rcgen`), kept under `<data-dir>/tls/`:
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the cluster CA (10 years); it signs everything below |
//! | `server.crt`, `server.key` | the API server's serving certificate: `localhost`, `127.0.0.1`, the listen IP, the host's global IPs and name, `kubernetes[.default[.svc[.cluster.local]]]`, `10.43.0.1` |
//! | `admin.crt`, `admin.key` | client `system:admin` in `system:masters` (embedded in `admin.kubeconfig`) |
//! | `kubelet-client.crt`, `kubelet-client.key` | client `kube-apiserver-kubelet-client`: the API server towards agents |
//!
//! and the join token `<data-dir>/token`, k3s' format `K10<sha256 of ca.crt>::server:<secret>`. Keys
//! and the token are 0600. Made on the first start, reused after (the serving certificate is made
//! again when the addresses it must name change). Nodes get a client certificate for
//! `system:node:<name>` in `system:nodes` and a kubelet serving certificate ([`Ca::node`]).

use anyhow::{bail, Context};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The CN of the certificate the API server presents to kubelets (as kubeadm's).
pub const KUBELET_CLIENT_CN: &str = "kube-apiserver-kubelet-client";

/// A certificate and its key, both PEM.
#[derive(Clone)]
pub struct Pair {
    pub cert: String,
    pub key: String,
}

/// The cluster CA.
pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// What a leaf certificate is for.
struct Leaf<'a> {
    cn: &'a str,
    orgs: &'a [&'a str],
    sans: Vec<String>,
    client: bool,
    server: bool,
}

/// Writes a file atomically with the given mode.
fn write_file(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Writes a secret (key, token, credentials kubeconfig): 0600.
pub fn write_secret(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    write_file(path, data, 0o600)
}

fn random_serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] &= 0x7f;
    SerialNumber::from_slice(&b)
}

fn params(cn: &str, orgs: &[&str], days: i64) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for o in orgs {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(days);
    p.serial_number = Some(random_serial());
    p
}

impl Ca {
    /// Loads `dir/ca.{crt,key}`, or makes them. The flag tells whether they were made now.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<(Ca, bool)> {
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        if crt.exists() && key.exists() {
            let cert_pem = std::fs::read_to_string(&crt)
                .with_context(|| format!("reading {}", crt.display()))?;
            let key_pem = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let kp = KeyPair::from_pem(&key_pem)
                .with_context(|| format!("parsing {}", key.display()))?;
            let issuer = Issuer::from_ca_cert_pem(&cert_pem, kp)
                .with_context(|| format!("parsing {}", crt.display()))?;
            return Ok((Ca { cert_pem, issuer }, false));
        }
        let kp = KeyPair::generate().context("generating the CA key")?;
        let mut p = params(
            &format!("skiff-ca@{}", OffsetDateTime::now_utc().unix_timestamp()),
            &[],
            3650,
        );
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&kp).context("signing the CA")?;
        write_secret(&key, kp.serialize_pem().as_bytes())?;
        write_file(&crt, cert.pem().as_bytes(), 0o644)?;
        let cert_pem = cert.pem();
        Ok((
            Ca {
                cert_pem,
                issuer: Issuer::new(p, kp),
            },
            true,
        ))
    }

    fn sign(&self, leaf: Leaf<'_>) -> anyhow::Result<Pair> {
        let kp = KeyPair::generate().context("generating a key")?;
        let mut p = params(leaf.cn, leaf.orgs, 365);
        p.subject_alt_names = leaf
            .sans
            .iter()
            .map(|s| match s.parse::<IpAddr>() {
                Ok(ip) => Ok(rcgen::SanType::IpAddress(ip)),
                Err(_) => s.clone().try_into().map(rcgen::SanType::DnsName),
            })
            .collect::<Result<_, _>>()
            .context("certificate names")?;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if leaf.client {
            p.extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        if leaf.server {
            p.extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        p.use_authority_key_identifier_extension = true;
        let cert = p
            .signed_by(&kp, &self.issuer)
            .with_context(|| format!("signing the certificate of {}", leaf.cn))?;
        Ok(Pair {
            cert: cert.pem(),
            key: kp.serialize_pem(),
        })
    }

    /// The credentials of node `name`: a client certificate (`system:node:<name>` in `system:nodes`) and
    /// a kubelet serving certificate for its name and addresses.
    pub fn node(&self, name: &str, addresses: &[IpAddr]) -> anyhow::Result<(Pair, Pair)> {
        let user = format!("system:node:{name}");
        let client = self.sign(Leaf {
            cn: &user,
            orgs: &["system:nodes"],
            sans: Vec::new(),
            client: true,
            server: false,
        })?;
        let mut sans = vec![name.to_string()];
        sans.extend(addresses.iter().map(IpAddr::to_string));
        let serving = self.sign(Leaf {
            cn: &user,
            orgs: &["system:nodes"],
            sans,
            client: false,
            server: true,
        })?;
        Ok((client, serving))
    }

    /// The SHA-256 of the CA certificate (as served at `/cacerts`), hex: what a join token pins.
    pub fn hash(&self) -> String {
        hex(&sha2::Sha256::digest(self.cert_pem.as_bytes()))
    }
}

impl skiff_apiserver::NodeCredentialIssuer for Ca {
    fn issue(
        &self,
        node: &str,
        addresses: &[IpAddr],
    ) -> Result<skiff_apiserver::IssuedNodeCredentials, String> {
        let (client, serving) = self.node(node, addresses).map_err(|e| format!("{e:#}"))?;
        Ok(skiff_apiserver::IssuedNodeCredentials {
            certificate_authority: self.cert_pem.clone(),
            client_certificate: client.cert,
            client_key: client.key,
            serving_certificate: serving.cert,
            serving_key: serving.key,
        })
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A join token: `K10<sha256 of the CA certificate>::<user>:<secret>` (k3s' secure format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinToken {
    pub ca_hash: String,
    pub user: String,
    pub secret: String,
}

impl JoinToken {
    pub fn parse(s: &str) -> anyhow::Result<JoinToken> {
        let s = s.trim();
        let Some(rest) = s.strip_prefix("K10") else {
            bail!("the token is not a K10 token (K10<CA hash>::<user>:<secret>): the CA cannot be pinned");
        };
        let (hash, cred) = rest
            .split_once("::")
            .context("the token has no '::' after the CA hash")?;
        let (user, secret) = cred
            .split_once(':')
            .context("the token has no '<user>:<secret>' part")?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("the token's CA hash is not a SHA-256 in hex");
        }
        if secret.is_empty() {
            bail!("the token's secret is empty");
        }
        Ok(JoinToken {
            ca_hash: hash.to_ascii_lowercase(),
            user: user.to_string(),
            secret: secret.to_string(),
        })
    }
}

impl std::fmt::Display for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "K10{}::{}:{}", self.ca_hash, self.user, self.secret)
    }
}

/// Everything a TLS-serving `skiff server` keeps in its data dir.
pub struct ServerPki {
    pub ca: Arc<Ca>,
    pub serving: Pair,
    pub admin: Pair,
    pub kubelet_client: Pair,
    pub token: JoinToken,
}

/// The host's global addresses (`ip addr show scope global`).
fn host_ips() -> Vec<IpAddr> {
    let Ok(out) = std::process::Command::new("ip")
        .args(["-o", "addr", "show", "scope", "global"])
        .output()
    else {
        return Vec::new();
    };
    let mut ips = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut it = line.split_whitespace();
        while let Some(w) = it.next() {
            if w == "inet" || w == "inet6" {
                if let Some(ip) = it
                    .next()
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse().ok())
                {
                    ips.push(ip);
                }
            }
        }
    }
    ips
}

/// The names the API server's certificate must carry for `listen`.
fn serving_names(listen: SocketAddr) -> Vec<String> {
    let mut names: Vec<String> = [
        "localhost",
        "127.0.0.1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "10.43.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut add = |s: String| {
        if !names.contains(&s) {
            names.push(s);
        }
    };
    if !listen.ip().is_unspecified() {
        add(listen.ip().to_string());
    }
    for ip in host_ips() {
        add(ip.to_string());
    }
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .to_lowercase();
    if !host.is_empty() && rcgen::string::Ia5String::try_from(host.clone()).is_ok() {
        add(host);
    }
    names
}

/// The names (DNS and IP SANs, as strings) a certificate carries.
fn cert_names(pem: &str) -> Option<Vec<String>> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    Some(
        san.value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                    4 => Some(IpAddr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                    16 => Some(IpAddr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
    )
}

fn load_pair(dir: &Path, name: &str) -> Option<Pair> {
    let cert = std::fs::read_to_string(dir.join(format!("{name}.crt"))).ok()?;
    let key = std::fs::read_to_string(dir.join(format!("{name}.key"))).ok()?;
    Some(Pair { cert, key })
}

fn save_pair(dir: &Path, name: &str, pair: &Pair) -> anyhow::Result<()> {
    write_secret(&dir.join(format!("{name}.key")), pair.key.as_bytes())?;
    write_file(
        &dir.join(format!("{name}.crt")),
        pair.cert.as_bytes(),
        0o644,
    )
}

impl ServerPki {
    /// Loads the server's certificates and join token from `data_dir`, making what is missing.
    pub fn load_or_create(data_dir: &Path, listen: SocketAddr) -> anyhow::Result<ServerPki> {
        let dir = data_dir.join("tls");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (ca, fresh) = Ca::load_or_create(&dir)?;
        let names = serving_names(listen);
        let leaf =
            |file: &str, leaf: Leaf<'_>, fits: &dyn Fn(&Pair) -> bool| -> anyhow::Result<Pair> {
                if !fresh {
                    if let Some(p) = load_pair(&dir, file).filter(|p| fits(p)) {
                        return Ok(p);
                    }
                }
                let p = ca.sign(leaf)?;
                save_pair(&dir, file, &p)?;
                Ok(p)
            };
        let serving = leaf(
            "server",
            Leaf {
                cn: "kube-apiserver",
                orgs: &[],
                sans: names.clone(),
                client: false,
                server: true,
            },
            &|p| cert_names(&p.cert).is_some_and(|have| names.iter().all(|n| have.contains(n))),
        )?;
        let admin = leaf(
            "admin",
            Leaf {
                cn: "system:admin",
                orgs: &["system:masters"],
                sans: Vec::new(),
                client: true,
                server: false,
            },
            &|_| true,
        )?;
        let kubelet_client = leaf(
            "kubelet-client",
            Leaf {
                cn: KUBELET_CLIENT_CN,
                orgs: &[],
                sans: Vec::new(),
                client: true,
                server: false,
            },
            &|_| true,
        )?;
        let token_path = data_dir.join("token");
        let existing = std::fs::read_to_string(&token_path)
            .ok()
            .and_then(|t| JoinToken::parse(&t).ok())
            .filter(|t| t.ca_hash == ca.hash());
        let token = match existing {
            Some(t) => t,
            None => {
                let t = JoinToken {
                    ca_hash: ca.hash(),
                    user: "server".into(),
                    secret: hex(&rand::random::<[u8; 16]>()),
                };
                write_secret(&token_path, format!("{t}\n").as_bytes())?;
                t
            }
        };
        Ok(ServerPki {
            ca: Arc::new(ca),
            serving,
            admin,
            kubelet_client,
            token,
        })
    }

    /// Where the join token is.
    pub fn token_path(data_dir: &Path) -> PathBuf {
        data_dir.join("token")
    }
}

fn certs(pem: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("parsing a PEM certificate")
}

fn key(pem: &str) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).context("parsing a PEM private key")
}

pub fn roots(ca_pem: &str) -> anyhow::Result<Arc<rustls::RootCertStore>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca_pem)? {
        roots.add(c).context("adding the CA certificate")?;
    }
    Ok(Arc::new(roots))
}

/// The API server's TLS: its serving certificate; client certificates optional, verified against the CA.
pub fn apiserver_tls(pki: &ServerPki) -> anyhow::Result<rustls::ServerConfig> {
    let verifier = rustls::server::WebPkiClientVerifier::builder(roots(&pki.ca.cert_pem)?)
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let mut cfg = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&pki.serving.cert)?, key(&pki.serving.key)?)
        .context("the serving certificate")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A TLS client that trusts `ca_pem`, presenting `identity` when given.
pub fn client_tls(ca_pem: &str, identity: Option<&Pair>) -> anyhow::Result<rustls::ClientConfig> {
    let b = rustls::ClientConfig::builder().with_root_certificates(roots(ca_pem)?);
    Ok(match identity {
        Some(p) => b
            .with_client_auth_cert(certs(&p.cert)?, key(&p.key)?)
            .context("the client certificate")?,
        None => b.with_no_client_auth(),
    })
}

/// Admits only client certificates the CA signed whose subject CommonName is `cn`.
#[derive(Debug)]
struct OnlyCommonName {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    cn: String,
}

impl rustls::server::danger::ClientCertVerifier for OnlyCommonName {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        match skiff_apiserver::User::from_certificate(end_entity) {
            Some(u) if u.name == self.cn => {
                Ok(rustls::server::danger::ClientCertVerified::assertion())
            }
            _ => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The kubelet endpoint's TLS: the node's serving certificate; a client certificate is required, and
/// only the API server's kubelet-client one is admitted.
pub fn kubelet_tls(ca_pem: &str, serving: &Pair) -> anyhow::Result<rustls::ServerConfig> {
    let inner = rustls::server::WebPkiClientVerifier::builder(roots(ca_pem)?)
        .build()
        .context("building the client certificate verifier")?;
    let verifier = Arc::new(OnlyCommonName {
        inner,
        cn: KUBELET_CLIENT_CN.into(),
    });
    let mut cfg = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&serving.cert)?, key(&serving.key)?)
        .context("the kubelet serving certificate")?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A node's credentials, written into its data dir.
pub struct NodeCredentials {
    /// `<dir>/kubelet.kubeconfig`: the API server, the CA, the node's client certificate.
    pub kubeconfig_path: PathBuf,
    pub ca_pem: String,
    pub serving: Pair,
}

impl NodeCredentials {
    /// The kubelet endpoint's TLS.
    pub fn kubelet_tls(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        Ok(Arc::new(kubelet_tls(&self.ca_pem, &self.serving)?))
    }
}

/// Writes issued credentials into `dir` (`kubelet.kubeconfig`, `tls/kubelet.{crt,key}`, `tls/ca.crt`).
pub fn save_node_credentials(
    dir: &Path,
    server_url: &str,
    node: &str,
    issued: &skiff_apiserver::IssuedNodeCredentials,
) -> anyhow::Result<NodeCredentials> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).with_context(|| format!("creating {}", tls.display()))?;
    let serving = Pair {
        cert: issued.serving_certificate.clone(),
        key: issued.serving_key.clone(),
    };
    save_pair(&tls, "kubelet", &serving)?;
    write_file(
        &tls.join("ca.crt"),
        issued.certificate_authority.as_bytes(),
        0o644,
    )?;
    let kubeconfig_path = dir.join("kubelet.kubeconfig");
    let text = crate::kubeconfig::with_certificates(
        server_url,
        &format!("system:node:{node}"),
        &issued.certificate_authority,
        &Pair {
            cert: issued.client_certificate.clone(),
            key: issued.client_key.clone(),
        },
    );
    write_secret(&kubeconfig_path, text.as_bytes())?;
    Ok(NodeCredentials {
        kubeconfig_path,
        ca_pem: issued.certificate_authority.clone(),
        serving,
    })
}

/// Mints node `node`'s credentials straight from the CA (for `skiff up`, where the server and the
/// agent share a process) and writes them into `dir`.
pub fn node_credentials(
    ca: &Ca,
    server_url: &str,
    node: &str,
    addresses: &[IpAddr],
    dir: &Path,
) -> anyhow::Result<NodeCredentials> {
    let issued = skiff_apiserver::NodeCredentialIssuer::issue(ca, node, addresses)
        .map_err(anyhow::Error::msg)?;
    save_node_credentials(dir, server_url, node, &issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_token_round_trip() {
        let t = JoinToken {
            ca_hash: "a".repeat(64),
            user: "server".into(),
            secret: "s3cret".into(),
        };
        assert_eq!(JoinToken::parse(&t.to_string()).unwrap(), t);
        assert!(JoinToken::parse("s3cret").is_err());
        assert!(JoinToken::parse("K10abc::server:x").is_err());
    }

    #[test]
    fn pki_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let listen: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        let a = ServerPki::load_or_create(dir.path(), listen).unwrap();
        let b = ServerPki::load_or_create(dir.path(), listen).unwrap();
        assert_eq!(a.ca.cert_pem, b.ca.cert_pem);
        assert_eq!(a.serving.cert, b.serving.cert);
        assert_eq!(a.token, b.token);
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "tls/ca.key",
            "tls/server.key",
            "tls/admin.key",
            "tls/kubelet-client.key",
            "token",
        ] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let names = cert_names(&a.serving.cert).unwrap();
        for n in [
            "localhost",
            "127.0.0.1",
            "kubernetes.default.svc.cluster.local",
            "10.43.0.1",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
        let user = skiff_apiserver::User::from_certificate(
            &CertificateDer::from_pem_slice(a.admin.cert.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            user,
            skiff_apiserver::User::new("system:admin", &["system:masters"])
        );
        // Another listen address: a new serving certificate from the same CA.
        let c = ServerPki::load_or_create(dir.path(), "127.0.0.2:6443".parse().unwrap()).unwrap();
        assert_eq!(a.ca.cert_pem, c.ca.cert_pem);
        assert!(cert_names(&c.serving.cert)
            .unwrap()
            .iter()
            .any(|n| n == "127.0.0.2"));
        apiserver_tls(&c).unwrap();
        let (client, serving) = c.ca.node("n1", &["10.0.0.5".parse().unwrap()]).unwrap();
        kubelet_tls(&c.ca.cert_pem, &serving).unwrap();
        client_tls(&c.ca.cert_pem, Some(&client)).unwrap();
    }
}
