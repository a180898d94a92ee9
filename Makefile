# The two set-up commands of README.md: `make demo` and `make test`. Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo
DEMO_SCALE ?= 3000

.PHONY: install test test-fast demo bench clean

$(VENV)/.installed: requirements.lock pyproject.toml
	bash .ci/ensure-java
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(VENV)/bin/credsignal jvm-filesystem || echo "warning: no local file system jar (credsignal jvm-filesystem failed): Spark writes start a chmod process per file and folder, nothing else changes" >&2
	$(VENV)/bin/credsignal jvm-archive || echo "warning: no JVM class archive (credsignal jvm-archive failed): Spark drivers start about 4 s slower, nothing else changes" >&2
	touch $@

install: $(VENV)/.installed

# The whole suite, end-to-end tests included; the slowest tests are listed at the end, to keep it within CI's time.
test: install
	$(PY) -m pytest --durations=25

# Everything but the slow end-to-end tests that start real services.
test-fast: install
	$(PY) -m pytest -m "not slow"

demo: install
	bash scripts/demo.sh "$(DEMO_DIR)" "$(DEMO_SCALE)"

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
