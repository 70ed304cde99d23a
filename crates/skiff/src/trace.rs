//! `skiff trace pod NAME [-n NS]`: the nine steps of one pod's path, with when each happened and how
//! long it took, rebuilt after the fact from what the cluster records — the pod (creation time,
//! managed fields, conditions, start time, container states, the scheduler's explain annotations)
//! and its events (Scheduled, FailedScheduling, Pulling/Pulled, Created, Started). Works for any
//! pod, on any conformant API server; times with sub-second precision come from events'
//! `eventTime`, the rest from second-resolution API timestamps (marked `~`).

use anyhow::Context;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use kube::Api;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// A point in time and whether it is precise (sub-second) or a second-resolution API timestamp.
#[derive(Clone, Copy)]
struct At {
    t: jiff::Timestamp,
    precise: bool,
}

struct Step {
    what: String,
    at: Option<At>,
    detail: String,
}

fn event_at(e: &Event) -> Option<At> {
    if let Some(t) = &e.event_time {
        return Some(At {
            t: t.0,
            precise: true,
        });
    }
    e.first_timestamp
        .as_ref()
        .or(e.last_timestamp.as_ref())
        .map(|t| At {
            t: t.0,
            precise: false,
        })
}

fn fmt_at(a: &At) -> String {
    if a.precise {
        a.t.strftime("%H:%M:%S%.3f").to_string()
    } else {
        format!("{}~", a.t.strftime("%H:%M:%S"))
    }
}

fn fmt_took(ms: i64, precise: bool) -> String {
    if ms < 0 {
        return String::new();
    }
    if precise {
        if ms < 1000 {
            format!("{ms} ms")
        } else {
            format!("{:.2} s", ms as f64 / 1000.0)
        }
    } else {
        format!("~{} s", (ms as f64 / 1000.0).round())
    }
}

