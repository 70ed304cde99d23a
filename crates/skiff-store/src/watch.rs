//! Watch machinery shared by the backends: replay history, then follow live events.
//!
//! Every backend publishes each committed batch of events, in revision order, on a `tokio::sync::broadcast`
//! channel. A watch subscribes to that channel *first*, then reads history from the backend up to the
//! revision of its read snapshot, then forwards live batches, skipping events at or below the last revision
//! it has already covered. Subscribing before the read means that an event is either in the snapshot or
//! still to come on the channel (a batch is published only after it is committed), so nothing is missed;
//! skipping covered revisions means nothing is sent twice.
//!
//! A watcher that falls behind the channel's capacity (a slow consumer) gets `Lagged` from the broadcast;
//! it then re-reads history from its last revision, which again cannot miss anything, and goes on with the
//! channel. A watcher whose missed history has meanwhile been compacted gets `Compacted`, as etcd does.

use crate::{Event, Revision, StoreError, WatchStream};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// One committed batch of events (non-empty, in revision order), shared by every watcher.
pub(crate) type Batch = Arc<Vec<Event>>;

/// Capacity of each watch's channel to its consumer, in batches.
pub(crate) const WATCH_BUFFER: usize = 64;

/// A part of history, read from one snapshot of the store.
pub(crate) struct HistoryChunk {
    /// Events under the prefix, oldest first.
    pub events: Vec<Event>,
    /// The revision through which this answer is complete: the snapshot's revision if `events` is shorter
    /// than the limit asked for, else the revision of the last event.
    pub through: Revision,
}

/// Read access to a backend's history.
pub(crate) trait History: Send + Sync + 'static {
    /// Events under `prefix` with revision greater than `after`, oldest first, at most `limit` of them.
    /// `Compacted` if `after` is below the compacted revision of the same snapshot.
    fn read(
        &self,
        prefix: &str,
        after: Revision,
        limit: usize,
    ) -> impl Future<Output = Result<HistoryChunk, StoreError>> + Send;
}

/// Starts a watch. `live` must have been subscribed before this call. Errors of the first history read
/// (`Compacted`) are returned directly; later ones end the stream with an `Err`.
pub(crate) async fn start<H: History>(
    history: Arc<H>,
    live: broadcast::Receiver<Batch>,
    prefix: &str,
    after: Revision,
    replay_chunk: usize,
) -> Result<WatchStream, StoreError> {
    let first = history.read(prefix, after, replay_chunk).await?;
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    let watcher = Watcher {
        history,
        live,
        prefix: prefix.to_owned(),
        last: after,
        replay_chunk,
        tx,
    };
    tokio::spawn(watcher.run(first));
    Ok(rx)
}

struct Watcher<H> {
    history: Arc<H>,
    live: broadcast::Receiver<Batch>,
    prefix: String,
    /// Every event at or below this revision has been sent (or did not match the prefix).
    last: Revision,
    replay_chunk: usize,
    tx: mpsc::Sender<Result<Vec<Event>, StoreError>>,
}

/// Whether the watch goes on.
enum Flow {
    Continue,
    Stop,
}

impl<H: History> Watcher<H> {
    async fn run(mut self, first: HistoryChunk) {
        if let Flow::Stop = self.replay(Some(first)).await {
            return;
        }
        loop {
            let received = tokio::select! {
                _ = self.tx.closed() => return,
                received = self.live.recv() => received,
            };
            match received {
                Ok(batch) => {
                    if let Flow::Stop = self.forward(&batch).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(prefix = %self.prefix, last = self.last, missed, "watch lagged; re-reading history");
                    if let Flow::Stop = self.replay(None).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let _ = self.tx.send(Err(StoreError::Closed)).await;
                    return;
                }
            }
        }
    }

    /// Sends history after `self.last` up to a snapshot of the store.
    async fn replay(&mut self, mut chunk: Option<HistoryChunk>) -> Flow {
        loop {
            let current = match chunk.take() {
                Some(chunk) => chunk,
                None => match self
                    .history
                    .read(&self.prefix, self.last, self.replay_chunk)
                    .await
                {
                    Ok(chunk) => chunk,
                    Err(err) => {
                        let _ = self.tx.send(Err(err)).await;
                        return Flow::Stop;
                    }
                },
            };
            let complete = current.events.len() < self.replay_chunk;
            self.last = self.last.max(current.through);
            if !current.events.is_empty() && self.tx.send(Ok(current.events)).await.is_err() {
                return Flow::Stop;
            }
            if complete {
                return Flow::Continue;
            }
        }
    }

    /// Sends the part of a live batch that matches the prefix and was not covered yet.
    async fn forward(&mut self, batch: &Batch) -> Flow {
        let Some(newest) = batch.last().map(Event::revision) else {
            return Flow::Continue;
        };
        if newest <= self.last {
            return Flow::Continue;
        }
        let events: Vec<Event> = batch
            .iter()
            .filter(|e| e.revision() > self.last && e.kv.key.starts_with(self.prefix.as_str()))
            .cloned()
            .collect();
        self.last = newest;
        if !events.is_empty() && self.tx.send(Ok(events)).await.is_err() {
            return Flow::Stop;
        }
        Flow::Continue
    }
}
