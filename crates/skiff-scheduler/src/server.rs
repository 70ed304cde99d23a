//! The scheduler component: the scheduling core wired to an API server.
//!
//! [`run`] starts informers on nodes, pods and namespaces ([`crate::informer`]), keeps the cluster in
//! one [`Snapshot`] (bound pods on their nodes, assumed pods from the moment they are assumed) and the
//! unscheduled pods of its profiles in a [`SchedulingQueue`], and runs upstream's `scheduleOne` in a
//! single loop:
//!
//! - success: assume the pod in the snapshot, run Reserve/Permit/PreBind, and bind asynchronously
//!   (`POST pods/<name>/binding`, up to [`SchedulerOptions::max_binds_in_flight`] at once); on
//!   success an event `Scheduled`, on failure the assumed pod is forgotten and the pod retried with
//!   backoff;
//! - no node fits: PostFilter (preemption: victims get a `DisruptionTarget` condition and are deleted
//!   gracefully, the pod gets `status.nominatedNodeName`), then the `PodScheduled=False` condition
//!   with reason `Unschedulable` and upstream's message, and a `FailedScheduling` event; the pod waits
//!   in the unschedulable pool until a relevant cluster event;
//! - explained attempts (annotation `scheduler.skiff.dev/explain: "true"` or
//!   [`SchedulerOptions::explain_all`]) also write the three result annotations onto the pod.
//!
//! The scheduling loop and its informers run on a dedicated OS thread with its own single-threaded
//! tokio runtime: in `skiff server` the scheduler shares the process with the API server, whose
//! hundreds of request tasks would otherwise starve the one scheduling task on the shared runtime
//! (measured through the API, 10,000 pods on 5,000 nodes: p50 create-to-bound 930 ms on the shared
//! runtime against 73 ms in a separate process). The API client's connections stay on the caller's
//! runtime; decoding, scheduling and bookkeeping move to the scheduler's thread. The writes (bindings,
//! events, status patches, victim deletes) run as tasks on the caller's runtime too: each answer
//! that came back to the scheduler's thread woke it through its runtime's event fd (two `write`s per
//! request: 16,500 a second at 4,600 pods/s, 790 after the move), and only a failed binding or a
//! finished preemption has anything to tell it.
//!
//! Events are fire-and-forget through a bounded queue (dropped when it is full, as client-go's
//! broadcaster does). With leader election, only the holder of Lease `kube-system/kube-scheduler`
//! schedules; the informers run on every replica so a new leader starts warm.

use crate::config::KubeSchedulerConfiguration;
use crate::framework::{CycleState, Handle, PodInfo, Profile, Snapshot};
use crate::informer::{self, InformerEvent};
use crate::leader_election::{self, LeaderElectionConfig};
use crate::plugins::default_binder::binding_for;
use crate::plugins::default_registry;
use crate::queue::{LessFn, Popped, SchedulingQueue};
use crate::schedule_one::{
    wants_explanation, Algorithm, ScheduleError, ANNOTATION_FILTER_RESULT,
    ANNOTATION_FINAL_SCORE_RESULT, ANNOTATION_SCORE_RESULT,
};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, Namespace, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// Events waiting to be written; more are dropped (upstream's event broadcaster queues
/// `maxQueuedEvents` = 1000 and drops when full).
const MAX_QUEUED_EVENTS: usize = 1000;

/// Event writes running at once. Upstream's recorder starts a goroutine per event; the bound is
/// only there to cap memory, high enough that events keep up with scheduling (with 16, a fifth of
/// the `Scheduled` events of a 4,000 pods/s run were dropped).
const EVENT_WRITES_IN_FLIGHT: usize = 256;

/// The reporting component of the scheduler's events.
pub const COMPONENT: &str = "default-scheduler";

/// Errors that stop the scheduler before it starts.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid scheduler configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("starting the scheduler's thread: {0}")]
    Thread(String),
}

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The configuration; `None`: the default profile.
    pub config: Option<KubeSchedulerConfiguration>,
    /// Explain every attempt of every pod (`--explain`).
    pub explain_all: bool,
    /// Leader election on Lease `kube-system/kube-scheduler` (`--leader-elect`).
    pub leader_elect: bool,
    /// This replica's identity in the lease; `None`: host name, pid and a random suffix.
    pub identity: Option<String>,
    /// `podInitialBackoffSeconds`.
    pub initial_backoff: Duration,
    /// `podMaxBackoffSeconds`.
    pub max_backoff: Duration,
    /// How long a pod stays unschedulable without a relevant event before it is retried anyway.
    pub unschedulable_flush: Duration,
    /// Bindings running at once.
    pub max_binds_in_flight: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            config: None,
            explain_all: false,
            leader_elect: false,
            identity: None,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            unschedulable_flush: Duration::from_secs(5 * 60),
            max_binds_in_flight: 256,
        }
    }
}

