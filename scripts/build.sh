#!/usr/bin/env bash
# Configures and builds powkit.  BUILD_DIR (default build), and
#   POWKIT_WERROR=1    warnings are errors
#   POWKIT_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
#   POWKIT_FUZZ=1      the libFuzzer targets too (CC=clang)
#   POWKIT_TESTS=0     not the tests (they need Criterion)
#   CC                 the compiler (clang adds its UBSan checks)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DPOWKIT_WERROR="${POWKIT_WERROR:-0}" -DPOWKIT_SANITIZE="${POWKIT_SANITIZE:-0}" \
  -DPOWKIT_FUZZ="${POWKIT_FUZZ:-0}" -DPOWKIT_TESTS="${POWKIT_TESTS:-1}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
