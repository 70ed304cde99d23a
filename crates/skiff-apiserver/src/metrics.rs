//! Prometheus metrics with upstream names (`apiserver_request_total`,
//! `apiserver_request_duration_seconds`, `apiserver_storage_objects`), rendered in the text format.

use std::collections::BTreeMap;
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

#[derive(Default)]
pub struct Metrics {
    // Keyed by the static names of the verb and the served resource: no allocation per request.
    requests: Mutex<BTreeMap<(&'static str, &'static str, &'static str, u16), u64>>,
    durations: Mutex<BTreeMap<(&'static str, &'static str, &'static str), Histogram>>,
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
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((verb, group, resource, code))
            .or_default() += 1;
        if verb == "WATCH" {
            return;
        }
        let secs = took.as_secs_f64();
        let mut d = self.durations.lock().expect("metrics lock");
        let h = d.entry((verb, group, resource)).or_default();
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

    /// The text exposition; `objects` are (resource, count) pairs for `apiserver_storage_objects`.
    pub fn render(&self, objects: &[(String, usize)], compaction_lag: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, resource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, group, resource, code), n) in self.requests.lock().expect("metrics lock").iter()
        {
            out.push_str(&format!(
                "apiserver_request_total{{code=\"{code}\",group=\"{group}\",resource=\"{resource}\",verb=\"{verb}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, group and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, group, resource), h) in self.durations.lock().expect("metrics lock").iter() {
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
