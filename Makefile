# Two commands on a fresh machine: `make demo` and `make test`. Everything else builds on .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PIXEL_PORT ?= 8001

.PHONY: demo test lint bench bench-quick clean

$(VENV)/.installed: pyproject.toml setup.py $(wildcard beaconguard/*.c beaconguard/*.h)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m demo_site --host $(HOST) --port $(PORT) --pixel-port $(PIXEL_PORT)

test: $(VENV)/.installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check beaconguard demo_site benchmarks tests
	$(PY) -m mypy beaconguard

bench: $(VENV)/.installed
	$(PY) -m benchmarks

bench-quick: $(VENV)/.installed
	$(PY) -m benchmarks --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
