"""Shared by the dataset tests (tests/data/, and the train tests that need a dataset on disk): tiny
generated wav folders of each layout, and checks of what a dataset returns.

Float comparisons in the dataset tests:
- torch.equal / assert_array_equal: the same files read with the same seeds, epoch and index in one
  process, the same operations on the same values: equal bitwise by construction.
- Mixtures against sums of sources (atol 1e-6): float32 sums of n <= 4 sources of size <= 0.25 each
  (noise of +-0.2, gains up to 1.25), which the dataset and the test may take in another order or in
  float64: within n eps32 of the sum of their sizes (conftest.sum_rtol), 4 * 1.2e-7 * 1.0 = 4.8e-7
  (measured 1.2e-7). They are elementwise additions, correctly rounded on every CPU: no kernel,
  instruction set or thread count changes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from openunmix.data import MUSDBDataset

SR = 8000
SOURCES = ("vocals", "drums", "bass", "other")


def write(path: Path, x: np.ndarray, rate: float = SR) -> Path:
    """Write ``(channels, samples)`` audio as float wav (exact round trip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(x, dtype=np.float32).T, int(rate), subtype="FLOAT")
    return path


def noise(seed: int, seconds: float = 3.0, channels: int = 2, rate: float = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.2, 0.2, (channels, int(seconds * rate))).astype(np.float32)


def read(path: Path) -> np.ndarray:
    x, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return x.T


def make_musdb(root: Path, names=("A - one", "B - two", "C - three"), seconds=3.0, mixture=True):
    for k, name in enumerate(names):
        folder = root / "train" / name
        srcs = [
            write(folder / f"{s}.wav", noise(10 * k + j, seconds)) for j, s in enumerate(SOURCES)
        ]
        if mixture:
            write(folder / "mixture.wav", sum(read(p) for p in srcs))
    return root


def make_trackfolders(
    root: Path, split="train", n=3, files=("vocals.wav", "bass.wav", "drums.wav"), seconds=3.0
):
    for k in range(n):
        for j, f in enumerate(files):
            write(root / split / f"track{k}" / f, noise(100 * k + j, seconds))
    return root


def make_unaligned(root: Path, split="train", seconds=3.0):
    for k in range(2):
        write(root / split / "vocals" / f"v{k}.wav", noise(k, seconds))
    for k in range(3):
        write(root / split / "noise" / f"n{k}.wav", np.full((2, int(seconds * SR)), 0.1))
    write(root / split / "music" / "m0.wav", np.full((2, int(seconds * SR)), 0.2, np.float32))
    return root


def musdb_ds(root, **kw):
    kw.setdefault("sample_rate", SR)
    kw.setdefault("seq_duration", 1.0)
    kw.setdefault("samples_per_track", 4)
    kw.setdefault("is_wav", True)
    return MUSDBDataset(root, **kw)


def assert_item(item, channels, samples):
    mix, target = item
    for t in (mix, target):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
        assert tuple(t.shape) == (channels, samples)


class Recorder:
    """An augmentation that records the (already augmented) sources it sees."""

    def __init__(self):
        self.seen = []

    def __call__(self, x, rng):
        self.seen.append(x.copy())
        return x


def one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture
def scratch_registry(monkeypatch):
    """Layouts registered by a test go when it ends."""
    from openunmix.data import registry

    monkeypatch.setattr(registry, "_LAYOUTS", dict(registry._LAYOUTS))
