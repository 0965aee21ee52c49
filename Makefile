# Switchboard: `make run` starts everything on the embedded stack, `make test` runs every test.
# Both build the environment first; only python3 (3.11+) and make are needed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MEMBERS := libs/events libs/runtime libs/calendars libs/planning libs/demo libs/devtools \
           services/profile-lookup services/router services/sla-monitor

.DEFAULT_GOAL := help
.PHONY: help venv run tail publish import whatif test test-kafka lint format bench lock schemas clean up down

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock $(addsuffix /pyproject.toml,$(MEMBERS))
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Switchboard needs Python 3.11+, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation $(addprefix -e ,$(MEMBERS))
	@touch $@

venv: $(STAMP) ## create .venv with the locked packages

run: $(STAMP) ## start broker, database, services and demo traffic (Ctrl-C stops all; BROKER=kafka for Apache Kafka)
	$(PY) -m switchboard_devtools run $(if $(RATE),--rate $(RATE)) $(if $(BROKER),--broker $(BROKER))

tail: $(STAMP) ## print a topic as it flows: make tail TOPIC=routing.decisions [FROM_START=1]
	$(PY) -m switchboard_devtools tail $(or $(TOPIC),$(error set TOPIC=name)) $(if $(FROM_START),--from-start)

publish: $(STAMP) ## publish a file's bytes: make publish TOPIC=contacts.inbound FILE=event.json [KEY=k]
	$(PY) -m switchboard_devtools publish $(or $(TOPIC),$(error set TOPIC=name)) $(or $(FILE),$(error set FILE=path)) $(if $(KEY),--key '$(KEY)')

import: $(STAMP) ## import customers into the running `make run`: make import FILE=customers.csv
	$(PY) -m switchboard_devtools service profile-lookup import $(or $(FILE),$(error set FILE=path))

whatif: $(STAMP) ## replay the running `make run`'s traffic through a policy: make whatif POLICY=candidate.yaml FROM=T1 TO=T2
	$(PY) -m switchboard_devtools service router whatif --policy $(or $(POLICY),$(error set POLICY=file)) \
	  --from $(or $(FROM),$(error set FROM=time)) --to $(or $(TO),$(error set TO=time)) $(if $(HTML),--html $(HTML))

test: $(STAMP) ## run every test against the embedded broker and database
	bash deploy/scripts/ensure-prometheus.sh
	$(PY) -m pytest

test-kafka: $(STAMP) ## the integration and end-to-end tests on Apache Kafka (Java 17+, and Maven or KAFKA_HOME)
	bash deploy/scripts/ensure-prometheus.sh
	$(PY) -m pytest --broker=kafka

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict (what CI runs)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## print benchmark figures as JSON lines (BROKER=kafka: on Apache Kafka)
	$(PY) -m bench $(if $(BROKER),--broker $(BROKER))

schemas: $(STAMP) ## regenerate the committed JSON Schemas and AsyncAPI document
	$(PY) -m switchboard_events.export libs/events/schemas

lock: $(STAMP) ## re-resolve requirements.in into requirements.lock
	$(VENV)/bin/uv pip compile --quiet --python-version 3.11 --generate-hashes --no-header \
	  $(foreach m,$(MEMBERS),--no-emit-package switchboard-$(notdir $(m))) \
	  requirements.in -o requirements.lock

up: ## start the production-like stack with docker compose
	docker compose up -d --build

down: ## stop the docker compose stack
	docker compose down

clean: ## remove the environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
