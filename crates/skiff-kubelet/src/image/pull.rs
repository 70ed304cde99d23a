//! Pulling an image into the store with `oci-client`.
//!
//! One pull: resolve the reference to a manifest (choosing this platform's entry of a multi-arch
//! index), fetch the config, then download every layer in parallel and unpack each as soon as it is
//! complete. Manifests are checked against the digest they were asked by (oci-client), blobs are
//! hashed while they are written and renamed into the store only when digest and size match.
//!
//! - **One download per digest.** A blob being downloaded is a shared future in the store: any
//!   number of concurrent pulls that need it wait on the same download (and see its progress), and
//!   the same holds for unpacking a layer (by DiffID). The download runs in its own task, so a pull
//!   that gives up does not abort it for the others.
//! - **Stalls.** A download that receives no bytes for [`PullOptions::stall_timeout`] is dropped and
//!   resumed from where it stopped with an HTTP range request (restarted if the registry ignores the
//!   range), at most [`PullOptions::retries`] times; so are broken connections.
//! - **Progress.** [`PullOptions::progress`] is called every [`PullOptions::progress_interval`] with
//!   the bytes done, the total, and the bytes actually downloaded, for `Pulling` events with a rate.
//! - **Errors** come back as [`PullError`] with a [`PullErrorKind`]: not found,
//!   unauthorized, network, digest mismatch, ...
//!
//! Registries are reached over HTTPS, except loopback hosts and [`PullOptions::insecure_registries`],
//! which are plain HTTP.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol};
use oci_client::manifest::{self as m, OciDescriptor, OciImageIndex, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::auth::Credentials;
use super::error::{PullError, PullErrorKind, StoreError};
use super::reference::ImageRef;
use super::store::{
    remove_any, sha256_hex, sync_dir, ClientKey, ImageConfig, ImageRecord, ImageStore, Inflight,
    LayerRecord, Platform,
};
use super::unpack;

/// Called with a pull's progress.
pub type ProgressFn = Arc<dyn Fn(&PullProgress) + Send + Sync>;

/// How far a pull is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PullProgress {
    /// Bytes of config and layer blobs the image needs.
    pub total_bytes: u64,
    /// Bytes of those present so far (already stored, or downloaded).
    pub done_bytes: u64,
    /// Bytes downloaded from the registry so far by the downloads this pull waits on (for a rate).
    pub downloaded_bytes: u64,
    /// Time since the pull started.
    pub elapsed: Duration,
}

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// Credentials for the image's registry (see [`super::parse_docker_config_json`]).
    pub credentials: Option<Credentials>,
    /// Registries (`host:port` or `host`) reached over plain HTTP; loopback always is.
    pub insecure_registries: Vec<String>,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
    /// How often `progress` is called while the pull runs (and once at the end).
    pub progress_interval: Duration,
    /// A download that receives nothing for this long is considered stalled and resumed.
    pub stall_timeout: Duration,
    /// How many times one blob's download is resumed after a stall or a network error.
    pub retries: u32,
    /// Pause before resuming after a network error.
    pub retry_delay: Duration,
    /// Timeout for connecting to the registry.
    pub connect_timeout: Duration,
    /// The platform to choose from a multi-arch index.
    pub platform: Platform,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            credentials: None,
            insecure_registries: Vec::new(),
            progress: None,
            progress_interval: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(60),
            retries: 3,
            retry_delay: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(30),
            platform: Platform::host(),
        }
    }
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("credentials", &self.credentials)
            .field("insecure_registries", &self.insecure_registries)
            .field("progress", &self.progress.as_ref().map(|_| "<fn>"))
            .field("progress_interval", &self.progress_interval)
            .field("stall_timeout", &self.stall_timeout)
            .field("retries", &self.retries)
            .field("platform", &self.platform)
            .finish()
    }
}

/// A container's `imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Resolve the reference at the registry every time (cached layers are still reused).
    Always,
    /// Pull only if no image has the name.
    IfNotPresent,
    /// Never pull; fail with `ErrImageNeverPull` if absent.
    Never,
}

