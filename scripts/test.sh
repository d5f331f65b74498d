#!/usr/bin/env bash
# Installs what the tests need (Debian packages, the bcoin node from npm),
# builds powkit with warnings as errors into build-test/ and runs the whole
# test suite.
#   POWKIT_SANITIZE=1  the same under AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
if [ "${POWKIT_SANITIZE:-0}" = 1 ]; then
  export BUILD_DIR=${BUILD_DIR:-build-asan}
  # clang: its UBSan flavour (pointer overflow, implicit truncations), and
  # the same build gives the fuzz targets (scripts/fuzz.sh).
  if command -v clang >/dev/null 2>&1; then
    export CC=${CC:-clang} POWKIT_FUZZ=${POWKIT_FUZZ:-1}
  fi
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
export BUILD_DIR=${BUILD_DIR:-build-test}
# The bcoin-made regtest chain the chain tests read (tests/node/chain.js):
# made once, for the release and the sanitizer builds alike.
export POWKIT_TEST_CHAIN=${POWKIT_TEST_CHAIN:-$PWD/build-data/chain-regtest.hex}
# Tests write the kernel-pick cache here, never into the user's own.
export POWKIT_CACHE_DIR=${POWKIT_CACHE_DIR:-$PWD/$BUILD_DIR/cache}
POWKIT_WERROR=1 bash scripts/build.sh
cd "$BUILD_DIR"
ctest --output-on-failure
# The verification suites again with the IFMA engine switched off (the
# default falls back to libsecp256k1: nothing may depend on the lanes; BIP340
# batches run their multi-scalar multiplication on the portable code), and
# with the portable engine as the default (BIP341's vectors, the bcoin
# block, every template kind through each engine).
# (Under the sanitizers batch's run stays the release pass's: its
# portable multi-scalar multiplication takes two minutes there.)
# Without IFMA on this CPU the default is that fallback already: the pass
# would repeat the one above.
if ! grep -qw avx512ifma /proc/cpuinfo 2>/dev/null; then
  echo "no AVX-512 IFMA on this CPU: the suites above ran on the fallback engines already"
elif [ "${POWKIT_SANITIZE:-0}" = 1 ]; then
  POWKIT_DISABLE=ifma ctest --output-on-failure -R '^(validate|verify|sigcheck|consensus|native|cli)$'
else
  POWKIT_DISABLE=ifma ctest --output-on-failure -R '^(validate|verify|sigcheck|consensus|native|batch|cli|script)$'
fi
POWKIT_ENGINE=portable ctest --output-on-failure -R '^(validate|verify|sigcheck|consensus|cli)$'
