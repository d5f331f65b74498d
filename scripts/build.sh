#!/usr/bin/env bash
# Configures and builds powkit.  BUILD_DIR (default build), and
#   POWKIT_WERROR=1    warnings are errors
#   POWKIT_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
#   POWKIT_FUZZ=1      the libFuzzer targets too (CC=clang)
#   CC                 the compiler (clang adds its UBSan checks)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DPOWKIT_WERROR="${POWKIT_WERROR:-0}" -DPOWKIT_SANITIZE="${POWKIT_SANITIZE:-0}" \
  -DPOWKIT_FUZZ="${POWKIT_FUZZ:-0}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
