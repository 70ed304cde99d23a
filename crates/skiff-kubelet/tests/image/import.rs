//! Images without a registry: importing OCI and docker-archive tarballs (ours, and skopeo's), building
//! an image from a directory, removing, and two store instances (two processes: the agent and
//! `skiff image`) on one directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use skiff_kubelet::image::test_util::{
    build_busybox_image, busybox_layer, require_busybox, require_root, ImageBuilder, LayerBuilder,
    TestImage, BUSYBOX,
};
use skiff_kubelet::image::{
    overlay, BuildOptions, ImageStore, ImportOptions, PullOptions, PullPolicy, StoreError,
};

use crate::support::{tempdir, tree};

/// `dir` as a tar file at `dest` (entries relative to `dir`).
fn tar_dir(dir: &Path, dest: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(dest).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}

/// An OCI archive of `image`, its index entry annotated with `ref_name` if given.
fn oci_archive(image: &TestImage, ref_name: Option<&str>, dest: &Path) {
    let dir = tempdir();
    image.write_oci_layout(dir.path()).unwrap();
    if let Some(name) = ref_name {
        let path = dir.path().join("index.json");
        let mut index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        index["manifests"][0]["annotations"] =
            serde_json::json!({"org.opencontainers.image.ref.name": name});
        std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    }
    tar_dir(dir.path(), dest);
}

fn blob_count(store: &ImageStore) -> usize {
    std::fs::read_dir(store.root().join("blobs/sha256"))
        .unwrap()
        .count()
}

fn ingest_is_empty(store: &ImageStore) -> bool {
    std::fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .next()
        .is_none()
}

async fn import(store: &ImageStore, file: &Path) -> Vec<skiff_kubelet::image::ImportedImage> {
    store
        .import_archive(file, &ImportOptions::default())
        .await
        .unwrap_or_else(|e| panic!("importing {}: {e}", file.display()))
}

#[tokio::test]
async fn oci_archive_is_imported_and_found_by_its_short_name() {
    let image = build_busybox_image(&["sh", "-c", "echo imported"]);
    let work = tempdir();
    let file = work.path().join("busybox.oci.tar");
    oci_archive(&image, Some("bbimport:1"), &file);
    let store = ImageStore::open(&work.path().join("store")).unwrap();

    let got = import(&store, &file).await;
    assert_eq!(got.len(), 1);
    let rec = &got[0].record;
    assert!(!got[0].unchanged());
    assert_eq!(rec.id, image.config.digest);
    assert_eq!(rec.manifest_digest, image.manifest_digest);
    assert_eq!(rec.repo_tags, vec!["docker.io/library/bbimport:1"]);
    assert_eq!(
        rec.repo_digests,
        vec![format!(
            "docker.io/library/bbimport@{}",
            image.manifest_digest
        )]
    );
    assert_eq!(rec.config.cmd, vec!["sh", "-c", "echo imported"]);
    assert_eq!(got[0].blobs_written, 3);
    assert_eq!(got[0].layers_unpacked, 1);
    let layer = &store.layer_paths(rec)[0];
    assert!(layer.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(layer.join("bin/sh")).unwrap(),
        PathBuf::from("busybox")
    );

    // What a pod with `image: bbimport:1` does: IfNotPresent by default, found, no registry.
    let policy = PullPolicy::for_container(None, "bbimport:1");
    assert_eq!(policy, PullPolicy::IfNotPresent);
    let (found, pulled) = store
        .ensure("bbimport:1", policy, &PullOptions::default())
        .await
        .unwrap();
    assert!(!pulled);
    assert_eq!(found.id, rec.id);
    let (found, _) = store
        .ensure("bbimport:1", PullPolicy::Never, &PullOptions::default())
        .await
        .unwrap();
    assert_eq!(found.id, rec.id);

    // Again: nothing new, and it says so.
    let blobs = blob_count(&store);
    let again = import(&store, &file).await;
    assert!(again[0].unchanged(), "{:?}", again[0]);
    assert_eq!(blob_count(&store), blobs);
    assert!(ingest_is_empty(&store));

    // The same image as a docker-archive: one more name, and not one blob more (a second copy of
    // its content would only be garbage no record refers to).
    let docker = work.path().join("busybox.docker.tar");
    docker_archive(&image, &["bbimport:docker"], &docker, false);
    let got = import(&store, &docker).await;
    assert_eq!(got[0].record.id, rec.id);
    assert_eq!((got[0].blobs_written, got[0].layers_unpacked), (0, 0));
    assert!(got[0].index_changed);
    assert_eq!(blob_count(&store), blobs);
    assert_eq!(store.get("bbimport:docker").unwrap().id, rec.id);
}

