//! `Profile`: one instantiated scheduling profile (upstream's `frameworkImpl`).
//!
//! Built from a defaulted `KubeSchedulerProfile` and a [`Registry`] of plugin factories, following
//! `NewFramework`: every needed plugin is instantiated once with its args, the per-point lists are
//! filled (`updatePluginList`), then MultiPoint plugins are expanded into every point they implement
//! (explicit per-point entries override them, keeping upstream's ordering rules), and the Score weights
//! are fixed. The `run_*` methods are the framework's `Run*Plugins`, with upstream's error wrapping and
//! Skip handling; the scheduling algorithm ([`crate::schedule_one`]) drives them.

use crate::config::{ConfigError, KubeSchedulerProfile, PluginRef, PluginSet};
use crate::framework::interface::*;
use crate::framework::{Code, CycleState, NodeInfo, PodInfo, Snapshot, Status};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Everything a plugin factory may need from its environment (`framework.Handle`).
#[derive(Clone, Default)]
pub struct Handle {
    /// The binder `DefaultBinder` calls; without one it returns an error status.
    pub binder: Option<Arc<dyn crate::plugins::default_binder::Binder>>,
    /// Seed for plugins that pick at random (preemption's candidate offset); `None`: from entropy.
    pub seed: Option<u64>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("binder", &self.binder.is_some())
            .field("seed", &self.seed)
            .finish()
    }
}

/// Builds a plugin from its (defaulted) args.
pub type PluginFactory =
    Arc<dyn Fn(Option<&Value>, &Handle) -> Result<Arc<dyn Plugin>, String> + Send + Sync>;

/// Plugin factories by name (`runtime.Registry`).
#[derive(Clone, Default)]
pub struct Registry {
    factories: HashMap<String, PluginFactory>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers a factory; an existing one of the same name is replaced.
    pub fn register(
        &mut self,
        name: &str,
        factory: impl Fn(Option<&Value>, &Handle) -> Result<Arc<dyn Plugin>, String>
            + Send
            + Sync
            + 'static,
    ) {
        self.factories.insert(name.to_string(), Arc::new(factory));
    }

    pub fn get(&self, name: &str) -> Option<&PluginFactory> {
        self.factories.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }
}

/// Upstream plugins Skiff accepts in configurations but does not run (no volumes or DRA yet).
pub const UNSUPPORTED_PLUGINS: &[&str] = &[
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "DynamicResources",
];

/// Flat per-cycle score buffers, reused across cycles to avoid allocation.
#[derive(Debug, Default, Clone)]
pub struct ScoreBuffers {
    /// Profile-level indices (into [`Profile::score_plugins`]) of the plugins that ran.
    pub ran: Vec<usize>,
    /// Normalized scores, one row per plugin in `ran`, aligned with the nodes.
    pub scores: Vec<Vec<i64>>,
    /// Weighted totals per node.
    pub totals: Vec<i64>,
}

/// The verdict of a Filter plugin that did not pass the node, as `RunFilterPlugins` returns it.
fn filter_failure(plugin: &'static str, s: Status) -> Status {
    if !s.is_rejected() {
        return Status::error(format!("running {plugin:?} filter plugin: {}", s.message()))
            .with_plugin(plugin);
    }
    s.with_plugin(plugin)
}

/// One cycle's Filter plugins (in order, without those PreFilter skipped), for the loop over the
/// nodes: the same as [`Profile::run_filter_plugins`] and
/// [`Profile::run_filter_plugins_with_nominated_pods`], but the skip bits and each plugin's
/// `FilterPlugin` view are looked up once per cycle instead of once per node.
pub(crate) struct CycleFilters<'a> {
    profile: &'a Profile,
    plugins: Vec<(&'static str, &'a dyn FilterPlugin)>,
}

