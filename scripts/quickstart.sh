#!/usr/bin/env bash
# Quick start: install what powkit needs, build it, and mine the embedded
# offline job on every CPU kernel this machine has.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/powkit bench "$@"
