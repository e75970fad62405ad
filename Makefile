# vpitracker: `make run` serves on http://127.0.0.1:8000, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LINT_PATHS := src tests migrations $(wildcard bench)

.PHONY: run test lint format openapi bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $(INSTALLED)

## Serve on SQLite in development mode (migrates; loads the demo on an empty database).
run: $(INSTALLED)
	VPI_ENV=development $(BIN)/vpitracker seed demo --if-empty
	@echo "Scorecard (web pages): http://127.0.0.1:8000/   API docs: http://127.0.0.1:8000/docs"
	@echo "Demo sign-ins (password vpi-demo-password): grace.wanjiru@demo.vpitracker.org (secretariat),"
	@echo "  joseph.mutua@demo.vpitracker.org (officer, CTIPS), amina.said@demo.vpitracker.org (member)"
	VPI_ENV=development $(BIN)/vpitracker serve --host 127.0.0.1 --port 8000

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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
