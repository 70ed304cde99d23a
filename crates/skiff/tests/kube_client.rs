//! kube-rs (the Rust client the scheduler, kubelet and controllers use) against a real `skiff server`:
//! create, list and watch.

mod common;
use common::Server;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

async fn client(s: &Server) -> Client {
    let kc = Kubeconfig::read_from(&s.kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(
        serde_json::json!({"metadata": {"name": name, "labels": {"k": "rs"}}, "data": {"a": "1"}}),
    )
    .unwrap()
}

#[tokio::test]
async fn kube_rs_create_list_watch() {
    let s = Server::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&s).await, "default");
    let created = api
        .create(&PostParams::default(), &cm("one"))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let list = api
        .list(&ListParams::default().labels("k=rs"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    let rv = list
        .metadata
        .resource_version
        .clone()
        .expect("list resourceVersion");
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    api.create(&PostParams::default(), &cm("two"))
        .await
        .expect("create two");
    let ev = stream
        .try_next()
        .await
        .expect("watch event")
        .expect("stream open");
    match ev {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("two")),
        other => panic!("expected ADDED, got {other:?}"),
    }
}
