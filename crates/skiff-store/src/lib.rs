//! Skiff's revisioned key-value store: etcd semantics on SQLite, in the model of k3s' kine.
//!
//! The API server keeps every Kubernetes object under a key such as `/registry/pods/default/web`; the value
//! is the object's JSON, opaque to this crate. Every successful write gets the next global [`Revision`]
//! (starting at 1, strictly increasing, without gaps), and an object's `metadata.resourceVersion` is the
//! revision of its last write. On top of that the [`Store`] trait offers what the API server needs from
//! etcd: create / update / delete guarded by the expected revision (optimistic concurrency), list of a
//! prefix at the current revision with paging, watch of a prefix from any retained revision (replay, then
//! live events, in order, without gaps or duplicates), and compaction of old history.
//!
//! Backends:
//! - [`SqliteStore`], the default: one file, kine's schema (one row per revision). Durable writes cost an
//!   fsync, so a store that committed each write on its own would manage one write per fsync. Instead one writer thread owns the connection and does **group commit**: callers queue their
//!   requests, the writer drains everything queued, commits it as one transaction (one fsync), answers all
//!   callers, then publishes the committed events to watchers. Under load the batch grows by itself, so
//!   throughput scales with concurrency while latency stays about one fsync. Compaction runs in small
//!   steps that ride in some of those transactions (sized to a few milliseconds, at most one transaction
//!   in four), so writers never wait long for it; WAL checkpoints run on their own thread.
//! - [`MemoryStore`]: the same semantics in memory, for tests and benchmarks.
//!
//! `conformance` (feature `test-util`) is the backend-independent test suite both backends pass.

use bytes::Bytes;

mod memory;
mod sqlite;
mod watch;

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;

pub use memory::MemoryStore;
pub use sqlite::{CompactorHandle, SqliteConfig, SqliteStore};

/// A store revision: the sequence number of a write. The first write is revision 1; 0 means "nothing yet".
pub type Revision = i64;

/// One key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this incarnation of the key.
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a delete event: the revision of the delete).
    pub mod_revision: Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One committed write, as a watcher sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// For `Put`: the new value. For `Delete`: the deleted value, with `mod_revision` = the delete's revision.
    pub kv: KeyValue,
    /// The value before this write: `Some` for updates and deletes, `None` for creates.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision of the write this event reports.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },
    #[error("key {key:?} not found")]
    NotFound { key: String },
    #[error("key {key:?} was modified: current revision is {current}")]
    Conflict { key: String, current: Revision },
    #[error("revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("revision {requested} is in the future (current revision {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("store is closed")]
    Closed,
    #[error("storage backend: {0}")]
    Backend(String),
}

/// The answer to [`Store::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResult {
    /// Live keys under the prefix, in byte order of the key.
    pub kvs: Vec<KeyValue>,
    /// The store revision this list reflects.
    pub revision: Revision,
    /// More keys follow the last one returned (ask again with `start_after` = the last key).
    pub more: bool,
}

/// Batches of events, in revision order. The stream ends (`None`) when the store is dropped or after an
/// `Err`; dropping the receiver cancels the watch.
pub type WatchStream = tokio::sync::mpsc::Receiver<Result<Vec<Event>, StoreError>>;

/// A revisioned key-value store with etcd semantics.
///
/// Object safe (through `async_trait`): the API server holds an `Arc<dyn Store>`.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Creates `key`; fails with `AlreadyExists` if the key is live. A key that was deleted can be created
    /// again and gets a new `create_revision`.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError>;

    /// Replaces the value of `key` if its `mod_revision` is `expected`; else `Conflict` with the current
    /// revision. `NotFound` if the key is not live.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StoreError>;

    /// Deletes `key` (if `expected` is given, only if its `mod_revision` is `expected`, else `Conflict`).
    /// Returns the deleted value with `mod_revision` = the revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError>;

    /// The live value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Live keys starting with `prefix` (callers pass prefixes ending in `/`), in byte order, at the current
    /// revision. `start_after` excludes keys up to and including it; `limit` caps the number returned and
    /// `more` says whether keys were left out.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ListResult, StoreError>;

    /// The revision of the last acknowledged write.
    async fn current_revision(&self) -> Result<Revision, StoreError>;

    /// Every event under `prefix` with a revision greater than `after`: first those already in history, then
    /// live ones, in revision order, without gaps or duplicates. `Compacted` if `after` is below the
    /// compacted revision, `FutureRevision` if it is above the current revision.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// Drops history (superseded values and delete markers) at revisions `<= keep_after`; live values stay.
    /// Watches from before `keep_after` fail with `Compacted` afterwards. A revision at or below the
    /// compacted revision is a no-op; one above the current revision is `FutureRevision`.
    async fn compact(&self, keep_after: Revision) -> Result<(), StoreError>;

    /// The revision history has been compacted to (0 if never).
    fn compacted_revision(&self) -> Revision;
}

/// The smallest string greater than every string starting with `prefix` (byte order), or `None` if there is
/// none (empty prefix, or all bytes 0xFF). Not necessarily UTF-8.
pub(crate) fn prefix_end(prefix: &str) -> Option<Vec<u8>> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end("/registry/pods/").unwrap(), b"/registry/pods0");
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a\u{7f}").unwrap(), b"a\x80");
    }
}
