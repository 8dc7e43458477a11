# mmhfpl developer commands. `make test` and `make demo` set everything up first.
# VENV and MMHFPL_CACHE may be relative, absolute or contain spaces.
PYTHON ?= python3.11
VENV ?= .venv
PY = "$(VENV)/bin/python"
# OpenMP threads spin briefly before sleeping, so jobs sharing the CPU (the suite beside a
# demo, dCRF workers) do not slow each other down tenfold (benchmarks/bench_oversubscription.py).
export GOMP_SPINCOUNT ?= 10000
TOY_ROOT ?= data/toy_voc_v2
DEMO_DIR ?= work_dirs/pipeline_toy_v2

.PHONY: setup lint test demo clean

setup:
	@VENV="$(VENV)" PYTHON="$(PYTHON)" bash tools/setup_env.sh

lint: setup
	$(PY) -m ruff check .

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

demo: setup
	$(PY) tools/run_pipeline.py --work-dir "$(DEMO_DIR)" --data-root "$(TOY_ROOT)"

clean:
	rm -rf "$(VENV)" work_dirs .pytest_cache .ruff_cache
