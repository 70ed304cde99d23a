//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`): types, defaults and validation.
//!
//! A user's upstream configuration file decodes unchanged (YAML or JSON, field names as upstream,
//! unknown fields rejected as strict decoding does). [`KubeSchedulerConfiguration::set_defaults`]
//! applies v1.32's defaults: one `default-scheduler` profile when none is given, the default plugin set
//! merged with each profile's `enabled`/`disabled` lists (`mergePlugins`), and defaulted args for every
//! plugin that takes some. Plugin args are kept as JSON here and decoded by each plugin's factory into
//! the typed `*Args` structs below, which carry upstream's defaults and validation.

use k8s_openapi::api::core::v1::{NodeAffinity, TopologySpreadConstraint};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use skiff_api::field::{aggregate_message, FieldError, Path};

/// The API group/version of the configuration.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// `v1.DefaultSchedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Errors of decoding, validating or instantiating a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("decoding scheduler configuration: {0}")]
    Decode(String),
    #[error("{0}")]
    Invalid(String),
    #[error("initializing profile for scheduler name {profile:?}: {message}")]
    Profile { profile: String, message: String },
}

/// `kubescheduler.config.k8s.io/v1` `KubeSchedulerConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_election: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_connection: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_profiling: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_contention_profiling: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_of_nodes_to_score: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_initial_backoff_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_max_backoff_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<KubeSchedulerProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extenders: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_cache_until_active: Option<bool>,
}

/// One scheduling profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSchedulerProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_of_nodes_to_score: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Plugins>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_config: Vec<PluginConfig>,
}

/// Plugins enabled and disabled per extension point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plugins {
    #[serde(default)]
    pub pre_enqueue: PluginSet,
    #[serde(default)]
    pub queue_sort: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub permit: PluginSet,
    #[serde(default)]
    pub pre_bind: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
    #[serde(default)]
    pub post_bind: PluginSet,
    #[serde(default)]
    pub multi_point: PluginSet,
}

