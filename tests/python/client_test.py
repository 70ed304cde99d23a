"""The official Python Kubernetes client (PyPI `kubernetes`) against a running Skiff API server.

Usage: client_test.py KUBECONFIG. Exits non-zero with the failing step on any error; prints
"N passed, 0 failed" at the end. Driven by crates/skiff/tests/python_client.rs.
"""
import sys
import time
import traceback

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes import utils

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()

steps = []


def step(fn):
    steps.append(fn)
    return fn


def pod(name, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]),
    )


@step
def pods_create_read_list_patch_delete():
    created = core.create_namespaced_pod("default", pod("pyweb"))
    assert created.metadata.uid, "uid set"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.status.phase == "Pending"
    read = core.read_namespaced_pod("pyweb", "default")
    assert read.metadata.resource_version == created.metadata.resource_version
    listed = core.list_namespaced_pod("default", label_selector="app=py")
    assert [p.metadata.name for p in listed.items] == ["pyweb"]
    patched = core.patch_namespaced_pod("pyweb", "default", {"metadata": {"labels": {"patched": "yes"}}})
    assert patched.metadata.labels["patched"] == "yes"
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    deleted = core.delete_namespaced_pod("pyweb", "default")
    assert deleted.metadata.name == "pyweb"
    try:
        core.read_namespaced_pod("pyweb", "default")
        raise AssertionError("pod still there")
    except ApiException as e:
        assert e.status == 404, e.status


@step
def watch_replays_from_resource_version():
    a = core.create_namespaced_pod("default", pod("wa"))
    rv = a.metadata.resource_version
    core.create_namespaced_pod("default", pod("wb"))
    core.patch_namespaced_pod("wb", "default", {"metadata": {"labels": {"x": "1"}}})
    core.delete_namespaced_pod("wa", "default")
    core.delete_namespaced_pod("wb", "default")
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_pod, namespace="default", resource_version=rv, timeout_seconds=2):
        seen.append((ev["type"], ev["object"].metadata.name))
    assert seen == [("ADDED", "wb"), ("MODIFIED", "wb"), ("DELETED", "wa"), ("DELETED", "wb")], seen


@step
def watch_without_resource_version_lists_then_follows():
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1"), data={"a": "1"}))
    w = watch.Watch()
    start = time.time()
    names = []
    for ev in w.stream(core.list_namespaced_config_map, namespace="default", timeout_seconds=1):
        names.append((ev["type"], ev["object"].metadata.name))
    assert ("ADDED", "w1") in names, names
    assert time.time() - start < 10, "timeoutSeconds honoured"


@step
def configmaps_patch_kinds_and_delete_collection():
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="pycm", labels={"inf": "1"}), data={"a": "1"})
    core.create_namespaced_config_map("default", cm)
    core.patch_namespaced_config_map("pycm", "default", {"data": {"b": "2"}})
    core.patch_namespaced_config_map("pycm", "default", [{"op": "add", "path": "/data/c", "value": "3"}])
    got = core.read_namespaced_config_map("pycm", "default")
    assert got.data == {"a": "1", "b": "2", "c": "3"}, got.data
    core.delete_collection_namespaced_config_map("default", label_selector="inf=1")
    left = core.list_namespaced_config_map("default", label_selector="inf=1")
    assert left.items == [], left.items


@step
def namespaces():
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyns")))
    ns = core.read_namespace("pyns")
    assert ns.status.phase == "Active"
    names = [n.metadata.name for n in core.list_namespace().items]
    assert "pyns" in names and "kube-system" in names
    core.patch_namespace("pyns", {"metadata": {"labels": {"team": "py"}}})
    assert core.read_namespace("pyns").metadata.labels["team"] == "py"
    core.delete_namespace("pyns")
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            core.read_namespace("pyns")
            time.sleep(0.2)
        except ApiException as e:
            assert e.status == 404
            return
    raise AssertionError("namespace not deleted")


@step
def deployments_and_server_side_apply():
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="pydep"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "pydep"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "pydep"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]),
            ),
        ),
    )
    created = apps.create_namespaced_deployment("default", dep)
    assert created.spec.strategy.type == "RollingUpdate"
    patched = apps.patch_namespaced_deployment("pydep", "default", {"spec": {"replicas": 3}})
    assert patched.spec.replicas == 3
    assert patched.metadata.generation == 2
    assert [d.metadata.name for d in apps.list_namespaced_deployment("default").items] == ["pydep"]
    dyn = DynamicClient(client.ApiClient())
    manifest = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "ssa-dep", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "ssa"}},
                 "template": {"metadata": {"labels": {"app": "ssa"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}},
    }
    utils.create_from_dict(client.ApiClient(), manifest, apply=True)
    got = apps.read_namespaced_deployment("ssa-dep", "default")
    assert got.spec.replicas == 1
    apps.delete_namespaced_deployment("pydep", "default")
    apps.delete_namespaced_deployment("ssa-dep", "default")


@step
def errors_are_status_objects():
    try:
        core.create_namespaced_pod("default", client.V1Pod(metadata=client.V1ObjectMeta(name="bad"),
                                                           spec=client.V1PodSpec(containers=[client.V1Container(name="c")])))
        raise AssertionError("invalid pod accepted")
    except ApiException as e:
        assert e.status == 422, e.status
        assert '"reason":"Invalid"' in e.body, e.body
        assert "spec.containers[0].image: Required value" in e.body, e.body


passed = failed = 0
for fn in steps:
    try:
        fn()
        passed += 1
        print(f"ok   {fn.__name__}")
    except Exception:
        failed += 1
        print(f"FAIL {fn.__name__}")
        traceback.print_exc()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
