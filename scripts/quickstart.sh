#!/usr/bin/env bash
# The README's first command. As root on a fresh Debian machine: installs what Skiff needs, builds
# it, starts a single-node cluster with `skiff up` (in the background, log in $DATA/skiff-up.log),
# builds a demo image from Debian's busybox with `skiff image build` (nothing comes from the
# internet), runs a pod from it and shows `kubectl get pods -o wide`, `kubectl logs` and
# `skiff trace` for it. Running it again reuses the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${SKIFF_DATA_DIR:-/var/lib/skiff}
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/skiff

bash scripts/install-deps.sh
cargo build --release -p skiff

# The demo image: Debian's static busybox and its applet links, packed by `skiff image build`.
ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp" "$ROOTFS/etc"
cp /bin/busybox "$ROOTFS/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$ROOTFS/bin/$applet" ] || ln -s busybox "$ROOTFS/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$ROOTFS/etc/passwd"
"$BIN" image build --data-dir "$DATA" --rootfs "$ROOTFS" --tag skiff.local/demo:1 \
  --cmd sh -c 'echo "hello from $(hostname) at $(date)"; while true; do sleep 3600; done'

# The cluster, unless one already runs on this data dir.
if ! [ -f "$DATA/skiff-up.pid" ] || ! kill -0 "$(cat "$DATA/skiff-up.pid")" 2>/dev/null; then
  mkdir -p "$DATA"
  nohup "$BIN" up --data-dir "$DATA" > "$DATA/skiff-up.log" 2>&1 &
  echo $! > "$DATA/skiff-up.pid"
fi
for _ in $(seq 1 600); do
  grep -q "cluster ready" "$DATA/skiff-up.log" 2>/dev/null && break
  if ! kill -0 "$(cat "$DATA/skiff-up.pid")" 2>/dev/null; then cat "$DATA/skiff-up.log"; exit 1; fi
  sleep 0.1
done
cat "$DATA/skiff-up.log"
export KUBECONFIG=$DATA/admin.kubeconfig

kubectl apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: demo
spec:
  containers:
  - name: demo
    image: skiff.local/demo:1
    imagePullPolicy: Never
YAML
kubectl wait --for=condition=Ready pod/demo --timeout=120s
kubectl get pods -o wide
kubectl logs demo
"$BIN" trace pod demo
echo
echo "The cluster keeps running: export KUBECONFIG=$DATA/admin.kubeconfig"
echo "Stop it with: kill \$(cat $DATA/skiff-up.pid)   (log: $DATA/skiff-up.log)"
