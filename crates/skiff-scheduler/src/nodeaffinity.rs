//! Node selectors and node affinity (component-helpers `scheduling/corev1/nodeaffinity`).
//!
//! Shared by NodeAffinity (Filter and Score) and PodTopologySpread (which only counts nodes that
//! match the pod's required node affinity). Terms are parsed once; a term with a parse error never
//! matches (`LazyErrorNodeSelector`, for backwards compatibility), and an empty term selects nothing.

use crate::labels::{Labels, Selector};
use k8s_openapi::api::core::v1::{
    NodeSelector as K8sNodeSelector, NodeSelectorTerm as K8sTerm, Pod, PreferredSchedulingTerm,
};

/// `metadata.name`, the only node field selectors can use.
pub const OBJECT_NAME_FIELD: &str = "metadata.name";

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRequirement {
    key: String,
    equal: bool,
    value: String,
}

/// A parsed `NodeSelectorTerm`.
#[derive(Debug, Clone, Default)]
pub struct NodeSelectorTerm {
    match_labels: Option<Selector>,
    match_fields: Option<Vec<FieldRequirement>>,
    parse_errors: Vec<String>,
}

fn is_empty_term(t: &K8sTerm) -> bool {
    t.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        && t.match_fields.as_ref().is_none_or(|f| f.is_empty())
}

impl NodeSelectorTerm {
    /// `newNodeSelectorTerm`.
    pub fn new(term: &K8sTerm, path: &str) -> Self {
        let mut out = NodeSelectorTerm::default();
        if let Some(exprs) = term.match_expressions.as_ref().filter(|e| !e.is_empty()) {
            match Selector::from_node_selector_requirements(
                exprs,
                &format!("{path}.matchExpressions"),
            ) {
                Ok(s) => out.match_labels = Some(s),
                Err(e) => out.parse_errors.extend(e),
            }
        }
        if let Some(fields) = term.match_fields.as_ref().filter(|f| !f.is_empty()) {
            let mut reqs = Vec::new();
            for (i, f) in fields.iter().enumerate() {
                let values = f.values.as_deref().unwrap_or_default();
                if values.len() != 1 {
                    out.parse_errors.push(format!(
                        "{path}.matchFields[{i}].values: Invalid value: {:?}: must have one element",
                        values
                    ));
                    continue;
                }
                match f.operator.as_str() {
                    "In" | "NotIn" => reqs.push(FieldRequirement {
                        key: f.key.clone(),
                        equal: f.operator == "In",
                        value: values[0].clone(),
                    }),
                    other => out.parse_errors.push(format!(
                        "{path}.matchFields[{i}].operator: Unsupported value: \"{other}\": supported values: \"In\", \"NotIn\""
                    )),
                }
            }
            out.match_fields = Some(reqs);
        }
        out
    }

    /// `nodeSelectorTerm.match`: `None` when the term failed to parse.
    #[inline]
    pub fn matches(&self, labels: &Labels, node_name: &str) -> Option<bool> {
        if !self.parse_errors.is_empty() {
            return None;
        }
        if self.match_labels.is_none() && self.match_fields.is_none() {
            return Some(false);
        }
        if let Some(l) = &self.match_labels {
            if !l.matches(labels) {
                return Some(false);
            }
        }
        if let Some(fields) = &self.match_fields {
            if !node_name.is_empty() {
                let ok = fields.iter().all(|f| {
                    let v = if f.key == OBJECT_NAME_FIELD {
                        node_name
                    } else {
                        ""
                    };
                    (v == f.value) == f.equal
                });
                if !ok {
                    return Some(false);
                }
            }
        }
        Some(true)
    }

    pub fn parse_errors(&self) -> &[String] {
        &self.parse_errors
    }
}

/// `LazyErrorNodeSelector`: the OR of its terms.
#[derive(Debug, Clone, Default)]
pub struct NodeSelector {
    terms: Vec<NodeSelectorTerm>,
}

impl NodeSelector {
    /// `NewLazyErrorNodeSelector`: empty terms are dropped; parse errors surface only as non-matches.
    pub fn new(ns: &K8sNodeSelector) -> Self {
        NodeSelector {
            terms: ns
                .node_selector_terms
                .iter()
                .enumerate()
                .filter(|(_, t)| !is_empty_term(t))
                .map(|(i, t)| NodeSelectorTerm::new(t, &format!("nodeSelectorTerms[{i}]")))
                .collect(),
        }
    }

