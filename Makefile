# Everything runs through .venv/bin; activating the venv is never needed.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
PYTEST  := .venv/bin/pytest

.PHONY: install test sim bench clean

install: .venv/.installed

.venv/.installed: pyproject.toml constraints.txt
	python3 -m venv .venv
	$(PIP) install --upgrade pip wheel
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e .
	touch $@

test: install
	$(PYTEST) -n 2 tests

sim: install
	$(PY) -m sim.regression

bench: install
	$(PY) -m sim.bench_core

clean:
	rm -rf build