enum Msg {
    Node(Box<InformerEvent<Node>>),
    Pod(Box<InformerEvent<Pod>>),
    Namespace(Box<InformerEvent<Namespace>>),
    BindFailed {
        key: String,
        node: String,
        error: String,
    },
    /// The API calls that preempt the victim `key` are done (`failed`: the delete failed).
    VictimPreempted {
        key: String,
        failed: bool,
    },
}

/// An assumed pod whose binding is in flight.
struct Assumed {
    popped: Popped,
}

struct Scheduler {
    client: Client,
    /// The runtime the API writes run on (the caller's, see the module's documentation).
    writes: tokio::runtime::Handle,
    profiles: Arc<Vec<Profile>>,
    by_scheduler_name: HashMap<String, usize>,
    algorithm: Algorithm,
    snapshot: Snapshot,
    queue: SchedulingQueue,
    /// Bound pods whose node the snapshot does not have (yet), by node.
    orphans: HashMap<String, HashMap<String, Arc<PodInfo>>>,
    assumed: HashMap<String, Assumed>,
    /// Preemptors waiting for their victims, with the victims not yet settled.
    preempting: HashMap<String, HashSet<String>>,
    /// The preemptors waiting for each victim.
    victim_of: HashMap<String, Vec<String>>,
    explain_all: bool,
    binds: Arc<Semaphore>,
    events: mpsc::Sender<Event>,
    tx: mpsc::UnboundedSender<Msg>,
    synced: [bool; 3],
}

/// Runs the scheduler, on its own thread and runtime, until `shutdown` completes (or this future is
/// dropped).
pub async fn run(
    client: Client,
    options: SchedulerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<Result<(), RunError>>();
    let writes = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("skiff-scheduler".into())
        .spawn(move || {
            let r = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                // A dropped sender (the caller went away) stops the scheduler too.
                Ok(rt) => rt.block_on(run_here(client, writes, options, async move {
                    let _ = stop_rx.await;
                })),
                Err(e) => Err(RunError::Thread(e.to_string())),
            };
            let _ = done_tx.send(r);
        })
        .map_err(|e| RunError::Thread(e.to_string()))?;
    tokio::select! {
        r = &mut done_rx => return r.unwrap_or(Ok(())),
        _ = shutdown => {}
    }
    let _ = stop_tx.send(());
    done_rx.await.unwrap_or(Ok(()))
}

