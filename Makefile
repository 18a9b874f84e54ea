# Everything runs through .venv/bin; activating the venv is never needed.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
PYTEST  := .venv/bin/pytest

BOARD ?= all

.PHONY: install test sim bench bitstream clean

install: .venv/.installed

# Verilator's FST writer (waveforms of failing simulations) needs the lz4 headers; without them
# the regression falls back to VCD, so a failure here is a warning, not an error.
.venv/.installed: pyproject.toml constraints.txt
	@test -f /usr/include/lz4.h || (apt-get install -y liblz4-dev || (apt-get update && apt-get install -y liblz4-dev)) \
		|| echo "warning: liblz4-dev not installed; failing simulations will dump VCD instead of FST"
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
	$(PY) -m sim.bench_board

bitstream: install
	$(PY) -m delaycore.boards.build --board $(BOARD)

clean:
	rm -rf build
