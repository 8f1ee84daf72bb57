# `make test`: create .venv, install everything, run the test suite.
# `make demo`: generate a synthetic dataset, train a small model, separate and evaluate.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-output

.PHONY: all install test demo ffmpeg benchmark clean

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

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: ffmpeg $(STAMP)

test: install
	$(BIN)/python -m pytest -q tests

demo: install
	$(BIN)/python -m openunmix.demo_run --outdir $(DEMO)

benchmark: install
	$(BIN)/python benchmarks/separation.py
	$(BIN)/python benchmarks/wiener.py
	$(BIN)/python benchmarks/training.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
