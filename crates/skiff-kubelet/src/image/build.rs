//! `skiff image build`: a directory packed into a one-layer image in the store, so a node can run
//! a pod without any registry (the quickstart's busybox image is Debian's `busybox-static` binary
//! and its applet symlinks).
//!
//! The layer is deterministic: entries sorted by name, every mtime 0, owner and mode as on disk
//! (numeric uid/gid, no user names), symlinks stored as symlinks (never followed), hard links as
//! links to the first name, gzip without a timestamp; the config has no creation time. Building the
//! same directory twice gives the same image ID, and the second build writes nothing.
//!
//! Nothing outside the directory is read: it is walked with `lstat`, only real directories are
//! entered, and files are opened with `O_NOFOLLOW`. Sockets are skipped (they cannot be archived).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_client::manifest as m;

use super::archive::{
    io_err, make_record, oci_manifest, sha256_digest, Hashing, ImportError, ImportedImage, Prepared,
};
use super::reference::ImageRef;
use super::store::{remove_any, ImageStore, LayerRecord, Platform};

/// The `PATH` of a built image whose `env` sets none (Docker's default).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The image's name (normalized like a pull's reference: `demo:1` is `docker.io/library/demo:1`).
    pub tag: String,
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env` (`NAME=value`); [`DEFAULT_PATH`] is added unless one sets `PATH`.
    pub env: Vec<String>,
    /// `WorkingDir` (empty: `/`).
    pub working_dir: String,
    /// `User` (empty: root).
    pub user: String,
    /// The config's `os`/`architecture`/`variant`.
    pub platform: Platform,
}

impl BuildOptions {
    /// An image named `tag`, for this host's platform, with no command.
    pub fn new(tag: &str) -> BuildOptions {
        BuildOptions {
            tag: tag.to_string(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            working_dir: String::new(),
            user: String::new(),
            platform: Platform::host(),
        }
    }
}

impl ImageStore {
    /// Packs `rootfs` into a one-layer image (see the module doc), stores it, and records it
    /// under `opts.tag` (moving the tag from any other image).
    pub async fn build_image(
        &self,
        rootfs: &Path,
        opts: &BuildOptions,
    ) -> Result<ImportedImage, ImportError> {
        let name = ImageRef::parse(&opts.tag)?;
        let meta = std::fs::metadata(rootfs).map_err(io_err(rootfs))?;
        if !meta.is_dir() {
            return Err(ImportError::Format(format!(
                "{}: not a directory",
                rootfs.display()
            )));
        }
        let _building = self.gc_shared().await?;
        let (store, dir, opts2) = (self.clone(), rootfs.to_path_buf(), opts.clone());
        let prepared =
            tokio::task::spawn_blocking(move || store.prepare_build(&dir, &opts2, &name))
                .await
                .map_err(|e| io_err(rootfs)(io::Error::other(e)))??;
        self.commit(prepared).await
    }

    fn prepare_build(
        &self,
        rootfs: &Path,
        opts: &BuildOptions,
        name: &ImageRef,
    ) -> Result<Prepared, ImportError> {
        let tmp = self.temp_path("layer.tar.gz");
        let layer = match write_layer(rootfs, &tmp) {
            Ok(l) => l,
            Err(e) => {
                let _ = remove_any(&tmp);
                return Err(e);
            }
        };
        let (diff_id, digest, size) = layer;
        let path = self.blob_path(&digest).expect("a sha256 digest");
        let mut blobs_written = usize::from(self.install_blob(&tmp, &path)?);
        let layers_unpacked = usize::from(self.ensure_layer(&digest, &diff_id)?);
        let layers = vec![LayerRecord {
            digest,
            diff_id: diff_id.clone(),
            size,
            media_type: m::IMAGE_LAYER_GZIP_MEDIA_TYPE.to_string(),
        }];

        let mut env = opts.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, DEFAULT_PATH.to_string());
        }
        let mut exec = serde_json::Map::new();
        exec.insert("Env".into(), serde_json::json!(env));
        if !opts.entrypoint.is_empty() {
            exec.insert("Entrypoint".into(), serde_json::json!(opts.entrypoint));
        }
        if !opts.cmd.is_empty() {
            exec.insert("Cmd".into(), serde_json::json!(opts.cmd));
        }
        if !opts.working_dir.is_empty() {
            exec.insert("WorkingDir".into(), serde_json::json!(opts.working_dir));
        }
        if !opts.user.is_empty() {
            exec.insert("User".into(), serde_json::json!(opts.user));
        }
        let mut config = serde_json::json!({
            "architecture": opts.platform.architecture,
            "os": opts.platform.os,
            "config": exec,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "skiff image build"}],
        });
        if let Some(v) = &opts.platform.variant {
            config["variant"] = v.clone().into();
        }
        let config = serde_json::to_vec(&config).expect("json");
        let config_digest = sha256_digest(&config);
        let manifest = oci_manifest(&config_digest, config.len(), &layers);
        let manifest_digest = sha256_digest(&manifest);
        blobs_written += usize::from(self.put_small(&config_digest, &config)?);
        blobs_written += usize::from(self.put_small(&manifest_digest, &manifest)?);
        let record = make_record(
            Some(name),
            None,
            &manifest_digest,
            manifest.len(),
            None,
            &config_digest,
            &config,
            layers,
        )?;
        Ok(Prepared {
            record,
            blobs_written,
            layers_unpacked,
        })
    }
}

/// Writes the gzip-compressed layer of `rootfs` to `dest`; returns its DiffID, digest and size.
fn write_layer(rootfs: &Path, dest: &Path) -> Result<(String, String, u64), ImportError> {
    let file = File::create(dest).map_err(io_err(dest))?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Hashing::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(Hashing::new(gz));
    let mut links = HashMap::new();
    walk(rootfs, Path::new(""), &mut tar, &mut links)?;
    let diff = tar.into_inner().map_err(io_err(dest))?;
    let diff_id = diff.digest();
    let blob = diff.inner.finish().map_err(io_err(dest))?;
    blob.inner.sync_all().map_err(io_err(dest))?;
    Ok((diff_id, blob.digest(), blob.bytes))
}

/// Appends the entries of `dir` (`rel` inside the layer), sorted by name, recursively.
fn walk<W: Write>(
    dir: &Path,
    rel: &Path,
    tar: &mut tar::Builder<W>,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), ImportError> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_err(dir))?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let ft = meta.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(u64::from(meta.uid()));
        h.set_gid(u64::from(meta.gid()));
        h.set_mtime(0);
        h.set_size(0);
        let res = if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, &rel, io::empty())
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io_err(&path))?;
            h.set_entry_type(tar::EntryType::Symlink);
            tar.append_link(&mut h, &rel, &target)
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            match links.get(&key) {
                Some(first) if meta.nlink() > 1 => {
                    h.set_entry_type(tar::EntryType::Link);
                    tar.append_link(&mut h, &rel, first)
                }
                _ => {
                    if meta.nlink() > 1 {
                        links.insert(key, rel.clone());
                    }
                    let f = std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                        .open(&path)
                        .map_err(io_err(&path))?;
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(meta.len());
                    tar.append_data(&mut h, &rel, f)
                }
            }
        } else if ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            h.set_device_major(rustix::fs::major(meta.rdev()))
                .and_then(|()| h.set_device_minor(rustix::fs::minor(meta.rdev())))
                .map_err(io_err(&path))?;
            tar.append_data(&mut h, &rel, io::empty())
        } else if ft.is_fifo() {
            h.set_entry_type(tar::EntryType::Fifo);
            tar.append_data(&mut h, &rel, io::empty())
        } else {
            tracing::info!(path = %path.display(), "skipping a socket");
            continue;
        };
        res.map_err(io_err(&path))?;
        if ft.is_dir() {
            walk(&path, &rel, tar, links)?;
        }
    }
    Ok(())
}

/// A command as `--cmd`/`--entrypoint` take it: a JSON array (`["sh","-c","echo hi"]`, the exec
/// form of a Dockerfile) or words separated by white space (`sleep 3600`).
pub fn parse_command(s: &str) -> Result<Vec<String>, String> {
    if s.trim_start().starts_with('[') {
        serde_json::from_str(s).map_err(|e| format!("{s:?}: not a JSON array of strings: {e}"))
    } else {
        Ok(s.split_whitespace().map(str::to_string).collect())
    }
}
