# One target per job a person runs. Every target sets itself up (virtualenv, packages, local servers).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck template unit integration e2e bench clean install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# pip's site configuration may point at local mirrors that do not exist everywhere: hide that noise.
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m pip install --quiet -e '.[dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $(STAMP)

install: $(STAMP)

## The guard's main job, locally: see README "Quick start".
demo: $(STAMP)
	$(BIN)/sync-guard demo

## Everything CI checks: lint, format, types, the SAM template, and every test suite.
test: $(STAMP) lint typecheck template
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

template: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region eu-west-2

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
