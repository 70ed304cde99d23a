//! The node's image store: a content-addressed blob store, the unpacked layers, and an index of
//! image records, all under one directory of the kubelet's data dir.
//!
//! ```text
//! <root>/blobs/sha256/<hex>          every manifest, index, config and layer blob, by digest
//! <root>/layers/sha256/<diffid-hex>/ each layer unpacked once, shared by every image using it
//! <root>/ingest/                     downloads and unpacks in progress (emptied at open)
//! <root>/images.json                 the image records, replaced atomically (write, fsync, rename)
//! <root>/images.lock                 flock(2) held around every read-modify-write of images.json
//! <root>/gc.lock                     flock(2): shared by pulls and imports, exclusive by removals
//! ```
//!
//! Blobs are written only after their digest and size are checked, and layers only after the
//! uncompressed stream matched the config's DiffID, in both cases by renaming a finished temporary
//! into place: what is under `blobs/` and `layers/` is always whole and verified, and a crash leaves
//! at most temporaries in `ingest/` (removed at the next open) and unreferenced content (swept at the
//! next open). The index is the truth: content no record refers to is garbage.
//!
//! Removing an image deletes the blobs and layers no remaining image uses. Removal waits for pulls in
//! progress (and a pull waits for a removal), so a pull never records an image whose content a
//! concurrent removal just deleted. Whether a container still runs on an image's layers is the
//! caller's (image garbage collection's) concern.
//!
//! Blobs of a pull that failed after downloading them (a refused layer, say) stay in `blobs/` until
//! the next open, so the retry that `ImagePullBackOff` makes does not download them again.
//!
//! # More than one process
//!
//! The node agent keeps the store open while `skiff image import|build|rm` change it from another
//! process, so the index is shared through the file system, not memory:
//!
//! - every change of the index (a pull's or an import's record, a removal) takes `images.lock`
//!   exclusively, re-reads `images.json` if another process replaced it, applies the change and
//!   writes the file; two processes never lose each other's updates;
//! - [`ImageStore::get`] and [`ImageStore::list`] compare `images.json`'s inode, size and mtime with
//!   those of the version in memory (one `stat`) and re-read it when it changed, so an image imported
//!   by another process is found by the agent's next lookup;
//! - pulls and imports hold `gc.lock` shared (besides the in-process lock) and removals hold it
//!   exclusively, so a removal in one process never deletes content a pull in another is about to
//!   record; the cleanup at open (emptying `ingest/`, deleting unreferenced content) happens only if
//!   `gc.lock` can be taken exclusively at once, i.e. when no other process is pulling or importing;
//! - a removal refuses an image whose layers are the lower directories of a mounted overlay (a
//!   container's root file system, found in `/proc/self/mountinfo`): [`StoreError::InUse`]. Only
//!   layers no other image shares count; a container started between this check and the deletion
//!   is not seen (removing an image while pods using it start is the operator's race, as with
//!   `crictl rmi`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, Shared};
use k8s_openapi::api::core::v1::ContainerImage;
use serde::{Deserialize, Serialize};

use super::error::{PullError, StoreError};
use super::reference::ImageRef;

/// The most images a Node's `status.images` lists (the kubelet's `nodeStatusMaxImages` default).
pub const NODE_STATUS_MAX_IMAGES: usize = 50;

/// The most names one image has in a Node's `status.images` (the kubelet's
/// `MaxNamesPerImageInNodeStatus`).
pub const MAX_NAMES_PER_IMAGE_IN_NODE_STATUS: usize = 5;