/// The scheduler on the current runtime, its writes on `writes`, until `shutdown` completes.
async fn run_here(
    client: Client,
    writes: tokio::runtime::Handle,
    options: SchedulerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let handle = Handle::default();
    let profiles = match &options.config {
        Some(cfg) => Profile::from_configuration(cfg, &default_registry(), &handle)?,
        None => vec![Profile::default_profile(&handle)],
    };
    let by_scheduler_name = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| (p.scheduler_name().to_string(), i))
        .collect();
    let profiles = Arc::new(profiles);
    let sort_profiles = profiles.clone();
    let less: LessFn = Arc::new(move |a, b| sort_profiles[0].less(a, b));

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let t = tx.clone();
        tasks.spawn(informer::run(
            Api::<Node>::all(client.clone()),
            |_| {},
            move |e| t.send(Msg::Node(Box::new(e))).is_ok(),
        ));
        let t = tx.clone();
        tasks.spawn(informer::run(
            Api::<Pod>::all(client.clone()),
            slim_pod,
            move |e| t.send(Msg::Pod(Box::new(e))).is_ok(),
        ));
        let t = tx.clone();
        tasks.spawn(informer::run(
            Api::<Namespace>::all(client.clone()),
            |_| {},
            move |e| t.send(Msg::Namespace(Box::new(e))).is_ok(),
        ));
    }
    let (events_tx, events_rx) = mpsc::channel::<Event>(MAX_QUEUED_EVENTS);
    tasks.spawn_on(event_writer(client.clone(), events_rx), &writes);
    let (leading_tx, mut leading) = watch::channel(!options.leader_elect);
    if options.leader_elect {
        let id = options
            .identity
            .clone()
            .unwrap_or_else(leader_election::default_identity);
        tasks.spawn(leader_election::run(
            client.clone(),
            LeaderElectionConfig::kube_scheduler(id),
            leading_tx,
        ));
    } else {
        drop(leading_tx);
    }

    let mut s = Scheduler {
        client,
        writes,
        profiles,
        by_scheduler_name,
        algorithm: Algorithm::new(None),
        snapshot: Snapshot::new(),
        queue: SchedulingQueue::new(less, options.initial_backoff, options.max_backoff),
        orphans: HashMap::new(),
        assumed: HashMap::new(),
        preempting: HashMap::new(),
        victim_of: HashMap::new(),
        explain_all: options.explain_all,
        binds: Arc::new(Semaphore::new(options.max_binds_in_flight.max(1))),
        events: events_tx,
        tx,
        synced: [false; 3],
    };
    let flush_check = options.unschedulable_flush.min(Duration::from_secs(30));
    let mut next_flush = Instant::now() + flush_check;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut scheduled_since_yield = 0u32;
    loop {
        while let Ok(m) = rx.try_recv() {
            s.handle(m);
        }
        let now = Instant::now();
        s.queue.flush_backoff_completed(now);
        if now >= next_flush {
            s.queue
                .flush_unschedulable_left_over(now, options.unschedulable_flush);
            next_flush = now + flush_check;
        }
        let leader = *leading.borrow();
        if leader && s.synced.iter().all(|x| *x) {
            if let Some(p) = s.queue.pop() {
                s.schedule_one(p).await;
                scheduled_since_yield += 1;
                if scheduled_since_yield >= 16 {
                    scheduled_since_yield = 0;
                    tokio::task::yield_now().await;
                }
                continue;
            }
        }
        let wake = s
            .queue
            .next_backoff_expiry()
            .map_or(next_flush, |t| t.min(next_flush));
        tokio::select! {
            _ = &mut shutdown => break,
            m = rx.recv() => match m {
                Some(m) => s.handle(m),
                None => break,
            },
            _ = tokio::time::sleep_until(wake.into()) => {}
            r = leading.changed(), if options.leader_elect => {
                if r.is_err() {
                    break;
                }
            }
        }
    }
    tasks.abort_all();
    Ok(())
}

/// Writes events, up to [`EVENT_WRITES_IN_FLIGHT`] at once; the sender drops events when the queue
/// is full.
async fn event_writer(client: Client, mut rx: mpsc::Receiver<Event>) {
    let limit = Arc::new(Semaphore::new(EVENT_WRITES_IN_FLIGHT));
    while let Some(ev) = rx.recv().await {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = post_event(client, &ev).await {
                tracing::debug!(error = %e, "writing an event failed");
            }
            drop(permit);
        });
    }
}

