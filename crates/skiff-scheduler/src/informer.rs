//! A minimal informer: LIST, then WATCH from the list's resourceVersion, resuming from the last seen
//! resourceVersion (bookmarks included) when a watch ends, and relisting on `410 Gone`.
//!
//! Written by hand because `kube::runtime` (kube-rs' reflector/watcher) is not in Skiff's dependency
//! set and the scheduler needs only this much: every change is forwarded as an [`InformerEvent`] to
//! the scheduling loop, which keeps its own state (the snapshot and the queue), so no store is kept
//! here.

use futures::{StreamExt, TryStreamExt};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::Duration;

/// One change seen by an informer.
#[derive(Debug)]
pub enum InformerEvent<K> {
    /// Added or modified.
    Applied(K),
    Deleted(K),
    /// A full LIST: objects not in it are gone. The first one means the informer has synced.
    Relisted(Vec<K>),
}

fn resource_version<K: Resource>(o: &K) -> Option<String> {
    o.meta().resource_version.clone()
}

/// Runs until `send` returns false (the receiver is gone).
pub async fn run<K>(api: Api<K>, mut send: impl FnMut(InformerEvent<K>) -> bool)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let retry = Duration::from_millis(500);
    let mut rv: Option<String> = None;
    loop {
        if rv.is_none() {
            match api.list(&ListParams::default()).await {
                Ok(list) => {
                    rv = list.metadata.resource_version.clone();
                    if !send(InformerEvent::Relisted(list.items)) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "informer list failed; retrying");
                    tokio::time::sleep(retry).await;
                    continue;
                }
            }
        }
        let version = rv.clone().unwrap_or_else(|| "0".into());
        let wp = WatchParams::default().timeout(290);
        let stream = match api.watch(&wp, &version).await {
            Ok(s) => s,
            Err(kube::Error::Api(s)) if s.code == 410 => {
                rv = None;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "informer watch failed; retrying");
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream.into_stream());
        while let Some(ev) = stream.next().await {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::debug!(error = %e, "informer watch stream ended with an error");
                    break;
                }
            };
            let forwarded = match ev {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                    rv = resource_version(&o).or(rv);
                    send(InformerEvent::Applied(o))
                }
                WatchEvent::Deleted(o) => {
                    rv = resource_version(&o).or(rv);
                    send(InformerEvent::Deleted(o))
                }
                WatchEvent::Bookmark(b) => {
                    rv = Some(b.metadata.resource_version);
                    true
                }
                WatchEvent::Error(s) => {
                    if s.code == 410 {
                        rv = None;
                    } else {
                        tracing::warn!(code = s.code, message = %s.message, "informer watch error");
                        tokio::time::sleep(retry).await;
                    }
                    break;
                }
            };
            if !forwarded {
                return;
            }
        }
    }
}
