//! Test harness: starts a real `skiff server` process on a free loopback port with its own data dir, and
//! runs the real `kubectl` against it with a fresh discovery cache. The server is secure as by default
//! (HTTPS, client certificates); [`http`] speaks TLS with the server's admin certificate.
#![allow(dead_code)]

pub mod agent;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Server {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    child: Option<Child>,
}

fn skiff_bin() -> &'static str {
    env!("CARGO_BIN_EXE_skiff")
}

impl Server {
    /// Starts a server in a new data dir.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir)
    }

    /// Starts a server on an existing data dir (to test restarts).
    pub fn start_in(dir: tempfile::TempDir) -> Server {
        Self::start_with(dir, &[])
    }

    /// Starts a server with extra `skiff server` flags.
    pub fn start_with(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let kubeconfig = dir.path().join("admin.kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(skiff_bin())
            .args(["server", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn skiff server");
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&kubeconfig) {
                if let Some(line) = text.lines().find(|l| l.trim_start().starts_with("server:")) {
                    break line
                        .trim_start()
                        .trim_start_matches("server:")
                        .trim()
                        .to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "skiff server did not write its kubeconfig: {}",
                Self::log_of(dir.path())
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if url.starts_with("https://") {
            let tls = tls_from_kubeconfig(&kubeconfig);
            let addr = url.trim_start_matches("https://").to_string();
            admin_tls().lock().unwrap().insert(addr, tls);
        }
        Server {
            dir,
            url,
            kubeconfig,
            cache: tempfile::tempdir().expect("cache dir"),
            child: Some(child),
        }
    }

    fn log_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        Self::log_of(self.dir.path())
    }

    /// The host:port the server listens on.
    pub fn addr(&self) -> String {
        self.url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string()
    }

    /// Runs kubectl with this server's kubeconfig and a fresh-per-server discovery cache.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl on PATH");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl runs")
    }

    /// Runs kubectl and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\nstdout: {}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Writes a manifest into the data dir and returns its path.
    pub fn manifest(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.to_string_lossy().into_owned()
    }

    /// Kills the server with SIGKILL (no clean shutdown) and returns its data dir.
    pub fn kill(mut self) -> tempfile::TempDir {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }

        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// Stops the server with SIGTERM and waits for it; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` until it returns Some, or panics after `timeout`.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The admin TLS client of each started server, by address.
fn admin_tls() -> &'static Mutex<HashMap<String, Arc<rustls::ClientConfig>>> {
    static TLS: OnceLock<Mutex<HashMap<String, Arc<rustls::ClientConfig>>>> = OnceLock::new();
    TLS.get_or_init(Default::default)
}

/// A `*-data:` field of a kubeconfig, decoded.
pub fn kubeconfig_data(kubeconfig: &Path, field: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(field)?.strip_prefix(':'))?;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
}

/// A TLS client that trusts `ca_pem` and presents `identity` (certificate and key PEM).
pub fn tls_client(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(c.expect("CA PEM")).expect("CA certificate");
    }
    let b = rustls::ClientConfig::builder().with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .expect("certificate PEM"),
                PrivateKeyDer::from_pem_slice(key).expect("key PEM"),
            )
            .expect("client certificate"),
        None => b.with_no_client_auth(),
    })
}

/// The TLS client of a kubeconfig's CA and client certificate.
pub fn tls_from_kubeconfig(kubeconfig: &Path) -> Arc<rustls::ClientConfig> {
    let ca = kubeconfig_data(kubeconfig, "certificate-authority-data").expect("CA in kubeconfig");
    let cert = kubeconfig_data(kubeconfig, "client-certificate-data");
    let key = kubeconfig_data(kubeconfig, "client-key-data");
    tls_client(&ca, cert.as_deref().zip(key.as_deref()))
}

/// One raw HTTP/1.1 request (Connection: close); returns the status code and body. For tests that send
/// what no client library would. Over TLS as the server's admin when the server is one this harness
/// started with TLS.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let tls = admin_tls().lock().unwrap().get(addr).cloned();
    let mut headers = Vec::new();
    if let Some(ct) = content_type {
        headers.push(("Content-Type", ct));
    }
    request(addr, tls, method, path, &headers, body)
}

/// One raw HTTP/1.1 request (Connection: close), over TLS with `tls` when given.
pub fn request(
    addr: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut s: Box<dyn ReadWrite> = match tls {
        Some(cfg) => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name =
                rustls::pki_types::ServerName::try_from(host.to_string()).expect("server name");
            let conn = rustls::ClientConnection::new(cfg, name).expect("TLS client");
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
        None => Box::new(tcp),
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // A refused TLS handshake shows here (or as an empty answer): code 0 and the error.
    if let Err(e) = s.write_all(head.as_bytes()) {
        return (0, e.to_string());
    }
    let _ = s.write_all(body);
    let _ = s.flush();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

trait ReadWrite: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> ReadWrite for T {}
