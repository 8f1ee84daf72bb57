"""Shared fixtures: tiny model folders and generated audio files on disk."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openunmix.architectures.umx import OpenUnmix  # noqa: E402
from openunmix.architectures.umx import save_target_model  # noqa: E402


def make_model_folder(path: Path, targets=("vocals", "drums"), hidden_size=16, nb_channels=2,
                      n_fft=512, n_hop=128, rate=16000.0, bandwidth_bins=200, seed=0, nb_layers=3,
                      unidirectional=False) -> Path:
    """A folder of random (untrained) tiny target models, in the layout train.py writes."""
    torch.manual_seed(seed)
    for t in targets:
        m = OpenUnmix(nb_bins=n_fft // 2 + 1, nb_channels=nb_channels, hidden_size=hidden_size,
                      nb_layers=nb_layers, unidirectional=unidirectional, max_bin=bandwidth_bins)
        # non-trivial normalisation and batch-norm statistics
        with torch.no_grad():
            m.input_mean.uniform_(-0.5, 0.0)
            m.input_scale.uniform_(0.5, 2.0)
            m.output_scale.uniform_(0.5, 1.5)
            for bn in (m.bn1, m.bn2, m.bn3):
                bn.running_mean.uniform_(-0.1, 0.1)
                bn.running_var.uniform_(0.5, 1.5)
        save_target_model(path, t, m, rate, n_fft, n_hop, extra={"args": {"target": t}})
    return path


def write_tone(path: Path, seconds=2.0, rate=16000, channels=2, seed=0) -> Path:
    """A harmonic tone plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)
    x = np.stack([x * (0.8 + 0.2 * c) for c in range(channels)], axis=1)
    x += 0.02 * rng.standard_normal(x.shape)
    sf.write(str(path), x.astype(np.float32), rate)
    return path


@pytest.fixture
def model_dir(tmp_path):
    return make_model_folder(tmp_path / "model")


def run_script(script: str, *args, cwd=None, timeout=300):
    """Run one of the top-level scripts as a new process of this interpreter; returns CompletedProcess.

    The process is forked from a zygote that imported torch once (:mod:`helpers.launcher`), which
    saves the interpreter's start-up on every run; ``UMX_TEST_FRESH_PROCESSES=1`` starts a fresh one."""
    from helpers.launcher import run

    return run([ROOT / script, *args], cwd=cwd, timeout=timeout)


# the smallest Open-Unmix training that exercises every part of train.py (a second or two per epoch)
TINY_TRAIN = ["--hidden-size", "16", "--nfft", "512", "--nhop", "128", "--batch-size", "4", "--seq-dur", "1.0",
              "--samples-per-track", "4", "--quiet"]


@pytest.fixture(scope="session")
def musdb_root(tmp_path_factory):
    """A tiny MUSDB18-layout wav dataset (2 training, 1 validation, 1 test track of 3 s), made once per
    session. Tests that change files work on a copy (:func:`copy_tree`)."""
    from openunmix.demo import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("data") / "demo", seed=3, nb_train=2, nb_valid=1,
                            nb_test=1, duration=3.0)


@pytest.fixture(scope="session")
def trained_umx(tmp_path_factory, musdb_root):
    """``train.py`` for two epochs of :data:`TINY_TRAIN` on :func:`musdb_root`, run once per session.

    Returns ``(output folder, CompletedProcess)``. The run is shared by the tests that read a finished
    training (its files, its history, a base for fine-tuning, resuming or a reference run); a test that
    writes into the folder works on a copy (:func:`copy_tree`).
    """
    out = tmp_path_factory.mktemp("trained") / "model"
    r = run_script("train.py", "--root", musdb_root, "--is-wav", "--output", out, "--epochs", "2", *TINY_TRAIN)
    assert r.returncode == 0, r.stderr
    return out, r


def copy_tree(src: Path, dst: Path) -> Path:
    """A copy of a shared fixture's folder that a test may change."""
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def tiny_musdb(tmp_path_factory):
    """A tiny MUSDB18-layout wav dataset (2 training, 1 validation, 1 test track of 2 s), made once per session."""
    from openunmix.demo import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("tiny_musdb") / "data", seed=5, nb_train=2, nb_valid=1,
                            nb_test=1, duration=2.0)


# the test-only architecture plug-ins (tests/plugins/) and how a process loads them
PLUGIN_MODULE = "plugins.tiny_arch"  # tinygain: a magnitude model
MASK_PLUGIN_MODULE = "plugins.complex_mask"  # cmask: a model of complex spectrograms


