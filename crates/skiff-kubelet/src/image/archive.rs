//! Images without a registry: importing image archives into the store (`skiff image import`), as
//! k3s does for air-gapped nodes.
//!
//! Two archive kinds, told apart by their contents (either may be gzip-compressed as a whole):
//!
//! - an **OCI image layout** in a tar (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), as
//!   `skopeo copy ... oci-archive:FILE:name` and `docker save` (25+) write it. Names come from the
//!   `io.containerd.image.name` or `org.opencontainers.image.ref.name` annotations of `index.json`
//!   (a bare tag there names nothing: use `--tag`); an entry that is itself an index (multi-arch)
//!   contributes this platform's manifest, as a pull does;
//! - a **docker-archive** (`manifest.json` with `Config`, `RepoTags`, `Layers`), as `docker save`
//!   and `skopeo copy ... docker-archive:` write it. Its layers are usually uncompressed tars: they
//!   are stored as they are (blob digest = DiffID, media type `...layer.v1.tar`), and an OCI
//!   manifest is made for them, deterministically, so the same archive always gives the same image.
//!
//! An archive is untrusted like a registry: every blob is checked against the digest that names it
//! (a docker-archive layer, which has none, against its config's DiffID), layers go through the
//! unpacker pulls use (whiteouts, nothing outside the layer directory), and member names are only
//! looked up, never used as paths. Blobs and layers already in the store are neither read nor
//! written again: importing an archive twice changes nothing, and [`ImportedImage::unchanged`] says
//! so. References are normalized as for pulls (`busybox:1` is `docker.io/library/busybox:1`), so
//! a pod's `image: busybox:1` finds the import.
//!
//! Why by hand: no crate reads both kinds into a store of our layout. The `tar` crate reads the
//! archive with seeks: one pass for the table of members, then each blob read where it lies; a
//! large archive is never held in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use oci_client::manifest as m;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::StoreError;
use super::pull::RawConfig;
use super::reference::{ImageRef, InvalidReference};
use super::store::{
    remove_any, sha256_hex, sync_dir, ImageRecord, ImageStore, LayerRecord, Platform,
};
use super::unpack;

/// How to import an archive.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Name the image this (normalized like a pull's reference) instead of the archive's names;
    /// the archive must then hold one image.
    pub tag: Option<String>,
    /// Which manifest of a multi-platform index to import.
    pub platform: Platform,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            tag: None,
            platform: Platform::host(),
        }
    }
}

/// One image an import or a build put in the store.
#[derive(Debug, Clone)]
pub struct ImportedImage {
    /// The image's record as the store now has it (its names merged with earlier ones).
    pub record: ImageRecord,
    /// Blobs (manifest, config, layers) that were not in the store before.
    pub blobs_written: usize,
    /// Layers unpacked (not already present).
    pub layers_unpacked: usize,
    /// Whether the image index changed (a new image, or a new name for one).
    pub index_changed: bool,
}

impl ImportedImage {
    /// Nothing was written: the image was already in the store under these names.
    pub fn unchanged(&self) -> bool {
        self.blobs_written == 0 && self.layers_unpacked == 0 && !self.index_changed
    }
}

/// Why an import or a build failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the archive (or the directory to build) failed.
    #[error("{path:?}: {source}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The archive is not an image archive, or one we do not read.
    #[error("{0}")]
    Format(String),
    /// A blob's content does not have the digest that names it.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Which blob.
        what: String,
        /// The digest the archive names it by.
        expected: String,
        /// The digest of its content.
        actual: String,
    },
    /// A layer was refused by the unpacker (an entry leaving the layer, a corrupt tar).
    #[error("layer {digest} refused: {message}")]
    Layer {
        /// The layer blob.
        digest: String,
        /// Why.
        message: String,
    },
    /// A name (archive or `--tag`) is not an image reference.
    #[error(transparent)]
    Name(#[from] InvalidReference),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(message: impl Into<String>) -> ImportError {
    ImportError::Format(message.into())
}

/// Largest JSON member read into memory (index, manifest, config).
const MAX_JSON: u64 = 16 << 20;

/// A tar's regular files and links, by normalized name.
struct Archive {
    path: PathBuf,
    members: HashMap<String, Member>,
}

enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// `a/./b/../c` → `a/c`; leading `/` and `./` dropped; `None` for the root or above it.
fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

impl Archive {
    fn open(path: &Path) -> Result<Archive, ImportError> {
        let file = File::open(path).map_err(io_err(path))?;
        let mut ar = tar::Archive::new(file);
        let mut members = HashMap::new();
        let bad = |e: io::Error| format_err(format!("{}: not a tar archive: {e}", path.display()));
        for entry in ar.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(name) = normalize(&raw) else {
                continue;
            };
            let link = || {
                entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
            };
            let member = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                // Legacy docker-archives link identical layers: `<id>/layer.tar -> ../<id2>/layer.tar`.
                tar::EntryType::Symlink => {
                    let Some(target) = link() else { continue };
                    let joined = match (target.starts_with('/'), name.rsplit_once('/')) {
                        (false, Some((dir, _))) => format!("{dir}/{target}"),
                        _ => target,
                    };
                    match normalize(&joined) {
                        Some(t) => Member::Link(t),
                        None => continue,
                    }
                }
                tar::EntryType::Link => match link().as_deref().and_then(normalize) {
                    Some(t) => Member::Link(t),
                    None => continue,
                },
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Archive {
            path: path.to_path_buf(),
            members,
        })
    }

    /// Offset and size of a member's data, following links.
    fn locate(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = normalize(name)?;
        for _ in 0..32 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(t) => name = t.clone(),
            }
        }
        None
    }

    fn has(&self, name: &str) -> bool {
        self.locate(name).is_some()
    }

    fn reader(&self, name: &str) -> Result<(io::Take<File>, u64), ImportError> {
        let (offset, size) = self
            .locate(name)
            .ok_or_else(|| format_err(format!("the archive has no {name:?}")))?;
        let mut f = File::open(&self.path).map_err(io_err(&self.path))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(io_err(&self.path))?;
        Ok((f.take(size), size))
    }

    fn read_small(&self, name: &str) -> Result<Vec<u8>, ImportError> {
        let (mut r, size) = self.reader(name)?;
        if size > MAX_JSON {
            return Err(format_err(format!("{name:?} is too large ({size} bytes)")));
        }
        let mut buf = Vec::with_capacity(size as usize);
        r.read_to_end(&mut buf).map_err(io_err(&self.path))?;
        Ok(buf)
    }
}

/// A blob's member name in an OCI layout.
fn oci_blob(digest: &str) -> Result<String, ImportError> {
    sha256_hex(digest)
        .map(|h| format!("blobs/sha256/{h}"))
        .ok_or_else(|| format_err(format!("digest {digest:?} (only sha256 is supported)")))
}

pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A writer that hashes (and counts) what goes through it.
pub(crate) struct Hashing<W> {
    pub(crate) inner: W,
    pub(crate) hasher: Sha256,
    pub(crate) bytes: u64,
}

