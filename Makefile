# Two commands for a new machine: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
PORT ?= 8888
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# jlpm, jupyter-builder and friends come from the venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# uv's cache lives on another filesystem than the venvs: copy from it without a hardlink warning.
export UV_LINK_MODE := copy
UV = $(BIN)/uv pip install -q --python

.PHONY: help env demo test services lint lint-py lint-ts test-py test-ray test-js test-ui test-binder test-hub test-team test-fleet hub-tools browser format clean mlserver-env pdf-tools bench-tools

help:
	@echo "make demo   - create .venv, build everything, start JupyterLab with the demo notebook"
	@echo "make test   - create .venv if needed, then lint and run every test suite"

# The environment: Python package (editable) + the TypeScript frontend built once + linked labextension.
# uv resolves and installs in parallel (about 3x faster than pip on a fresh clone; its cache makes a rebuild quick).
# SKIP_JUPYTER_BUILDER: the editable build hook would run `jlpm install` + `jlpm build`, which the next lines do.
$(VENV)/.installed: pyproject.toml package.json yarn.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "uv>=0.5,<1"
	SKIP_JUPYTER_BUILDER=1 $(UV) $(PY) -e ".[test,lint]"
	$(BIN)/jlpm install
	$(BIN)/jlpm build
	$(BIN)/jupyter-builder develop --overwrite . >/dev/null
	touch $@

env: $(VENV)/.installed

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work offline).
browser:
	@test -x $(CHROMIUM) || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }

# Poppler's pdftoppm renders the model-risk PDF reports to PNG in tests/risk.
pdf-tools:
	@command -v pdftoppm >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends poppler-utils; }

# wrk drives the serving benchmarks (benchmarks/serving.py, benchmarks/peers.py); not part of `make test`.
bench-tools:
	@command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends wrk; }

# serving_prestart: the demo deploys, so its serving daemon starts with Jupyter and the first deploy is quick.
demo: env
	JUPYTER_MLOPS_SERVING_PRESTART=true $(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ROOT_FLAG) examples/demo.ipynb

lint: env lint-py lint-ts

lint-py:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(PY) scripts/check_auth.py
	$(BIN)/lint-imports
	$(PY) scripts/check_import_cycles.py jupyter_mlops
	$(PY) scripts/docstring_coverage.py --min 90 jupyter_mlops/core jupyter_mlops/server jupyter_mlops/magics jupyter_mlops/cli

lint-ts:
	$(BIN)/jlpm lint:check

# One suite after another: running the Python suite beside the others (make -j2) cut about ten minutes, but the
# browser and Ray suites then missed their deadlines on two busy cores (tried in session 4).
test: env browser lint test-py test-ray test-js test-ui test-binder test-hub test-team test-fleet
	@echo "make test: all suites passed"

# pytest exits 5 when it collects nothing: that is a failure here, never a silent pass. The slowest tests are listed
# (--durations) so a CI log shows where the time goes.
# The suite runs in PYTEST_WORKERS pytest processes (pytest-xdist, whole files to each: a file's module fixtures are
# built once); each has its own session fixtures (MLflow store, daemon, PostgreSQL) in its own temp folder on free
# ports. Most of a test's time is waiting on processes and HTTP, so two share two cores well (11 min instead of 16
# here). PYTEST_WORKERS= (empty) runs it in one process.
PYTEST_WORKERS ?= 2
test-py: services mlserver-env pdf-tools
	$(PY) -m pytest -q --durations=25 $(if $(PYTEST_WORKERS),-n $(PYTEST_WORKERS) --dist loadfile) tests

# MLServer's MLflow runtime for the V2 parity test (tests/targets/test_mlserver_parity.py), in its own venv: it pins
# a fastapi that conflicts with ray[serve], and needs uvloop<0.22 to start. MLflow, scikit-learn and skops match the
# main venv (the model is loaded there). Its `*` .gitignore keeps the folder out of git.
MLSERVER_VENV := .venv-mlserver
$(MLSERVER_VENV)/.installed: $(VENV)/.installed
	test -x $(MLSERVER_VENV)/bin/python || python3 -m venv $(MLSERVER_VENV)
	echo '*' > $(MLSERVER_VENV)/.gitignore
	$(UV) $(MLSERVER_VENV)/bin/python "mlserver==1.7.1" "mlserver-mlflow==1.7.1" "uvloop<0.22" \
	  $$($(BIN)/uv pip freeze --python $(PY) | grep -iE '^(mlflow|scikit-learn|skops|pandas|numpy)==')
	touch $@

mlserver-env: $(MLSERVER_VENV)/.installed

# Debian's PostgreSQL server for tests/team (the tests start and stop their own cluster as the postgres user;
# no default "main" cluster is created, so nothing is left listening on 5432).
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  mkdir -p /etc/postgresql-common && \
	  { test -e /etc/postgresql-common/createcluster.conf || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; } && \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql; }

# Ray Serve on a real local Ray cluster (about 2.5 GB, one per session): its own line, still part of `make test`.
# The Ray cases of the target contract suite run here too (skipped in test-py).
test-ray:
	MLOPS_TEST_RAY=1 $(PY) -m pytest -q --durations=10 tests/targets/test_ray.py tests/targets/test_contract.py -k ray

test-js:
	$(BIN)/jlpm test

# Binder's steps (binder/postBuild, binder/start) in a fresh venv, then the demo notebook with no Node on PATH.
test-binder:
	$(PY) -m pytest -q -p no:cacheprovider tests/binder

test-ui: browser
	$(PY) -m pytest -q -c tests/ui/pytest.ini tests/ui

# A real JupyterHub (alice, bob, carol) for governance and isolation; configurable-http-proxy 5.2 (5.3 wants Node 22).
hub-tools: .hub-tools/node_modules/.bin/configurable-http-proxy

.hub-tools/node_modules/.bin/configurable-http-proxy:
	mkdir -p .hub-tools && npm install --silent --no-audit --no-fund --prefix .hub-tools configurable-http-proxy@5.2.0

test-hub: env hub-tools
	$(PY) -m pytest -q -c tests/hub/pytest.ini tests/hub --ignore=tests/hub/team_mode

# Team mode with a real trust boundary (issue 13): a real hub with alice, bob, carol and erin on their own servers
# and HOMEs, the MLOps hub service as the only holder of the PostgreSQL password, signed ledger checkpoints.
test-team: env hub-tools services
	$(PY) -m pytest -q -c tests/hub/pytest.ini tests/hub/team_mode

# The fleet view: a real JupyterHub with the one MLOps service (its fleet view), the REST API, rollups, the dashboard in Chromium.
test-fleet: env hub-tools browser
	$(PY) -m pytest -q -c tests/fleet/pytest.ini tests/fleet

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/jlpm prettier

clean:
	rm -rf $(VENV) $(MLSERVER_VENV) node_modules lib jupyter_mlops/labextension tsconfig.tsbuildinfo
