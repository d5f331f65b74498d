#!/usr/bin/env bash
# What a user of the installed powkit meets, checked on a finished build
# (BUILD_DIR, default build-test):
#  - `cmake --install` into a temporary prefix, and with DESTDIR: every
#    file where it belongs; the shared library exports only pk_ symbols;
#  - examples/verify_block.c built against the installed tree with
#    pkg-config (shared and static) and with find_package(powkit), and run
#    on the test block;
#  - the installed powkit runs (version, selftest), every man page renders
#    without warnings, the bash completion completes, the systemd unit
#    passes `systemd-analyze verify` (where systemd is present);
#  - a .deb from CPack: its contents and dependencies, then installed with
#    dpkg -i (as root; inspected only otherwise) and run from /usr/bin;
#  - a configure without Criterion succeeds, says so, and builds.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${BUILD_DIR:-build-test}
[ -x "$build/powkit" ] || { echo "no build in $build (run scripts/test.sh first)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/powkit-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export POWKIT_CACHE_DIR=$tmp/cache
block=$src/tests/data/block413567.raw
fail() { echo "check-install: $*" >&2; exit 1; }
step() { echo "-- $*"; }

step "cmake --install --prefix"
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(sed -n 's/^libdir=${prefix}\///p' "$build/powkit.pc")
for f in bin/powkit "$libdir/libpowkit.a" "$libdir/libpowkit.so" "$libdir/libpowkit.so.0" \
         include/powkit/validate.h include/powkit/export.h include/powkit/version.h \
         "$libdir/pkgconfig/powkit.pc" "$libdir/pkgconfig/powkit-static.pc" "$libdir/cmake/powkit/powkitConfig.cmake" \
         "$libdir/cmake/powkit/powkitConfigVersion.cmake" "$libdir/cmake/powkit/powkitTargets.cmake" \
         share/man/man1/powkit.1 share/man/man1/powkit-mine.1 share/bash-completion/completions/powkit \
         lib/systemd/system/powkit.service share/doc/powkit/examples/powkit.json \
         share/doc/powkit/examples/verify_block.c share/doc/powkit/LICENSE; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$prefix/$libdir/libpowkit.so.0")" = libpowkit.so.0.1.0 ] || fail "SONAME link"
objdump -p "$prefix/$libdir/libpowkit.so.0" | grep -q 'SONAME *libpowkit.so.0$' || fail "SONAME"
grep -q "^ExecStart=$prefix/bin/powkit mine --config /etc/powkit/powkit.json$" "$prefix/lib/systemd/system/powkit.service" ||
  fail "the unit does not name the installed binary"
exported=$(nm -D --defined-only "$prefix/$libdir/libpowkit.so.0" | awk '{print $3}')
others=$(echo "$exported" | grep -v '^pk_' || true)
[ -z "$others" ] || fail "exported without the pk_ prefix: $others"
echo "   $(echo "$exported" | wc -l) symbols exported, all pk_"

step "DESTDIR"
DESTDIR=$tmp/dest cmake --install "$build" --prefix /opt/powkit >/dev/null
[ -x "$tmp/dest/opt/powkit/bin/powkit" ] || fail "DESTDIR: no bin/powkit"
grep -q '^ExecStart=/opt/powkit/bin/powkit ' "$tmp/dest/opt/powkit/lib/systemd/system/powkit.service" ||
  fail "DESTDIR: the unit must name the final path, not the staging one"

step "the installed powkit"
"$prefix/bin/powkit" version
"$prefix/bin/powkit" selftest >/dev/null || fail "installed selftest"

step "example with pkg-config (shared, then static)"
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
cp -r "$prefix/share/doc/powkit/examples" "$tmp/ex"
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -Werror -o "$tmp/vb-pc" "$tmp/ex/verify_block.c" $(pkg-config --cflags --libs powkit) \
  -Wl,-rpath,"$prefix/$libdir"
ldd "$tmp/vb-pc" | grep -q "$prefix/$libdir/libpowkit.so.0" || fail "pkg-config build does not use the installed libpowkit.so"
"$tmp/vb-pc" "$block" | tail -n 1 | grep -qx VALID || fail "pkg-config example"
make -s -C "$tmp/ex" STATIC=1 CFLAGS="-O2 -Wall -Wextra -Werror" >/dev/null
ldd "$tmp/ex/verify_block" | grep -q libpowkit && fail "STATIC=1 build links libpowkit.so"
"$tmp/ex/verify_block" "$block" | tail -n 1 | grep -qx VALID || fail "static pkg-config example"

step "example with find_package(powkit)"
cmake -S "$prefix/share/doc/powkit/examples" -B "$tmp/ex-cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$tmp/ex-cmake" >/dev/null
"$tmp/ex-cmake/verify_block" "$block" | tail -n 1 | grep -qx VALID || fail "find_package example"
# A changed byte in the header's merkle root: invalid, exit status 1.
cp "$block" "$tmp/bad.raw"
printf '\x00' | dd of="$tmp/bad.raw" bs=1 seek=40 conv=notrunc status=none
set +e
"$tmp/ex-cmake/verify_block" "$tmp/bad.raw" >/dev/null
rc=$?
set -e
[ $rc = 1 ] || fail "the example on a broken block exited $rc, not 1"

