# trussvae — every target creates .venv and installs what it needs on a fresh machine
# with only Python 3.11. `make test` is what CI runs (.ci/run): the linters (ruff, and the import
# contracts of .importlinter, see docs/architecture.md), then the fast tests (with headless Chromium,
# installed by `make browser` where missing, for the test of the HTML report).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export WANDB_MODE ?= offline
export MPLBACKEND ?= Agg
export PYTHONHASHSEED ?= 0

.PHONY: install test test-all lint bench demo clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# torch first, pinned to the CPU wheel (an unpinned torch pulls a multi-GB CUDA build)
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[dev,cluster]"
	touch $(STAMP)

install: $(STAMP)

test: lint browser
	$(BIN)/python -m pytest -m "not slow" -q

# headless Chromium for tests/viz/test_html_report.py (best effort: without it that test is skipped)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
		|| echo "warning: Chromium is not installed and could not be installed; the browser test of the HTML report will be skipped"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts train.py design.py homogenize.py
	$(BIN)/lint-imports --no-cache --no-logo

# prints the throughput figures quoted in the README (about 10 minutes on 2 cores)
bench: $(STAMP)
	NUMBA_NUM_THREADS=1 $(BIN)/python benchmarks/bench_dataset.py
	NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_fem.py
	NUMBA_NUM_THREADS=1 $(BIN)/python benchmarks/bench_nonlinear.py --n 100 --jobs 1 --stats
	NUMBA_NUM_THREADS=1 $(BIN)/python benchmarks/bench_nonlinear.py --n 100 --jobs 2
	$(BIN)/python benchmarks/bench_vae.py
	NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python benchmarks/reference_agreement.py

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
