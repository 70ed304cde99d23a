//! A minimal informer: LIST, then WATCH from the list's resourceVersion, resuming from the last seen
//! resourceVersion (bookmarks included) when a watch ends, and relisting on `410 Gone`.
//!
//! Written by hand because `kube::runtime` (kube-rs' reflector/watcher) is not in Skiff's dependency
//! set and the scheduler needs only this much: every change is forwarded as an [`InformerEvent`] to
//! the scheduling loop, which keeps its own state (the snapshot and the queue), so no store is kept
//! here.
//!
//! Objects are forwarded without `metadata.managedFields` (as kube-scheduler's informers do with
//! `TransformStripManagedFields`), then through the caller's `transform` (the scheduler drops the pod
//! fields it never reads, [`crate::server`]): the scheduler holds every pod of the cluster, and a
//! decoded k8s-openapi pod with its managedFields (nested JSON maps) and its service-account volume is
//! several times the size of its JSON. The LIST is read in pages of [`LIST_PAGE`] (as client-go's
//! reflector does), so a relist of a large cluster never holds the whole decoded list at once.

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

/// Objects per LIST page (client-go's reflector pages by 500 too).
pub const LIST_PAGE: u32 = 500;

/// LISTs everything, a page at a time, applying `slim` to each object as its page arrives; returns
/// the objects and the list's resourceVersion.
async fn list_all<K>(api: &Api<K>, slim: &impl Fn(K) -> K) -> kube::Result<(Vec<K>, Option<String>)>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut items = Vec::new();
    let mut rv = None;
    let mut token: Option<String> = None;
    // Bounded: a server that keeps answering with a continue token cannot keep us here forever.
    for _ in 0..1_000_000 {
        let mut lp = ListParams::default().limit(LIST_PAGE);
        if let Some(t) = token.take() {
            lp = lp.continue_token(&t);
        }
        let page = api.list(&lp).await?;
        if rv.is_none() {
            rv = page.metadata.resource_version.clone();
        }
        items.extend(page.items.into_iter().map(slim));
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok((items, rv))
}

/// Runs until `send` returns false (the receiver is gone). Every object passes through `transform`
/// (after its managedFields are dropped) before it is sent.
pub async fn run<K>(
    api: Api<K>,
    transform: fn(&mut K),
    mut send: impl FnMut(InformerEvent<K>) -> bool,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let slim = |mut o: K| {
        o.meta_mut().managed_fields = None;
        transform(&mut o);
        o
    };
    let retry = Duration::from_millis(500);
    let mut rv: Option<String> = None;
    loop {
        if rv.is_none() {
            match list_all(&api, &slim).await {
                Ok((items, list_rv)) => {
                    rv = list_rv;
                    if !send(InformerEvent::Relisted(items)) {
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
                    send(InformerEvent::Applied(slim(o)))
                }
                WatchEvent::Deleted(o) => {
                    rv = resource_version(&o).or(rv);
                    send(InformerEvent::Deleted(slim(o)))
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