impl Plugins {
    /// The sets in upstream's order, with their field names.
    pub fn sets(&self) -> [(&'static str, &PluginSet); 13] {
        [
            ("multiPoint", &self.multi_point),
            ("preEnqueue", &self.pre_enqueue),
            ("queueSort", &self.queue_sort),
            ("preFilter", &self.pre_filter),
            ("filter", &self.filter),
            ("postFilter", &self.post_filter),
            ("preScore", &self.pre_score),
            ("score", &self.score),
            ("reserve", &self.reserve),
            ("permit", &self.permit),
            ("preBind", &self.pre_bind),
            ("bind", &self.bind),
            ("postBind", &self.post_bind),
        ]
    }

    fn sets_mut(&mut self) -> [&mut PluginSet; 13] {
        [
            &mut self.multi_point,
            &mut self.pre_enqueue,
            &mut self.queue_sort,
            &mut self.pre_filter,
            &mut self.filter,
            &mut self.post_filter,
            &mut self.pre_score,
            &mut self.score,
            &mut self.reserve,
            &mut self.permit,
            &mut self.pre_bind,
            &mut self.bind,
            &mut self.post_bind,
        ]
    }

    /// Every plugin name enabled anywhere, sorted and de-duplicated (`pluginsNames`).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sets()
            .iter()
            .flat_map(|(_, s)| s.enabled.iter().map(|p| p.name.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Enabled and disabled plugins of one extension point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<PluginRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<PluginRef>,
}

/// A plugin name and, for Score, its weight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

impl PluginRef {
    pub fn new(name: &str, weight: Option<i32>) -> Self {
        PluginRef {
            name: name.to_string(),
            weight,
        }
    }
}

/// Arguments of one plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// v1.32's default profile (`getDefaultPlugins`): every plugin as a MultiPoint plugin, with weights
/// for the scoring ones.
pub fn default_plugins() -> Plugins {
    let p = |n: &str, w: Option<i32>| PluginRef::new(n, w);
    Plugins {
        multi_point: PluginSet {
            enabled: vec![
                p("SchedulingGates", None),
                p("PrioritySort", None),
                p("NodeUnschedulable", None),
                p("NodeName", None),
                p("TaintToleration", Some(3)),
                p("NodeAffinity", Some(2)),
                p("NodePorts", None),
                p("NodeResourcesFit", Some(1)),
                p("VolumeRestrictions", None),
                p("NodeVolumeLimits", None),
                p("VolumeBinding", None),
                p("VolumeZone", None),
                p("PodTopologySpread", Some(2)),
                p("InterPodAffinity", Some(2)),
                p("DefaultPreemption", None),
                p("NodeResourcesBalancedAllocation", Some(1)),
                p("ImageLocality", Some(1)),
                p("DefaultBinder", None),
            ],
            disabled: vec![],
        },
        ..Default::default()
    }
}

/// `mergePluginSet`: defaults minus the disabled ones (all with `*`), re-configured defaults replaced
/// in place, then the custom plugins that replaced nothing.
fn merge_plugin_set(default: &PluginSet, custom: &PluginSet) -> PluginSet {
    let mut disabled: Vec<PluginRef> = custom
        .disabled
        .iter()
        .map(|p| PluginRef::new(&p.name, None))
        .collect();
    disabled.extend(
        default
            .disabled
            .iter()
            .map(|p| PluginRef::new(&p.name, None)),
    );
    let is_disabled = |n: &str| disabled.iter().any(|d| d.name == n);
    let mut replaced = vec![false; custom.enabled.len()];
    let mut enabled = Vec::new();
    if !is_disabled("*") {
        for d in &default.enabled {
            if is_disabled(&d.name) {
                continue;
            }
            // Upstream keeps the last custom entry of a name when it builds its map.
            match custom.enabled.iter().rposition(|c| c.name == d.name) {
                Some(i) => {
                    replaced[i] = true;
                    enabled.push(custom.enabled[i].clone());
                }
                None => enabled.push(d.clone()),
            }
        }
    }
    for (i, c) in custom.enabled.iter().enumerate() {
        if !replaced[i] {
            enabled.push(c.clone());
        }
    }
    PluginSet { enabled, disabled }
}

/// `mergePlugins`.
pub fn merge_plugins(default: &Plugins, custom: Option<&Plugins>) -> Plugins {
    let Some(custom) = custom else {
        return default.clone();
    };
    let mut out = Plugins::default();
    let defaults = default.sets();
    let customs = custom.sets();
    for (i, slot) in out.sets_mut().into_iter().enumerate() {
        *slot = merge_plugin_set(defaults[i].1, customs[i].1);
    }
    out
}

/// Plugins whose args have a v1 type (and therefore get defaulted args).
const PLUGINS_WITH_ARGS: &[&str] = &[
    "DefaultPreemption",
    "InterPodAffinity",
    "NodeAffinity",
    "NodeResourcesBalancedAllocation",
    "NodeResourcesFit",
    "PodTopologySpread",
    "VolumeBinding",
];

impl KubeSchedulerConfiguration {
    /// Decodes a YAML (or JSON) configuration file strictly.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let cfg: KubeSchedulerConfiguration =
            serde_yaml::from_str(text).map_err(|e| ConfigError::Decode(e.to_string()))?;
        if let Some(v) = cfg.api_version.as_deref() {
            if v != API_VERSION {
                return Err(ConfigError::Decode(format!(
                    "no kind \"KubeSchedulerConfiguration\" is registered for version \"{v}\""
                )));
            }
        }
        if let Some(k) = cfg.kind.as_deref() {
            if k != "KubeSchedulerConfiguration" {
                return Err(ConfigError::Decode(format!(
                    "no kind \"{k}\" is registered for version \"{API_VERSION}\""
                )));
            }
        }
        Ok(cfg)
    }

    /// The configuration with no file: one default profile.
    pub fn defaulted() -> Self {
        let mut c = KubeSchedulerConfiguration::default();
        c.set_defaults();
        c
    }

    /// `SetDefaults_KubeSchedulerConfiguration` for the fields the scheduling core uses.
    pub fn set_defaults(&mut self) {
        self.api_version
            .get_or_insert_with(|| API_VERSION.to_string());
        self.kind
            .get_or_insert_with(|| "KubeSchedulerConfiguration".to_string());
        self.parallelism.get_or_insert(16);
        if self.profiles.is_empty() {
            self.profiles.push(KubeSchedulerProfile::default());
        }
        if self.profiles.len() == 1 && self.profiles[0].scheduler_name.is_none() {
            self.profiles[0].scheduler_name = Some(DEFAULT_SCHEDULER_NAME.to_string());
        }
        let defaults = default_plugins();
        for prof in &mut self.profiles {
            let merged = merge_plugins(&defaults, prof.plugins.as_ref());
            prof.plugins = Some(merged);
            for cfg in &mut prof.plugin_config {
                if let Some(args) = cfg.args.as_mut() {
                    default_args(&cfg.name, args);
                }
            }
            for name in prof
                .plugins
                .as_ref()
                .map(Plugins::names)
                .unwrap_or_default()
            {
                if PLUGINS_WITH_ARGS.contains(&name.as_str())
                    && !prof.plugin_config.iter().any(|c| c.name == name)
                {
                    let mut args = Value::Object(Default::default());
                    default_args(&name, &mut args);
                    prof.plugin_config.push(PluginConfig {
                        name,
                        args: Some(args),
                    });
                }
            }
        }
        self.percentage_of_nodes_to_score.get_or_insert(0);
        self.pod_initial_backoff_seconds.get_or_insert(1);
        self.pod_max_backoff_seconds.get_or_insert(10);
    }

    /// `ValidateKubeSchedulerConfiguration` (the checks on fields this crate uses), on a defaulted
    /// configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errs = Vec::new();
        if let Some(p) = self.parallelism {
            if p <= 0 {
                errs.push(FieldError::invalid_raw(
                    &Path::new("parallelism"),
                    p,
                    "should be an integer value greater than zero",
                ));
            }
        }
        let profiles = Path::new("profiles");
        if self.profiles.is_empty() {
            errs.push(FieldError::required(&profiles, ""));
        }
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, prof) in self.profiles.iter().enumerate() {
            let path = profiles.index(i);
            let name = prof.scheduler_name.as_deref().unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(&path.child("schedulerName"), ""));
            }
            validate_percentage(
                &path.child("percentageOfNodesToScore"),
                prof.percentage_of_nodes_to_score,
                &mut errs,
            );
            if let Some((_, j)) = seen.iter().find(|(n, _)| *n == name) {
                errs.push(FieldError::duplicate_raw(
                    &path.child("schedulerName"),
                    profiles.index(*j).child("schedulerName"),
                ));
            }
            seen.push((name, i));
            for (k, pc) in prof.plugin_config.iter().enumerate() {
                if prof.plugin_config[..k].iter().any(|o| o.name == pc.name) {
                    errs.push(FieldError::duplicate(
                        &path.child("pluginConfig").index(k),
                        &pc.name,
                    ));
                }
            }
        }
        if self.profiles.len() > 1 {
            let first = self.profiles[0]
                .plugins
                .as_ref()
                .map(|p| p.queue_sort.clone());
            for (i, prof) in self.profiles.iter().enumerate().skip(1) {
                if prof.plugins.as_ref().map(|p| p.queue_sort.clone()) != first {
                    errs.push(FieldError::invalid_raw(
                        &profiles.index(i).child("plugins").child("queueSort"),
                        "{...}",
                        "queueSort must be the same for all profiles",
                    ));
                }
            }
        }
        validate_percentage(
            &Path::new("percentageOfNodesToScore"),
            self.percentage_of_nodes_to_score,
            &mut errs,
        );
        let initial = self.pod_initial_backoff_seconds.unwrap_or(1);
        if initial <= 0 {
            errs.push(FieldError::invalid_raw(
                &Path::new("podInitialBackoffSeconds"),
                initial,
                "must be greater than 0",
            ));
        }
        let max = self.pod_max_backoff_seconds.unwrap_or(10);
        if max < initial {
            errs.push(FieldError::invalid_raw(
                &Path::new("podMaxBackoffSeconds"),
                max,
                "must be greater than or equal to PodInitialBackoffSeconds",
            ));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(aggregate_message(&errs)))
        }
    }
}