impl PullPolicy {
    /// The policy for a container: the given one, or the API default (`Always` for `:latest` or
    /// no tag, `IfNotPresent` otherwise).
    pub fn for_container(policy: Option<&str>, image: &str) -> PullPolicy {
        match policy {
            Some("Always") => PullPolicy::Always,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            Some("Never") => PullPolicy::Never,
            _ => match ImageRef::parse(image) {
                Ok(r) if r.digest().is_none() && r.tag() == Some("latest") => PullPolicy::Always,
                Ok(_) => PullPolicy::IfNotPresent,
                Err(_) => PullPolicy::Always,
            },
        }
    }
}

const ACCEPT: &[&str] = &[
    m::OCI_IMAGE_INDEX_MEDIA_TYPE,
    m::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    m::OCI_IMAGE_MEDIA_TYPE,
    m::IMAGE_MANIFEST_MEDIA_TYPE,
];

const LAYER_TYPES: &[&str] = &[
    m::IMAGE_LAYER_MEDIA_TYPE,
    m::IMAGE_LAYER_GZIP_MEDIA_TYPE,
    m::IMAGE_DOCKER_LAYER_TAR_MEDIA_TYPE,
    m::IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
    m::IMAGE_LAYER_NONDISTRIBUTABLE_MEDIA_TYPE,
    m::IMAGE_LAYER_NONDISTRIBUTABLE_GZIP_MEDIA_TYPE,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

const CONFIG_TYPES: &[&str] = &[
    m::IMAGE_CONFIG_MEDIA_TYPE,
    m::IMAGE_DOCKER_CONFIG_MEDIA_TYPE,
];

/// The bits of a download's options its (shared) task needs.
#[derive(Clone)]
struct DownloadOptions {
    stall_timeout: Duration,
    retries: u32,
    retry_delay: Duration,
}

/// Sums the progress of the blobs one pull waits on.
struct Tracker {
    started: Instant,
    total: u64,
    parts: Mutex<Vec<(Arc<AtomicU64>, bool)>>,
}

impl Tracker {
    fn add(&self, bytes: Arc<AtomicU64>, downloading: bool) {
        self.parts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((bytes, downloading));
    }

    fn snapshot(&self) -> PullProgress {
        let parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        let mut p = PullProgress {
            total_bytes: self.total,
            elapsed: self.started.elapsed(),
            ..PullProgress::default()
        };
        for (bytes, downloading) in parts.iter() {
            let b = bytes.load(Ordering::Relaxed);
            p.done_bytes += b;
            if *downloading {
                p.downloaded_bytes += b;
            }
        }
        p.done_bytes = p.done_bytes.min(p.total_bytes);
        p
    }
}

enum TopLevel {
    Index(OciImageIndex),
    Manifest(Box<OciImageManifest>),
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
}

fn parse_manifest(bytes: &[u8], shown: &str) -> Result<TopLevel, PullError> {
    let unsupported = |message: String| PullError::Unsupported {
        reference: shown.to_string(),
        message,
    };
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| unsupported(format!("manifest: {e}")))?;
    let is_index = match probe.media_type.as_deref() {
        Some(m::OCI_IMAGE_INDEX_MEDIA_TYPE | m::IMAGE_MANIFEST_LIST_MEDIA_TYPE) => true,
        Some(m::OCI_IMAGE_MEDIA_TYPE | m::IMAGE_MANIFEST_MEDIA_TYPE) => false,
        Some(other) => return Err(unsupported(format!("manifest media type {other}"))),
        None => probe.manifests.is_some(),
    };
    if is_index {
        serde_json::from_slice(bytes)
            .map(TopLevel::Index)
            .map_err(|e| unsupported(format!("image index: {e}")))
    } else {
        serde_json::from_slice(bytes)
            .map(|mf| TopLevel::Manifest(Box::new(mf)))
            .map_err(|e| unsupported(format!("image manifest: {e}")))
    }
}

