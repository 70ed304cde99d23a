//! Helpers shared by the tests: temp dirs, a stalling TCP proxy.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("skiff-kubelet-test-")
        .tempdir()
        .expect("temp dir")
}

/// Every path under `dir` (relative), sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().to_path_buf());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A TCP proxy to `upstream` that, on the first `stalls` connections, stops forwarding the
/// server's bytes once more than `after_bytes` went through (keeping the connection open).
pub struct StallingProxy {
    pub host: String,
    pub stalled: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StallingProxy {
    pub async fn start(upstream: &str, after_bytes: usize, stalls: usize) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let remaining = Arc::new(AtomicUsize::new(stalls));
        let stalled = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_string();
        let stalled2 = stalled.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let remaining = remaining.clone();
                let stalled = stalled2.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    });
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent = 0usize;
                    let mut stall_here = false;
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if !stall_here && sent + n > after_bytes {
                            stall_here = remaining
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| {
                                    r.checked_sub(1)
                                })
                                .is_ok();
                            if stall_here {
                                stalled.fetch_add(1, Ordering::SeqCst);
                                // Forward what fits, then go silent until the client gives up.
                                let _ =
                                    cw.write_all(&buf[..after_bytes.saturating_sub(sent)]).await;
                                let _ = up.await;
                                return;
                            }
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent += n;
                    }
                    up.abort();
                });
            }
        });
        StallingProxy {
            host,
            stalled,
            task,
        }
    }
}
