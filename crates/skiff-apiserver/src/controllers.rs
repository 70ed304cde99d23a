//! Control loops that run inside the API server process, on the registry: the namespace controller (once
//! a namespace is Terminating, its content is deleted, then its `kubernetes` finalizer is removed and the
//! namespace goes) and the garbage collector (dependents whose owners are gone are deleted; the
//! `foregroundDeletion` and `orphan` finalizers of `propagationPolicy` are carried out).
//!
//! They scan the watch cache's metadata (no object is decoded unless it must be changed) twice a second.

use crate::registry::{meta_str, DeleteOptions, WriteOptions};
use crate::watchcache::CachedObject;
use crate::State;
use serde_json::{json, Value};
use skiff_api::resources::Resource;
use skiff_api::resources::{self, RESOURCES};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Starts the loops; they stop when `shutdown` turns true.
pub fn spawn(
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => {
                    finalize_namespaces(&state).await;
                    collect_garbage(&state).await;
                }
            }
        }
    })
}

async fn finalize_namespaces(state: &State) {
    let ns_res = resources::find("", "v1", "namespaces").expect("namespaces");
    let (all, _) = state
        .registry
        .cache
        .list(ns_res, &ns_res.key_prefix(), None);
    for ns in all {
        let v = ns.value();
        if meta_str(&v, "deletionTimestamp").is_empty() {
            continue;
        }
        if let Err(e) = finalize(state, &ns.name).await {
            tracing::warn!(namespace = %ns.name, error = %e, "namespace deletion");
        }
    }
}

async fn finalize(state: &State, namespace: &str) -> Result<(), skiff_api::ApiError> {
    let reg = &state.registry;
    let mut remaining = 0;
    let mut seen = HashSet::new();
    for r in RESOURCES.iter().filter(|r| r.namespaced) {
        if !seen.insert(r.storage) {
            continue;
        }
        let (objs, _) = reg.cache.list(r, &r.namespace_prefix(namespace), None);
        for o in objs {
            remaining += 1;
            let v = o.value();
            if !meta_str(&v, "deletionTimestamp").is_empty() {
                continue;
            }
            match reg
                .delete(r, Some(namespace), &o.name, &DeleteOptions::default())
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    if remaining > 0 {
        return Ok(());
    }
    let ns_res = resources::find("", "v1", "namespaces").expect("namespaces");
    let opts = WriteOptions::system("skiff-namespace-controller");
    reg.update_with(ns_res, None, namespace, Some("finalize"), &opts, |old| {
        let Some(old) = old else {
            return Err(skiff_api::ApiError::not_found("", "namespaces", namespace));
        };
        let mut new: Value = old.clone();
        new["spec"]["finalizers"] = json!([]);
        Ok(new)
    })
    .await
    .map(|_| ())
}

/// The resource that owns a storage name (core events for `events`).
fn resource_of_storage(storage: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.storage == storage)
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// Whether an owner still exists, checked against the store (the cache may lag behind a new owner).
async fn owner_exists(
    state: &State,
    dependent: &CachedObject,
    owner: &crate::watchcache::OwnerRef,
) -> bool {
    let Some(r) = resources::find_kind(group_of(&owner.api_version), &owner.kind) else {
        return false;
    };
    let ns = if r.namespaced {
        Some(dependent.namespace.as_str())
    } else {
        None
    };
    match state.registry.get(r, ns, &owner.name).await {
        Ok(o) => meta_str(&o, "uid") == owner.uid,
        Err(e) => e.code != 404,
    }
}

async fn collect_garbage(state: &State) {
    let reg = &state.registry;
    let all = reg.cache.all();
    // Usually nothing has an owner or waits for its dependents: one pass over the cached metadata
    // says so before any index of tens of thousands of objects is built.
    let has_work = all.iter().any(|(_, o)| {
        !o.owners.is_empty()
            || (o.deleting
                && o.finalizers
                    .iter()
                    .any(|f| f == "foregroundDeletion" || f == "orphan"))
    });
    if !has_work {
        return;
    }
    let uids: HashSet<&str> = all.iter().map(|(_, o)| o.uid.as_str()).collect();
    let mut dependents: HashMap<&str, Vec<&(&'static str, std::sync::Arc<CachedObject>)>> =
        HashMap::new();
    for entry in &all {
        for o in &entry.1.owners {
            dependents.entry(o.uid.as_str()).or_default().push(entry);
        }
    }
    let background = DeleteOptions {
        propagation_policy: Some("Background".into()),
        ..Default::default()
    };
    for (storage, obj) in &all {
        let Some(r) = resource_of_storage(storage) else {
            continue;
        };
        let ns = if r.namespaced {
            Some(obj.namespace.as_str())
        } else {
            None
        };
        // Dependents whose every owner is gone.
        if !obj.owners.is_empty()
            && !obj.deleting
            && obj.owners.iter().all(|o| !uids.contains(o.uid.as_str()))
        {
            let mut gone = true;
            for o in &obj.owners {
                if owner_exists(state, obj, o).await {
                    gone = false;
                    break;
                }
            }
            if gone {
                if let Err(e) = reg.delete(r, ns, &obj.name, &background).await {
                    if e.code != 404 {
                        tracing::warn!(object = %obj.key, error = %e, "garbage collection");
                    }
                }
            }
        }
        if !obj.deleting {
            continue;
        }
        let foreground = obj.finalizers.iter().any(|f| f == "foregroundDeletion");
        let orphan = obj.finalizers.iter().any(|f| f == "orphan");
        if !foreground && !orphan {
            continue;
        }
        let deps = dependents
            .get(obj.uid.as_str())
            .cloned()
            .unwrap_or_default();
        let mut waiting = false;
        for (dstorage, d) in deps {
            let Some(dr) = resource_of_storage(dstorage) else {
                continue;
            };
            let dns = if dr.namespaced {
                Some(d.namespace.as_str())
            } else {
                None
            };
            if orphan {
                let uid = obj.uid.clone();
                let _ = reg
                    .update_with(dr, dns, &d.name, None, &gc_opts(), |old| {
                        let Some(old) = old else {
                            return Err(skiff_api::ApiError::not_found("", dr.plural, &d.name));
                        };
                        let mut new = old.clone();
                        if let Some(refs) = new
                            .pointer_mut("/metadata/ownerReferences")
                            .and_then(Value::as_array_mut)
                        {
                            refs.retain(|r| {
                                r.get("uid").and_then(Value::as_str) != Some(uid.as_str())
                            });
                        }
                        Ok(new)
                    })
                    .await;
            } else {
                waiting = true;
                if !d.deleting {
                    let fg = DeleteOptions {
                        propagation_policy: Some("Foreground".into()),
                        ..Default::default()
                    };
                    let _ = reg.delete(dr, dns, &d.name, &fg).await;
                }
            }
        }
        if waiting {
            continue;
        }
        let drop_finalizer = if foreground {
            "foregroundDeletion"
        } else {
            "orphan"
        };
        let _ = reg
            .update_with(r, ns, &obj.name, None, &gc_opts(), |old| {
                let Some(old) = old else {
                    return Err(skiff_api::ApiError::not_found("", r.plural, &obj.name));
                };
                let mut new = old.clone();
                if let Some(f) = new
                    .pointer_mut("/metadata/finalizers")
                    .and_then(Value::as_array_mut)
                {
                    f.retain(|x| x.as_str() != Some(drop_finalizer));
                }
                Ok(new)
            })
            .await;
    }
}

fn gc_opts() -> WriteOptions {
    WriteOptions::system("skiff-garbage-collector")
}
