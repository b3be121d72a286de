# Local development for heimdall-pipeline. `make up` starts TimescaleDB, a moto S3 server, RabbitMQ
# and Redis for this checkout (scripts/devstack.sh); settings land in .devstack/env.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Python 3.11 (pyproject allows >=3.11,<3.13).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
# The benchmark's peer (dlt + s3fs, the `bench` extra) gets a venv of its own: s3fs's aiobotocore
# pins an older botocore than the pipeline's boto3, so installing it into .venv would downgrade it.
PEER_VENV := .venv-peer
BENCH_STAMP := $(PEER_VENV)/.installed-bench
WITH_ENV := scripts/with_env.sh

PYTEST_ARGS ?=
# `make test` runs the whole suite with our tables in schema `heimdall_pipeline` (beside public, as beside
# Heimdall's database): public is the trivial case. `make test HEIMDALL_DB_SCHEMA=public` runs it there.
TEST_DB_SCHEMA := $(or $(HEIMDALL_DB_SCHEMA),heimdall_pipeline)
# The persistent Dagster instance (dagster.yaml, storage in DAGSTER_POSTGRES_URL) of dev, demo, serve.
DAGSTER_HOME ?= $(CURDIR)/.devstack/dagster_home
export DAGSTER_HOME
BENCH_ARGS ?=

.PHONY: setup up down status env migrate lint test demo dev serve worker bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(VENV)/bin/python ]; then \
	    $(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] < (3, 13), "need Python 3.11 or 3.12, got " + sys.version' && \
	    echo "creating $(VENV) with $(PYTHON)" && $(PYTHON) -m venv $(VENV); \
	fi
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

up: setup
	scripts/devstack.sh up

# The Dagster processes first (they use the database), then the database and S3.
down:
	scripts/serve.sh down
	scripts/devstack.sh down

status:
	scripts/devstack.sh status
	scripts/serve.sh status || true

env:
	scripts/devstack.sh env

# Applies the migrations and the roles' grants as HEIMDALL_MIGRATE_DATABASE_URL (the owner role).
# `make up` already runs it for the local stack; this target is the explicit step for your server.
migrate: up
	$(WITH_ENV) $(VENV)/bin/heimdall-migrate

# Lint, format and types (configured in pyproject.toml), before any service starts: seconds, and
# the first thing `make test` (CI's command) checks.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint up
	HEIMDALL_DB_SCHEMA=$(TEST_DB_SCHEMA) $(WITH_ENV) $(VENV)/bin/python -m pytest -n 2 --dist loadgroup heimdall_pipeline_tests $(PYTEST_ARGS)

demo: up
	$(WITH_ENV) $(VENV)/bin/python scripts/demo.py

# One process for development: `dagster dev` (webserver, daemon, code server) on port 3000 if free,
# else a free one, or HEIMDALL_WEBSERVER_PORT.
dev: up
	$(WITH_ENV) scripts/serve.sh dev

# The deployment topology in the background: code server, webserver, daemon (scripts/serve.sh).
serve: up
	$(WITH_ENV) scripts/serve.sh up

# A Celery worker running Heimdall's task `heimdall_pipeline.save_measurements` against the local
# stack (its RabbitMQ as broker, its Redis as result backend), in the foreground. WORKER_ARGS go to `celery worker`.
WORKER_ARGS ?= --loglevel INFO
worker: up
	$(WITH_ENV) $(VENV)/bin/heimdall-celery-worker $(WORKER_ARGS)

$(BENCH_STAMP): pyproject.toml $(STAMP)
	@if [ ! -x $(PEER_VENV)/bin/python ]; then $(PYTHON) -m venv $(PEER_VENV); fi
	$(PEER_VENV)/bin/pip install -q $$($(VENV)/bin/python -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench"]))')
	@touch $@

# The benchmark creates and drops databases of its own: it runs as the admin role of the local stack.
# Then upload → row: the library call against a sensor-launched run of the `make serve` topology
# (its own processes, databases and bucket; bounded by its --timeout).
UPLOAD_TO_ROW_ARGS ?=
# Then the cost against the bucket's history (bench/scale.py): 10k, 100k and 1M keys by default.
SCALE_ARGS ?=
bench: up $(BENCH_STAMP)
	$(WITH_ENV) bash -c 'HEIMDALL_DATABASE_URL=$${HEIMDALL_TEST_ADMIN_DATABASE_URL:-$$HEIMDALL_DATABASE_URL} exec "$$@"' _ \
	    $(VENV)/bin/python bench/run.py $(BENCH_ARGS)
	$(WITH_ENV) bash -c 'HEIMDALL_DATABASE_URL=$${HEIMDALL_TEST_ADMIN_DATABASE_URL:-$$HEIMDALL_DATABASE_URL} exec "$$@"' _ \
	    $(VENV)/bin/python bench/upload_to_row.py $(UPLOAD_TO_ROW_ARGS)
	$(WITH_ENV) bash -c 'HEIMDALL_DATABASE_URL=$${HEIMDALL_TEST_ADMIN_DATABASE_URL:-$$HEIMDALL_DATABASE_URL} exec "$$@"' _ \
	    $(VENV)/bin/python bench/scale.py $(SCALE_ARGS)

clean:
	scripts/serve.sh down
	scripts/devstack.sh clean
	rm -rf $(VENV) $(PEER_VENV) .pytest_cache *.egg-info build dist
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
