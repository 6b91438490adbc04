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

.PHONY: serve test quality install-matrix lint typecheck layers unit bench clean

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

unit: $(VENV)/.dev-installed $(SDK_VENV)/.installed
	OPENRERANK_COHERE_SDK_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(BIN)/pytest tests -m "not quality" --durations=15

$(SDK_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install -q "$(COHERE_SDK)"
	touch $@

# `make test` is CI's suite; the full-collection quality runs (each backend and precision
# over all of SciFact, ~20 minutes each on 2 cores) are `make quality`.
test: lint typecheck layers unit

quality: $(VENV)/.dev-installed
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} HF_HUB_CACHE=$${HF_HUB_CACHE:-$(CURDIR)/../shared/hf-cache} \
		$(BIN)/pytest tests -m quality

# Each install line the README documents, in a throwaway venv built from this tree.
install-matrix:
	$(PYTHON) .ci/install_matrix.py

# `make bench` runs the full side-by-side benchmark (baselines in their own venvs) and
# writes bench/results/; ARGS="..." passes flags to `openrerank bench`.
$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} HF_HUB_CACHE=$${HF_HUB_CACHE:-$(CURDIR)/../shared/hf-cache} \
		$(BIN)/openrerank --log-level info bench --data ../shared/data --out bench/results $(ARGS)

clean:
	rm -rf $(VENV) $(SDK_VENV) .mypy_cache .ruff_cache .pytest_cache
