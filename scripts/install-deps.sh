#!/usr/bin/env bash
# Installs what Skiff's build and tests need on a fresh Debian machine (run as root).
# - Debian packages by name: python3-venv (the Python client tests), docker-registry (a real OCI registry
#   on loopback for the image tests), busybox-static (test images are built from it), skopeo (archives
#   for the image import tests), runc, containernetworking-plugins, iproute2 and iptables (the node
#   agent's containers and pod networks);
# - the official Python Kubernetes client (PyPI `kubernetes`) into .venv for the client tests.
# kubectl itself comes with the machine (a dispatcher on PATH that runs the release matching the server).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(ca-certificates python3-venv docker-registry busybox-static skopeo runc containernetworking-plugins iproute2 iptables)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

# The Python client, pinned to the version the wire reference was measured with.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import kubernetes' 2>/dev/null; then
  .venv/bin/pip install -q 'kubernetes==37.0.2'
fi

command -v kubectl >/dev/null || { echo "kubectl is not on PATH" >&2; exit 1; }
