#!/usr/bin/env bash
# Cross-builds powkit for arm64 (aarch64) with Debian's cross compiler and
# the :arm64 development packages (multiarch), and runs the unit tests
# under qemu-aarch64:
#   1. -cpu max: the SHA-2 Crypto Extensions are there, so the dispatcher
#      picks armsha; every ARM kernel and path is also tested by name;
#   2. POWKIT_DISABLE=armsha: the NEON kernel and multi-buffer paths;
#   3. POWKIT_DISABLE=armsha,neon: the portable ones.
# (qemu 7.2's CPU models all carry the SHA-2 instructions, so passes 2 and
# 3 switch them off the way a user would.)  The bcoin regtest, Stratum and
# OpenCL suites stay x86-64: they test the host's protocol code, which is
# the same C on both.
# Criterion runs each test in a child process of its own, so arm64
# programs must start from exec as well: the script registers qemu for
# arm64 ELF files with binfmt_misc (root).
set -euo pipefail
cd "$(dirname "$0")/.."
# --prepare: only the packages, binfmt and Criterion; --run: only the build
# and the tests (prepared before; CI runs them beside its other phases).
stage=${1:-all}
case $stage in all|--prepare|--run) ;; *) echo "usage: scripts/cross-arm64.sh [--prepare|--run]" >&2; exit 2 ;; esac
if [ "$stage" != --run ]; then # (not indented: the here-document below)
bash scripts/install-deps.sh --tests

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
# Criterion's arm64 library is not co-installable with the native one
# (Debian's amd64 and arm64 builds of libnanomsg5 differ in version), so
# it is unpacked into the build folder below instead; its other
# dependencies install normally.
pkgs=(gcc-aarch64-linux-gnu qemu-user qemu-user-binfmt libc6-dev:arm64 libjansson-dev:arm64 libuv1-dev:arm64
      libssl-dev:arm64 libcurl4-openssl-dev:arm64 libsecp256k1-dev:arm64 liblmdb-dev:arm64 libleveldb-dev:arm64 libgmp-dev:arm64 libgit2-1.5:arm64
      libffi8:arm64)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
  fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e $binfmt/register ]; then
  $SUDO mount -t binfmt_misc binfmt_misc $binfmt
fi
if [ ! -e $binfmt/qemu-aarch64 ]; then
  $SUDO sh -c "cat /usr/lib/binfmt.d/qemu-aarch64.conf > $binfmt/register"
fi

BUILD_DIR=${BUILD_DIR:-build-arm64}
mkdir -p "$BUILD_DIR"
crit=$PWD/$BUILD_DIR/criterion-arm64
lib=$crit/usr/lib/aarch64-linux-gnu
if [ ! -e "$lib/libcriterion.so.3" ]; then
  rm -rf "$crit" && mkdir -p "$crit/debs"
  (cd "$crit/debs" && apt-get download libcriterion3:arm64 libnanomsg5:arm64)
  for d in "$crit"/debs/*.deb; do dpkg-deb -x "$d" "$crit"; done
  ln -sf libcriterion.so.3 "$lib/libcriterion.so"
fi
# Its headers are the native package's (the same files); pkg-config finds
# the library here.
mkdir -p "$crit/pkgconfig"
cat > "$crit/pkgconfig/criterion.pc" <<PC
Name: criterion
Description: Criterion for arm64, unpacked for the cross build
Version: $(dpkg-query -W -f='${Version}' libcriterion-dev | cut -d- -f1)
Libs: -L$lib -lcriterion -Wl,-rpath-link,$lib
Cflags:
PC
fi
[ "$stage" = --prepare ] && exit 0
BUILD_DIR=${BUILD_DIR:-build-arm64}
crit=$PWD/$BUILD_DIR/criterion-arm64
lib=$crit/usr/lib/aarch64-linux-gnu
export PKG_CONFIG_PATH=$crit/pkgconfig
cmake -S . -B "$BUILD_DIR" -DCMAKE_TOOLCHAIN_FILE="$PWD/scripts/aarch64-linux-gnu.cmake" \
      -DCMAKE_BUILD_TYPE=Release -DPOWKIT_WERROR=ON
tests=(sha256 kernels dispatch host poolwork workcore validate verify sigcheck consensus native cli)
cmake --build "$BUILD_DIR" -j"$(nproc)" --target powkit_cli test_batch $(printf 'test_%s ' "${tests[@]}")
readelf -h "$BUILD_DIR/powkit" | grep -q AArch64 || { echo "$BUILD_DIR/powkit is not an arm64 program" >&2; exit 1; }

cd "$BUILD_DIR"
export POWKIT_CACHE_DIR=$PWD/cache QEMU_CPU=max LD_LIBRARY_PATH=$lib
all=$(IFS='|'; echo "${tests[*]}")
ctest --output-on-failure -R "^($all)\$"
# BIP340 batches: every size and method, large batches, the vectors inside
# batches; not the invalid signature in every position of every batch (12 s
# natively, minutes emulated, and the same C as on x86-64).
./test_batch --jobs 2 --filter 'batch/!(bad_signatures_in_every_position)'
# (The kernel, dispatch and CLI suites name every kernel themselves: pass 1
# ran them all.)
POWKIT_DISABLE=armsha ctest --output-on-failure -R '^(sha256|host|validate|verify)$'
POWKIT_DISABLE=armsha,neon ctest --output-on-failure -R '^(sha256|dispatch|host|validate)$'