/// Sends a write whose answer is not read beyond its status: the object the server returns is not
/// decoded (the informer sees the change anyway). Takes the request as built, failure included.
async fn send_discarding(
    client: &Client,
    req: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> kube::Result<()> {
    let req = req.map_err(kube::Error::BuildRequest)?;
    client.request_text(req).await.map(drop)
}

/// `Api::create` of an event without decoding the created event the server answers with (only the
/// status is read).
async fn post_event(client: Client, ev: &Event) -> kube::Result<()> {
    let ns = ev.metadata.namespace.as_deref().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let body = serde_json::to_vec(ev).map_err(kube::Error::SerdeError)?;
    let req = kube::core::Request::new(api.resource_url()).create(&PostParams::default(), body);
    send_discarding(&client, req).await
}

/// Drops the pod fields no scheduling step reads (the scheduler keeps every pod of the cluster):
/// volumes (Skiff runs no volume plugins), the containers' command, env, mounts, probes, lifecycle and
/// security context, and the container statuses. Kept: metadata, and of the spec everything that
/// filters, scores, orders or preempts (containers' image, ports and resources, overhead, affinity,
/// tolerations, spread constraints, node selector and name, priority, gates, scheduler name).
fn slim_pod(pod: &mut Pod) {
    use k8s_openapi::api::core::v1::Container;
    fn slim_container(c: &mut Container) {
        c.command = None;
        c.args = None;
        c.env = None;
        c.env_from = None;
        c.volume_mounts = None;
        c.volume_devices = None;
        c.liveness_probe = None;
        c.readiness_probe = None;
        c.startup_probe = None;
        c.lifecycle = None;
        c.security_context = None;
        c.termination_message_path = None;
        c.termination_message_policy = None;
        c.working_dir = None;
    }
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        spec.containers.iter_mut().for_each(slim_container);
        spec.init_containers
            .iter_mut()
            .flatten()
            .for_each(slim_container);
        spec.ephemeral_containers = None;
    }
    if let Some(status) = pod.status.as_mut() {
        status.container_statuses = None;
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
    }
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether an update of an unscheduled pod may change the scheduling result (upstream's
/// `isPodUpdated` ignores status and metadata bookkeeping; we also ignore our own annotations).
fn pod_changed_for_scheduling(old: &Pod, new: &Pod) -> bool {
    fn own(k: &str) -> bool {
        k == ANNOTATION_FILTER_RESULT
            || k == ANNOTATION_SCORE_RESULT
            || k == ANNOTATION_FINAL_SCORE_RESULT
    }
    let ann = |p: &Pod| {
        p.metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| !own(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    old.spec != new.spec || old.metadata.labels != new.metadata.labels || ann(old) != ann(new)
}

/// Plugins whose rejection an added or updated bound pod may resolve.
fn assigned_pod_add_relevant(plugins: &[&'static str]) -> bool {
    plugins
        .iter()
        .any(|p| matches!(*p, "InterPodAffinity" | "PodTopologySpread"))
}

fn node_changed_for_scheduling(old: &Node, new: &Node) -> bool {
    let alloc = |n: &Node| n.status.as_ref().map(|s| s.allocatable.clone());
    let images = |n: &Node| n.status.as_ref().map(|s| s.images.clone());
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || alloc(old) != alloc(new)
        || images(old) != images(new)
}

impl Scheduler {
    fn handle(&mut self, m: Msg) {
        let now = Instant::now();
        match m {
            Msg::Node(e) => {
                self.synced[0] |= matches!(*e, InformerEvent::Relisted(_));
                self.on_node(*e, now)
            }
            Msg::Pod(e) => {
                self.synced[1] |= matches!(*e, InformerEvent::Relisted(_));
                self.on_pod(*e, now)
            }
            Msg::Namespace(e) => {
                self.synced[2] |= matches!(*e, InformerEvent::Relisted(_));
                match *e {
                    InformerEvent::Applied(ns) => self.set_namespace(&ns),
                    InformerEvent::Deleted(ns) => {
                        self.snapshot
                            .remove_namespace(ns.metadata.name.as_deref().unwrap_or(""));
                    }
                    InformerEvent::Relisted(list) => {
                        list.iter().for_each(|ns| self.set_namespace(ns))
                    }
                }
            }
            Msg::BindFailed { key, node, error } => self.on_bind_failed(key, node, error, now),
            Msg::VictimPreempted { key, failed } => {
                // Settled once its deletion is seen too (or it failed): see `carry_out_preemption`.
                let seen = self
                    .snapshot
                    .pod(&key)
                    .is_none_or(|(_, p)| p.pod.metadata.deletion_timestamp.is_some());
                if failed || seen {
                    self.victim_settled(&key, now);
                }
            }
        }
    }

    /// A preemption victim is gone (or could not be deleted): preemptors waiting for nothing else
    /// are ungated.
    fn victim_settled(&mut self, victim: &str, now: Instant) {
        for preemptor in self.victim_of.remove(victim).unwrap_or_default() {
            let Some(waiting) = self.preempting.get_mut(&preemptor) else {
                continue;
            };
            waiting.remove(victim);
            if waiting.is_empty() {
                self.preempting.remove(&preemptor);
                self.queue.ungate(&preemptor, now);
            }
        }
    }

    fn set_namespace(&mut self, ns: &Namespace) {
        let name = ns.metadata.name.as_deref().unwrap_or("");
        let labels = ns.metadata.labels.clone().unwrap_or_default();
        self.snapshot.set_namespace(name, labels);
    }

    fn on_node(&mut self, e: InformerEvent<Node>, now: Instant) {
        match e {
            InformerEvent::Applied(n) => self.apply_node(n, now),
            InformerEvent::Deleted(n) => self.delete_node(n.metadata.name.as_deref().unwrap_or("")),
            InformerEvent::Relisted(list) => {
                let names: HashSet<String> = list
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                let gone: Vec<String> = self
                    .snapshot
                    .list()
                    .map(|n| n.name().to_string())
                    .filter(|n| !names.contains(n))
                    .collect();
                for n in gone {
                    self.delete_node(&n);
                }
                for n in list {
                    self.apply_node(n, now);
                }
            }
        }
    }

    fn apply_node(&mut self, node: Node, now: Instant) {
        let Some(name) = node.metadata.name.clone() else {
            return;
        };
        let changed = match self.snapshot.get(&name) {
            Some(old) => node_changed_for_scheduling(old.node(), &node),
            None => true,
        };
        if self.snapshot.add_node(node).is_err() {
            return;
        }
        if let Some(pods) = self.orphans.remove(&name) {
            for (_, p) in pods {
                // An assumed pod's spec does not name the node.
                let _ = self.snapshot.add_pod_on(p, &name);
            }
        }
        if changed {
            self.queue.move_all_to_active_or_backoff(now, |_| true);
        }
    }

    fn delete_node(&mut self, name: &str) {
        let Some(ni) = self.snapshot.get(name) else {
            return;
        };
        let pods: Vec<Arc<PodInfo>> = ni.pods().to_vec();
        let orphans = self.orphans.entry(name.to_string()).or_default();
        for p in pods {
            orphans.insert(p.key().to_string(), p);
        }
        let _ = self.snapshot.remove_node(name);
    }

    fn on_pod(&mut self, e: InformerEvent<Pod>, now: Instant) {
        match e {
            InformerEvent::Applied(p) => self.apply_pod(p, now),
            InformerEvent::Deleted(p) => {
                let key = crate::framework::types::pod_key(&p);
                self.delete_pod(&key, now);
            }
            InformerEvent::Relisted(list) => {
                let keys: HashSet<String> =
                    list.iter().map(crate::framework::types::pod_key).collect();
                let mut known: Vec<String> = self.queue.keys().map(str::to_string).collect();
                known.extend(self.assumed.keys().cloned());
                for ni in self.snapshot.list() {
                    known.extend(ni.pods().iter().map(|p| p.key().to_string()));
                }
                for o in self.orphans.values() {
                    known.extend(o.keys().cloned());
                }
                for k in known {
                    if !keys.contains(&k) {
                        self.delete_pod(&k, now);
                    }
                }
                for p in list {
                    self.apply_pod(p, now);
                }
            }
        }
    }

    fn delete_pod(&mut self, key: &str, now: Instant) {
        self.queue.delete(key);
        self.snapshot.remove_nominated_pod(key);
        self.assumed.remove(key);
        for o in self.orphans.values_mut() {
            o.remove(key);
        }
        if self.snapshot.remove_pod(key).is_ok() {
            // AssignedPodDelete: resources, ports, anti-affinity and spreading may now allow pods.
            self.queue.move_all_to_active_or_backoff(now, |_| true);
        }
        self.victim_settled(key, now);
    }

    fn apply_pod(&mut self, pod: Pod, now: Instant) {
        if is_terminal(&pod) {
            let key = crate::framework::types::pod_key(&pod);
            self.delete_pod(&key, now);
            return;
        }
        let bound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let info = Arc::new(PodInfo::new(pod));
        let key = info.key().to_string();
        if terminating {
            // A victim being deleted gracefully counts as preempted (upstream's preemptor then waits
            // for it without preempting again): a victim whose kubelet never confirms must not hold
            // its preemptor forever.
            self.victim_settled(&key, now);
        }
        if bound {
            self.queue.delete(&key);
            self.snapshot.remove_nominated_pod(&key);
            let was_assumed = self.assumed.remove(&key).is_some();
            let known = self.snapshot.pod(&key).is_some();
            let node = info.node_name().to_string();
            let res = if known {
                self.snapshot.update_pod(&key, info.clone())
            } else {
                self.snapshot.add_pod(info.clone())
            };
            if res.is_err() {
                self.orphans
                    .entry(node)
                    .or_default()
                    .insert(key.clone(), info);
            }
            if !was_assumed {
                self.queue
                    .move_all_to_active_or_backoff(now, assigned_pod_add_relevant);
            }
            return;
        }
        // Unscheduled.
        if self.assumed.contains_key(&key) {
            return;
        }
        let scheduler_name = info
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(COMPONENT);
        let Some(&profile) = self.by_scheduler_name.get(scheduler_name) else {
            self.queue.delete(&key);
            return;
        };
        if info.pod.metadata.deletion_timestamp.is_some() {
            self.queue.delete(&key);
            return;
        }
        let nominated = info.nominated_node_name().to_string();
        if nominated.is_empty() {
            self.snapshot.remove_nominated_pod(&key);
        } else {
            self.snapshot.add_nominated_pod(info.clone(), &nominated);
        }
        if !self.profiles[profile]
            .run_pre_enqueue_plugins(&info)
            .is_success()
        {
            // Gated (e.g. schedulingGates): waits outside the queue until updated.
            self.queue.delete(&key);
            return;
        }
        let relevant = match self.queue.get(&key) {
            Some(old) => pod_changed_for_scheduling(&old.pod, &info.pod),
            None => {
                self.queue.add(info, profile);
                return;
            }
        };
        self.queue.update(info, relevant, now);
    }

    /// A binding failed. (A successful one is confirmed by the informer; until then the pod stays
    /// assumed.)
    fn on_bind_failed(&mut self, key: String, node: String, error: String, now: Instant) {
        let Some(a) = self.assumed.remove(&key) else {
            return;
        };
        // ForgetPod, then retry with backoff.
        let _ = self.snapshot.remove_pod(&key);
        let profile = &self.profiles[a.popped.profile];
        let pod = a.popped.q.pod_info.clone();
        profile.run_reserve_plugins_unreserve(&mut CycleState::new(), &pod, &node);
        let msg = format!("Binding rejected: {error}");
        tracing::info!(pod = %key, node = %node, error = %error, "binding failed");
        self.record_failure(&pod, "SchedulerError", &msg, None);
        self.queue.add_backoff(a.popped, now);
        self.queue.move_all_to_active_or_backoff(now, |_| true);
    }

    /// `scheduleOne`.
    async fn schedule_one(&mut self, popped: Popped) {
        let now = Instant::now();
        let picked_up = Timestamp::now();
        let pod = popped.q.pod_info.clone();
        let profile = &self.profiles[popped.profile];
        let mut state = CycleState::new();
        let explain = self.explain_all || wants_explanation(&pod);
        let mut explain_patch = None;
        let result = if explain {
            let (r, ex) =
                self.algorithm
                    .schedule_pod_explained(profile, &self.snapshot, &mut state, &pod);
            let mut annotations = serde_json::Map::new();
            for (k, v) in ex.annotations() {
                annotations.insert(k.to_string(), Value::String(v));
            }
            explain_patch = Some(json!({"metadata": {"annotations": annotations}}));
            r
        } else {
            self.algorithm
                .schedule_pod(profile, &self.snapshot, &mut state, &pod)
        };
        if result.is_err() {
            if let Some(patch) = explain_patch.take() {
                self.spawn_pod_patch(&pod, patch, false);
            }
        }
        match result {
            Ok(r) => {
                // What this attempt decided, carried on the Binding (whose annotations land on the
                // pod: no extra write) for `skiff trace`.
                let decision = json!({
                    "pickedUpAt": picked_up.to_string(),
                    "nodes": self.snapshot.num_nodes(),
                    "evaluatedNodes": r.evaluated_nodes,
                    "feasibleNodes": r.feasible_nodes,
                })
                .to_string();
                self.assume_and_bind(
                    popped,
                    state,
                    r.suggested_host,
                    explain_patch,
                    decision,
                    now,
                )
                .await
            }
            Err(ScheduleError::Fit(mut fit)) => {
                let mut nominate: Option<String> = None;
                if profile.has_post_filter_plugins() {
                    let (res, status) = profile.run_post_filter_plugins(
                        &state,
                        &self.snapshot,
                        &pod,
                        &fit.diagnosis.node_to_status,
                    );
                    fit.set_post_filter_msg(status.message());
                    if let Some(res) = res {
                        nominate = res.nominated_node_name.clone();
                        self.carry_out_preemption(&pod, &res);
                    }
                }
                let msg = fit.message();
                tracing::debug!(pod = pod.key(), message = %msg, "unschedulable");
                if let Some(n) = &nominate {
                    if n.is_empty() {
                        self.snapshot.remove_nominated_pod(pod.key());
                    } else {
                        self.snapshot.add_nominated_pod(pod.clone(), n);
                    }
                }
                self.record_failure(&pod, "Unschedulable", &msg, nominate);
                let plugins = fit.diagnosis.unschedulable_plugins.clone();
                self.queue.add_unschedulable(popped, plugins, now);
            }
            Err(ScheduleError::NoNodesAvailable) => {
                let msg = ScheduleError::NoNodesAvailable.to_string();
                self.record_failure(&pod, "Unschedulable", &msg, None);
                self.queue.add_unschedulable(popped, Vec::new(), now);
            }
            Err(ScheduleError::Internal(msg)) => {
                tracing::warn!(pod = pod.key(), error = %msg, "scheduling error");
                self.record_failure(&pod, "SchedulerError", &msg, None);
                self.queue.add_backoff(popped, now);
            }
        }
    }

    async fn assume_and_bind(
        &mut self,
        popped: Popped,
        mut state: CycleState,
        host: String,
        explain_patch: Option<Value>,
        decision: String,
        now: Instant,
    ) {
        let pod = popped.q.pod_info.clone();
        let key = pod.key().to_string();
        if let Err(e) = self.snapshot.assume_pod(pod.clone(), &host) {
            let msg = e.to_string();
            self.record_failure(&pod, "SchedulerError", &msg, None);
            self.queue.add_backoff(popped, now);
            return;
        }
        let profile = &self.profiles[popped.profile];
        let mut failed = None;
        let s = profile.run_reserve_plugins_reserve(&mut state, &pod, &host);
        if !s.is_success() {
            failed = Some(s.message());
        } else {
            let (s, _) = profile.run_permit_plugins(&mut state, &pod, &host);
            if !s.is_success() {
                // Waiting permits are not supported by the asynchronous binder yet.
                failed = Some(s.message());
            } else {
                let s = profile.run_pre_bind_plugins(&mut state, &pod, &host);
                if !s.is_success() {
                    failed = Some(s.message());
                }
            }
        }
        if let Some(msg) = failed {
            profile.run_reserve_plugins_unreserve(&mut state, &pod, &host);
            let _ = self.snapshot.remove_pod(&key);
            self.record_failure(&pod, "SchedulerError", &msg, None);
            self.queue.add_backoff(popped, now);
            return;
        }
        self.snapshot.remove_nominated_pod(&key);
        self.assumed.insert(key.clone(), Assumed { popped });
        let Ok(permit) = self.binds.clone().acquire_owned().await else {
            return;
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.namespace());
        let mut binding = binding_for(&pod, &host);
        binding.metadata.annotations = Some(
            [(DECISION_ANNOTATION.to_string(), decision)]
                .into_iter()
                .collect(),
        );
        let tx = self.tx.clone();
        let events = self.events.clone();
        let client = self.client.clone();
        self.writes.spawn(async move {
            let r = bind(&client, &api, pod.name(), &binding).await;
            drop(permit);
            // After the binding: the binding subresource does not retry on write conflicts.
            if let (Some(patch), Ok(_)) = (explain_patch, &r) {
                if let Err(e) = api
                    .patch(pod.name(), &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    tracing::debug!(pod = pod.name(), error = %e, "writing the explanation failed");
                }
            }
            let error = match r {
                Ok(()) => {
                    let msg = format!(
                        "Successfully assigned {}/{} to {host}",
                        pod.namespace(),
                        pod.name()
                    );
                    let _ = events.try_send(event_for(
                        &pod.pod,
                        "Normal",
                        "Scheduled",
                        "Binding",
                        &msg,
                    ));
                    None
                }
                Err(e) => Some(e.to_string()),
            };
            // A successful binding is confirmed by the informer: the scheduler's thread is only
            // woken for a failure.
            if let Some(error) = error {
                let _ = tx.send(Msg::BindFailed {
                    key,
                    node: host,
                    error,
                });
            }
        });
    }

    /// Deletes the victims (after a `DisruptionTarget` condition) and clears lower nominations. As
    /// upstream's asynchronous preemption, the preemptor is not retried while its victims are being
    /// preempted (it is gated in the queue): here until each victim's deletion has been seen, as the
    /// victim gone or terminating (or the delete failed), since a retry that still finds a live victim
    /// in the snapshot would preempt again.
    fn carry_out_preemption(&mut self, pod: &PodInfo, res: &crate::framework::PostFilterResult) {
        let node = res.nominated_node_name.clone().unwrap_or_default();
        let preemptor = pod.key().to_string();
        if !res.victims.is_empty() {
            self.queue.gate(&preemptor);
        }
        for v in &res.victims {
            let ns = v.metadata.namespace.clone().unwrap_or_default();
            let name = v.metadata.name.clone().unwrap_or_default();
            let victim = crate::framework::types::pod_key(v);
            self.preempting
                .entry(preemptor.clone())
                .or_default()
                .insert(victim.clone());
            self.victim_of
                .entry(victim.clone())
                .or_default()
                .push(preemptor.clone());
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            let msg = format!(
                "Preempted by pod {} on node {node}",
                pod.pod.metadata.uid.as_deref().unwrap_or("")
            );
            let _ = self
                .events
                .try_send(event_for(v, "Normal", "Preempted", "Preempting", &msg));
            let condition = json!({"status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "PreemptionByScheduler",
                "message": format!("{COMPONENT}: preempting to accommodate a higher priority pod"),
                "lastTransitionTime": Timestamp::now().to_string(),
            }]}});
            let tx = self.tx.clone();
            let client = self.client.clone();
            self.writes.spawn(async move {
                let url = api.resource_url();
                let patch = kube::core::Request::new(url).patch_subresource(
                    "status",
                    &name,
                    &PatchParams::default(),
                    &Patch::Strategic(condition),
                );
                let _ = send_discarding(&client, patch).await;
                let delete = kube::core::Request::new(url).delete(&name, &DeleteParams::default());
                let failed = match send_discarding(&client, delete).await {
                    Ok(()) => false,
                    Err(kube::Error::Api(s)) if s.code == 404 => false,
                    Err(e) => {
                        tracing::info!(pod = %name, error = %e, "deleting a preemption victim failed");
                        true
                    }
                };
                let _ = tx.send(Msg::VictimPreempted {
                    key: victim,
                    failed,
                });
            });
        }
        for p in &res.nominations_to_clear {
            let api: Api<Pod> = Api::namespaced(
                self.client.clone(),
                p.metadata.namespace.as_deref().unwrap_or(""),
            );
            let name = p.metadata.name.clone().unwrap_or_default();
            let client = self.client.clone();
            self.writes.spawn(async move {
                let req = kube::core::Request::new(api.resource_url()).patch_subresource(
                    "status",
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"nominatedNodeName": null}})),
                );
                let _ = send_discarding(&client, req).await;
            });
        }
    }

    /// The `PodScheduled=False` condition (skipped when unchanged), `nominatedNodeName` and the
    /// `FailedScheduling` event.
    fn record_failure(&self, pod: &PodInfo, reason: &str, msg: &str, nominate: Option<String>) {
        let _ = self.events.try_send(event_for(
            &pod.pod,
            "Warning",
            "FailedScheduling",
            "Scheduling",
            msg,
        ));
        let current = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let same_condition = current.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(msg)
        });
        let nominate_change = match &nominate {
            None => None,
            Some(n) if n.as_str() == pod.nominated_node_name() => None,
            Some(n) if n.is_empty() => Some(Value::Null),
            Some(n) => Some(Value::String(n.clone())),
        };
        if same_condition && nominate_change.is_none() {
            return;
        }
        let mut status = json!({"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": msg,
            "lastProbeTime": null,
            "lastTransitionTime": Timestamp::now().to_string(),
        }]});
        if let Some(n) = nominate_change {
            status["nominatedNodeName"] = n;
        }
        self.spawn_pod_patch(pod, json!({ "status": status }), true);
    }

    fn spawn_pod_patch(&self, pod: &PodInfo, patch: Value, status: bool) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.namespace());
        let name = pod.name().to_string();
        let client = self.client.clone();
        self.writes.spawn(async move {
            let pp = PatchParams::default();
            let request = kube::core::Request::new(api.resource_url());
            // Skiff's PATCH may answer 409 on a concurrent write; retry a few times.
            for attempt in 1..=5u64 {
                let req = if status {
                    request.patch_subresource("status", &name, &pp, &Patch::Strategic(&patch))
                } else {
                    request.patch(&name, &pp, &Patch::Merge(&patch))
                };
                match send_discarding(&client, req).await {
                    Err(kube::Error::Api(s)) if s.code == 409 && attempt < 5 => {
                        tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
                    }
                    Err(e) => {
                        tracing::debug!(pod = %name, error = %e, "patching the pod failed");
                        return;
                    }
                    Ok(_) => return,
                }
            }
        });
    }
}

