//! Test helpers (feature `test-util`): build OCI images from Debian's static busybox or from any
//! layers (including hostile ones), push them to a registry, and run a local registry.
//!
//! - [`build_busybox_image`] / [`ImageBuilder`]: a single-layer image with `/bin/busybox` and a
//!   symlink per applet (`sh`, `echo`, `sleep`, `cat`, ...), `/etc/passwd`, `/tmp`, and a given cmd.
//! - [`LayerBuilder`]: layers entry by entry; [`LayerBuilder::raw`] writes names the `tar` crate
//!   would refuse (`../../evil`, `/abs`), to test that unpacking refuses them.
//! - [`push`] / [`push_index`]: push an image or a multi-arch index (blob and manifest PUTs with
//!   oci-client, so the manifest's digest is exactly [`TestImage::manifest_digest`]).
//! - [`Registry`]: `/usr/bin/docker-registry` (Debian `docker-registry`) on a free loopback port
//!   with a temporary storage directory, stopped on drop; its access log counts blob downloads.
//!
//! Missing prerequisites (the registry binary, busybox, root) panic with the package to install:
//! CI installs them, and a test that silently skips proves nothing.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest as m;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::auth::Credentials;

/// Where Debian's `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";
/// Where Debian's `docker-registry` puts its binary (override with `SKIFF_DOCKER_REGISTRY`).
pub const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// Panics with a clear message unless running as root.
pub fn require_root(what: &str) {
    if !rustix::process::geteuid().is_root() {
        panic!("{what} needs root (mount, mknod, chown, trusted.* xattrs): run the tests as root, as CI does");
    }
}

/// Panics with the package to install unless `/bin/busybox` (static) exists.
pub fn require_busybox() {
    if !Path::new(BUSYBOX).exists() {
        panic!(
            "{BUSYBOX} not found: install Debian's busybox-static (apt-get install busybox-static)"
        );
    }
}

/// Builds one layer's tar, entry by entry. Owner 0/0 and mtime 2020-01-01 unless set.
pub struct LayerBuilder {
    builder: tar::Builder<Vec<u8>>,
    mtime: u64,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder::new()
    }
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> LayerBuilder {
        LayerBuilder {
            builder: tar::Builder::new(Vec::new()),
            mtime: 1_577_836_800,
        }
    }

    fn header(&self, kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h
    }

    fn append(mut self, mut h: Header, name: &[u8], link: Option<&[u8]>, data: &[u8]) -> Self {
        if name.len() <= 100 && link.is_none_or(|l| l.len() <= 100) {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..name.len()].copy_from_slice(name);
            if let Some(l) = link {
                old.linkname = [0; 100];
                old.linkname[..l.len()].copy_from_slice(l);
            }
            h.set_cksum();
            self.builder.append(&h, data).expect("writing to memory");
        } else {
            let path = Path::new(std::str::from_utf8(name).expect("long names must be UTF-8"));
            match link {
                Some(l) => {
                    let target = Path::new(std::str::from_utf8(l).expect("UTF-8 link"));
                    self.builder
                        .append_link(&mut h, path, target)
                        .expect("long link names are written with GNU extensions");
                }
                None => self
                    .builder
                    .append_data(&mut h, path, data)
                    .expect("long names are written with GNU extensions"),
            }
        }
        self
    }

    /// Sets the mtime of the entries added after this call.
    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    /// A directory.
    pub fn dir(self, path: &str, mode: u32) -> Self {
        let h = self.header(EntryType::Directory, mode, 0);
        self.append(h, path.as_bytes(), None, &[])
    }

    /// A regular file.
    pub fn file(self, path: &str, data: &[u8], mode: u32) -> Self {
        let h = self.header(EntryType::Regular, mode, data.len() as u64);
        self.append(h, path.as_bytes(), None, data)
    }

    /// A regular file with an owner.
    pub fn file_owned(self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = self.header(EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.append(h, path.as_bytes(), None, data)
    }

    /// A symlink (the target is stored as given).
    pub fn symlink(self, path: &str, target: &str) -> Self {
        let h = self.header(EntryType::Symlink, 0o777, 0);
        self.append(h, path.as_bytes(), Some(target.as_bytes()), &[])
    }

    /// A hardlink to an earlier entry.
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        let h = self.header(EntryType::Link, 0o644, 0);
        self.append(h, path.as_bytes(), Some(target.as_bytes()), &[])
    }

    /// A character device.
    pub fn char_device(self, path: &str, major: u32, minor: u32, mode: u32) -> Self {
        let mut h = self.header(EntryType::Char, mode, 0);
        h.set_device_major(major).expect("gnu header");
        h.set_device_minor(minor).expect("gnu header");
        self.append(h, path.as_bytes(), None, &[])
    }

    /// An OCI whiteout deleting `path` (written as `dir/.wh.name`).
    pub fn whiteout(self, path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, &[], 0o644)
    }

    /// An OCI opaque whiteout for `dir` (written as `dir/.wh..wh..opq`).
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), &[], 0o644)
    }

    /// Any entry with the name and link bytes as given, unchecked: for hostile layers.
    pub fn raw(self, kind: EntryType, name: &[u8], link: Option<&[u8]>, data: &[u8]) -> Self {
        assert!(name.len() <= 100 && link.is_none_or(|l| l.len() <= 100));
        let h = self.header(kind, 0o644, data.len() as u64);
        self.append(h, name, link, data)
    }

    /// The uncompressed tar.
    pub fn into_tar(self) -> Vec<u8> {
        self.builder.into_inner().expect("writing to memory")
    }

    /// The gzip-compressed tar.
    pub fn into_gzip(self) -> Vec<u8> {
        gzip(&self.into_tar())
    }
}

