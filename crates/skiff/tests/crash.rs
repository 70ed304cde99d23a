//! Crash safety: `skiff server` killed with SIGKILL in the middle of a stream of writes keeps every write
//! it acknowledged, keeps revisions increasing after a restart, and a watch resumed from the last
//! resourceVersion it saw misses nothing.

mod common;
use common::Server;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn api(s: &Server) -> Api<ConfigMap> {
    let kc = Kubeconfig::read_from(&s.kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Api::namespaced(Client::try_from(config).expect("client"), "default")
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"v": name}}))
        .unwrap()
}

fn rv(o: &ConfigMap) -> i64 {
    o.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let s = Server::start();
    let cms = api(&s).await;
    let start_rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    // A watcher records what it sees before the crash.
    let seen: Arc<Mutex<(BTreeSet<String>, String)>> =
        Arc::new(Mutex::new((BTreeSet::new(), start_rv.clone())));
    let watcher = {
        let cms = cms.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let Ok(stream) = cms.watch(&WatchParams::default(), &start_rv).await else {
                return;
            };
            let mut stream = stream.boxed();
            while let Ok(Some(ev)) = stream.try_next().await {
                if let WatchEvent::Added(o) = ev {
                    let mut g = seen.lock().unwrap();
                    g.0.insert(o.metadata.name.clone().unwrap());
                    g.1 = o.metadata.resource_version.clone().unwrap();
                }
            }
        })
    };

    // Four writers create config maps until the server dies under them.
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..4 {
        let cms = cms.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..100_000 {
                match cms
                    .create(&PostParams::default(), &cm(&format!("w{w}-{i}")))
                    .await
                {
                    Ok(o) => acked
                        .lock()
                        .unwrap()
                        .push((o.metadata.name.clone().unwrap(), rv(&o))),
                    Err(_) => break,
                }
            }
        }));
    }
    // Kill once a few hundred writes are through.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if acked.lock().unwrap().len() >= 300 {
            break;
        }
    }
    let dir = s.kill();
    for w in writers {
        let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), watcher).await;
    let acked = acked.lock().unwrap().clone();
    let (seen_before, last_seen_rv) = seen.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    // Restart on the same data.
    let s = Server::start_in(dir);
    let cms = api(&s).await;
    let names: BTreeSet<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    for (name, _) in &acked {
        assert!(
            names.contains(name),
            "acknowledged write {name} lost after SIGKILL"
        );
    }
    let max_acked = acked.iter().map(|(_, r)| *r).max().unwrap();
    let after = cms
        .create(&PostParams::default(), &cm("after-restart"))
        .await
        .unwrap();
    assert!(
        rv(&after) > max_acked,
        "revision went backwards: {} <= {max_acked}",
        rv(&after)
    );

    // The watch resumes from the last revision it saw and gets everything after it.
    let mut stream = cms
        .watch(&WatchParams::default().timeout(3), &last_seen_rv)
        .await
        .unwrap()
        .boxed();
    let mut seen_all = seen_before.clone();
    while let Ok(Some(ev)) = stream.try_next().await {
        if let WatchEvent::Added(o) = ev {
            seen_all.insert(o.metadata.name.unwrap());
        }
    }
    for (name, _) in &acked {
        assert!(
            seen_all.contains(name),
            "watch resumed at {last_seen_rv} missed {name}"
        );
    }
    assert!(seen_all.contains("after-restart"));
}
