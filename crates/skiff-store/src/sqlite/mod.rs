//! [`SqliteStore`]: the store in one SQLite file, kine's schema, with group commit.
//!
//! - Writes go to one writer thread ([`writer`]) that commits whatever is queued as one durable
//!   transaction (WAL, `synchronous=FULL`), then answers the callers, then publishes the events.
//! - Reads (`get`, `list`, watch replay) use a small pool of separate connections ([`reader`]), which WAL
//!   lets run beside the writer.
//! - WAL checkpoints run on their own thread ([`checkpoint`]), not inside the writer's commits.
//! - Compaction is driven from an async task, one batch of revisions at a time; each batch rides in one
//!   of the writer's transactions (at most one in four), so writers never wait for more than one batch.
//! - Reopening the file continues from the stored revision; the compacted revision is kept in the file.

mod checkpoint;
mod reader;
mod schema;
mod writer;

use crate::watch::{self, Batch};
use crate::{KeyValue, ListResult, Revision, Store, StoreError, WatchStream};
use bytes::Bytes;
use reader::{Reader, SqliteHistory};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};
use writer::{CompactState, Request, Shared, WriteOp, Writer};

/// Tunables of a [`SqliteStore`]; the defaults suit production.
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    /// Most revisions removed per compaction step. Steps start at 16 revisions and are halved or doubled
    /// so that a transaction carrying one takes about 4 ms; at most one transaction in four carries one.
    pub compaction_batch: Revision,
    /// Most requests committed in one transaction.
    pub max_group: usize,
    /// Committed batches buffered for live watchers; one that falls further behind re-reads history.
    pub watch_broadcast_capacity: usize,
    /// Events read per history query when a watch replays.
    pub replay_chunk: usize,
    /// Idle read connections kept open.
    pub max_idle_readers: usize,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            compaction_batch: 1000,
            max_group: 1024,
            watch_broadcast_capacity: 1024,
            replay_chunk: 1000,
            max_idle_readers: 4,
        }
    }
}

