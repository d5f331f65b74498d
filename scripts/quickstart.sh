#!/usr/bin/env bash
# Quick start: install what powkit needs, build it, and run `powkit mine`
# on the embedded offline job (a real mainnet header; nothing is sent
# anywhere).  Stop it with Ctrl-C; extra arguments go to `powkit mine`
# (e.g. --duration 30, or -o stratum+tcp://pool:3333 -u you.worker -p x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/powkit selftest
exec ./build/powkit mine -l 5 "$@"
