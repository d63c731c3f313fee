# Every task of the project; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The model store: .bentoml/ in the repo unless BENTOML_HOME is set.
export BENTOML_HOME ?= $(CURDIR)/.bentoml
# BentoML's usage tracking would reach the network; this project runs offline.
export BENTOML_DO_NOT_TRACK := True

HOST ?= 127.0.0.1
PORT ?= 3000

LOAD_ARGS ?=
MINUTES ?= 10
BENCH_ARGS ?=
OVERLOAD_ARGS ?=
TAG ?= latest
SWEEP_ARGS ?= --slo-p99-ms 100 --target-rps 1000

.PHONY: help install train serve bento load load-ui sweep soak bench overload deploy-tools deploy-check image image-gpu test test-fast lint format typecheck lock clean

help: ## List the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with the project and its dev tools (fast when already done)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

train: install ## Train both models into the model store (BENTOML_HOME, default .bentoml/)
	$(BIN)/python -m training all

serve: install ## Serve both models on $(HOST):$(PORT), training them first if the store lacks them
	$(BIN)/python -m training all --if-missing
	$(BIN)/bentoml serve . --host $(HOST) --port $(PORT)

bento: install ## Build the bento (code + requirements + Dockerfile) into the store: bentoml build
	$(BIN)/python -m training all --if-missing
	$(BIN)/bentoml build .

load: install ## Load test: locust headless, 30 s, 32 users, the mix, own server on core 0 -> reports/load/<time>/
	$(BIN)/python -m training all --if-missing
	$(BIN)/python -m load run $(LOAD_ARGS)

load-ui: install ## Locust's web UI on 127.0.0.1:8089 against a running server at $(HOST):$(PORT)
	$(BIN)/locust -f load/locustfile.py --host http://$(HOST):$(PORT) --web-host 127.0.0.1

sweep: install ## Open-loop rate steps: the knee under a p99 SLO and the replicas needed
	$(BIN)/python -m training all --if-missing
	$(BIN)/python -m load sweep $(SWEEP_ARGS)

soak: install ## Steady mixed traffic for MINUTES (default 10): RSS, fds, latency -> reports/load/<time>-soak/
	$(BIN)/python -m training all --if-missing
	$(BIN)/python -m load soak --minutes $(MINUTES)

bench: install ## Side-by-side benchmark (needs wrk) -> load/results/BENCHMARK.md; BENCH_ARGS=--quick -> reports/bench/
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	$(BIN)/python -m training all --if-missing
	$(BIN)/python -m load.bench $(BENCH_ARGS)

overload: install ## 4x the saturating load, shedding on and off (needs wrk) -> load/results/OVERLOAD.md; OVERLOAD_ARGS=--quick -> reports/overload/
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	$(BIN)/python -m training all --if-missing
	$(BIN)/python -m load.overload $(OVERLOAD_ARGS)

deploy-tools: ## nginx, promtool, prometheus (apt-get download + dpkg -x into deploy/.tools) and dnsmasq; starts no service
	bash deploy/install-tools.sh

deploy-check: install deploy-tools ## Deployment files offline: compose config, nginx -t, promtool, kubernetes-validate, hadolint
	bash deploy/check.sh

image: bento ## Container image bento-serving:$(TAG) from the bento (needs a Docker engine)
	$(BIN)/bentoml containerize bento-serving:latest -t bento-serving:$(TAG)

image-gpu: install ## CUDA image bento-serving:$(TAG)-gpu from deploy/bentofile.gpu.yaml (needs a Docker engine)
	$(BIN)/python -m training all --if-missing
	$(BIN)/bentoml build -f deploy/bentofile.gpu.yaml .
	$(BIN)/bentoml containerize bento-serving-gpu:latest -t bento-serving:$(TAG)-gpu

test: install lint typecheck ## Lint, type-check and run every test, slow ones included (what CI runs)
	$(BIN)/pytest

test-fast: install ## The inner loop: tests not marked slow
	$(BIN)/pytest -m "not slow"

lint: install ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## ruff: fix what can be fixed and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy (strict) over models, training, service, load
	$(BIN)/mypy

lock: install ## Rewrite constraints.txt from the current .venv
	@{ echo "# Versions the project was tested with; make install applies them so installs repeat."; \
	   echo "# Regenerate after changing dependencies: make lock"; \
	   $(BIN)/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/'; } > constraints.txt

clean: ## Remove caches and reports (keeps .venv and the model store)
	rm -rf reports .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
