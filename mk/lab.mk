# JupyterLab for the course (student / instructor), Debian's Chromium for the browser tests.
# Included by the Makefile (-include mk/*.mk); uses PY and STAMP from there.

ROLE    ?= student
STUDENT ?= student01
IP      ?= 127.0.0.1
PORT    ?=
# Extra launcher options, e.g. LAB_ARGS="--no-browser --locale en" (python -m coursegrader.lab --help)
LAB_ARGS ?=

# Debian packages of the browser tests: the browser, and a Japanese font for its UI text.
BROWSER_DEBS := chromium fonts-noto-cjk
# Python packages of the lab and the browser tests (also listed in pyproject.toml once added there).
LAB_PY_MODULES := playwright jupyterlab_language_pack_ja_JP matplotlib_fontja
LAB_PY_PACKAGES := playwright jupyterlab-language-pack-ja-JP matplotlib-fontja

.PHONY: lab lab-release lab-python-deps browser-deps test-browser

## lab: JupyterLab for this course; ROLE=student (default, Japanese UI, own folder build/lab/student-$(STUDENT)) or ROLE=instructor (formgrader)
lab: $(STAMP) lab-python-deps
	$(PY) -m coursegrader.lab --role $(ROLE) --student-id $(STUDENT) --ip $(IP) $(if $(PORT),--port $(PORT)) $(LAB_ARGS)

## lab-release: put every assignment of release/ into the exchange, so that students can fetch it
lab-release: $(STAMP)
	@test -n "$(wildcard release/*/*.ipynb)" || { echo "release/ is empty: run 'make release' first"; exit 1; }
	@for a in $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard release/*/*.ipynb))))); do \
	  PATH="$(CURDIR)/$(dir $(PY)):$$PATH" $(dir $(PY))nbgrader release_assignment $$a --force || exit 1; \
	done

# Quick when present (one import); installs only what is missing.
lab-python-deps: $(STAMP)
	@$(PY) -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))" $(LAB_PY_MODULES) \
	  || $(PY) -m pip install -q $(LAB_PY_PACKAGES)

## browser-deps: Debian's chromium and a CJK font (for Playwright; no browser download), plus the Python side
browser-deps: lab-python-deps
	@if dpkg -s $(BROWSER_DEBS) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(BROWSER_DEBS) (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_DEBS) >/dev/null; \
	else \
	  echo "warning: not root, cannot install $(BROWSER_DEBS); the browser test will be skipped"; \
	fi

## test-browser: the browser journey and the Japanese font tests only
test-browser: $(STAMP) browser-deps
	$(PY) -m pytest tests/test_browser_journey.py tests/test_japanese_fonts.py $(PYTEST_ARGS)

# `make test` (what CI runs) needs the browser too.
test: browser-deps
