# Set-up and everyday commands. Every target creates or reuses .venv.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser datasets docs

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/leapfactual demo --out runs/demo

# Two workers by default (pytest-xdist): measured on this 2-core machine (commits a1f730a, a5287d3),
# the whole suite took 375 s with -n 2 on idle cores against 705 s serial (the serial run shared
# the machine with one background job), for 5 % more CPU time (each worker trains the session
# fixtures). On cores shared with other work the gain shrinks: `make test PYTEST_ARGS=` runs
# serially. --durations lists the slowest tests.
PYTEST_ARGS ?= -n 2
test: $(STAMP) browser datasets
	$(PY) -m pytest -q --durations=15 $(PYTEST_ARGS)

# The report test renders HTML in headless Chromium (Debian's package; needs root to install).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the report render test"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
	  || echo "could not install chromium: the report render test is skipped outside CI"; }

# Debian's Fashion-MNIST (the IDX reader's real-data test and `leapfactual improve`).
datasets:
	@test -d /usr/share/datasets/fashion-mnist || { \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null) \
	  || echo "could not install dataset-fashion-mnist: its test is skipped outside CI"; }

# Start-up of the command line, the speed of every method, then of the two VAEs, side by side
# (prints ratios; minutes on 2 cores).
bench: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/startup.py
	PYTHONPATH=. $(PY) benchmarks/speed.py
	PYTHONPATH=. $(PY) benchmarks/codec_speed.py
	PYTHONPATH=. $(PY) benchmarks/codec_quality.py
	PYTHONPATH=. $(PY) benchmarks/field_speed.py
	PYTHONPATH=. $(PY) benchmarks/fit_speed.py

# The documentation site (MkDocs + Material + mkdocstrings) into site/; strict: a broken link
# or API reference fails (tests/docs/test_site.py builds it the same way).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf runs .pytest_cache site
