//! Layer unpacking: hostile archives refused with nothing written outside, whiteouts in overlayfs
//! form, links, devices, ownership, modes and mtimes.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use skiff_kubelet::image::test_util::{require_root, LayerBuilder};
use skiff_kubelet::image::unpack::{unpack_layer, UnpackError};
use tar::EntryType;

use crate::support::{tempdir, tree};

/// Unpacks `layer` into `<sandbox>/a/b/root`, returning the sandbox and the result.
fn unpack_in_sandbox(layer: Vec<u8>) -> (tempfile::TempDir, Result<(), UnpackError>) {
    let sandbox = tempdir();
    std::fs::create_dir_all(sandbox.path().join("outside")).unwrap();
    let dest = sandbox.path().join("a/b/root");
    let res = unpack_layer(&layer[..], &dest).map(|_| ());
    (sandbox, res)
}

/// Everything in the sandbox except the layer root's own content.
fn outside(sandbox: &Path) -> Vec<String> {
    tree(sandbox)
        .into_iter()
        .filter(|p| !p.starts_with("a/b/root/"))
        .map(|p| p.display().to_string())
        .collect()
}

fn expect_refused(res: Result<(), UnpackError>, what: &str) -> String {
    match res {
        Err(e @ UnpackError::UnsafePath { .. }) => e.to_string(),
        other => panic!("{what}: expected UnsafePath, got {other:?}"),
    }
}

/// The sandbox outside the layer root (`a/b/root` itself and its content are filtered out).
const UNTOUCHED: [&str; 3] = ["a", "a/b", "outside"];

#[test]
fn dotdot_paths_are_refused() {
    for name in [
        "../../evil",
        "../evil",
        "x/../../../evil",
        "./../evil",
        "/../evil",
    ] {
        let layer = LayerBuilder::new()
            .file("ok", b"fine", 0o644)
            .raw(EntryType::Regular, name.as_bytes(), None, b"pwned")
            .into_gzip();
        let (sandbox, res) = unpack_in_sandbox(layer);
        let msg = expect_refused(res, name);
        assert!(msg.contains(".."), "{msg}");
        assert_eq!(outside(sandbox.path()), UNTOUCHED, "{name} wrote outside");
    }
}

#[test]
fn absolute_paths_are_rerooted() {
    let layer = LayerBuilder::new()
        .raw(EntryType::Regular, b"/etc/evil-abs", None, b"inside")
        .into_tar();
    let (sandbox, res) = unpack_in_sandbox(layer);
    res.unwrap();
    let dest = sandbox.path().join("a/b/root");
    assert_eq!(std::fs::read(dest.join("etc/evil-abs")).unwrap(), b"inside");
    assert!(!Path::new("/etc/evil-abs").exists());
}

#[test]
fn symlinked_parents_are_not_followed() {
    let sandbox_probe = tempdir();
    let target = sandbox_probe.path().join("outside");
    std::fs::create_dir_all(&target).unwrap();
    let cases: Vec<(&str, LayerBuilder)> = vec![
        (
            "absolute symlink to a directory outside",
            LayerBuilder::new()
                .symlink("x", target.to_str().unwrap())
                .file("x/evil", b"pwned", 0o644),
        ),
        (
            "symlink to /tmp",
            LayerBuilder::new()
                .symlink("x", "/tmp")
                .file("x/skiff-evil", b"pwned", 0o644),
        ),
        (
            "relative symlink climbing out",
            LayerBuilder::new()
                .dir("d", 0o755)
                .symlink("d/up", "../../../outside")
                .file("d/up/evil", b"pwned", 0o644),
        ),
        (
            "directory replaced by a symlink",
            LayerBuilder::new()
                .dir("x", 0o755)
                .file("x/first", b"ok", 0o644)
                .symlink("x", "/tmp")
                .file("x/skiff-evil", b"pwned", 0o644),
        ),
        (
            "symlink then a directory entry under it",
            LayerBuilder::new()
                .symlink("x", "/tmp")
                .dir("x/skiff-evil-dir", 0o755),
        ),
        (
            "hardlink through a symlinked parent",
            LayerBuilder::new()
                .symlink("etc", "/etc")
                .hardlink("pw", "etc/passwd"),
        ),
    ];
    for (what, layer) in cases {
        let (sandbox, res) = unpack_in_sandbox(layer.into_tar());
        let msg = expect_refused(res, what);
        assert!(msg.contains("symlink"), "{what}: {msg}");
        assert_eq!(outside(sandbox.path()), UNTOUCHED, "{what} wrote outside");
        assert!(
            tree(&target).is_empty(),
            "{what} wrote into the symlink's target"
        );
        assert!(
            !Path::new("/tmp/skiff-evil").exists(),
            "{what} wrote into /tmp"
        );
        assert!(
            !Path::new("/tmp/skiff-evil-dir").exists(),
            "{what} wrote into /tmp"
        );
    }
}

