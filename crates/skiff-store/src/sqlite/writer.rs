//! The writer thread: sole owner of the write connection, committing queued requests in groups.
//!
//! Callers send a [`Request`] with a oneshot for the answer. The thread blocks for the first request (under
//! concurrent load it then waits up to 0.6 ms for company, see [`GATHER_WAIT`]), then takes everything
//! else already queued (up to `max_group`), applies it all in one `BEGIN IMMEDIATE` …
//! `COMMIT` (one fsync), and only then answers the callers and publishes the group's events to watchers.
//! A logical failure (`AlreadyExists`, `Conflict`, `NotFound`) fails that request alone and consumes no
//! revision; an SQLite failure rolls back the whole group and fails every request in it, so revisions stay
//! gapless. A compaction step rides along in the same transaction under a savepoint, so it costs no extra
//! fsync and its failure does not fail the writes.

use super::checkpoint::{self, NUDGE_PAGES, WRITER_CHECKPOINT_PAGES};
use super::schema::{self, META_COMPACT_PROGRESS, META_COMPACT_REV};
use crate::watch::Batch;
use crate::{Event, EventKind, KeyValue, Revision, StoreError};
use bytes::Bytes;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

pub(crate) enum Request {
    Write {
        op: WriteOp,
        reply: oneshot::Sender<Result<KeyValue, StoreError>>,
    },
    /// Remove one batch of history towards `target` (or towards an earlier, unfinished target).
    CompactStep {
        target: Revision,
        reply: oneshot::Sender<Result<CompactState, StoreError>>,
    },
}

pub(crate) enum WriteOp {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

/// Compaction state: `target` and `progress` are recorded in `skiff_meta`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CompactState {
    /// The compacted revision: watches from before it fail.
    pub target: Revision,
    /// History at or below this revision has been removed; below `target` while compaction is under way.
    pub progress: Revision,
    /// Free pages still in the file, to be returned by later steps.
    pub free_pages: i64,
}

impl CompactState {
    pub fn done(&self) -> bool {
        self.progress >= self.target && self.free_pages == 0
    }
}

/// How long a transaction that carries a compaction step should take, commit included: the size of the
/// steps adapts to it (halved when a transaction overruns, doubled when it is well under).
const STEP_BUDGET: Duration = Duration::from_millis(4);
/// A compaction step runs in at most one transaction of this many (the others wait for the writes alone).
const STEP_DUTY: u32 = 4;
/// Smallest number of revisions per compaction step.
const MIN_STEP_REVISIONS: Revision = 16;

/// A commit that ended less than this long before the next request arrived means writes are
/// streaming in: the next group gathers for a moment before it commits.
const BUSY_GAP: Duration = Duration::from_millis(2);
/// How many requests a gathering group waits for, how long at most, and how often it looks.
const GATHER_AT_LEAST: usize = 16;
const GATHER_WAIT: Duration = Duration::from_micros(600);
const GATHER_TICK: Duration = Duration::from_micros(200);
/// Fewest and most pages one compaction step returns to the file system (`PRAGMA incremental_vacuum(N)`).
const MIN_VACUUM_PAGES: i64 = 16;
const MAX_VACUUM_PAGES: i64 = 256;

/// State the writer publishes to the store's handles.
#[derive(Default)]
pub(crate) struct Shared {
    /// Revision of the last committed write.
    pub current: AtomicI64,
    /// The compacted revision.
    pub compacted: AtomicI64,
}

pub(crate) struct Writer {
    conn: Connection,
    revision: Revision,
    compaction: CompactState,
    /// Most revisions per compaction step.
    compaction_batch: Revision,
    /// Revisions per compaction step now, adapted to `STEP_BUDGET` (large values make each revision
    /// costlier to remove).
    step_revisions: Revision,
    /// Pages returned to the file system per compaction step now, adapted likewise.
    vacuum_pages: i64,
    max_group: usize,
    shared: Arc<Shared>,
    events: broadcast::Sender<Batch>,
    checkpoints: mpsc::Sender<checkpoint::Request>,
    /// WAL size when the checkpoint thread was last asked to run.
    nudged_at_pages: i32,
}

/// The answer to one request, before it is sent.
enum Outcome {
    Write(Result<KeyValue, StoreError>),
    Compact(Result<CompactState, StoreError>),
}

const DELETE_SUPERSEDED: &str = "
DELETE FROM kine WHERE id IN (
    SELECT prev_revision FROM kine WHERE id > ?1 AND id <= ?2 AND prev_revision != 0
    UNION
    SELECT id FROM kine WHERE id > ?1 AND id <= ?2 AND deleted != 0
)";

