//! The backend-independent test suite: every [`Store`] must pass it.
//!
//! Each case is a function taking a fresh store. [`conformance_tests!`](crate::conformance_tests) turns the
//! whole suite into one `#[tokio::test]` per case for a backend, given an async closure that makes a store
//! (and a guard, such as a temporary directory, to keep alive while the case runs):
//!
//! ```ignore
//! mod memory {
//!     skiff_store::conformance_tests!(|| async {
//!         (std::sync::Arc::new(skiff_store::MemoryStore::new()) as std::sync::Arc<dyn skiff_store::Store>, ())
//!     });
//! }
//! ```

use crate::{Event, EventKind, KeyValue, Revision, Store, StoreError, WatchStream};
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Generates one `#[tokio::test]` per conformance case. The argument is an expression callable with no
/// arguments that returns a future of `(Arc<dyn Store>, guard)`.
#[macro_export]
macro_rules! conformance_tests {
    ($make_store:expr) => {
        $crate::conformance_tests!(@cases $make_store;
            create_and_get,
            update_checks_revision,
            delete_with_and_without_expected,
            recreate_after_delete_gets_new_create_revision,
            list_isolates_prefixes,
            list_pages,
            revisions_are_gapless,
            watch_replays_then_follows,
            watch_from_current_sees_only_new_events,
            watch_filters_by_prefix,
            watch_events_carry_previous_values,
            watch_rejects_future_revision,
            compaction_keeps_live_values_and_fails_old_watches,
            lagging_watcher_misses_nothing,
            concurrent_writers_are_serialized,
        );
    };
    (@cases $make_store:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = ($make_store)().await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

/// How long a case waits for an event before it fails (never reached when the store works).
const PATIENCE: Duration = Duration::from_secs(30);

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Receives exactly `n` events (failing on errors, end of stream, or a wait longer than [`PATIENCE`]).
pub async fn collect_events(watch: &mut WatchStream, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        let batch = tokio::time::timeout(PATIENCE, watch.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out after {} of {n} events", events.len()))
            .unwrap_or_else(|| panic!("watch ended after {} of {n} events", events.len()))
            .expect("watch failed");
        assert!(!batch.is_empty(), "empty batch");
        events.extend(batch);
    }
    assert_eq!(
        events.len(),
        n,
        "more events than expected: {:?}",
        &events[n..]
    );
    events
}

/// Asserts that nothing more arrives: writes a marker key under `marker_prefix` and checks that the next
/// event on `watch` is that marker (so that the check does not depend on timing).
async fn assert_next_is_marker(store: &dyn Store, watch: &mut WatchStream, marker_key: &str) {
    let marker = store.create(marker_key, bytes("marker")).await.unwrap();
    let events = collect_events(watch, 1).await;
    assert_eq!(events[0].kv, marker, "unexpected event before the marker");
}

fn keys(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

pub async fn create_and_get(store: Arc<dyn Store>) {
    let before = store.current_revision().await.unwrap();
    let kv = store
        .create("/registry/pods/default/web", bytes("v1"))
        .await
        .unwrap();
    assert_eq!(kv.key, "/registry/pods/default/web");
    assert_eq!(kv.value, bytes("v1"));
    assert_eq!(kv.mod_revision, before + 1);
    assert_eq!(kv.create_revision, kv.mod_revision);
    assert_eq!(store.current_revision().await.unwrap(), kv.mod_revision);
    assert_eq!(
        store.get("/registry/pods/default/web").await.unwrap(),
        Some(kv.clone())
    );
    assert_eq!(
        store.get("/registry/pods/default/other").await.unwrap(),
        None
    );

    let err = store
        .create("/registry/pods/default/web", bytes("v2"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::AlreadyExists {
            key: "/registry/pods/default/web".into()
        }
    );
    // A failed write consumes no revision and changes nothing.
    assert_eq!(store.current_revision().await.unwrap(), kv.mod_revision);
    assert_eq!(
        store.get("/registry/pods/default/web").await.unwrap(),
        Some(kv)
    );

    let empty = store
        .create("/registry/configmaps/default/empty", Bytes::new())
        .await
        .unwrap();
    assert_eq!(
        store
            .get("/registry/configmaps/default/empty")
            .await
            .unwrap()
            .unwrap()
            .value,
        Bytes::new()
    );
    assert_eq!(empty.mod_revision, before + 2);
}

pub async fn update_checks_revision(store: Arc<dyn Store>) {
    let key = "/registry/pods/default/web";
    let created = store.create(key, bytes("v1")).await.unwrap();
    let updated = store
        .update(key, bytes("v2"), created.mod_revision)
        .await
        .unwrap();
    assert_eq!(updated.value, bytes("v2"));
    assert_eq!(updated.create_revision, created.create_revision);
    assert_eq!(updated.mod_revision, created.mod_revision + 1);

    let err = store
        .update(key, bytes("stale"), created.mod_revision)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: key.into(),
            current: updated.mod_revision
        }
    );
    assert_eq!(store.get(key).await.unwrap(), Some(updated.clone()));

    let err = store
        .update("/registry/pods/default/absent", bytes("x"), 1)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            key: "/registry/pods/default/absent".into()
        }
    );
    assert_eq!(
        store.current_revision().await.unwrap(),
        updated.mod_revision
    );
}

