# make demo: JupyterLab on the quickstart notebook against a local sandbox.
# make test: ruff (lint and format), pyright (dr_notebook, tests, benchmarks), then every test
# (unit, sandbox over HTTP, notebooks, browser).
# make test-fast: ruff, then the tests that need no browser and build no application.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Test processes side by side (pytest-xdist): most tests wait on servers, not on the CPU.
# --no-loadscope-reorder: xdist would hand out the groups with the most tests first, and the
# longest ones (few, long tests) last; tests/conftest.py orders them instead.
TEST_WORKERS ?= 4
XDIST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: test test-fast demo lint bench clean pythons

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip

# --no-compile: the tests import a fraction of what the test extra installs, and Python compiles
# what they import on first use; compiling everything at install doubled the install's CPU time.
$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --no-compile -e '.[test]'
	touch $@

$(VENV)/.installed-lab: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[sandbox,lab]'
	touch $@

# The Python of DataRobot's "[DataRobot] Python 3.12 Applications Base" (its templates need it):
# found as the sandbox finds it (PATH, pyenv's versions, uv's installs; `uv python find` alone
# stops at a pyenv shim of another version), else installed by uv (.ci/run).
# `make demo` needs it too: the demo catalogue's templates run on it.
PYTHON_312 = $(PY) -c "import sys; from dr_notebook.sandbox.runtime.interpreters import \
  find_python; sys.exit(find_python('3.12') is None)" || $(PY) -m uv python install 3.12

pythons: $(VENV)/.installed-test
	$(PYTHON_312)

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/pyright --pythonpath $(PY)
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m pytest $(XDIST) -m "not browser and not slow" $(PYTEST_ARGS)

demo: $(VENV)/.installed-lab
	$(PYTHON_312)
	$(PY) -m dr_notebook.demo $(DEMO_ARGS)

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed-test
	$(PY) benchmarks/list_templates.py
	$(PY) benchmarks/gallery.py
	$(PY) benchmarks/launch.py
	$(PY) benchmarks/proxy.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
