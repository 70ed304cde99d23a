//! The pod's status as the kubelet reports it (`generateAPIPodStatus`): phase, conditions,
//! container statuses with their state and last state, IPs, start time and QoS class. Pure: the
//! pod worker passes in what it knows, this turns it into the `status` object.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{json, Map, Value};

use crate::state::{ContainerRecord, PodRecord, Terminated};

/// What the worker knows about one container that is not in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Not created yet, or between instances: the waiting reason and message.
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: DateTime<Utc>,
    },
    Terminated(Terminated),
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn terminated_json(t: &Terminated) -> Value {
    let mut o = json!({
        "exitCode": t.exit_code,
        "reason": t.reason,
        "startedAt": t.started_at.as_ref().map(ts),
        "finishedAt": ts(&t.finished_at),
        "containerID": t.container_id,
    });
    if let Some(s) = t.signal {
        o["signal"] = json!(s);
    }
    if let Some(m) = &t.message {
        o["message"] = json!(m);
    }
    o
}

/// `runc://<id>`: the status' container ID (`<runtime>://<id>`, as containerd's `containerd://`).
pub fn container_id(id: &str) -> String {
    format!("runc://{id}")
}

fn container_status(
    c: &Container,
    record: Option<&ContainerRecord>,
    live: Option<&Live>,
    last: Option<&Terminated>,
    default_waiting: &str,
) -> Value {
    let (state, ready, started) = match live {
        Some(Live::Running { started_at }) => (
            json!({"running": {"startedAt": ts(started_at)}}),
            true,
            true,
        ),
        Some(Live::Terminated(t)) => (json!({"terminated": terminated_json(t)}), false, false),
        Some(Live::Waiting { reason, message }) => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            (json!({ "waiting": w }), false, false)
        }
        None => (
            json!({"waiting": {"reason": default_waiting}}),
            false,
            false,
        ),
    };
    let mut o = json!({
        "name": c.name,
        "state": state,
        "lastState": last.map(|t| json!({"terminated": terminated_json(t)})).unwrap_or_else(|| json!({})),
        "ready": ready,
        "restartCount": record.map(|r| r.restart_count).unwrap_or(0),
        "image": record.map(|r| r.image_name.clone()).unwrap_or_else(|| c.image.clone().unwrap_or_default()),
        "imageID": record.map(|r| r.image_id.clone()).unwrap_or_default(),
        "started": started,
    });
    if let Some(r) = record {
        o["containerID"] = json!(container_id(&r.id));
    }
    o
}

/// `qos.GetPodQOS`: Guaranteed when every container has cpu and memory limits equal to requests,
/// BestEffort when none has any, Burstable otherwise.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in all {
        let r = c.resources.as_ref();
        let req = r.and_then(|r| r.requests.clone()).unwrap_or_default();
        let lim = r.and_then(|r| r.limits.clone()).unwrap_or_default();
        for name in ["cpu", "memory"] {
            let q = req.get(name).or_else(|| lim.get(name));
            if q.is_some_and(|q| !is_zero(&q.0)) {
                any = true;
            }
            let l = lim.get(name);
            let rq = req.get(name).or(l);
            match (rq, l) {
                (Some(a), Some(b)) if same_quantity(&a.0, &b.0) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn is_zero(q: &str) -> bool {
    skiff_api::quantity::Quantity::parse(q).is_ok_and(|q| q.is_zero())
}

fn same_quantity(a: &str, b: &str) -> bool {
    match (
        skiff_api::quantity::Quantity::parse(a),
        skiff_api::quantity::Quantity::parse(b),
    ) {
        (Ok(a), Ok(b)) => a.milli_value() == b.milli_value(),
        _ => a == b,
    }
}

/// Everything needed for one status.
pub struct Inputs<'a> {
    pub pod: &'a Pod,
    pub record: &'a PodRecord,
    pub live: &'a BTreeMap<String, Live>,
    pub host_ip: &'a str,
    pub now: DateTime<Utc>,
}

/// Whether all init containers completed.
pub fn initialized(pod: &Pod, live: &BTreeMap<String, Live>) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .all(|c| matches!(live.get(&c.name), Some(Live::Terminated(t)) if t.exit_code == 0))
}