pub async fn delete_with_and_without_expected(store: Arc<dyn Store>) {
    let a = store
        .create("/registry/pods/default/a", bytes("a1"))
        .await
        .unwrap();
    let b = store
        .create("/registry/pods/default/b", bytes("b1"))
        .await
        .unwrap();

    let err = store
        .delete("/registry/pods/default/a", Some(a.mod_revision + 100))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            key: "/registry/pods/default/a".into(),
            current: a.mod_revision
        }
    );
    assert!(store
        .get("/registry/pods/default/a")
        .await
        .unwrap()
        .is_some());

    let deleted = store
        .delete("/registry/pods/default/a", Some(a.mod_revision))
        .await
        .unwrap();
    assert_eq!(deleted.value, bytes("a1"));
    assert_eq!(deleted.create_revision, a.create_revision);
    assert_eq!(deleted.mod_revision, b.mod_revision + 1);
    assert_eq!(
        store.current_revision().await.unwrap(),
        deleted.mod_revision
    );
    assert_eq!(store.get("/registry/pods/default/a").await.unwrap(), None);

    let err = store
        .delete("/registry/pods/default/a", None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            key: "/registry/pods/default/a".into()
        }
    );
    let err = store
        .update("/registry/pods/default/a", bytes("x"), deleted.mod_revision)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            key: "/registry/pods/default/a".into()
        }
    );

    let deleted_b = store
        .delete("/registry/pods/default/b", None)
        .await
        .unwrap();
    assert_eq!(deleted_b.value, bytes("b1"));
    assert_eq!(deleted_b.mod_revision, deleted.mod_revision + 1);
    assert_eq!(
        store.list("/registry/pods/", None, None).await.unwrap().kvs,
        vec![]
    );
}

pub async fn recreate_after_delete_gets_new_create_revision(store: Arc<dyn Store>) {
    let key = "/registry/pods/default/web";
    let first = store.create(key, bytes("v1")).await.unwrap();
    let deleted = store.delete(key, None).await.unwrap();
    let second = store.create(key, bytes("v2")).await.unwrap();
    assert_eq!(second.create_revision, deleted.mod_revision + 1);
    assert_eq!(second.mod_revision, second.create_revision);
    assert_ne!(second.create_revision, first.create_revision);
    assert_eq!(store.get(key).await.unwrap(), Some(second.clone()));
    let listed = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(listed.kvs, vec![second]);
}

