#!/usr/bin/env bash
# Installs the Debian packages powkit builds, tests and runs with (clang and
# its sanitizer and libFuzzer runtimes for the sanitizer build and the fuzz
# targets; llvm for symbolized reports).
# Idempotent: packages already installed are skipped without apt-get.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libcriterion-dev libjansson-dev libuv1-dev libssl-dev libcurl4-openssl-dev
  libsecp256k1-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
  clang libclang-rt-14-dev llvm libgmp-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The bcoin regtest node the solo-mining tests run against (npm registry).
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
fi
if [ ! -d tests/node/node_modules/bcoin ]; then
  (cd tests/node && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi
