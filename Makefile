# One entry point per job. The README's two commands are `make demo` and `make test`.
PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
STACK := deploy/local/stack
export PYTHON := $(abspath $(PYTHON))
TEST_FLAGS ?= -q

.PHONY: install stack browser helm services seed demo bench prometheus down status test test-unit test-integration test-e2e test-chaos fuzz chaos lint typecheck check

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

stack: install          ## Kafka (KRaft) and PostgreSQL of the project's own, under .local/; Prometheus and Alertmanager installed
	$(STACK) up
	$(PYTHON) -m deploy.local.prometheus install
	$(PYTHON) -m deploy.local.alertmanager install
	$(PYTHON) -m deploy.local.balancer install

services: stack         ## the three services as background processes, ready when /readyz answers
	$(PYTHON) -m deploy.local.services up

seed: services          ## the seed registry: geography, heat network, households, units
	$(PYTHON) -m deploy.seed.registry

demo: seed              ## README command 1: the whole system, a scripted pass through the loop, then a short season
	$(PYTHON) -m deploy.demo
	@echo "演示账号见 README；停止: make down"

bench: stack            ## the benchmark suite: every figure beside its raw baseline (a few minutes; BENCH_FLAGS=--quick)
	$(PYTHON) -m bench $(BENCH_FLAGS)

prometheus: services    ## Debian's Prometheus on http://127.0.0.1:19090 scraping the local services, alerting through Alertmanager on :19093
	$(PYTHON) -m deploy.local.alertmanager up
	$(PYTHON) -m deploy.local.prometheus up

status:
	-$(PYTHON) -m deploy.local.services status
	-$(PYTHON) -m deploy.local.prometheus status
	-$(PYTHON) -m deploy.local.alertmanager status
	-$(STACK) status

down:                   ## stop the services, then the stack
	-$(PYTHON) -m deploy.local.prometheus down
	-$(PYTHON) -m deploy.local.alertmanager down
	-$(PYTHON) -m deploy.local.services down
	$(STACK) down

CHROMIUM := /usr/bin/chromium
AXE_VERSION := 4.14.1
AXE := .local/node/node_modules/axe-core
browser:                ## Debian's Chromium and a CJK font for the browser tests (never `playwright install`); axe-core, pinned, from npm
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei; } || \
	  { echo "needs Debian's chromium: apt-get install -y chromium fonts-wqy-microhei" >&2; exit 1; }
	@grep -qs '"version": "$(AXE_VERSION)"' $(AXE)/package.json || { \
	  command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends npm; } || \
	    { echo "needs npm for axe-core: apt-get install -y npm" >&2; exit 1; }; \
	  npm install --prefix .local/node --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
	    axe-core@$(AXE_VERSION); }

# Helm, built from the Go module proxy (no get.helm.sh here) by deploy/helm/build-helm.sh into .local/helm/bin, with
# Go's caches under .local/go: the first build takes minutes, a later `make helm` nothing. `go install` stamps no
# version into the binary (it says v4.3), so .local/helm/VERSION records the one built.
# tests/unit/test_helm_chart.py runs this binary.
HELM_VERSION := v4.3.2
HELM := .local/helm/bin/helm
helm:                   ## Helm $(HELM_VERSION), for the chart's tests (deploy/helm/heating)
	@{ test -x $(HELM) && grep -qsx '$(HELM_VERSION)' .local/helm/VERSION; } || deploy/helm/build-helm.sh $(HELM_VERSION)

test: stack browser helm lint  ## README command 2: every tier on the real stack, the short chaos run last
	$(PYTHON) -m pytest $(TEST_FLAGS) tests/unit tests/integration tests/e2e tests/chaos

test-unit: install helm
	$(PYTHON) -m pytest $(TEST_FLAGS) tests/unit

test-integration: stack
	$(PYTHON) -m pytest $(TEST_FLAGS) tests/integration

test-e2e: stack browser
	$(PYTHON) -m pytest $(TEST_FLAGS) tests/e2e

FUZZ_EXAMPLES ?= 500
fuzz: stack             ## the schemathesis fuzz of every API, longer than in make test (coverage phase for every role)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_COVERAGE=all $(PYTHON) -m pytest $(TEST_FLAGS) tests/e2e/test_fuzz.py

test-chaos: stack       ## the short chaos run alone (450 reports, 8 faults, ~5 min; also the last part of make test)
	$(PYTHON) -m pytest $(TEST_FLAGS) tests/chaos

CHAOS_SEED ?= 1
CHAOS_REPORTS ?= 5000
chaos: install          ## the long chaos run on a private stack: >= 5,000 reports, every service kill -9'd twice, broker and database restarted (~40 min)
	$(PYTHON) -m deploy.chaos --seed $(CHAOS_SEED) --reports $(CHAOS_REPORTS) $(CHAOS_FLAGS)

lint: install           ## ruff, the import contracts (services never import each other), mypy strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
