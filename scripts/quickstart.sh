#!/usr/bin/env bash
# Quick start: install what powkit needs (Debian packages only), build it
# into build/, and run `powkit mine` on the embedded offline job (a real
# mainnet header; nothing is sent anywhere).  Stop it with Ctrl-C; extra
# arguments go to `powkit mine` (e.g. --duration 30, or
# -o stratum+tcp://pool:3333 -u you.worker -p x).
# The tests build elsewhere (scripts/test.sh: build-test/), so neither
# rebuilds the other's objects.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=build POWKIT_TESTS=0 bash scripts/build.sh
./build/powkit selftest
exec ./build/powkit mine -l 5 "$@"
