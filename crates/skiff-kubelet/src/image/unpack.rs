//! Layer unpacking: one OCI layer (a tar, gzip-compressed or not) into its own directory, in the form
//! overlayfs reads as a lower directory.
//!
//! Each layer is unpacked on its own into an empty directory (never applied on top of the layers
//! below it), so the result is a *diff*: OCI whiteouts are converted to overlayfs' own form instead of
//! being applied by deleting files:
//!
//! - `dir/.wh.name` becomes a character device `dir/name` with device number 0/0, which overlayfs
//!   treats as "deleted in this layer";
//! - `dir/.wh..wh..opq` becomes the xattr `trusted.overlay.opaque=y` on `dir`, which hides everything
//!   the lower layers have in `dir`;
//! - other `.wh..wh.*` entries (aufs bookkeeping) are skipped.
//!
//! # Safety against hostile layers
//!
//! A layer comes from a registry: its entries are untrusted input and nothing may be written outside
//! `dest`. The rules:
//!
//! - entry names are re-rooted (a leading `/` or `./` is dropped, as the image spec says); any `..`
//!   component is refused ([`UnpackError::UnsafePath`]), whatever it would resolve to;
//! - every parent directory is opened one component at a time from `dest` with `O_NOFOLLOW`, and all
//!   creation uses the `*at` system calls relative to that directory: a symlink in the layer is never
//!   followed during extraction, so `x -> /tmp` followed by `x/evil` is refused;
//! - hardlink targets are names inside the layer, resolved the same way (a link to `/etc/passwd`
//!   means `dest/etc/passwd`, which must have been unpacked earlier in the same layer);
//! - symlink *targets* are data: `sh -> /bin/busybox` is how images are made, and is resolved inside
//!   the container's root at run time, never here;
//! - `trusted.overlay.*` xattrs carried in the archive are dropped (they would steer overlayfs).
//!
//! Why by hand: the `tar` crate's own `unpack` resolves paths through the filesystem (following
//! symlinked parents that an earlier entry created) and knows nothing of whiteouts or overlayfs.
//! We use it only to read the archive.
//!
//! Ownership is set to the archive's numeric uid/gid when running as root (the default then), device
//! nodes are created only as root (skipped otherwise), and directory metadata (mode, owner, mtime) is
//! applied after all entries, so that read-only directories can still be filled and their mtimes stay
//! those of the archive.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timestamps, XattrFlags};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use sha2::{Digest, Sha256};
use tar::EntryType;

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry's name or link target would leave the layer root, or goes through a symlink.
    #[error("layer entry {path:?} refused: {reason}")]
    UnsafePath {
        /// The entry's name as written in the archive.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file system operation failed for one entry.
    #[error("layer entry {path:?}: {source}")]
    Io {
        /// The entry's name as written in the archive.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The archive itself could not be read (truncated, corrupt gzip, bad tar header).
    #[error("reading layer archive: {0}")]
    Archive(#[source] io::Error),
    /// The layer is compressed with something other than gzip.
    #[error("unsupported layer compression: {0}")]
    UnsupportedCompression(&'static str),
}

/// How to unpack; [`UnpackOptions::default`] fits the process' privileges.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Set each entry's owner to the archive's numeric uid/gid (needs root). Default: when root.
    pub chown: bool,
    /// Create character and block devices (needs root); skipped otherwise. Default: when root.
    pub devices: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        let root = rustix::process::geteuid().is_root();
        UnpackOptions {
            chown: root,
            devices: root,
        }
    }
}

/// What an unpack found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// `sha256:<hex>` of the uncompressed tar stream: the layer's DiffID, to check against the
    /// image config's `rootfs.diff_ids`.
    pub diff_id: String,
    /// Archive entries read (including skipped ones).
    pub entries: u64,
    /// Bytes of regular file content written.
    pub file_bytes: u64,
}

/// Unpacks one layer (gzip or plain tar, detected from the first bytes) into `dest` (created if
/// missing; normally empty), with [`UnpackOptions::default`].
pub fn unpack_layer(reader: impl Read, dest: &Path) -> Result<UnpackStats, UnpackError> {
    unpack_layer_with(reader, dest, &UnpackOptions::default())
}

