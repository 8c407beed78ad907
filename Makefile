# cnnlit: every command sets itself up. `make book` builds the site, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlit-installed
DATA_DIR := $(or $(CNNLIT_DATA),$(HOME)/.cache/cnnlit)
# How OpenMP's idle threads wait is set by `import cnnlit` (a short spin, cnnlit/threads.py); the test
# workers below run one torch thread each, so they have no idle threads to wait.

.PHONY: setup data book lint test lab student clean help
help:
	@echo "make book    build the Jupyter Book site into _build/html (executes every notebook)"
	@echo "make lint    ruff over the package, tests, tools and notebooks"
	@echo "make test    the linter, unit tests, every notebook in the smoke profile (in JupyterLab, or nbval without a browser), a full-profile dry run, book and browser checks"
	@echo "make lab     open JupyterLab on notebooks/"
	@echo "make student solution-free notebooks in _build/student"

# The virtual environment at the repo root, with cnnlit and its book and test extras. pip compiles
# every module as it installs: where PYTHONDONTWRITEBYTECODE is set (this machine sets it), a module
# pip did not compile is compiled again by every process that imports it (with --no-compile, a
# notebook's first cell took 15 s instead of 3, and `make test` 3 minutes longer).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "cnnlit needs Python >= 3.10"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

# Offline copies first (no-ops where present or where the tools are missing), then load once to cache.
data: setup
	@tools/install_offline_data.sh "$(DATA_DIR)"
	$(BIN)/python -m cnnlit.prepare

# The book's own runs are strict: a verdict or expect() that contradicts what its chapter's text
# says for the running profile stops the notebook, naming the claim (cnnlit.paper). A reader's
# run only prints it.
book test: export CNNLIT_STRICT := 1

book: data
	@tools/install_mathjax.sh
	CNNLIT_PROFILE=$${CNNLIT_PROFILE:-} $(BIN)/jupyter-book build . --path-output . -W -n --keep-going

# The instructor's path, on this CPU: every chapter in the full profile (its data, sizes and models) with
# every loop capped at 1 batch and 1 epoch, in one pytest run (tools/cifar_standin.py dry-run). The
# chapters that load CIFAR-10 run it on a synthetic stand-in of it in a temporary data folder (what Colab
# downloads); the others on the offline data, linked into that folder. (The CIFAR-10 chapters' offline
# fallback, Fashion-MNIST in place of CIFAR-10, runs in the smoke profile.) A cell that runs 5 minutes
# without finishing fails, named; a kernel whose peak memory passes the Colab budget fails (conftest.py).
WATCHDOG := --nbval-cell-timeout=300 --timeout=420
# Two pytest-xdist workers, one test file (or notebook, with its kernel) at a time each, one torch thread
# each: side by side they keep both cores busy without fighting over them (on 2 cores, smoke nbval went
# from 126 s to 79 s). TEST_WORKERS=0 runs everything in one process with torch's own thread count.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile
# step 1 hands out its files longest first (conftest.py: LONGEST_FIRST), not by their number of tests
LONGEST_FIRST := $(if $(filter-out 0 1,$(TEST_WORKERS)),--no-loadscope-reorder)
THREADS := $(if $(filter-out 0 1,$(TEST_WORKERS)),OMP_NUM_THREADS=1)

# The linter first (seconds): ruff's pyflakes, import order and pycodestyle over the package, tests,
# tools, benchmarks and the notebooks' code, at the book's 100-character code column (pyproject.toml).
lint: setup
	$(BIN)/ruff check .

# Every chapter runs in the smoke profile in the site build (tests/test_book.py). Where Chromium is
# installed, each also opens in JupyterLab in a real browser (tests/test_lab.py: its markdown checked;
# a chapter with a control runs up to its last control, then every control is operated); without
# Chromium, nbval runs every chapter. The ten slowest tests of each step are listed at its end.
SMOKE_NOTEBOOKS := $$(command -v chromium >/dev/null || command -v chromium-browser >/dev/null || echo notebooks)
SLOWEST := --durations=10

test: data lint
	@tools/install_browser.sh
	@tools/install_mathjax.sh
	$(THREADS) CNNLIT_PROFILE=smoke $(BIN)/python -m pytest tests --nbval-lax $(SMOKE_NOTEBOOKS) -p no:cacheprovider $(PARALLEL) $(LONGEST_FIRST) $(SLOWEST)
	$(THREADS) $(BIN)/python tools/cifar_standin.py dry-run $(PARALLEL) $(WATCHDOG) $(SLOWEST)

lab: data
	$(BIN)/jupyter lab notebooks/

student: setup
	$(BIN)/python tools/notebooks.py student _build/student

clean:
	rm -rf _build