/// The phase (`getPhase`).
pub fn phase(pod: &Pod, record: &PodRecord, live: &BTreeMap<String, Live>) -> String {
    if let Some(t) = &record.terminal {
        return t.phase.clone();
    }
    let Some(spec) = pod.spec.as_ref() else {
        return "Pending".into();
    };
    if !initialized(pod, live) {
        return "Pending".into();
    }
    let restart = spec.restart_policy.as_deref().unwrap_or("Always");
    let (mut running, mut waiting, mut succeeded, mut failed, mut unknown) = (0, 0, 0, 0, 0);
    for c in &spec.containers {
        match live.get(&c.name) {
            Some(Live::Running { .. }) => running += 1,
            Some(Live::Terminated(t)) if t.exit_code == 0 => succeeded += 1,
            Some(Live::Terminated(_)) => failed += 1,
            Some(Live::Waiting { .. }) => {
                // Waiting after a previous run (back-off) counts as running, as upstream.
                if record.last_terminated.contains_key(&c.name) {
                    running += 1
                } else {
                    waiting += 1
                }
            }
            None => unknown += 1,
        }
    }
    if waiting + unknown > 0 {
        return "Pending".into();
    }
    if running > 0 {
        return "Running".into();
    }
    match restart {
        "Always" => "Running".into(),
        "OnFailure" if failed > 0 => "Running".into(),
        _ if failed > 0 => "Failed".into(),
        _ if succeeded > 0 => "Succeeded".into(),
        _ => "Pending".into(),
    }
}