/// [`unpack_layer`] with explicit options.
pub fn unpack_layer_with(
    reader: impl Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let stream = decompress(reader)?;
    let dest_name = dest.display().to_string();
    std::fs::create_dir_all(dest).map_err(|source| UnpackError::Io {
        path: dest_name.clone(),
        source,
    })?;
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| UnpackError::Io {
        path: dest_name,
        source: e.into(),
    })?;
    let mut ex = Extractor {
        root: Rc::new(root),
        dirs: HashMap::new(),
        deferred: Vec::new(),
        opts: opts.clone(),
        entries: 0,
        file_bytes: 0,
        buf: vec![0; 128 * 1024],
    };

    let mut archive = tar::Archive::new(HashingReader {
        inner: stream,
        hasher: Sha256::new(),
    });
    for entry in archive.entries().map_err(UnpackError::Archive)? {
        let mut entry = entry.map_err(UnpackError::Archive)?;
        ex.entries += 1;
        ex.entry(&mut entry)?;
    }
    // The end-of-archive blocks and any padding belong to the DiffID too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(UnpackError::Archive)?;
    ex.finish()?;
    Ok(UnpackStats {
        diff_id: format!("sha256:{:x}", rest.hasher.finalize()),
        entries: ex.entries,
        file_bytes: ex.file_bytes,
    })
}