/// An operating system and CPU architecture, as in an image index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`.
    pub architecture: String,
    /// `v8` for arm64, `v7` for arm; often absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this process runs on.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// Whether an index entry for `os`/`architecture`/`variant` can run here. An absent variant on
    /// either side matches; arm64's `v8` is its default.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let norm = |v: Option<&str>| match (architecture, v) {
            ("arm64", Some("v8")) => None,
            (_, v) => v.map(str::to_string),
        };
        let mine = norm(self.variant.as_deref());
        let theirs = norm(variant);
        self.os == os
            && self.architecture == architecture
            && (mine.is_none() || theirs.is_none() || mine == theirs)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The parts of an image config that run a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImageConfig {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, `NAME=value`.
    pub env: Vec<String>,
    /// `WorkingDir` (empty: `/`).
    pub working_dir: String,
    /// `User`: `uid`, `uid:gid`, `name` or `name:group` (empty: root).
    pub user: String,
    /// `ExposedPorts` keys: `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `StopSignal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `Volumes` keys.
    pub volumes: Vec<String>,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerRecord {
    /// The blob's digest (compressed).
    pub digest: String,
    /// The uncompressed tar's digest, naming the unpacked directory.
    pub diff_id: String,
    /// Blob size in bytes.
    pub size: u64,
    /// Blob media type.
    pub media_type: String,
}

/// An image in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// The image ID: its config's digest, as containerd's CRI reports it.
    pub id: String,
    /// Normalized `name:tag` references pointing at this image (a tag moves to the newest pull).
    pub repo_tags: Vec<String>,
    /// `name@digest` references (the digest pulled: the index's for a multi-arch image).
    pub repo_digests: Vec<String>,
    /// Digest of the platform manifest.
    pub manifest_digest: String,
    /// Digest of the index (manifest list) the manifest was chosen from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// The image's platform.
    pub platform: Platform,
    /// How to run it.
    pub config: ImageConfig,
    /// Layers, lowest first.
    pub layers: Vec<LayerRecord>,
    /// Bytes of content: manifest, config and (compressed) layers, as containerd counts it.
    pub size: u64,
}

impl ImageRecord {
    /// The names a Node's `status.images[].names` lists: repo digests, then repo tags (upstream).
    pub fn names(&self) -> Vec<String> {
        self.repo_digests
            .iter()
            .chain(&self.repo_tags)
            .cloned()
            .collect()
    }

    /// Every blob digest the record refers to.
    pub(crate) fn blob_digests(&self) -> impl Iterator<Item = &str> {
        [self.id.as_str(), self.manifest_digest.as_str()]
            .into_iter()
            .chain(self.index_digest.as_deref())
            .chain(self.layers.iter().map(|l| l.digest.as_str()))
    }
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    images: Vec<ImageRecord>,
}

/// Store-wide settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Most blob downloads at once, over all pulls (containerd's `max_concurrent_downloads`).
    pub max_concurrent_downloads: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_concurrent_downloads: 4,
        }
    }
}

pub(crate) type SharedResult = Shared<BoxFuture<'static, Result<(), PullError>>>;

/// A download in flight: its result, shared by every pull that needs the blob, and its progress.
#[derive(Clone)]
pub(crate) struct Inflight {
    pub(crate) done: SharedResult,
    pub(crate) bytes: Arc<AtomicU64>,
}

/// What a registry client is made for: one per registry, protocol and credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) registry: String,
    pub(crate) plain_http: bool,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) connect_timeout: std::time::Duration,
}

pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) images: Mutex<Vec<ImageRecord>>,
    /// Which version of images.json `images` holds (`None`: unknown, re-read at the next lookup).
    /// Locked after `images`, never before.
    index_stamp: Mutex<Option<IndexStamp>>,
    /// Serializes writes of images.json.
    pub(crate) persist_lock: tokio::sync::Mutex<()>,
    /// Pulls hold it shared, removals exclusive.
    pub(crate) gc: tokio::sync::RwLock<()>,
    /// Blob downloads in flight, by digest.
    pub(crate) blobs: Mutex<HashMap<String, Inflight>>,
    /// Layer unpacks in flight, by DiffID.
    pub(crate) unpacks: Mutex<HashMap<String, SharedResult>>,
    pub(crate) download_slots: tokio::sync::Semaphore,
    /// Registry clients, reused across pulls.
    pub(crate) clients: Mutex<HashMap<ClientKey, oci_client::Client>>,
}

/// The node's image store. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ImageStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

