//! Label selectors compiled for matching against k8s-openapi's typed label maps.
//!
//! Every Filter and Score of the affinity and spreading plugins matches selectors against pod and node
//! labels, thousands of times per scheduling cycle. `skiff_api::labels` parses and validates selectors
//! with upstream's grammar and error texts, but matches against `serde_json` maps; converting every pod's
//! `BTreeMap<String, String>` to JSON per match would dominate the cycle. So selectors are validated once
//! through `skiff_api` (same errors as `metav1.LabelSelectorAsSelector` and
//! `nodeaffinity.nodeSelectorRequirementsAsSelector`) and copied into [`Selector`], whose
//! [`Selector::matches`] reads the typed map in place and never allocates.

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use skiff_api::labels::{Operator as ApiOp, Requirement as ApiRequirement};
use std::collections::BTreeMap;

/// A label map as k8s-openapi carries it (`metadata.labels`).
pub type Labels = BTreeMap<String, String>;

/// The empty label map, for objects without labels.
pub static EMPTY_LABELS: Labels = BTreeMap::new();

/// The labels of an object's metadata, or the empty map.
pub fn labels_of(labels: &Option<Labels>) -> &Labels {
    labels.as_ref().unwrap_or(&EMPTY_LABELS)
}

/// A selector operator (`selection.Operator`, the subset selectors built from objects use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `key = value` / `key in (values)`.
    In,
    /// `key != value` / `key notin (values)`.
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key > n` (node selectors only).
    Gt,
    /// `key < n` (node selectors only).
    Lt,
}

/// One requirement: key, operator and values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
    bound: i64,
}

impl Requirement {
    /// A requirement without validation (the caller guarantees a valid key and values).
    pub fn new_unchecked(key: impl Into<String>, op: Op, values: Vec<String>) -> Self {
        let bound = if matches!(op, Op::Gt | Op::Lt) {
            values.first().and_then(|v| parse_go_int(v)).unwrap_or(0)
        } else {
            0
        };
        Requirement {
            key: key.into(),
            op,
            values,
            bound,
        }
    }

    fn from_api(r: &ApiRequirement) -> Self {
        let op = match r.operator() {
            ApiOp::Equals | ApiOp::DoubleEquals | ApiOp::In => Op::In,
            ApiOp::NotEquals | ApiOp::NotIn => Op::NotIn,
            ApiOp::Exists => Op::Exists,
            ApiOp::DoesNotExist => Op::DoesNotExist,
            ApiOp::GreaterThan => Op::Gt,
            ApiOp::LessThan => Op::Lt,
        };
        Requirement::new_unchecked(r.key(), op, r.values().to_vec())
    }

    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn op(&self) -> Op {
        self.op
    }
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `Requirement.Matches`.
    #[inline]
    pub fn matches(&self, labels: &Labels) -> bool {
        let found = labels.get(&self.key);
        match self.op {
            Op::In => match found {
                Some(v) => self.values.iter().any(|x| x == v),
                None => false,
            },
            Op::NotIn => match found {
                Some(v) => !self.values.iter().any(|x| x == v),
                None => true,
            },
            Op::Exists => found.is_some(),
            Op::DoesNotExist => found.is_none(),
            Op::Gt | Op::Lt => {
                let Some(n) = found.and_then(|v| parse_go_int(v)) else {
                    return false;
                };
                if self.values.len() != 1 {
                    return false;
                }
                if self.op == Op::Gt {
                    n > self.bound
                } else {
                    n < self.bound
                }
            }
        }
    }
}

/// A compiled label selector: the AND of its requirements, or *nothing*.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Selector {
    reqs: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// `labels.Everything()`.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// `labels.Nothing()`.
    pub fn nothing() -> Self {
        Selector {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    /// `metav1.LabelSelectorAsSelector`: `None` selects nothing, `{}` everything; errors are upstream's.
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Result<Self, String> {
        let Some(sel) = sel else {
            return Ok(Selector::nothing());
        };
        if sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        {
            return Ok(Selector::everything());
        }
        let value = serde_json::to_value(sel).map_err(|e| e.to_string())?;
        let parsed = skiff_api::labels::LabelSelector::from_metav1(&value)?;
        Ok(Selector {
            reqs: parsed
                .requirements()
                .iter()
                .map(Requirement::from_api)
                .collect(),
            nothing: false,
        })
    }

    /// `labels.SelectorFromSet`: requires exactly these labels; an empty set selects everything.
    pub fn from_set(set: &Labels) -> Self {
        Selector {
            reqs: set
                .iter()
                .map(|(k, v)| Requirement::new_unchecked(k.clone(), Op::In, vec![v.clone()]))
                .collect(),
            nothing: false,
        }
    }

    /// `nodeSelectorRequirementsAsSelector`: an empty list selects nothing; operators `In`, `NotIn`,
    /// `Exists`, `DoesNotExist`, `Gt`, `Lt`. Returns every error found.
    pub fn from_node_selector_requirements(
        reqs: &[NodeSelectorRequirement],
        path: &str,
    ) -> Result<Self, Vec<String>> {
        if reqs.is_empty() {
            return Ok(Selector::nothing());
        }
        let mut errs = Vec::new();
        let mut out = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let op = match r.operator.as_str() {
                "In" => ApiOp::In,
                "NotIn" => ApiOp::NotIn,
                "Exists" => ApiOp::Exists,
                "DoesNotExist" => ApiOp::DoesNotExist,
                "Gt" => ApiOp::GreaterThan,
                "Lt" => ApiOp::LessThan,
                other => {
                    errs.push(format!(
                        "{path}[{i}].operator: Unsupported value: \"{other}\""
                    ));
                    continue;
                }
            };
            match ApiRequirement::new(&r.key, op, r.values.clone().unwrap_or_default()) {
                Ok(req) => out.push(Requirement::from_api(&req)),
                Err(e) => errs.push(format!("{path}[{i}].{e}")),
            }
        }
        if errs.is_empty() {
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(Selector {
                reqs: out,
                nothing: false,
            })
        } else {
            Err(errs)
        }
    }

    /// `Selector.Add`.
    pub fn add(&mut self, reqs: impl IntoIterator<Item = Requirement>) {
        if self.nothing {
            return;
        }
        self.reqs.extend(reqs);
        self.reqs.sort_by(|a, b| a.key.cmp(&b.key));
    }

    /// `Selector.Matches`. Never allocates.
    #[inline]
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }

    /// `Selector.Empty`: true for *everything*, false for *nothing*.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    /// True for `labels.Nothing()`.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.reqs
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let digits = if b[0] == b'+' || b[0] == b'-' {
        &s[1..]
    } else {
        s
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_as_selector() {
        assert!(Selector::from_label_selector(None).unwrap().is_nothing());
        let all = Selector::from_label_selector(Some(&LabelSelector::default())).unwrap();
        assert!(all.is_empty() && all.matches(&EMPTY_LABELS));
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        let s = Selector::from_label_selector(Some(&sel)).unwrap();
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "db")])));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: Some(vec!["1".into()]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(Some(&bad)).unwrap_err(),
            "\"Gt\" is not a valid label selector operator"
        );
    }

    #[test]
    fn node_selector_requirements() {
        let req = |k: &str, op: &str, v: &[&str]| NodeSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        };
        let s = Selector::from_node_selector_requirements(
            &[req("cpus", "Gt", &["4"]), req("zone", "In", &["a", "b"])],
            "matchExpressions",
        )
        .unwrap();
        assert!(s.matches(&labels(&[("cpus", "8"), ("zone", "a")])));
        assert!(!s.matches(&labels(&[("cpus", "4"), ("zone", "a")])));
        assert!(!s.matches(&labels(&[("cpus", "x"), ("zone", "a")])));
        assert!(Selector::from_node_selector_requirements(&[], "m")
            .unwrap()
            .is_nothing());
        let errs =
            Selector::from_node_selector_requirements(&[req("a", "Foo", &[])], "m").unwrap_err();
        assert_eq!(
            errs,
            vec!["m[0].operator: Unsupported value: \"Foo\"".to_string()]
        );
        assert!(Selector::from_node_selector_requirements(&[req("a", "Lt", &["x"])], "m").is_err());
    }
}
