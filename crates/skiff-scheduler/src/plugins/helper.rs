//! Helpers shared by plugins (upstream `plugins/helper` and `component-helpers` taint code).

use crate::framework::MAX_NODE_SCORE;
use k8s_openapi::api::core::v1::{Taint, Toleration};

/// `helper.DefaultNormalizeScore`: scales scores to `0..=max` by the maximum; `reverse` flips them.
/// All-zero scores stay 0 (or become `max` when reversed).
pub fn default_normalize_score(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max_count = scores.iter().copied().max().unwrap_or(0).max(0);
    if max_count == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = max_priority * *s / max_count;
        if reverse {
            v = max_priority - v;
        }
        *s = v;
    }
}

/// [`default_normalize_score`] with `MaxNodeScore`.
pub fn normalize_to_max(reverse: bool, scores: &mut [i64]) {
    default_normalize_score(MAX_NODE_SCORE, reverse, scores)
}

/// `Toleration.ToleratesTaint`: effect (empty matches all), key (empty matches all, with `Exists`),
/// operator `Equal` (default) compares values, `Exists` matches any value.
#[inline]
pub fn tolerates_taint(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty()) {
        if k != taint.key {
            return false;
        }
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// `TolerationsTolerateTaint`.
#[inline]
pub fn tolerations_tolerate_taint(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates_taint(t, taint))
}

/// `DoNotScheduleTaintsFilterFunc`: `NoSchedule` and `NoExecute` taints.
#[inline]
pub fn is_do_not_schedule_taint(t: &Taint) -> bool {
    t.effect == "NoSchedule" || t.effect == "NoExecute"
}

/// `FindMatchingUntoleratedTaint` with the do-not-schedule filter: the first such taint no toleration
/// tolerates.
#[inline]
pub fn find_untolerated_do_not_schedule_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|t| is_do_not_schedule_taint(t) && !tolerations_tolerate_taint(tolerations, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
        Toleration {
            key: s(key),
            operator: s(op),
            value: s(value),
            effect: s(effect),
            toleration_seconds: None,
        }
    }
    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.to_string()),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn toleration_semantics() {
        let t = taint("k", "v", "NoSchedule");
        let cases = [
            (tol("k", "Equal", "v", "NoSchedule"), true),
            (tol("k", "", "v", ""), true),
            (tol("k", "Equal", "w", "NoSchedule"), false),
            (tol("k", "Exists", "", "NoSchedule"), true),
            (tol("k", "Exists", "", "NoExecute"), false),
            (tol("", "Exists", "", ""), true),
            (tol("other", "Exists", "", ""), false),
            (tol("k", "Bogus", "v", ""), false),
        ];
        for (i, (t2, want)) in cases.iter().enumerate() {
            assert_eq!(tolerates_taint(t2, &t), *want, "case {i}");
        }
    }

    #[test]
    fn normalize() {
        let mut s = [0, 5, 10];
        default_normalize_score(100, false, &mut s);
        assert_eq!(s, [0, 50, 100]);
        let mut s = [0, 5, 10];
        default_normalize_score(100, true, &mut s);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize_score(100, true, &mut s);
        assert_eq!(s, [100, 100]);
    }
}