/// The hex part of a `sha256:<hex>` digest, checked (it becomes a file name).
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root`, with [`StoreConfig::default`].
    pub fn open(root: &Path) -> Result<ImageStore, StoreError> {
        ImageStore::open_with(root, StoreConfig::default())
    }

    /// Opens the store under `root`: loads the index, empties `ingest/`, and deletes blobs and layers
    /// that no image refers to (left by a crash mid-pull or mid-removal).
    ///
    /// Another process may have the same directory open (see the module doc): the cleanup is then
    /// skipped if that process is pulling or importing.
    pub fn open_with(root: &Path, config: StoreConfig) -> Result<ImageStore, StoreError> {
        for d in ["blobs/sha256", "layers/sha256", "ingest"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| StoreError::io("create", &p, e))?;
        }
        let cleanup = FileLock::try_exclusive(&root.join(GC_LOCK))?;
        if cleanup.is_some() {
            let ingest = root.join("ingest");
            for ent in std::fs::read_dir(&ingest).map_err(|e| StoreError::io("read", &ingest, e))? {
                let ent = ent.map_err(|e| StoreError::io("read", &ingest, e))?;
                remove_any(&ent.path())?;
            }
        }
        let (images, stamp) = read_index(root)?;
        let store = ImageStore {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                images: Mutex::new(images),
                index_stamp: Mutex::new(Some(stamp)),
                persist_lock: tokio::sync::Mutex::new(()),
                gc: tokio::sync::RwLock::new(()),
                blobs: Mutex::new(HashMap::new()),
                unpacks: Mutex::new(HashMap::new()),
                download_slots: tokio::sync::Semaphore::new(config.max_concurrent_downloads.max(1)),
                clients: Mutex::new(HashMap::new()),
            }),
        };
        if let Some(_exclusive) = cleanup {
            store.sweep()?;
        }
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where a blob lives (whether or not it is present).
    pub fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|h| self.inner.root.join("blobs/sha256").join(h))
    }

    /// Where a layer is unpacked (whether or not it is), by DiffID.
    pub fn layer_path(&self, diff_id: &str) -> Option<PathBuf> {
        sha256_hex(diff_id).map(|h| self.inner.root.join("layers/sha256").join(h))
    }

    /// The unpacked layer directories of an image, lowest first: the lower directories for
    /// [`super::overlay::mount_rootfs`].
    pub fn layer_paths(&self, image: &ImageRecord) -> Vec<PathBuf> {
        image
            .layers
            .iter()
            .filter_map(|l| self.layer_path(&l.diff_id))
            .collect()
    }

    pub(crate) fn ingest_dir(&self) -> PathBuf {
        self.inner.root.join("ingest")
    }

    /// The image a reference names: `name:tag`, `name@digest` (the index's or the manifest's), or
    /// an image ID (`sha256:<hex>`, the config digest). References are normalized first, so
    /// `busybox` finds `docker.io/library/busybox:latest`.
    ///
    /// Sees changes other processes made to the store (one `stat` of the index per call).
    pub fn get(&self, reference: &str) -> Option<ImageRecord> {
        let images = self.refreshed();
        find(&images, reference).map(|i| images[i].clone())
    }

    /// Every image (including those other processes added since the last call).
    pub fn list(&self) -> Vec<ImageRecord> {
        self.refreshed().clone()
    }

    /// The records, re-read first if another process replaced images.json. A failure to re-read
    /// keeps the records in memory (and is retried at the next call).
    fn refreshed(&self) -> std::sync::MutexGuard<'_, Vec<ImageRecord>> {
        let mut images = lock(&self.inner.images);
        if let Err(e) = self.reload_if_changed(&mut images) {
            tracing::warn!(error = %e, "re-reading the image index");
        }
        images
    }

    /// Re-reads images.json into `images` (the locked records) if it is not the version in memory.
    fn reload_if_changed(&self, images: &mut Vec<ImageRecord>) -> Result<(), StoreError> {
        let now = index_stamp(&self.inner.root.join("images.json"))?;
        if *lock(&self.inner.index_stamp) == Some(now) {
            return Ok(());
        }
        let (fresh, stamp) = read_index(&self.inner.root)?;
        *images = fresh;
        *lock(&self.inner.index_stamp) = Some(stamp);
        Ok(())
    }

    /// Applies `change` to the latest index (re-read under `images.lock` if another process
    /// changed it) and writes it if `change` says it changed anything. `change` must leave the
    /// records untouched when it fails.
    pub(crate) async fn update_index<R, F>(&self, change: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Vec<ImageRecord>) -> Result<(R, bool), StoreError> + Send + 'static,
    {
        let _g = self.inner.persist_lock.lock().await;
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.update_index_blocking(change))
            .await
            .map_err(|e| StoreError::io("write", "images.json", std::io::Error::other(e)))?
    }

    fn update_index_blocking<R>(
        &self,
        change: impl FnOnce(&mut Vec<ImageRecord>) -> Result<(R, bool), StoreError>,
    ) -> Result<R, StoreError> {
        let root = &self.inner.root;
        let _flock = FileLock::exclusive(&root.join(INDEX_LOCK))?;
        let mut images = lock(&self.inner.images);
        self.reload_if_changed(&mut images)?;
        let (result, changed) = change(&mut images)?;
        if changed {
            let bytes = serde_json::to_vec_pretty(&IndexFile {
                version: 1,
                images: images.clone(),
            })
            .expect("image records serialize");
            let written = write_atomic(root, "images.json", &bytes)
                .and_then(|()| index_stamp(&root.join("images.json")));
            match written {
                Ok(stamp) => *lock(&self.inner.index_stamp) = Some(stamp),
                Err(e) => {
                    // Memory and file may differ now: the next lookup re-reads the file.
                    *lock(&self.inner.index_stamp) = None;
                    return Err(e);
                }
            }
        }
        Ok(result)
    }

    /// Held by pulls and imports: in this process, removals wait (and wait for it); across
    /// processes, `gc.lock` shared.
    pub(crate) async fn gc_shared(
        &self,
    ) -> Result<(tokio::sync::RwLockReadGuard<'_, ()>, FileLock), StoreError> {
        let guard = self.inner.gc.read().await;
        let path = self.inner.root.join(GC_LOCK);
        let flock = tokio::task::spawn_blocking(move || FileLock::shared(&path))
            .await
            .map_err(|e| StoreError::io("lock", GC_LOCK, std::io::Error::other(e)))??;
        Ok((guard, flock))
    }

    /// Held by removals: no pull or import runs meanwhile, in this process or another.
    async fn gc_exclusive(
        &self,
    ) -> Result<(tokio::sync::RwLockWriteGuard<'_, ()>, FileLock), StoreError> {
        let guard = self.inner.gc.write().await;
        let path = self.inner.root.join(GC_LOCK);
        let flock = tokio::task::spawn_blocking(move || FileLock::exclusive(&path))
            .await
            .map_err(|e| StoreError::io("lock", GC_LOCK, std::io::Error::other(e)))??;
        Ok((guard, flock))
    }

    /// The size in bytes of the image a reference names.
    pub fn image_size(&self, reference: &str) -> Option<u64> {
        self.get(reference).map(|r| r.size)
    }

    /// What a Node's `status.images` lists, as the kubelet builds it: images largest first, at most
    /// [`NODE_STATUS_MAX_IMAGES`], each with its names (repo digests, then repo tags; at most
    /// [`MAX_NAMES_PER_IMAGE_IN_NODE_STATUS`]) and size.
    pub fn status_images(&self) -> Vec<ContainerImage> {
        let mut images = self.list();
        images.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));
        images
            .into_iter()
            .take(NODE_STATUS_MAX_IMAGES)
            .map(|r| ContainerImage {
                names: Some(
                    r.names()
                        .into_iter()
                        .take(MAX_NAMES_PER_IMAGE_IN_NODE_STATUS)
                        .collect(),
                ),
                size_bytes: Some(r.size as i64),
            })
            .collect()
    }

    /// Removes the image a reference names (all its names), then deletes the blobs and layers no
    /// other image uses. Returns the removed record, or `None` if there was no such image.
    ///
    /// Refused with [`StoreError::InUse`] while a layer that would be deleted is a lower directory
    /// of a mounted overlay (a container's root file system).
    pub async fn remove(&self, reference: &str) -> Result<Option<ImageRecord>, StoreError> {
        let _exclusive = self.gc_exclusive().await?;
        let reference = reference.to_string();
        let store = self.clone();
        let found = self
            .update_index(move |images| {
                let Some(i) = find(images, &reference) else {
                    return Ok((None, false));
                };
                let others = || {
                    images
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, r)| r)
                };
                let keep_blobs: HashSet<String> = others()
                    .flat_map(|r| r.blob_digests().map(str::to_string).collect::<Vec<_>>())
                    .collect();
                let keep_layers: HashSet<String> = others()
                    .flat_map(|r| r.layers.iter().map(|l| l.diff_id.clone()))
                    .collect();
                let doomed: Vec<PathBuf> = images[i]
                    .layers
                    .iter()
                    .filter(|l| !keep_layers.contains(&l.diff_id))
                    .filter_map(|l| store.layer_path(&l.diff_id))
                    .collect();
                if let Some(mount) = mounted_lower_dir(&doomed) {
                    let r = &images[i];
                    return Err(StoreError::InUse {
                        image: r.repo_tags.first().cloned().unwrap_or_else(|| r.id.clone()),
                        mount,
                    });
                }
                Ok((Some((images.remove(i), keep_blobs, keep_layers)), true))
            })
            .await?;
        let Some((removed, keep_blobs, keep_layers)) = found else {
            return Ok(None);
        };
        let blobs: Vec<PathBuf> = removed
            .blob_digests()
            .filter(|d| !keep_blobs.contains(*d))
            .filter_map(|d| self.blob_path(d))
            .collect();
        let layers: Vec<PathBuf> = removed
            .layers
            .iter()
            .filter(|l| !keep_layers.contains(&l.diff_id))
            .filter_map(|l| self.layer_path(&l.diff_id))
            .collect();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            for p in blobs.iter().chain(&layers) {
                remove_any(p)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::io("remove", "image content", std::io::Error::other(e)))??;
        tracing::info!(image = %removed.id, names = ?removed.names(), "image removed");
        Ok(Some(removed))
    }

    /// Adds or merges a pulled image's record (moving its tag from any other image) and persists
    /// the index if anything changed.
    pub(crate) async fn record(&self, rec: ImageRecord) -> Result<ImageRecord, StoreError> {
        self.record_changed(rec).await.map(|(merged, _)| merged)
    }

    /// [`ImageStore::record`], also telling whether the index changed.
    pub(crate) async fn record_changed(
        &self,
        mut rec: ImageRecord,
    ) -> Result<(ImageRecord, bool), StoreError> {
        self.update_index(move |images| {
            let mut changed = false;
            for other in images.iter_mut().filter(|o| o.id != rec.id) {
                let before = other.repo_tags.len();
                other.repo_tags.retain(|t| !rec.repo_tags.contains(t));
                changed |= other.repo_tags.len() != before;
            }
            let merged = match images.iter_mut().find(|o| o.id == rec.id) {
                Some(existing) => {
                    for t in rec.repo_tags.drain(..) {
                        if !existing.repo_tags.contains(&t) {
                            existing.repo_tags.push(t);
                            changed = true;
                        }
                    }
                    for d in rec.repo_digests.drain(..) {
                        if !existing.repo_digests.contains(&d) {
                            existing.repo_digests.push(d);
                            changed = true;
                        }
                    }
                    (existing.clone(), changed)
                }
                None => {
                    images.push(rec.clone());
                    (rec, true)
                }
            };
            let changed = merged.1;
            Ok((merged, changed))
        })
        .await
    }

    /// Deletes blobs and layer directories no record refers to.
    fn sweep(&self) -> Result<(), StoreError> {
        let images = lock(&self.inner.images).clone();
        let blobs: HashSet<&str> = images
            .iter()
            .flat_map(|r| r.blob_digests())
            .filter_map(sha256_hex)
            .collect();
        let layers: HashSet<&str> = images
            .iter()
            .flat_map(|r| r.layers.iter().map(|l| l.diff_id.as_str()))
            .filter_map(sha256_hex)
            .collect();
        for (dir, keep) in [("blobs/sha256", &blobs), ("layers/sha256", &layers)] {
            let dir = self.inner.root.join(dir);
            for ent in std::fs::read_dir(&dir).map_err(|e| StoreError::io("read", &dir, e))? {
                let ent = ent.map_err(|e| StoreError::io("read", &dir, e))?;
                let name = ent.file_name();
                if !keep.contains(name.to_string_lossy().as_ref()) {
                    tracing::info!(path = %ent.path().display(), "removing unreferenced image content");
                    remove_any(&ent.path())?;
                }
            }
        }
        Ok(())
    }
}

const INDEX_LOCK: &str = "images.lock";
const GC_LOCK: &str = "gc.lock";

/// Which version of images.json is meant: every write replaces the file (a new inode, size and
/// mtime), so a change is seen with one `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