fn validate_percentage(path: &Path, p: Option<i32>, errs: &mut Vec<FieldError>) {
    if let Some(p) = p {
        if !(0..=100).contains(&p) {
            errs.push(FieldError::invalid_raw(
                path,
                p,
                "not in valid range [0-100]",
            ));
        }
    }
}

/// Applies the v1 defaults of a plugin's args in place (`SetDefaults_*Args`).
pub fn default_args(plugin: &str, args: &mut Value) {
    let Some(obj) = args.as_object_mut() else {
        return;
    };
    let default_resources =
        || serde_json::json!([{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]);
    let fix_weights = |v: &mut Value| {
        for r in v.as_array_mut().into_iter().flatten() {
            let w = r.get("weight").and_then(Value::as_i64).unwrap_or(0);
            if w == 0 {
                r["weight"] = 1.into();
            }
        }
    };
    match plugin {
        "DefaultPreemption" => {
            obj.entry("minCandidateNodesPercentage")
                .or_insert_with(|| 10.into());
            obj.entry("minCandidateNodesAbsolute")
                .or_insert_with(|| 100.into());
        }
        "InterPodAffinity" => {
            obj.entry("hardPodAffinityWeight")
                .or_insert_with(|| 1.into());
        }
        "NodeResourcesBalancedAllocation" => {
            let r = obj.entry("resources").or_insert_with(default_resources);
            if r.as_array().is_none_or(|a| a.is_empty()) {
                *r = default_resources();
            } else {
                fix_weights(r);
            }
        }
        "PodTopologySpread" => {
            let t = obj
                .entry("defaultingType")
                .or_insert_with(|| "System".into());
            if t.as_str() == Some("") {
                *t = "System".into();
            }
        }
        "NodeResourcesFit" => {
            let s = obj.entry("scoringStrategy").or_insert(Value::Null);
            if s.is_null() {
                *s =
                    serde_json::json!({"type": "LeastAllocated", "resources": default_resources()});
            }
            if let Some(s) = s.as_object_mut() {
                let r = s.entry("resources").or_insert_with(default_resources);
                if r.as_array().is_none_or(|a| a.is_empty()) {
                    *r = default_resources();
                } else {
                    fix_weights(r);
                }
            }
        }
        "VolumeBinding" => {
            obj.entry("bindTimeoutSeconds")
                .or_insert_with(|| 600.into());
        }
        _ => {}
    }
}

/// Decodes a plugin's args strictly (ignoring `apiVersion`/`kind`).
pub fn decode_args<T: for<'de> Deserialize<'de> + Default>(
    plugin: &str,
    args: Option<&Value>,
) -> Result<T, String> {
    let Some(args) = args else {
        return Ok(T::default());
    };
    let mut v = args.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("apiVersion");
        o.remove("kind");
    }
    serde_json::from_value(v).map_err(|e| format!("decoding {plugin}Args: {e}"))
}

