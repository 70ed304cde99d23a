//! The SQLite schema (kine's, minus `old_value`), connection setup, and row decoding.
//!
//! One row per revision:
//!
//! | column | meaning |
//! |---|---|
//! | `id` | the revision (`INTEGER PRIMARY KEY`, so the table is ordered by revision) |
//! | `name` | the key |
//! | `created` | 1 if this write created the key |
//! | `deleted` | 1 if this write deleted the key (a delete marker; `value` is NULL) |
//! | `create_revision` | revision that created this incarnation of the key |
//! | `prev_revision` | revision of the row this write superseded (0 for a create) |
//! | `value` | the value written (NULL for a delete marker) |
//!
//! The current value of a key is its newest row unless that row is a delete marker; the index on
//! `(name, id)` finds it and serves prefix lists in key order.
//!
//! Unlike kine there is no `old_value` column: storing every previous value a second time would double the
//! bytes written per update. A watch event's previous value is the row `prev_revision` points at instead,
//! and compaction keeps it: a row is only removed once the row superseding it is itself at or below the
//! compacted revision, so every event a watch may still replay has its previous row.
//!
//! `skiff_meta` holds the durable compaction state (`compact_rev`: the compacted revision watchers see;
//! `compact_progress`: how far rows have actually been removed) and the schema version.

use crate::{KeyValue, Revision, StoreError};
use bytes::Bytes;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql};
use std::path::Path;
use std::time::Duration;

pub(crate) const SCHEMA_VERSION: i64 = 1;

pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
pub(crate) const META_COMPACT_REV: &str = "compact_rev";
pub(crate) const META_COMPACT_PROGRESS: &str = "compact_progress";

const CREATE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kine (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB
);
CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name, id);
CREATE TABLE IF NOT EXISTS skiff_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Opens the writer's connection: creates the file and schema if needed, sets durable WAL mode.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let fail =
        |err: rusqlite::Error| StoreError::Backend(format!("opening {}: {err}", path.display()));
    let conn = setup_writer(path).map_err(fail)?;
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "cannot switch {} to WAL mode (got {mode})",
            path.display()
        )));
    }
    match read_meta(&conn, META_SCHEMA_VERSION).map_err(fail)? {
        None => write_meta(&conn, META_SCHEMA_VERSION, SCHEMA_VERSION).map_err(fail)?,
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(StoreError::Backend(format!(
                "{} has schema version {other}; this build knows version {SCHEMA_VERSION}",
                path.display()
            )))
        }
    }
    let auto_vacuum: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |row| row.get(0))
        .map_err(fail)?;
    if auto_vacuum != 2 {
        tracing::warn!(path = %path.display(), auto_vacuum, "database was created without incremental auto_vacuum; the file will not shrink after compaction");
    }
    Ok(conn)
}

fn setup_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Only takes effect on a database without tables; must precede their creation.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: the WAL is synced at every commit, so an acknowledged write survives a crash or power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // When the WAL is rewound, cut the file back to this size. It is above the size at which the writer
    // rewinds it (see `checkpoint`), so that normally nothing is cut: only after a compaction's burst.
    conn.pragma_update(
        None,
        "journal_size_limit",
        super::checkpoint::JOURNAL_SIZE_LIMIT,
    )?;
    conn.pragma_update(None, "cache_size", -32 * 1024)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.execute_batch(CREATE_SCHEMA)?;
    // Also turns off SQLite's automatic checkpoints on this connection: see `checkpoint`.
    super::checkpoint::install_wal_hook(&conn);
    Ok(conn)
}

/// Opens a connection for reads (and checkpoints).
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -16 * 1024)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Opens the connection of the checkpoint thread (after the writer has set up the database).
pub(crate) fn open_checkpointer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Reading the header puts the connection in WAL mode; until then `wal_checkpoint` does nothing.
    conn.query_row("SELECT COUNT(*) FROM skiff_meta", [], |_| Ok(()))?;
    Ok(conn)
}

pub(crate) fn read_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT value FROM skiff_meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()
}

pub(crate) fn write_meta(conn: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO skiff_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute((key, value))?;
    Ok(())
}

/// The store revision as of this connection's snapshot: the newest row, or the compacted revision if
/// compaction removed the newest rows (it only removes rows at or below it).
pub(crate) fn snapshot_revision(conn: &Connection) -> rusqlite::Result<Revision> {
    let newest: Option<Revision> = conn
        .prepare_cached("SELECT MAX(id) FROM kine")?
        .query_row([], |row| row.get(0))?;
    let compacted = read_meta(conn, META_COMPACT_REV)?.unwrap_or(0);
    Ok(newest.unwrap_or(0).max(compacted))
}

/// Binds bytes as TEXT even when they are not UTF-8 (an exclusive upper bound of a key range, see
/// [`crate::prefix_end`]): SQLite compares TEXT with `memcmp`, so this is exactly byte order.
pub(crate) struct RawText<'a>(pub &'a [u8]);

impl ToSql for RawText<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

/// A value column: NULL reads as empty.
pub(crate) fn value_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Bytes> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Bytes::copy_from_slice(b),
        _ => Bytes::new(),
    })
}

/// The newest row of a key, as the writer and `get` see it.
pub(crate) struct Latest {
    pub kv: KeyValue,
    pub deleted: bool,
}

pub(crate) const SELECT_LATEST: &str =
    "SELECT id, create_revision, deleted, value FROM kine WHERE name = ?1 ORDER BY id DESC LIMIT 1";

pub(crate) fn latest(conn: &Connection, key: &str) -> rusqlite::Result<Option<Latest>> {
    conn.prepare_cached(SELECT_LATEST)?
        .query_row([key], |row| {
            Ok(Latest {
                kv: KeyValue {
                    key: key.to_owned(),
                    mod_revision: row.get(0)?,
                    create_revision: row.get(1)?,
                    value: value_at(row, 3)?,
                },
                deleted: row.get::<_, i64>(2)? != 0,
            })
        })
        .optional()
}