fn condition(
    pod: &Pod,
    kind: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: &DateTime<Utc>,
) -> Value {
    let status = if ok { "True" } else { "False" };
    let previous = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == kind));
    let since = match previous {
        Some(p) if p.status == status => p
            .last_transition_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_else(|| ts(now)),
        _ => ts(now),
    };
    let mut c =
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// The pod's whole status.
pub fn pod_status(i: &Inputs<'_>) -> Value {
    let pod = i.pod;
    let spec = pod.spec.clone().unwrap_or_default();
    let phase = phase(pod, i.record, i.live);
    let init_done = initialized(pod, i.live);
    let app_default = if init_done {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| {
            container_status(
                c,
                i.record.containers.get(&c.name),
                i.live.get(&c.name),
                i.record.last_terminated.get(&c.name),
                app_default,
            )
        })
        .collect();
    let init_statuses: Vec<Value> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            container_status(
                c,
                i.record.containers.get(&c.name),
                i.live.get(&c.name),
                i.record.last_terminated.get(&c.name),
                "PodInitializing",
            )
        })
        .collect();

    let terminal = matches!(phase.as_str(), "Succeeded" | "Failed");
    let unready: Vec<&str> = spec
        .containers
        .iter()
        .filter(|c| !matches!(i.live.get(&c.name), Some(Live::Running { .. })))
        .map(|c| c.name.as_str())
        .collect();
    let incomplete: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| !matches!(i.live.get(&c.name), Some(Live::Terminated(t)) if t.exit_code == 0))
        .map(|c| c.name.as_str())
        .collect();
    let sandbox = i.record.sandbox.is_some() && !terminal;
    let ready = unready.is_empty() && !terminal;
    let (ready_reason, ready_msg) = if ready {
        (None, None)
    } else if terminal {
        (Some("PodCompleted"), None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let (init_reason, init_msg) = if incomplete.is_empty() {
        (if terminal { Some("PodCompleted") } else { None }, None)
    } else {
        (
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        )
    };
    let mut conditions = vec![
        condition(
            pod,
            "PodReadyToStartContainers",
            sandbox,
            None,
            None,
            &i.now,
        ),
        condition(
            pod,
            "Initialized",
            incomplete.is_empty(),
            init_reason,
            init_msg,
            &i.now,
        ),
        condition(pod, "Ready", ready, ready_reason, ready_msg.clone(), &i.now),
        condition(
            pod,
            "ContainersReady",
            ready,
            ready_reason,
            ready_msg,
            &i.now,
        ),
    ];
    // The scheduler's condition stays as it wrote it.
    if let Some(c) = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
    {
        conditions.push(serde_json::to_value(c).unwrap_or(Value::Null));
    }

    let mut status = Map::new();
    status.insert("phase".into(), json!(phase));
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("hostIP".into(), json!(i.host_ip));
    status.insert("hostIPs".into(), json!([{ "ip": i.host_ip }]));
    if let Some(sb) = &i.record.sandbox {
        if let Some(ip) = sb.ips.first() {
            status.insert("podIP".into(), json!(ip));
            status.insert(
                "podIPs".into(),
                Value::Array(sb.ips.iter().map(|ip| json!({ "ip": ip })).collect()),
            );
        }
    }
    if let Some(t) = &i.record.start_time {
        status.insert("startTime".into(), json!(ts(t)));
    }
    if !init_statuses.is_empty() {
        status.insert("initContainerStatuses".into(), Value::Array(init_statuses));
    }
    status.insert("containerStatuses".into(), Value::Array(statuses));
    status.insert("qosClass".into(), json!(qos_class(pod)));
    if let Some(t) = &i.record.terminal {
        if let Some(r) = &t.reason {
            status.insert("reason".into(), json!(r));
        }
        if let Some(m) = &t.message {
            status.insert("message".into(), json!(m));
        }
    }
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn term(code: i32) -> Live {
        Live::Terminated(Terminated {
            exit_code: code,
            signal: None,
            reason: if code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            },
            message: None,
            started_at: Some(Utc::now()),
            finished_at: Utc::now(),
            container_id: "runc://x".into(),
        })
    }

    #[test]
    fn qos_classes() {
        let p = |res: Value| {
            pod(
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": res}]}}),
            )
        };
        assert_eq!(qos_class(&p(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&p(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&p(
                json!({"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&p(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
    }

    #[test]
    fn phases_follow_restart_policy() {
        let p = |policy: &str| {
            pod(
                json!({"metadata": {"name": "p"}, "spec": {"restartPolicy": policy, "containers": [{"name": "a"}, {"name": "b"}]}}),
            )
        };
        let rec = PodRecord::default();
        let mut live = BTreeMap::new();
        assert_eq!(phase(&p("Always"), &rec, &live), "Pending");
        live.insert(
            "a".to_string(),
            Live::Running {
                started_at: Utc::now(),
            },
        );
        live.insert("b".to_string(), term(0));
        assert_eq!(phase(&p("Never"), &rec, &live), "Running");
        live.insert("a".to_string(), term(0));
        assert_eq!(phase(&p("Never"), &rec, &live), "Succeeded");
        assert_eq!(phase(&p("Always"), &rec, &live), "Running");
        live.insert("a".to_string(), term(1));
        assert_eq!(phase(&p("Never"), &rec, &live), "Failed");
        assert_eq!(phase(&p("OnFailure"), &rec, &live), "Running");
    }

    #[test]
    fn status_reports_ready_and_waiting() {
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "busybox"}]},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}),
        );
        let mut rec = PodRecord {
            start_time: Some(Utc::now()),
            ..Default::default()
        };
        let mut live = BTreeMap::new();
        let s = pod_status(&Inputs {
            pod: &p,
            record: &rec,
            live: &live,
            host_ip: "10.0.0.1",
            now: Utc::now(),
        });
        assert_eq!(s["phase"], "Pending");
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        assert_eq!(
            s["conditions"][2]["message"],
            "containers with unready status: [a]"
        );
        assert_eq!(s["conditions"][4]["type"], "PodScheduled");
        rec.sandbox = Some(crate::state::SandboxRecord {
            netns: "/n".into(),
            ipcns: None,
            ips: vec!["10.42.0.9".into()],
            created_at: Utc::now(),
        });
        live.insert(
            "a".into(),
            Live::Running {
                started_at: Utc::now(),
            },
        );
        let s = pod_status(&Inputs {
            pod: &p,
            record: &rec,
            live: &live,
            host_ip: "10.0.0.1",
            now: Utc::now(),
        });
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], "10.42.0.9");
        assert_eq!(s["conditions"][2]["status"], "True");
        assert_eq!(s["containerStatuses"][0]["ready"], true);
        let parsed: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": s})).unwrap();
        assert_eq!(
            parsed.status.unwrap().qos_class.as_deref(),
            Some("BestEffort")
        );
    }
}
