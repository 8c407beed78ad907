# cnnlit: every command sets itself up. `make book` builds the site, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlit-installed
# the data cache, where cnnlit.data.data_root looks for it
DATA_DIR := $(or $(CNNLIT_DATA),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cnnlit)
unexport PYTHONDONTWRITEBYTECODE
# How OpenMP's idle threads wait is set by `import cnnlit` (a short spin, cnnlit/threads.py); the test
# workers below run one torch thread each, so they have no idle threads to wait.

.PHONY: setup data book lint test lab student clean help
help:
	@echo "make book    build the Jupyter Book site into _build/html (runs each notebook whose code changed since the last build)"
	@echo "make lint    ruff over the package, tests, tools and notebooks"
	@echo "make test    the linter, a full-profile dry run of every notebook (the site renders its outputs), unit tests, the notebooks in JupyterLab in the smoke profile (or nbval without a browser), book and browser checks"
	@echo "make lab     open JupyterLab on notebooks/"
	@echo "make student solution-free notebooks in _build/student"
	@echo "make clean   remove the builds (site, its execution cache, student copies)"

# The virtual environment at the repo root, with cnnlit and its book and test extras. --no-compile:
# compiling all of torch ahead of time doubled the install (136 s against 61 s for torch and
# torchvision into a fresh venv on 2 cores); a module is compiled instead when a process first imports
# it, and its .pyc written for the next. For that, every command below may write .pyc files, even where
# PYTHONDONTWRITEBYTECODE is set (without them every kernel compiled torch again: `make test` took
# 3 minutes longer).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "cnnlit needs Python >= 3.10"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[book,test]'
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

# First the dry run, which writes every chapter it ran, with its outputs, into $(EXECUTED) (conftest.py;
# progress bars as the text a page can show). Then the unit tests, the site build and the browser
# checks: the site renders the dry run's chapters rather than running them again (tests/test_book.py;
# a chapter changed since runs in the smoke profile). Where Chromium is installed, each chapter also
# opens in JupyterLab in a real browser, in the smoke profile (tests/test_lab.py: its markdown
# checked; a chapter with a control runs up to its last control, then every control is operated);
# without Chromium, nbval runs every chapter in the smoke profile. The ten slowest tests of each step
# are listed at its end.
EXECUTED := _build/executed
SMOKE_NOTEBOOKS := $$(command -v chromium >/dev/null || command -v chromium-browser >/dev/null || echo notebooks)
SLOWEST := --durations=10

test: data lint
	@tools/install_browser.sh
	@tools/install_mathjax.sh
	rm -rf $(EXECUTED)
	$(THREADS) CNNLIT_EXECUTED_NOTEBOOKS=$(EXECUTED) CNNLIT_PROGRESS=text $(BIN)/python tools/cifar_standin.py dry-run $(PARALLEL) $(WATCHDOG) $(SLOWEST)
	$(THREADS) CNNLIT_PROFILE=smoke CNNLIT_SITE_OUTPUTS=$(EXECUTED) $(BIN)/python -m pytest tests --nbval-lax $(SMOKE_NOTEBOOKS) -p no:cacheprovider $(PARALLEL) $(LONGEST_FIRST) $(SLOWEST)

lab: data
	$(BIN)/jupyter lab notebooks/

student: setup
	$(BIN)/python tools/notebooks.py student _build/student

clean:
	rm -rf _build
