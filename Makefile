# `make test`: create .venv, install everything, run the test suite.
# `make demo`: generate a synthetic dataset, train a small model, separate, evaluate, compare with the mixture
# baseline and write the listening page (and its screenshot).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-output

.PHONY: all install test test-numerics demo screenshot ffmpeg browser benchmark clean

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

# headless Chromium and its WebDriver: the browser tests of the listening page (tests/test_compare_browser.py)
# and the demo's screenshot. Optional: where they cannot be installed, those tests skip and say why.
BROWSER_PACKAGES = chromium chromium-driver

browser:
	@if { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && \
		{ command -v chromedriver >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromedriver ]; }; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing $(BROWSER_PACKAGES) with apt-get (browser tests of the listening page)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null \
			|| echo "note: could not install $(BROWSER_PACKAGES); the browser tests will be skipped" >&2; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "installing $(BROWSER_PACKAGES) with sudo apt-get (browser tests of the listening page)"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null \
			|| echo "note: could not install $(BROWSER_PACKAGES); the browser tests will be skipped" >&2; \
	else \
		echo "note: chromium and chromedriver are missing (e.g. 'sudo apt-get install $(BROWSER_PACKAGES)'); the browser tests will be skipped and the demo takes no screenshot" >&2; \
	fi

# no stamp means no finished install: start from an empty venv (--clear)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: ffmpeg browser $(STAMP)

# The suite on both cores: two pytest workers (each test file runs whole in one of them, so its fixtures
# are built once), one torch thread per process. The tests' models are tiny and gain nothing from a second
# thread, and two processes spinning two threads each on two cores slow each other tens of times over.
# Thread counts and kernels are varied where they matter, in test-numerics.
test: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile tests

# The numerically sensitive tests (marked `numerics`) again under torch's other CPU kernels and thread
# counts: CI and colleagues run on Intel Xeon (AVX-512), AMD Zen 3 (AVX2) and Zen 4, so a tolerance must
# hold whichever instruction set and reduction order the machine gives. MKL (torch's BLAS and FFT) and
# oneDNN (its LSTM) choose their code paths apart from ATen; MKL may run SSE-class kernels on AMD CPUs,
# and MKL_ENABLE_INSTRUCTIONS=SSE4_2 reproduced the Zen 3 failure of issue 17 on a Xeon (to 2e-5).
NUMERICS_SETTINGS = \
	"ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 OMP_NUM_THREADS=1" \
	"ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 OMP_NUM_THREADS=2" \
	"ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 OMP_NUM_THREADS=1" \
	"ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 OMP_NUM_THREADS=2"

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
	@echo "  compare/     the model against the mixture baseline: results.csv/json, pairwise.csv, plots"
	@echo "  report/      the listening page (report/index.html); report-index.png, report-track.png: its screenshots"
	@echo
	$(BIN)/python -m openunmix.compare model=$(DEMO)/eval mixture=$(DEMO)/eval/mixture-baseline \
		--outdir $(DEMO)/compare --report $(DEMO)/report --root $(DEMO)/data --is-wav \
		--estimates model=$(DEMO)/estimates --mixture-estimates mixture --quiet
	@$(MAKE) --no-print-directory screenshot DEMO=$(DEMO)

# screenshots of the demo's listening page with headless Chromium (skipped, with a note, without it)
CHROMIUM = $(shell command -v chromium || command -v chromium-browser)
SHOT = $(CHROMIUM) --headless --disable-gpu --hide-scrollbars --mute-audio --window-size=1280,1500 \
	$(if $(filter 0,$(shell id -u)),--no-sandbox)

screenshot:
	@if [ -z "$(CHROMIUM)" ]; then echo "note: no chromium; no screenshot of the listening page (make browser)" >&2; exit 0; fi; \
	track=$$(ls "$(abspath $(DEMO))"/report/tracks/*.html | head -n 1); \
	$(SHOT) --screenshot="$(abspath $(DEMO))/report-index.png" "file://$(abspath $(DEMO))/report/index.html" >/dev/null 2>&1 && \
	$(SHOT) --virtual-time-budget=3000 --screenshot="$(abspath $(DEMO))/report-track.png" "file://$$track" >/dev/null 2>&1 && \
	echo "screenshots: $(DEMO)/report-index.png $(DEMO)/report-track.png" || \
	echo "note: chromium could not take the screenshots" >&2

benchmark: install
	$(BIN)/python benchmarks/separation.py
	$(BIN)/python benchmarks/wiener.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/export.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
