# RealEyez. `make run` trains on embedded defaults; `make test` is what CI runs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ENV ?= staging

# Offline, telemetry-free, and no state under $HOME (see README "Configuration").
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PREFECT_HOME ?= $(CURDIR)/.prefect
export KERAS_HOME ?= $(CURDIR)/.keras
export DVC_SITE_CACHE_DIR ?= $(CURDIR)/.dvc/tmp/site-cache

.PHONY: install run test test-all lint format security repro bench bench-dvc images tf-plan tf-apply tf-validate clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed  ## create .venv with the pinned dependencies

run: install  ## the main job: import the CIFAKE sample if data/ is empty, then run the training flow
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/realeyez run

test: install  ## the default test suite (code, data and model tiers; no slow tests)
	$(BIN)/pytest

test-all: install  ## every test, slow ones included
	$(BIN)/pytest -m ''

lint: install  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

repro: install  ## rerun dvc.yaml's stages whose data, code or params changed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

bench: install  ## manifest + validation of the 100k split, CPU training throughput (docs/benchmarks.md)
	$(BIN)/python benchmarks/bench_manifest.py
	$(BIN)/python benchmarks/bench_train_epoch.py

bench-dvc: install  ## DVC vs boto3 push/pull of the 100k split to a local S3 endpoint (~30 min)
	$(BIN)/python benchmarks/bench_dvc.py

security:  ## ruff, bandit, checkov, pip-audit, committed-secrets check (docs/security.md)
	bash .ci/security.sh

images:  ## build and push the three images for ENV, tagged with the git sha (needs a Docker engine)
	bash .ci/images.sh all $(ENV)

tf-plan:  ## terraform plan for ENV, saved to build/terraform/$(ENV).tfplan
	bash .ci/terraform.sh plan $(ENV)

tf-apply:  ## apply the saved plan of ENV
	bash .ci/terraform.sh apply $(ENV)

tf-validate:  ## terraform fmt -check + validate, no credentials
	bash .ci/terraform.sh validate

clean:  ## remove reports, caches, terraform plans
	bash .ci/cleanup.sh