#[test]
fn hardlinks_outside_the_layer_are_refused() {
    let passwd_ino = std::fs::metadata("/etc/passwd").unwrap().ino();
    for target in ["/etc/passwd", "../../../../../../etc/passwd", "etc/passwd"] {
        let layer = LayerBuilder::new().hardlink("pw", target).into_tar();
        let (sandbox, res) = unpack_in_sandbox(layer);
        let msg = expect_refused(res, target);
        assert!(
            msg.contains("not in this layer") || msg.contains(".."),
            "{target}: {msg}"
        );
        for p in tree(sandbox.path()) {
            let m = std::fs::symlink_metadata(sandbox.path().join(&p)).unwrap();
            assert_ne!(m.ino(), passwd_ino, "{target}: {p:?} is /etc/passwd");
        }
        assert_eq!(outside(sandbox.path()), UNTOUCHED);
    }
}

#[test]
fn links_within_the_layer_work() {
    let layer = LayerBuilder::new()
        .dir("bin", 0o755)
        .file("bin/busybox", b"#!binary", 0o755)
        .symlink("bin/sh", "busybox")
        .symlink("bin/abs", "/bin/busybox")
        .symlink("dangling", "../../../../nowhere")
        .hardlink("bin/hard", "/bin/busybox")
        .hardlink("bin/hard2", "./bin/busybox")
        .into_gzip();
    let (sandbox, res) = unpack_in_sandbox(layer);
    res.unwrap();
    let root = sandbox.path().join("a/b/root");
    assert_eq!(
        std::fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read_link(root.join("bin/abs")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(
        std::fs::read_link(root.join("dangling")).unwrap(),
        Path::new("../../../../nowhere"),
        "symlink targets are data, kept as written"
    );
    let ino = std::fs::metadata(root.join("bin/busybox")).unwrap().ino();
    assert_eq!(std::fs::metadata(root.join("bin/hard")).unwrap().ino(), ino);
    assert_eq!(
        std::fs::metadata(root.join("bin/hard2")).unwrap().ino(),
        ino
    );
    assert_eq!(
        std::fs::metadata(root.join("bin/busybox")).unwrap().nlink(),
        3
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let layer = LayerBuilder::new()
        .file("f", b"one", 0o644)
        .file("f", b"two", 0o600)
        .dir("d", 0o755)
        .file("d/inner", b"x", 0o644)
        .file("d", b"now a file", 0o644)
        .symlink("s", "a")
        .file("s", b"not a link", 0o644)
        .into_tar();
    let (sandbox, res) = unpack_in_sandbox(layer);
    res.unwrap();
    let root = sandbox.path().join("a/b/root");
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"two");
    assert_eq!(std::fs::read(root.join("d")).unwrap(), b"now a file");
    assert!(!std::fs::symlink_metadata(root.join("s"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn whiteouts_become_overlayfs_whiteouts() {
    require_root("whiteout conversion");
    let layer = LayerBuilder::new()
        .dir("a", 0o755)
        .whiteout("a/gone")
        .whiteout("top-gone")
        .dir("d", 0o755)
        .opaque("d")
        .file("d/kept", b"k", 0o644)
        .opaque("implicit")
        .file("a/.wh..wh.plnk", b"", 0o644)
        .into_gzip();
    let (sandbox, res) = unpack_in_sandbox(layer);
    res.unwrap();
    let root = sandbox.path().join("a/b/root");
    for wh in ["a/gone", "top-gone"] {
        let m = std::fs::symlink_metadata(root.join(wh)).unwrap();
        assert!(
            m.file_type().is_char_device(),
            "{wh} should be a char device"
        );
        assert_eq!(m.rdev(), 0, "{wh} should be 0/0");
    }
    assert!(!root.join("a/.wh.gone").exists());
    assert!(!root.join("a/.wh..wh.plnk").exists());
    for dir in ["d", "implicit"] {
        let mut buf = [0u8; 8];
        let n = rustix::fs::getxattr(root.join(dir), "trusted.overlay.opaque", &mut buf[..])
            .unwrap_or_else(|e| panic!("{dir} has no opaque xattr: {e}"));
        assert_eq!(&buf[..n], b"y");
        assert!(!root.join(dir).join(".wh..wh..opq").exists());
    }
    assert!(root.join("d/kept").exists());
}

#[test]
fn overlay_xattrs_from_the_archive_are_dropped() {
    require_root("trusted xattrs");
    // A PAX header carrying trusted.overlay.redirect must not reach the file system.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_size(1);
    h.set_mode(0o644);
    b.append_pax_extensions([
        ("SCHILY.xattr.trusted.overlay.redirect", b"/etc".as_slice()),
        ("SCHILY.xattr.user.note", b"hello".as_slice()),
    ])
    .unwrap();
    b.append_data(&mut h, "f", &b"x"[..]).unwrap();
    let (sandbox, res) = unpack_in_sandbox(b.into_inner().unwrap());
    res.unwrap();
    let f = sandbox.path().join("a/b/root/f");
    let mut buf = [0u8; 16];
    assert!(rustix::fs::getxattr(&f, "trusted.overlay.redirect", &mut buf[..]).is_err());
    let n = rustix::fs::getxattr(&f, "user.note", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"hello");
}

#[test]
fn ownership_modes_mtimes_and_devices() {
    require_root("chown and mknod");
    let layer = LayerBuilder::new()
        .mtime(1_000_000_000)
        .dir("ro", 0o555)
        .file_owned("ro/suid", b"x", 0o4755, 1234, 5678)
        .file_owned("plain", b"y", 0o640, 42, 43)
        .char_device("dev/null2", 1, 3, 0o666)
        .dir("sticky", 0o1777)
        .into_tar();
    let (sandbox, res) = unpack_in_sandbox(layer);
    res.unwrap();
    let root = sandbox.path().join("a/b/root");
    let suid = std::fs::metadata(root.join("ro/suid")).unwrap();
    assert_eq!((suid.uid(), suid.gid()), (1234, 5678));
    assert_eq!(
        suid.permissions().mode() & 0o7777,
        0o4755,
        "setuid survives chown"
    );
    assert_eq!(suid.mtime(), 1_000_000_000);
    let plain = std::fs::metadata(root.join("plain")).unwrap();
    assert_eq!(
        (plain.uid(), plain.gid(), plain.mode() & 0o7777),
        (42, 43, 0o640)
    );
    let ro = std::fs::metadata(root.join("ro")).unwrap();
    assert_eq!(
        ro.mode() & 0o7777,
        0o555,
        "directory mode applied after its content"
    );
    assert_eq!(
        ro.mtime(),
        1_000_000_000,
        "directory mtime kept despite its children"
    );
    assert_eq!(
        std::fs::metadata(root.join("sticky")).unwrap().mode() & 0o7777,
        0o1777
    );
    let dev = std::fs::symlink_metadata(root.join("dev/null2")).unwrap();
    assert!(dev.file_type().is_char_device());
    assert_eq!(dev.rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn truncated_archives_fail() {
    let layer = LayerBuilder::new()
        .file("big", &[7u8; 100_000], 0o644)
        .into_gzip();
    let cut = &layer[..layer.len() / 2];
    let (_sandbox, res) = unpack_in_sandbox(cut.to_vec());
    assert!(matches!(res, Err(UnpackError::Archive(_))), "{res:?}");
}
