//! Named, persistent network namespaces, the way `ip netns add` makes them.
//!
//! A namespace lives as long as something references it; a bind mount of a thread's
//! `/proc/thread-self/ns/net` onto a plain file in `dir` keeps it alive without any process.
//! `dir` itself is made a shared mount point (bind-mounted onto itself if it is not a mount
//! point yet, exactly as iproute2 does for `/run/netns`) so that the namespace mounts propagate
//! into mount namespaces created later (containers, `ip netns exec`), and unmounting here
//! unmounts everywhere.
//!
//! All functions are blocking (a few syscalls each); call them from `spawn_blocking` in async
//! code.

use std::io;
use std::path::{Path, PathBuf};

use rustix::mount::{MountPropagationFlags, UnmountFlags};

/// Valid namespace names: what fits in one path component and is easy to see in `ls`.
fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid network namespace name {name:?}"),
        ))
    }
}

/// Makes `dir` exist and be a shared mount point (`ip netns`'s `/run/netns` dance).
fn prepare_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let shared = MountPropagationFlags::SHARED | MountPropagationFlags::REC;
    match rustix::mount::mount_change(dir, shared) {
        Ok(()) => Ok(()),
        // EINVAL: not a mount point yet. Bind it onto itself, then make it shared.
        Err(rustix::io::Errno::INVAL) => {
            rustix::mount::mount_bind_recursive(dir, dir)?;
            rustix::mount::mount_change(dir, shared)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates the persistent network namespace `dir/name` and returns its path.
///
/// Fails with `AlreadyExists` if the file exists (a leftover from a crash: [`delete`] it first
/// or reuse it).
pub fn create(dir: &Path, name: &str) -> io::Result<PathBuf> {
    create_kind(dir, name, rustix::thread::UnshareFlags::NEWNET, "net")
}

/// Creates a persistent IPC namespace `dir/name` the same way (the pod's shared IPC namespace,
/// which upstream's pause container holds); remove it with [`delete_path`].
pub fn create_ipc(dir: &Path, name: &str) -> io::Result<PathBuf> {
    create_kind(dir, name, rustix::thread::UnshareFlags::NEWIPC, "ipc")
}

fn create_kind(
    dir: &Path,
    name: &str,
    flags: rustix::thread::UnshareFlags,
    kind: &'static str,
) -> io::Result<PathBuf> {
    check_name(name)?;
    prepare_dir(dir)?;
    let path = dir.join(name);
    // The mount point: an empty file, created exclusively so two creators cannot share it.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let target = path.clone();
    // A fresh thread (not a tokio worker) unshares the namespace, pins it with a bind mount, and
    // exits; the thread's other namespaces are untouched.
    let result = std::thread::Builder::new()
        .name(format!("skiff-{kind}ns"))
        .spawn(move || -> io::Result<()> {
            // `unshare` is only deprecated because CLONE_FILES makes it unsound; NEWNET and
            // NEWIPC are fine.
            #[allow(deprecated)]
            rustix::thread::unshare(flags)?;
            rustix::mount::mount_bind(format!("/proc/thread-self/ns/{kind}"), &target)?;
            Ok(())
        })?
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(path)
}

/// Whether `path` is a mounted network namespace (an nsfs bind mount).
// `f_type`'s integer type differs between architectures.
#[allow(clippy::unnecessary_cast)]
pub fn is_netns(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    rustix::fs::statfs(path).is_ok_and(|st| st.f_type as i64 == NSFS_MAGIC)
}

/// Unmounts and removes the namespace file `path`. Idempotent: a missing file or a file that is
/// not mounted is fine.
pub fn delete_path(path: &Path) -> io::Result<()> {
    // Lazy unmount, as `ip netns del`: processes still inside keep the namespace alive.
    loop {
        match rustix::mount::unmount(path, UnmountFlags::DETACH) {
            // Stacked mounts (two creators racing): peel them all.
            Ok(()) => continue,
            Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(rustix::io::Errno::INVAL) => break, // not a mount point (anymore)
            Err(e) => return Err(e.into()),
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the namespace `dir/name` (see [`delete_path`]).
pub fn delete(dir: &Path, name: &str) -> io::Result<()> {
    check_name(name)?;
    delete_path(&dir.join(name))
}

/// The names of the entries in `dir` (mounted namespaces and leftover empty files alike, so a
/// crash between creating the file and mounting it is cleaned up too), sorted.
pub fn list(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Ok(name) = entry.file_name().into_string() {
            if check_name(&name).is_ok() && entry.file_type()?.is_file() {
                names.push(name);
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Runs `f` on a fresh thread that has entered the network namespace at `path` (the calling
/// thread is untouched). Handy for tests and for the odd in-namespace socket operation.
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let file = std::fs::File::open(path)?;
    std::thread::Builder::new()
        .name("skiff-netns-run".into())
        .spawn(move || -> io::Result<T> {
            use std::os::fd::AsFd;
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            drop(file);
            Ok(f())
        })?
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("0b7c2a3e-1234-4c8e-9f00-aa11bb22cc33").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("..").is_err());
        assert!(check_name("a/b").is_err());
    }

    #[test]
    fn list_missing_dir_is_empty() {
        assert!(list(Path::new("/nonexistent/skiff-netns"))
            .unwrap()
            .is_empty());
    }
}
