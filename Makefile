# Two commands: `make run` (migrate, demo data, serve) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck contracts install clean browser bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# The demo's merchant accounts charge the sandboxes `serve` mounts, so they need its address.
run: export AVNZ_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/avnz migrate
	$(BIN)/avnz demo
	$(BIN)/avnz serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: install
	$(BIN)/mypy

# The end-to-end tests drive Debian's Chromium (Playwright downloads no browser).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The architecture contracts in pyproject.toml ([tool.importlinter], docs/architecture.md).
contracts: install
	$(BIN)/lint-imports --no-cache

test: lint typecheck contracts browser
	$(BIN)/pytest

# Every benchmark prints its figures (docs/performance.md records them); payments.py and
# floor.py need PostgreSQL on 127.0.0.1:5432 as `postgres` (BENCH_ARGS=--databases=sqlite skips
# it in payments.py).
bench: install
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/selection.py
	$(BIN)/python bench/vault.py
	$(BIN)/python bench/payments.py $(BENCH_ARGS)
	$(BIN)/python bench/floor.py

clean:
	rm -rf $(VENV) .avnz .pytest_cache .mypy_cache .ruff_cache