/// Picks the decompressor from the stream's magic bytes.
fn decompress<'a>(reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>, UnpackError> {
    let mut br = BufReader::with_capacity(256 * 1024, reader);
    let head = br.fill_buf().map_err(UnpackError::Archive)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(br)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(UnpackError::UnsupportedCompression("zstd"))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
        Err(UnpackError::UnsupportedCompression("xz"))
    } else if head.starts_with(b"BZh") {
        Err(UnpackError::UnsupportedCompression("bzip2"))
    } else {
        Ok(Box::new(br))
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Owner, mode, mtime and xattrs of one entry.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

struct Extractor {
    /// `dest`, opened read-only.
    root: Rc<OwnedFd>,
    /// Directories already opened (`O_PATH`), by path relative to the root. Cleared whenever an
    /// existing entry is replaced, since a replaced directory may be among them.
    dirs: HashMap<PathBuf, Rc<OwnedFd>>,
    /// Directory metadata, applied at the end.
    deferred: Vec<(PathBuf, Meta)>,
    opts: UnpackOptions,
    entries: u64,
    file_bytes: u64,
    buf: Vec<u8>,
}

/// Re-roots an archive path: drops `/` and `.`, refuses `..`.
fn normalize(raw: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err("the path has a '..' component".into()),
            Component::Prefix(_) => return Err("the path has a prefix".into()),
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

fn unsafe_path(path: &str, reason: impl Into<String>) -> UnpackError {
    UnpackError::UnsafePath {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn io_err(path: &str, e: impl Into<io::Error>) -> UnpackError {
    UnpackError::Io {
        path: path.to_string(),
        source: e.into(),
    }
}

fn split(rel: &Path) -> (&Path, &OsStr) {
    (
        rel.parent().unwrap_or(Path::new("")),
        rel.file_name().unwrap_or_default(),
    )
}

fn timestamps(mtime: i64) -> Timestamps {
    let t = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn open_subdir_path(parent: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn open_subdir_rdonly(parent: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Removes `name` in `parent`, recursively if it is a directory, never following symlinks.
fn remove_all_at(parent: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<()> {
    match rfs::unlinkat(parent, name, AtFlags::empty()) {
        Err(Errno::ISDIR) => {}
        other => return other,
    }
    let dir = open_subdir_rdonly(parent, name)?;
    let mut names = Vec::new();
    {
        let mut it = rfs::Dir::read_from(&dir)?;
        while let Some(ent) = it.read() {
            let ent = ent?;
            let n = ent.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(n.to_vec());
            }
        }
    }
    for n in names {
        remove_all_at(dir.as_fd(), OsStr::from_bytes(&n))?;
    }
    rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

impl Extractor {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw = entry.path().map_err(UnpackError::Archive)?.into_owned();
        let shown = raw.display().to_string();
        let kind = entry.header().entry_type();
        match kind {
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => return Ok(()),
            _ => {}
        }
        let rel = normalize(&raw).map_err(|r| unsafe_path(&shown, r))?;
        let meta = self.meta(entry, &shown)?;

        if rel.as_os_str().is_empty() {
            // The layer root itself ("./" or "/").
            if kind.is_dir() {
                self.deferred.push((rel, meta));
                return Ok(());
            }
            return Err(unsafe_path(
                &shown,
                "a non-directory entry for the layer root",
            ));
        }
        let (parent_rel, name) = split(&rel);
        if let Some(target) = name.as_bytes().strip_prefix(b".wh.") {
            return self.whiteout(parent_rel, target, &shown);
        }
        let parent = self.dir(parent_rel, true, &shown)?;

        match kind {
            EntryType::Directory => {
                match rfs::mkdirat(&*parent, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => {
                        let st = rfs::statat(&*parent, name, AtFlags::SYMLINK_NOFOLLOW)
                            .map_err(|e| io_err(&shown, e))?;
                        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                            self.remove_existing(parent.as_fd(), name, &shown)?;
                            rfs::mkdirat(&*parent, name, Mode::from_raw_mode(0o700))
                                .map_err(|e| io_err(&shown, e))?;
                        }
                    }
                    Err(e) => return Err(io_err(&shown, e)),
                }
                self.deferred.push((rel.clone(), meta));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let fd = self.create(parent.as_fd(), name, &shown, || {
                    rfs::openat(
                        &*parent,
                        name,
                        OFlags::WRONLY
                            | OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o600),
                    )
                })?;
                let mut file = File::from(fd);
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(UnpackError::Archive(e)),
                    };
                    file.write_all(&self.buf[..n])
                        .map_err(|e| io_err(&shown, e))?;
                    self.file_bytes += n as u64;
                }
                self.apply_fd(file.as_fd(), &meta, &shown)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(UnpackError::Archive)?
                    .filter(|t| !t.as_os_str().is_empty())
                    .ok_or_else(|| unsafe_path(&shown, "a symlink without a target"))?
                    .into_owned();
                self.create(parent.as_fd(), name, &shown, || {
                    rfs::symlinkat(&target, &*parent, name)
                })?;
                self.apply_at(parent.as_fd(), name, &meta, false, &shown)?;
            }
            EntryType::Link => {
                let raw_target = entry
                    .link_name()
                    .map_err(UnpackError::Archive)?
                    .ok_or_else(|| unsafe_path(&shown, "a hardlink without a target"))?
                    .into_owned();
                let target = normalize(&raw_target).map_err(|r| {
                    unsafe_path(
                        &shown,
                        format!("hardlink target {:?}: {r}", raw_target.display()),
                    )
                })?;
                if target.as_os_str().is_empty() {
                    return Err(unsafe_path(&shown, "a hardlink to the layer root"));
                }
                let (tparent_rel, tname) = split(&target);
                let tparent = self.dir(tparent_rel, false, &shown).map_err(|e| match e {
                    UnpackError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                        unsafe_path(
                            &shown,
                            format!(
                                "hardlink target {:?} is not in this layer",
                                raw_target.display()
                            ),
                        )
                    }
                    e => e,
                })?;
                self.create(parent.as_fd(), name, &shown, || {
                    rfs::linkat(&*tparent, tname, &*parent, name, AtFlags::empty())
                })
                .map_err(|e| match e {
                    UnpackError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                        unsafe_path(
                            &shown,
                            format!(
                                "hardlink target {:?} is not in this layer",
                                raw_target.display()
                            ),
                        )
                    }
                    e => e,
                })?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (file_type, dev) = match kind {
                    EntryType::Fifo => (FileType::Fifo, 0),
                    _ if !self.opts.devices => {
                        tracing::debug!(entry = %shown, "skipping device node (not root)");
                        return Ok(());
                    }
                    _ => {
                        let major = entry
                            .header()
                            .device_major()
                            .map_err(UnpackError::Archive)?
                            .unwrap_or(0);
                        let minor = entry
                            .header()
                            .device_minor()
                            .map_err(UnpackError::Archive)?
                            .unwrap_or(0);
                        let ft = if kind == EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rfs::makedev(major, minor))
                    }
                };
                self.create(parent.as_fd(), name, &shown, || {
                    rfs::mknodat(&*parent, name, file_type, Mode::from_raw_mode(0o600), dev)
                })?;
                self.apply_at(parent.as_fd(), name, &meta, true, &shown)?;
            }
            other => {
                tracing::debug!(entry = %shown, kind = ?other, "skipping unsupported tar entry type");
            }
        }
        Ok(())
    }

    fn meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        shown: &str,
    ) -> Result<Meta, UnpackError> {
        let h = entry.header();
        let bad =
            |e: io::Error| UnpackError::Archive(io::Error::new(e.kind(), format!("{shown}: {e}")));
        let mut meta = Meta {
            mode: h.mode().map_err(bad)? & 0o7777,
            // Lenient like GNU tar: an empty numeric field reads as 0.
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            mtime: h.mtime().unwrap_or(0) as i64,
            xattrs: Vec::new(),
        };
        if let Some(exts) = entry.pax_extensions().map_err(UnpackError::Archive)? {
            for ext in exts {
                let ext = ext.map_err(UnpackError::Archive)?;
                let key = ext.key_bytes();
                let value = ext.value_bytes();
                let num = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.split('.').next())
                        .and_then(|v| v.parse::<i64>().ok())
                };
                match key {
                    b"uid" => meta.uid = num().unwrap_or(meta.uid as i64) as u32,
                    b"gid" => meta.gid = num().unwrap_or(meta.gid as i64) as u32,
                    b"mtime" => meta.mtime = num().unwrap_or(meta.mtime),
                    _ => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            meta.xattrs.push((name.to_vec(), value.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(meta)
    }

    /// Opens the directory `rel` (relative to the root) one component at a time, never following a
    /// symlink; with `create`, missing directories are made (mode 0755, like other runtimes).
    fn dir(&mut self, rel: &Path, create: bool, shown: &str) -> Result<Rc<OwnedFd>, UnpackError> {
        if rel.as_os_str().is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(fd) = self.dirs.get(rel) {
            return Ok(fd.clone());
        }
        let (parent_rel, name) = split(rel);
        let parent = self.dir(parent_rel, create, shown)?;
        let fd = match open_subdir_path(parent.as_fd(), name) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rfs::mkdirat(&*parent, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_err(shown, e)),
                }
                open_subdir_path(parent.as_fd(), name).map_err(|e| io_err(shown, e))?
            }
            Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
                return Err(unsafe_path(
                    shown,
                    format!(
                        "{:?} is not a directory in this layer (symlinks are never followed while unpacking)",
                        rel.display()
                    ),
                ))
            }
            Err(e) => return Err(io_err(shown, e)),
        };
        let fd = Rc::new(fd);
        if self.dirs.len() >= 4096 {
            self.dirs.clear();
        }
        self.dirs.insert(rel.to_path_buf(), fd.clone());
        Ok(fd)
    }

    /// Runs `make`; if the name exists, removes what is there (recursively for a directory) and
    /// runs it once more: a later entry replaces an earlier one, as tar does.
    fn create<T>(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
        mut make: impl FnMut() -> rustix::io::Result<T>,
    ) -> Result<T, UnpackError> {
        match make() {
            Err(Errno::EXIST) => {
                self.remove_existing(parent, name, shown)?;
                make().map_err(|e| io_err(shown, e))
            }
            other => other.map_err(|e| io_err(shown, e)),
        }
    }

    fn remove_existing(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
    ) -> Result<(), UnpackError> {
        // Any cached directory may be the one removed.
        self.dirs.clear();
        remove_all_at(parent, name).map_err(|e| io_err(shown, e))
    }

    fn whiteout(
        &mut self,
        parent_rel: &Path,
        target: &[u8],
        shown: &str,
    ) -> Result<(), UnpackError> {
        if target == b".wh..opq" {
            let dir = if parent_rel.as_os_str().is_empty() {
                self.root.clone()
            } else {
                let (gp_rel, dname) = split(parent_rel);
                // Make sure the directory exists, then open it for real (xattrs need a non-O_PATH fd).
                self.dir(parent_rel, true, shown)?;
                let gp = self.dir(gp_rel, false, shown)?;
                Rc::new(open_subdir_rdonly(gp.as_fd(), dname).map_err(|e| io_err(shown, e))?)
            };
            return rfs::fsetxattr(&*dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())
                .map_err(|e| {
                    io_err(
                        shown,
                        io::Error::new(
                            io::Error::from(e).kind(),
                            format!("marking the directory opaque (trusted.overlay.opaque needs root): {e}"),
                        ),
                    )
                });
        }
        if target.starts_with(b".wh.") {
            tracing::debug!(entry = %shown, "skipping aufs metadata entry");
            return Ok(());
        }
        if target.is_empty() || target == b"." || target == b".." || target.contains(&b'/') {
            return Err(unsafe_path(shown, "a whiteout without a valid name"));
        }
        let name = OsStr::from_bytes(target);
        let parent = self.dir(parent_rel, true, shown)?;
        self.create(parent.as_fd(), name, shown, || {
            rfs::mknodat(
                &*parent,
                name,
                FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
        })
        .map_err(|e| match e {
            UnpackError::Io { path, source } if source.kind() == io::ErrorKind::PermissionDenied => {
                UnpackError::Io {
                    path,
                    source: io::Error::new(
                        source.kind(),
                        format!("creating the overlay whiteout (a 0/0 character device needs root): {source}"),
                    ),
                }
            }
            e => e,
        })
    }

    /// Owner, mode, xattrs and times on an open regular file or directory.
    fn apply_fd(&self, fd: BorrowedFd<'_>, meta: &Meta, shown: &str) -> Result<(), UnpackError> {
        if self.opts.chown {
            rfs::fchown(
                fd,
                Some(Uid::from_raw_unchecked(meta.uid)),
                Some(Gid::from_raw_unchecked(meta.gid)),
            )
            .map_err(|e| io_err(shown, e))?;
        }
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(|e| io_err(shown, e))?;
        for (k, v) in &meta.xattrs {
            if k.starts_with(b"trusted.overlay.") {
                tracing::warn!(entry = %shown, "dropping a trusted.overlay.* xattr from the layer");
                continue;
            }
            if let Err(e) = rfs::fsetxattr(fd, k.as_slice(), v, XattrFlags::empty()) {
                tracing::debug!(entry = %shown, xattr = %String::from_utf8_lossy(k), error = %e, "xattr not set");
            }
        }
        rfs::futimens(fd, &timestamps(meta.mtime)).map_err(|e| io_err(shown, e))
    }

    /// Owner, mode (not for symlinks) and times by name, without following a symlink.
    fn apply_at(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        chmod: bool,
        shown: &str,
    ) -> Result<(), UnpackError> {
        if self.opts.chown {
            rfs::chownat(
                parent,
                name,
                Some(Uid::from_raw_unchecked(meta.uid)),
                Some(Gid::from_raw_unchecked(meta.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| io_err(shown, e))?;
        }
        if chmod {
            // Only called for nodes just created by mknodat: not a symlink.
            rfs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )
            .map_err(|e| io_err(shown, e))?;
        }
        rfs::utimensat(
            parent,
            name,
            &timestamps(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err(shown, e))
    }

    /// Applies the deferred directory metadata.
    fn finish(&mut self) -> Result<(), UnpackError> {
        let deferred = std::mem::take(&mut self.deferred);
        for (rel, meta) in deferred.iter().rev() {
            let shown = rel.display().to_string();
            let fd = if rel.as_os_str().is_empty() {
                self.root.clone()
            } else {
                let (parent_rel, name) = split(rel);
                let Ok(parent) = self.dir(parent_rel, false, &shown) else {
                    continue; // replaced or removed by a later entry
                };
                match open_subdir_rdonly(parent.as_fd(), name) {
                    Ok(fd) => Rc::new(fd),
                    Err(_) => continue,
                }
            };
            self.apply_fd(fd.as_fd(), meta, &shown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_reroots_and_refuses_parent() {
        assert_eq!(normalize(Path::new("/a/b")).unwrap(), PathBuf::from("a/b"));
        assert_eq!(
            normalize(Path::new("./a/./b/")).unwrap(),
            PathBuf::from("a/b")
        );
        assert_eq!(normalize(Path::new("./")).unwrap(), PathBuf::new());
        assert!(normalize(Path::new("../x")).is_err());
        assert!(normalize(Path::new("a/../../x")).is_err());
        assert!(normalize(Path::new("a/..")).is_err());
    }

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_000_000);
            h.set_entry_type(EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn plain_and_gzip_give_the_same_diff_id() {
        let tar = tar_with(&[("a/b.txt", b"hello"), ("c", b"")]);
        let expect = format!("sha256:{:x}", Sha256::digest(&tar));
        let opts = UnpackOptions {
            chown: false,
            devices: false,
        };
        let d1 = tempfile_dir("plain");
        let s1 = unpack_layer_with(&tar[..], &d1, &opts).unwrap();
        assert_eq!(s1.diff_id, expect);
        assert_eq!(s1.file_bytes, 5);
        assert_eq!(std::fs::read(d1.join("a/b.txt")).unwrap(), b"hello");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let d2 = tempfile_dir("gzip");
        let s2 = unpack_layer_with(&gz[..], &d2, &opts).unwrap();
        assert_eq!(s2.diff_id, expect);
        assert_eq!(std::fs::read(d2.join("a/b.txt")).unwrap(), b"hello");
        let _ = std::fs::remove_dir_all(d1);
        let _ = std::fs::remove_dir_all(d2);
    }

    #[test]
    fn zstd_is_refused_clearly() {
        let err =
            unpack_layer(&[0x28u8, 0xb5, 0x2f, 0xfd, 0, 0][..], &tempfile_dir("zstd")).unwrap_err();
        assert!(matches!(err, UnpackError::UnsupportedCompression("zstd")));
    }

    fn tempfile_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "skiff-unpack-unit-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