/// `POST pods/<name>/binding`, retried when a concurrent write to the pod made it conflict.
async fn bind(
    client: &Client,
    api: &Api<Pod>,
    name: &str,
    binding: &k8s_openapi::api::core::v1::Binding,
) -> kube::Result<()> {
    let body = serde_json::to_vec(binding).map_err(kube::Error::SerdeError)?;
    let mut attempt = 0;
    loop {
        let req = kube::core::Request::new(api.resource_url()).create_subresource(
            "binding",
            name,
            &PostParams::default(),
            body.clone(),
        );
        let r = send_discarding(client, req).await;
        match &r {
            Err(kube::Error::Api(s))
                if s.code == 409 && s.message.contains("has been modified") && attempt < 5 =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
            }
            _ => return r,
        }
    }
}

/// The annotation the Binding carries onto the pod: when the scheduler picked the pod up, how many
/// nodes it had, evaluated and found feasible (compact JSON).
pub const DECISION_ANNOTATION: &str = "scheduler.skiff.dev/decision";

/// A core/v1 Event about a pod from the scheduler.
fn event_for(pod: &Pod, type_: &str, reason: &str, action: &str, message: &str) -> Event {
    let now = Timestamp::now();
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = pod.metadata.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(ns),
            name: Some(name),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..Default::default()
        },
        type_: Some(type_.into()),
        reason: Some(reason.into()),
        action: Some(action.into()),
        message: Some(message.into()),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            ..Default::default()
        }),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(COMPONENT.into()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        // Microseconds, as upstream's events.k8s.io recorder writes (and `skiff trace` reads).
        event_time: Some(MicroTime(now)),
        count: Some(1),
        ..Default::default()
    }
}