/// Gzip, default level.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// The applets linked in the busybox layer when `busybox --list` cannot be run.
const APPLETS: &[&str] = &[
    "sh", "ash", "echo", "sleep", "cat", "ls", "env", "true", "false", "test", "[", "printf", "id",
    "hostname", "ps", "kill", "wget", "nc", "httpd", "mkdir", "rm", "touch", "date", "head",
    "tail", "grep", "sed", "awk", "yes", "seq", "wc", "mount", "df", "dd", "pwd", "whoami",
];

/// The busybox layer: `/bin/busybox` (from Debian's busybox-static), one symlink per applet in
/// `/bin`, `/etc/passwd`, `/etc/group`, and the usual empty directories.
pub fn busybox_layer() -> LayerBuilder {
    require_busybox();
    let binary = std::fs::read(BUSYBOX).unwrap_or_else(|e| panic!("reading {BUSYBOX}: {e}"));
    let mut applets: Vec<String> = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if applets.is_empty() {
        applets = APPLETS.iter().map(|s| s.to_string()).collect();
    }
    applets.retain(|a| a != "busybox" && !a.is_empty() && !a.contains('/'));
    let mut l = LayerBuilder::new()
        .dir("bin", 0o755)
        .file("bin/busybox", &binary, 0o755);
    for a in &applets {
        l = l.symlink(&format!("bin/{a}"), "busybox");
    }
    l.dir("etc", 0o755)
        .file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        )
        .file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
        .dir("root", 0o700)
        .dir("tmp", 0o1777)
        .dir("proc", 0o555)
        .dir("sys", 0o555)
        .dir("dev", 0o755)
        .dir("var", 0o755)
}

/// One blob of a test image.
#[derive(Debug, Clone)]
pub struct TestBlob {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// The content.
    pub data: Vec<u8>,
}

impl TestBlob {
    fn new(media_type: &str, data: Vec<u8>) -> TestBlob {
        TestBlob {
            media_type: media_type.to_string(),
            digest: sha256(&data),
            data,
        }
    }

    fn descriptor(&self) -> serde_json::Value {
        serde_json::json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.data.len(),
        })
    }
}

