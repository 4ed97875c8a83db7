# The README's commands. Each target creates .venv if needed and installs only what it needs;
# a stamp file per extra makes the second run quick (re-installed when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test bench bench-gpu lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: pyproject.toml | $(PY)
	$(PIP) -e '.[progress]'
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(VENV)/bin/ndgrad train mnist

test: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 -q

bench: $(VENV)/.dev
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) bench/run.py --out bench/RESULTS.md

bench-gpu: $(VENV)/.dev
	$(PY) bench/run.py --device cuda --out bench/RESULTS-gpu.md

lint: $(VENV)/.dev
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
