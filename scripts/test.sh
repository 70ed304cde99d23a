#!/usr/bin/env bash
# Runs Skiff's whole test suite: unit, integration and end-to-end tests (real kubectl, real Python client).
set -euo pipefail
cd "$(dirname "$0")/.."
export SKIFF_PYTHON="${SKIFF_PYTHON:-$PWD/.venv/bin/python}"
cargo test --workspace --locked --no-fail-fast