/// A [`Store`] in one SQLite file.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    config: SqliteConfig,
    /// `None` only while dropping, to stop the writer.
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
    checkpoints: Option<mpsc::Sender<checkpoint::Request>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    reader: Arc<Reader>,
    shared: Arc<Shared>,
    events: broadcast::Sender<Batch>,
    /// One compaction at a time.
    compaction: tokio::sync::Mutex<()>,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`. Blocks briefly on file I/O; needs no runtime, but the
    /// store's methods must be called within a tokio runtime.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, SqliteConfig::default())
    }

    pub fn open_with(
        path: impl AsRef<Path>,
        config: SqliteConfig,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let shared = Arc::new(Shared::default());
        let (events, _) = broadcast::channel(config.watch_broadcast_capacity.max(1));
        let (checkpoints, checkpoint_queue) = mpsc::channel();
        let writer = Writer::open(
            &path,
            config.compaction_batch,
            config.max_group,
            shared.clone(),
            events.clone(),
            checkpoints.clone(),
        )?;
        let checkpointer = checkpoint::spawn(path.clone(), checkpoint_queue)?;
        let (requests, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("skiff-store-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|err| StoreError::Backend(format!("starting the writer thread: {err}")))?;
        let reader = Arc::new(Reader::new(path.clone(), config.max_idle_readers));
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                config,
                requests: Some(requests),
                writer: Some(thread),
                checkpoints: Some(checkpoints),
                checkpointer: Some(checkpointer),
                reader,
                shared,
                events,
                compaction: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Compacts every `interval`, keeping the last `keep_revisions` revisions of history (kine's defaults: every
    /// 5 minutes, keeping 1,000). Stops when the handle or the store is dropped.
    pub fn spawn_compactor(&self, interval: Duration, keep_revisions: Revision) -> CompactorHandle {
        let inner = Arc::downgrade(&self.inner);
        let task = tokio::spawn(run_compactor(inner, interval, keep_revisions.max(0)));
        CompactorHandle { task }
    }
}

/// The periodic compactor of a [`SqliteStore`]; dropping it stops the compactor.
pub struct CompactorHandle {
    task: tokio::task::JoinHandle<()>,
}

impl CompactorHandle {
    pub fn stop(self) {}
}

impl Drop for CompactorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run_compactor(inner: Weak<Inner>, interval: Duration, keep_revisions: Revision) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let current = inner.shared.current.load(Ordering::SeqCst);
        let target = current - keep_revisions;
        if target <= inner.shared.compacted.load(Ordering::SeqCst) {
            continue;
        }
        if let Err(err) = inner.compact(target).await {
            tracing::warn!(error = %err, target, "periodic compaction failed");
        }
    }
}

impl Inner {
    fn send(&self, request: Request) -> Result<(), StoreError> {
        let requests = self.requests.as_ref().ok_or(StoreError::Closed)?;
        requests.send(request).map_err(|_| StoreError::Closed)
    }

    async fn write(&self, op: WriteOp) -> Result<KeyValue, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Write { op, reply })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        let _one_at_a_time = self.compaction.lock().await;
        let current = self.shared.current.load(Ordering::SeqCst);
        if keep_after > current {
            return Err(StoreError::FutureRevision {
                requested: keep_after,
                current,
            });
        }
        let started = Instant::now();
        let mut steps = 0u32;
        // Also finishes a compaction an earlier run (or process) left unfinished.
        let state: CompactState = loop {
            let (reply, answer) = oneshot::channel();
            self.send(Request::CompactStep {
                target: keep_after,
                reply,
            })?;
            let state = answer.await.map_err(|_| StoreError::Closed)??;
            steps += 1;
            if state.done() {
                break state;
            }
        };
        // Let the freed pages leave the file now rather than at the next checkpoint.
        let (reply, answer) = oneshot::channel();
        if let Some(checkpoints) = &self.checkpoints {
            if checkpoints.send(checkpoint::Request::Now(reply)).is_ok() {
                answer.await.map_err(|_| StoreError::Closed)??;
            }
        }
        if steps > 1 {
            tracing::info!(
                compacted = state.target,
                steps,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "compacted sqlite store"
            );
        }
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue stops the writer once it has committed what is queued.
        drop(self.requests.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!(path = %self.path.display(), "sqlite writer thread panicked");
            }
        }
        drop(self.checkpoints.take());
        if let Some(checkpointer) = self.checkpointer.take() {
            if checkpointer.join().is_err() {
                tracing::error!(path = %self.path.display(), "sqlite checkpoint thread panicked");
            }
        }
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        self.inner
            .write(WriteOp::Create {
                key: key.to_owned(),
                value,
            })
            .await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StoreError> {
        self.inner
            .write(WriteOp::Update {
                key: key.to_owned(),
                value,
                expected,
            })
            .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError> {
        self.inner
            .write(WriteOp::Delete {
                key: key.to_owned(),
                expected,
            })
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let key = key.to_owned();
        self.inner
            .reader
            .run(move |conn| reader::get(conn, &key))
            .await
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ListResult, StoreError> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.inner
            .reader
            .run(move |conn| reader::list(conn, &prefix, start_after.as_deref(), limit))
            .await
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner.shared.current.load(Ordering::SeqCst))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let current = self.inner.shared.current.load(Ordering::SeqCst);
        if after > current {
            return Err(StoreError::FutureRevision {
                requested: after,
                current,
            });
        }
        let live = self.inner.events.subscribe();
        let history = Arc::new(SqliteHistory(self.inner.reader.clone()));
        watch::start(
            history,
            live,
            prefix,
            after,
            self.inner.config.replay_chunk.max(1),
        )
        .await
    }

    async fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        self.inner.compact(keep_after).await
    }

    fn compacted_revision(&self) -> Revision {
        self.inner.shared.compacted.load(Ordering::SeqCst)
    }
}
