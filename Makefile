# Every target bootstraps what it needs: a fresh clone runs `make grade` or `make test` directly.
SHELL := /bin/bash
export LANG := C.UTF-8
export LC_ALL := C.UTF-8
export PYTHONUTF8 := 1

VENV   := .venv
# nbgrader runs `alembic` and `jupyter` by name: the venv's bin comes first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Debian's python3 (world-readable, unlike a pyenv build under /root) so sandboxed kernels can use the venv.
BASE_PYTHON ?= /usr/bin/python3

.PHONY: venv release grade test test-fast bench check clean-state

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(BASE_PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

## release: regenerate release/ from source/ with nbgrader generate_assignment
release: $(STAMP)
	$(PY) -m coursegrader generate

## grade: autograde every submission in submitted/ (or the bundled demo class), feedback, grades, report
grade: $(STAMP)
	$(PY) -m coursegrader grade $(ARGS)

## test: the whole suite (what CI runs)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## test-fast: unit tests only
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## bench: batch engine against stock nbgrader autograde, same submissions, same run
bench: $(STAMP)
	$(PY) -m coursegrader.bench $(ARGS)

## check: a student's pre-submission check, e.g. make check NB=release/ps1/ps1.ipynb
check: $(STAMP)
	$(PY) -m coursegrader check $(NB)

clean-state:
	rm -rf exchange submitted feedback gradebook.db reports grades*.csv
	find autograded -mindepth 1 ! -name README.md -exec rm -rf {} +

# Optional pieces (JupyterLab, browser tests, services) live in mk/*.mk
-include mk/*.mk