/// The parts of an image config we read (pulls and archive imports); lenient: docker-era configs
/// have nulls everywhere.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawConfig {
    pub(crate) architecture: Option<String>,
    pub(crate) os: Option<String>,
    pub(crate) variant: Option<String>,
    pub(crate) config: Option<RawExec>,
    pub(crate) rootfs: Option<RawRootfs>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct RawExec {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
    exposed_ports: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    labels: Option<std::collections::BTreeMap<String, String>>,
    stop_signal: Option<String>,
    volumes: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl RawExec {
    /// What the store keeps of it.
    pub(crate) fn into_image_config(self) -> ImageConfig {
        ImageConfig {
            entrypoint: self.entrypoint.unwrap_or_default(),
            cmd: self.cmd.unwrap_or_default(),
            env: self.env.unwrap_or_default(),
            working_dir: self.working_dir.unwrap_or_default(),
            user: self.user.unwrap_or_default(),
            exposed_ports: self.exposed_ports.unwrap_or_default().into_keys().collect(),
            labels: self.labels.unwrap_or_default(),
            stop_signal: self.stop_signal.filter(|s| !s.is_empty()),
            volumes: self.volumes.unwrap_or_default().into_keys().collect(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawRootfs {
    pub(crate) diff_ids: Vec<String>,
}

fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn descriptor_size(d: &OciDescriptor) -> u64 {
    u64::try_from(d.size).unwrap_or(0)
}

impl ImageStore {
    /// Pulls `reference` (any form `docker pull` takes) into the store and records it; content
    /// already present (blobs, unpacked layers) is reused, the registry is always asked for the
    /// manifest. Returns the image's record.
    pub async fn pull(
        &self,
        reference: &str,
        opts: &PullOptions,
    ) -> Result<ImageRecord, PullError> {
        let r = ImageRef::parse(reference)?;
        let shown = r.to_string();
        let started = Instant::now();
        let _pulling = self.gc_shared().await?;

        let client = self.client(&r, opts, &shown)?;
        let oref = r.to_oci();
        let auth = match &opts.credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };

        let (top_bytes, top_digest) = timed(
            opts.stall_timeout,
            &shown,
            client.pull_manifest_raw(&oref, &auth, ACCEPT),
        )
        .await?;
        let (manifest, manifest_bytes, manifest_digest, index) =
            match parse_manifest(&top_bytes, &shown)? {
                TopLevel::Manifest(mf) => (mf, top_bytes, top_digest, None),
                TopLevel::Index(idx) => {
                    let entry = select_platform(&idx, &opts.platform).ok_or_else(|| {
                        PullError::NotFound {
                            reference: shown.clone(),
                            message: format!(
                                "no image for platform {} in the index (it has {})",
                                opts.platform,
                                idx.manifests
                                    .iter()
                                    .filter_map(|e| e.platform.as_ref())
                                    .map(|p| format!("{}/{}", p.os, p.architecture))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    })?;
                    let mref = oref.clone_with_digest(entry.clone());
                    let (bytes, digest) = timed(
                        opts.stall_timeout,
                        &shown,
                        client.pull_manifest_raw(&mref, &auth, ACCEPT),
                    )
                    .await?;
                    match parse_manifest(&bytes, &shown)? {
                        TopLevel::Manifest(mf) => {
                            (mf, bytes, digest, Some((top_digest, top_bytes)))
                        }
                        TopLevel::Index(_) => {
                            return Err(PullError::Unsupported {
                                reference: shown,
                                message: "an index inside an index".into(),
                            })
                        }
                    }
                }
            };
        let index_digest = index.as_ref().map(|(d, _)| d.clone());

        // Check what we can before downloading anything.
        let unsupported = |message: String| PullError::Unsupported {
            reference: shown.clone(),
            message,
        };
        if !CONFIG_TYPES.contains(&manifest.config.media_type.as_str()) {
            return Err(unsupported(format!(
                "config media type {} (not a container image)",
                manifest.config.media_type
            )));
        }
        for l in &manifest.layers {
            if !LAYER_TYPES.contains(&l.media_type.as_str()) {
                return Err(unsupported(format!("layer media type {}", l.media_type)));
            }
        }
        for d in std::iter::once(&manifest.config.digest)
            .chain(manifest.layers.iter().map(|l| &l.digest))
        {
            if sha256_hex(d).is_none() {
                return Err(unsupported(format!(
                    "digest {d:?} (only sha256 is supported)"
                )));
            }
        }
        self.put_blob(&manifest_digest, &manifest_bytes).await?;
        if let Some((d, bytes)) = &index {
            self.put_blob(d, bytes).await?;
        }

        let tracker = Tracker {
            started,
            total: descriptor_size(&manifest.config)
                + manifest.layers.iter().map(descriptor_size).sum::<u64>(),
            parts: Mutex::new(Vec::new()),
        };
        let dl = DownloadOptions {
            stall_timeout: opts.stall_timeout,
            retries: opts.retries,
            retry_delay: opts.retry_delay,
        };
        let content = async {
            self.ensure_blob(&client, &oref, &manifest.config, &shown, &dl, &tracker)
                .await?;
            let config_path = self.blob_path(&manifest.config.digest).expect("checked");
            let config_bytes = tokio::fs::read(&config_path)
                .await
                .map_err(|e| StoreError::io("read", &config_path, e))?;
            let raw: RawConfig = serde_json::from_slice(&config_bytes)
                .map_err(|e| unsupported(format!("image config: {e}")))?;
            let diff_ids = raw
                .rootfs
                .as_ref()
                .map(|r| r.diff_ids.clone())
                .unwrap_or_default();
            if diff_ids.len() != manifest.layers.len() {
                return Err(unsupported(format!(
                    "config lists {} diff_ids for {} layers",
                    diff_ids.len(),
                    manifest.layers.len()
                )));
            }
            if let Some(bad) = diff_ids.iter().find(|d| sha256_hex(d).is_none()) {
                return Err(unsupported(format!("diff_id {bad:?}")));
            }
            let layers = manifest
                .layers
                .iter()
                .zip(&diff_ids)
                .map(|(desc, diff_id)| {
                    let (client, oref, shown, dl, tracker) =
                        (&client, &oref, &shown, &dl, &tracker);
                    async move {
                        self.ensure_blob(client, oref, desc, shown, dl, tracker)
                            .await?;
                        self.ensure_unpacked(desc, diff_id, shown).await
                    }
                });
            futures::future::try_join_all(layers).await?;
            Ok::<_, PullError>((raw, diff_ids))
        };
        let (raw, diff_ids) = with_progress(content, &tracker, opts).await?;

        let exec = raw.config.unwrap_or_default();
        let record = ImageRecord {
            id: manifest.config.digest.clone(),
            repo_tags: r.tag().map(|_| vec![shown.clone()]).unwrap_or_default(),
            repo_digests: vec![r.with_digest(index_digest.as_deref().unwrap_or(&manifest_digest))],
            manifest_digest: manifest_digest.clone(),
            index_digest,
            platform: Platform {
                os: raw.os.unwrap_or_else(|| "linux".into()),
                architecture: raw.architecture.unwrap_or_default(),
                variant: raw.variant,
            },
            config: exec.into_image_config(),
            layers: manifest
                .layers
                .iter()
                .zip(diff_ids)
                .map(|(l, diff_id)| LayerRecord {
                    digest: l.digest.clone(),
                    diff_id,
                    size: descriptor_size(l),
                    media_type: l.media_type.clone(),
                })
                .collect(),
            size: manifest_bytes.len() as u64
                + descriptor_size(&manifest.config)
                + manifest.layers.iter().map(descriptor_size).sum::<u64>(),
        };
        let record = self.record(record).await?;
        let p = tracker.snapshot();
        tracing::info!(
            image = %shown,
            id = %record.id,
            size = record.size,
            downloaded = p.downloaded_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "image pulled"
        );
        Ok(record)
    }

    /// Applies a pull policy: returns the image and whether it was pulled.
    pub async fn ensure(
        &self,
        reference: &str,
        policy: PullPolicy,
        opts: &PullOptions,
    ) -> Result<(ImageRecord, bool), PullError> {
        ImageRef::parse(reference)?;
        match (policy, self.get(reference)) {
            (PullPolicy::Always, _) | (PullPolicy::IfNotPresent, None) => {
                self.pull(reference, opts).await.map(|r| (r, true))
            }
            (_, Some(r)) => Ok((r, false)),
            (PullPolicy::Never, None) => Err(PullError::NeverPull {
                reference: reference.to_string(),
            }),
        }
    }

    /// The registry client for this reference and these options, made once and reused (it keeps
    /// connections and tokens; making one costs milliseconds, mostly loading TLS roots).
    fn client(&self, r: &ImageRef, opts: &PullOptions, shown: &str) -> Result<Client, PullError> {
        let plain_http = r.is_loopback()
            || opts
                .insecure_registries
                .iter()
                .any(|h| h == r.registry() || h == r.host());
        let key = ClientKey {
            registry: r.registry().to_string(),
            plain_http,
            credentials: opts
                .credentials
                .as_ref()
                .map(|c| (c.username.clone(), c.password.clone())),
            connect_timeout: opts.connect_timeout,
        };
        let mut clients = self.inner.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        install_crypto_provider();
        let config = ClientConfig {
            protocol: if plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            platform_resolver: None,
            connect_timeout: Some(opts.connect_timeout),
            user_agent: concat!("skiff-kubelet/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| PullError::from_oci(shown, e))?;
        if clients.len() >= 64 {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// Stores a small blob already verified (a manifest) if absent.
    async fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), PullError> {
        let Some(path) = self.blob_path(digest) else {
            return Err(PullError::Unsupported {
                reference: String::new(),
                message: format!("digest {digest:?} (only sha256 is supported)"),
            });
        };
        if path.exists() {
            return Ok(());
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = self.ingest_dir().join(format!(
            "{}.{}.manifest",
            sha256_hex(digest).expect("checked"),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let mut f =
                std::fs::File::create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
            std::io::Write::write_all(&mut f, &bytes)
                .and_then(|()| f.sync_all())
                .map_err(|e| StoreError::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename", &path, e))
        })
        .await
        .map_err(|e| StoreError::io("write", "manifest", std::io::Error::other(e)))??;
        Ok(())
    }

    /// Makes sure a blob is in the store: present, or downloaded once however many pulls ask.
    async fn ensure_blob(
        &self,
        client: &Client,
        oref: &Reference,
        desc: &OciDescriptor,
        shown: &str,
        dl: &DownloadOptions,
        tracker: &Tracker,
    ) -> Result<(), PullError> {
        let path = self.blob_path(&desc.digest).expect("digest checked");
        let inflight = {
            let mut map = self.inner.blobs.lock().unwrap_or_else(|p| p.into_inner());
            if path.exists() {
                tracker.add(Arc::new(AtomicU64::new(descriptor_size(desc))), false);
                return Ok(());
            }
            match map.get(&desc.digest) {
                Some(i) => i.clone(),
                None => {
                    let bytes = Arc::new(AtomicU64::new(0));
                    let (store, client, oref, desc2, shown2, dl2, bytes2) = (
                        self.clone(),
                        client.clone(),
                        oref.clone(),
                        desc.clone(),
                        shown.to_string(),
                        dl.clone(),
                        bytes.clone(),
                    );
                    let task = tokio::spawn(async move {
                        let res = store
                            .download(&client, &oref, &desc2, &shown2, &dl2, &bytes2)
                            .await;
                        store
                            .inner
                            .blobs
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&desc2.digest);
                        res
                    });
                    let shown3 = shown.to_string();
                    let done = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(PullError::Network {
                                reference: shown3,
                                message: format!("download task failed: {e}"),
                            })
                        })
                    }
                    .boxed()
                    .shared();
                    let inflight = Inflight { done, bytes };
                    map.insert(desc.digest.clone(), inflight.clone());
                    inflight
                }
            }
        };
        tracker.add(inflight.bytes.clone(), true);
        inflight.done.await
    }

    /// Downloads one blob into `ingest/`, verifies it, and renames it into `blobs/`.
    async fn download(
        &self,
        client: &Client,
        oref: &Reference,
        desc: &OciDescriptor,
        shown: &str,
        dl: &DownloadOptions,
        bytes: &AtomicU64,
    ) -> Result<(), PullError> {
        let _slot = self
            .inner
            .download_slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let hex = sha256_hex(&desc.digest).expect("digest checked");
        let partial = self.ingest_dir().join(format!("{hex}.partial"));
        let res = self
            .download_to(&partial, client, oref, desc, shown, dl, bytes)
            .await;
        if let Err(e) = res {
            let _ = tokio::fs::remove_file(&partial).await;
            tracing::warn!(image = %shown, digest = %desc.digest, error = %e, "blob download failed");
            return Err(e);
        }
        let dest = self.blob_path(&desc.digest).expect("digest checked");
        tokio::fs::rename(&partial, &dest)
            .await
            .map_err(|e| StoreError::io("rename", &dest, e))?;
        let blobs_dir = dest.parent().expect("under blobs/sha256").to_path_buf();
        tokio::task::spawn_blocking(move || sync_dir(&blobs_dir))
            .await
            .map_err(|e| StoreError::io("fsync", "blobs", std::io::Error::other(e)))??;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_to(
        &self,
        partial: &Path,
        client: &Client,
        oref: &Reference,
        desc: &OciDescriptor,
        shown: &str,
        dl: &DownloadOptions,
        bytes: &AtomicU64,
    ) -> Result<(), PullError> {
        let storage = |e: std::io::Error| PullError::from(StoreError::io("write", partial, e));
        let mut file = tokio::fs::File::create(partial).await.map_err(storage)?;
        let expected_size = u64::try_from(desc.size).ok().filter(|s| *s > 0);
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut failures: u32 = 0;
        'attempts: loop {
            let request = async {
                if written == 0 {
                    client
                        .pull_blob_stream(oref, desc)
                        .await
                        .map(BlobResponse::Full)
                } else {
                    client
                        .pull_blob_stream_partial(oref, desc, written, None)
                        .await
                }
            };
            // A registry that accepts the request but never answers is a stall too.
            let opened = match tokio::time::timeout(dl.stall_timeout, request).await {
                Ok(r) => r.map_err(|e| PullError::from_oci(shown, e)),
                Err(_) => Err(PullError::Network {
                    reference: shown.to_string(),
                    message: format!(
                        "download of {} stalled: no response within {:?}",
                        desc.digest, dl.stall_timeout
                    ),
                }),
            };
            let mut stream = match opened {
                Ok(BlobResponse::Partial(s)) => s.stream,
                Ok(BlobResponse::Full(s)) => {
                    if written > 0 {
                        // The registry ignored the range: start over.
                        file.set_len(0).await.map_err(storage)?;
                        file.seek(std::io::SeekFrom::Start(0))
                            .await
                            .map_err(storage)?;
                        hasher = Sha256::new();
                        written = 0;
                        bytes.store(0, Ordering::Relaxed);
                    }
                    s.stream
                }
                Err(err) => {
                    if err.kind() == PullErrorKind::Network && failures < dl.retries {
                        failures += 1;
                        tracing::warn!(image = %shown, digest = %desc.digest, error = %err, attempt = failures, "retrying blob download");
                        tokio::time::sleep(dl.retry_delay).await;
                        continue;
                    }
                    return Err(err);
                }
            };
            loop {
                match tokio::time::timeout(dl.stall_timeout, stream.next()).await {
                    Ok(Some(Ok(chunk))) => {
                        hasher.update(&chunk);
                        file.write_all(&chunk).await.map_err(storage)?;
                        written += chunk.len() as u64;
                        bytes.store(written, Ordering::Relaxed);
                        if expected_size.is_some_and(|s| written > s) {
                            return Err(PullError::DigestMismatch {
                                reference: shown.to_string(),
                                expected: format!("{} ({} bytes)", desc.digest, desc.size),
                                actual: format!("more than {} bytes", desc.size),
                            });
                        }
                    }
                    Ok(None) => break 'attempts,
                    Ok(Some(Err(e))) => {
                        let err = PullError::from_io(shown, e);
                        if err.kind() == PullErrorKind::Network && failures < dl.retries {
                            failures += 1;
                            tracing::warn!(image = %shown, digest = %desc.digest, error = %err, resume_at = written, "blob download interrupted; resuming");
                            tokio::time::sleep(dl.retry_delay).await;
                            continue 'attempts;
                        }
                        return Err(err);
                    }
                    Err(_) => {
                        if failures < dl.retries {
                            failures += 1;
                            tracing::warn!(image = %shown, digest = %desc.digest, resume_at = written, stall_timeout = ?dl.stall_timeout, "blob download stalled; resuming");
                            continue 'attempts;
                        }
                        return Err(PullError::Network {
                            reference: shown.to_string(),
                            message: format!(
                                "download of {} stalled: no data for {:?} at {written} of {} bytes, after {} attempts",
                                desc.digest,
                                dl.stall_timeout,
                                desc.size,
                                failures + 1
                            ),
                        });
                    }
                }
            }
        }
        file.flush().await.map_err(storage)?;
        file.sync_all().await.map_err(storage)?;
        if let Some(s) = expected_size {
            if written != s {
                return Err(PullError::DigestMismatch {
                    reference: shown.to_string(),
                    expected: format!("{} ({s} bytes)", desc.digest),
                    actual: format!("{written} bytes"),
                });
            }
        }
        let actual = format!("sha256:{:x}", hasher.finalize());
        if actual != desc.digest {
            return Err(PullError::DigestMismatch {
                reference: shown.to_string(),
                expected: desc.digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Makes sure a layer is unpacked: present, or unpacked once however many pulls ask.
    async fn ensure_unpacked(
        &self,
        desc: &OciDescriptor,
        diff_id: &str,
        shown: &str,
    ) -> Result<(), PullError> {
        let dir = self.layer_path(diff_id).expect("diff_id checked");
        let done = {
            let mut map = self.inner.unpacks.lock().unwrap_or_else(|p| p.into_inner());
            if dir.exists() {
                return Ok(());
            }
            match map.get(diff_id) {
                Some(f) => f.clone(),
                None => {
                    let (store, blob, diff, digest, shown2) = (
                        self.clone(),
                        self.blob_path(&desc.digest).expect("digest checked"),
                        diff_id.to_string(),
                        desc.digest.clone(),
                        shown.to_string(),
                    );
                    let task = tokio::task::spawn_blocking(move || {
                        let res = store.unpack_blocking(&blob, &diff, &dir, &digest, &shown2);
                        store
                            .inner
                            .unpacks
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&diff);
                        res
                    });
                    let shown3 = shown.to_string();
                    let f = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(PullError::Layer {
                                reference: shown3,
                                digest: String::new(),
                                message: format!("unpack task failed: {e}"),
                            })
                        })
                    }
                    .boxed()
                    .shared();
                    map.insert(diff_id.to_string(), f.clone());
                    f
                }
            }
        };
        done.await
    }

    fn unpack_blocking(
        &self,
        blob: &Path,
        diff_id: &str,
        dir: &PathBuf,
        digest: &str,
        shown: &str,
    ) -> Result<(), PullError> {
        let started = Instant::now();
        let tmp = self
            .ingest_dir()
            .join(format!("unpack-{}", sha256_hex(diff_id).expect("checked")));
        remove_any(&tmp)?;
        let file = std::fs::File::open(blob).map_err(|e| StoreError::io("open", blob, e))?;
        let stats = match unpack::unpack_layer(file, &tmp) {
            Ok(s) => s,
            Err(e) => {
                let _ = remove_any(&tmp);
                tracing::warn!(image = %shown, layer = %digest, error = %e, "layer refused");
                return Err(PullError::Layer {
                    reference: shown.to_string(),
                    digest: digest.to_string(),
                    message: e.to_string(),
                });
            }
        };
        if stats.diff_id != diff_id {
            let _ = remove_any(&tmp);
            return Err(PullError::DigestMismatch {
                reference: shown.to_string(),
                expected: format!("{diff_id} (DiffID of {digest})"),
                actual: stats.diff_id,
            });
        }
        std::fs::rename(&tmp, dir).map_err(|e| StoreError::io("rename", dir, e))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        tracing::debug!(layer = %digest, entries = stats.entries, bytes = stats.file_bytes, elapsed_ms = started.elapsed().as_millis() as u64, "layer unpacked");
        Ok(())
    }
}

/// This platform's entry of an index (skipping attestation manifests, `unknown/unknown`).
fn select_platform(index: &OciImageIndex, platform: &Platform) -> Option<String> {
    let candidates: Vec<_> = index
        .manifests
        .iter()
        .filter(|e| {
            e.media_type != m::OCI_IMAGE_INDEX_MEDIA_TYPE
                && e.media_type != m::IMAGE_MANIFEST_LIST_MEDIA_TYPE
        })
        .filter_map(|e| e.platform.as_ref().map(|p| (e, p)))
        .filter(|(_, p)| {
            platform.matches(
                &p.os.to_string(),
                &p.architecture.to_string(),
                p.variant.as_deref(),
            )
        })
        .collect();
    // An exact variant match wins over an entry without variant.
    candidates
        .iter()
        .find(|(_, p)| p.variant.is_some() && p.variant == platform.variant)
        .or_else(|| candidates.first())
        .map(|(e, _)| e.digest.clone())
}

/// A registry request that must answer within `limit`.
async fn timed<T>(
    limit: Duration,
    shown: &str,
    request: impl std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
) -> Result<T, PullError> {
    match tokio::time::timeout(limit, request).await {
        Ok(r) => r.map_err(|e| PullError::from_oci(shown, e)),
        Err(_) => Err(PullError::Network {
            reference: shown.to_string(),
            message: format!("the registry did not answer within {limit:?}"),
        }),
    }
}

/// Runs `fut`, calling the progress callback every interval and once at the end.
async fn with_progress<F: std::future::Future>(
    fut: F,
    tracker: &Tracker,
    opts: &PullOptions,
) -> F::Output {
    let Some(cb) = &opts.progress else {
        return fut.await;
    };
    let mut fut = std::pin::pin!(fut);
    let mut tick = tokio::time::interval(opts.progress_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut fut => {
                cb(&tracker.snapshot());
                return out;
            }
            _ = tick.tick() => cb(&tracker.snapshot()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pull_policy_follows_the_api() {
        use PullPolicy::*;
        assert_eq!(PullPolicy::for_container(None, "busybox"), Always);
        assert_eq!(PullPolicy::for_container(None, "busybox:latest"), Always);
        assert_eq!(
            PullPolicy::for_container(None, "busybox:1.36"),
            IfNotPresent
        );
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(PullPolicy::for_container(None, &d), IfNotPresent);
        assert_eq!(PullPolicy::for_container(Some("Never"), "busybox"), Never);
    }

    #[test]
    fn manifests_are_told_apart() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(parse_manifest(idx, "x"), Ok(TopLevel::Index(_))));
        let mf = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":1},"layers":[]}"#;
        assert!(matches!(parse_manifest(mf, "x"), Ok(TopLevel::Manifest(_))));
        let other = br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"}"#;
        assert!(matches!(
            parse_manifest(other, "x"),
            Err(PullError::Unsupported { .. })
        ));
    }
}
