//! The scheduling queue (upstream's `PriorityQueue`): activeQ, backoffQ and the unschedulable pool.
//!
//! - activeQ is a binary heap ordered by the profile's QueueSort (`PrioritySort`: priority, then the
//!   pod's creation time), ties broken by arrival order.
//! - A pod that failed with an error, or whose unschedulability may be resolved by a cluster event
//!   that happened while it was being scheduled, waits in backoffQ: 1 s doubling per attempt up to
//!   10 s (`podInitialBackoffSeconds`, `podMaxBackoffSeconds`). As upstream with its
//!   `SchedulerPopFromBackoffQ` feature (KEP-5142, on by default since 1.33), backoff expiries are
//!   rounded down to whole [`BACKOFF_WINDOW`]s and whole windows move to activeQ at once; pods that
//!   were unschedulable (not those that failed with an error) wait in their own heap, ordered by window
//!   and then as in activeQ, and when activeQ is empty the next of them is popped before its backoff
//!   ends, so that an idle scheduler does not sit out a backoff.
//! - A pod no node fits waits in the unschedulable pool until a relevant cluster event moves it
//!   ([`SchedulingQueue::move_all_to_active_or_backoff`], filtered by the plugins that rejected it,
//!   as upstream's queueing hints do), or until it has waited `flush` long
//!   ([`SchedulingQueue::flush_unschedulable_left_over`], upstream's 5 minutes).
//!
//! Entries are keyed by `namespace/name`; heap entries carry a generation so that updates and
//! deletions are lazy (stale heap entries are skipped on pop). The clock is the caller's: every
//! method that depends on time takes `now`.

use crate::framework::{PodInfo, QueuedPodInfo};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// backoffQ's ordering window (upstream `backoffQOrderingWindowDuration`).
pub const BACKOFF_WINDOW: Duration = Duration::from_secs(1);

/// The QueueSort order: `true` when `a` should be scheduled before `b`.
pub type LessFn = Arc<dyn Fn(&QueuedPodInfo, &QueuedPodInfo) -> bool + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
}

#[derive(Debug)]
struct Entry {
    q: QueuedPodInfo,
    profile: usize,
    place: Place,
    gen: u64,
    /// When the last attempt failed (backoff is counted from here).
    last_failure: Option<Instant>,
    /// When the pod entered the unschedulable pool.
    unschedulable_since: Instant,
    /// The plugins that rejected the pod in its last attempt.
    plugins: Vec<&'static str>,
}

/// A popped pod: what to schedule, with which profile, and the cycle it was popped in.
#[derive(Debug, Clone)]
pub struct Popped {
    pub q: QueuedPodInfo,
    pub profile: usize,
    pub cycle: u64,
}

/// An entry of the unschedulable-backoff heap.
#[derive(Debug)]
struct BackoffItem {
    /// The start of the window the backoff expires in.
    expiry: Instant,
    q: QueuedPodInfo,
    gen: u64,
    seq: u64,
}

/// activeQ + backoffQ + unschedulable pool.
pub struct SchedulingQueue {
    less: LessFn,
    entries: HashMap<String, Entry>,
    /// Keys of the entries in the unschedulable pool (so cluster events cost O(pool), not O(queue)).
    unschedulable: HashSet<String>,
    /// Pods held in the unschedulable pool whatever happens until ungated: preemptors whose victims'
    /// deletions are still in flight (upstream DefaultPreemption's PreEnqueue, `IsPodRunningPreemption`).
    gated: HashSet<String>,
    /// Heap of (pod, generation, arrival sequence).
    active: Vec<(QueuedPodInfo, u64, u64)>,
    /// upstream's `podBackoffQ`: unschedulable pods backing off, by (expiry window, QueueSort, arrival).
    backoff: Vec<BackoffItem>,
    /// upstream's `podErrorBackoffQ`: pods whose attempt failed with an error, by expiry window.
    error_backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    /// Where the backoff windows are counted from.
    epoch: Instant,
    gen: u64,
    seq: u64,
    /// Scheduling cycles popped so far.
    cycle: u64,
    /// The cycle of the latest move request (`moveRequestCycle`).
    move_request_cycle: u64,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulingQueue")
            .field("pods", &self.entries.len())
            .field("active", &self.num_active())
            .finish()
    }
}

