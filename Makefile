# The two commands of the README: `make serve` and `make test`. Both use .venv here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make serve` serves the default model (cross-encoder/ms-marco-MiniLM-L-6-v2) on
# 127.0.0.1:8000; MODEL=... or OPENRERANK_MODEL=... picks another, ARGS="..." adds flags.
# When the default model is neither cached nor reachable (no hub here) and ../shared is
# beside the repository, it serves the offline reference model instead, and says so.
MODEL ?=
ARGS ?=
REFERENCE_MODEL_DIR := $(firstword $(wildcard $(CURDIR)/../shared/hf-cache/models--openrerank--minilm-l6-scifact-ce/snapshots/*))
# torch is pinned: 2.13.0 is the CPU build this project is tested with.
TORCH := torch==2.13.0
# The newest Cohere SDK (with `relevant_spans`) lives in its own venv: langchain-cohere and
# llama-index in .venv pin cohere < 6. The end-to-end tests drive the server with both.
SDK_VENV := .venv-cohere-sdk
COHERE_SDK := cohere==7.3.1
# Third-party clients the wire tests drive unchanged, each pinned to the release tested:
# LiteLLM, AnswerDotAI's rerankers and cohere-haystack share one venv; cohere-python 5.11
# (v2 with return_documents, rank_fields, max_chunks_per_doc) has its own; the npm
# cohere-ai client is installed under .npm-clients when node and npm are present.
CLIENTS_VENV := .venv-clients
CLIENTS := litellm==1.110.2 rerankers==0.10.0 cohere-haystack==11.0.0
COHERE_511_VENV := .venv-cohere-511
COHERE_511 := cohere==5.11.4
NPM_CLIENTS := .npm-clients
NPM_COHERE := cohere-ai@8.1.0

# The container image (docs/DEPLOY.md). No registry is reachable here, so the base image is
# built once from Debian's packages (deploy/base-image.sh); where one is, use
# `make image BASE_IMAGE=docker.io/library/python:3.11-slim`. podman runs with runc when it
# is installed, and without default ulimits (deploy/containers.conf).
IMAGE ?= localhost/openrerank:latest
LOCAL_BASE_IMAGE := localhost/debian-bookworm-base:1
BASE_IMAGE ?= $(LOCAL_BASE_IMAGE)
CONTAINERS_CONF ?= $(CURDIR)/deploy/containers.conf
PODMAN ?= podman $(if $(shell command -v runc),--runtime runc)
# `make image-test SLIM_IMAGE=localhost/openrerank:slim` also runs an EXTRAS=server image
# (no torch) on the export the first one cached.
SLIM_IMAGE ?=
IMAGE_ENV = CONTAINERS_CONF="$(CONTAINERS_CONF)" PODMAN="$(PODMAN)" IMAGE="$(IMAGE)" \
	BASE_IMAGE="$(BASE_IMAGE)" SLIM_IMAGE="$(SLIM_IMAGE)"

.PHONY: serve test quality install-matrix lint typecheck layers unit integration suite bench clean \
	base-image image image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[server,torch]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[dev]"
	touch $@ $(VENV)/.serve-installed $(VENV)/.bench-installed

serve: $(VENV)/.serve-installed
	$(BIN)/openrerank serve $(if $(MODEL),--model "$(MODEL)") \
		$(if $(REFERENCE_MODEL_DIR),--fallback-model "$(REFERENCE_MODEL_DIR)") $(ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

layers: $(VENV)/.dev-installed
	$(BIN)/lint-imports

# The client environments the end-to-end tests drive (tests/e2e), and where they are.
CLIENT_VENVS := $(SDK_VENV)/.installed $(CLIENTS_VENV)/.installed $(COHERE_511_VENV)/.installed \
	$(NPM_CLIENTS)/.installed
CLIENT_ENV = OPENRERANK_COHERE_SDK_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python \
	OPENRERANK_CLIENTS_PYTHON=$(CURDIR)/$(CLIENTS_VENV)/bin/python \
	OPENRERANK_COHERE_511_PYTHON=$(CURDIR)/$(COHERE_511_VENV)/bin/python \
	OPENRERANK_NPM_CLIENTS=$(if $(wildcard $(NPM_CLIENTS)/.installed),$(CURDIR)/$(NPM_CLIENTS))

# `make unit`: tests/unit only, which is pure (no subprocess, socket, real server, export of
# the reference model or client venv); the quick check while editing.
unit: $(VENV)/.dev-installed
	$(BIN)/pytest tests/unit

# `make integration`: every other non-quality test (tests/integration, tests/e2e and the
# default-suite checks of tests/quality), with the client venvs.
integration: $(VENV)/.dev-installed $(CLIENT_VENVS)
	$(CLIENT_ENV) $(BIN)/pytest tests/integration tests/e2e tests/quality -m "not quality" \
		--durations=15

# `make suite`: every non-quality test in one pytest process, so that the session fixtures
# (the reference model's ONNX export, the shared reference server) are made once; two
# runs (`unit` then `integration`) would only add the second start-up.
suite: $(VENV)/.dev-installed $(CLIENT_VENVS)
	$(CLIENT_ENV) $(BIN)/pytest tests -m "not quality" --durations=15

$(SDK_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install -q "$(COHERE_SDK)"
	touch $@

$(CLIENTS_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install -q $(CLIENTS)
	touch $@

$(COHERE_511_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(COHERE_511_VENV)
	$(COHERE_511_VENV)/bin/pip install -q "$(COHERE_511)"
	touch $@

# Without node and npm, or when the npm registry cannot be reached within the bound, the
# npm client's tests skip and say so (and the next `make test` tries the install again).
$(NPM_CLIENTS)/.installed: Makefile
	mkdir -p $(NPM_CLIENTS)
	if ! command -v npm >/dev/null || ! command -v node >/dev/null; then \
		echo "node/npm not found: the npm cohere-ai client tests will skip"; \
	elif timeout 300 npm install --prefix $(NPM_CLIENTS) --no-audit --no-fund --silent \
			--fetch-retries 1 --fetch-timeout 60000 "$(NPM_COHERE)"; then \
		touch $@; \
	else echo "npm install $(NPM_COHERE) failed: the npm cohere-ai client tests will skip"; fi

# `make test` is CI's suite; the full-collection quality runs (each backend and precision
# over all of SciFact, ~20 minutes each on 2 cores) are `make quality`.
test: lint typecheck layers suite

quality: $(VENV)/.dev-installed
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} HF_HUB_CACHE=$${HF_HUB_CACHE:-$(CURDIR)/../shared/hf-cache} \
		$(BIN)/pytest tests -m quality

# Each install line the README documents, in a throwaway venv built from this tree.
install-matrix:
	$(PYTHON) .ci/install_matrix.py

# `make bench` runs the full side-by-side benchmark (baselines in their own venvs) and
# writes bench/results/; ARGS="..." passes flags to `openrerank bench compare`.
$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} HF_HUB_CACHE=$${HF_HUB_CACHE:-$(CURDIR)/../shared/hf-cache} \
		$(BIN)/openrerank --log-level info bench compare --data ../shared/data --out bench/results $(ARGS)

# `make image` builds $(IMAGE) from ./Containerfile (EXTRAS=server leaves out torch, and
# TORCH_INDEX_URL picks CUDA wheels: see docs/DEPLOY.md); `make image-test` runs it on the
# reference model of ../shared: probes, /v2/rerank, non-root, SIGTERM exit 0, and a
# restart that reuses the cached ONNX export (a few minutes; not part of `make test`).
base-image:
	$(IMAGE_ENV) deploy/base-image.sh $(LOCAL_BASE_IMAGE)

image: $(if $(filter $(LOCAL_BASE_IMAGE),$(BASE_IMAGE)),base-image)
	$(IMAGE_ENV) deploy/build-image.sh

image-test: image
	$(IMAGE_ENV) $(PYTHON) .ci/image_test.py

clean:
	rm -rf $(VENV) $(SDK_VENV) $(CLIENTS_VENV) $(COHERE_511_VENV) $(NPM_CLIENTS) .mypy_cache .ruff_cache .pytest_cache