impl<W> Hashing<W> {
    pub(crate) fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub(crate) fn digest(&self) -> String {
        format!("sha256:{:x}", self.hasher.clone().finalize())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What one image of an archive (or a build) adds, before it is recorded.
pub(crate) struct Prepared {
    pub(crate) record: ImageRecord,
    pub(crate) blobs_written: usize,
    pub(crate) layers_unpacked: usize,
}

impl ImageStore {
    /// Imports every image of an OCI-layout or docker-archive tarball (see the module doc) and
    /// records each under its names. Runs while pulls and other imports do, in this process or
    /// another; a removal waits for it.
    pub async fn import_archive(
        &self,
        path: &Path,
        opts: &ImportOptions,
    ) -> Result<Vec<ImportedImage>, ImportError> {
        let tag = opts.tag.as_deref().map(ImageRef::parse).transpose()?;
        let _importing = self.gc_shared().await?;
        let (store, path2, platform) = (self.clone(), path.to_path_buf(), opts.platform.clone());
        let mut prepared =
            tokio::task::spawn_blocking(move || store.prepare_archive(&path2, &platform))
                .await
                .map_err(|e| io_err(path)(io::Error::other(e)))??;
        if prepared.is_empty() {
            return Err(format_err(format!(
                "{}: no image for platform {} in the archive",
                path.display(),
                opts.platform
            )));
        }
        if let Some(tag) = tag {
            if prepared.len() != 1 {
                return Err(format_err(format!(
                    "{}: the archive holds {} images; --tag names one",
                    path.display(),
                    prepared.len()
                )));
            }
            prepared[0].record.repo_tags = vec![tag.to_string()];
            prepared[0].record.repo_digests = Vec::new();
        }
        let mut out = Vec::new();
        for p in prepared {
            out.push(self.commit(p).await?);
        }
        Ok(out)
    }

    /// Records a prepared image.
    pub(crate) async fn commit(&self, p: Prepared) -> Result<ImportedImage, ImportError> {
        let (record, index_changed) = self.record_changed(p.record).await?;
        tracing::info!(image = %record.id, names = ?record.names(), blobs = p.blobs_written, layers = p.layers_unpacked, "image imported");
        Ok(ImportedImage {
            record,
            blobs_written: p.blobs_written,
            layers_unpacked: p.layers_unpacked,
            index_changed,
        })
    }

    /// Reads the archive and puts its content in the store; nothing is recorded yet.
    fn prepare_archive(
        &self,
        path: &Path,
        platform: &Platform,
    ) -> Result<Vec<Prepared>, ImportError> {
        let mut head = [0u8; 2];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(io_err(path))?;
        if n == 2 && head == [0x1f, 0x8b] {
            // Compressed as a whole (`docker save | gzip`): a plain copy to seek in.
            let tmp = self.temp_path("archive.tar");
            let res = (|| {
                let src = File::open(path).map_err(io_err(path))?;
                let mut dst = File::create(&tmp).map_err(io_err(&tmp))?;
                io::copy(&mut flate2::read::MultiGzDecoder::new(src), &mut dst)
                    .map_err(io_err(path))?;
                self.prepare_tar(&Archive::open(&tmp)?, platform)
            })();
            let _ = remove_any(&tmp);
            return res;
        }
        self.prepare_tar(&Archive::open(path)?, platform)
    }

    fn prepare_tar(&self, ar: &Archive, platform: &Platform) -> Result<Vec<Prepared>, ImportError> {
        let prepared = if ar.has("index.json") && (ar.has("oci-layout") || !ar.has("manifest.json"))
        {
            self.prepare_oci(ar, platform)?
        } else if ar.has("manifest.json") {
            self.prepare_docker(ar)?
        } else {
            return Err(format_err(format!(
                "{}: neither an OCI image layout (index.json) nor a docker-archive (manifest.json)",
                ar.path.display()
            )));
        };
        // Two names of one image are one image.
        let mut merged: Vec<Prepared> = Vec::new();
        for p in prepared {
            match merged.iter_mut().find(|m| m.record.id == p.record.id) {
                Some(m) => {
                    for t in p.record.repo_tags {
                        if !m.record.repo_tags.contains(&t) {
                            m.record.repo_tags.push(t);
                        }
                    }
                    for d in p.record.repo_digests {
                        if !m.record.repo_digests.contains(&d) {
                            m.record.repo_digests.push(d);
                        }
                    }
                    m.blobs_written += p.blobs_written;
                    m.layers_unpacked += p.layers_unpacked;
                }
                None => merged.push(p),
            }
        }
        Ok(merged)
    }

    fn prepare_oci(&self, ar: &Archive, platform: &Platform) -> Result<Vec<Prepared>, ImportError> {
        let index: Index = serde_json::from_slice(&ar.read_small("index.json")?)
            .map_err(|e| format_err(format!("index.json: {e}")))?;
        let mut out = Vec::new();
        for entry in &index.manifests {
            let name = match oci_name(entry) {
                Some(n) => Some(ImageRef::parse(&n)?),
                None => None,
            };
            let mut blobs_written = 0;
            let top = self.read_verified(ar, &entry.digest)?;
            let (manifest_digest, manifest_bytes, index) = if is_index(&entry.media_type, &top) {
                let nested: Index = serde_json::from_slice(&top)
                    .map_err(|e| format_err(format!("image index {}: {e}", entry.digest)))?;
                let Some(chosen) = select_platform(&nested.manifests, platform) else {
                    tracing::info!(index = %entry.digest, %platform, "no manifest for this platform in the archive's index");
                    continue;
                };
                let bytes = self.read_verified(ar, &chosen.digest)?;
                (
                    chosen.digest.clone(),
                    bytes,
                    Some((entry.digest.clone(), top)),
                )
            } else {
                if let Some(p) = &entry.platform {
                    if !platform.matches(&p.os, &p.architecture, p.variant.as_deref()) {
                        continue;
                    }
                }
                (entry.digest.clone(), top, None)
            };
            let index_digest = index.as_ref().map(|(d, _)| d.clone());
            let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
                .map_err(|e| format_err(format!("image manifest {manifest_digest}: {e}")))?;
            let config_bytes = self.read_verified(ar, &manifest.config.digest)?;
            let repo_digest = name
                .as_ref()
                .map(|n| n.with_digest(index_digest.as_deref().unwrap_or(&manifest_digest)));
            if let Some(p) =
                self.already_stored(&manifest.config.digest, name.as_ref(), repo_digest.clone())
            {
                out.push(p);
                continue;
            }
            if let Some((digest, bytes)) = &index {
                blobs_written += usize::from(self.put_small(digest, bytes)?);
            }
            let mut layers = Vec::new();
            let mut layers_unpacked = 0;
            let diff_ids = diff_ids(&config_bytes, manifest.layers.len())?;
            for (desc, diff_id) in manifest.layers.iter().zip(&diff_ids) {
                if !LAYER_TYPES.contains(&desc.media_type.as_str()) {
                    return Err(format_err(format!("layer media type {}", desc.media_type)));
                }
                blobs_written +=
                    usize::from(self.put_member(ar, &oci_blob(&desc.digest)?, &desc.digest)?);
                layers_unpacked += usize::from(self.ensure_layer(&desc.digest, diff_id)?);
                layers.push(LayerRecord {
                    digest: desc.digest.clone(),
                    diff_id: diff_id.clone(),
                    size: u64::try_from(desc.size).unwrap_or(0),
                    media_type: desc.media_type.clone(),
                });
            }
            blobs_written += usize::from(self.put_small(&manifest.config.digest, &config_bytes)?);
            blobs_written += usize::from(self.put_small(&manifest_digest, &manifest_bytes)?);
            let record = make_record(
                name.as_ref(),
                repo_digest,
                &manifest_digest,
                manifest_bytes.len(),
                index_digest,
                &manifest.config.digest,
                &config_bytes,
                layers,
            )?;
            out.push(Prepared {
                record,
                blobs_written,
                layers_unpacked,
            });
        }
        Ok(out)
    }

    fn prepare_docker(&self, ar: &Archive) -> Result<Vec<Prepared>, ImportError> {
        let entries: Vec<DockerEntry> = serde_json::from_slice(&ar.read_small("manifest.json")?)
            .map_err(|e| format_err(format!("manifest.json: {e}")))?;
        let mut out = Vec::new();
        for entry in entries {
            let config_bytes = ar.read_small(&entry.config)?;
            let config_digest = sha256_digest(&config_bytes);
            let names: Vec<ImageRef> = entry
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| ImageRef::parse(t))
                .collect::<Result<_, _>>()?;
            if let Some(mut p) = self.already_stored(&config_digest, None, None) {
                p.record.repo_tags = names.iter().map(ImageRef::to_string).collect();
                out.push(p);
                continue;
            }
            let diff_ids = diff_ids(&config_bytes, entry.layers.len())?;
            let mut blobs_written = 0;
            let mut layers_unpacked = 0;
            let mut layers = Vec::new();
            for (member, diff_id) in entry.layers.iter().zip(&diff_ids) {
                let (digest, media_type, size, written) =
                    self.put_docker_layer(ar, member, diff_id)?;
                blobs_written += usize::from(written);
                layers_unpacked += usize::from(self.ensure_layer(&digest, diff_id)?);
                layers.push(LayerRecord {
                    digest,
                    diff_id: diff_id.clone(),
                    size,
                    media_type,
                });
            }
            let manifest_bytes = oci_manifest(&config_digest, config_bytes.len(), &layers);
            let manifest_digest = sha256_digest(&manifest_bytes);
            blobs_written += usize::from(self.put_small(&config_digest, &config_bytes)?);
            blobs_written += usize::from(self.put_small(&manifest_digest, &manifest_bytes)?);
            let mut record = make_record(
                names.first(),
                None,
                &manifest_digest,
                manifest_bytes.len(),
                None,
                &config_digest,
                &config_bytes,
                layers,
            )?;
            record.repo_tags = names.iter().map(ImageRef::to_string).collect();
            out.push(Prepared {
                record,
                blobs_written,
                layers_unpacked,
            });
        }
        Ok(out)
    }

    /// The image with this ID, if the store has it whole, under the archive's names instead of
    /// its own (they are merged when recorded). Its content is kept as it is: an archive that
    /// carries it differently (a docker-archive's uncompressed layers for a pulled image's gzip
    /// ones) would only add blobs no record refers to.
    fn already_stored(
        &self,
        id: &str,
        name: Option<&ImageRef>,
        repo_digest: Option<String>,
    ) -> Option<Prepared> {
        let mut record = self.get(id)?;
        let whole = record
            .blob_digests()
            .all(|d| self.blob_path(d).is_some_and(|p| p.exists()))
            && self.layer_paths(&record).iter().all(|p| p.exists());
        if !whole {
            return None;
        }
        record.repo_tags = name
            .filter(|n| n.tag().is_some())
            .map(|n| vec![n.to_string()])
            .unwrap_or_default();
        record.repo_digests = repo_digest.into_iter().collect();
        Some(Prepared {
            record,
            blobs_written: 0,
            layers_unpacked: 0,
        })
    }

    /// A small blob of an OCI layout, checked against its digest.
    fn read_verified(&self, ar: &Archive, digest: &str) -> Result<Vec<u8>, ImportError> {
        let member = oci_blob(digest)?;
        let bytes = ar.read_small(&member)?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(ImportError::DigestMismatch {
                what: member,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// A fresh path in `ingest/` (unique across processes; emptied at the next exclusive open).
    pub(crate) fn temp_path(&self, what: &str) -> PathBuf {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        self.ingest_dir().join(format!(
            "import-{}-{}-{what}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Stores verified bytes as blob `digest` unless present; returns whether it wrote.
    pub(crate) fn put_small(&self, digest: &str, bytes: &[u8]) -> Result<bool, ImportError> {
        let path = self
            .blob_path(digest)
            .ok_or_else(|| format_err(format!("digest {digest:?}")))?;
        if path.exists() {
            return Ok(false);
        }
        let tmp = self.temp_path("blob");
        let res = File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
            .map_err(io_err(&tmp));
        if let Err(e) = res {
            let _ = remove_any(&tmp);
            return Err(e);
        }
        self.install_blob(&tmp, &path)
    }

    /// Moves a finished temporary into `blobs/` (or drops it if another writer was first).
    pub(crate) fn install_blob(&self, tmp: &Path, path: &Path) -> Result<bool, ImportError> {
        if path.exists() {
            remove_any(tmp)?;
            return Ok(false);
        }
        std::fs::rename(tmp, path).map_err(|e| StoreError::io("rename", path, e))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(true)
    }

    /// Copies an archive member into the store as blob `digest` (checked) unless present.
    fn put_member(&self, ar: &Archive, member: &str, digest: &str) -> Result<bool, ImportError> {
        let path = self
            .blob_path(digest)
            .ok_or_else(|| format_err(format!("digest {digest:?}")))?;
        if path.exists() {
            return Ok(false);
        }
        let (tmp, actual, _) = self.copy_member(ar, member)?;
        if actual != digest {
            let _ = remove_any(&tmp);
            return Err(ImportError::DigestMismatch {
                what: member.to_string(),
                expected: digest.to_string(),
                actual,
            });
        }
        self.install_blob(&tmp, &path)
    }

    /// Copies a member into a temporary, hashing it; returns the temporary, digest and size.
    fn copy_member(
        &self,
        ar: &Archive,
        member: &str,
    ) -> Result<(PathBuf, String, u64), ImportError> {
        let (mut r, _) = ar.reader(member)?;
        let tmp = self.temp_path("blob");
        let res = (|| {
            let mut w = Hashing::new(File::create(&tmp).map_err(io_err(&tmp))?);
            io::copy(&mut r, &mut w).map_err(io_err(&ar.path))?;
            w.inner.sync_all().map_err(io_err(&tmp))?;
            Ok((w.digest(), w.bytes))
        })();
        match res {
            Ok((digest, size)) => Ok((tmp, digest, size)),
            Err(e) => {
                let _ = remove_any(&tmp);
                Err(e)
            }
        }
    }

    /// Stores a docker-archive layer: uncompressed, its digest is its DiffID (and if that blob is
    /// present, the member is not even read); gzip-compressed, its own digest (the DiffID is then
    /// checked when unpacking). Returns digest, media type, size and whether it wrote.
    fn put_docker_layer(
        &self,
        ar: &Archive,
        member: &str,
        diff_id: &str,
    ) -> Result<(String, String, u64, bool), ImportError> {
        let plain = m::IMAGE_LAYER_MEDIA_TYPE.to_string();
        if let Some(p) = self.blob_path(diff_id).filter(|p| p.exists()) {
            let size = std::fs::metadata(&p).map_err(io_err(&p))?.len();
            return Ok((diff_id.to_string(), plain, size, false));
        }
        let (tmp, digest, size) = self.copy_member(ar, member)?;
        let mut head = [0u8; 2];
        let gzip = File::open(&tmp)
            .and_then(|mut f| f.read(&mut head))
            .map_err(io_err(&tmp))?
            == 2
            && head == [0x1f, 0x8b];
        let media_type = if digest == diff_id {
            plain
        } else if gzip {
            m::IMAGE_LAYER_GZIP_MEDIA_TYPE.to_string()
        } else {
            let _ = remove_any(&tmp);
            return Err(ImportError::DigestMismatch {
                what: member.to_string(),
                expected: diff_id.to_string(),
                actual: digest,
            });
        };
        let path = self.blob_path(&digest).expect("a sha256 digest");
        let written = self.install_blob(&tmp, &path)?;
        Ok((digest, media_type, size, written))
    }

    /// Unpacks blob `digest` as layer `diff_id` unless present; returns whether it unpacked.
    pub(crate) fn ensure_layer(&self, digest: &str, diff_id: &str) -> Result<bool, ImportError> {
        let dir = self
            .layer_path(diff_id)
            .ok_or_else(|| format_err(format!("diff_id {diff_id:?}")))?;
        if dir.exists() {
            return Ok(false);
        }
        let blob = self.blob_path(digest).expect("checked");
        let tmp = self.temp_path("layer");
        let file = File::open(&blob).map_err(io_err(&blob))?;
        let stats = match unpack::unpack_layer(file, &tmp) {
            Ok(s) => s,
            Err(e) => {
                let _ = remove_any(&tmp);
                return Err(ImportError::Layer {
                    digest: digest.to_string(),
                    message: e.to_string(),
                });
            }
        };
        if stats.diff_id != diff_id {
            let _ = remove_any(&tmp);
            return Err(ImportError::DigestMismatch {
                what: format!("layer {digest} (uncompressed)"),
                expected: diff_id.to_string(),
                actual: stats.diff_id,
            });
        }
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            let _ = remove_any(&tmp);
            // Another process unpacked it meanwhile.
            if dir.exists() {
                return Ok(false);
            }
            return Err(StoreError::io("rename", &dir, e).into());
        }
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(true)
    }
}

/// The name an `index.json` entry gives its image, if a full reference.
fn oci_name(entry: &Descriptor) -> Option<String> {
    let ann = entry.annotations.as_ref()?;
    if let Some(n) = ann.get("io.containerd.image.name") {
        return Some(n.clone());
    }
    // Often a bare tag (`1.36`, `latest`), which names no repository.
    let r = ann.get("org.opencontainers.image.ref.name")?;
    r.contains([':', '/', '@']).then(|| r.clone())
}

fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        m::OCI_IMAGE_INDEX_MEDIA_TYPE | m::IMAGE_MANIFEST_LIST_MEDIA_TYPE => true,
        m::OCI_IMAGE_MEDIA_TYPE | m::IMAGE_MANIFEST_MEDIA_TYPE => false,
        _ => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .is_some_and(|v| v.get("manifests").is_some()),
    }
}

/// This platform's manifest in an index (an exact variant first), skipping nested indexes and
/// attestations.
fn select_platform<'a>(entries: &'a [Descriptor], platform: &Platform) -> Option<&'a Descriptor> {
    let candidates: Vec<(&Descriptor, &DescPlatform)> = entries
        .iter()
        .filter(|e| {
            e.media_type != m::OCI_IMAGE_INDEX_MEDIA_TYPE
                && e.media_type != m::IMAGE_MANIFEST_LIST_MEDIA_TYPE
        })
        .filter_map(|e| e.platform.as_ref().map(|p| (e, p)))
        .filter(|(_, p)| platform.matches(&p.os, &p.architecture, p.variant.as_deref()))
        .collect();
    candidates
        .iter()
        .find(|(_, p)| p.variant.is_some() && p.variant == platform.variant)
        .or_else(|| candidates.first())
        .map(|(e, _)| *e)
}

/// The config's DiffIDs, checked against the number of layers.
fn diff_ids(config: &[u8], layers: usize) -> Result<Vec<String>, ImportError> {
    let raw: RawConfig =
        serde_json::from_slice(config).map_err(|e| format_err(format!("image config: {e}")))?;
    let ids = raw.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if ids.len() != layers {
        return Err(format_err(format!(
            "the config lists {} diff_ids for {layers} layers",
            ids.len()
        )));
    }
    if let Some(bad) = ids.iter().find(|d| sha256_hex(d).is_none()) {
        return Err(format_err(format!(
            "diff_id {bad:?} (only sha256 is supported)"
        )));
    }
    Ok(ids)
}

/// An OCI manifest for a config and layers (made for docker-archives and builds; deterministic).
pub(crate) fn oci_manifest(
    config_digest: &str,
    config_size: usize,
    layers: &[LayerRecord],
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": m::OCI_IMAGE_MEDIA_TYPE,
        "config": {
            "mediaType": m::IMAGE_CONFIG_MEDIA_TYPE,
            "digest": config_digest,
            "size": config_size,
        },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": l.media_type,
            "digest": l.digest,
            "size": l.size,
        })).collect::<Vec<_>>(),
    }))
    .expect("json")
}

