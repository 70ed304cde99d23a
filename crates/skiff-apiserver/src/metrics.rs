//! Prometheus metrics with upstream names (`apiserver_request_total`,
//! `apiserver_request_duration_seconds`, `apiserver_storage_objects`), rendered in the text format.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// Upstream's request duration buckets.
const BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// A verb and a served resource (group, plural), all static names, compared and hashed by address:
/// the lookup on every request reads no string. Names with the same text at two addresses are two
/// series here and are merged when rendered.
#[derive(Clone, Copy)]
struct Series([&'static str; 3]);

impl Series {
    fn addresses(&self) -> [usize; 3] {
        self.0.map(|s| s.as_ptr() as usize ^ (s.len() << 48))
    }
}

impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        self.addresses() == other.addresses()
    }
}

impl Eq for Series {}

impl std::hash::Hash for Series {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addresses().hash(state)
    }
}

/// One series' requests: counts per response code and the duration histogram (not kept for WATCH).
#[derive(Default)]
struct Requests {
    by_code: Vec<(u16, u64)>,
    durations: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<Series, Requests>>,
}

impl Metrics {
    /// Records one request: verb (upstream's: GET, LIST, WATCH, POST, PUT, PATCH, DELETE), group, resource, code.
    pub fn observe(
        &self,
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        code: u16,
        took: Duration,
    ) {
        let mut series = self.series.lock().expect("metrics lock");
        let r = series.entry(Series([verb, group, resource])).or_default();
        match r.by_code.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => r.by_code.push((code, 1)),
        }
        if verb == "WATCH" {
            return;
        }
        let secs = took.as_secs_f64();
        let h = &mut r.durations;
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Both families keyed by the names' text, in order.
    #[allow(clippy::type_complexity)]
    fn by_name(
        &self,
    ) -> (
        BTreeMap<(&'static str, &'static str, &'static str, u16), u64>,
        BTreeMap<(&'static str, &'static str, &'static str), Histogram>,
    ) {
        let mut requests = BTreeMap::new();
        let mut durations: BTreeMap<_, Histogram> = BTreeMap::new();
        for (Series([verb, group, resource]), r) in self.series.lock().expect("metrics lock").iter()
        {
            for (code, n) in &r.by_code {
                *requests
                    .entry((*verb, *group, *resource, *code))
                    .or_default() += n;
            }
            if r.durations.count > 0 {
                let h = durations.entry((*verb, *group, *resource)).or_default();
                h.counts.resize(BUCKETS.len(), 0);
                for (i, c) in r.durations.counts.iter().enumerate() {
                    h.counts[i] += c;
                }
                h.sum += r.durations.sum;
                h.count += r.durations.count;
            }
        }
        (requests, durations)
    }

    /// The text exposition; `objects` are (resource, count) pairs for `apiserver_storage_objects`.
    pub fn render(&self, objects: &[(String, usize)], compaction_lag: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, resource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        let (requests, durations) = self.by_name();
        for ((verb, group, resource, code), n) in &requests {
            out.push_str(&format!(
                "apiserver_request_total{{code=\"{code}\",group=\"{group}\",resource=\"{resource}\",verb=\"{verb}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, group and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, group, resource), h) in &durations {
            let labels = format!("group=\"{group}\",resource=\"{resource}\",verb=\"{verb}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}\n",
                    h.counts[i]
                ));
            }
            out.push_str(&format!(
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!(
                "apiserver_request_duration_seconds_sum{{{labels}}} {}\n",
                h.sum
            ));
            out.push_str(&format!(
                "apiserver_request_duration_seconds_count{{{labels}}} {}\n",
                h.count
            ));
        }
        out.push_str("# HELP apiserver_storage_objects Number of stored objects at the time of last check split by kind.\n");
        out.push_str("# TYPE apiserver_storage_objects gauge\n");
        for (res, n) in objects {
            out.push_str(&format!(
                "apiserver_storage_objects{{resource=\"{res}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP skiff_store_compaction_lag_revisions Revisions of history kept above the compacted revision.\n");
        out.push_str("# TYPE skiff_store_compaction_lag_revisions gauge\n");
        out.push_str(&format!(
            "skiff_store_compaction_lag_revisions {compaction_lag}\n"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_with_the_same_names_are_one_when_rendered() {
        let m = Metrics::default();
        // The same text at another address (as two static tables could hold it).
        let pods: &'static str = Box::leak(String::from("pods").into_boxed_str());
        m.observe("POST", "", "pods", 201, Duration::from_millis(3));
        m.observe("POST", "", pods, 201, Duration::from_millis(30));
        m.observe("POST", "", "pods", 409, Duration::from_millis(3));
        m.observe("WATCH", "", "pods", 200, Duration::from_secs(100));
        let text = m.render(&[], 0);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_string()
        };
        assert!(line(
            r#"apiserver_request_total{code="201",group="",resource="pods",verb="POST"}"#
        )
        .ends_with(" 2"));
        assert!(line(
            r#"apiserver_request_total{code="409",group="",resource="pods",verb="POST"}"#
        )
        .ends_with(" 1"));
        assert!(line(
            r#"apiserver_request_total{code="200",group="",resource="pods",verb="WATCH"}"#
        )
        .ends_with(" 1"));
        assert!(line(r#"apiserver_request_duration_seconds_bucket{group="",resource="pods",verb="POST",le="0.005"}"#).ends_with(" 2"));
        assert!(line(r#"apiserver_request_duration_seconds_bucket{group="",resource="pods",verb="POST",le="0.05"}"#).ends_with(" 3"));
        assert!(line(
            r#"apiserver_request_duration_seconds_count{group="",resource="pods",verb="POST"}"#
        )
        .ends_with(" 3"));
        assert!(
            !text.contains(r#"verb="WATCH",le="#),
            "no durations for watches"
        );
    }
}
