# The whole set-up is two commands: `make run` and `make test`.
# Everything else here is what those two need, or a convenience.

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
BOT   := $(VENV)/bin/bot
STAMP := $(VENV)/.installed

# Rasa 3.6 runs on Python 3.8-3.10 only; .python-version selects 3.10 under pyenv.
PYTHON310 := $(shell for p in "$$PYTHON" python3.10 "$$(pyenv prefix 3.10 2>/dev/null)/bin/python3.10"; do \
  [ -n "$$p" ] && command -v "$$p" >/dev/null 2>&1 \
  && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null \
  && { command -v "$$p"; break; }; done)

.PHONY: run cluster deploy-check deploy-render test test-fast typecheck install lint format bench shell train clean help load-env load

help:
	@echo "make run    start the assistant (action server :5055, Rasa :5005, chat page)"
	@echo "make cluster  the production shape: PostgreSQL, Redis, 2 Rasa replicas, 2 action servers, HAProxy (:5005)"
	@echo "make test   lint, type check, validate the data, train if needed, run every test"
	@echo "make test-fast  the unit tests on SQLite only (no servers, no training): seconds"
	@echo "make shell  talk to the running assistant in the terminal (rasa shell)"
	@echo "make bench  accuracy and speed benchmarks (prints figures)"
	@echo "make lint   ruff check and format check"
	@echo "make load   the load test (Locust, 1-64 users; LOAD_ARGS=--quick / --faults / --cluster CMD)"
	@echo "make deploy-check  lint the Dockerfile, check the Kubernetes manifests and HAProxy configs"

run: $(STAMP)
	@$(BOT) run

# Replicas behind HAProxy on PostgreSQL and Redis (docs/operations.md, "Running at scale");
# BOT_CLUSTER_RASA / BOT_CLUSTER_ACTIONS set how many.
cluster: $(STAMP)
	@$(BOT) cluster

test: $(STAMP)
	@echo "==> lint (ruff check, ruff format --check)"
	@$(VENV)/bin/ruff check --quiet .
	@$(VENV)/bin/ruff format --check --quiet .
	@echo "==> type check (mypy bot actions bench)"
	@$(VENV)/bin/mypy
	@$(MAKE) --no-print-directory deploy-check
	@$(BOT) prepare --for-tests
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

# The inner loop: core and actions on SQLite; no Rasa, no servers, no PostgreSQL, and
# none of the tests that start a process of their own (make test runs those).
test-fast: $(STAMP)
	@$(VENV)/bin/pytest -q -m "unit and not postgres and not process" tests/unit tests/actions $(PYTEST_ARGS)

typecheck: $(STAMP)
	@$(VENV)/bin/mypy

install: $(STAMP)

# deploy/: the Dockerfile linted (hadolint), the Kubernetes manifests checked
# against the API schemas (kubernetes-validate, offline), HAProxy's configs by
# haproxy -c; the compose file's schema and the rest are in tests/unit/test_deploy.py.
# No container daemon here: nothing is built or started (docs/operations.md, "Containers (deploy/)").
DEPLOY_VENV := .venv-deploy
$(DEPLOY_VENV)/.installed: deploy/check-requirements.lock
	@rm -rf $(DEPLOY_VENV) && $(PYTHON310) -m venv $(DEPLOY_VENV)
	@$(DEPLOY_VENV)/bin/pip install --disable-pip-version-check --no-deps -q -r $< \
	  || { echo "Install failed: check that PyPI is reachable, then run 'make deploy-check' again."; exit 1; }
	@touch $@

deploy-check: $(STAMP) $(DEPLOY_VENV)/.installed
	@echo "==> deploy/: hadolint, kubernetes-validate, haproxy -c"
	@$(DEPLOY_VENV)/bin/hadolint deploy/Dockerfile
	@$(DEPLOY_VENV)/bin/kubernetes-validate --strict --quiet deploy/k8s/*.yaml
	@$(PY) -c "from bot.runtime.cluster import haproxy; print(haproxy.render_for_compose(), end='')" | cmp -s - deploy/compose/haproxy.cfg \
	  || { echo "deploy/compose/haproxy.cfg is not the template's rendering: run make deploy-render"; exit 1; }
	@haproxy -c -q -f deploy/compose/haproxy.cfg

deploy-render: $(STAMP)
	@$(PY) -c "from bot.runtime.cluster import haproxy; print(haproxy.render_for_compose(), end='')" > deploy/compose/haproxy.cfg

# A virtual environment inside the project, rebuilt when the pins change.
$(STAMP): requirements.lock pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "Python 3.10 not found: run 'pyenv install 3.10' (Rasa 3.6 needs 3.8-3.10), or set PYTHON=/path/to/python3.10"; \
	  exit 1; fi
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	  echo "==> creating $(VENV) with $(PYTHON310)"; rm -rf $(VENV); $(PYTHON310) -m venv $(VENV); fi
	@echo "==> installing pinned dependencies from requirements.lock (first time: about a minute)"
	@$(PY) -m pip install --disable-pip-version-check --no-deps --progress-bar on -q -r requirements.lock \
	  || { echo "Install failed: check that PyPI is reachable, then run 'make install' again."; exit 1; }
	@$(PY) -m pip install --disable-pip-version-check --no-deps --no-build-isolation -q -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; echo "Pinned packages conflict: fix requirements.lock."; exit 1; }
	@touch $@
	@echo "==> environment ready in $(VENV)"

lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

format: $(STAMP)
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	@$(BOT) prepare
	@$(PY) -m bench.accuracy
	@$(PY) -m bench.speed

# The load generator's own environment: Locust's pins stay out of requirements.lock,
# which is part of every model's fingerprint (a change there would retrain).
LOAD_VENV := var/load-venv
load-env: $(LOAD_VENV)/.installed

$(LOAD_VENV)/.installed: bench/load/requirements.txt
	@if [ -z "$(PYTHON310)" ]; then echo "Python 3.10 not found (see make install)"; exit 1; fi
	@echo "==> creating $(LOAD_VENV) (Locust, psutil, matplotlib)"
	@rm -rf $(LOAD_VENV) && $(PYTHON310) -m venv $(LOAD_VENV)
	@$(LOAD_VENV)/bin/python -m pip install --disable-pip-version-check --no-deps -q -r bench/load/requirements.txt
	@$(LOAD_VENV)/bin/python -m pip check
	@touch $@

load: $(STAMP) load-env
	@$(BOT) prepare
	@$(PY) -m bench.load.run $(LOAD_ARGS)

shell: $(STAMP)
	@$(BOT) shell

train: $(STAMP)
	@$(BOT) prepare

clean:
	rm -rf var models/*.tar.gz .pytest_cache .mypy_cache $(DEPLOY_VENV)
