# vpitracker: `make run` serves on http://127.0.0.1:8000 (PORT=, HOST= to change),
# `make test` runs the suite, `make lock` refreshes the hashed lock files.
PYTHON ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv
BIN := $(VENV)/bin
# Exact, hashed versions for deployment and CI; pyproject.toml keeps the ranges.
LOCK_RUNTIME := requirements/runtime.txt
LOCK_DEV := requirements/dev.txt
LOCK_BUILD := requirements/build.txt
RUNTIME := $(VENV)/.runtime
INSTALLED := $(VENV)/.installed
LINT_PATHS := src tests migrations $(wildcard bench)
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes

.PHONY: run test lint format openapi lock i18n bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The runtime only (what `make run` needs): no test or lint tools.
$(RUNTIME): $(LOCK_RUNTIME) $(LOCK_BUILD) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_RUNTIME)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_BUILD)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The runtime plus the test and lint tools.
$(INSTALLED): $(LOCK_DEV) $(LOCK_BUILD) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_BUILD)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(RUNTIME)

## Serve on SQLite in development mode (migrates; loads the demo on an empty database).
run: $(RUNTIME)
	VPI_ENV=development $(BIN)/vpitracker seed demo --if-empty
	VPI_ENV=development $(BIN)/vpitracker serve --host $(HOST) --port $(PORT)

## The whole suite (SQLite unless VPI_TEST_DATABASE_URL names a PostgreSQL database).
test: $(INSTALLED)
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

## Regenerate openapi/openapi.json from the app.
openapi: $(INSTALLED)
	VPI_ENV=development $(BIN)/vpitracker openapi

## Re-resolve the lock files from pyproject.toml (run it after adding a dependency).
lock: | $(BIN)/python
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet 'uv>=0.4'
	$(UV_COMPILE) pyproject.toml -o $(LOCK_RUNTIME)
	$(UV_COMPILE) pyproject.toml --extra test --extra lint -o $(LOCK_DEV)
	$(UV_COMPILE) requirements/build.in -o $(LOCK_BUILD)

## Extract strings into messages.pot, update the sw catalog, compile the .mo files.
LOCALE := src/vpitracker/locale
i18n: $(INSTALLED)
	$(BIN)/pybabel extract -F babel.cfg --no-location --no-wrap --sort-output --project=vpitracker \
		--copyright-holder="Kenya Civil Society Alliance" -o $(LOCALE)/messages.pot .
	test -f $(LOCALE)/sw/LC_MESSAGES/messages.po || \
		$(BIN)/pybabel init -i $(LOCALE)/messages.pot -d $(LOCALE) -l sw
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -l sw --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -d $(LOCALE) -l sw --statistics

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
