#!/usr/bin/env bash
# Usage: experiments/accelerator/fetch_wheels.sh [DIR]
# Downloads into DIR (default: .whl in the checkout, git-ignored) the cp312 manylinux x86_64
# wheels listed in wheels.txt: what the GPU machine lacks, fetched where a registry is
# reachable, since that machine has none. Prints the total size; exits non-zero with one line if a wheel is
# missing, DIR holds other wheels, DIR would be committed, or the total is over 60 MiB (what
# fits beside the checkout in the device tool's 64 MiB carry).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-$(dirname "$(dirname "$HERE")")/.whl}
PY=${PYTHON:-python3}
LIMIT_MIB=60
fail() { echo "fetch_wheels: error: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

[[ -d $DIR ]] || { mkdir -p "$DIR"; made=1; }
if git -C "$DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git -C "$DIR" check-ignore -q .; then
  [[ -z ${made:-} ]] || rmdir "$DIR"
  fail "$DIR is inside a git work tree and not ignored; use a git-ignored folder such as .whl"
fi

mapfile -t SPECS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$HERE/wheels.txt")
wanted=()
for spec in "${SPECS[@]}"; do
  # pip keeps a file it already has, so a rerun downloads only what is new
  if ! log=$("$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 \
      --platform manylinux1_x86_64 -d "$DIR" "$spec" 2>&1); then
    fail "no cp312 manylinux x86_64 wheel of $spec: $(echo "$log" | grep -v '^WARNING' | tail -n 1)"
  fi
  # a wheel's file name spells the project name with underscores, in any case
  pattern="$(echo "${spec%%==*}" | tr -- '-.' '__')-${spec#*==}-*.whl"
  mapfile -t found < <(find "$DIR" -maxdepth 1 -type f -iname "$pattern" -printf '%f\n')
  (( ${#found[@]} == 1 )) || fail "expected one wheel of $spec in $DIR, found ${#found[@]}: ${found[*]:-none}"
  wanted+=("${found[0]}")
done

others=$(find "$DIR" -maxdepth 1 -type f -name '*.whl' -printf '%f\n' | grep -vxF -f <(printf '%s\n' "${wanted[@]}") || true)
[[ -z $others ]] || fail "$DIR holds wheels not in wheels.txt, which run.sh would install too: $(echo $others)"

bytes=0
for f in "${wanted[@]}"; do
  size=$(stat -c %s "$DIR/$f")
  bytes=$((bytes + size))
  printf '%8s MiB  %s\n' "$(mib "$size")" "$f"
done
echo "total $(mib "$bytes") MiB in ${#wanted[@]} wheels in $DIR"
(( bytes <= LIMIT_MIB * 1048576 )) || fail "the wheels total $(mib "$bytes") MiB, over the $LIMIT_MIB MiB limit"
