#!/usr/bin/env bash
# Regenerates k8s-v1.32.binpb, the FileDescriptorSet that drives the decoder.
#
# Input: the upstream Kubernetes `generated.proto` files as the `k8s-rs-pb` crate publishes them
# (src/v1_32/**/generated.proto; packages are renamed from `k8s.io.api.core.v1` to `api.core.v1`, which does
# not change the wire format). Needs `protoc` (Debian: protobuf-compiler) and the crate in the cargo registry
# (`cargo info k8s-rs-pb@0.5.0` downloads it). The output has no source info (no comments), only the schema.
set -euo pipefail
version="${K8S_RS_PB_VERSION:-0.5.0}"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/k8s-rs-pb-"$version"/src/v1_32 2>/dev/null | head -n1 || true)"
if [ -z "$src" ]; then
  cargo info "k8s-rs-pb@$version" >/dev/null
  src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/k8s-rs-pb-"$version"/src/v1_32 | head -n1)"
fi
cd "$src"
# Every API group except apimachinery's test group.
files=$(find . -name generated.proto | sed 's|^\./||' | grep -v testapigroup | sort)
# shellcheck disable=SC2086
protoc -I . --include_imports -o "$here/k8s-v1.32.binpb" $files 2>/dev/null
echo "wrote $here/k8s-v1.32.binpb ($(wc -c <"$here/k8s-v1.32.binpb") bytes) from $src"