/// The stamp of images.json (all zero while there is none).
fn index_stamp(path: &Path) -> Result<IndexStamp, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(IndexStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IndexStamp {
            dev: 0,
            ino: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
        }),
        Err(e) => Err(StoreError::io("stat", path, e)),
    }
}

/// Reads images.json and the stamp of what was read. The stamp is taken first: if the file is
/// replaced in between, the content is newer than the stamp and the next lookup reads it again
/// (never the reverse, which would hide the change).
fn read_index(root: &Path) -> Result<(Vec<ImageRecord>, IndexStamp), StoreError> {
    let index = root.join("images.json");
    let stamp = index_stamp(&index)?;
    let images = match std::fs::read(&index) {
        Ok(bytes) => {
            serde_json::from_slice::<IndexFile>(&bytes)
                .map_err(|e| StoreError::CorruptIndex {
                    path: index.clone(),
                    message: e.to_string(),
                })?
                .images
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io("read", &index, e)),
    };
    Ok((images, stamp))
}

/// An flock(2) on a file of the store, released when dropped (the file is closed).
pub(crate) struct FileLock(#[allow(dead_code)] std::fs::File);

impl FileLock {
    fn open(path: &Path) -> Result<std::fs::File, StoreError> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io("open", path, e))
    }

    fn take(path: &Path, op: rustix::fs::FlockOperation) -> Result<Option<FileLock>, StoreError> {
        let f = FileLock::open(path)?;
        loop {
            match rustix::fs::flock(&f, op) {
                Ok(()) => return Ok(Some(FileLock(f))),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
                Err(e) => return Err(StoreError::io("lock", path, e.into())),
            }
        }
    }

    /// Waits for the lock, exclusive.
    pub(crate) fn exclusive(path: &Path) -> Result<FileLock, StoreError> {
        FileLock::take(path, rustix::fs::FlockOperation::LockExclusive)
            .map(|l| l.expect("a blocking flock does not return EWOULDBLOCK"))
    }

    /// Waits for the lock, shared.
    pub(crate) fn shared(path: &Path) -> Result<FileLock, StoreError> {
        FileLock::take(path, rustix::fs::FlockOperation::LockShared)
            .map(|l| l.expect("a blocking flock does not return EWOULDBLOCK"))
    }

    /// The lock, exclusive, if nobody holds it now.
    fn try_exclusive(path: &Path) -> Result<Option<FileLock>, StoreError> {
        FileLock::take(path, rustix::fs::FlockOperation::NonBlockingLockExclusive)
    }
}

