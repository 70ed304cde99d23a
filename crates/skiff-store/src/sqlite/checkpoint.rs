//! WAL checkpoints on their own thread, so that the writer's commits never pay for them.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold: that commit (and every
//! caller waiting on it) then waits while megabytes are copied into the database file and synced. Instead
//! the writer counts the WAL's frames after each commit (a `wal_hook`), and asks this thread for a
//! `PASSIVE` checkpoint every [`NUDGE_PAGES`] frames; a passive checkpoint runs beside the writer without
//! blocking it. It also runs once a second, and on request (at the end of a compaction, so that the freed
//! pages leave the file).
//!
//! The WAL is rewound only when a checkpoint has copied *every* frame before the writer's next transaction;
//! under sustained writes a concurrent checkpoint never quite catches up. So when the WAL passes
//! [`WRITER_CHECKPOINT_PAGES`] frames, the writer itself checkpoints between two groups: by then the
//! background thread has copied nearly everything, so this costs little, and the next transaction rewinds
//! the WAL (and `journal_size_limit` cuts the file back if a burst, such as a compaction, made it larger).

use super::schema;
use crate::StoreError;
use rusqlite::Connection;
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// WAL frames (pages) between two background checkpoints: small, so that little is left to copy when the
/// writer completes a checkpoint itself.
pub(crate) const NUDGE_PAGES: i32 = 256;
/// WAL frames at which the writer completes a checkpoint itself, so that the WAL can be rewound.
pub(crate) const WRITER_CHECKPOINT_PAGES: i32 = 4000;
/// The WAL file is cut back to this size (bytes) when rewound: above `WRITER_CHECKPOINT_PAGES` pages of
/// 4 KiB plus a large group, so that ordinary rewinds cut nothing (truncating costs a journal commit).
pub(crate) const JOURNAL_SIZE_LIMIT: i64 = 20 * 1024 * 1024;
/// Background checkpoint interval when nothing asks for one.
const IDLE_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) enum Request {
    /// The WAL has grown; checkpoint soon.
    Nudge,
    /// Checkpoint now and say when done.
    Now(oneshot::Sender<Result<(), StoreError>>),
}

thread_local! {
    /// Frames in the WAL after the last commit of this thread's connection (set by [`record_wal_pages`]).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// Registers the hook that records the WAL's size after each commit. Registering a hook also turns off
/// SQLite's automatic checkpoints on this connection.
pub(crate) fn install_wal_hook(conn: &Connection) {
    conn.wal_hook(Some(record_wal_pages));
}

fn record_wal_pages(
    _wal: &rusqlite::hooks::Wal,
    pages: std::os::raw::c_int,
) -> rusqlite::Result<()> {
    WAL_PAGES.with(|cell| cell.set(pages));
    Ok(())
}

/// Frames in the WAL after the last commit on this thread.
pub(crate) fn wal_pages() -> i32 {
    WAL_PAGES.with(Cell::get)
}

/// A passive checkpoint: copies what it can without blocking writers or waiting for readers.
/// Returns the frames in the WAL and how many of them are now in the database file.
pub(crate) fn passive(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// Starts the checkpoint thread on an existing WAL database; it stops when every sender of `queue` is
/// dropped.
pub(crate) fn spawn(
    path: PathBuf,
    queue: mpsc::Receiver<Request>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let conn = schema::open_checkpointer(&path).map_err(|err| {
        StoreError::Backend(format!("opening {} for checkpoints: {err}", path.display()))
    })?;
    std::thread::Builder::new()
        .name("skiff-store-checkpoint".into())
        .spawn(move || run(conn, queue))
        .map_err(|err| StoreError::Backend(format!("starting the checkpoint thread: {err}")))
}

fn run(conn: Connection, queue: mpsc::Receiver<Request>) {
    loop {
        let mut waiters = Vec::new();
        match queue.recv_timeout(IDLE_INTERVAL) {
            Ok(Request::Now(reply)) => waiters.push(reply),
            Ok(Request::Nudge) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // Requests that arrived meanwhile are served by this same checkpoint.
        while let Ok(request) = queue.try_recv() {
            if let Request::Now(reply) = request {
                waiters.push(reply);
            }
        }
        let result = match passive(&conn) {
            Ok((log, copied)) => {
                if log > 0 {
                    tracing::trace!(log, copied, "wal checkpoint");
                }
                Ok(())
            }
            Err(err) => {
                tracing::warn!(error = %err, "wal checkpoint failed");
                Err(StoreError::Backend(format!("checkpoint: {err}")))
            }
        };
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
    tracing::debug!("checkpoint thread stopped");
}
