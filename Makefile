# Every task of the project; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# apt-get needs root; as another user, through sudo.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# The model store: .bentoml/ in the repo unless BENTOML_HOME is set.
export BENTOML_HOME ?= $(CURDIR)/.bentoml
# BentoML's usage tracking would reach the network; this project runs offline.
export BENTOML_DO_NOT_TRACK := True

HOST ?= 127.0.0.1
PORT ?= 3000
TAG ?= latest
MINUTES ?= 10
LOAD_ARGS ?=
SWEEP_ARGS ?= --slo-p99-ms 100 --target-rps 1000
BENCH_ARGS ?=
OVERLOAD_ARGS ?=
BATCHING_ARGS ?=
# For rollout / rollback: compose's -f, --env-file and -p, as `docker compose` takes them.
ROLLOUT_ARGS ?=

.PHONY: help install fonts browser models train serve bento load load-ui sweep soak bench overload batching wrk \
	deploy-tools deploy-check rollout canary rollback image image-gpu test test-fast lint format typecheck lock clean

help: ## List the tasks
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		sed -e 's/$$(HOST)/$(HOST)/g' -e 's/$$(PORT)/$(PORT)/g' -e 's/$$(TAG)/$(TAG)/g' | \
		awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with the project and its dev tools (fast when already done)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# Debian packages: the typefaces the digits training renders digits from (training/render.py names
# them), and the headless browser of the page's tests (tests/ui/).
FONT_PACKAGES := fonts-breip fonts-bwht fonts-comic-neue fonts-dejavu-core fonts-dkg-handwriting \
	fonts-femkeklaver fonts-freefont-ttf fonts-humor-sans fonts-kristi fonts-liberation fonts-urw-base35
BROWSER_PACKAGES := chromium
# apt-get install the packages of $(1) that are not installed yet (nothing to do: no apt-get at all).
apt_ensure = @missing=$$(for package in $(1); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q 'ok installed' || echo $$package; done); \
	if [ -n "$$missing" ]; then echo "apt-get install" $$missing; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

fonts: ## The typefaces the digits training renders (apt-get install when missing)
	$(call apt_ensure,$(FONT_PACKAGES))

browser: ## Headless Chromium for the page's browser tests (apt-get install when missing)
	$(call apt_ensure,$(BROWSER_PACKAGES))

models: install fonts ## Train both models into the store only if it lacks them (what serve, load and bench do first)
	$(BIN)/python -m training all --if-missing

train: install fonts ## Train new versions into the model store (BENTOML_HOME, default .bentoml/); MODEL=tabular|digits for one
	$(BIN)/python -m training $(or $(MODEL),all)

serve: models ## Serve both models on $(HOST):$(PORT), training them first if the store lacks them
	$(BIN)/bentoml serve . --host $(HOST) --port $(PORT)

bento: models ## Build the bento (code + requirements + Dockerfile) into the store: bentoml build
	$(BIN)/bentoml build .

load: models ## Load test: locust headless, 30 s, 32 users, the mix, own server on core 0 -> reports/load/<time>/
	$(BIN)/python -m load run $(LOAD_ARGS)

load-ui: install ## Locust's web UI on 127.0.0.1:8089 against a running server at $(HOST):$(PORT)
	$(BIN)/locust -f load/locustfile.py --host http://$(HOST):$(PORT) --web-host 127.0.0.1

sweep: models ## Open-loop rate steps: the knee under a p99 SLO and the replicas needed
	$(BIN)/python -m load sweep $(SWEEP_ARGS)

soak: models ## Steady mixed traffic for MINUTES (default 10): RSS, fds, latency -> reports/load/<time>-soak/
	$(BIN)/python -m load soak --minutes $(MINUTES)

bench: models wrk ## Side-by-side benchmark -> bench/results/BENCHMARK.md; BENCH_ARGS=--quick -> reports/bench/
	$(BIN)/python -m bench compare $(BENCH_ARGS)

overload: models wrk ## 4x the saturating load, shedding on and off -> bench/results/OVERLOAD.md; OVERLOAD_ARGS=--quick
	$(BIN)/python -m bench overload $(OVERLOAD_ARGS)

batching: models wrk ## In-process batcher against none and BentoML's -> bench/results/batching.md; BATCHING_ARGS=--quick
	$(BIN)/python -m bench batching $(BATCHING_ARGS)

wrk: ## wrk, the HTTP load generator of the benchmarks (apt-get install when missing)
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }

deploy-tools: install ## nginx, promtool, prometheus (apt-get download + dpkg -x into deploy/.tools) and dnsmasq; starts no service
	bash deploy/install-tools.sh

deploy-check: deploy-tools ## Deployment files offline: compose config, nginx -t, promtool, kubernetes-validate, hadolint
	bash deploy/check.sh

rollout: ## Roll the compose replicas one at a time to image tag TAG= (required) behind nginx; ROLLOUT_ARGS=-f ...
	@[ "$(origin TAG)" != file ] || { echo "make rollout TAG=<tag>: the image tag to roll out (bento-serving:<tag>)" >&2; exit 2; }
	@$(MAKE) --no-print-directory install
	$(BIN)/python -m deploy.rollout $(ROLLOUT_ARGS) to $(TAG)

canary: ## Roll one compose replica to image tag TAG= (required): make rollout TAG= finishes, make rollback undoes
	@[ "$(origin TAG)" != file ] || { echo "make canary TAG=<tag>: the image tag to try on one replica" >&2; exit 2; }
	@$(MAKE) --no-print-directory install
	$(BIN)/python -m deploy.rollout $(ROLLOUT_ARGS) to $(TAG) --replicas 1

rollback: install ## Roll the compose replicas back, one at a time, to the tag before the last rollout
	$(BIN)/python -m deploy.rollout $(ROLLOUT_ARGS) back

image: bento ## Container image bento-serving:$(TAG) from the bento (needs a Docker engine)
	$(BIN)/bentoml containerize bento-serving:latest -t bento-serving:$(TAG)

image-gpu: models ## CUDA image bento-serving:$(TAG)-gpu from deploy/bentofile.gpu.yaml (needs a Docker engine)
	$(BIN)/bentoml build -f deploy/bentofile.gpu.yaml .
	$(BIN)/bentoml containerize bento-serving-gpu:latest -t bento-serving:$(TAG)-gpu

test: lint typecheck deploy-tools wrk fonts browser ## Lint, type-check and run every test, slow ones included (what CI runs)
	$(BIN)/pytest

test-fast: install fonts ## The inner loop: tests not marked slow
	$(BIN)/pytest -m "not slow"

lint: install ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## ruff: fix what can be fixed and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy (strict) over models, training, service, load, bench, deploy
	$(BIN)/mypy

lock: install ## Rewrite constraints.txt from the current .venv
	@{ echo "# Versions the project was tested with; make install applies them so installs repeat."; \
	   echo "# Regenerate after changing dependencies: make lock"; \
	   $(BIN)/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/'; } > constraints.txt

clean: ## Remove caches and reports (keeps .venv and the model store)
	rm -rf reports .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
