# Two commands on a fresh clone: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup demo test test-fast lint dev sample bench clean

setup: $(STAMP)

# torch==2.13.0 first: pip takes the CPU build that lies on this machine's disk, so the
# sentence-transformers requirement never pulls a multi-GB CUDA build. Then the clustering
# code numba compiles is compiled once and kept (~1 min), not by each first process.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m lmsys_pipeline.clustering.warm
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: lint
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs
	$(BIN)/pytest -n 2 --dist worksteal --durations=10
	bash scripts/smoke_materialize.sh

# The inner loop: pytest only, without the slow tests and those that start other programs.
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 --dist worksteal -m "not slow and not subprocess"

lint: $(STAMP)
	$(BIN)/ruff check lmsys_pipeline lmsys_pipeline_tests benchmarks scripts
	$(BIN)/ruff format --check lmsys_pipeline lmsys_pipeline_tests benchmarks scripts
	$(BIN)/lint-imports

dev: $(STAMP)
	bash scripts/dev.sh

# Rebuilds the bundled sample from ../shared/data (needs that folder; the result is committed).
sample: $(STAMP)
	$(BIN)/python scripts/build_sample.py --shared ../shared/data --out lmsys_pipeline/data

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
