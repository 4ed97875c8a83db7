# The README's commands. Each target creates .venv if needed and installs only what it needs;
# a stamp file per extra makes the second run quick (re-installed when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# A folder of full MNIST for `make bench` (`make bench BENCH_DATA=DIR`); by default the bench
# reads ndgrad's MNIST cache when it holds the files, otherwise synthetic learnable data.
BENCH_DATA ?=
# Graphviz's `dot` draws ndgrad.viz.draw_graph's pictures: installed with apt-get where it is
# missing and we are root (updating the package lists only if the first try fails); never fails.
GRAPHVIZ := command -v dot >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 \
	|| [ "$$(id -u)" != 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz \
	>/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq graphviz >/dev/null 2>&1; } || echo "graphviz could not be \
	installed: graph pictures (and the tests that render them) need its dot program"

.PHONY: demo test docs figures bench bench-gpu lint mutation clean

# pip >= 25.1 installs PEP 735 dependency groups (`--group dev`, the development tools).
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) 'pip>=25.1'

$(VENV)/.core: pyproject.toml | $(PY)
	$(PIP) -e '.[progress]'
	@touch $@

$(VENV)/.dev: pyproject.toml | $(PY)
	@$(PY) -m pip --version | awk '{split($$2, v, "."); exit !(v[1] > 25 || v[1] == 25 && v[2] >= 1)}' \
		|| $(PIP) 'pip>=25.1'
	$(PIP) -e '.[progress]' --group dev
	@touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(VENV)/bin/ndgrad train mnist

test: $(VENV)/.dev
	@$(GRAPHVIZ)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n 2 -q

# The API reference, from the docstrings (mkdocs.yml), into site/; warnings are errors.
docs: $(VENV)/.dev
	$(PY) -m mkdocs build --strict --quiet --site-dir site

figures: $(VENV)/.dev
	@$(GRAPHVIZ)
	$(PY) docs/figures/make_figures.py

$(VENV)/.bench: pyproject.toml | $(PY)
	$(PIP) -e '.[bench]'
	@touch $@

bench: $(VENV)/.dev $(VENV)/.bench
	$(PY) bench/run.py $(if $(BENCH_DATA),--data $(BENCH_DATA)) --out bench/RESULTS.md

$(VENV)/.cuda: pyproject.toml | $(PY)
	$(PIP) -e '.[cuda]'
	@touch $@

# Needs an NVIDIA GPU and a CUDA build of torch; without them it says so and writes nothing.
bench-gpu: $(VENV)/.dev $(VENV)/.cuda
	$(PY) bench/gpu.py --out bench/RESULTS-gpu.md

lint: $(VENV)/.dev
	$(PY) -m ruff check .

# Hours, not minutes: mutmut in scratch copies (MUTATION_DIR, default /tmp/ndgrad-mutation),
# niced, one worker; scores to tests/MUTATION.md. MODULES=ndgrad/callbacks runs only some.
mutation: $(VENV)/.dev
	$(PY) tools/mutation.py $(MODULES)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache site dist
