# Everything runs through .venv/bin; activating the venv is never needed.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
PYTEST  := .venv/bin/pytest
CLI     := .venv/bin/delaysnn

BOARD ?= all
# festival and its three English voices (spike_datasets/tts.py: --tts festival=N)
FESTIVAL_PACKAGES := festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts

.PHONY: install test demo sim bench bitstream deploy train sweep loso adapt learn-demo clean

# make install TORCH=cuda: a CUDA build of the same torch from the PyTorch index instead of the CPU
# build (cuda = cu130, PyPI's own CUDA build of 2.13.0, for drivers R580+; TORCH=cu126 or cu129 for
# older drivers or GPUs). Later make commands keep the variant installed last (.venv/.torch); back
# to the CPU build: rm -rf .venv && make install. EXTRAS: the optional parts (pyproject.toml);
# cluster = Ray for the sweep's --ray (tests/training/test_sweep_cluster.py).
TORCH       ?= $(or $(shell cat .venv/.torch 2>/dev/null),cpu)
TORCH_CUDA   = $(if $(filter cuda,$(TORCH)),cu130,$(TORCH))
TORCH_WHEEL  = $(if $(filter cpu,$(TORCH)),torch==2.13.0,"torch==2.13.0+$(TORCH_CUDA)" --index-url https://download.pytorch.org/whl/$(TORCH_CUDA))
EXTRAS      ?= cluster

install: .venv/.installed-$(TORCH)

# Verilator's FST writer (waveforms of failing simulations) needs the lz4 headers; without them
# the regression falls back to VCD, so a failure here is a warning, not an error.
.venv/.installed-$(TORCH): pyproject.toml constraints.txt
	@test -f /usr/include/lz4.h || (apt-get install -y liblz4-dev || (apt-get update && apt-get install -y liblz4-dev)) \
		|| echo "warning: liblz4-dev not installed; failing simulations will dump VCD instead of FST"
	@(test -e /usr/lib/x86_64-linux-gnu/libftdi1.so.2 && test -e /usr/lib/x86_64-linux-gnu/libusb-1.0.so.0) \
		|| (apt-get install -y libusb-1.0-0 libftdi1-2 || (apt-get update && apt-get install -y libusb-1.0-0 libftdi1-2)) \
		|| echo "warning: libusb-1.0-0 / libftdi1-2 not installed; openFPGALoader (make deploy PROGRAM=1) will not start"
	@command -v espeak-ng >/dev/null || (apt-get install -y espeak-ng || (apt-get update && apt-get install -y espeak-ng)) \
		|| echo "warning: espeak-ng not installed; training with --tts (synthetic voices) will refuse"
	@command -v flite >/dev/null || (apt-get install -y flite || (apt-get update && apt-get install -y flite)) \
		|| echo "warning: flite not installed; training with --tts flite=N (synthetic voices) will refuse"
	@(command -v text2wave >/dev/null && test -d /usr/share/festival/voices/english/ked_diphone \
		&& test -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts && test -d /usr/share/festival/voices/english/kal_diphone) \
		|| (apt-get install -y $(FESTIVAL_PACKAGES) || (apt-get update && apt-get install -y $(FESTIVAL_PACKAGES))) \
		|| echo "warning: festival not installed; training with --tts festival=N (synthetic voices) will refuse"
	python3 -m venv .venv
	$(PIP) install --upgrade pip wheel
	$(PIP) install -c constraints.txt $(TORCH_WHEEL)
	$(PIP) install -c constraints.txt -e ".$(if $(EXTRAS),[$(EXTRAS)])"
	$(PIP) install -c constraints.txt requests
	$(PIP) install -c constraints.txt --no-deps tonic==1.7.0 importRosbag==1.0.4 expelliarmus==1.1.12
	rm -f .venv/.installed .venv/.installed-*
	echo $(TORCH) > .venv/.torch
	touch $@

test: install
	$(PYTEST) -n 2 tests

# The whole flow on the default spoken-digit network: train -> deploy for the iCEBreaker -> 50 test
# samples through the Verilator board model and the host driver; build/reports/demo.json.
# BITSTREAM=0 skips synthesis and place-and-route. (sw/deploy/demo.py; delaysnn demo --help)
demo: install
	$(CLI) demo $(if $(filter 0,$(BITSTREAM)),--no-bitstream)

# delaysnn check: the core's regression (check rtl), then the learning engine's (check learning)
sim: install
	$(CLI) check

# delaysnn bench: core, board, lanes, train (each alone: delaysnn bench core ...)
bench: install
	$(CLI) bench

# Bit-budget study (docs/training.md). The default is the grid of the README's "Bit budget" table
# (700-128-10, 30 epochs: about 2.2 hours on 2 cores); SWEEP_ARGS= (empty) runs it on the task's
# default 700-256-128-10 network (about 4x the compute);
# make sweep SWEEP_ARGS="--epochs 4 --wbits 1.58,4,32 --dbits 0,3,5" for a quick one.
SWEEP_ARGS ?= --sizes 128 --epochs 30
sweep: install
	$(CLI) sweep --task fsdd --workers 2 $(SWEEP_ARGS)

# Leave one speaker out on spoken digits (docs/training.md): a network per (held-out speaker,
# seed), build/reports/loso-<name>.json and build/plots/loso-<name>.png; e.g. the demo network
# make loso LOSO_ARGS="--sizes 128 --input-delays --leak 3,4 --init-gain 2,1 --epochs 20 --official"
LOSO_ARGS ?=
loso: install
	$(CLI) loso $(LOSO_ARGS)

# On-chip adaptation to a new speaker (sw/onchip_learning/adapt.py): the LOSO network without
# SPEAKER, deployed with the engine, learns from K recordings per digit; build/reports/adapt-*.json,
# build/plots/adapt-*.png; ADAPT_ARGS="--run build/train/<run> --bptt --passes 2 ..."
SPEAKER ?= george
K       ?= 5
ADAPT_ARGS ?=
adapt: install
	$(CLI) adapt --speaker $(SPEAKER) --k $(K) $(ADAPT_ARGS)

# On-chip learning demonstrations (docs/learning.md): build/reports/onchip-*.json, build/plots/onchip-*.png
learn-demo: install
	$(CLI) learn $(LEARN_ARGS)

# make bitstream BOARD=icebreaker|ulx3s|all [LEARNING=0|1] [DSP=1] [LANES=2|4] [INPUT_DELAYS=1]: learning engine per board
# default unless LEARNING is given (hw/delaycore/boards/build.py); the stage and elapsed time on screen,
# the tools' log in build/bitstream/<board>[-variant]/build.log
LEARNING ?=
DSP      ?= 0
LANES    ?= 1
INPUT_DELAYS ?= 0
bitstream: install
	$(CLI) bitstream --board $(BOARD) $(if $(filter 0,$(LEARNING)),--no-learning) $(if $(filter 1,$(LEARNING)),--learning) $(if $(filter 1,$(DSP)),--dsp) $(if $(filter-out 1,$(LANES)),--lanes $(LANES)) $(if $(filter 1,$(INPUT_DELAYS)),--input-delays)

# make deploy EXPORT=<build/train/<run> or its export/> BOARD=icebreaker|ulx3s [LEARNING=0|1] [PROGRAM=1]
# [BITSTREAM=0] [SEED=1] [BAUD=] [HOST_INPUT_DELAYS=1]: fit check, repacked image, bitstream and
# report in build/deploy/<run>-<board>[-variant]/ (sw/deploy; delaysnn deploy --help).
# HOST_INPUT_DELAYS=1: a network trained with --input-delays gets the learning engine, the host
# applies the input delays (docs/deploy.md).
EXPORT    ?=
PROGRAM   ?= 0
BITSTREAM ?= 1
BAUD      ?=
HOST_INPUT_DELAYS ?= 0
deploy: install
	$(CLI) deploy "$(EXPORT)" --board $(BOARD) $(if $(filter 0,$(LEARNING)),--no-learning) $(if $(filter 1,$(LEARNING)),--learning) $(if $(filter 1,$(HOST_INPUT_DELAYS)),--host-input-delays) $(if $(filter 1,$(PROGRAM)),--program) $(if $(filter 0,$(BITSTREAM)),--no-bitstream) $(if $(SEED),--seed $(SEED)) $(if $(BAUD),--baud $(BAUD)) $(if $(filter 1,$(DSP)),--dsp) $(if $(filter-out 1,$(LANES)),--lanes $(LANES))

# Training (docs/training.md): make train TASK=fsdd WBITS=1.58 DBITS=5 [EPOCHS=30] [SEED=0] [RESUME=1]
# [NAME=...] [TRAIN_ARGS=...]. The run is named after the task and every option that differs from
# the task's defaults (build/train/<name>/), unless NAME is given.
TASK       ?= seqdet
WBITS      ?=
DBITS      ?=
EPOCHS     ?=
SEED       ?=
RESUME     ?=
NAME       ?=
TRAIN_ARGS ?=

train: install
	$(CLI) train --task $(TASK) $(if $(NAME),--name $(NAME)) \
		$(if $(WBITS),--wbits $(WBITS)) $(if $(DBITS),--dbits $(DBITS)) \
		$(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED)) \
		$(if $(RESUME),--resume) $(TRAIN_ARGS)

clean:
	rm -rf build