/// The pod's creation time in nanoseconds (the QueueSort timestamp), 0 when unset.
pub fn creation_nanos(pod: &PodInfo) -> i128 {
    pod.pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_nanosecond())
        .unwrap_or(0)
}

impl SchedulingQueue {
    pub fn new(less: LessFn, initial_backoff: Duration, max_backoff: Duration) -> Self {
        SchedulingQueue {
            less,
            entries: HashMap::new(),
            unschedulable: HashSet::new(),
            gated: HashSet::new(),
            active: Vec::new(),
            backoff: Vec::new(),
            error_backoff: BinaryHeap::new(),
            epoch: Instant::now(),
            gen: 0,
            seq: 0,
            cycle: 0,
            move_request_cycle: 0,
            initial_backoff,
            max_backoff,
        }
    }

    /// Pods in the queue (all three parts).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn num_active(&self) -> usize {
        self.count(Place::Active)
    }

    pub fn num_backoff(&self) -> usize {
        self.count(Place::Backoff)
    }

    pub fn num_unschedulable(&self) -> usize {
        self.unschedulable.len()
    }

    fn count(&self, p: Place) -> usize {
        self.entries.values().filter(|e| e.place == p).count()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Every queued pod's key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The queued pod of `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<PodInfo>> {
        self.entries.get(key).map(|e| &e.q.pod_info)
    }

    /// The backoff of a pod after `attempts` attempts.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }

    /// `t` rounded down to its backoff window (upstream `alignToWindow`).
    fn align(&self, t: Instant) -> Instant {
        let since = t.saturating_duration_since(self.epoch);
        let windows = since.as_nanos() / BACKOFF_WINDOW.as_nanos();
        self.epoch + BACKOFF_WINDOW * windows as u32
    }

    /// The window the pod's backoff expires in (upstream `getBackoffTime`).
    fn backoff_expiry(&self, e: &Entry) -> Option<Instant> {
        e.last_failure
            .map(|t| self.align(t + self.backoff_duration(e.q.attempts)))
    }

    /// A pod whose backoff expires in the current window or later is still backing off
    /// (upstream `isPodBackingoff`).
    fn backing_off(&self, expiry: Instant, now: Instant) -> bool {
        expiry >= self.align(now)
    }

    fn take(&mut self, key: &str) -> Option<Entry> {
        self.unschedulable.remove(key);
        self.entries.remove(key)
    }

    /// Adds a new pod to activeQ (`Add`).
    pub fn add(&mut self, pod: Arc<PodInfo>, profile: usize) {
        let ts = creation_nanos(&pod);
        let key = pod.key().to_string();
        let q = QueuedPodInfo {
            pod_info: pod,
            timestamp: ts,
            attempts: 0,
            initial_attempt_timestamp: None,
        };
        self.take(&key);
        self.insert(key, q, profile, Place::Active, None, Vec::new(), None);
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        key: String,
        q: QueuedPodInfo,
        profile: usize,
        place: Place,
        last_failure: Option<Instant>,
        plugins: Vec<&'static str>,
        now: Option<Instant>,
    ) {
        // A gated pod waits in the unschedulable pool until it is ungated.
        let place = if place != Place::Unschedulable && self.gated.contains(&key) {
            Place::Unschedulable
        } else {
            place
        };
        self.gen += 1;
        let gen = self.gen;
        let e = Entry {
            q,
            profile,
            place,
            gen,
            last_failure,
            unschedulable_since: now.unwrap_or_else(Instant::now),
            plugins,
        };
        match place {
            Place::Active => self.push_active(e.q.clone(), gen),
            Place::Backoff => {
                let at = self
                    .backoff_expiry(&e)
                    .unwrap_or_else(|| self.align(e.unschedulable_since));
                if e.plugins.is_empty() {
                    // Failed with an error (no plugin rejected it): upstream's podErrorBackoffQ.
                    self.error_backoff.push(Reverse((at, gen, key.clone())));
                } else {
                    self.push_backoff(at, e.q.clone(), gen);
                }
            }
            Place::Unschedulable => {
                self.unschedulable.insert(key.clone());
            }
        }
        self.entries.insert(key, e);
    }

    /// Replaces a queued pod's object (`Update`). `relevant`: the change may make it schedulable
    /// (spec, labels or annotations changed), which moves it out of the unschedulable pool.
    /// Returns false when the pod is not queued.
    pub fn update(&mut self, pod: Arc<PodInfo>, relevant: bool, now: Instant) -> bool {
        let key = pod.key().to_string();
        let Some(e) = self.entries.get_mut(&key) else {
            return false;
        };
        e.q.pod_info = pod;
        match e.place {
            Place::Active => {
                // Priority may not change, but re-push so the heap holds the new object.
                self.gen += 1;
                e.gen = self.gen;
                let (q, g) = (e.q.clone(), e.gen);
                self.push_active(q, g);
            }
            Place::Backoff => {}
            Place::Unschedulable if relevant => {
                let e = self.take(&key).expect("present");
                self.requeue(key, e, now);
            }
            Place::Unschedulable => {}
        }
        true
    }

    /// Removes a pod (`Delete`).
    pub fn delete(&mut self, key: &str) -> bool {
        self.gated.remove(key);
        self.take(key).is_some()
    }

    /// Holds the pod of `key` in the unschedulable pool from now on, until [`SchedulingQueue::ungate`].
    pub fn gate(&mut self, key: &str) {
        self.gated.insert(key.to_string());
    }

    /// Lifts [`SchedulingQueue::gate`]: a pod waiting in the unschedulable pool moves to activeQ (or
    /// backoffQ while backing off), as an event about it would move it.
    pub fn ungate(&mut self, key: &str, now: Instant) {
        if !self.gated.remove(key) {
            return;
        }
        if self.unschedulable.contains(key) {
            let e = self.take(key).expect("present");
            self.requeue(key.to_string(), e, now);
        }
    }

    /// Pops the next pod of activeQ (`Pop`), counting the attempt; when activeQ is empty, the next
    /// unschedulable pod of backoffQ, backing off or not (`SchedulerPopFromBackoffQ`).
    pub fn pop(&mut self) -> Option<Popped> {
        while !self.active.is_empty() {
            let (q, gen, _) = self.pop_heap();
            if let Some(p) = self.take_popped(&q, gen, Place::Active) {
                return Some(p);
            }
        }
        while !self.backoff.is_empty() {
            let item = self.pop_backoff_heap();
            if let Some(p) = self.take_popped(&item.q, item.gen, Place::Backoff) {
                return Some(p);
            }
        }
        None
    }

    /// The popped pod of a heap entry, unless the entry is stale.
    fn take_popped(&mut self, q: &QueuedPodInfo, gen: u64, place: Place) -> Option<Popped> {
        let key = q.pod_info.key();
        let live = self
            .entries
            .get(key)
            .is_some_and(|e| e.gen == gen && e.place == place);
        if !live {
            return None;
        }
        let e = self.take(key).expect("present");
        let mut q = e.q;
        q.attempts += 1;
        self.cycle += 1;
        Some(Popped {
            q,
            profile: e.profile,
            cycle: self.cycle,
        })
    }

    /// Puts back a pod that no node fits (`AddUnschedulableIfNotPresent`): to the unschedulable
    /// pool, or to backoffQ when a move request came while it was being scheduled.
    pub fn add_unschedulable(&mut self, popped: Popped, plugins: Vec<&'static str>, now: Instant) {
        let key = popped.q.pod_info.key().to_string();
        if self.entries.contains_key(&key) {
            return;
        }
        let place = if self.move_request_cycle >= popped.cycle {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.insert(
            key,
            popped.q,
            popped.profile,
            place,
            Some(now),
            plugins,
            Some(now),
        );
    }

    /// Puts back a pod whose attempt failed with an error (or whose binding failed): to backoffQ.
    pub fn add_backoff(&mut self, popped: Popped, now: Instant) {
        let key = popped.q.pod_info.key().to_string();
        if self.entries.contains_key(&key) {
            return;
        }
        self.insert(
            key,
            popped.q,
            popped.profile,
            Place::Backoff,
            Some(now),
            Vec::new(),
            Some(now),
        );
    }

    fn requeue(&mut self, key: String, e: Entry, now: Instant) {
        let backing_off = self
            .backoff_expiry(&e)
            .is_some_and(|t| self.backing_off(t, now));
        let place = if backing_off {
            Place::Backoff
        } else {
            Place::Active
        };
        self.insert(
            key,
            e.q,
            e.profile,
            place,
            e.last_failure,
            e.plugins,
            Some(now),
        );
    }

    /// A cluster event happened (`MoveAllToActiveOrBackoffQueue`): unschedulable pods for which
    /// `relevant(rejecting plugins)` holds go to activeQ, or backoffQ while backing off. Pods
    /// rejected by no recorded plugin always move. Returns how many moved.
    pub fn move_all_to_active_or_backoff(
        &mut self,
        now: Instant,
        relevant: impl Fn(&[&'static str]) -> bool,
    ) -> usize {
        self.move_request_cycle = self.cycle;
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                !self.gated.contains(*k)
                    && self
                        .entries
                        .get(*k)
                        .is_some_and(|e| e.plugins.is_empty() || relevant(&e.plugins))
            })
            .cloned()
            .collect();
        let n = keys.len();
        for k in keys {
            let e = self.take(&k).expect("present");
            self.requeue(k, e, now);
        }
        n
    }

    /// Moves pods whose backoff has expired to activeQ (`flushBackoffQCompleted`): whole windows,
    /// those before the current one.
    pub fn flush_backoff_completed(&mut self, now: Instant) {
        let window = self.align(now);
        while self.backoff.first().is_some_and(|b| b.expiry < window) {
            let item = self.pop_backoff_heap();
            self.backoff_to_active(item.q.pod_info.key(), item.gen);
        }
        while let Some(Reverse((at, gen, _))) = self.error_backoff.peek() {
            if *at >= window {
                break;
            }
            let gen = *gen;
            let Reverse((_, _, key)) = self.error_backoff.pop().expect("peeked");
            self.backoff_to_active(&key, gen);
        }
    }

    fn backoff_to_active(&mut self, key: &str, gen: u64) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        if e.gen != gen || e.place != Place::Backoff {
            return;
        }
        e.place = Place::Active;
        self.gen += 1;
        e.gen = self.gen;
        let (q, g) = (e.q.clone(), e.gen);
        self.push_active(q, g);
    }

    /// Moves pods unschedulable for longer than `max_age` (`flushUnschedulablePodsLeftover`).
    pub fn flush_unschedulable_left_over(&mut self, now: Instant, max_age: Duration) -> usize {
        let keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.place == Place::Unschedulable
                    && now.duration_since(e.unschedulable_since) >= max_age
            })
            .map(|(k, _)| k.clone())
            .collect();
        let n = keys.len();
        for k in keys {
            let e = self.take(&k).expect("present");
            self.requeue(k, e, now);
        }
        n
    }

    /// When the earliest backoff window ends (the next flush that moves a pod).
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        let unschedulable = self.backoff.first().map(|b| b.expiry);
        let errors = self.error_backoff.peek().map(|Reverse((t, _, _))| *t);
        let first = match (unschedulable, errors) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(first + BACKOFF_WINDOW)
    }

    // The heaps: activeQ by `less` then arrival; the unschedulable-backoff heap by window, then
    // `less`, then arrival (upstream `lessBackoffCompletedWithPriority`).

    fn push_active(&mut self, q: QueuedPodInfo, gen: u64) {
        self.seq += 1;
        self.active.push((q, gen, self.seq));
        let less = &self.less;
        sift_up(&mut self.active, |x, y| {
            sorts_before(less, &x.0, x.2, &y.0, y.2)
        });
    }

    fn pop_heap(&mut self) -> (QueuedPodInfo, u64, u64) {
        let less = &self.less;
        pop_top(&mut self.active, |x, y| {
            sorts_before(less, &x.0, x.2, &y.0, y.2)
        })
    }

    fn push_backoff(&mut self, expiry: Instant, q: QueuedPodInfo, gen: u64) {
        self.seq += 1;
        let seq = self.seq;
        self.backoff.push(BackoffItem {
            expiry,
            q,
            gen,
            seq,
        });
        let less = &self.less;
        sift_up(&mut self.backoff, |x, y| backoff_before(less, x, y));
    }

    fn pop_backoff_heap(&mut self) -> BackoffItem {
        let less = &self.less;
        pop_top(&mut self.backoff, |x, y| backoff_before(less, x, y))
    }
}