/// `ResourceSpec`: a resource and its weight in resource scoring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    pub name: String,
    #[serde(default)]
    pub weight: i64,
}

/// A point of the `RequestedToCapacityRatio` scoring function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UtilizationShapePoint {
    #[serde(default)]
    pub utilization: i32,
    #[serde(default)]
    pub score: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestedToCapacityRatioParam {
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

/// `ScoringStrategy` of NodeResourcesFit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScoringStrategy {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

/// `NodeResourcesFitArgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResourcesFitArgs {
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    #[serde(default)]
    pub scoring_strategy: Option<ScoringStrategy>,
}

/// `NodeResourcesBalancedAllocationArgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeResourcesBalancedAllocationArgs {
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
}

/// `InterPodAffinityArgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterPodAffinityArgs {
    #[serde(default)]
    pub hard_pod_affinity_weight: Option<i32>,
    #[serde(default)]
    pub ignore_preferred_terms_of_existing_pods: bool,
}

/// `NodeAffinityArgs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAffinityArgs {
    #[serde(default)]
    pub added_affinity: Option<NodeAffinity>,
}

/// `PodTopologySpreadArgs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTopologySpreadArgs {
    #[serde(default)]
    pub default_constraints: Vec<TopologySpreadConstraint>,
    #[serde(default)]
    pub defaulting_type: String,
}

