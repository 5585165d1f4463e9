# Two commands do all the set-up:  `make tutorial`  and  `make test`.  See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CPU-only torch: on Linux, PyPI's plain `torch` is a multi-GB CUDA build. Point pip at the CPU wheels with
#   make tutorial TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_ARGS := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

export MPLBACKEND := Agg
export TQDM_DISABLE := 1
export PYTHONWARNINGS := ignore
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help venv tutorial test test-fast test-unit notebooks lab train train-default bench book slides experiments baselines search labels data-summary clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(STAMP): constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_ARGS) -c constraints.txt torch
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[notebooks,test,book,cluster]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned versions and install the project (editable)

tutorial: $(STAMP) ## execute every notebook in order (full mode, shipped checkpoint), write outputs and figures/
	$(BIN)/python scripts/run_notebooks.py notebooks/[0-9]*.ipynb

test: $(STAMP) ## pytest (unit, physics, data, CLI) + notebook checks in FAST mode
	$(BIN)/python -m pytest -q tests
	FAST=1 $(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/

test-fast: $(STAMP) ## the edit–test loop: `make test` without the tests marked slow (notebook checks unchanged)
	$(BIN)/python -m pytest -q -m "not slow" tests
	FAST=1 $(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/

test-unit: $(STAMP) ## pytest only, no notebooks
	$(BIN)/python -m pytest -q tests

notebooks: $(STAMP) ## rebuild notebooks/NN_*.ipynb from notebooks/src/NN_*.py (outputs of unchanged cells kept)
	$(BIN)/python scripts/build_notebooks.py

lab: $(STAMP) ## open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks/

train: $(STAMP) ## train the default model on the embedded data into a new folder runs/<date>-<time> (~7 min on 2 cores)
	$(BIN)/python -m utils.train

train-default: $(STAMP) ## (maintainers) retrain and REPLACE the shipped ensemble checkpoints/default (--force; resumable)
	$(BIN)/python -m utils.train --seeds 0 1 2 --out checkpoints/default --force

labels: ## (optional, hours) label more materials with SevenNet + phonopy: needs .venv/bin/python -m pip install -e ".[datagen]"
	$(BIN)/python -m utils.datagen label --calculator 7net-l3i5 --workers 2 --order yield $(LABEL_ARGS)

data-summary: $(STAMP) ## one JSON line describing the embedded dataset
	$(BIN)/python -m utils.data --summary

experiments: $(STAMP) ## test the slides' claims (notebook 07) → data/experiments/claims_full.json (README: measured time; BUDGET=tiny: minutes)
	$(BIN)/python -m utils.claims experiments --budget $(or $(BUDGET),full) --workers 2

baselines: $(STAMP) ## (maintainers) the README table's baselines, 3 seeds each → data/experiments/baselines.json (resumable)
	$(BIN)/python -m utils.claims baselines $(if $(VERSION),--version $(VERSION),) --workers 2

search: $(STAMP) ## (maintainers) the hyper-parameter search, by validation → data/experiments/search.json (resumable)
	$(BIN)/python -m utils.claims search $(if $(VERSION),--version $(VERSION),) --workers 2

bench: $(STAMP) ## benchmarks/ → benchmarks/results.md and results.json
	$(BIN)/python benchmarks/run.py

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

book: $(STAMP) node_modules/.package-lock.json ## static site from the stored outputs (nothing executed) → _build/book/index.html
	$(BIN)/python scripts/build_book.py

slides: $(STAMP) node_modules/.package-lock.json ## reveal.js slides of every notebook → _build/slides/index.html
	$(BIN)/python scripts/build_slides.py

clean: ## remove caches (keeps .venv)
	rm -rf data/cache .pytest_cache _build
