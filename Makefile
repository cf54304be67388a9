# Flyer Studio: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test lint bench docs clean

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

bench: install
	$(BIN)/python bench/bench_compose.py

docs: install-test
	$(BIN)/python docs/make_docs.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