const INSERT: &str =
    "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, value)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

impl Writer {
    /// Opens the database and reads where revisions and compaction stand.
    pub fn open(
        path: &Path,
        compaction_batch: Revision,
        max_group: usize,
        shared: Arc<Shared>,
        events: broadcast::Sender<Batch>,
        checkpoints: mpsc::Sender<checkpoint::Request>,
    ) -> Result<Writer, StoreError> {
        let conn = schema::open_writer(path)?;
        let fail = |err: rusqlite::Error| {
            StoreError::Backend(format!("reading {}: {err}", path.display()))
        };
        let revision = schema::snapshot_revision(&conn).map_err(fail)?;
        let target = schema::read_meta(&conn, META_COMPACT_REV)
            .map_err(fail)?
            .unwrap_or(0);
        let progress = schema::read_meta(&conn, META_COMPACT_PROGRESS)
            .map_err(fail)?
            .unwrap_or(0);
        shared.current.store(revision, Ordering::SeqCst);
        shared.compacted.store(target, Ordering::SeqCst);
        tracing::info!(path = %path.display(), revision, compacted = target, "opened sqlite store");
        Ok(Writer {
            conn,
            revision,
            compaction: CompactState {
                target,
                progress,
                free_pages: 0,
            },
            compaction_batch: compaction_batch.max(1),
            step_revisions: MIN_STEP_REVISIONS.min(compaction_batch.max(1)),
            vacuum_pages: MIN_VACUUM_PAGES,
            max_group: max_group.max(1),
            shared,
            events,
            checkpoints,
            nudged_at_pages: 0,
        })
    }

    /// Serves requests until every sender is gone.
    ///
    /// Compaction steps are held back so that they take at most a quarter of the writer's time
    /// (`STEP_DUTY`): while compaction runs, most groups carry no step and wait for nothing but their own
    /// commit.
    pub fn run(mut self, requests: mpsc::Receiver<Request>) {
        let mut group = Vec::with_capacity(self.max_group);
        let mut held_step: Option<Request> = None;
        let mut next_step_at = Instant::now();
        let mut open = true;
        let mut last_commit: Option<(Instant, usize)> = None;
        while open || held_step.is_some() {
            // Wait for a request, or until the held compaction step may run.
            let first = match (&held_step, open) {
                (None, _) => requests.recv().ok(),
                (Some(_), true) => {
                    match requests
                        .recv_timeout(next_step_at.saturating_duration_since(Instant::now()))
                    {
                        Ok(request) => Some(request),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            open = false;
                            None
                        }
                    }
                }
                (Some(_), false) => None,
            };
            match first {
                Some(request) => group.push(request),
                None if held_step.is_none() => open = false,
                None => {}
            }
            // Under concurrent load (the last commit had company and ended a moment ago), a group
            // waits a little for more: each commit costs an fsync and its own WAL pages, which
            // writes committed together share. A lone writer, or one after a pause, never waits.
            if let Some((ended, size)) = last_commit {
                if !group.is_empty() && size > 1 && ended.elapsed() < BUSY_GAP {
                    let mut waited = Duration::ZERO;
                    while group.len() < GATHER_AT_LEAST && waited < GATHER_WAIT {
                        std::thread::sleep(GATHER_TICK);
                        waited += GATHER_TICK;
                        while let Ok(request) = requests.try_recv() {
                            group.push(request);
                        }
                    }
                }
            }
            while group.len() < self.max_group {
                match requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            // At most one step is outstanding (compactions are serialized); hold it until its turn.
            if let Some(i) = group
                .iter()
                .position(|r| matches!(r, Request::CompactStep { .. }))
            {
                held_step = Some(group.remove(i));
            }
            let step_due = Instant::now() >= next_step_at || !open;
            if step_due {
                if let Some(step) = held_step.take() {
                    group.push(step);
                }
            }
            if group.is_empty() {
                continue;
            }
            let carries_step = group
                .iter()
                .any(|r| matches!(r, Request::CompactStep { .. }));
            let started = Instant::now();
            let size = group.len();
            self.commit_group(&mut group);
            last_commit = Some((Instant::now(), size));
            if carries_step {
                next_step_at = Instant::now() + started.elapsed() * (STEP_DUTY - 1);
            }
        }
        tracing::debug!(revision = self.revision, "sqlite writer stopped");
    }

