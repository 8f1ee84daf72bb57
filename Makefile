# `make test`: create .venv, install everything, run the test suite.
# `make demo`: generate a synthetic dataset, train a small model, separate and evaluate.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-output

.PHONY: all install test test-numerics demo ffmpeg benchmark clean

all: test

ffmpeg:
	@if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing ffmpeg with apt-get (musdb/museval need ffmpeg and ffprobe)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null || exit 1; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "installing ffmpeg with sudo apt-get (musdb/museval need ffmpeg and ffprobe)"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null || exit 1; \
	else \
		echo "error: ffmpeg and ffprobe are missing; install them (e.g. 'sudo apt-get install ffmpeg', 'brew install ffmpeg' or 'conda install -c conda-forge ffmpeg') and run make again" >&2; \
		exit 1; \
	fi

# no stamp means no finished install: start from an empty venv (--clear)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: ffmpeg $(STAMP)

test: install
	$(BIN)/python -m pytest -q tests

# The numerically sensitive tests (marked `numerics`) again under torch's other CPU kernels and thread
# counts: CI and colleagues run on Intel Xeon (AVX-512), AMD Zen 3 (AVX2) and Zen 4, so a tolerance must
# hold whichever instruction set and reduction order the machine gives.
NUMERICS_SETTINGS = \
	"ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1" \
	"ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=2" \
	"ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1" \
	"ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=2"

test-numerics: install
	@for s in $(NUMERICS_SETTINGS); do \
		echo "== numerics under $$s"; \
		env $$s $(BIN)/python -m pytest -q -m numerics -p no:cacheprovider tests || exit 1; \
	done

DEMO_TRAIN ?= --epochs 15 --hidden-size 128 --nfft 2048 --nhop 512 --seq-dur 4 --samples-per-track 32 --batch-size 16

demo: install
	$(BIN)/python -m openunmix.demo --root $(DEMO)/data
	$(BIN)/python train.py --dataset musdb --root $(DEMO)/data --is-wav --target vocals \
		--output $(DEMO)/model $(DEMO_TRAIN) --quiet
	$(BIN)/python test.py $(DEMO)/model --input "$(DEMO)/data/test/demo-test-000 - Synth/mixture.wav" \
		--outdir $(DEMO)/separated --niter 1
	$(BIN)/python eval.py $(DEMO)/model --root $(DEMO)/data --is-wav --subset test --niter 1 \
		--outdir $(DEMO)/estimates --evaldir $(DEMO)/eval --cores 2 --baseline --force --quiet
	@echo
	@echo "demo results in $(DEMO)/:"
	@echo "  data/        synthetic MUSDB18-layout dataset (train/, test/)"
	@echo "  model/       trained vocals model (vocals.pth, vocals.json, vocals_loss.png)"
	@echo "  separated/   test.py output: mixture/vocals.wav, mixture/accompaniment.wav"
	@echo "  estimates/   eval.py estimates of every test track"
	@echo "  eval/        museval scores: results.csv, sdr.png, per-track json; mixture-baseline/"

benchmark: install
	$(BIN)/python benchmarks/separation.py
	$(BIN)/python benchmarks/wiener.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/export.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