/// `less`, ties broken by arrival.
fn sorts_before(
    less: &LessFn,
    a: &QueuedPodInfo,
    a_seq: u64,
    b: &QueuedPodInfo,
    b_seq: u64,
) -> bool {
    if less(a, b) {
        return true;
    }
    if less(b, a) {
        return false;
    }
    a_seq < b_seq
}

fn backoff_before(less: &LessFn, a: &BackoffItem, b: &BackoffItem) -> bool {
    if a.expiry != b.expiry {
        return a.expiry < b.expiry;
    }
    sorts_before(less, &a.q, a.seq, &b.q, b.seq)
}

/// Restores the heap order after a push onto `heap` (a binary heap whose top sorts first).
fn sift_up<T>(heap: &mut [T], before: impl Fn(&T, &T) -> bool) {
    let Some(mut i) = heap.len().checked_sub(1) else {
        return;
    };
    while i > 0 {
        let parent = (i - 1) / 2;
        if !before(&heap[i], &heap[parent]) {
            break;
        }
        heap.swap(i, parent);
        i = parent;
    }
}

/// Removes and returns the top of a non-empty binary heap.
fn pop_top<T>(heap: &mut Vec<T>, before: impl Fn(&T, &T) -> bool) -> T {
    let last = heap.len() - 1;
    heap.swap(0, last);
    let top = heap.pop().expect("non-empty");
    let n = heap.len();
    let mut i = 0;
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut best = i;
        if l < n && before(&heap[l], &heap[best]) {
            best = l;
        }
        if r < n && before(&heap[r], &heap[best]) {
            best = r;
        }
        if best == i {
            break;
        }
        heap.swap(i, best);
        i = best;
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn queue() -> SchedulingQueue {
        let less: LessFn = Arc::new(|a: &QueuedPodInfo, b: &QueuedPodInfo| {
            let (p1, p2) = (a.pod_info.priority(), b.pod_info.priority());
            p1 > p2 || (p1 == p2 && a.timestamp < b.timestamp)
        });
        SchedulingQueue::new(less, Duration::from_secs(1), Duration::from_secs(10))
    }

    fn p(name: &str, prio: i32) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(pod(name).priority(prio).build()))
    }

    #[test]
    fn pops_by_priority_then_arrival() {
        let mut q = queue();
        q.add(p("a", 1), 0);
        q.add(p("b", 10), 0);
        q.add(p("c", 1), 0);
        q.add(p("d", 5), 0);
        let order: Vec<String> = std::iter::from_fn(|| q.pop())
            .map(|x| x.q.pod_info.name().to_string())
            .collect();
        assert_eq!(order, ["b", "d", "a", "c"]);
        assert!(q.is_empty());
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let q = queue();
        let secs: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn unschedulable_pods_move_on_relevant_events_and_flush() {
        let mut q = queue();
        let t0 = Instant::now();
        q.add(p("a", 0), 0);
        let popped = q.pop().unwrap();
        q.add_unschedulable(popped, vec!["NodeResourcesFit"], t0);
        assert_eq!(q.num_unschedulable(), 1);
        assert!(q.pop().is_none());
        // Not relevant: stays.
        assert_eq!(
            q.move_all_to_active_or_backoff(t0, |pl| pl.contains(&"InterPodAffinity")),
            0
        );
        // Relevant but still backing off (1 s after the first attempt): backoffQ.
        assert_eq!(q.move_all_to_active_or_backoff(t0, |_| true), 1);
        assert_eq!(q.num_backoff(), 1);
        // Another pod in activeQ goes first; with activeQ empty the backing-off pod is popped
        // anyway (SchedulerPopFromBackoffQ).
        q.add(p("c", -5), 0);
        assert_eq!(q.pop().unwrap().q.pod_info.name(), "c");
        let again = q.pop().unwrap();
        assert_eq!((again.q.pod_info.name(), again.q.attempts), ("a", 2));
        assert!(q.pop().is_none());
        // Flushed after max age.
        q.add(p("b", 0), 0);
        let popped = q.pop().unwrap();
        q.add_unschedulable(popped, vec!["X"], t0);
        assert_eq!(
            q.flush_unschedulable_left_over(t0 + Duration::from_secs(10), Duration::from_secs(300)),
            0
        );
        assert_eq!(
            q.flush_unschedulable_left_over(
                t0 + Duration::from_secs(301),
                Duration::from_secs(300)
            ),
            1
        );
        q.flush_backoff_completed(t0 + Duration::from_secs(301));
        assert_eq!(q.pop().unwrap().q.pod_info.name(), "b");
    }

    #[test]
    fn backoff_ends_with_whole_windows_and_errors_are_not_popped_early() {
        let mut q = queue();
        let t0 = Instant::now();
        q.add(p("a", 0), 0);
        let popped = q.pop().unwrap();
        // Failed with an error: podErrorBackoffQ, which an idle queue does not pop from.
        q.add_backoff(popped, t0);
        assert!(q.pop().is_none());
        let end = q.next_backoff_expiry().unwrap();
        // The 1 s backoff ends with the window it falls in.
        assert!(end > t0 + Duration::from_secs(1) && end <= t0 + Duration::from_secs(2));
        q.flush_backoff_completed(end - Duration::from_millis(1));
        assert!(q.pop().is_none());
        q.flush_backoff_completed(end);
        assert_eq!(q.pop().unwrap().q.attempts, 2);
    }

    #[test]
    fn backing_off_pods_pop_by_window_then_priority() {
        let mut q = queue();
        let t0 = Instant::now();
        for (name, prio) in [("low", 1), ("high", 9)] {
            q.add(p(name, prio), 0);
        }
        let first = q.pop().unwrap();
        let second = q.pop().unwrap();
        // A move request during their cycles sends both to backoffQ, in the same window.
        q.move_all_to_active_or_backoff(t0, |_| true);
        q.add_unschedulable(second, vec!["NodeResourcesFit"], t0);
        q.add_unschedulable(first, vec!["NodeResourcesFit"], t0);
        assert_eq!(q.num_backoff(), 2);
        let order: Vec<String> = std::iter::from_fn(|| q.pop())
            .map(|x| x.q.pod_info.name().to_string())
            .collect();
        assert_eq!(order, ["high", "low"]);
    }

    #[test]
    fn a_gated_pod_waits_until_ungated() {
        let mut q = queue();
        let t0 = Instant::now();
        q.add(p("a", 0), 0);
        let popped = q.pop().unwrap();
        q.gate("default/a");
        // Neither a move request during its cycle nor later events let it out.
        q.move_all_to_active_or_backoff(t0, |_| true);
        q.add_unschedulable(popped, vec!["NodeResourcesFit"], t0);
        q.move_all_to_active_or_backoff(t0, |_| true);
        assert_eq!(q.num_unschedulable(), 1);
        assert!(q.pop().is_none());
        q.ungate("default/a", t0);
        assert_eq!(q.num_unschedulable(), 0);
        assert_eq!(q.pop().unwrap().q.pod_info.name(), "a");
    }

    #[test]
    fn a_move_during_the_cycle_sends_the_pod_to_backoff() {
        let mut q = queue();
        let t0 = Instant::now();
        q.add(p("a", 0), 0);
        let popped = q.pop().unwrap();
        q.move_all_to_active_or_backoff(t0, |_| true);
        q.add_unschedulable(popped, vec!["NodeResourcesFit"], t0);
        assert_eq!(q.num_backoff(), 1);
    }

    #[test]
    fn deleted_and_updated_pods() {
        let mut q = queue();
        q.add(p("a", 0), 0);
        q.add(p("b", 0), 0);
        assert!(q.delete("default/a"));
        assert!(q.update(p("b", 0), true, Instant::now()));
        assert_eq!(q.pop().unwrap().q.pod_info.name(), "b");
        assert!(q.pop().is_none());
    }
}
