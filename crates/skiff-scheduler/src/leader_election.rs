//! Leader election on a `coordination.k8s.io/v1` Lease (client-go's `leaderelection` with the
//! `LeaseLock`): the holder renews `spec.renewTime` every `retry_period`; another candidate takes the
//! lease over once `renewTime + leaseDurationSeconds` has passed. Writes use the lease's
//! resourceVersion, so two candidates never both win. A leader that cannot renew within
//! `renew_deadline` steps down.
//!
//! Upstream kube-scheduler uses Lease `kube-system/kube-scheduler`, 15 s lease, 10 s renew deadline,
//! 2 s retry period.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where the lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    pub namespace: String,
    pub name: String,
    /// This candidate's `holderIdentity`.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// kube-scheduler's defaults for `identity`.
    pub fn kube_scheduler(identity: impl Into<String>) -> Self {
        LeaderElectionConfig {
            namespace: "kube-system".into(),
            name: "kube-scheduler".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A default identity: host name and process id, plus a random suffix.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "skiff".into());
    format!(
        "{host}_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// One attempt to acquire or renew; `Ok(true)` when we hold the lease afterwards.
async fn try_acquire_or_renew(api: &Api<Lease>, cfg: &LeaderElectionConfig) -> kube::Result<bool> {
    let now = Timestamp::now();
    let secs = cfg.lease_duration.as_secs() as i32;
    let existing = api.get_opt(&cfg.name).await?;
    let Some(mut lease) = existing else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                namespace: Some(cfg.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(cfg.identity.clone()),
                lease_duration_seconds: Some(secs),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let ours = holder == cfg.identity;
    if !ours && !holder.is_empty() {
        let duration = i64::from(spec.lease_duration_seconds.unwrap_or(secs));
        let expires = spec
            .renew_time
            .as_ref()
            .map(|t| t.0.as_second() + duration)
            .unwrap_or(0);
        if now.as_second() < expires {
            return Ok(false);
        }
    }
    if !ours {
        spec.holder_identity = Some(cfg.identity.clone());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.lease_duration_seconds = Some(secs);
    spec.renew_time = Some(MicroTime(now));
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs the election forever, publishing whether this candidate leads on `leading`.
pub async fn run(client: Client, cfg: LeaderElectionConfig, leading: watch::Sender<bool>) {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let mut last_renew: Option<Instant> = None;
    loop {
        let held = match try_acquire_or_renew(&api, &cfg).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, lease = %cfg.name, "leader election: lease update failed");
                false
            }
        };
        let now = Instant::now();
        if held {
            if last_renew.is_none() {
                tracing::info!(identity = %cfg.identity, "leader election: became the leader");
            }
            last_renew = Some(now);
            leading.send_if_modified(|l| !std::mem::replace(l, true));
        } else if let Some(t) = last_renew {
            if now.duration_since(t) >= cfg.renew_deadline {
                tracing::warn!(identity = %cfg.identity, "leader election: lost the lease");
                last_renew = None;
                leading.send_if_modified(|l| std::mem::replace(l, false));
            }
        }
        if leading.is_closed() {
            return;
        }
        tokio::time::sleep(cfg.retry_period).await;
    }
}