impl CycleFilters<'_> {
    /// [`Profile::run_filter_plugins`] with the state the list was made for.
    #[inline]
    pub(crate) fn run(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for &(name, pl) in &self.plugins {
            let s = pl.filter(state, pod, node);
            if !s.is_success() {
                return filter_failure(name, s);
            }
        }
        Status::success()
    }

    /// [`Profile::run_filter_plugins_with_nominated_pods`] with the state the list was made for.
    #[inline]
    pub(crate) fn run_with_nominated_pods(
        &self,
        state: &CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        let nominated = snapshot.nominated_pods_for_node(node.name());
        if nominated.is_empty() {
            return self.run(state, pod, node);
        }
        self.profile
            .run_filter_plugins_adding_nominated_pods(state, pod, node, nominated)
    }
}

/// An instantiated profile.
pub struct Profile {
    scheduler_name: String,
    percentage_of_nodes_to_score: Option<i32>,
    plugins: Vec<Arc<dyn Plugin>>,
    pre_enqueue: Vec<usize>,
    queue_sort: Vec<usize>,
    pre_filter: Vec<usize>,
    filter: Vec<usize>,
    post_filter: Vec<usize>,
    pre_score: Vec<usize>,
    /// Plugin index and weight.
    score: Vec<(usize, i64)>,
    reserve: Vec<usize>,
    permit: Vec<usize>,
    pre_bind: Vec<usize>,
    bind: Vec<usize>,
    post_bind: Vec<usize>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("scheduler_name", &self.scheduler_name)
            .field("filter", &self.plugin_names(ExtensionPoint::Filter))
            .field("score", &self.score_weights())
            .finish()
    }
}

fn profile_err(profile: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Profile {
        profile: profile.to_string(),
        message: message.into(),
    }
}

impl Profile {
    /// The default profile (`default-scheduler`, v1.32's plugins and weights).
    pub fn default_profile(handle: &Handle) -> Self {
        let cfg = crate::config::KubeSchedulerConfiguration::defaulted();
        Profile::new(
            &cfg.profiles[0],
            cfg.percentage_of_nodes_to_score,
            &crate::plugins::default_registry(),
            handle,
        )
        .expect("the default profile is valid")
    }

    /// Every profile of a configuration (defaulted and validated first).
    pub fn from_configuration(
        cfg: &crate::config::KubeSchedulerConfiguration,
        registry: &Registry,
        handle: &Handle,
    ) -> Result<Vec<Profile>, ConfigError> {
        let mut cfg = cfg.clone();
        cfg.set_defaults();
        cfg.validate()?;
        cfg.profiles
            .iter()
            .map(|p| Profile::new(p, cfg.percentage_of_nodes_to_score, registry, handle))
            .collect()
    }

