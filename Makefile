# Canbao — the two commands: `make demo` and `make test` (fresh Debian 12, as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/system-deps.sh Makefile | sha1sum | cut -c1-12)
DEMO_DIR ?= demo-output

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/canbao demo --out $(DEMO_DIR) $(if $(filter 1,$(CANBAO_NO_SERVE)),,--serve)

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: lint
	bash scripts/test-services.sh
	$(BIN)/python -m pytest -q --durations=25 -n 2 --dist loadfile

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) canbao-data .pytest_cache .mypy_cache .ruff_cache