pub async fn list_isolates_prefixes(store: Arc<dyn Store>) {
    for key in [
        "/registry/pods/default/b",
        "/registry/pods/default/a",
        "/registry/pods/kube-system/c",
        "/registry/podsx/default/x",
        "/registry/pods",
        "/registry/pod/default/y",
        "/registry/podtemplates/default/z",
        "/registry/pods/default/gone",
    ] {
        store.create(key, bytes(key)).await.unwrap();
    }
    store
        .delete("/registry/pods/default/gone", None)
        .await
        .unwrap();
    let current = store.current_revision().await.unwrap();

    let pods = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(
        keys(&pods.kvs),
        [
            "/registry/pods/default/a",
            "/registry/pods/default/b",
            "/registry/pods/kube-system/c"
        ]
    );
    assert_eq!(pods.revision, current);
    assert!(!pods.more);
    for kv in &pods.kvs {
        assert_eq!(kv.value, bytes(&kv.key));
    }

    let default = store
        .list("/registry/pods/default/", None, None)
        .await
        .unwrap();
    assert_eq!(
        keys(&default.kvs),
        ["/registry/pods/default/a", "/registry/pods/default/b"]
    );
    let podsx = store.list("/registry/podsx/", None, None).await.unwrap();
    assert_eq!(keys(&podsx.kvs), ["/registry/podsx/default/x"]);
    let none = store.list("/registry/secrets/", None, None).await.unwrap();
    assert!(none.kvs.is_empty());
    assert_eq!(none.revision, current);

    let all = store.list("/", None, None).await.unwrap();
    assert_eq!(all.kvs.len(), 7);
    assert!(
        all.kvs
            .windows(2)
            .all(|w| w[0].key.as_bytes() < w[1].key.as_bytes()),
        "not in byte order"
    );
    let everything = store.list("", None, None).await.unwrap();
    assert_eq!(everything.kvs, all.kvs);
}

pub async fn list_pages(store: Arc<dyn Store>) {
    for i in 0..10 {
        store
            .create(&format!("/registry/pods/ns/p{i:02}"), bytes("x"))
            .await
            .unwrap();
    }
    // Deleted keys in the middle of a page do not count against the limit.
    store.delete("/registry/pods/ns/p01", None).await.unwrap();
    store.delete("/registry/pods/ns/p02", None).await.unwrap();
    store
        .create("/registry/podsx/ns/after", bytes("x"))
        .await
        .unwrap();
    let current = store.current_revision().await.unwrap();

    let mut seen = Vec::new();
    let mut start_after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list("/registry/pods/", start_after.as_deref(), Some(3))
            .await
            .unwrap();
        assert_eq!(page.revision, current);
        pages += 1;
        assert!(page.kvs.len() <= 3);
        seen.extend(page.kvs.iter().map(|kv| kv.key.clone()));
        if !page.more {
            break;
        }
        assert_eq!(page.kvs.len(), 3, "a page with more after it is full");
        start_after = Some(page.kvs.last().unwrap().key.clone());
    }
    let expected: Vec<String> = [0, 3, 4, 5, 6, 7, 8, 9]
        .iter()
        .map(|i| format!("/registry/pods/ns/p{i:02}"))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // A limit equal to what is left reports no more.
    let last = store
        .list("/registry/pods/", Some("/registry/pods/ns/p06"), Some(3))
        .await
        .unwrap();
    assert_eq!(
        keys(&last.kvs),
        [
            "/registry/pods/ns/p07",
            "/registry/pods/ns/p08",
            "/registry/pods/ns/p09"
        ]
    );
    assert!(!last.more);
    let past_end = store
        .list("/registry/pods/", Some("/registry/pods/ns/p09"), Some(3))
        .await
        .unwrap();
    assert!(past_end.kvs.is_empty());
    assert!(!past_end.more);
    let unlimited = store
        .list("/registry/pods/", Some("/registry/pods/ns/p05"), None)
        .await
        .unwrap();
    assert_eq!(unlimited.kvs.len(), 4);
    assert!(!unlimited.more);
}

