#!/usr/bin/env bash
# The layer check on small trees made here: it must pass a tree whose
# includes point down and fail, naming file, line and include, on one that
# points up, one that points sideways, and a public header nobody owns.
set -euo pipefail
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-layers.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tree() { # a tree with base/, kernels/, validate/, host/, stratum/ and their headers
  rm -rf "$tmp/t" && mkdir -p "$tmp/t"/{base,kernels,validate,host,stratum,include/powkit}
  for m in base/util kernels/sha256 validate/verify host/device2 stratum/pool; do
    n=${m#*/}
    echo "/* $n */" >"$tmp/t/include/powkit/$n.h"
    printf '#include "powkit/%s.h"\n' "$n" >"$tmp/t/$m.c"
  done
}
expect_fail() { # what, the text the report must hold
  if out=$(bash "$check" "$tmp/t" 2>&1); then
    echo "FAIL: $1 passed the check"; exit 1
  fi
  grep -qF -- "$2" <<<"$out" || { echo "FAIL: $1: the report lacks '$2':"; echo "$out"; exit 1; }
  echo "ok: $1"
}

tree
printf '#include "powkit/util.h"\n#include "powkit/sha256.h"\n' >>"$tmp/t/validate/verify.c"
printf '#include "powkit/verify.h"\n#include "powkit/device2.h"\n' >>"$tmp/t/stratum/pool.c"
bash "$check" "$tmp/t" >/dev/null || { echo "FAIL: a tree pointing down was refused"; bash "$check" "$tmp/t"; exit 1; }
echo "ok: includes pointing down pass"

tree
printf '/* x */\n#include "powkit/pool.h"\n' >>"$tmp/t/kernels/sha256.c"
expect_fail "an include up" 'kernels/sha256.c:3: #include "powkit/pool.h": kernels/ (layer 2) may not include stratum/ (layer 4)'

tree
printf '#include "../host/x.h"\n' >>"$tmp/t/validate/verify.c"
echo "/* x */" >"$tmp/t/host/x.h"
expect_fail "an include sideways" 'validate/verify.c:2: #include "../host/x.h": validate/ (layer 3) may not include host/ (layer 3)'

tree
printf '#include "powkit/verify.h"\n' >>"$tmp/t/include/powkit/util.h"
expect_fail "a public header including a higher one" 'include/powkit/util.h:2: #include "powkit/verify.h": base/ (layer 1)'

tree
echo "/* orphan */" >"$tmp/t/include/powkit/orphan.h"
expect_fail "a header nobody owns" 'include/powkit/orphan.h: no folder owns it'