def plugin_env(monkeypatch, module: str = PLUGIN_MODULE) -> None:
    """Make the scripts started from now on (and their torchrun workers) register a test plug-in."""
    import os

    monkeypatch.setenv("OPENUNMIX_ARCHITECTURES", module)
    paths = [str(ROOT / "tests")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23


def split_batch_rtol(rows: int, updates: int) -> float:
    """Relative tolerance between a loss of a run whose global batch is split over processes and the same
    loss of the run in one process.

    Splitting the batch changes only the order of float32 sums: every reduction over the batch (the
    batch-norm statistics, the loss, and every weight gradient, each a sum of ``rows`` = global batch x
    STFT frames per excerpt terms) is taken in two halves and then across processes instead of in one
    pass. Reordering a float32 sum of N terms changes it by up to about N * eps relative (the classical
    bound for recursive summation; eps = 2**-23). Adam divides every coordinate by its running RMS, so
    it hands a relative change of the gradient on to the weights instead of damping it: each of the
    ``updates`` optimizer steps taken before the loss is measured adds up to rows * eps. Hence
    max(1, updates) * rows * eps (1: the forward pass's own reductions, before any update).
    """
    return max(1, updates) * rows * FLOAT32_EPS


# Tolerances of float comparisons between results computed along different paths (other kernels,
# instruction sets, thread counts, processes, executors). `make test-numerics` runs the tests that use
# them (marked `numerics`) under torch's default, AVX2 and AVX-512 kernels with 1 and 2 threads.
FLOAT64_EPS = float(np.finfo(np.float64).eps)  # 2**-52


def sum_rtol(*terms: int, eps: float = FLOAT32_EPS) -> float:
    """Relative tolerance between two computations that differ only in the order of their sums.

    A sum or dot product of N terms, taken in any order (the one a vector kernel, an instruction set or
    a thread count picks), is within about N * eps of the exact one, relative to the size of its terms
    (the classical bound for recursive summation). A chain of such reductions whose steps between do
    not amplify (tanh, sigmoid, ReLU, batch norm with variances of order one) adds the bounds:
    sum(terms) * eps, one argument per reduction of the chain.
    """
    return sum(terms) * eps


def fft_round_trip_atol(n_fft: int, n_hop: int, scale: float) -> float:
    """Absolute tolerance of a float32 STFT -> inverse STFT round trip of samples at most ``scale``.

    Each FFT of n points rounds its outputs by about log2(n) * eps of the signal's size (one rounding per
    butterfly stage), in whichever order MKL, pocketfft or an AVX2/AVX-512 kernel takes them; the round
    trip takes two, and the overlap-add sums ceil(n_fft / n_hop) windowed frames into each sample:
    (2 log2(n_fft) + ceil(n_fft / n_hop)) * eps * scale.
    """
    import math

    return (2 * math.log2(n_fft) + math.ceil(n_fft / n_hop)) * FLOAT32_EPS * scale


def same_scores(a, b, tol=1e-5):
    """Two score json files hold the same values up to float rounding (BLAS threads change the last digits).

    museval stores every frame's score rounded to 5 decimals: two float64 computations that differ only in
    their rounding (other BLAS threads or processes; far below 1e-5 dB) can fall on the two sides of a
    rounding boundary, one step of 1e-5 apart (measured: 1 value in 72 between a serial and a parallel
    run), and such a step read back as floats is 1e-5 within an ulp of the scores (< 1e-13 for |x| < 100).
    Hence a step plus 1e-12; the whole-track SDRs are stored unrounded and differ by ~1e-14.
    """
    def same(x, y):
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, list):
            return isinstance(y, list) and len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
        if isinstance(x, float) and isinstance(y, (int, float)):
            return math.isclose(x, y, rel_tol=tol, abs_tol=tol + 1e-12) or (math.isnan(x) and math.isnan(y))
        return x == y
    return same(json.loads(Path(a).read_text()), json.loads(Path(b).read_text()))


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    """The compare tests' small study (tests/compare/data.py: score folders of three methods, a MUSDB root and
    estimates of two), made once per session for tests/compare/, tests/commands/ and tests/programs/."""
    from helpers.studies import small_study

    return small_study(tmp_path_factory.mktemp("study"))


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored afterwards: frame-sized work runs best on one, and OpenMP
    threads spin for seconds on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield 1
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def causal_dir(tmp_path_factory):
    """A folder of tiny causal Open-Unmix models of vocals and drums (tests/helpers/causal.py), made once."""
    from helpers.causal import make_causal_folder

    return make_causal_folder(tmp_path_factory.mktemp("causal") / "model")


@pytest.fixture
def two_threads():
    """Run with 2 torch threads (a value the package must not change), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)