pub async fn revisions_are_gapless(store: Arc<dyn Store>) {
    let mut expected = store.current_revision().await.unwrap();
    let mut check = |kv: KeyValue| {
        expected += 1;
        assert_eq!(kv.mod_revision, expected);
        kv
    };
    let a = check(store.create("/registry/a/x", bytes("1")).await.unwrap());
    assert!(store.create("/registry/a/x", bytes("1")).await.is_err());
    let a = check(
        store
            .update("/registry/a/x", bytes("2"), a.mod_revision)
            .await
            .unwrap(),
    );
    assert!(store
        .update("/registry/a/x", bytes("3"), a.mod_revision - 1)
        .await
        .is_err());
    assert!(store.update("/registry/a/y", bytes("3"), 1).await.is_err());
    check(store.create("/registry/a/y", bytes("1")).await.unwrap());
    check(
        store
            .delete("/registry/a/x", Some(a.mod_revision))
            .await
            .unwrap(),
    );
    assert!(store.delete("/registry/a/x", None).await.is_err());
    check(store.create("/registry/a/x", bytes("again")).await.unwrap());
    assert_eq!(store.current_revision().await.unwrap(), expected);
}

pub async fn watch_replays_then_follows(store: Arc<dyn Store>) {
    let start = store.current_revision().await.unwrap();
    let a = store
        .create("/registry/pods/ns/a", bytes("a1"))
        .await
        .unwrap();
    let a2 = store
        .update("/registry/pods/ns/a", bytes("a2"), a.mod_revision)
        .await
        .unwrap();
    let b = store
        .create("/registry/pods/ns/b", bytes("b1"))
        .await
        .unwrap();

    // From the beginning: three replayed events.
    let mut watch = store.watch("/registry/pods/", start).await.unwrap();
    let replayed = collect_events(&mut watch, 3).await;
    assert_eq!(
        replayed.iter().map(|e| e.kv.clone()).collect::<Vec<_>>(),
        vec![a.clone(), a2.clone(), b.clone()]
    );
    // From the middle: only what came after.
    let mut later = store
        .watch("/registry/pods/", a2.mod_revision)
        .await
        .unwrap();

    let deleted = store.delete("/registry/pods/ns/a", None).await.unwrap();
    let c = store
        .create("/registry/pods/ns/c", bytes("c1"))
        .await
        .unwrap();
    let live = collect_events(&mut watch, 2).await;
    assert_eq!(live[0].kind, EventKind::Delete);
    assert_eq!(live[0].kv, deleted);
    assert_eq!(live[1].kv, c);

    let tail = collect_events(&mut later, 3).await;
    assert_eq!(
        tail.iter().map(Event::revision).collect::<Vec<_>>(),
        [b.mod_revision, deleted.mod_revision, c.mod_revision]
    );
    assert_next_is_marker(&*store, &mut watch, "/registry/pods/ns/marker").await;
    assert_eq!(
        collect_events(&mut later, 1).await[0].kv.key,
        "/registry/pods/ns/marker"
    );
}

pub async fn watch_from_current_sees_only_new_events(store: Arc<dyn Store>) {
    for i in 0..5 {
        store
            .create(&format!("/registry/pods/ns/old{i}"), bytes("x"))
            .await
            .unwrap();
    }
    let current = store.current_revision().await.unwrap();
    let mut watch = store.watch("/registry/pods/", current).await.unwrap();
    let new = store
        .create("/registry/pods/ns/new", bytes("x"))
        .await
        .unwrap();
    let events = collect_events(&mut watch, 1).await;
    assert_eq!(events[0].kv, new);
    assert_eq!(events[0].kind, EventKind::Put);
    assert_eq!(events[0].prev, None);
    assert_next_is_marker(&*store, &mut watch, "/registry/pods/ns/marker").await;
}