/// A built image: config, layers, and the manifest (exact bytes) referring to them.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// The config blob.
    pub config: TestBlob,
    /// The layer blobs, lowest first.
    pub layers: Vec<TestBlob>,
    /// The layers' DiffIDs (digests of the uncompressed tars).
    pub diff_ids: Vec<String>,
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// `sha256:<hex>` of `manifest`.
    pub manifest_digest: String,
    /// `os` of the config.
    pub os: String,
    /// `architecture` of the config.
    pub architecture: String,
}

/// Builds a [`TestImage`] from layers and a run configuration.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    layers: Vec<Vec<u8>>,
    gzip: bool,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    working_dir: String,
    user: String,
    exposed_ports: Vec<String>,
    architecture: String,
    os: String,
    diff_ids: Option<Vec<String>>,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder::new()
    }
}

impl ImageBuilder {
    /// No layers, `PATH` set, this machine's architecture, gzip-compressed layers.
    pub fn new() -> ImageBuilder {
        ImageBuilder {
            layers: Vec::new(),
            gzip: true,
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            working_dir: String::new(),
            user: String::new(),
            exposed_ports: Vec::new(),
            architecture: crate::image::Platform::host().architecture,
            os: "linux".into(),
            diff_ids: None,
        }
    }

    /// Adds a layer (an uncompressed tar, e.g. [`LayerBuilder::into_tar`]) on top.
    pub fn layer(mut self, tar: Vec<u8>) -> Self {
        self.layers.push(tar);
        self
    }

    /// Whether layers are gzip-compressed (default) or plain tars.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// `Entrypoint`.
    pub fn entrypoint(mut self, args: &[&str]) -> Self {
        self.entrypoint = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `Cmd`.
    pub fn cmd(mut self, args: &[&str]) -> Self {
        self.cmd = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds an `Env` entry (`NAME=value`).
    pub fn env(mut self, kv: &str) -> Self {
        self.env.push(kv.to_string());
        self
    }

    /// `WorkingDir`.
    pub fn working_dir(mut self, dir: &str) -> Self {
        self.working_dir = dir.to_string();
        self
    }

    /// `User`.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// Adds an `ExposedPorts` entry (`8080/tcp`).
    pub fn expose(mut self, port: &str) -> Self {
        self.exposed_ports.push(port.to_string());
        self
    }

    /// `architecture` (GOARCH spelling).
    pub fn architecture(mut self, arch: &str) -> Self {
        self.architecture = arch.to_string();
        self
    }

    /// Writes these DiffIDs in the config instead of the layers' real ones (to test the check).
    pub fn diff_ids(mut self, diff_ids: Vec<String>) -> Self {
        self.diff_ids = Some(diff_ids);
        self
    }

    /// The image.
    pub fn build(self) -> TestImage {
        let diff_ids: Vec<String> = self
            .diff_ids
            .clone()
            .unwrap_or_else(|| self.layers.iter().map(|t| sha256(t)).collect());
        let layers: Vec<TestBlob> = self
            .layers
            .iter()
            .map(|t| {
                if self.gzip {
                    TestBlob::new(m::IMAGE_LAYER_GZIP_MEDIA_TYPE, gzip(t))
                } else {
                    TestBlob::new(m::IMAGE_LAYER_MEDIA_TYPE, t.clone())
                }
            })
            .collect();
        let mut exec = serde_json::Map::new();
        exec.insert("Env".into(), serde_json::json!(self.env));
        if !self.entrypoint.is_empty() {
            exec.insert("Entrypoint".into(), serde_json::json!(self.entrypoint));
        }
        if !self.cmd.is_empty() {
            exec.insert("Cmd".into(), serde_json::json!(self.cmd));
        }
        if !self.working_dir.is_empty() {
            exec.insert("WorkingDir".into(), serde_json::json!(self.working_dir));
        }
        if !self.user.is_empty() {
            exec.insert("User".into(), serde_json::json!(self.user));
        }
        if !self.exposed_ports.is_empty() {
            let ports: serde_json::Map<String, serde_json::Value> = self
                .exposed_ports
                .iter()
                .map(|p| (p.clone(), serde_json::json!({})))
                .collect();
            exec.insert("ExposedPorts".into(), serde_json::Value::Object(ports));
        }
        let config = serde_json::json!({
            "created": "2020-01-01T00:00:00Z",
            "architecture": self.architecture,
            "os": self.os,
            "config": exec,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "skiff test_util"}],
        });
        let config = TestBlob::new(
            m::IMAGE_CONFIG_MEDIA_TYPE,
            serde_json::to_vec(&config).expect("json"),
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": m::OCI_IMAGE_MEDIA_TYPE,
            "config": config.descriptor(),
            "layers": layers.iter().map(TestBlob::descriptor).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).expect("json");
        TestImage {
            config,
            layers,
            diff_ids,
            manifest_digest: sha256(&manifest),
            manifest,
            os: self.os,
            architecture: self.architecture,
        }
    }
}

