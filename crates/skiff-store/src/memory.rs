//! [`MemoryStore`]: the store's semantics in memory, for tests and benchmarks.
//!
//! State is a map of live keys plus the log of events since the compacted revision, under one mutex; each
//! write is published to watchers while that mutex is held, so the broadcast order is the revision order.

use crate::watch::{self, Batch, History, HistoryChunk};
use crate::{Event, EventKind, KeyValue, ListResult, Revision, Store, StoreError, WatchStream};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

const REPLAY_CHUNK: usize = 1000;
const BROADCAST_CAPACITY: usize = 1024;

/// An in-memory [`Store`].
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Batch>,
}

#[derive(Default)]
struct State {
    revision: Revision,
    compacted: Revision,
    live: BTreeMap<String, KeyValue>,
    /// Events with revisions `compacted + 1 ..= revision`, in order (revisions are gapless).
    log: VecDeque<Event>,
}

impl State {
    /// Events after `after` (which is not below `compacted`).
    fn events_after(&self, after: Revision) -> impl Iterator<Item = &Event> {
        let skip = usize::try_from(after - self.compacted).unwrap_or(0);
        self.log.iter().skip(skip)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        MemoryStore {
            state: Arc::default(),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Applies one write: assigns the next revision, records the event, publishes it.
    fn commit(
        &self,
        state: &mut State,
        kind: EventKind,
        key: &str,
        value: Bytes,
        prev: Option<KeyValue>,
    ) -> KeyValue {
        state.revision += 1;
        let revision = state.revision;
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: match (&kind, &prev) {
                (EventKind::Put, None) => revision,
                (_, Some(prev)) => prev.create_revision,
                (EventKind::Delete, None) => unreachable!("a delete always has a previous value"),
            },
            mod_revision: revision,
        };
        match kind {
            EventKind::Put => {
                state.live.insert(key.to_owned(), kv.clone());
            }
            EventKind::Delete => {
                state.live.remove(key);
            }
        }
        let event = Event {
            kind,
            kv: kv.clone(),
            prev,
        };
        state.log.push_back(event.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(Arc::new(vec![event]));
        kv
    }

    fn create_sync(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        let mut state = self.lock();
        if state.live.contains_key(key) {
            return Err(StoreError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        Ok(self.commit(&mut state, EventKind::Put, key, value, None))
    }

    fn update_sync(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StoreError> {
        let mut state = self.lock();
        let prev = checked_current(&state, key, Some(expected))?;
        Ok(self.commit(&mut state, EventKind::Put, key, value, Some(prev)))
    }

    fn delete_sync(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError> {
        let mut state = self.lock();
        let prev = checked_current(&state, key, expected)?;
        let value = prev.value.clone();
        Ok(self.commit(&mut state, EventKind::Delete, key, value, Some(prev)))
    }

    fn list_sync(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> ListResult {
        let state = self.lock();
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut matching = state
            .live
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, kv)| kv.clone());
        let limit = limit.unwrap_or(usize::MAX);
        let kvs: Vec<KeyValue> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        ListResult {
            kvs,
            revision: state.revision,
            more,
        }
    }

    fn compact_sync(&self, keep_after: Revision) -> Result<(), StoreError> {
        let mut state = self.lock();
        if keep_after > state.revision {
            return Err(StoreError::FutureRevision {
                requested: keep_after,
                current: state.revision,
            });
        }
        while state.compacted < keep_after {
            state.log.pop_front();
            state.compacted += 1;
        }
        Ok(())
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the state half-written in a way that matters for tests.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The live value of `key`, if its revision is `expected` (when given).
fn checked_current(
    state: &State,
    key: &str,
    expected: Option<Revision>,
) -> Result<KeyValue, StoreError> {
    let current = state.live.get(key).ok_or_else(|| StoreError::NotFound {
        key: key.to_owned(),
    })?;
    match expected {
        Some(expected) if expected != current.mod_revision => Err(StoreError::Conflict {
            key: key.to_owned(),
            current: current.mod_revision,
        }),
        _ => Ok(current.clone()),
    }
}

/// The history of a [`MemoryStore`], for watches (which must not keep the broadcast sender alive).
struct MemoryHistory(Arc<Mutex<State>>);

impl History for MemoryHistory {
    async fn read(
        &self,
        prefix: &str,
        after: Revision,
        limit: usize,
    ) -> Result<HistoryChunk, StoreError> {
        let state = lock(&self.0);
        if after < state.compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted: state.compacted,
            });
        }
        let events: Vec<Event> = state
            .events_after(after)
            .filter(|e| e.kv.key.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect();
        let through = if events.len() < limit {
            state.revision
        } else {
            events.last().map_or(state.revision, Event::revision)
        };
        Ok(HistoryChunk { events, through })
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        self.create_sync(key, value)
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StoreError> {
        self.update_sync(key, value, expected)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError> {
        self.delete_sync(key, expected)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.lock().live.get(key).cloned())
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ListResult, StoreError> {
        Ok(self.list_sync(prefix, start_after, limit))
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.lock().revision)
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let live = {
            let state = self.lock();
            if after > state.revision {
                return Err(StoreError::FutureRevision {
                    requested: after,
                    current: state.revision,
                });
            }
            self.events.subscribe()
        };
        let history = Arc::new(MemoryHistory(self.state.clone()));
        watch::start(history, live, prefix, after, REPLAY_CHUNK).await
    }

    async fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        self.compact_sync(keep_after)
    }

    fn compacted_revision(&self) -> Revision {
        self.lock().compacted
    }
}