pub async fn watch_filters_by_prefix(store: Arc<dyn Store>) {
    let start = store.current_revision().await.unwrap();
    store
        .create("/registry/pods/ns/a", bytes("x"))
        .await
        .unwrap();
    store
        .create("/registry/podsx/ns/a", bytes("x"))
        .await
        .unwrap();
    store
        .create("/registry/services/ns/a", bytes("x"))
        .await
        .unwrap();
    let mut pods = store.watch("/registry/pods/", start).await.unwrap();
    let mut all = store.watch("/registry/", start).await.unwrap();
    store
        .create("/registry/podsx/ns/b", bytes("x"))
        .await
        .unwrap();
    store
        .create("/registry/pods/ns/b", bytes("x"))
        .await
        .unwrap();

    let events = collect_events(&mut pods, 2).await;
    assert_eq!(
        events.iter().map(|e| e.kv.key.as_str()).collect::<Vec<_>>(),
        ["/registry/pods/ns/a", "/registry/pods/ns/b"]
    );
    let events = collect_events(&mut all, 5).await;
    let revisions: Vec<Revision> = events.iter().map(Event::revision).collect();
    assert_eq!(revisions, (start + 1..=start + 5).collect::<Vec<_>>());
    assert_next_is_marker(&*store, &mut pods, "/registry/pods/ns/marker").await;
}

pub async fn watch_events_carry_previous_values(store: Arc<dyn Store>) {
    let start = store.current_revision().await.unwrap();
    let key = "/registry/pods/ns/a";
    let v1 = store.create(key, bytes("v1")).await.unwrap();
    let v2 = store
        .update(key, bytes("v2"), v1.mod_revision)
        .await
        .unwrap();
    let mut live = store
        .watch("/registry/pods/", v2.mod_revision)
        .await
        .unwrap();
    let deleted = store.delete(key, Some(v2.mod_revision)).await.unwrap();
    let recreated = store.create(key, bytes("v3")).await.unwrap();

    let expected = vec![
        Event {
            kind: EventKind::Put,
            kv: v1.clone(),
            prev: None,
        },
        Event {
            kind: EventKind::Put,
            kv: v2.clone(),
            prev: Some(v1.clone()),
        },
        Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                mod_revision: deleted.mod_revision,
                ..v2.clone()
            },
            prev: Some(v2.clone()),
        },
        Event {
            kind: EventKind::Put,
            kv: recreated.clone(),
            prev: None,
        },
    ];
    // Live events and replayed events (read back from history) must be identical.
    assert_eq!(collect_events(&mut live, 2).await, expected[2..]);
    let mut replay = store.watch("/registry/pods/", start).await.unwrap();
    assert_eq!(collect_events(&mut replay, 4).await, expected);
}

pub async fn watch_rejects_future_revision(store: Arc<dyn Store>) {
    store
        .create("/registry/pods/ns/a", bytes("x"))
        .await
        .unwrap();
    let current = store.current_revision().await.unwrap();
    let err = store
        .watch("/registry/pods/", current + 10)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::FutureRevision {
            requested: current + 10,
            current
        }
    );
    assert!(store.watch("/registry/pods/", current).await.is_ok());
}

