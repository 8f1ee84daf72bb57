"""Streaming separation (openunmix.stream): equality with offline separation, the pipe command, causal training."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, fft_round_trip_atol, sum_rtol
from openunmix.demo import generate_dataset
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator, load_target_models
from openunmix.architectures.umx import OpenUnmix
from openunmix.architectures.umx import save_target_model
from openunmix.stream import StreamingSeparator, separate_stream

RATE = 16000
N_FFT, N_HOP = 512, 128

# Stream against offline (and blocks against blocks): the same float32 arithmetic, except that the LSTM
# runs through torch.lstm_cell on short blocks and through oneDNN on long ones, and every matrix product
# sees another number of frames, so any of the models' sums may be taken in another order (conftest.
# sum_rtol): fc1 (2 channels x 200 bins), the 2 LSTM layers (32 terms a gate, carried on over at most
# 1 / (1 - f) = 3.8 frames by these models' forget gates f <= 0.74), fc2 (32) and fc3 (16 terms):
# 8.2e-5 relative to the magnitudes. A ratio mask v_j / sum_k v_k passes a relative change d of the
# magnitudes on as at most 2 d of its output.
MAGNITUDE_RTOL = sum_rtol(400, round(2 * 32 * 3.8), 32, 16)
MASK_RTOL = 2 * MAGNITUDE_RTOL  # 1.6e-4; measured at most 2.6e-7 under the default, AVX2 and AVX-512 kernels


def make_causal_folder(path, targets=("vocals", "drums"), unidirectional=True, seed=0):
    """Tiny random target models with non-trivial normalisation and batch-norm statistics."""
    torch.manual_seed(seed)
    for t in targets:
        m = OpenUnmix(nb_bins=N_FFT // 2 + 1, nb_channels=2, hidden_size=16, nb_layers=2,
                      unidirectional=unidirectional, max_bin=200)
        with torch.no_grad():
            m.input_mean.uniform_(-0.5, 0.0)
            m.input_scale.uniform_(0.5, 2.0)
            m.output_scale.uniform_(0.5, 1.5)
            for bn in (m.bn1, m.bn2, m.bn3):
                bn.running_mean.uniform_(-0.1, 0.1)
                bn.running_var.uniform_(0.5, 1.5)
        save_target_model(path, t, m, RATE, N_FFT, N_HOP)
    return path


def mixture(samples, seed=0):
    """A stereo tone with noise bursts: (2, samples) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * rng.standard_normal(samples) * (np.sin(2 * np.pi * 3 * t) > 0)
    return torch.from_numpy(np.stack([x, 0.7 * x + 0.05 * rng.standard_normal(samples)]).astype(np.float32))


def random_blocks(x, rng):
    """Split ``(channels, n)`` into blocks of random sizes: single samples, sub-hop, and beyond a window."""
    sizes, n = [], x.shape[-1]
    while sum(sizes) < n:
        sizes.append(int(rng.choice([1, 1, 2, 7, N_HOP - 1, N_HOP, 300, N_FFT, N_FFT + N_HOP + 5, 2000])))
    sizes[-1] -= sum(sizes) - n
    return list(torch.split(x, [s for s in sizes if s > 0], dim=-1))


@pytest.fixture(autouse=True)
def one_thread():
    """Frame-sized work runs best on one thread (and the suite shares its cores); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory):
    return make_causal_folder(tmp_path_factory.mktemp("causal") / "model")


@pytest.mark.numerics
def test_stream_equals_offline(causal_dir):
    """Ratio mask, no residual: the stream is the offline separation delayed by ``latency``.

    No edge frames are excluded: the offline STFT reflects x[1..P] before the
    start, which the stream has before output sample 0 is due, and flush()
    knows the length, so it reflects the end the same way.
    """
    separator = load_separator(causal_dir, filter=FilterSettings(niter=0))
    assert separator.source_names == ["drums", "vocals"]
    streamer = StreamingSeparator(separator)
    L = streamer.latency
    assert L == N_FFT - 1 <= N_FFT + N_HOP
    rng = np.random.default_rng(1)
    x = mixture(RATE)  # 1 s
    with torch.no_grad():
        reference = separator(x[None])[0]
    scale = float(reference.abs().max())
    for trial in range(4):
        blocks = [x] if trial == 0 else [x[:, i : i + 1] for i in range(x.shape[-1])] if trial == 1 \
            else random_blocks(x, rng)
        outs = [streamer.process(b) for b in blocks]
        # every call returns as many samples as it got
        assert [o.shape for o in outs] == [(2, 2, b.shape[-1]) for b in blocks]
        out = torch.cat(outs + [streamer.flush()], dim=-1)
        assert out.shape == (2, 2, x.shape[-1] + L)
        assert torch.all(out[..., :L] == 0)  # the latency's silence: written as zeros, not computed
        assert torch.allclose(out[..., L:], reference, rtol=0, atol=MASK_RTOL * scale), (trial, (out[..., L:] - reference).abs().max())
    # short signals: within half a window (zero-padded offline) and around one window
    for n in (1, 100, N_FFT // 2, N_FFT // 2 + 1, N_FFT - 1, N_FFT + 3):
        with torch.no_grad():
            reference = separator(x[None, :, :n])[0]
        out = separate_stream(streamer, random_blocks(x[:, :n], rng))
        assert out.shape[-1] == n + L
        assert torch.allclose(out[..., L:], reference, rtol=0, atol=MASK_RTOL * scale), n


@pytest.mark.numerics
def test_state_stays_bounded_and_streams_restart(causal_dir):
    ratio_mask = FilterSettings(niter=0)  # the tolerance below is the ratio mask's
    streamer = StreamingSeparator(load_separator(causal_dir, filter=ratio_mask))
    x = mixture(RATE // 2, seed=2)
    held = []
    for _ in range(40):  # 20 s in blocks of 1000 samples
        for block in torch.split(x, 1000, dim=-1):
            streamer.process(block)
            held.append(streamer.held_samples)
    assert max(held) <= 2 * N_FFT + 1000
    assert max(held[-100:]) == max(held[:100])
    streamer.flush()
    # after flush a new stream starts from scratch: same result as a fresh streamer
    again = separate_stream(streamer, [x])
    fresh = separate_stream(StreamingSeparator(load_separator(causal_dir, filter=ratio_mask)),
                            list(torch.split(x, 333, dim=-1)))
    # one block against blocks of 333 samples: the models' paths differ as against offline (MASK_RTOL)
    assert torch.allclose(again, fresh, rtol=0, atol=MASK_RTOL * float(fresh.abs().max()))


def test_bidirectional_model_is_refused(tmp_path):
    folder = make_causal_folder(tmp_path / "bi", targets=("vocals",), unidirectional=False)
    with pytest.raises(ValueError, match="'vocals' is bidirectional.*--unidirectional"):
        StreamingSeparator(load_separator(folder))


@pytest.mark.numerics
@pytest.mark.parametrize("niter", [0, 1])
def test_residual_and_online_wiener_are_causal(tmp_path, niter):
    """A lone target gets a residual whose gain (and, with niter 1, the
    Wiener filter's statistics) come from past frames: the sources still add
    up to the delayed mixture, the result does not depend on the blocks, and
    changing the future leaves the past output unchanged."""
    folder = make_causal_folder(tmp_path / "one", targets=("vocals",))
    separator = load_separator(folder, filter=FilterSettings(niter=niter))
    streamer = StreamingSeparator(separator, memory=0.5)
    assert streamer.source_names == ["vocals", "accompaniment"]
    x = mixture(RATE // 2, seed=3)
    L = streamer.latency
    whole = separate_stream(streamer, [x])
    pieces = separate_stream(streamer, random_blocks(x, np.random.default_rng(niter)))
    # the magnitudes differ as against offline (MAGNITUDE_RTOL); the ratio mask passes on twice that, the
    # online EM's regularised 2x2 inversions amplify it more: by 40 (measured, perturbing the magnitudes
    # by 1e-6 relative), so 50 * MAGNITUDE_RTOL = 4e-3 of |y| <= 0.95 (measured 2.3e-5), still far below
    # what the EM itself changes (0.11, asserted below)
    scale = float(whole.abs().max())
    assert torch.allclose(whole, pieces, rtol=0, atol=(50 * MAGNITUDE_RTOL if niter else MASK_RTOL) * scale)
    error = whole.sum(0)[..., L:] - x
    if niter:  # Wiener estimates add up to the mixture up to the regularisation
        # not rounding: the regulariser and the online statistics' share (measured 4.1e-3)
        assert float(error.square().sum() / x.square().sum()) < 2e-2
    else:
        # the 2 masks sum to 1 within 2 eps32; each source is a round trip (conftest.fft_round_trip_atol):
        # 2 * 2.5e-6 + 2.3e-7 for |x| <= 0.97; measured 1.8e-7
        peak = float(x.abs().max())
        assert float(error.abs().max()) < 2 * fft_round_trip_atol(N_FFT, N_HOP, peak) + sum_rtol(2) * peak
    changed = x.clone()
    changed[:, 6000:] *= -3.0
    other = separate_stream(streamer, [changed])
    # output sample k (stream time) depends on input samples up to k only. One block each, the same values
    # up to sample 6000: the same operations on them, equal bitwise (measured); the tolerance is kept
    assert torch.allclose(other[..., :6000], whole[..., :6000], atol=1e-6)
    assert not torch.allclose(other[..., 6000:], whole[..., 6000:], atol=1e-3)  # they differ by 3.4
    if niter:
        ratio = separate_stream(StreamingSeparator(load_separator(folder, filter=FilterSettings(niter=0)), memory=0.5), [x])
        assert not torch.allclose(ratio, whole, atol=1e-3)  # the EM changes the output by 0.11


def _stream_cmd(*args):
    return [sys.executable, "-m", "openunmix.stream", *map(str, args), "--threads", "1"]


def test_pipe_command_matches_offline(tmp_path, causal_dir):
    x = mixture(RATE, seed=4)
    raw = np.ascontiguousarray(x.numpy().T).astype("<f4").tobytes()
    separator = load_separator(causal_dir, filter=FilterSettings(niter=0))  # the ratio mask: as offline
    with torch.no_grad():
        reference = separator(x[None])[0].numpy()
    scale = float(np.abs(reference).max())
    r = subprocess.run(_stream_cmd(causal_dir, "--rate", RATE, "--channels", 2, "--source", "vocals", "--block", 700,
                                   "--niter", 0),
                       input=raw, capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    out = np.frombuffer(r.stdout, dtype="<f4").reshape(-1, 2).T
    # aligned with the input: the latency's leading silence is not written
    assert out.shape == x.shape
    # the stream in blocks of 700 samples against offline (MASK_RTOL); float32 samples pass the pipe exactly
    np.testing.assert_allclose(out, reference[separator.source_names.index("vocals")], rtol=0, atol=MASK_RTOL * scale)
    # every source to growing wav files
    r = subprocess.run(_stream_cmd(causal_dir, "--rate", RATE, "--channels", 2, "--outdir", tmp_path / "out",
                                   "--niter", 0),
                       input=raw, capture_output=True, cwd=ROOT, timeout=120)
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
        r = subprocess.run(_stream_cmd(*args), input=raw, capture_output=True, cwd=ROOT, timeout=120)
        assert r.returncode == 2 and words in _one_error_line(r.stderr) and r.stdout == b"", args
    # a truncated final frame: the whole frames before it are separated and written, then status 1
    r = subprocess.run(_stream_cmd(causal_dir, "--rate", RATE, "--channels", 2), input=raw[:-3],
                       capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 1 and "ended inside a sample frame" in _one_error_line(r.stderr)
    assert len(r.stdout) == len(raw) - 8
    # NaN samples
    bad = bytearray(raw)
    bad[4000:4004] = np.array([np.nan], dtype="<f4").tobytes()
    r = subprocess.run(_stream_cmd(causal_dir, "--rate", RATE, "--channels", 2), input=bytes(bad),
                       capture_output=True, cwd=ROOT, timeout=120)
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
    r = subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, tiny), "--unidirectional",
                        "--output", str(tmp_path / "uni")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "uni" / "vocals.json").read_text())["unidirectional"] is True
    models, config = load_target_models(tmp_path / "uni")
    assert config.options["unidirectional"] and models["vocals"].unidirectional and not models["vocals"].lstm.bidirectional
    streamer = StreamingSeparator(load_separator(tmp_path / "uni"))
    out = separate_stream(streamer, [mixture(4000)])
    assert out.shape == (2, 2, 4000 + streamer.latency) and torch.isfinite(out).all()


def test_unknown_source_or_target_is_refused_before_reading(tmp_path, causal_dir, capsys):
    """Names on the command line are checked against the model's before stdin is read, in one line listing them."""
    from openunmix.commands.stream import main

    base = [str(causal_dir), "--rate", str(RATE), "--channels", "2"]
    assert main(base + ["--source", "kazoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --source kazoo: not one of this model's sources (drums, vocals)"]
    assert main(base + ["--targets", "kazoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no model for target 'kazoo' (available: drums, vocals)" in err[0]
