# Two commands for a fresh machine with Python 3.11 and make:
#   make run   - create .venv if missing, install, start the Streamlit app on http://localhost:8501
#                (this machine only; COSTSIM_HOST=0.0.0.0 make run exposes it to the network, COSTSIM_PORT sets the port)
#   make test  - create .venv if missing, install with the dev extra, run the whole test suite
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
COSTSIM_HOST ?= 127.0.0.1
COSTSIM_PORT ?= 8501

.PHONY: run test install install-dev validate bench lint clean fuzz

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/streamlit run app.py --server.address $(COSTSIM_HOST) --server.port $(COSTSIM_PORT) --server.headless true --browser.gatherUsageStats false --client.showErrorDetails none

test: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

validate: $(VENV)/.installed
	$(BIN)/costsim validate

fuzz: $(VENV)/.installed-dev
	COSTSIM_FUZZ_EXAMPLES=$${COSTSIM_FUZZ_EXAMPLES:-3000} $(BIN)/python -m pytest -p no:cacheprovider -s -q tests/test_fuzz.py tests/test_fuzz_sim.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .import_linter_cache
