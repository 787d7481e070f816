# `make test` and `make demo` install into .venv first when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JAX_PLATFORMS ?= cpu
# tcmalloc, where installed, for the benchmarks: glibc re-faults the update's temporaries every
# update (docs/design.md#where-the-time-goes; the CLI and the sweep preload it themselves,
# vitamin_jax/allocator.py). Empty when absent; `make TCMALLOC= bench` to skip.
TCMALLOC ?= $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4))
PRELOAD := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC))

.PHONY: install test demo bench toy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=25 tests

# TD3+ODT and ODT from the same generated halfcheetah random set (configs/demo.py), then the report.
demo: $(STAMP)
	$(BIN)/python -m vitamin_jax.sweep --config=configs/demo.py --presets=halfcheetah-random \
		--algos=td3_odt,odt --seeds=0 --max-parallel=2 --out=runs/demo --config.log.progress_bar=False
	$(BIN)/python -m vitamin_jax.report runs/demo

bench: $(STAMP)
	$(PRELOAD) $(BIN)/python experiments/bench_step.py --json runs/bench.json
	$(PRELOAD) $(BIN)/python experiments/bench_rollout.py --json runs/bench_rollout.json

toy: $(STAMP)
	$(BIN)/python experiments/toy_mdp.py --out runs/toy_mdp

clean:
	rm -rf runs .pytest_cache
