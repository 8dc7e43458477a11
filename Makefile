# mmhfpl developer commands. `make test` and `make demo` set everything up first.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
TOY_ROOT ?= data/toy_voc
DEMO_DIR ?= work_dirs/demo

.PHONY: setup lint test demo toy clean

setup:
	@VENV=$(VENV) PYTHON=$(PYTHON) bash tools/setup_env.sh

lint: setup
	$(PY) -m ruff check .

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

toy: setup
	@if [ -f $(TOY_ROOT)/toy_meta.json ]; then echo "[demo] toy set present in $(TOY_ROOT)"; \
	else $(PY) tools/make_toy_voc.py $(TOY_ROOT); fi

demo: toy
	$(PY) tools/train.py configs/toy/multilabel_r18_toy.py --work-dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) work_dirs .pytest_cache .ruff_cache
