#!/usr/bin/env bash
# Configures and builds powkit.  BUILD_DIR (default build), and
#   POWKIT_WERROR=1    warnings are errors
#   POWKIT_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DPOWKIT_WERROR="${POWKIT_WERROR:-0}" -DPOWKIT_SANITIZE="${POWKIT_SANITIZE:-0}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