#[tokio::test]
async fn oci_archive_without_a_name_takes_the_tag_given() {
    let image = build_busybox_image(&["true"]);
    let work = tempdir();
    let file = work.path().join("anon.tar");
    oci_archive(&image, Some("latest"), &file); // a bare tag names no repository
    let store = ImageStore::open(&work.path().join("store")).unwrap();
    let got = import(&store, &file).await;
    assert!(got[0].record.repo_tags.is_empty());
    assert!(store.get(&image.config.digest).is_some());

    let opts = ImportOptions {
        tag: Some("example.com/team/anon:v2".into()),
        ..ImportOptions::default()
    };
    let got = store.import_archive(&file, &opts).await.unwrap();
    assert_eq!(got[0].record.repo_tags, vec!["example.com/team/anon:v2"]);
    assert_eq!(got[0].blobs_written + got[0].layers_unpacked, 0);
    assert!(got[0].index_changed);
    assert_eq!(
        store.get("example.com/team/anon:v2").unwrap().id,
        image.config.digest
    );
}

/// A docker-archive as `docker save` writes it: `manifest.json`, `<config hex>.json`,
/// `<id>/layer.tar` uncompressed (one of them a symlink to an identical layer elsewhere).
fn docker_archive(image: &TestImage, tags: &[&str], dest: &Path, gzip_whole: bool) {
    let dir = tempdir();
    let config_name = format!("{}.json", image.config.digest.trim_start_matches("sha256:"));
    std::fs::write(dir.path().join(&config_name), &image.config.data).unwrap();
    let mut layers = Vec::new();
    for (i, l) in image.layers.iter().enumerate() {
        std::fs::create_dir_all(dir.path().join(format!("real{i}"))).unwrap();
        std::fs::write(dir.path().join(format!("real{i}/layer.tar")), &l.data).unwrap();
        std::fs::create_dir_all(dir.path().join(format!("l{i}"))).unwrap();
        std::os::unix::fs::symlink(
            format!("../real{i}/layer.tar"),
            dir.path().join(format!("l{i}/layer.tar")),
        )
        .unwrap();
        layers.push(format!("l{i}/layer.tar"));
    }
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": tags,
        "Layers": layers,
    }]);
    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let plain = dest.with_extension("plain");
    tar_dir(dir.path(), &plain);
    if gzip_whole {
        let data = std::fs::read(&plain).unwrap();
        std::fs::write(dest, skiff_kubelet::image::test_util::gzip(&data)).unwrap();
    } else {
        std::fs::rename(&plain, dest).unwrap();
    }
}