    /// `NewNodeSelector`: like [`NodeSelector::new`] but any parse error fails.
    pub fn new_strict(ns: &K8sNodeSelector) -> Result<Self, String> {
        let s = NodeSelector::new(ns);
        let errs: Vec<&String> = s.terms.iter().flat_map(|t| t.parse_errors.iter()).collect();
        match errs.len() {
            0 => Ok(s),
            1 => Err(errs[0].clone()),
            _ => Err(format!(
                "[{}]",
                errs.iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Whether any term matches the node.
    #[inline]
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        self.terms
            .iter()
            .any(|t| t.matches(labels, node_name) == Some(true))
    }
}

/// `RequiredNodeAffinity`: `spec.nodeSelector` and the required node affinity, both must match.
#[derive(Debug, Clone, Default)]
pub struct RequiredNodeAffinity {
    label_selector: Option<Selector>,
    node_selector: Option<NodeSelector>,
}

impl RequiredNodeAffinity {
    /// `GetRequiredNodeAffinity`.
    pub fn from_pod(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let label_selector = spec
            .and_then(|s| s.node_selector.as_ref())
            .filter(|m| !m.is_empty())
            .map(Selector::from_set);
        let node_selector = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(NodeSelector::new);
        RequiredNodeAffinity {
            label_selector,
            node_selector,
        }
    }

    /// True when neither a node selector nor a required affinity is set.
    pub fn is_empty(&self) -> bool {
        self.label_selector.is_none() && self.node_selector.is_none()
    }

    /// `RequiredNodeAffinity.Match` (parse errors ignored).
    #[inline]
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if let Some(s) = &self.label_selector {
            if !s.matches(labels) {
                return false;
            }
        }
        match &self.node_selector {
            Some(ns) => ns.matches(labels, node_name),
            None => true,
        }
    }
}

/// `PreferredSchedulingTerms`: weighted terms; a node's score is the sum of the weights it matches.
#[derive(Debug, Clone, Default)]
pub struct PreferredSchedulingTerms {
    terms: Vec<(NodeSelectorTerm, i64)>,
}

impl PreferredSchedulingTerms {
    /// `NewPreferredSchedulingTerms`: zero weights and empty terms are dropped; any parse error fails.
    pub fn new(terms: &[PreferredSchedulingTerm]) -> Result<Self, String> {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            if t.weight == 0 || is_empty_term(&t.preference) {
                continue;
            }
            let parsed = NodeSelectorTerm::new(&t.preference, &format!("[{i}].preference"));
            if parsed.parse_errors.is_empty() {
                out.push((parsed, i64::from(t.weight)));
            } else {
                errs.extend(parsed.parse_errors);
            }
        }
        match errs.len() {
            0 => Ok(PreferredSchedulingTerms { terms: out }),
            1 => Err(errs.remove(0)),
            _ => Err(format!("[{}]", errs.join(", "))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// `PreferredSchedulingTerms.Score`.
    #[inline]
    pub fn score(&self, labels: &Labels, node_name: &str) -> i64 {
        self.terms
            .iter()
            .filter(|(t, _)| t.matches(labels, node_name) == Some(true))
            .map(|(_, w)| *w)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSelectorRequirement;

    fn req(k: &str, op: &str, v: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn terms_are_ored_and_requirements_anded() {
        let ns = NodeSelector::new(&K8sNodeSelector {
            node_selector_terms: vec![
                K8sTerm {
                    match_expressions: Some(vec![req("a", "In", &["1"]), req("b", "Exists", &[])]),
                    ..Default::default()
                },
                K8sTerm {
                    match_fields: Some(vec![req("metadata.name", "In", &["n9"])]),
                    ..Default::default()
                },
                K8sTerm::default(),
            ],
        });
        assert!(ns.matches(&labels(&[("a", "1"), ("b", "")]), "n1"));
        assert!(!ns.matches(&labels(&[("a", "1")]), "n1"));
        assert!(ns.matches(&labels(&[]), "n9"));
        assert!(!ns.matches(&labels(&[]), "n8"));
    }

    #[test]
    fn bad_terms_never_match_but_others_do() {
        let ns = NodeSelector::new(&K8sNodeSelector {
            node_selector_terms: vec![
                K8sTerm {
                    match_expressions: Some(vec![req("a", "Gt", &["x"])]),
                    ..Default::default()
                },
                K8sTerm {
                    match_expressions: Some(vec![req("b", "DoesNotExist", &[])]),
                    ..Default::default()
                },
            ],
        });
        assert!(ns.matches(&labels(&[("a", "5")]), "n"));
        assert!(!ns.matches(&labels(&[("a", "5"), ("b", "")]), "n"));
    }

    #[test]
    fn preferred_scores_sum_weights() {
        let t = PreferredSchedulingTerms::new(&[
            PreferredSchedulingTerm {
                weight: 5,
                preference: K8sTerm {
                    match_expressions: Some(vec![req("a", "In", &["1"])]),
                    ..Default::default()
                },
            },
            PreferredSchedulingTerm {
                weight: 3,
                preference: K8sTerm {
                    match_expressions: Some(vec![req("b", "Exists", &[])]),
                    ..Default::default()
                },
            },
            PreferredSchedulingTerm {
                weight: 0,
                preference: K8sTerm {
                    match_expressions: Some(vec![req("b", "Exists", &[])]),
                    ..Default::default()
                },
            },
        ])
        .unwrap();
        assert_eq!(t.score(&labels(&[("a", "1"), ("b", "x")]), "n"), 8);
        assert_eq!(t.score(&labels(&[("b", "x")]), "n"), 3);
        assert!(PreferredSchedulingTerms::new(&[PreferredSchedulingTerm {
            weight: 1,
            preference: K8sTerm {
                match_expressions: Some(vec![req("a", "Lt", &["x"])]),
                ..Default::default()
            },
        }])
        .is_err());
    }
}
