# cnnlit: every command sets itself up. `make book` builds the site, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlit-installed
DATA_DIR := $(or $(CNNLIT_DATA),$(HOME)/.cache/cnnlit)
# OpenMP threads that sleep instead of spinning while they wait: on a busy 2-core machine spinning threads
# slowed LeNet-5 training over tenfold (benchmarks/RESULTS.md). Must be set before torch starts.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup data book test lab student clean help
help:
	@echo "make book    build the Jupyter Book site into _build/html (executes every notebook)"
	@echo "make test    unit tests, every notebook under nbval (smoke profile), book and browser checks"
	@echo "make lab     open JupyterLab on notebooks/"
	@echo "make student solution-free notebooks in _build/student"

# The virtual environment at the repo root, with cnnlit and its book and test extras.
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

book: data
	CNNLIT_PROFILE=$${CNNLIT_PROFILE:-} $(BIN)/jupyter-book build . --path-output . -W -n --keep-going

test: data
	@tools/install_browser.sh
	CNNLIT_PROFILE=smoke $(BIN)/python -m pytest tests --nbval-lax notebooks -p no:cacheprovider

lab: data
	$(BIN)/jupyter lab notebooks/

student: setup
	$(BIN)/python tools/notebooks.py student _build/student

clean:
	rm -rf _build
