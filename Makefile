# Two commands do all set-up on a fresh machine:
#   make demo   create the environment, build the demo store, open JupyterLab on the quickstart
#               (staged: a quick run first, the full k-fold run in the background;
#               make demo ARGS=--no-lab builds the full run only and does not start JupyterLab)
#   make test   create the environment (browser and Label Studio included), run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test setup venv lint format bench bench-quick chromium tools clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

chromium:
	bash scripts/install-chromium.sh

# the tools live in their own venvs, made with the system python: no need to wait for ours
tools:
	bash scripts/install-integration-tools.sh

# the three installs are independent (our venv, Debian's chromium, the tools' venvs): run them at
# once, each one's output kept together, so a fresh machine waits for the slowest, not the sum
setup:
	$(MAKE) --no-print-directory -j3 --output-sync=target venv chromium tools

demo: $(STAMP)
	$(BIN)/erroranalysis demo $(ARGS)

test: setup
	$(BIN)/ruff check erroranalysis tests bench
	$(BIN)/ruff format --check erroranalysis tests bench
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check erroranalysis tests bench
	$(BIN)/ruff format --check erroranalysis tests bench

format: $(STAMP)
	$(BIN)/ruff format erroranalysis tests bench
	$(BIN)/ruff check --fix erroranalysis tests bench

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick $(ARGS)

clean:
	rm -rf $(VENV) .venv-labelstudio .venv-datumaro .pytest_cache