#[tokio::test]
async fn docker_archive_with_uncompressed_layers() {
    let image = ImageBuilder::new()
        .layer(busybox_layer().into_tar())
        .layer(
            LayerBuilder::new()
                .dir("etc", 0o755)
                .file("etc/motd", b"imported\n", 0o644)
                .whiteout("etc/group")
                .into_tar(),
        )
        .gzip(false)
        .entrypoint(&["/bin/sh"])
        .working_dir("/tmp")
        .build();
    let work = tempdir();
    let file = work.path().join("docker.tar");
    docker_archive(&image, &["bbdocker:2", "example.com/bb:2"], &file, false);
    let store = ImageStore::open(&work.path().join("store")).unwrap();

    let got = import(&store, &file).await;
    assert_eq!(got.len(), 1);
    let rec = &got[0].record;
    assert_eq!(rec.id, image.config.digest);
    assert_eq!(
        rec.repo_tags,
        vec!["docker.io/library/bbdocker:2", "example.com/bb:2"]
    );
    assert!(rec.repo_digests.is_empty());
    assert_eq!(rec.config.entrypoint, vec!["/bin/sh"]);
    assert_eq!(rec.config.working_dir, "/tmp");
    for (l, diff_id) in rec.layers.iter().zip(&image.diff_ids) {
        assert_eq!(&l.diff_id, diff_id);
        assert_eq!(&l.digest, diff_id, "an uncompressed layer is its own blob");
        assert_eq!(l.media_type, "application/vnd.oci.image.layer.v1.tar");
    }
    let top = &store.layer_paths(rec)[1];
    assert_eq!(
        std::fs::read_to_string(top.join("etc/motd")).unwrap(),
        "imported\n"
    );
    assert!(store.blob_path(&rec.manifest_digest).unwrap().is_file());
    assert_eq!(store.get("bbdocker:2").unwrap().id, rec.id);

    // Again, and gzip-compressed as a whole: the same image, nothing written.
    let blobs = blob_count(&store);
    assert!(import(&store, &file).await[0].unchanged());
    let gz = work.path().join("docker.tar.gz");
    docker_archive(&image, &["bbdocker:2"], &gz, true);
    let again = import(&store, &gz).await;
    assert!(again[0].unchanged(), "{:?}", again[0]);
    assert_eq!(again[0].record.manifest_digest, rec.manifest_digest);
    assert_eq!(blob_count(&store), blobs);
}

