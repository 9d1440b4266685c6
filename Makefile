# Tillbridge: `make run` starts the whole product, `make test` checks it. Both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= portal.settings.dev

.PHONY: run test lint format services migrate seed bench screenshots browser stop-services clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

services: $(STAMP)
	@$(PY) -m portal.localservices ensure

migrate: services
	$(PY) manage.py migrate_schemas --noinput --verbosity 0
	$(PY) manage.py tenant_template

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py run_stack

browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint services browser
	DJANGO_SETTINGS_MODULE=portal.settings.test $(VENV)/bin/pytest

screenshots: services browser
	SCREENSHOTS=1 DJANGO_SETTINGS_MODULE=portal.settings.test $(VENV)/bin/pytest tests/e2e -m e2e

bench: migrate
	$(PY) bench/provisioning.py
	@for b in bench/inbox.py bench/posting.py bench/erp_push.py bench/ingest.py bench/inventory.py bench/fairness.py bench/idle.py; do if [ -f $$b ]; then $(PY) $$b; fi; done

stop-services:
	@$(PY) -m portal.localservices stop

clean:
	rm -rf .local $(VENV)
