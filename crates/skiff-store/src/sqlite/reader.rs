//! Reads: a small pool of read-only connections, used on tokio's blocking threads.
//!
//! WAL mode lets readers run concurrently with the writer; each multi-statement read runs in one read
//! transaction, so a list and the revision it reports, or a history chunk and the compacted revision it was
//! checked against, come from the same snapshot.

use super::schema::{self, RawText, META_COMPACT_REV};
use crate::watch::{History, HistoryChunk};
use crate::{prefix_end, Event, EventKind, KeyValue, ListResult, Revision, StoreError};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub(crate) fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}

pub(crate) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl Reader {
    pub fn new(path: PathBuf, max_idle: usize) -> Reader {
        Reader {
            path,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Runs `read` on a pooled connection on a blocking thread.
    pub async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.take()?;
            let result = read(&conn);
            this.give_back(conn);
            result
        })
        .await
        .map_err(|err| StoreError::Backend(format!("read task failed: {err}")))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&self.path).map_err(backend),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < self.max_idle && conn.is_autocommit() {
            idle.push(conn);
        }
    }
}

pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<KeyValue>, StoreError> {
    let latest = schema::latest(conn, key).map_err(backend)?;
    Ok(latest
        .filter(|latest| !latest.deleted)
        .map(|latest| latest.kv))
}

// The newest row of each key in the range, if it is not a delete marker. SQLite takes bare columns of a
// `MAX()` aggregate from the row holding the maximum, and walks `kine_name_id_index` in key order, so this
// streams and stops at the limit.
const LIST: &str = "SELECT MAX(id), name, create_revision, deleted, value FROM kine
WHERE name >= ?1 AND name > ?2 AND name < ?3 GROUP BY name HAVING deleted = 0 ORDER BY name LIMIT ?4";
const LIST_UNBOUNDED: &str = "SELECT MAX(id), name, create_revision, deleted, value FROM kine
WHERE name >= ?1 AND name > ?2 GROUP BY name HAVING deleted = 0 ORDER BY name LIMIT ?4";

pub(crate) fn list(
    conn: &Connection,
    prefix: &str,
    start_after: Option<&str>,
    limit: Option<usize>,
) -> Result<ListResult, StoreError> {
    let tx = conn.unchecked_transaction().map_err(backend)?;
    let revision = schema::snapshot_revision(&tx).map_err(backend)?;
    let end = prefix_end(prefix);
    // One extra row tells whether there is more.
    let fetch = limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1);
    let mut stmt = tx
        .prepare_cached(if end.is_some() { LIST } else { LIST_UNBOUNDED })
        .map_err(backend)?;
    let end = end.unwrap_or_default();
    let params = (prefix, start_after.unwrap_or(""), RawText(&end), fetch);
    let mut rows = stmt.query(params).map_err(backend)?;
    let mut kvs = Vec::new();
    let mut more = false;
    while let Some(row) = rows.next().map_err(backend)? {
        if limit.is_some_and(|limit| kvs.len() >= limit) {
            more = true;
            break;
        }
        kvs.push(
            (|| {
                Ok(KeyValue {
                    mod_revision: row.get(0)?,
                    key: row.get(1)?,
                    create_revision: row.get(2)?,
                    value: schema::value_at(row, 4)?,
                })
            })()
            .map_err(backend)?,
        );
    }
    drop(rows);
    drop(stmt);
    tx.commit().map_err(backend)?;
    Ok(ListResult {
        kvs,
        revision,
        more,
    })
}

// Rows after a revision, with the row each one superseded (for the event's previous value).
const HISTORY: &str =
    "SELECT k.id, k.name, k.deleted, k.create_revision, k.prev_revision, k.value, p.value
FROM kine AS k LEFT JOIN kine AS p ON p.id = k.prev_revision AND k.prev_revision != 0
WHERE k.id > ?1 AND k.id <= ?2 AND k.name >= ?3 AND k.name < ?4 ORDER BY k.id LIMIT ?5";
const HISTORY_UNBOUNDED: &str =
    "SELECT k.id, k.name, k.deleted, k.create_revision, k.prev_revision, k.value, p.value
FROM kine AS k LEFT JOIN kine AS p ON p.id = k.prev_revision AND k.prev_revision != 0
WHERE k.id > ?1 AND k.id <= ?2 AND k.name >= ?3 ORDER BY k.id LIMIT ?5";

pub(crate) fn history(
    conn: &Connection,
    prefix: &str,
    after: Revision,
    limit: usize,
) -> Result<HistoryChunk, StoreError> {
    let tx = conn.unchecked_transaction().map_err(backend)?;
    let compacted = schema::read_meta(&tx, META_COMPACT_REV)
        .map_err(backend)?
        .unwrap_or(0);
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after,
            compacted,
        });
    }
    let revision = schema::snapshot_revision(&tx).map_err(backend)?;
    let end = prefix_end(prefix);
    let mut stmt = tx
        .prepare_cached(if end.is_some() {
            HISTORY
        } else {
            HISTORY_UNBOUNDED
        })
        .map_err(backend)?;
    let end = end.unwrap_or_default();
    let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
    let events = stmt
        .query_map(
            (after, revision, prefix, RawText(&end), limit_param),
            |row| {
                let id: Revision = row.get(0)?;
                let key: String = row.get(1)?;
                let deleted = row.get::<_, i64>(2)? != 0;
                let create_revision: Revision = row.get(3)?;
                let prev_revision: Revision = row.get(4)?;
                let prev = (prev_revision != 0).then(|| -> rusqlite::Result<KeyValue> {
                    Ok(KeyValue {
                        key: key.clone(),
                        value: schema::value_at(row, 6)?,
                        create_revision,
                        mod_revision: prev_revision,
                    })
                });
                let prev = prev.transpose()?;
                Ok(match (deleted, prev) {
                    (true, Some(prev)) => {
                        let kv = KeyValue {
                            mod_revision: id,
                            ..prev.clone()
                        };
                        Event {
                            kind: EventKind::Delete,
                            kv,
                            prev: Some(prev),
                        }
                    }
                    (true, None) => {
                        // Not written by this crate (a delete always supersedes a row); report what we know.
                        let kv = KeyValue {
                            key,
                            value: Default::default(),
                            create_revision,
                            mod_revision: id,
                        };
                        Event {
                            kind: EventKind::Delete,
                            kv,
                            prev: None,
                        }
                    }
                    (false, prev) => {
                        let kv = KeyValue {
                            key,
                            value: schema::value_at(row, 5)?,
                            create_revision,
                            mod_revision: id,
                        };
                        Event {
                            kind: EventKind::Put,
                            kv,
                            prev,
                        }
                    }
                })
            },
        )
        .map_err(backend)?
        .collect::<Result<Vec<Event>, _>>()
        .map_err(backend)?;
    drop(stmt);
    tx.commit().map_err(backend)?;
    let through = if events.len() < limit {
        revision
    } else {
        events.last().map_or(revision, Event::revision)
    };
    Ok(HistoryChunk { events, through })
}

/// The history of a [`super::SqliteStore`], for watches: the read pool only, so that a watch does not keep
/// the writer (or the broadcast sender) alive.
pub(crate) struct SqliteHistory(pub Arc<Reader>);

impl History for SqliteHistory {
    async fn read(
        &self,
        prefix: &str,
        after: Revision,
        limit: usize,
    ) -> Result<HistoryChunk, StoreError> {
        let prefix = prefix.to_owned();
        self.0
            .run(move |conn| history(conn, &prefix, after, limit))
            .await
    }
}
