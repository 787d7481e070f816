#!/usr/bin/env bash
# The accelerator benchmark in one command, for a GPU machine with no package registry:
#   experiments/accelerator/run.sh OUT               # GPU, paper sizes, about 8 minutes
#   experiments/accelerator/run.sh --cpu-smoke OUT   # the same code paths on CPU, tiny sizes
# Extra arguments go to bench.py (--parts, --budget PART=SECONDS, --total-s).
# Where vitamin_jax's packages do not import, installs the wheels from $WHEELS (default: .whl in
# the checkout, filled by fetch_wheels.sh) into a private target on PYTHONPATH ($VITAMIN_SITE,
# default /tmp/vitamin-site); the machine's own jax, flax, optax... are used as they are.
# Python: ${PYTHON:-python3}.
set -euo pipefail

fail() { echo "run.sh: error: $*" >&2; exit 1; }
PROFILE=gpu
if [[ ${1:-} == --cpu-smoke ]]; then PROFILE=cpu-smoke; shift; fi
[[ $# -ge 1 && $1 != -* ]] || { echo "usage: $0 [--cpu-smoke] OUT [bench.py options]" >&2; exit 2; }
OUT=$1; shift
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-$ROOT/.whl}
SITE=${VITAMIN_SITE:-/tmp/vitamin-site}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [[ $PROFILE == cpu-smoke ]]; then
  export JAX_PLATFORMS=cpu
  export XLA_FLAGS=${XLA_FLAGS:---xla_backend_optimization_level=0}  # tiny programs: compile fast
fi

if "$PY" -c "import vitamin_jax, gymnasium, mujoco, minari, ml_collections" 2>/dev/null; then
  echo "run.sh: vitamin_jax's packages import with $PY; installing nothing"
else
  shopt -s nullglob
  wheels=("$WHEELS"/*.whl)
  (( ${#wheels[@]} )) || fail "vitamin_jax's packages do not import with $PY and $WHEELS holds no wheels; run experiments/accelerator/fetch_wheels.sh $WHEELS where PyPI is reachable and copy that folder here (or set WHEELS)"
  "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --upgrade --target "$SITE" \
    "${wheels[@]}" \
    || fail "pip could not install the ${#wheels[@]} wheels of $WHEELS into $SITE"
  export PYTHONPATH="$SITE:$PYTHONPATH"
  echo "run.sh: installed ${#wheels[@]} wheels from $WHEELS into $SITE"
fi
"$PY" -c "import jax, vitamin_jax.train; print(f'run.sh: vitamin_jax imports with jax {jax.__version__}')" \
  || fail "vitamin_jax does not import with $PY (PYTHONPATH=$PYTHONPATH); see the traceback above"
if [[ $PROFILE == gpu ]]; then  # jax falls back to the CPU with a warning: paper sizes there would only time out
  backend=$("$PY" -c "import jax; print(jax.default_backend(), jax.devices()[0].device_kind)" 2>/dev/null | tail -n 1 || true)
  [[ -n $backend && $backend != cpu* ]] || fail "jax finds no accelerator with $PY (backend: ${backend:-none}, JAX_PLATFORMS=${JAX_PLATFORMS:-unset}); on a CPU use --cpu-smoke"
  echo "run.sh: jax backend $backend"
fi
mkdir -p "$OUT"
exec "$PY" "$ROOT/experiments/accelerator/bench.py" --profile "$PROFILE" --out "$OUT" "$@"