/// The mount point of an overlay that has one of `layers` as a lower directory, if any (from
/// `/proc/self/mountinfo`, where mount options are octal-escaped).
fn mounted_lower_dir(layers: &[PathBuf]) -> Option<PathBuf> {
    if layers.is_empty() {
        return None;
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let escape = |p: &Path| {
        let mut s = String::new();
        for c in p.to_string_lossy().chars() {
            match c {
                ' ' => s.push_str("\\040"),
                '\t' => s.push_str("\\011"),
                '\n' => s.push_str("\\012"),
                '\\' => s.push_str("\\134"),
                c => s.push(c),
            }
        }
        s
    };
    let wanted: Vec<String> = layers.iter().map(|p| escape(p)).collect();
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        if !fs.starts_with("overlay ") {
            return None;
        }
        let options = fs.splitn(3, ' ').nth(2)?;
        // A layer path ends at a separator: `:` (lowerdir=a:b), `,` (next option) or the end.
        let hit = wanted.iter().any(|w| {
            options.match_indices(w.as_str()).any(|(at, _)| {
                matches!(
                    options[at + w.len()..].chars().next(),
                    None | Some(':' | ',')
                )
            })
        });
        hit.then(|| PathBuf::from(mount.split(' ').nth(4).unwrap_or("?")))
    })
}