#[tokio::test]
async fn a_corrupt_blob_is_refused() {
    let image = build_busybox_image(&["true"]);
    let work = tempdir();
    let dir = work.path().join("layout");
    image.write_oci_layout(&dir).unwrap();
    let layer = dir
        .join("blobs/sha256")
        .join(image.layers[0].digest.trim_start_matches("sha256:"));
    let mut data = std::fs::read(&layer).unwrap();
    let n = data.len();
    data[n / 2] ^= 0xff;
    std::fs::write(&layer, data).unwrap();
    let file = work.path().join("corrupt.tar");
    tar_dir(&dir, &file);
    let store = ImageStore::open(&work.path().join("store")).unwrap();
    let err = store
        .import_archive(&file, &ImportOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(store.list().is_empty());
    assert!(ingest_is_empty(&store));
}

#[tokio::test]
async fn skopeo_archives_are_imported() {
    assert!(
        Path::new("/usr/bin/skopeo").exists(),
        "/usr/bin/skopeo not found: install Debian's skopeo (scripts/install-deps.sh does)"
    );
    let image = build_busybox_image(&["sh", "-c", "echo skopeo"]);
    let work = tempdir();
    let layout = work.path().join("layout");
    image.write_oci_layout(&layout).unwrap();
    let store = ImageStore::open(&work.path().join("store")).unwrap();
    let skopeo = |dest: &str| {
        let out = Command::new("/usr/bin/skopeo")
            .args(["--insecure-policy", "copy", "-q"])
            .arg(format!("oci:{}", layout.display()))
            .arg(dest)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy to {dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let docker = work.path().join("skopeo-docker.tar");
    skopeo(&format!("docker-archive:{}:bbskopeo:3", docker.display()));
    let got = import(&store, &docker).await;
    assert_eq!(got.len(), 1);
    let rec = &got[0].record;
    assert_eq!(rec.repo_tags, vec!["docker.io/library/bbskopeo:3"]);
    assert_eq!(
        rec.layers.iter().map(|l| &l.diff_id).collect::<Vec<_>>(),
        image.diff_ids.iter().collect::<Vec<_>>()
    );
    assert_eq!(rec.config.cmd, vec!["sh", "-c", "echo skopeo"]);
    assert!(store.layer_paths(rec)[0].join("bin/busybox").is_file());
    assert!(import(&store, &docker).await[0].unchanged());

    let oci = work.path().join("skopeo-oci.tar");
    skopeo(&format!("oci-archive:{}:bbskopeo-oci:4", oci.display()));
    let got = import(&store, &oci).await;
    // skopeo keeps the config: the same image, one more name, no new layer.
    assert_eq!(got[0].record.id, rec.id);
    assert_eq!(
        got[0].record.repo_tags,
        vec![
            "docker.io/library/bbskopeo:3",
            "docker.io/library/bbskopeo-oci:4"
        ]
    );
    assert_eq!(got[0].layers_unpacked, 0);
    assert_eq!(store.get("bbskopeo-oci:4").unwrap().id, rec.id);
}

/// A root file system as the quickstart makes it: Debian's static busybox and its applet links.
fn busybox_rootfs(dir: &Path) {
    require_busybox();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "sleep", "ls", "cat"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::os::unix::fs::symlink("/bin", dir.join("sbin")).unwrap();
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::hard_link(dir.join("etc/passwd"), dir.join("etc/passwd.hard")).unwrap();
}

#[tokio::test]
async fn a_directory_is_built_into_an_image() {
    let work = tempdir();
    let rootfs = work.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let store = ImageStore::open(&work.path().join("store")).unwrap();
    let mut opts = BuildOptions::new("skiff-demo:1");
    opts.cmd = vec!["sh".into(), "-c".into(), "echo built".into()];
    opts.env = vec!["GREETING=hi".into()];
    opts.working_dir = "/tmp".into();
    let built = store.build_image(&rootfs, &opts).await.unwrap();
    let rec = &built.record;
    assert_eq!(rec.repo_tags, vec!["docker.io/library/skiff-demo:1"]);
    assert_eq!(rec.config.cmd, vec!["sh", "-c", "echo built"]);
    assert_eq!(rec.config.working_dir, "/tmp");
    assert!(rec.config.env.iter().any(|e| e.starts_with("PATH=")));
    assert!(rec.config.env.contains(&"GREETING=hi".to_string()));
    assert_eq!(rec.platform, skiff_kubelet::image::Platform::host());
    assert_eq!(built.blobs_written, 3);
    assert_eq!(built.layers_unpacked, 1);

    // The layer: sorted entries, mtime 0, symlinks kept, the busybox binary whole.
    let blob = std::fs::File::open(store.blob_path(&rec.layers[0].digest).unwrap()).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(e.header().mtime().unwrap(), 0, "{name}");
        if name == "bin/busybox" {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            assert_eq!(data, std::fs::read(BUSYBOX).unwrap());
        }
        if name == "sbin" {
            assert_eq!(e.header().entry_type(), tar::EntryType::Symlink);
            assert_eq!(e.link_name().unwrap().unwrap().to_str(), Some("/bin"));
        }
        if name == "etc/passwd.hard" {
            assert_eq!(e.header().entry_type(), tar::EntryType::Link);
        }
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"bin/busybox".to_string()), "{names:?}");
    let layer = &store.layer_paths(rec)[0];
    assert!(tree(layer).contains(&PathBuf::from("bin/busybox")));
    assert_eq!(
        std::fs::read_link(layer.join("bin/sh")).unwrap(),
        PathBuf::from("busybox")
    );

    // Deterministic: the same directory is the same image, and nothing is written.
    let again = store.build_image(&rootfs, &opts).await.unwrap();
    assert_eq!(again.record.id, rec.id);
    assert!(again.unchanged(), "{again:?}");
    let (found, pulled) = store
        .ensure("skiff-demo:1", PullPolicy::Never, &PullOptions::default())
        .await
        .unwrap();
    assert!(!pulled);
    assert_eq!(found.id, rec.id);

    // Removed: its content goes.
    let removed = store.remove("skiff-demo:1").await.unwrap().unwrap();
    assert_eq!(removed.id, rec.id);
    assert!(store.get("skiff-demo:1").is_none());
    assert!(!layer.exists());
    assert_eq!(blob_count(&store), 0);
}

#[tokio::test]
async fn a_second_instance_sees_imports_and_nothing_is_lost() {
    let work = tempdir();
    let root = work.path().join("store");
    // The agent's store, open for the whole test.
    let agent = ImageStore::open(&root).unwrap();
    assert!(agent.list().is_empty());

    let a = build_busybox_image(&["echo", "a"]);
    let b = build_busybox_image(&["echo", "b"]);
    let (fa, fb) = (work.path().join("a.tar"), work.path().join("b.tar"));
    oci_archive(&a, Some("img-a:1"), &fa);
    oci_archive(&b, Some("img-b:1"), &fb);

    // `skiff image import` in another process: another instance on the same directory.
    let cli = ImageStore::open(&root).unwrap();
    import(&cli, &fa).await;
    assert_eq!(agent.get("img-a:1").unwrap().id, a.config.digest);
    let (found, pulled) = agent
        .ensure("img-a:1", PullPolicy::IfNotPresent, &PullOptions::default())
        .await
        .unwrap();
    assert!(!pulled);
    assert_eq!(found.id, a.config.digest);

    // Both write at once: neither update is lost, in either instance or on disk.
    let cli2 = ImageStore::open(&root).unwrap();
    let (plain, retag) = (
        ImportOptions::default(),
        ImportOptions {
            tag: Some("img-a:2".into()),
            ..ImportOptions::default()
        },
    );
    let (ra, rb) = tokio::join!(
        agent.import_archive(&fb, &plain),
        cli2.import_archive(&fa, &retag),
    );
    ra.unwrap();
    rb.unwrap();
    for s in [&agent, &cli, &cli2, &ImageStore::open(&root).unwrap()] {
        assert_eq!(s.get("img-b:1").unwrap().id, b.config.digest);
        let ra = s.get("img-a:2").unwrap();
        assert_eq!(ra.id, a.config.digest);
        assert!(ra
            .repo_tags
            .contains(&"docker.io/library/img-a:1".to_string()));
        assert_eq!(s.list().len(), 2);
    }

    // A removal in one is seen by the other; the shared busybox layer stays for the other image.
    cli.remove("img-a:1").await.unwrap().unwrap();
    assert!(agent.get("img-a:2").is_none());
    let rb = agent.get("img-b:1").unwrap();
    assert!(agent.layer_paths(&rb)[0].join("bin/busybox").exists());
}

#[tokio::test]
async fn an_image_in_use_is_not_removed() {
    require_root("mounting an overlay");
    let image = build_busybox_image(&["true"]);
    let work = tempdir();
    let file = work.path().join("inuse.tar");
    oci_archive(&image, Some("inuse:1"), &file);
    let store = ImageStore::open(&work.path().join("store")).unwrap();
    let rec = import(&store, &file).await.remove(0).record;
    let (upper, wd, target) = (
        work.path().join("upper"),
        work.path().join("work"),
        work.path().join("rootfs"),
    );
    for d in [&upper, &wd, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    overlay::mount_rootfs(&store.layer_paths(&rec), &upper, &wd, &target).unwrap();
    let err = store.remove("inuse:1").await.unwrap_err();
    overlay::unmount(&target).unwrap();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains(&target.display().to_string()),
        "{err}"
    );
    assert_eq!(store.get("inuse:1").unwrap().id, rec.id);
    assert!(store.layer_paths(&rec)[0].join("bin/busybox").exists());
    // Unmounted, it goes.
    assert!(store.remove("inuse:1").await.unwrap().is_some());
}