/// An image record from a config and the stored layers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_record(
    name: Option<&ImageRef>,
    repo_digest: Option<String>,
    manifest_digest: &str,
    manifest_size: usize,
    index_digest: Option<String>,
    config_digest: &str,
    config: &[u8],
    layers: Vec<LayerRecord>,
) -> Result<ImageRecord, ImportError> {
    let raw: RawConfig =
        serde_json::from_slice(config).map_err(|e| format_err(format!("image config: {e}")))?;
    let exec = raw.config.unwrap_or_default();
    Ok(ImageRecord {
        id: config_digest.to_string(),
        repo_tags: name
            .filter(|n| n.tag().is_some())
            .map(|n| vec![n.to_string()])
            .unwrap_or_default(),
        repo_digests: repo_digest.into_iter().collect(),
        manifest_digest: manifest_digest.to_string(),
        index_digest,
        platform: Platform {
            os: raw.os.unwrap_or_else(|| "linux".into()),
            architecture: raw.architecture.unwrap_or_default(),
            variant: raw.variant,
        },
        config: exec.into_image_config(),
        size: manifest_size as u64
            + config.len() as u64
            + layers.iter().map(|l| l.size).sum::<u64>(),
        layers,
    })
}

const LAYER_TYPES: &[&str] = &[
    m::IMAGE_LAYER_MEDIA_TYPE,
    m::IMAGE_LAYER_GZIP_MEDIA_TYPE,
    m::IMAGE_DOCKER_LAYER_TAR_MEDIA_TYPE,
    m::IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
    m::IMAGE_LAYER_NONDISTRIBUTABLE_MEDIA_TYPE,
    m::IMAGE_LAYER_NONDISTRIBUTABLE_GZIP_MEDIA_TYPE,
];

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    platform: Option<DescPlatform>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct DescPlatform {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_normalized() {
        assert_eq!(
            normalize("./blobs/sha256/ab").as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(normalize("/a//b/./c").as_deref(), Some("a/b/c"));
        assert_eq!(normalize("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("./"), None);
    }
}
