# `make test` and `make demo` install into .venv first when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JAX_PLATFORMS ?= cpu

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
	$(BIN)/python experiments/bench_step.py --json runs/bench.json

toy: $(STAMP)
	$(BIN)/python experiments/toy_mdp.py --out runs/toy_mdp

clean:
	rm -rf runs .pytest_cache