/// Builds the report for a pod and its events (pure: unit-tested).
fn report(pod: &Pod, events: &[Event]) -> String {
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let ann = meta.annotations.clone().unwrap_or_default();
    let mut events: Vec<&Event> = events.iter().collect();
    events.sort_by_key(|e| event_at(e).map(|a| a.t));
    let find = |reason: &str| {
        events
            .iter()
            .find(|e| e.reason.as_deref() == Some(reason))
            .copied()
    };
    let find_all = |reason: &str| -> Vec<&Event> {
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .copied()
            .collect()
    };
    let cond = |kind: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == kind && c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| At {
                t: t.0,
                precise: false,
            })
    };
    let mut steps: Vec<Step> = Vec::new();

    // 1. Received and stored.
    // The manager of the first managed-fields entry wrote the object first (entries of later writers
    // follow; a create is recorded as an Update or an Apply).
    let creator = meta
        .managed_fields
        .iter()
        .flatten()
        .find_map(|m| m.manager.clone())
        .unwrap_or_else(|| "unknown client".into());
    steps.push(Step {
        what: "received and stored by the API server".into(),
        at: meta.creation_timestamp.as_ref().map(|t| At {
            t: t.0,
            precise: false,
        }),
        detail: format!(
            "by {creator}, resourceVersion {}",
            meta.resource_version.clone().unwrap_or_default()
        ),
    });

    // 2-4. Scheduler: attempts, filtering, scores.
    let failed = find_all("FailedScheduling");
    let scheduler = spec
        .scheduler_name
        .clone()
        .unwrap_or_else(|| "default-scheduler".into());
    // What the scheduler decided, carried onto the pod by the Binding.
    let decision: Option<Value> = ann
        .get("scheduler.skiff.dev/decision")
        .and_then(|v| serde_json::from_str(v).ok());
    let picked_up = decision
        .as_ref()
        .and_then(|d| d["pickedUpAt"].as_str())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| At { t, precise: true });
    steps.push(Step {
        what: format!("picked up by the scheduler ({scheduler})"),
        at: failed.first().and_then(|e| event_at(e)).or(picked_up),
        detail: if failed.is_empty() {
            "scheduled at the first attempt".into()
        } else {
            format!(
                "{} failed attempt(s) first",
                failed.iter().map(|e| e.count.unwrap_or(1)).sum::<i32>()
            )
        },
    });
    let filter: Option<BTreeMap<String, BTreeMap<String, String>>> = ann
        .get("scheduler.skiff.dev/filter-result")
        .and_then(|v| serde_json::from_str(v).ok());
    let filter_detail = match &filter {
        Some(f) => {
            let passed = f
                .values()
                .filter(|plugins| plugins.values().all(|v| v == "passed"))
                .count();
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for plugins in f.values() {
                for (plugin, v) in plugins {
                    if v != "passed" {
                        *reasons.entry(format!("{plugin}: {v}")).or_default() += 1;
                    }
                }
            }
            let mut d = format!("{passed} of {} node(s) passed", f.len());
            for (r, n) in reasons {
                let _ = write!(d, "; {n} × {r}");
            }
            d
        }
        None => match (failed.last(), &decision) {
            (Some(e), _) => e.message.clone().unwrap_or_default(),
            (None, Some(d)) => format!(
                "{} of {} node(s) feasible ({} evaluated; per-plugin results with the annotation scheduler.skiff.dev/explain=true)",
                d["feasibleNodes"], d["nodes"], d["evaluatedNodes"]
            ),
            (None, None) => "per-node results not recorded (annotate the pod scheduler.skiff.dev/explain=true)".into(),
        },    };
    steps.push(Step {
        what: "nodes filtered".into(),
        at: None,
        detail: filter_detail,
    });
    let scores: Option<BTreeMap<String, f64>> = ann
        .get("scheduler.skiff.dev/final-score-result")
        .and_then(|v| serde_json::from_str::<BTreeMap<String, Value>>(v).ok())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| Some((k, v.as_f64()?)))
                .collect()
        });
    let score_detail = match scores {
        Some(s) if !s.is_empty() => {
            let mut v: Vec<(String, f64)> = s.into_iter().collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            v.iter()
                .take(3)
                .map(|(n, s)| format!("{n}={s}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => "not recorded".into(),
    };
    steps.push(Step {
        what: "nodes scored (top)".into(),
        at: None,
        detail: score_detail,
    });

    // 5. Bound.
    let node = spec.node_name.clone().unwrap_or_default();
    let scheduled = find("Scheduled");
    steps.push(Step {
        what: "bound".into(),
        at: scheduled
            .and_then(event_at)
            .or_else(|| cond("PodScheduled")),
        detail: if node.is_empty() {
            "not bound yet".into()
        } else {
            format!("to node {node}")
        },
    });

    // 6. Noticed by the kubelet.
    steps.push(Step {
        what: "noticed by the kubelet".into(),
        at: status.start_time.as_ref().map(|t| At {
            t: t.0,
            precise: false,
        }),
        detail: if node.is_empty() {
            String::new()
        } else {
            format!("on {node}")
        },
    });

    // 7. Image pulled.
    let pulled = find_all("Pulled");
    let pull_detail = if pulled.is_empty() {
        match find("Failed") {
            Some(e) => e.message.clone().unwrap_or_default(),
            None => "no image pulled yet".into(),
        }
    } else {
        pulled
            .iter()
            .filter_map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    steps.push(Step {
        what: "image pulled".into(),
        at: pulled.last().and_then(|e| event_at(e)),
        detail: pull_detail,
    });

    // 8. Sandbox ready.
    steps.push(Step {
        what: "sandbox ready".into(),
        at: cond("PodReadyToStartContainers"),
        detail: match &status.pod_ip {
            Some(ip) => format!("IP {ip}"),
            None => "no IP yet".into(),
        },
    });

    // 9. Containers created and started.
    let names: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| c.name.clone())
        .collect();
    for name in &names {
        let field = |e: &&Event| {
            e.involved_object
                .field_path
                .as_deref()
                .is_some_and(|f| f.ends_with(&format!("{{{name}}}")))
        };
        let created = events
            .iter()
            .find(|e| e.reason.as_deref() == Some("Created") && field(e));
        let started = events
            .iter()
            .find(|e| e.reason.as_deref() == Some("Started") && field(e));
        steps.push(Step {
            what: format!("container {name} created"),
            at: created.and_then(|e| event_at(e)),
            detail: String::new(),
        });
        let restarts = status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
            .find(|s| &s.name == name)
            .map(|s| s.restart_count)
            .unwrap_or(0);
        steps.push(Step {
            what: format!("container {name} started"),
            at: started.and_then(|e| event_at(e)),
            detail: if restarts > 0 {
                format!("restarted {restarts} time(s) since")
            } else {
                String::new()
            },
        });
    }

    // Running.
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    steps.push(Step {
        what: "Running".into(),
        at: if phase == "Running" || phase == "Succeeded" || phase == "Failed" {
            cond("Ready").or_else(|| cond("ContainersReady"))
        } else {
            None
        },
        detail: format!("phase {phase}"),
    });

    let mut out = String::new();
    let _ = writeln!(
        out,
        "pod {}/{}  uid {}  node {}  phase {phase}",
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
        meta.uid.clone().unwrap_or_default(),
        if node.is_empty() { "<none>" } else { &node },
    );
    let _ = writeln!(
        out,
        "{:>3}  {:<44} {:<14} {:>10}  DETAIL",
        "#", "STEP", "AT", "TOOK"
    );
    // A precise step's duration is measured from the last precise step before it; a second-
    // resolution one from the last step of any kind.
    let mut prev: Option<At> = None;
    let mut prev_precise: Option<At> = None;
    for (i, s) in steps.iter().enumerate() {
        let at = s.at.as_ref().map(fmt_at).unwrap_or_else(|| "-".into());
        let base = match s.at {
            Some(a) if a.precise => prev_precise.or(prev),
            _ => prev,
        };
        let took = match (base, s.at) {
            (Some(p), Some(a)) => fmt_took(
                a.t.as_millisecond() - p.t.as_millisecond(),
                p.precise && a.precise,
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>3}  {:<44} {:<14} {:>10}  {}",
            i + 1,
            s.what,
            at,
            took,
            s.detail
        );
        if let Some(a) = s.at {
            prev = Some(a);
            if a.precise {
                prev_precise = Some(a);
            }
        }
    }
    if let (Some(first), Some(last)) = (
        steps.first().and_then(|s| s.at),
        steps.iter().rev().find_map(|s| s.at),
    ) {
        let _ = writeln!(
            out,
            "total: {} from creation to the last step (~: second-resolution API timestamps)",
            fmt_took(last.t.as_millisecond() - first.t.as_millisecond(), false)
        );
    }
    out
}

/// Runs `skiff trace pod NAME`.
pub async fn run(
    kubeconfig: Option<PathBuf>,
    namespace: Option<String>,
    name: &str,
) -> anyhow::Result<()> {
    let kubeconfig = kubeconfig
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
        .context("no kubeconfig: pass --kubeconfig or set KUBECONFIG")?;
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let default_ns = kc
        .current_context
        .as_ref()
        .and_then(|c| kc.contexts.iter().find(|n| &n.name == c))
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.namespace.clone())
        .unwrap_or_else(|| "default".into());
    let client = crate::scheduler::client_for(&kubeconfig).await?;
    let ns = namespace.unwrap_or(default_ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = pods
        .get_opt(name)
        .await
        .with_context(|| format!("reading pod {ns}/{name}"))?
        .with_context(|| format!("pods \"{name}\" not found in namespace {ns}"))?;
    let events: Api<Event> = Api::namespaced(client, &ns);
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let list = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .context("listing the pod's events")?;
    let mine: Vec<Event> = list
        .items
        .into_iter()
        .filter(|e| e.involved_object.uid.as_deref().is_none_or(|u| u == uid))
        .collect();
    print!("{}", report(&pod, &mine));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn report_lists_the_steps_in_order() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                "creationTimestamp": "2026-11-27T10:00:00Z",
                "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"},
                                  {"manager": "kubectl-create", "operation": "Create"}],
                "annotations": {
                    "scheduler.skiff.dev/filter-result": "{\"a\":{\"NodeResourcesFit\":\"passed\"},\"b\":{\"NodeResourcesFit\":\"Insufficient cpu\"}}",
                    "scheduler.skiff.dev/final-score-result": "{\"a\":150}",
                    "scheduler.skiff.dev/decision": "{\"pickedUpAt\":\"2026-11-27T10:00:00.050Z\",\"nodes\":2,\"evaluatedNodes\":2,\"feasibleNodes\":1}"}},
            "spec": {"nodeName": "a", "containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": "10.42.0.5", "startTime": "2026-11-27T10:00:01Z",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-27T10:00:02Z"},
                               {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2026-11-27T10:00:01Z"}]}
        })).unwrap();
        let ev = |reason: &str, t: &str, field: Option<&str>, msg: &str| -> Event {
            serde_json::from_value(json!({"metadata": {"name": format!("e-{reason}")}, "reason": reason, "message": msg,
                "eventTime": t, "involvedObject": {"name": "web", "uid": "u1", "fieldPath": field}})).unwrap()
        };
        let events = vec![
            ev(
                "Started",
                "2026-11-27T10:00:01.400000Z",
                Some("spec.containers{main}"),
                "Started container main",
            ),
            ev(
                "Scheduled",
                "2026-11-27T10:00:00.100000Z",
                None,
                "Successfully assigned default/web to a",
            ),
            ev(
                "Pulled",
                "2026-11-27T10:00:01.200000Z",
                Some("spec.containers{main}"),
                "Container image \"busybox\" already present on machine",
            ),
            ev(
                "Created",
                "2026-11-27T10:00:01.300000Z",
                Some("spec.containers{main}"),
                "Created container: main",
            ),
        ];
        let r = report(&pod, &events);
        assert!(r.contains("by kubectl-client-side-apply"), "{r}");
        // The pull is timed from the binding (both precise), across the imprecise kubelet step.
        let pulled = r.lines().find(|l| l.contains("image pulled")).unwrap();
        assert!(pulled.contains("1.10 s"), "{r}");
        assert!(
            r.contains("1 of 2 node(s) passed; 1 × NodeResourcesFit: Insufficient cpu"),
            "{r}"
        );
        assert!(r.contains("a=150"), "{r}");
        assert!(r.contains("10:00:00.100"), "{r}");
        let picked = r
            .lines()
            .find(|l| l.contains("picked up by the scheduler"))
            .unwrap();
        assert!(picked.contains("10:00:00.050"), "{r}");
        let bound = r.lines().find(|l| l.contains("  bound")).unwrap();
        assert!(bound.contains("50 ms"), "{r}");
        assert!(r.contains("IP 10.42.0.5"), "{r}");
        let created = r
            .lines()
            .position(|l| l.contains("container main created"))
            .unwrap();
        let started = r
            .lines()
            .position(|l| l.contains("container main started"))
            .unwrap();
        assert!(created < started);
        assert!(r.lines().nth(started).unwrap().contains("100 ms"), "{r}");
    }
}
