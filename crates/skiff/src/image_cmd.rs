//! `skiff image`: the node's image store without a registry (`import`, `build`, `ls`, `rm`).
//!
//! The store is the node agent's own (`<data-dir>/agent/images` under `skiff up`; `--images` points
//! at any other, e.g. `<agent --data-dir>/images` for `skiff agent`). The commands work while the
//! agent runs: the store's index is shared through its file, under a lock, and the agent re-reads it
//! when it changed (`skiff_kubelet::image::store`), so a pod with `image: <tag>` and
//! `imagePullPolicy: Never` or `IfNotPresent` (any tag but `latest`) starts from an imported or
//! built image without contacting a registry.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use skiff_kubelet::image::build::parse_command;
use skiff_kubelet::image::{BuildOptions, ImageRecord, ImageRef, ImageStore, ImportOptions};

#[derive(Args)]
pub struct ImageArgs {
    /// The data dir of `skiff up` (the store is `<data-dir>/agent/images`).
    #[arg(long, default_value = "/var/lib/skiff", global = true)]
    data_dir: PathBuf,
    /// The image store directory itself (overrides --data-dir; `<agent --data-dir>/images` for
    /// `skiff agent`).
    #[arg(long, global = true)]
    images: Option<PathBuf>,
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Load the images of an OCI archive or docker-archive tarball (`skopeo copy`, `docker save`;
    /// may be gzip-compressed) into the store.
    Import {
        /// The archive.
        file: PathBuf,
        /// Name the image this instead of the names in the archive (which must hold one image).
        #[arg(long)]
        tag: Option<String>,
    },
    /// List the images (like `crictl images`).
    #[command(visible_alias = "list")]
    Ls {
        /// Only image IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Full image IDs and digests.
        #[arg(long)]
        no_trunc: bool,
    },
    /// Remove images (all names of each), by name or image ID prefix; refused while a container's
    /// root file system uses one.
    #[command(visible_alias = "rmi")]
    Rm {
        /// Names (`busybox:1`) or image IDs (`sha256:<hex>` or a unique prefix of the hex).
        #[arg(required = true, value_name = "IMAGE")]
        names: Vec<String>,
    },
    /// Pack a directory into a one-layer image (deterministic: same directory, same image ID).
    Build {
        /// The image's root file system.
        #[arg(long)]
        rootfs: PathBuf,
        /// The image's name, `name:tag`.
        #[arg(long)]
        tag: String,
        /// Cmd; takes the rest of the command line, so put it last: `--cmd sh -c 'echo hi'`. A
        /// single value is a JSON array (`'["sleep","3600"]'`) or words separated by spaces.
        #[arg(long, num_args = 1.., allow_hyphen_values = true)]
        cmd: Vec<String>,
        /// Entrypoint: a JSON array or words separated by spaces.
        #[arg(long, allow_hyphen_values = true)]
        entrypoint: Option<String>,
        /// An environment variable `K=V` (repeatable); PATH defaults to the usual one.
        #[arg(long = "env")]
        env: Vec<String>,
        /// The working directory.
        #[arg(long)]
        workdir: Option<String>,
        /// The user (`uid`, `uid:gid`, `name`).
        #[arg(long)]
        user: Option<String>,
    },
}

pub async fn run(args: ImageArgs) -> anyhow::Result<()> {
    let dir = args
        .images
        .clone()
        .unwrap_or_else(|| args.data_dir.join("agent/images"));
    let open = |create: bool| -> anyhow::Result<ImageStore> {
        if !create && !dir.join("images.json").exists() && !dir.join("blobs").exists() {
            bail!(
                "no image store at {} (see --data-dir and --images)",
                dir.display()
            );
        }
        ImageStore::open(&dir).with_context(|| format!("opening the image store {}", dir.display()))
    };
    match args.command {
        ImageCommand::Import { file, tag } => {
            let store = open(true)?;
            let opts = ImportOptions {
                tag,
                ..ImportOptions::default()
            };
            let imported = store
                .import_archive(&file, &opts)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            for i in imported {
                let r = &i.record;
                let names = if r.repo_tags.is_empty() {
                    "<none> (no name in the archive: use --tag)".to_string()
                } else {
                    r.repo_tags.join(", ")
                };
                if i.unchanged() {
                    println!(
                        "{names}: {} already present, nothing written",
                        short_id(&r.id)
                    );
                } else {
                    println!(
                        "{names}: imported {} ({} layer(s), {}; {} new blob(s), {} layer(s) unpacked)",
                        short_id(&r.id),
                        r.layers.len(),
                        human_size(r.size),
                        i.blobs_written,
                        i.layers_unpacked
                    );
                }
            }
            Ok(())
        }
        ImageCommand::Build {
            rootfs,
            tag,
            cmd,
            entrypoint,
            env,
            workdir,
            user,
        } => {
            let mut opts = BuildOptions::new(&tag);
            opts.cmd = match cmd.as_slice() {
                [one] => parse_command(one).map_err(anyhow::Error::msg)?,
                argv => argv.to_vec(),
            };
            opts.entrypoint = entrypoint
                .as_deref()
                .map(parse_command)
                .transpose()
                .map_err(anyhow::Error::msg)?
                .unwrap_or_default();
            opts.env = env;
            opts.working_dir = workdir.unwrap_or_default();
            opts.user = user.unwrap_or_default();
            if let Some(bad) = opts.env.iter().find(|e| !e.contains('=')) {
                bail!("--env {bad:?}: expected NAME=value");
            }
            let store = open(true)?;
            let built = store
                .build_image(&rootfs, &opts)
                .await
                .with_context(|| format!("building {tag} from {}", rootfs.display()))?;
            let r = &built.record;
            let state = if built.unchanged() {
                "unchanged"
            } else {
                "built"
            };
            println!(
                "{}: {state} {} ({})",
                r.repo_tags.join(", "),
                short_id(&r.id),
                human_size(r.size)
            );
            Ok(())
        }
        ImageCommand::Ls { quiet, no_trunc } => {
            let store = open(false)?;
            let mut images = store.list();
            images.sort_by(|a, b| a.repo_tags.cmp(&b.repo_tags).then(a.id.cmp(&b.id)));
            if quiet {
                for r in &images {
                    println!("{}", if no_trunc { &r.id } else { short_id(&r.id) });
                }
                return Ok(());
            }
            let mut rows = vec![[
                "IMAGE".to_string(),
                "TAG".into(),
                "IMAGE ID".into(),
                "SIZE".into(),
            ]];
            for r in &images {
                let id = if no_trunc {
                    r.id.clone()
                } else {
                    short_id(&r.id).to_string()
                };
                let size = human_size(r.size);
                if r.repo_tags.is_empty() {
                    let repo = r
                        .repo_digests
                        .first()
                        .and_then(|d| d.split_once('@'))
                        .map_or("<none>", |(n, _)| n);
                    rows.push([repo.to_string(), "<none>".into(), id, size]);
                    continue;
                }
                for t in &r.repo_tags {
                    let (repo, tag) = match ImageRef::parse(t) {
                        Ok(p) => (p.name(), p.tag().unwrap_or("<none>").to_string()),
                        Err(_) => (t.clone(), "<none>".into()),
                    };
                    rows.push([repo, tag, id.clone(), size.clone()]);
                }
            }
            print_table(&rows);
            Ok(())
        }
        ImageCommand::Rm { names } => {
            let store = open(false)?;
            let mut failed = false;
            for name in names {
                let Some(record) = resolve(&store, &name) else {
                    eprintln!("no such image: {name}");
                    failed = true;
                    continue;
                };
                match store.remove(&record.id).await {
                    Ok(Some(r)) => {
                        for t in &r.repo_tags {
                            println!("Untagged: {t}");
                        }
                        println!("Deleted: {}", r.id);
                    }
                    Ok(None) => {
                        eprintln!("no such image: {name}");
                        failed = true;
                    }
                    Err(e) => {
                        eprintln!("removing {name}: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                bail!("some images were not removed");
            }
            Ok(())
        }
    }
}

/// The image a name, a full ID or a unique ID prefix (`sha256:` optional) means.
fn resolve(store: &ImageStore, name: &str) -> Option<ImageRecord> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let by_id = || {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let hex = hex.to_ascii_lowercase();
        let matches: Vec<ImageRecord> = store
            .list()
            .into_iter()
            .filter(|r| r.id.trim_start_matches("sha256:").starts_with(&hex))
            .collect();
        match matches.len() {
            1 => matches.into_iter().next(),
            0 => None,
            n => {
                eprintln!("{name}: {n} images have IDs starting so");
                None
            }
        }
    };
    store.get(name).or_else(by_id)
}

/// The 12 hex digits `crictl images` shows.
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Sizes as `crictl images` prints them (decimal units, 3 significant digits: `4.27MB`).
fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.digits$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[u])
}

fn print_table(rows: &[[String; 4]]) {
    let mut widths = [0usize; 4];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in rows {
        let line = format!(
            "{:w0$}   {:w1$}   {:w2$}   {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        println!("{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_crictl() {
        assert_eq!(human_size(735), "735B");
        assert_eq!(human_size(4_270_000), "4.27MB");
        assert_eq!(human_size(12_300), "12.3kB");
        assert_eq!(human_size(2_000_000), "2MB");
        assert_eq!(human_size(123_456_789), "123MB");
    }
}