pub async fn compaction_keeps_live_values_and_fails_old_watches(store: Arc<dyn Store>) {
    assert_eq!(store.compacted_revision(), 0);
    let start = store.current_revision().await.unwrap();
    let mut a = store
        .create("/registry/pods/ns/a", bytes("a0"))
        .await
        .unwrap();
    for i in 1..=20 {
        a = store
            .update(
                "/registry/pods/ns/a",
                bytes(&format!("a{i}")),
                a.mod_revision,
            )
            .await
            .unwrap();
    }
    let b = store
        .create("/registry/pods/ns/b", bytes("b"))
        .await
        .unwrap();
    let c = store
        .create("/registry/pods/ns/c", bytes("c"))
        .await
        .unwrap();
    store.delete("/registry/pods/ns/c", None).await.unwrap();
    let d = store
        .create("/registry/pods/ns/d", bytes("d"))
        .await
        .unwrap();
    let compact_at = store.current_revision().await.unwrap();
    // Written after the compacted revision: its event must still carry the previous value.
    let d2 = store
        .update("/registry/pods/ns/d", bytes("d2"), d.mod_revision)
        .await
        .unwrap();

    let err = store.compact(compact_at + 100).await.unwrap_err();
    assert!(matches!(err, StoreError::FutureRevision { .. }), "{err:?}");
    store.compact(compact_at).await.unwrap();
    assert_eq!(store.compacted_revision(), compact_at);
    // Compacting to an older revision is a no-op.
    store.compact(start).await.unwrap();
    assert_eq!(store.compacted_revision(), compact_at);

    assert_eq!(
        store.get("/registry/pods/ns/a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.get("/registry/pods/ns/c").await.unwrap(), None);
    let list = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(list.kvs, vec![a.clone(), b.clone(), d2.clone()]);
    assert_eq!(list.revision, d2.mod_revision);
    assert_eq!(store.current_revision().await.unwrap(), d2.mod_revision);
    let _ = c;

    let err = store.watch("/registry/pods/", start).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Compacted {
            requested: start,
            compacted: compact_at
        }
    );
    let err = store
        .watch("/registry/pods/", compact_at - 1)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Compacted {
            requested: compact_at - 1,
            compacted: compact_at
        }
    );

    let mut watch = store.watch("/registry/pods/", compact_at).await.unwrap();
    let events = collect_events(&mut watch, 1).await;
    assert_eq!(
        events[0],
        Event {
            kind: EventKind::Put,
            kv: d2.clone(),
            prev: Some(d.clone())
        }
    );
    // Writes go on with the next revision.
    let e = store
        .create("/registry/pods/ns/e", bytes("e"))
        .await
        .unwrap();
    assert_eq!(e.mod_revision, d2.mod_revision + 1);
    assert_eq!(collect_events(&mut watch, 1).await[0].kv, e);

    // Compacting everything, up to the current revision, still keeps the live values.
    store.compact(e.mod_revision).await.unwrap();
    let list = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(list.kvs, vec![a, b, d2, e.clone()]);
    assert_eq!(list.revision, e.mod_revision);
    let f = store
        .create("/registry/pods/ns/f", bytes("f"))
        .await
        .unwrap();
    assert_eq!(f.mod_revision, e.mod_revision + 1);
}

pub async fn lagging_watcher_misses_nothing(store: Arc<dyn Store>) {
    // A watcher that does not read while many separate commits happen falls behind any bounded buffer.
    let start = store.current_revision().await.unwrap();
    let mut watch = store.watch("/registry/leases/", start).await.unwrap();
    let n = 1600;
    let mut lease = store
        .create("/registry/leases/ns/node", bytes("0"))
        .await
        .unwrap();
    for i in 1..n {
        lease = store
            .update(
                "/registry/leases/ns/node",
                bytes(&i.to_string()),
                lease.mod_revision,
            )
            .await
            .unwrap();
    }
    let events = collect_events(&mut watch, n).await;
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.revision(), start + 1 + i as Revision);
        assert_eq!(event.kv.value, bytes(&i.to_string()));
    }
    assert_next_is_marker(&*store, &mut watch, "/registry/leases/ns/marker").await;
}

pub async fn concurrent_writers_are_serialized(store: Arc<dyn Store>) {
    const TASKS: usize = 32;
    const PER_TASK: usize = 200;
    let start = store.current_revision().await.unwrap();
    let mut watch = store.watch("/registry/pods/", start).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let kv = store
                    .create(&format!("/registry/pods/ns{t}/p{i}"), bytes("x"))
                    .await
                    .unwrap();
                revisions.push(kv.mod_revision);
            }
            revisions
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "one caller's revisions must increase"
        );
        revisions.extend(mine);
    }
    revisions.sort_unstable();
    let total = TASKS * PER_TASK;
    assert_eq!(
        revisions,
        (start + 1..=start + total as Revision).collect::<Vec<_>>()
    );
    assert_eq!(
        store.current_revision().await.unwrap(),
        start + total as Revision
    );

    let events = collect_events(&mut watch, total).await;
    let seen: Vec<Revision> = events.iter().map(Event::revision).collect();
    assert_eq!(
        seen,
        (start + 1..=start + total as Revision).collect::<Vec<_>>()
    );
    let unique: HashSet<&str> = events.iter().map(|e| e.kv.key.as_str()).collect();
    assert_eq!(unique.len(), total);
    let list = store.list("/registry/pods/", None, None).await.unwrap();
    assert_eq!(list.kvs.len(), total);
    assert_next_is_marker(&*store, &mut watch, "/registry/pods/zz/marker").await;
}