    fn commit_group(&mut self, group: &mut Vec<Request>) {
        let started = Instant::now();
        let before = self.revision;
        let mut compaction = self.compaction;
        let mut events = Vec::new();
        let mut outcomes = Vec::with_capacity(group.len());
        match self.apply_group(group, &mut compaction, &mut events, &mut outcomes) {
            Ok(()) => {
                self.compaction = compaction;
                self.shared
                    .compacted
                    .store(compaction.target, Ordering::SeqCst);
                self.shared.current.store(self.revision, Ordering::SeqCst);
            }
            Err(err) => {
                tracing::error!(error = %err, requests = group.len(), "sqlite commit failed; group rolled back");
                if !self.conn.is_autocommit() {
                    if let Err(err) = self.conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %err, "sqlite rollback failed");
                    }
                }
                self.revision = before;
                events.clear();
                let failure = StoreError::Backend(err.to_string());
                outcomes = group
                    .iter()
                    .map(|request| match request {
                        Request::Write { .. } => Outcome::Write(Err(failure.clone())),
                        Request::CompactStep { .. } => Outcome::Compact(Err(failure.clone())),
                    })
                    .collect();
            }
        }
        if group
            .iter()
            .any(|r| matches!(r, Request::CompactStep { .. }))
        {
            self.adapt_compaction_step(started.elapsed());
        }
        tracing::trace!(
            requests = group.len(),
            events = events.len(),
            revision = self.revision,
            elapsed_us = started.elapsed().as_micros() as u64,
            "sqlite group committed"
        );
        for (request, outcome) in group.drain(..).zip(outcomes) {
            // A caller that gave up waiting is no concern of ours.
            match (request, outcome) {
                (Request::Write { reply, .. }, Outcome::Write(result)) => {
                    let _ = reply.send(result);
                }
                (Request::CompactStep { reply, .. }, Outcome::Compact(result)) => {
                    let _ = reply.send(result);
                }
                _ => unreachable!("outcomes are built in request order"),
            }
        }
        if !events.is_empty() {
            // No receivers is fine: nobody is watching.
            let _ = self.events.send(Arc::new(events));
        }
        self.manage_wal();
    }

    /// Keeps the WAL short: asks the checkpoint thread to copy it every `NUDGE_PAGES` frames, and finishes
    /// the copy itself when it grows long, so that the next transaction can rewind it.
    fn manage_wal(&mut self) {
        let pages = checkpoint::wal_pages();
        if pages < self.nudged_at_pages {
            // Rewound since.
            self.nudged_at_pages = 0;
        }
        if pages >= WRITER_CHECKPOINT_PAGES {
            let started = Instant::now();
            match checkpoint::passive(&self.conn) {
                Ok((log, copied)) => tracing::debug!(
                    log,
                    copied,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "writer completed a wal checkpoint"
                ),
                Err(err) => tracing::debug!(error = %err, "writer wal checkpoint failed"),
            }
        } else if pages - self.nudged_at_pages >= NUDGE_PAGES {
            let _ = self.checkpoints.send(checkpoint::Request::Nudge);
            self.nudged_at_pages = pages;
        }
    }

    fn apply_group(
        &mut self,
        group: &[Request],
        compaction: &mut CompactState,
        events: &mut Vec<Event>,
        outcomes: &mut Vec<Outcome>,
    ) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        for request in group {
            match request {
                Request::Write { op, .. } => match self.apply_write(op)? {
                    Ok(event) => {
                        outcomes.push(Outcome::Write(Ok(event.kv.clone())));
                        events.push(event);
                    }
                    Err(err) => outcomes.push(Outcome::Write(Err(err))),
                },
                Request::CompactStep { target, .. } => {
                    self.conn.execute_batch("SAVEPOINT compact_step")?;
                    let mut step = *compaction;
                    match self.compact_step(*target, &mut step) {
                        Ok(()) => {
                            self.conn.execute_batch("RELEASE compact_step")?;
                            *compaction = step;
                            outcomes.push(Outcome::Compact(Ok(step)));
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, target, "compaction step failed");
                            self.conn
                                .execute_batch("ROLLBACK TO compact_step; RELEASE compact_step")?;
                            outcomes
                                .push(Outcome::Compact(Err(StoreError::Backend(err.to_string()))));
                        }
                    }
                }
            }
        }
        self.conn.execute_batch("COMMIT")
    }

    /// Applies one write inside the group's transaction. The outer error is SQLite's (fails the group),
    /// the inner one a precondition (fails this request only).
    fn apply_write(&mut self, op: &WriteOp) -> rusqlite::Result<Result<Event, StoreError>> {
        let key = match op {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        };
        let live = schema::latest(&self.conn, key)?
            .filter(|latest| !latest.deleted)
            .map(|latest| latest.kv);
        let revision = self.revision + 1;
        let mut insert = self.conn.prepare_cached(INSERT)?;
        let event = match op {
            WriteOp::Create { key, value } => {
                if live.is_some() {
                    return Ok(Err(StoreError::AlreadyExists { key: key.clone() }));
                }
                insert.execute((revision, key, 1, 0, revision, 0, value.as_ref()))?;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: revision,
                    mod_revision: revision,
                };
                Event {
                    kind: EventKind::Put,
                    kv,
                    prev: None,
                }
            }
            WriteOp::Update {
                key,
                value,
                expected,
            } => {
                let prev = match check(live, key, Some(*expected)) {
                    Ok(prev) => prev,
                    Err(err) => return Ok(Err(err)),
                };
                insert.execute((
                    revision,
                    key,
                    0,
                    0,
                    prev.create_revision,
                    prev.mod_revision,
                    value.as_ref(),
                ))?;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                };
                Event {
                    kind: EventKind::Put,
                    kv,
                    prev: Some(prev),
                }
            }
            WriteOp::Delete { key, expected } => {
                let prev = match check(live, key, *expected) {
                    Ok(prev) => prev,
                    Err(err) => return Ok(Err(err)),
                };
                insert.execute((
                    revision,
                    key,
                    0,
                    1,
                    prev.create_revision,
                    prev.mod_revision,
                    None::<&[u8]>,
                ))?;
                let kv = KeyValue {
                    mod_revision: revision,
                    ..prev.clone()
                };
                Event {
                    kind: EventKind::Delete,
                    kv,
                    prev: Some(prev),
                }
            }
        };
        self.revision = revision;
        Ok(Ok(event))
    }

    /// Sizes the next compaction step after the time the last one's transaction took.
    fn adapt_compaction_step(&mut self, took: Duration) {
        if took > STEP_BUDGET {
            self.step_revisions = (self.step_revisions / 2).max(MIN_STEP_REVISIONS);
            self.vacuum_pages = (self.vacuum_pages / 2).max(MIN_VACUUM_PAGES);
        } else if took < STEP_BUDGET / 2 {
            self.step_revisions = (self.step_revisions * 2).min(self.compaction_batch);
            self.vacuum_pages = (self.vacuum_pages * 2).min(MAX_VACUUM_PAGES);
        }
    }

    /// Removes the history of one batch of revisions: rows superseded by a row in the batch, and delete
    /// markers in the batch. Then returns some freed pages to the file system.
    fn compact_step(&mut self, target: Revision, state: &mut CompactState) -> rusqlite::Result<()> {
        let started = Instant::now();
        if target > state.target {
            // Recorded before any row goes, in a commit no later than the first deletion: a watch that read
            // the old compacted revision in its snapshot also sees none of the deletions.
            schema::write_meta(&self.conn, META_COMPACT_REV, target)?;
            state.target = target;
        }
        let from = state.progress;
        let to = (from + self.step_revisions).min(state.target);
        let mut removed = 0;
        if to > from {
            removed = self
                .conn
                .prepare_cached(DELETE_SUPERSEDED)?
                .execute((from, to))?;
            schema::write_meta(&self.conn, META_COMPACT_PROGRESS, to)?;
            state.progress = to;
        }
        // With auto_vacuum=INCREMENTAL this moves free pages to the end of the file and truncates it, keeping
        // the file near the size of the live data. The pragma does its work only as it is stepped.
        let mut vacuum = self
            .conn
            .prepare(&format!("PRAGMA incremental_vacuum({})", self.vacuum_pages))?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        state.free_pages = self
            .conn
            .query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
        tracing::debug!(
            from,
            to,
            removed,
            free_pages = state.free_pages,
            elapsed_us = started.elapsed().as_micros() as u64,
            "compaction step"
        );
        Ok(())
    }
}

/// The live value of `key`, if its revision is `expected` (when given).
fn check(
    live: Option<KeyValue>,
    key: &str,
    expected: Option<Revision>,
) -> Result<KeyValue, StoreError> {
    let current = live.ok_or_else(|| StoreError::NotFound {
        key: key.to_owned(),
    })?;
    match expected {
        Some(expected) if expected != current.mod_revision => Err(StoreError::Conflict {
            key: key.to_owned(),
            current: current.mod_revision,
        }),
        _ => Ok(current),
    }
}
