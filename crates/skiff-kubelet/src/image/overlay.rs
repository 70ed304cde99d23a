//! A container's root filesystem: the image's unpacked layers as overlayfs lower directories, plus a
//! per-container upper and work directory.
//!
//! Layers are never copied: every container of every image shares the unpacked layer directories
//! read-only, and its writes go to its own upper directory. The layers carry overlayfs-form
//! whiteouts (see [`super::unpack`]), so deletions recorded in a layer hide files of the layers below.
//!
//! The lower directories are passed with the new mount API (`fsopen`/`fsconfig("lowerdir+")`,
//! Linux 6.8+), one directory per call, so the number of layers is not limited by the one page
//! (4096 bytes) that `mount(2)` accepts for its options; on older kernels it falls back to `mount(2)`
//! and refuses, with [`OverlayError::OptionsTooLong`], an image whose layer paths do not fit in a page
//! (about 40 layers with the store's paths; overlayfs itself stops at 500).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::io::Errno;
use rustix::mount::{
    self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags,
    UnmountFlags,
};

/// Most bytes `mount(2)` reads for the options string (one page, with its final NUL).
const MOUNT_DATA_MAX: usize = 4095;

/// Why a root filesystem could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// No layers: overlayfs needs at least one lower directory.
    #[error("an overlay needs at least one layer")]
    NoLayers,
    /// A path contains a character the `mount(2)` options string cannot carry.
    #[error("path {0:?} contains ',' or ':' and cannot be passed to overlayfs with mount(2)")]
    BadPath(PathBuf),
    /// Too many layers for one page of `mount(2)` options (only on kernels without `lowerdir+`).
    #[error(
        "{layers} layers need {bytes} bytes of overlay options, more than the {MOUNT_DATA_MAX} mount(2) takes \
         (this kernel lacks fsconfig lowerdir+, Linux 6.8)"
    )]
    OptionsTooLong {
        /// How many lower directories.
        layers: usize,
        /// Length of the options string.
        bytes: usize,
    },
    /// The mount or unmount system call failed.
    #[error("{op} {target:?}: {source}")]
    Sys {
        /// Which operation.
        op: &'static str,
        /// The mount point.
        target: PathBuf,
        /// The error (EPERM: not root).
        #[source]
        source: io::Error,
    },
}

fn sys(op: &'static str, target: &Path, e: Errno) -> OverlayError {
    OverlayError::Sys {
        op,
        target: target.to_path_buf(),
        source: e.into(),
    }
}

/// Mounts an overlay at `target` with `layers` (lowest first, the order of the image's
/// `rootfs.diff_ids`) as lower directories, and `upper`/`work` (same file system, both existing and
/// empty at first use) for the container's changes. Needs root.
pub fn mount_rootfs(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), OverlayError> {
    if layers.is_empty() {
        return Err(OverlayError::NoLayers);
    }
    match mount_with_fsconfig(layers, upper, work, target) {
        Ok(()) => Ok(()),
        // ENOSYS: no new mount API; EINVAL from fsconfig: no "lowerdir+" (before Linux 6.8).
        Err(Fallback) => mount_with_options(layers, upper, work, target),
    }
}

struct Fallback;

fn mount_with_fsconfig(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), Fallback> {
    let attempt = || -> Result<(), Errno> {
        let fs = rmount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        // overlayfs wants the uppermost lower directory first.
        for layer in layers.iter().rev() {
            rmount::fsconfig_set_string(&fs, "lowerdir+", layer.as_path())?;
        }
        rmount::fsconfig_set_string(&fs, "upperdir", upper)?;
        rmount::fsconfig_set_string(&fs, "workdir", work)?;
        rmount::fsconfig_create(&fs)?;
        let mnt = rmount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
        rmount::move_mount(
            &mnt,
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    match attempt() {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::debug!(error = %e, target = %target.display(), "fsconfig overlay mount failed; trying mount(2)");
            Err(Fallback)
        }
    }
}

fn mount_with_options(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), OverlayError> {
    let data = overlay_options(layers, upper, work)?;
    if data.len() > MOUNT_DATA_MAX {
        return Err(OverlayError::OptionsTooLong {
            layers: layers.len(),
            bytes: data.len(),
        });
    }
    let data = CString::new(data).map_err(|_| OverlayError::BadPath(target.to_path_buf()))?;
    rmount::mount(
        "overlay",
        target,
        "overlay",
        MountFlags::empty(),
        data.as_c_str(),
    )
    .map_err(|e| sys("mount overlay on", target, e))
}

/// The `mount(2)` options string: `lowerdir=top:...:bottom,upperdir=..,workdir=..`.
fn overlay_options(layers: &[PathBuf], upper: &Path, work: &Path) -> Result<String, OverlayError> {
    let check = |p: &Path| -> Result<String, OverlayError> {
        let s = String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned();
        if s.contains(',') || s.contains(':') {
            return Err(OverlayError::BadPath(p.to_path_buf()));
        }
        Ok(s)
    };
    let lower = layers
        .iter()
        .rev()
        .map(|p| check(p))
        .collect::<Result<Vec<_>, _>>()?
        .join(":");
    Ok(format!(
        "lowerdir={lower},upperdir={},workdir={}",
        check(upper)?,
        check(work)?
    ))
}

/// Unmounts `target`. Not mounted (or missing) is success, so cleanup can be repeated after a crash;
/// a busy mount is detached lazily.
pub fn unmount(target: &Path) -> Result<(), OverlayError> {
    match rmount::unmount(target, UnmountFlags::NOFOLLOW) {
        Ok(()) | Err(Errno::INVAL) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::BUSY) => rmount::unmount(target, UnmountFlags::DETACH | UnmountFlags::NOFOLLOW)
            .map_err(|e| sys("unmount", target, e)),
        Err(e) => Err(sys("unmount", target, e)),
    }
}

/// Whether `path` is a mount point (its device differs from its parent's, or it is `/`).
pub fn is_mount_point(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::symlink_metadata(path)?;
    let Some(parent) = path.parent() else {
        return Ok(true);
    };
    let parent = std::fs::metadata(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    })?;
    Ok(me.dev() != parent.dev() || me.ino() == parent.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_put_the_top_layer_first() {
        let layers = vec![PathBuf::from("/l/base"), PathBuf::from("/l/top")];
        let s = overlay_options(&layers, Path::new("/u"), Path::new("/w")).unwrap();
        assert_eq!(s, "lowerdir=/l/top:/l/base,upperdir=/u,workdir=/w");
        assert!(matches!(
            overlay_options(&[PathBuf::from("/a:b")], Path::new("/u"), Path::new("/w")),
            Err(OverlayError::BadPath(_))
        ));
    }
}