    /// `NewFramework` for one defaulted profile. `global_percentage` is the configuration-wide
    /// `percentageOfNodesToScore`, used when the profile sets none.
    pub fn new(
        cfg: &KubeSchedulerProfile,
        global_percentage: Option<i32>,
        registry: &Registry,
        handle: &Handle,
    ) -> Result<Self, ConfigError> {
        let name = cfg.scheduler_name.clone().unwrap_or_default();
        let default_plugins;
        let plugins_cfg = match cfg.plugins.as_ref() {
            Some(p) => p,
            None => {
                default_plugins = crate::config::default_plugins();
                &default_plugins
            }
        };
        let mut args: HashMap<&str, Option<&Value>> = HashMap::new();
        for pc in &cfg.plugin_config {
            if args.insert(pc.name.as_str(), pc.args.as_ref()).is_some() {
                return Err(profile_err(
                    &name,
                    format!("repeated config for plugin {}", pc.name),
                ));
            }
        }
        // Instantiate every needed plugin once.
        let mut instances: Vec<Arc<dyn Plugin>> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for pname in plugins_cfg.names() {
            if UNSUPPORTED_PLUGINS.contains(&pname.as_str()) && !registry.contains(&pname) {
                continue;
            }
            let Some(factory) = registry.get(&pname) else {
                continue; // reported below with the extension point's name
            };
            let plugin = factory(args.get(pname.as_str()).copied().flatten(), handle)
                .map_err(|e| profile_err(&name, format!("initializing plugin {pname:?}: {e}")))?;
            by_name.insert(pname, instances.len());
            instances.push(plugin);
        }
        if instances.len() > 64 {
            return Err(profile_err(&name, "more than 64 plugins in one profile"));
        }
        let mut profile = Profile {
            scheduler_name: name.clone(),
            percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score.or(global_percentage),
            plugins: instances,
            pre_enqueue: vec![],
            queue_sort: vec![],
            pre_filter: vec![],
            filter: vec![],
            post_filter: vec![],
            pre_score: vec![],
            score: vec![],
            reserve: vec![],
            permit: vec![],
            pre_bind: vec![],
            bind: vec![],
            post_bind: vec![],
        };
        let sets: [(ExtensionPoint, &PluginSet); 12] = [
            (ExtensionPoint::PreEnqueue, &plugins_cfg.pre_enqueue),
            (ExtensionPoint::QueueSort, &plugins_cfg.queue_sort),
            (ExtensionPoint::PreFilter, &plugins_cfg.pre_filter),
            (ExtensionPoint::Filter, &plugins_cfg.filter),
            (ExtensionPoint::PostFilter, &plugins_cfg.post_filter),
            (ExtensionPoint::PreScore, &plugins_cfg.pre_score),
            (ExtensionPoint::Score, &plugins_cfg.score),
            (ExtensionPoint::Reserve, &plugins_cfg.reserve),
            (ExtensionPoint::Permit, &plugins_cfg.permit),
            (ExtensionPoint::PreBind, &plugins_cfg.pre_bind),
            (ExtensionPoint::Bind, &plugins_cfg.bind),
            (ExtensionPoint::PostBind, &plugins_cfg.post_bind),
        ];
        let mut lists: HashMap<ExtensionPoint, Vec<usize>> = HashMap::new();
        // updatePluginList for the explicit per-point sets.
        for (point, set) in &sets {
            let mut list: Vec<usize> = Vec::new();
            for p in &set.enabled {
                if UNSUPPORTED_PLUGINS.contains(&p.name.as_str()) && !by_name.contains_key(&p.name)
                {
                    continue;
                }
                let Some(&i) = by_name.get(&p.name) else {
                    return Err(profile_err(
                        &name,
                        format!("{} {:?} does not exist", point.interface_name(), p.name),
                    ));
                };
                if !point.implemented_by(profile.plugins[i].as_ref()) {
                    return Err(profile_err(
                        &name,
                        format!(
                            "plugin {:?} does not extend {} plugin",
                            p.name,
                            point.interface_name()
                        ),
                    ));
                }
                if list.contains(&i) {
                    return Err(profile_err(
                        &name,
                        format!(
                            "plugin {:?} already registered as {:?}",
                            p.name,
                            point.interface_name()
                        ),
                    ));
                }
                list.push(i);
            }
            lists.insert(*point, list);
        }
        // expandMultiPointPlugins.
        if !plugins_cfg.multi_point.enabled.is_empty() {
            for (point, set) in &sets {
                if set.disabled.iter().any(|d| d.name == "*") {
                    continue;
                }
                let enabled = lists.get(point).cloned().unwrap_or_default();
                let mut multi: Vec<usize> = Vec::new();
                let mut overrides: Vec<usize> = Vec::new();
                for ep in &plugins_cfg.multi_point.enabled {
                    if UNSUPPORTED_PLUGINS.contains(&ep.name.as_str())
                        && !by_name.contains_key(&ep.name)
                    {
                        continue;
                    }
                    let Some(&i) = by_name.get(&ep.name) else {
                        return Err(profile_err(
                            &name,
                            format!("{} {:?} does not exist", point.interface_name(), ep.name),
                        ));
                    };
                    if !point.implemented_by(profile.plugins[i].as_ref()) {
                        continue;
                    }
                    if set.disabled.iter().any(|d| d.name == ep.name) {
                        continue;
                    }
                    if enabled.contains(&i) {
                        if !overrides.contains(&i) {
                            overrides.push(i);
                        }
                        continue;
                    }
                    if multi.contains(&i) {
                        return Err(profile_err(
                            &name,
                            format!(
                                "plugin {:?} already registered as {:?}",
                                ep.name,
                                point.interface_name()
                            ),
                        ));
                    }
                    multi.push(i);
                }
                let mut ordered = overrides;
                for i in multi.into_iter().chain(enabled) {
                    if !ordered.contains(&i) {
                        ordered.push(i);
                    }
                }
                lists.insert(*point, ordered);
            }
        }
        let mut take = |p: ExtensionPoint| lists.remove(&p).unwrap_or_default();
        profile.pre_enqueue = take(ExtensionPoint::PreEnqueue);
        profile.queue_sort = take(ExtensionPoint::QueueSort);
        profile.pre_filter = take(ExtensionPoint::PreFilter);
        profile.filter = take(ExtensionPoint::Filter);
        profile.post_filter = take(ExtensionPoint::PostFilter);
        profile.pre_score = take(ExtensionPoint::PreScore);
        let score = take(ExtensionPoint::Score);
        profile.reserve = take(ExtensionPoint::Reserve);
        profile.permit = take(ExtensionPoint::Permit);
        profile.pre_bind = take(ExtensionPoint::PreBind);
        profile.bind = take(ExtensionPoint::Bind);
        profile.post_bind = take(ExtensionPoint::PostBind);
        if profile.queue_sort.len() != 1 {
            return Err(profile_err(
                &name,
                format!(
                    "only one queue sort plugin required for profile with scheduler name {:?}, but got {}",
                    name,
                    profile.queue_sort.len()
                ),
            ));
        }
        if profile.bind.is_empty() {
            return Err(profile_err(
                &name,
                format!(
                    "at least one bind plugin is needed for profile with scheduler name {name:?}"
                ),
            ));
        }
        // getScoreWeights: the Score set's weight takes precedence over MultiPoint's.
        let weight_refs: Vec<&PluginRef> = plugins_cfg
            .score
            .enabled
            .iter()
            .chain(plugins_cfg.multi_point.enabled.iter())
            .collect();
        let mut weights: HashMap<usize, i64> = HashMap::new();
        let mut total: i64 = 0;
        for r in weight_refs {
            let Some(&i) = by_name.get(&r.name) else {
                continue;
            };
            if profile.plugins[i].as_score().is_none() || weights.contains_key(&i) {
                continue;
            }
            let w = match r.weight.unwrap_or(0) {
                0 => 1,
                w => i64::from(w),
            };
            if w.saturating_mul(MAX_NODE_SCORE) > MAX_TOTAL_SCORE - total {
                return Err(profile_err(
                    &name,
                    "total score of Score plugins could overflow",
                ));
            }
            total += w * MAX_NODE_SCORE;
            weights.insert(i, w);
        }
        for i in score {
            let w = *weights.get(&i).ok_or_else(|| {
                profile_err(
                    &name,
                    format!(
                        "score plugin {:?} is not configured with weight",
                        profile.plugins[i].name()
                    ),
                )
            })?;
            profile.score.push((i, w));
        }
        Ok(profile)
    }

    pub fn scheduler_name(&self) -> &str {
        &self.scheduler_name
    }

    /// The profile's `percentageOfNodesToScore` (or the configuration's).
    pub fn percentage_of_nodes_to_score(&self) -> Option<i32> {
        self.percentage_of_nodes_to_score
    }

    /// Overrides `percentageOfNodesToScore`.
    pub fn set_percentage_of_nodes_to_score(&mut self, p: Option<i32>) {
        self.percentage_of_nodes_to_score = p;
    }

    /// The plugin named `name`.
    pub fn plugin(&self, name: &str) -> Option<&Arc<dyn Plugin>> {
        self.plugins.iter().find(|p| p.name() == name)
    }

    /// Plugin names at an extension point, in run order.
    pub fn plugin_names(&self, point: ExtensionPoint) -> Vec<&'static str> {
        let list: Vec<usize> = match point {
            ExtensionPoint::PreEnqueue => self.pre_enqueue.clone(),
            ExtensionPoint::QueueSort => self.queue_sort.clone(),
            ExtensionPoint::PreFilter => self.pre_filter.clone(),
            ExtensionPoint::Filter => self.filter.clone(),
            ExtensionPoint::PostFilter => self.post_filter.clone(),
            ExtensionPoint::PreScore => self.pre_score.clone(),
            ExtensionPoint::Score => self.score.iter().map(|(i, _)| *i).collect(),
            ExtensionPoint::Reserve => self.reserve.clone(),
            ExtensionPoint::Permit => self.permit.clone(),
            ExtensionPoint::PreBind => self.pre_bind.clone(),
            ExtensionPoint::Bind => self.bind.clone(),
            ExtensionPoint::PostBind => self.post_bind.clone(),
        };
        list.into_iter().map(|i| self.plugins[i].name()).collect()
    }

    /// Score plugins and their weights, in run order.
    pub fn score_weights(&self) -> Vec<(&'static str, i64)> {
        self.score
            .iter()
            .map(|(i, w)| (self.plugins[*i].name(), *w))
            .collect()
    }

    /// Number of Score plugins.
    pub fn score_plugins(&self) -> usize {
        self.score.len()
    }

    pub fn has_filter_plugins(&self) -> bool {
        !self.filter.is_empty()
    }

    pub fn has_score_plugins(&self) -> bool {
        !self.score.is_empty()
    }

    pub fn has_post_filter_plugins(&self) -> bool {
        !self.post_filter.is_empty()
    }

    /// `RunPreEnqueuePlugins`.
    pub fn run_pre_enqueue_plugins(&self, pod: &PodInfo) -> Status {
        for &i in &self.pre_enqueue {
            let pl = &self.plugins[i];
            let s = pl.as_pre_enqueue().expect("pre-enqueue").pre_enqueue(pod);
            if !s.is_success() {
                if s.is_rejected() {
                    return s.with_plugin(pl.name());
                }
                return Status::error(format!(
                    "running PreEnqueue plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ))
                .with_plugin(pl.name());
            }
        }
        Status::success()
    }

    /// The queue order (`QueueSortFunc`).
    pub fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        self.plugins[self.queue_sort[0]]
            .as_queue_sort()
            .expect("queue sort")
            .less(a, b)
    }

    /// `RunPreFilterPlugins`: the merged node restriction, the status, and the plugins that restricted
    /// the nodes (`unschedulablePlugins`).
    pub fn run_pre_filter_plugins(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
    ) -> (PreFilterResult, Status, Vec<&'static str>) {
        let mut result = PreFilterResult::default();
        let mut with_nodes: Vec<&'static str> = Vec::new();
        let mut skip = 0u64;
        let mut return_status = Status::success();
        for &i in &self.pre_filter {
            let pl = &self.plugins[i];
            let (r, mut s) = pl
                .as_pre_filter()
                .expect("pre-filter")
                .pre_filter(state, snapshot, pod);
            if s.is_skip() {
                skip |= 1 << i;
                continue;
            }
            if !s.is_success() {
                s.set_plugin(pl.name());
                match s.code() {
                    Code::UnschedulableAndUnresolvable => return (result, s, vec![]),
                    Code::Unschedulable => {
                        return_status = s;
                        continue;
                    }
                    _ => {
                        return (
                            result,
                            Status::error(format!(
                                "running PreFilter plugin {:?}: {}",
                                pl.name(),
                                s.message()
                            ))
                            .with_plugin(pl.name()),
                            vec![],
                        )
                    }
                }
            }
            if r.as_ref().is_some_and(|r| !r.all_nodes()) {
                with_nodes.push(pl.name());
            }
            result = result.merge(r);
            if result.node_names.as_ref().is_some_and(|n| n.is_empty()) {
                let mut sorted = with_nodes.clone();
                sorted.sort_unstable();
                let msg = if sorted.len() == 1 {
                    format!("node(s) didn't satisfy plugin {}", sorted[0])
                } else {
                    format!(
                        "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                        sorted.join(" ")
                    )
                };
                return (
                    result,
                    Status::new(Code::UnschedulableAndUnresolvable, msg),
                    with_nodes,
                );
            }
        }
        state.skip_filter = skip;
        (result, return_status, with_nodes)
    }

    /// `RunPreFilterExtensionAddPod`.
    pub fn run_pre_filter_extension_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        pod_to_add: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for &i in &self.pre_filter {
            let pl = self.plugins[i].as_pre_filter().expect("pre-filter");
            if !pl.has_extensions() || state.skip_filter & (1 << i) != 0 {
                continue;
            }
            let s = pl.add_pod(state, pod, pod_to_add, node);
            if !s.is_success() {
                return Status::error(format!(
                    "running AddPod on PreFilter plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ));
            }
        }
        Status::success()
    }

    /// `RunPreFilterExtensionRemovePod`.
    pub fn run_pre_filter_extension_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        pod_to_remove: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for &i in &self.pre_filter {
            let pl = self.plugins[i].as_pre_filter().expect("pre-filter");
            if !pl.has_extensions() || state.skip_filter & (1 << i) != 0 {
                continue;
            }
            let s = pl.remove_pod(state, pod, pod_to_remove, node);
            if !s.is_success() {
                return Status::error(format!(
                    "running RemovePod on PreFilter plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ));
            }
        }
        Status::success()
    }

    /// `RunFilterPlugins`: stops at the first plugin that rejects the node.
    #[inline]
    pub fn run_filter_plugins(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for &i in &self.filter {
            if state.skip_filter & (1 << i) != 0 {
                continue;
            }
            let pl = &self.plugins[i];
            let s = pl.as_filter().expect("filter").filter(state, pod, node);
            if !s.is_success() {
                return filter_failure(pl.name(), s);
            }
        }
        Status::success()
    }

    /// The Filter plugins this cycle runs (those PreFilter did not skip), resolved once for the
    /// per-node loop; see [`CycleFilters`].
    pub(crate) fn cycle_filters(&self, state: &CycleState) -> CycleFilters<'_> {
        CycleFilters {
            profile: self,
            plugins: self
                .filter
                .iter()
                .filter(|&&i| state.skip_filter & (1 << i) == 0)
                .map(|&i| {
                    let pl = &self.plugins[i];
                    (pl.name(), pl.as_filter().expect("filter"))
                })
                .collect(),
        }
    }

    /// Runs every (not skipped) Filter plugin on a node and returns each verdict (explain mode).
    pub fn run_all_filter_plugins(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Vec<(&'static str, Status)> {
        self.filter
            .iter()
            .filter(|&&i| state.skip_filter & (1 << i) == 0)
            .map(|&i| {
                let pl = &self.plugins[i];
                (
                    pl.name(),
                    pl.as_filter().expect("filter").filter(state, pod, node),
                )
            })
            .collect()
    }

    /// `RunFilterPluginsWithNominatedPods`: with pods nominated to the node (of equal or higher
    /// priority) counted first, then, if that passed, without them.
    #[inline]
    pub fn run_filter_plugins_with_nominated_pods(
        &self,
        state: &CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        let nominated = snapshot.nominated_pods_for_node(node.name());
        if nominated.is_empty() {
            return self.run_filter_plugins(state, pod, node);
        }
        self.run_filter_plugins_adding_nominated_pods(state, pod, node, nominated)
    }

    /// The part of [`Profile::run_filter_plugins_with_nominated_pods`] for a node with nominated
    /// pods: kept out of line so the common path stays small.
    #[inline(never)]
    fn run_filter_plugins_adding_nominated_pods(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        nominated: &[Arc<PodInfo>],
    ) -> Status {
        let mut node_out = node.clone();
        let mut state_out = state.clone();
        let mut added = false;
        for p in nominated {
            if p.priority() >= pod.priority() && p.key() != pod.key() {
                node_out.add_pod(p.clone());
                let s = self.run_pre_filter_extension_add_pod(&mut state_out, pod, p, &node_out);
                if !s.is_success() {
                    return s;
                }
                added = true;
            }
        }
        if !added {
            return self.run_filter_plugins(state, pod, node);
        }
        let s = self.run_filter_plugins(&state_out, pod, &node_out);
        if !s.is_success() {
            return s;
        }
        self.run_filter_plugins(state, pod, node)
    }

    /// `RunPostFilterPlugins`.
    pub fn run_post_filter_plugins(
        &self,
        state: &CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status) {
        let mut result = None;
        let mut reasons = Vec::new();
        let mut rejector = "";
        for &i in &self.post_filter {
            let pl = &self.plugins[i];
            let (r, s) = pl
                .as_post_filter()
                .expect("post-filter")
                .post_filter(state, self, snapshot, pod, statuses);
            if s.is_success() {
                return (r, s);
            }
            if s.code() == Code::UnschedulableAndUnresolvable {
                return (r, s.with_plugin(pl.name()));
            }
            if !s.is_rejected() {
                return (None, Status::error(s.message()).with_plugin(pl.name()));
            }
            if r.as_ref().is_some_and(|r| r.nominated_node_name.is_some()) {
                result = r;
            }
            reasons.extend(s.reasons().iter().cloned());
            if rejector.is_empty() {
                rejector = pl.name();
            }
        }
        (
            result,
            Status::with_reasons(Code::Unschedulable, reasons).with_plugin(rejector),
        )
    }

    /// `RunPreScorePlugins`: records which plugins returned Skip so their Score is not run.
    pub fn run_pre_score_plugins(
        &self,
        state: &mut CycleState,
        snapshot: &Snapshot,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Status {
        let mut skip = 0u64;
        for &i in &self.pre_score {
            let pl = &self.plugins[i];
            let s = pl
                .as_pre_score()
                .expect("pre-score")
                .pre_score(state, snapshot, pod, nodes);
            if s.is_skip() {
                skip |= 1 << i;
                continue;
            }
            if !s.is_success() {
                return Status::error(format!(
                    "running PreScore plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ));
            }
        }
        state.skip_score = skip;
        Status::success()
    }

    /// `RunScorePlugins`: Score, NormalizeScore, range check and weights, into `out`.
    pub fn run_score_plugins(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        out: &mut ScoreBuffers,
    ) -> Status {
        out.ran.clear();
        out.totals.clear();
        out.totals.resize(nodes.len(), 0);
        let mut row = 0;
        for (k, &(i, weight)) in self.score.iter().enumerate() {
            if state.skip_score & (1 << i) != 0 {
                continue;
            }
            let pl = self.plugins[i].as_score().expect("score");
            if out.scores.len() <= row {
                out.scores.push(Vec::new());
            }
            let scores = &mut out.scores[row];
            scores.clear();
            scores.reserve(nodes.len());
            if let Err(st) = pl.score_nodes(state, pod, nodes, scores) {
                return Status::error(format!(
                    "plugin {:?} failed with: {}",
                    pl.name(),
                    st.message()
                ));
            }
            if pl.has_normalize() {
                let st = pl.normalize_score(state, pod, nodes, scores);
                if !st.is_success() {
                    return Status::error(format!(
                        "plugin {:?} failed with: {}",
                        pl.name(),
                        st.message()
                    ));
                }
            }
            for (j, &s) in scores.iter().enumerate() {
                if !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&s) {
                    return Status::error(format!(
                        "plugin {:?} returns an invalid score {s}, it should in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
                        pl.name()
                    ));
                }
                out.totals[j] += s * weight;
            }
            out.ran.push(k);
            row += 1;
        }
        Status::success()
    }

    /// Name and weight of the `k`-th Score plugin.
    pub fn score_plugin(&self, k: usize) -> (&'static str, i64) {
        let (i, w) = self.score[k];
        (self.plugins[i].name(), w)
    }

    /// `RunReservePluginsReserve`.
    pub fn run_reserve_plugins_reserve(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        node_name: &str,
    ) -> Status {
        for &i in &self.reserve {
            let pl = &self.plugins[i];
            let s = pl
                .as_reserve()
                .expect("reserve")
                .reserve(state, pod, node_name);
            if !s.is_success() {
                if s.is_rejected() {
                    return s.with_plugin(pl.name());
                }
                return Status::error(format!(
                    "running Reserve plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ))
                .with_plugin(pl.name());
            }
        }
        Status::success()
    }

    /// `RunReservePluginsUnreserve`: in reverse order.
    pub fn run_reserve_plugins_unreserve(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        node_name: &str,
    ) {
        for &i in self.reserve.iter().rev() {
            self.plugins[i]
                .as_reserve()
                .expect("reserve")
                .unreserve(state, pod, node_name);
        }
    }

    /// `RunPermitPlugins`: a rejection wins; otherwise `Wait` with the longest timeout asked for.
    pub fn run_permit_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        node_name: &str,
    ) -> (Status, Duration) {
        let mut wait: Option<Duration> = None;
        for &i in &self.permit {
            let pl = &self.plugins[i];
            let (s, timeout) = pl
                .as_permit()
                .expect("permit")
                .permit(state, pod, node_name);
            if s.is_success() {
                continue;
            }
            if s.is_rejected() {
                return (s.with_plugin(pl.name()), Duration::ZERO);
            }
            if s.is_wait() {
                let t = timeout.min(Duration::from_secs(15 * 60));
                wait = Some(wait.map_or(t, |w| w.max(t)));
                continue;
            }
            return (
                Status::error(format!(
                    "running Permit plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ))
                .with_plugin(pl.name()),
                Duration::ZERO,
            );
        }
        match wait {
            Some(t) => (
                Status::new(
                    Code::Wait,
                    "one or more plugins asked to wait and no plugin rejected pod",
                ),
                t,
            ),
            None => (Status::success(), Duration::ZERO),
        }
    }

    /// `RunPreBindPlugins`.
    pub fn run_pre_bind_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        node_name: &str,
    ) -> Status {
        for &i in &self.pre_bind {
            let pl = &self.plugins[i];
            let s = pl
                .as_pre_bind()
                .expect("pre-bind")
                .pre_bind(state, pod, node_name);
            if !s.is_success() {
                if s.is_rejected() {
                    return s.with_plugin(pl.name());
                }
                return Status::error(format!(
                    "running PreBind plugin {:?}: {}",
                    pl.name(),
                    s.message()
                ))
                .with_plugin(pl.name());
            }
        }
        Status::success()
    }

    /// `RunBindPlugins`: the first plugin that does not Skip binds.
    pub fn run_bind_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        node_name: &str,
    ) -> Status {
        let mut status = Status::skip();
        for &i in &self.bind {
            let pl = &self.plugins[i];
            status = pl.as_bind().expect("bind").bind(state, pod, node_name);
            if status.is_skip() {
                continue;
            }
            if !status.is_success() {
                if status.is_rejected() {
                    return status.with_plugin(pl.name());
                }
                return Status::error(format!(
                    "running Bind plugin {:?}: {}",
                    pl.name(),
                    status.message()
                ))
                .with_plugin(pl.name());
            }
            return status;
        }
        status
    }

    /// `RunPostBindPlugins`.
    pub fn run_post_bind_plugins(&self, state: &mut CycleState, pod: &PodInfo, node_name: &str) {
        for &i in &self.post_bind {
            self.plugins[i]
                .as_post_bind()
                .expect("post-bind")
                .post_bind(state, pod, node_name);
        }
    }
}
