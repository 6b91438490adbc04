# The two commands of the README: `make serve` and `make test`. Both use .venv here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODEL ?= cross-encoder/ms-marco-MiniLM-L-6-v2
QUERY ?= How do I reset my password?
# torch is pinned: 2.13.0 is the CPU build this project is tested with.
TORCH := torch==2.13.0

.PHONY: serve test lint typecheck layers unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[onnx,torch]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)" -e ".[dev]"
	touch $@ $(VENV)/.serve-installed

# Until the HTTP server lands, `serve` ranks the example documents with the default model.
serve: $(VENV)/.serve-installed
	$(BIN)/openrerank rank --model "$(MODEL)" --query "$(QUERY)" --documents examples/documents.jsonl

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

layers: $(VENV)/.dev-installed
	$(BIN)/lint-imports

unit: $(VENV)/.dev-installed
	$(BIN)/pytest tests -m "not quality"

test: lint typecheck layers
	$(BIN)/pytest tests

bench: $(VENV)/.serve-installed
	$(BIN)/python bench/score_latency.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