/// A single-layer busybox image (see [`busybox_layer`]) whose `Cmd` is `cmd`.
pub fn build_busybox_image(cmd: &[&str]) -> TestImage {
    ImageBuilder::new()
        .layer(busybox_layer().into_tar())
        .cmd(cmd)
        .build()
}

impl TestImage {
    /// Writes the image as an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`) in
    /// `dir`, e.g. for `skopeo copy oci:DIR docker://...`.
    pub fn write_oci_layout(&self, dir: &Path) -> io::Result<()> {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)?;
        let write = |digest: &str, data: &[u8]| {
            std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), data)
        };
        for b in self.layers.iter().chain(std::iter::once(&self.config)) {
            write(&b.digest, &b.data)?;
        }
        write(&self.manifest_digest, &self.manifest)?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": m::OCI_IMAGE_INDEX_MEDIA_TYPE,
            "manifests": [{
                "mediaType": m::OCI_IMAGE_MEDIA_TYPE,
                "digest": self.manifest_digest,
                "size": self.manifest.len(),
            }],
        });
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)
    }
}

fn plain_http_client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        use_monolithic_push: true,
        ..ClientConfig::default()
    })
}

async fn push_to(
    client: &Client,
    reference: &Reference,
    image: &TestImage,
) -> Result<(), oci_client::errors::OciDistributionError> {
    for b in image.layers.iter().chain(std::iter::once(&image.config)) {
        client
            .push_blob(reference, b.data.clone(), &b.digest)
            .await?;
    }
    client
        .push_manifest_raw(
            reference,
            image.manifest.clone(),
            http::HeaderValue::from_static(m::OCI_IMAGE_MEDIA_TYPE),
        )
        .await?;
    Ok(())
}

async fn authed_client(registry: &str, credentials: Option<&Credentials>) -> Client {
    let client = plain_http_client();
    if let Some(c) = credentials {
        client
            .store_auth_if_needed(
                registry,
                &RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            )
            .await;
    }
    client
}

/// Pushes `image` as `registry/repo:tag` over plain HTTP; returns the manifest digest.
pub async fn push(
    registry: &str,
    repo: &str,
    tag: &str,
    image: &TestImage,
) -> Result<String, oci_client::errors::OciDistributionError> {
    push_with(registry, repo, tag, image, None).await
}

/// [`push`] with credentials.
pub async fn push_with(
    registry: &str,
    repo: &str,
    tag: &str,
    image: &TestImage,
    credentials: Option<&Credentials>,
) -> Result<String, oci_client::errors::OciDistributionError> {
    let client = authed_client(registry, credentials).await;
    let reference = Reference::with_tag(registry.into(), repo.into(), tag.into());
    push_to(&client, &reference, image).await?;
    Ok(image.manifest_digest.clone())
}

