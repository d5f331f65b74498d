#!/usr/bin/env bash
# Installs the Debian packages powkit builds and runs with.
#   --tests  also what the tests need: Criterion, clang with its sanitizer
#            and libFuzzer runtimes, llvm (symbolized reports), GMP (an
#            oracle), bash-completion (the completion check), Chromium (the
#            status page, headless), and the bcoin regtest node from the npm
#            registry (Node.js from Debian).
# Idempotent: packages already installed are skipped without apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
for a in "$@"; do
  case $a in
    --tests) tests=1 ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
  esac
done

pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libjansson-dev libuv1-dev libssl-dev libcurl4-openssl-dev
  libsecp256k1-dev liblmdb-dev libleveldb-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
)
if [ $tests = 1 ]; then
  pkgs+=(libcriterion-dev clang libclang-rt-14-dev llvm libgmp-dev bash-completion chromium)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
# Installed for this machine's architecture (or for all): with arm64
# packages beside them (scripts/cross-arm64.sh) a bare name may match those.
native=$(dpkg --print-architecture)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Architecture} ${db:Status-Abbrev}\n' "$p" 2>/dev/null | grep -qE "^($native|all) ii" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The bcoin regtest node the solo-mining tests run against (npm registry),
# with Debian's Node.js unless a node and npm are already there (another
# distribution's nodejs bundles npm and conflicts with Debian's).
if [ $tests = 1 ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
fi
if [ $tests = 1 ] && [ ! -d tests/node/node_modules/bcoin ]; then
  (cd tests/node && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi
