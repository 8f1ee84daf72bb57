"""python -m openunmix.stream end to end: the pipe command against offline separation, bad input in one line;
train.py --unidirectional -> model folder -> stream. The streaming separator itself: tests/stream/test_separator.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers.launcher import run, run_module
from conftest import ROOT
from openunmix.demo import generate_dataset
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator, load_target_models
from openunmix.stream import StreamingSeparator, separate_stream
from helpers.causal import MASK_RTOL, RATE, make_causal_folder, mixture


# frame-sized work runs best on one thread (conftest.one_thread), and the suite shares its cores
pytestmark = pytest.mark.usefixtures("one_thread")


def _stream_cmd(*args):
    return [sys.executable, "-m", "openunmix.stream", *map(str, args), "--threads", "1"]


def _stream(*args, input: bytes):
    """``python -m openunmix.stream ARGS --threads 1`` with ``input`` on stdin: a CompletedProcess of bytes."""
    return run_module("openunmix.stream", [*args, "--threads", "1"], input=input, text=False, cwd=ROOT, timeout=120)


def test_pipe_command_matches_offline(tmp_path, causal_dir):
    x = mixture(RATE, seed=4)
    raw = np.ascontiguousarray(x.numpy().T).astype("<f4").tobytes()
    separator = load_separator(causal_dir, filter=FilterSettings(niter=0))  # the ratio mask: as offline
    with torch.no_grad():
        reference = separator(x[None])[0].numpy()
    scale = float(np.abs(reference).max())
    r = _stream(causal_dir, "--rate", RATE, "--channels", 2, "--source", "vocals", "--block", 700,
                                   "--niter", 0, input=raw)
    assert r.returncode == 0, r.stderr.decode()
    out = np.frombuffer(r.stdout, dtype="<f4").reshape(-1, 2).T
    # aligned with the input: the latency's leading silence is not written
    assert out.shape == x.shape
    # the stream in blocks of 700 samples against offline (MASK_RTOL); float32 samples pass the pipe exactly
    np.testing.assert_allclose(out, reference[separator.source_names.index("vocals")], rtol=0, atol=MASK_RTOL * scale)
    # every source to growing wav files
    r = _stream(causal_dir, "--rate", RATE, "--channels", 2, "--outdir", tmp_path / "out",
                                   "--niter", 0, input=raw)
    assert r.returncode == 0, r.stderr.decode()
    for i, name in enumerate(separator.source_names):
        audio, rate = sf.read(str(tmp_path / "out" / f"{name}.wav"), dtype="float32", always_2d=True)
        assert rate == RATE
        np.testing.assert_allclose(audio.T, reference[i], rtol=0, atol=MASK_RTOL * scale)  # float wav: exact


def _one_error_line(stderr: bytes) -> str:
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in stderr.decode()
    return lines[0]


def test_pipe_command_bad_input(tmp_path, causal_dir):
    x = mixture(RATE // 2, seed=5)
    raw = np.ascontiguousarray(x.numpy().T).astype("<f4").tobytes()
    # a channel count or rate the model does not take, a bidirectional model: nothing read, status 2
    for args, words in (
        ((causal_dir, "--rate", RATE, "--channels", 1), "--channels 1, but the model takes 2"),
        ((causal_dir, "--rate", 44100, "--channels", 2), "model runs at 16000 Hz"),
        ((causal_dir, "--rate", "nan", "--channels", 2), "--rate"),
        ((make_causal_folder(tmp_path / "bi", ("vocals",), False), "--rate", RATE, "--channels", 2), "bidirectional"),
    ):
        r = _stream(*args, input=raw)
        assert r.returncode == 2 and words in _one_error_line(r.stderr) and r.stdout == b"", args
    # a truncated final frame: the whole frames before it are separated and written, then status 1
    r = _stream(causal_dir, "--rate", RATE, "--channels", 2, input=raw[:-3])
    assert r.returncode == 1 and "ended inside a sample frame" in _one_error_line(r.stderr)
    assert len(r.stdout) == len(raw) - 8
    # NaN samples
    bad = bytearray(raw)
    bad[4000:4004] = np.array([np.nan], dtype="<f4").tobytes()
    r = _stream(causal_dir, "--rate", RATE, "--channels", 2, input=bytes(bad))
    assert r.returncode == 1 and "NaN" in _one_error_line(r.stderr)
    # a reader that stops early (closed stdout)
    (tmp_path / "in.raw").write_bytes(raw * 8)
    with open(tmp_path / "in.raw", "rb") as stdin:
        p = subprocess.Popen(_stream_cmd(causal_dir, "--rate", RATE, "--channels", 2), stdin=stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        p.stdout.read(100)
        p.stdout.close()
        stderr = p.stderr.read()
        assert p.wait(timeout=120) == 1
    assert "stdout was closed" in _one_error_line(stderr)


def test_unidirectional_flag_survives_training_and_loading(tmp_path):
    """train.py --unidirectional -> model folder -> hub loader -> streaming."""
    root = generate_dataset(tmp_path / "data", seed=3, nb_train=2, nb_valid=1, nb_test=0, duration=2.0)
    tiny = ["--root", root, "--is-wav", "--epochs", "1", "--hidden-size", "16", "--nfft", "512", "--nhop", "128",
            "--seq-dur", "1", "--samples-per-track", "2", "--batch-size", "2", "--quiet"]
    # one OpenMP thread: a tiny model's epoch takes 0.2 s, but up to 40 s of spinning threads on a busy 2-core machine
    r = run([ROOT / "train.py", *tiny, "--unidirectional", "--output", tmp_path / "uni"], timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "uni" / "vocals.json").read_text())["unidirectional"] is True
    models, config = load_target_models(tmp_path / "uni")
    assert config.options["unidirectional"] and models["vocals"].unidirectional and not models["vocals"].lstm.bidirectional
    streamer = StreamingSeparator(load_separator(tmp_path / "uni"))
    out = separate_stream(streamer, [mixture(4000)])
    assert out.shape == (2, 2, 4000 + streamer.latency) and torch.isfinite(out).all()
