//! SQLite-only behaviour: durability across reopen and SIGKILL, compaction beside writers, file size.

use bytes::Bytes;
use skiff_store::{EventKind, SqliteStore, Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn value(len: usize, seed: usize) -> Bytes {
    let text = format!("{{\"seed\":{seed},\"pad\":\"");
    let mut v = text.into_bytes();
    v.resize(len.saturating_sub(2), b'x');
    v.extend_from_slice(b"\"}");
    Bytes::from(v)
}

/// Size of the database file and its WAL.
fn file_sizes(path: &std::path::Path) -> (u64, u64) {
    let db = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut wal_path = path.as_os_str().to_owned();
    wal_path.push("-wal");
    let wal = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
    (db, wal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (a, b, deleted) = {
        let store = SqliteStore::open(&path).unwrap();
        let a = store
            .create("/registry/pods/ns/a", Bytes::from_static(b"a1"))
            .await
            .unwrap();
        let a = store
            .update(
                "/registry/pods/ns/a",
                Bytes::from_static(b"a2"),
                a.mod_revision,
            )
            .await
            .unwrap();
        let b = store
            .create("/registry/pods/ns/b", Bytes::from_static(b"b1"))
            .await
            .unwrap();
        store
            .create("/registry/pods/ns/c", Bytes::from_static(b"c1"))
            .await
            .unwrap();
        let deleted = store.delete("/registry/pods/ns/c", None).await.unwrap();
        (a, b, deleted)
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        deleted.mod_revision
    );
    assert_eq!(
        store.get("/registry/pods/ns/a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.list("/registry/pods/", None, None).await.unwrap().kvs,
        vec![a.clone(), b.clone()]
    );
    // History survives too: a watch from the beginning replays all five writes.
    let mut watch = store.watch("/registry/pods/", 0).await.unwrap();
    let events = skiff_store::conformance::collect_events(&mut watch, 5).await;
    assert_eq!(events.last().unwrap().kind, EventKind::Delete);

    // Compact everything, including the newest row (a delete marker): the revision must not go back.
    store.compact(deleted.mod_revision).await.unwrap();
    drop(watch);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        deleted.mod_revision
    );
    assert_eq!(store.compacted_revision(), deleted.mod_revision);
    let err = store.watch("/registry/pods/", 0).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Compacted {
            requested: 0,
            compacted: deleted.mod_revision
        }
    );
    let d = store
        .create("/registry/pods/ns/d", Bytes::from_static(b"d1"))
        .await
        .unwrap();
    assert_eq!(d.mod_revision, deleted.mod_revision + 1);
    let list = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(list.kvs, vec![a, b, d.clone()]);
    assert_eq!(list.revision, d.mod_revision);
}

/// The child half of `acknowledged_writes_survive_sigkill`: writes until killed, printing each
/// acknowledged revision. Does nothing unless the parent set the environment variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_child_writer() {
    let Ok(path) = std::env::var("SKIFF_STORE_SIGKILL_DB") else {
        return;
    };
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let kv = store
                    .create(&format!("/registry/pods/ns{t}/p{i}"), value(512, i))
                    .await
                    .unwrap();
                println!("ack {} {}", kv.mod_revision, kv.key);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SKIFF_STORE_SIGKILL_DB", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let (revision, key) = rest.split_once(' ').unwrap();
            acked.push((revision.parse::<i64>().unwrap(), key.to_owned()));
            if acked.len() == 3000 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(acked.len(), 3000, "child stopped early");

    let store = SqliteStore::open(&path).unwrap();
    let current = store.current_revision().await.unwrap();
    for (revision, key) in &acked {
        assert!(*revision <= current);
        let kv = store
            .get(key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {key} lost"));
        assert_eq!(kv.mod_revision, *revision);
    }
    // Revisions stay gapless across the crash: every revision up to the current one is in the file.
    let listed = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(listed.kvs.len() as i64, current);
    let next = store
        .create("/registry/pods/after/crash", Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(next.mod_revision, current + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_proceed_during_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());
    // 200 keys x 50 updates = 10,000 revisions of history.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for k in (t..200).step_by(8) {
                let key = format!("/registry/leases/ns/l{k}");
                let mut kv = store.create(&key, value(300, 0)).await.unwrap();
                for i in 1..50 {
                    kv = store
                        .update(&key, value(300, i), kv.mod_revision)
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let target = store.current_revision().await.unwrap();
    let compactor = {
        let store = store.clone();
        tokio::spawn(async move { store.compact(target).await })
    };
    // Writes keep succeeding while compaction runs.
    let mut worst = Duration::ZERO;
    let mut writes = 0;
    while !compactor.is_finished() || writes < 10 {
        let started = Instant::now();
        store
            .create(
                &format!("/registry/events/ns/e{writes}"),
                value(300, writes),
            )
            .await
            .unwrap();
        worst = worst.max(started.elapsed());
        writes += 1;
    }
    compactor.await.unwrap().unwrap();
    println!("{writes} writes during compaction, slowest {worst:?}");
    assert_eq!(store.compacted_revision(), target);
    let leases = store.list("/registry/leases/", None, None).await.unwrap();
    assert_eq!(leases.kvs.len(), 200);
    assert!(leases.kvs.iter().all(|kv| kv.value == value(300, 49)));
    assert_eq!(
        store
            .list("/registry/events/", None, None)
            .await
            .unwrap()
            .kvs
            .len(),
        writes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_stays_small_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    let key = "/registry/leases/kube-node-lease/node-1";
    let mut kv = store.create(key, value(8192, 0)).await.unwrap();
    for i in 1..3000 {
        kv = store
            .update(key, value(8192, i), kv.mod_revision)
            .await
            .unwrap();
    }
    let (db_before, wal_before) = file_sizes(&path);
    store.compact(kv.mod_revision).await.unwrap();
    let (db_after, wal_after) = file_sizes(&path);
    println!("db {db_before} -> {db_after} bytes, wal {wal_before} -> {wal_after} bytes");
    assert!(
        db_before > 20_000_000,
        "history should take space: {db_before}"
    );
    assert!(
        db_after < 1_000_000,
        "database file should shrink to near the live data: {db_after} bytes"
    );
    assert_eq!(store.get(key).await.unwrap(), Some(kv.clone()));
    // The next write rewinds the WAL, which `journal_size_limit` then cuts back to 20 MiB.
    store
        .update(key, value(8192, 0), kv.mod_revision)
        .await
        .unwrap();
    let (_, wal_rewound) = file_sizes(&path);
    println!("wal after the next write: {wal_rewound} bytes");
    assert!(
        wal_rewound <= 20 * 1024 * 1024,
        "wal should be cut back: {wal_rewound} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_compactor_keeps_recent_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("store.db")).unwrap();
    let mut kv = store
        .create("/registry/leases/ns/a", value(100, 0))
        .await
        .unwrap();
    for i in 1..100 {
        kv = store
            .update("/registry/leases/ns/a", value(100, i), kv.mod_revision)
            .await
            .unwrap();
    }
    let _compactor = store.spawn_compactor(Duration::from_millis(10), 30);
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.compacted_revision() != kv.mod_revision - 30 {
        assert!(Instant::now() < deadline, "compactor did not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(store
        .watch("/registry/leases/", kv.mod_revision - 31)
        .await
        .is_err());
    let mut watch = store
        .watch("/registry/leases/", kv.mod_revision - 30)
        .await
        .unwrap();
    let events = skiff_store::conformance::collect_events(&mut watch, 30).await;
    assert_eq!(events.last().unwrap().kv, kv);
}

/// `cargo test --release -p skiff-store -- --ignored --nocapture`: 10,000 durable creates from 32 callers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement; run in release mode"]
async fn throughput_32_callers() {
    const CALLERS: usize = 32;
    // SKIFF_STORE_BENCH_TOTAL=100000 for a longer run (WAL rewinds, background checkpoints).
    let total: usize = std::env::var("SKIFF_STORE_BENCH_TOTAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    for value_len in [1024, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());
        let started = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..CALLERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total / CALLERS + 1);
                for i in (t..total).step_by(CALLERS) {
                    let begun = Instant::now();
                    store
                        .create(
                            &format!("/registry/pods/ns{}/pod-{i}", i % 10),
                            value(value_len, i),
                        )
                        .await
                        .unwrap();
                    latencies.push(begun.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::with_capacity(total);
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "sqlite: {total} creates of {value_len} B from {CALLERS} callers in {elapsed:.2?}: {:.0} creates/s, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            total as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            latencies.last().unwrap()
        );
    }
}

/// `cargo test --release -p skiff-store -- --ignored --nocapture`: write latency of 32 callers while
/// 50,000 revisions of history are compacted, against the same load without compaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "latency measurement; run in release mode"]
async fn write_latency_during_compaction() {
    const CALLERS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());
    // History: 1,000 keys updated 50 times each, 1 KiB values.
    let mut tasks = Vec::new();
    for t in 0..CALLERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for k in (t..1000).step_by(CALLERS) {
                let key = format!("/registry/leases/ns/l{k}");
                let mut kv = store.create(&key, value(1024, 0)).await.unwrap();
                for i in 1..50 {
                    kv = store
                        .update(&key, value(1024, i), kv.mod_revision)
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let history = store.current_revision().await.unwrap();

    for compacting in [false, true] {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for t in 0..CALLERS {
            let (store, stop) = (store.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let begun = Instant::now();
                    let key = format!("/registry/events/ns/{compacting}-{t}-{i}");
                    store.create(&key, value(1024, i)).await.unwrap();
                    latencies.push(begun.elapsed());
                    i += 1;
                }
                latencies
            }));
        }
        let started = Instant::now();
        if compacting {
            store.compact(history).await.unwrap();
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let elapsed = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut latencies = Vec::new();
        for writer in writers {
            latencies.extend(writer.await.unwrap());
        }
        latencies.sort_unstable();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "sqlite: {} creates from {CALLERS} callers {} ({elapsed:.2?}): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            latencies.len(),
            if compacting { "while compacting 50,000 revisions" } else { "without compaction" },
            pct(0.50),
            pct(0.99),
            latencies.last().unwrap()
        );
    }
}
