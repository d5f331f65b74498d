#!/usr/bin/env bash
# Keeps the tree's layers pointing one way: reads every #include "..." of
# the library's folders and of the public headers and fails on an include
# from a lower layer to a higher one, or between two folders of one layer.
# Prints each offending file, line and include; exit status 1 then.
#   scripts/check-layers.sh [TREE]
#
#   1 base      hex, logging, errors, version, build facts
#   2 kernels   SHA-256 and the nonce-scan kernels, CPU detection, dispatch
#   3 validate  blocks, headers, sighashes, scripts, the signature engines
#   3 host      the device runtime: devices, dispatcher, stats, the APIs
#   4 stratum   the work sources: pools, the node, the proxy, their core
#   5 chain     the chain validator: UTXO store, contextual rules, sources
#   5 miner     the miner wiring sources to devices, the bench runner
#   6 cli       the commands
#   6 bench     the benchmark programs
# tests/ and examples/ sit on top and may include anything.
#
# A public header include/powkit/X.h belongs to the folder holding X.c;
# the headers with no X.c are named in OWNER below.  A new public header
# with neither is an error, so that every header has a place.
set -euo pipefail
# The tree to check: this project, or the folder given (the self-test).
cd "${1:-$(dirname "$0")/..}"

declare -A LAYER=([base]=1 [kernels]=2 [validate]=3 [host]=3 [stratum]=4 [chain]=5 [miner]=5 [cli]=6 [bench]=6)
declare -A OWNER=([error]=base [export]=base [kernel]=kernels [device]=host [opencl]=host [validate]=validate
                  [script]=validate)

fail=0
declare -A SOURCE_IN # X of a library X.c -> its folder ("!" when in two)
lib=()
for d in "${!LAYER[@]}"; do
  [ "${LAYER[$d]}" -le 5 ] && [ -d "$d" ] && lib+=("$d") # the commands and benchmarks own no library header
done
while IFS= read -r f; do
  name=${f##*/} d=${f%%/*}; name=${name%.c}
  if [ -n "${SOURCE_IN[$name]:-}" ] && [ "${SOURCE_IN[$name]}" != "$d" ]; then SOURCE_IN[$name]="!"; else SOURCE_IN[$name]=$d; fi
done < <(find "${lib[@]}" -name '*.c')
declare -A HOME_OF # public header name -> folder
for h in include/powkit/*.h; do
  name=${h##*/}; name=${name%.h}
  folder=${OWNER[$name]:-${SOURCE_IN[$name]:-}}
  if [ "$folder" = "!" ]; then
    echo "$h: $name.c is in two folders: name its owner in scripts/check-layers.sh's OWNER"
    fail=1
    continue
  fi
  if [ -z "$folder" ]; then
    echo "$h: no folder owns it (no $name.c): name its owner in scripts/check-layers.sh's OWNER"
    fail=1
    continue
  fi
  HOME_OF[$name]=$folder
done

# dir/inc with its . and .. resolved, without a process per include.
resolve() {
  local -a out=()
  local part rest="$1/$2"
  while [ -n "$rest" ]; do
    part=${rest%%/*}
    [ "$part" = "$rest" ] && rest="" || rest=${rest#*/}
    case $part in
      ''|.) ;;
      ..) [ ${#out[@]} -gt 0 ] && out=("${out[@]:0:${#out[@]}-1}") ;;
      *) out+=("$part") ;;
    esac
  done
  local IFS=/
  echo "${out[*]}"
}

check_file() { # file, its folder
  local f=${1#./} from=$2 n=0 line inc target to
  while IFS= read -r line; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
    inc=${BASH_REMATCH[1]}
    if [[ $inc == powkit/* ]]; then
      target=${inc##*/}; target=${target%.h}
      to=${HOME_OF[$target]:-}
      [ -n "$to" ] || { echo "$f:$n: #include \"$inc\": no such public header"; fail=1; continue; }
    else
      # Relative to the including file, as the preprocessor looks first.
      target=$(resolve "${f%/*}" "$inc")
      [ -e "$target" ] || continue # a generated or system header
      to=${target%%/*}
      [ -n "${LAYER[$to]:-}" ] || continue
    fi
    [ "$to" = "$from" ] && continue
    if [ "${LAYER[$to]}" -ge "${LAYER[$from]}" ]; then
      echo "$f:$n: #include \"$inc\": $from/ (layer ${LAYER[$from]}) may not include $to/ (layer ${LAYER[$to]})"
      fail=1
    fi
  done <"$f"
}

for d in "${!LAYER[@]}"; do
  [ -d "$d" ] || continue
  while IFS= read -r f; do
    check_file "$f" "$d"
  done < <(find "$d" -name '*.[ch]' | sort)
done
for h in include/powkit/*.h; do
  name=${h##*/}; name=${name%.h}
  [ -n "${HOME_OF[$name]:-}" ] && check_file "$h" "${HOME_OF[$name]}"
done

if [ $fail = 0 ]; then
  echo "layers: every include points down (${#HOME_OF[@]} public headers placed)"
fi
exit $fail