/// Index of the record a reference names.
fn find(images: &[ImageRecord], reference: &str) -> Option<usize> {
    if sha256_hex(reference).is_some() {
        return images.iter().position(|r| r.id == reference);
    }
    let r = ImageRef::parse(reference).ok()?;
    match r.digest() {
        Some(d) => {
            let name = r.name();
            images.iter().position(|rec| {
                let has_name = rec.repo_digests.iter().chain(&rec.repo_tags).any(|n| {
                    n.strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with(['@', ':']))
                });
                has_name
                    && (rec.manifest_digest == d
                        || rec.index_digest.as_deref() == Some(d)
                        || rec.repo_digests.contains(&r.to_string()))
            })
        }
        None => {
            let want = r.to_string();
            images.iter().position(|rec| rec.repo_tags.contains(&want))
        }
    }
}

/// Removes a file, a symlink or a whole directory tree; missing is fine.
pub(crate) fn remove_any(path: &Path) -> Result<(), StoreError> {
    let res = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    match res {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError::io("remove", path, e))
        }
        _ => Ok(()),
    }
}

/// Writes `dir/name` atomically and durably.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dst = dir.join(name);
    let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io("write", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &dst).map_err(|e| StoreError::io("rename", &dst, e))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_matching() {
        let amd = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        };
        assert!(amd.matches("linux", "amd64", None));
        assert!(amd.matches("linux", "amd64", Some("v3")));
        assert!(!amd.matches("linux", "arm64", None));
        assert!(!amd.matches("windows", "amd64", None));
        let arm = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: Some("v8".into()),
        };
        assert!(arm.matches("linux", "arm64", None));
        assert!(arm.matches("linux", "arm64", Some("v8")));
        let arm7 = Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: Some("v7".into()),
        };
        assert!(!arm7.matches("linux", "arm", Some("v6")));
        assert!(Platform::host().matches(
            &Platform::host().os,
            &Platform::host().architecture,
            None
        ));
    }

    fn record(i: usize, size: u64) -> ImageRecord {
        let digest = |tag: &str| format!("sha256:{:064x}", i * 16 + tag.len());
        ImageRecord {
            id: digest("id"),
            repo_tags: (0..4).map(|t| format!("example.com/img{i}:t{t}")).collect(),
            repo_digests: (0..3)
                .map(|d| format!("example.com/img{i}@{}", digest(&"m".repeat(d + 3))))
                .collect(),
            manifest_digest: digest("manifest"),
            index_digest: None,
            platform: Platform::host(),
            config: ImageConfig::default(),
            layers: Vec::new(),
            size,
        }
    }

    #[tokio::test]
    async fn status_images_as_the_kubelet_reports_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        for i in 0..60 {
            store
                .record(record(i, (i as u64 * 7919) % 1000))
                .await
                .unwrap();
        }
        let status = store.status_images();
        assert_eq!(status.len(), NODE_STATUS_MAX_IMAGES);
        let sizes: Vec<i64> = status.iter().map(|c| c.size_bytes.unwrap()).collect();
        assert!(
            sizes.windows(2).all(|w| w[0] >= w[1]),
            "largest first: {sizes:?}"
        );
        for c in &status {
            let names = c.names.as_ref().unwrap();
            assert_eq!(names.len(), MAX_NAMES_PER_IMAGE_IN_NODE_STATUS);
            assert!(names[0].contains('@') && names[2].contains('@') && names[3].contains(':'));
        }
    }

    #[tokio::test]
    async fn a_tag_moves_to_the_newest_image() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let mut a = record(1, 10);
        a.repo_tags = vec!["example.com/app:v1".into()];
        let mut b = record(2, 20);
        b.repo_tags = vec!["example.com/app:v1".into()];
        store.record(a.clone()).await.unwrap();
        store.record(b.clone()).await.unwrap();
        assert_eq!(store.get("example.com/app:v1").unwrap().id, b.id);
        let old = store.get(&a.id).unwrap();
        assert!(old.repo_tags.is_empty(), "still reachable by ID and digest");
        assert_eq!(store.get(&a.repo_digests[0]).unwrap().id, a.id);
        drop(store);
        let reopened = ImageStore::open(dir.path()).unwrap();
        assert_eq!(reopened.get("example.com/app:v1").unwrap().id, b.id);
    }

    #[test]
    fn digests_are_checked_before_becoming_paths() {
        assert!(sha256_hex(&format!("sha256:{}", "a".repeat(64))).is_some());
        assert!(sha256_hex("sha256:../../etc/passwd").is_none());
        assert!(sha256_hex(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(sha256_hex(&format!("sha512:{}", "a".repeat(64))).is_none());
    }
}