/// Pushes each image by digest and an OCI index of them (platform from each image's config) as
/// `registry/repo:tag`; returns the index's digest.
pub async fn push_index(
    registry: &str,
    repo: &str,
    tag: &str,
    images: &[&TestImage],
) -> Result<String, oci_client::errors::OciDistributionError> {
    let client = plain_http_client();
    let mut entries = Vec::new();
    for img in images {
        let by_digest =
            Reference::with_digest(registry.into(), repo.into(), img.manifest_digest.clone());
        push_to(&client, &by_digest, img).await?;
        let mut platform = serde_json::json!({"architecture": img.architecture, "os": img.os});
        if img.architecture == "arm64" {
            platform["variant"] = "v8".into();
        }
        entries.push(serde_json::json!({
            "mediaType": m::OCI_IMAGE_MEDIA_TYPE,
            "digest": img.manifest_digest,
            "size": img.manifest.len(),
            "platform": platform,
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": m::OCI_IMAGE_INDEX_MEDIA_TYPE,
        "manifests": entries,
    }))
    .expect("json");
    let reference = Reference::with_tag(registry.into(), repo.into(), tag.into());
    client
        .push_manifest_raw(
            &reference,
            index.clone(),
            http::HeaderValue::from_static(m::OCI_IMAGE_INDEX_MEDIA_TYPE),
        )
        .await?;
    Ok(sha256(&index))
}

/// A CNCF distribution registry (`docker-registry serve`) on `127.0.0.1:<free port>`, with its
/// storage in a temporary directory; killed on drop.
pub struct Registry {
    /// `127.0.0.1:<port>`: the registry part of image references.
    pub host: String,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Registry {
    /// Starts an open registry (no authentication).
    pub fn start() -> Registry {
        Registry::start_inner(None)
    }

    /// Starts a registry requiring HTTP basic auth; `htpasswd` is one line `user:<bcrypt hash>`.
    pub fn start_with_htpasswd(htpasswd: &str) -> Registry {
        Registry::start_inner(Some(htpasswd))
    }

    fn start_inner(htpasswd: Option<&str>) -> Registry {
        let bin = std::env::var("SKIFF_DOCKER_REGISTRY").unwrap_or_else(|_| DOCKER_REGISTRY.into());
        if !Path::new(&bin).exists() {
            panic!(
                "{bin} not found: these tests need the CNCF distribution registry \
                 (Debian package docker-registry: apt-get install docker-registry)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("skiff-registry-")
            .tempdir()
            .expect("temp dir");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let auth = match htpasswd {
            Some(line) => {
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, format!("{line}\n")).expect("htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                    path.display()
                )
            }
            None => String::new(),
        };
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     {auth}http:\n  addr: 127.0.0.1:{port}\n  secret: skiff-test-secret\n",
                    storage.display()
                ),
            )
            .expect("registry config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut child = Command::new(&bin)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
            let host = format!("127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!(
                        "{bin} exited with {status}: {}",
                        std::fs::read_to_string(dir.path().join("registry.log"))
                            .unwrap_or_default()
                    );
                    break;
                }
                if http_status(&host, "/v2/").is_some_and(|s| s == 200 || s == 401) {
                    return Registry {
                        url: format!("http://{host}"),
                        host,
                        dir,
                        child,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!("{bin} did not answer on {host} within 15 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start a registry: {last_error}");
    }

    /// The registry's storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps a blob's bytes (to corrupt it in a test).
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far (access log lines included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many successful `GET`s of a blob the access log shows (200 or 206).
    pub fn blob_downloads(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest} HTTP/");
        self.log()
            .lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains(&needle))
            .filter(|l| {
                l.split("HTTP/1.1\" ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .is_some_and(|s| s == "200" || s == "206")
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of `GET path` on `host`, or `None` if it does not answer.
fn http_status(host: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&host.parse().ok()?, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = std::str::from_utf8(&buf[..n]).ok()?;
    line.split(' ').nth(1)?.parse().ok()
}
