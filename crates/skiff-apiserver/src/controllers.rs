//! Control loops that belong to the API server itself: finishing the deletion of namespaces (upstream's
//! namespace controller): once a namespace is Terminating, its content is deleted, then its `kubernetes`
//! finalizer is removed and the namespace goes.

use crate::decode::FieldValidation;
use crate::registry::{meta_str, DeleteOptions, WriteOptions};
use crate::State;
use serde_json::{json, Value};
use skiff_api::resources::{self, RESOURCES};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Starts the loops; they stop when `shutdown` turns true.
pub fn spawn(state: Arc<State>, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => finalize_namespaces(&state).await,
            }
        }
    })
}

async fn finalize_namespaces(state: &State) {
    let ns_res = resources::find("", "v1", "namespaces").expect("namespaces");
    let (all, _) = state.registry.cache.list(ns_res, &ns_res.key_prefix(), None);
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
            match reg.delete(r, Some(namespace), &o.name, &DeleteOptions::default()).await {
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
    let opts = WriteOptions { dry_run: false, field_validation: FieldValidation::Ignore, field_manager: "skiff-namespace-controller".into() };
    reg.update_with(ns_res, None, namespace, Some("finalize"), &opts, "Update", |old| {
        let Some(old) = old else { return Err(skiff_api::ApiError::not_found("", "namespaces", namespace)) };
        let mut new: Value = old.clone();
        new["spec"]["finalizers"] = json!([]);
        Ok(new)
    })
    .await
    .map(|_| ())
}
