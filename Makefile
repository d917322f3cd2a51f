# api-inference: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= models/iris
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help venv model serve test clean

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
	MODEL_DIR=$(MODEL_DIR) HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c service/gunicorn.conf.py

test: $(BIN)/.installed ## Run the test suite (Docker tests skip without an engine unless REQUIRE_DOCKER=1)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean: ## Remove the virtual environment, trained models and reports
	rm -rf $(VENV) models reports .pytest_cache