/// `DefaultPreemptionArgs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefaultPreemptionArgs {
    #[serde(default)]
    pub min_candidate_nodes_percentage: Option<i32>,
    #[serde(default)]
    pub min_candidate_nodes_absolute: Option<i32>,
}

/// Renders errors of one plugin's args.
pub(crate) fn args_error(errs: &[FieldError]) -> String {
    aggregate_message(errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &PluginSet) -> Vec<&str> {
        s.enabled.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn defaults_give_one_default_profile() {
        let c = KubeSchedulerConfiguration::defaulted();
        assert_eq!(c.profiles.len(), 1);
        let p = &c.profiles[0];
        assert_eq!(p.scheduler_name.as_deref(), Some(DEFAULT_SCHEDULER_NAME));
        let plugins = p.plugins.as_ref().unwrap();
        assert_eq!(plugins.multi_point.enabled.len(), 18);
        let fit = p
            .plugin_config
            .iter()
            .find(|c| c.name == "NodeResourcesFit")
            .unwrap();
        let args: NodeResourcesFitArgs =
            decode_args("NodeResourcesFit", fit.args.as_ref()).unwrap();
        let s = args.scoring_strategy.unwrap();
        assert_eq!(s.type_, "LeastAllocated");
        assert_eq!(s.resources.len(), 2);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn merge_replaces_in_place_and_appends() {
        let default = default_plugins();
        let custom = Plugins {
            multi_point: PluginSet {
                enabled: vec![
                    PluginRef::new("ImageLocality", Some(5)),
                    PluginRef::new("MyPlugin", None),
                ],
                disabled: vec![PluginRef::new("NodePorts", None)],
            },
            score: PluginSet {
                enabled: vec![],
                disabled: vec![PluginRef::new("*", None)],
            },
            ..Default::default()
        };
        let m = merge_plugins(&default, Some(&custom));
        let mp = names(&m.multi_point);
        assert!(!mp.contains(&"NodePorts"));
        assert_eq!(mp.last(), Some(&"MyPlugin"));
        let il = m
            .multi_point
            .enabled
            .iter()
            .find(|p| p.name == "ImageLocality")
            .unwrap();
        assert_eq!(il.weight, Some(5));
        assert_eq!(m.score.disabled[0].name, "*");
    }

    #[test]
    fn decodes_upstream_file_and_validates() {
        let text = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 120
profiles:
  - schedulerName: a
    plugins:
      score:
        disabled:
          - name: ImageLocality
    pluginConfig:
      - name: InterPodAffinity
        args:
          hardPodAffinityWeight: 5
  - schedulerName: a
"#;
        let mut c = KubeSchedulerConfiguration::from_yaml(text).unwrap();
        c.set_defaults();
        let err = c.validate().unwrap_err().to_string();
        assert_eq!(
            err,
            "[profiles[1].schedulerName: Duplicate value: profiles[0].schedulerName, percentageOfNodesToScore: Invalid value: 120: not in valid range [0-100]]"
        );
        let ipa = c.profiles[0]
            .plugin_config
            .iter()
            .find(|p| p.name == "InterPodAffinity")
            .unwrap();
        let args: InterPodAffinityArgs =
            decode_args("InterPodAffinity", ipa.args.as_ref()).unwrap();
        assert_eq!(args.hard_pod_affinity_weight, Some(5));
        assert!(KubeSchedulerConfiguration::from_yaml("bogus: 1").is_err());
        assert!(KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1beta3"
        )
        .is_err());
    }
}