step "man pages render without warnings"
for m in "$prefix"/share/man/man1/*.1; do
  warn=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
  [ -z "$warn" ] || fail "$m: $warn"
  MANWIDTH=80 man -l "$m" 2>&1 >/dev/null | grep . && fail "man -l $m warns"
done
echo "   $(ls "$prefix"/share/man/man1/*.1 | wc -l) pages"

step "bash completion"
if [ -f /usr/share/bash-completion/bash_completion ]; then
  got=$(bash -c 'source /usr/share/bash-completion/bash_completion
                 source "$1"
                 COMP_WORDS=(powkit mine --no-v); COMP_CWORD=2; COMP_LINE="powkit mine --no-v"; COMP_POINT=${#COMP_LINE}
                 _powkit; echo "${COMPREPLY[*]}"
                 COMP_WORDS=(powkit verify-); COMP_CWORD=1; COMP_LINE="powkit verify-"; COMP_POINT=${#COMP_LINE}
                 _powkit; echo "${COMPREPLY[*]}"' _ \
        "$prefix/share/bash-completion/completions/powkit")
  echo "$got" | grep -q -- '--no-version-rolling --no-version-lanes' || fail "completion of mine --no-v: $got"
  echo "$got" | grep -q 'verify-block verify-chain verify-headers verify-sigs' || fail "completion of verify-: $got"
else
  echo "   skipped: no bash-completion"
fi

step "systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants the unit's binary at its path: check the unit as installed
  # here (its man pages are not on the system's path: --man=no; the .deb's
  # unit is verified with them below).
  out=$(systemd-analyze verify --man=no "$prefix/lib/systemd/system/powkit.service" 2>&1) || fail "systemd-analyze: $out"
  [ -z "$out" ] || fail "systemd-analyze warns: $out"
  echo "   systemd-analyze verify: clean"
else
  echo "   skipped: no systemd-analyze"
fi

step "Debian package"
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/powkit_*.deb)
ver=$(sed -n 's/^Version: //p' "$build/powkit.pc")
[ "$(basename "$deb")" = "powkit_${ver}_$(dpkg --print-architecture).deb" ] || fail "package name $(basename "$deb")"
info=$(dpkg-deb -I "$deb")
depends=$(echo "$info" | sed -n 's/^ Depends: //p')
for d in libsecp256k1 liblmdb0 libleveldb1d libuv1 libjansson4 libcurl4 libssl3 libc6; do
  echo "$depends" | grep -q "$d" || fail "Depends lacks $d: $depends"
done
echo "   Depends: $depends"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/powkit ./usr/include/powkit/validate.h ./usr/lib/systemd/system/powkit.service \
         ./usr/share/man/man1/powkit.1 ./usr/share/bash-completion/completions/powkit; do
  echo "$contents" | grep -q " $f$" || fail "the package lacks $f"
done
echo "$contents" | grep -q '/libpowkit.so.0.1.0$' || fail "the package lacks libpowkit.so.0.1.0"
if [ "$(id -u)" = 0 ] && [ -z "$(dpkg-query -W -f='${Status}' powkit 2>/dev/null | grep ' installed')" ]; then
  dpkg -i "$deb" >/dev/null
  /usr/bin/powkit version | head -n 1
  /usr/bin/powkit selftest >/dev/null || { dpkg -r powkit >/dev/null; fail "selftest from /usr/bin"; }
  man -w powkit-mine >/dev/null || { dpkg -r powkit >/dev/null; fail "man powkit-mine not found"; }
  if command -v systemd-analyze >/dev/null 2>&1; then
    out=$(systemd-analyze verify /usr/lib/systemd/system/powkit.service 2>&1) ||
      { dpkg -r powkit >/dev/null; fail "systemd-analyze on the package's unit: $out"; }
  fi
  [ "$(PKG_CONFIG_PATH='' pkg-config --modversion powkit)" = "$ver" ] ||
    { dpkg -r powkit >/dev/null; fail "pkg-config does not find the installed powkit"; }
  dpkg -r powkit >/dev/null
  echo "   installed, ran version and selftest from /usr/bin, removed"
else
  echo "   not installed (needs root and no powkit installed); contents and control checked"
fi

step "configure without Criterion, and without the x86-64 SIMD code (what other architectures build)"
# Every pkg-config module but Criterion's: the tests are skipped, said so.
mkdir -p "$tmp/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
  [ -d "$d" ] && find "$d" -maxdepth 1 -name '*.pc' ! -name 'criterion.pc' -exec ln -sf {} "$tmp/pc/" \;
done
out=$(PKG_CONFIG_LIBDIR=$tmp/pc PKG_CONFIG_PATH='' cmake -S . -B "$tmp/nocrit" -DCMAKE_BUILD_TYPE=Release \
      -DPOWKIT_WERROR=ON -DPOWKIT_X86_SIMD=OFF 2>&1) || fail "configure without Criterion failed: $out"
echo "$out" | tr -s " \n" " " | grep -q "Criterion (libcriterion-dev) not found: building everything but the tests" ||
  fail "configure without Criterion did not say so"
cmake --build "$tmp/nocrit" -j "$(nproc)" >/dev/null
ls "$tmp/nocrit" | grep -q '^test_' && fail "tests built without Criterion"
"$tmp/nocrit/powkit" version | grep -qx 'kernels       ref' || fail "a portable build with more than ref"
"$tmp/nocrit/powkit" selftest >/dev/null || fail "portable selftest"
"$tmp/nocrit/verify_block" "$block" | tail -n 1 | grep -qx VALID || fail "portable verify_block"
objdump -d "$tmp/nocrit/powkit" | grep -qE 'sha256rnds2|%zmm|%ymm' && fail "x86-64 SIMD code in the portable build"
echo "   built; ref kernel and portable engines only; selftest and the example pass"
echo "check-install: all good"
