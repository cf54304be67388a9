# Flyer Studio: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-diffusers install install-test lint bench bench-pool bench-replicas docs settings-docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps inside the venv: the (editable) install runs again only when pyproject.toml changes,
# so `make run` restarts in seconds.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## make run: install and start the studio on http://127.0.0.1:7860 (offline generator by default)
run: install
	$(BIN)/flyer-studio serve

## make test: install the test extra and run the whole suite (lint and types included)
test: install-test
	$(BIN)/ruff check pipeline studio tests bench docs app.py
	$(BIN)/mypy
	$(BIN)/python -m pytest

## make test-diffusers: the in-process backend through a tiny random-weights diffusers pipeline,
## on CPU, in its own virtual environment (torch is too heavy for the main one and CI)
DIFFUSERS_VENV ?= .venv-diffusers
$(DIFFUSERS_VENV)/bin/python:
	$(PYTHON) -m venv $(DIFFUSERS_VENV)
	$(DIFFUSERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DIFFUSERS_VENV)/bin/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu || $(DIFFUSERS_VENV)/bin/python -m pip install --quiet torch
	$(DIFFUSERS_VENV)/bin/python -m pip install --quiet -e '.[diffusers,test]'

test-diffusers: $(DIFFUSERS_VENV)/bin/python
	$(DIFFUSERS_VENV)/bin/python -m pytest tests/diffusers_tiny -p no:cacheprovider

bench-pool: install
	$(BIN)/python bench/bench_pool.py

bench-replicas: install-test
	$(BIN)/python bench/bench_replicas.py

bench: install
	$(BIN)/python bench/bench_compose.py

## make settings-docs: rewrite env.example and the README's settings table from the
## declarations in pipeline/settings.py and pipeline/backend_settings.py
settings-docs: install
	$(BIN)/python -m pipeline.settings_docs --write

docs: install-test settings-docs
	$(BIN)/python docs/make_docs.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
