#!/usr/bin/env bash
# The differential test against bcoin's script interpreter: N random
# scripts and transactions (a third of them real spends signed by bcoin,
# some with a byte changed), judged by bcoin and by powkit, the
# differences counted and each explained or printed.
#   usage: scripts/diff-bcoin.sh [N=100000] [SEED=2026]
# Needs Node.js and `npm install` in tests/node, and a build (BUILD_DIR,
# default build) with diff_bcoin.  Exits 1 on a verdict not explained.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
seed=${2:-2026}
build=${BUILD_DIR:-build}
[ -x "$build/diff_bcoin" ] || { echo "diff-bcoin: no $build/diff_bcoin (build first, or set BUILD_DIR)" >&2; exit 2; }
[ -d tests/node/node_modules/bcoin ] || { echo "diff-bcoin: run npm install in tests/node first" >&2; exit 2; }
node tests/node/script_diff.js "$n" "$seed" | "$build/diff_bcoin"
