//! Overlay root filesystems over unpacked layers (root only).

use std::path::{Path, PathBuf};

use skiff_kubelet::image::overlay::{is_mount_point, mount_rootfs, unmount};
use skiff_kubelet::image::test_util::{require_root, LayerBuilder};
use skiff_kubelet::image::unpack::unpack_layer;

use crate::support::tempdir;

/// Unmounts on drop, so a failed assertion leaves no mount behind.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = unmount(&self.0);
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn rootfs_shows_all_layers_with_whiteouts_applied() {
    require_root("overlay mounts");
    let base = tempdir();
    let layers: Vec<PathBuf> = [
        LayerBuilder::new()
            .dir("etc", 0o755)
            .file("etc/base", b"base", 0o644)
            .file("etc/removed", b"will be deleted", 0o644)
            .dir("data", 0o755)
            .file("data/old1", b"1", 0o644)
            .file("data/old2", b"2", 0o644)
            .file("shadowed", b"lower", 0o644),
        LayerBuilder::new()
            .whiteout("etc/removed")
            .opaque("data")
            .file("data/new", b"n", 0o644)
            .file("shadowed", b"middle", 0o644),
        LayerBuilder::new()
            .dir("bin", 0o755)
            .file("bin/tool", b"#!", 0o755)
            .file("shadowed", b"top", 0o644),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, l)| {
        let dir = base.path().join(format!("layers/{i}"));
        unpack_layer(&l.into_gzip()[..], &dir).unwrap();
        dir
    })
    .collect();
    let (upper, work, target) = (
        base.path().join("upper"),
        base.path().join("work"),
        base.path().join("rootfs"),
    );
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    mount_rootfs(&layers, &upper, &work, &target).unwrap();
    let guard = Mounted(target.clone());
    assert!(is_mount_point(&target).unwrap());

    assert_eq!(names(&target), ["bin", "data", "etc", "shadowed"]);
    assert_eq!(
        names(&target.join("etc")),
        ["base"],
        "whiteout hides etc/removed"
    );
    assert_eq!(
        names(&target.join("data")),
        ["new"],
        "opaque dir hides lower content"
    );
    assert_eq!(std::fs::read(target.join("shadowed")).unwrap(), b"top");
    assert_eq!(std::fs::read(target.join("bin/tool")).unwrap(), b"#!");

    // Writes go to the upper directory; the layers stay untouched.
    std::fs::write(target.join("etc/base"), b"changed").unwrap();
    std::fs::remove_file(target.join("bin/tool")).unwrap();
    assert_eq!(std::fs::read(upper.join("etc/base")).unwrap(), b"changed");
    assert_eq!(std::fs::read(layers[0].join("etc/base")).unwrap(), b"base");
    assert!(layers[2].join("bin/tool").exists());

    drop(guard);
    assert!(!is_mount_point(&target).unwrap());
    assert!(names(&target).is_empty());
    // Unmounting again is fine (cleanup after a crash repeats it).
    unmount(&target).unwrap();
}

#[test]
fn more_layers_than_one_page_of_mount_options() {
    require_root("overlay mounts");
    let base = tempdir();
    let n = 120;
    let layers: Vec<PathBuf> = (0..n)
        .map(|i| {
            let dir = base.path().join("layers/sha256").join(format!("{i:064x}"));
            let layer = LayerBuilder::new().file(&format!("f{i:03}"), b"x", 0o644);
            unpack_layer(&layer.into_tar()[..], &dir).unwrap();
            dir
        })
        .collect();
    let option_bytes: usize = layers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(
        option_bytes > 4096,
        "the test must exceed a page ({option_bytes})"
    );
    let (upper, work, target) = (
        base.path().join("upper"),
        base.path().join("work"),
        base.path().join("rootfs"),
    );
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    mount_rootfs(&layers, &upper, &work, &target)
        .expect("this kernel (6.8+) takes lowerdir+ one layer at a time");
    let _guard = Mounted(target.clone());
    assert_eq!(names(&target).len(), n);
}
