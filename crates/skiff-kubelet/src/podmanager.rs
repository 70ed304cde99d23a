//! The pod manager: watches the pods bound to this node (`fieldSelector=spec.nodeName=<node>`),
//! runs one [`Worker`] per pod, hands each its pod's updates, and, at start, cleans up whatever an
//! earlier agent left for pods that no longer exist (containers, netns, mounts, directories).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::Api;
use tokio::sync::{mpsc, watch};

use crate::pod_worker::{PodContext, PodUpdate, Worker};
use crate::state::PodRecord;

pub struct PodManager {
    ctx: Arc<PodContext>,
    workers: HashMap<String, watch::Sender<PodUpdate>>,
    done_tx: mpsc::UnboundedSender<String>,
    done_rx: mpsc::UnboundedReceiver<String>,
}

impl PodManager {
    pub fn new(ctx: Arc<PodContext>) -> PodManager {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        PodManager {
            ctx,
            workers: HashMap::new(),
            done_tx,
            done_rx,
        }
    }

    fn dispatch(&mut self, pod: Pod) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.ctx
            .pods_by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((ns, name), uid.clone());
        let pod = Arc::new(pod);
        if let Some(tx) = self.workers.get(&uid) {
            if tx.send(PodUpdate::Pod(pod.clone())).is_ok() {
                return;
            }
        }
        let (tx, rx) = watch::channel(PodUpdate::Pod(pod.clone()));
        self.workers.insert(uid.clone(), tx);
        let worker = Worker::new(self.ctx.clone(), pod);
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            worker.run(rx).await;
            let _ = done.send(uid);
        });
    }

    fn gone(&mut self, pod: &Pod) {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            return;
        };
        if let Some(tx) = self.workers.get(uid) {
            let _ = tx.send(PodUpdate::Gone);
        }
    }

    fn forget(&mut self, uid: &str) {
        self.workers.remove(uid);
        self.ctx
            .pods_by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, v| v != uid);
    }

    /// Cleans up after pods the agent ran before but that are not bound here any more.
    async fn clean_orphans(&mut self, current: &HashSet<String>) {
        let pods_dir = self.ctx.data_dir.join("pods");
        let mut known = HashSet::new();
        for entry in std::fs::read_dir(&pods_dir).into_iter().flatten().flatten() {
            let uid = entry.file_name().to_string_lossy().into_owned();
            known.insert(uid.clone());
            if current.contains(&uid) {
                continue;
            }
            let record = PodRecord::load(&entry.path()).unwrap_or(PodRecord {
                uid: uid.clone(),
                ..Default::default()
            });
            tracing::info!(pod = %record.name, %uid, "cleaning up after a pod that is gone");
            // A worker for a pod that no longer exists terminates it at once.
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": record.name, "namespace": record.namespace, "uid": uid}
            }))
            .unwrap_or_default();
            let (tx, rx) = watch::channel(PodUpdate::Pod(Arc::new(pod.clone())));
            let worker = Worker::new(self.ctx.clone(), Arc::new(pod));
            let _ = tx.send(PodUpdate::Gone);
            tokio::spawn(async move {
                let _tx = tx;
                worker.run(rx).await;
            });
        }
        // Containers and sandboxes no record knows about (a crash between creating and recording).
        if let Ok(ids) = self.ctx.runtime.list().await {
            for id in ids {
                let owner = id.get(..36).unwrap_or("");
                if !known.contains(owner) && !current.contains(owner) {
                    tracing::info!(container = %id, "removing a container no pod owns");
                    let _ = self.ctx.runtime.remove(&id).await;
                }
            }
        }
        let sandboxes = self.ctx.network.list_sandboxes().unwrap_or_default();
        for uid in sandboxes.into_iter().map(|s| s.pod.uid) {
            if !known.contains(&uid) && !current.contains(&uid) {
                tracing::info!(%uid, "removing a pod network no pod owns");
                let _ = self.ctx.network.teardown(&uid).await;
            }
        }
    }

    /// Lists and watches this node's pods until `stop` fires.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let api: Api<Pod> = Api::all(self.ctx.client.clone());
        let selector = format!("spec.nodeName={}", self.ctx.node_name);
        let mut rv: Option<String> = None;
        let mut first = true;
        loop {
            if *stop.borrow() {
                return;
            }
            if rv.is_none() {
                match api.list(&ListParams::default().fields(&selector)).await {
                    Ok(list) => {
                        rv = list.metadata.resource_version.clone();
                        let uids: HashSet<String> = list
                            .items
                            .iter()
                            .filter_map(|p| p.metadata.uid.clone())
                            .collect();
                        let stale: Vec<String> = self
                            .workers
                            .keys()
                            .filter(|u| !uids.contains(*u))
                            .cloned()
                            .collect();
                        for uid in stale {
                            if let Some(tx) = self.workers.get(&uid) {
                                let _ = tx.send(PodUpdate::Gone);
                            }
                        }
                        if first {
                            self.clean_orphans(&uids).await;
                            first = false;
                        }
                        for p in list.items {
                            self.dispatch(p);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listing this node's pods failed; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = stop.changed() => return,
                        }
                        continue;
                    }
                }
            }
            let version = rv.clone().unwrap_or_else(|| "0".into());
            let wp = WatchParams::default().fields(&selector).timeout(290);
            let stream = match api.watch(&wp, &version).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "watch failed; relisting");
                    rv = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let mut stream = stream.boxed();
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    Some(uid) = self.done_rx.recv() => self.forget(&uid),
                    ev = stream.try_next() => match ev {
                        Ok(Some(WatchEvent::Added(p))) | Ok(Some(WatchEvent::Modified(p))) => {
                            rv = p.metadata.resource_version.clone();
                            self.dispatch(p);
                        }
                        Ok(Some(WatchEvent::Deleted(p))) => {
                            rv = p.metadata.resource_version.clone();
                            self.gone(&p);
                        }
                        Ok(Some(WatchEvent::Bookmark(b))) => rv = Some(b.metadata.resource_version),
                        Ok(Some(WatchEvent::Error(e))) => {
                            if e.code == 410 {
                                rv = None;
                            }
                            break;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(error = %e, "pod watch broke; resuming");
                            break;
                        }
                    }
                }
            }
        }
    }
}
