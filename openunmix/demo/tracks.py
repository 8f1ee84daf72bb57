"""A demo track: the four stems at realistic levels and their mixture, drawn from ``(seed, split, index)``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np

from ..data.sources import MUSDB_SOURCES
from .instruments import render_bass, render_drums, render_other
from .song import plan_song
from .variety import Ranges, track_ranges
from .voice import render_vocals

# the stems, in the order their generators are drawn (part of what makes a track reproducible)
SOURCES: Tuple[str, ...] = tuple(MUSDB_SOURCES)
SPLITS: Tuple[str, ...] = ("train", "valid", "test")  # valid tracks are stored in train/
_SPLIT_CODES = {split: code for code, split in enumerate(SPLITS)}


def _balance(stems: Dict[str, np.ndarray], rng: np.random.Generator, ranges: Ranges) -> Dict[str, float]:
    """Gains that set relative levels within ``ranges`` and a mixture peak in ``ranges.peak``.

    ``stems`` maps source names to contiguous ``(2, samples)`` arrays.  Drums,
    bass and other get levels against unit energy (demo: within a few dB of each
    other); the vocals get a level against the energy of the whole accompaniment
    (demo: -2 to +1 dB).
    """
    energy = {name: float(np.vdot(x, x)) for name, x in stems.items()}
    levels_db = {
        "drums": rng.uniform(*ranges.drums_db),
        "bass": rng.uniform(*ranges.bass_db),
        "other": rng.uniform(*ranges.other_db),
    }
    gains = {}
    for name, db in levels_db.items():
        gains[name] = 10.0 ** (db / 20.0) / math.sqrt(energy[name]) if energy[name] > 0 else 0.0
    # energy of the accompaniment sum, from the pairwise products (no temporary arrays)
    accompaniment = sum(
        gains[a] * gains[b] * float(np.vdot(stems[a], stems[b])) for a in levels_db for b in levels_db
    )
    vocal_db = rng.uniform(*ranges.vocals_db)
    gains["vocals"] = 0.0
    if energy["vocals"] > 0:
        gains["vocals"] = math.sqrt(max(accompaniment, 0.0) / energy["vocals"]) * 10.0 ** (vocal_db / 20.0)
    mixture = sum(gains[name] * stems[name] for name in SOURCES)
    peaks = [float(np.max(np.abs(mixture)))]
    peaks += [gains[name] * float(np.max(np.abs(stems[name]))) for name in SOURCES]
    scale = rng.uniform(*ranges.peak) / max(peaks) if max(peaks) > 0 else 1.0
    return {name: gains[name] * scale for name in SOURCES}


def synthesize_track(
    rng: np.random.Generator, duration: float, rate: int = 44100, variety: str = "demo", split: str = "train"
) -> Dict[str, np.ndarray]:
    """Synthesize one track of ``split`` in ``variety`` (``'demo'`` or ``'wide'``, see :mod:`.variety`).

    The demo variety ignores ``split``; in the wide one test tracks differ from
    train and valid tracks in key and vocal level.

    Returns a dict with ``'mixture'`` and the four stems ``'vocals'``, ``'drums'``,
    ``'bass'``, ``'other'``; each a float32 array ``(2, samples)`` with
    ``samples = round(duration * rate)``.  ``mixture`` is the sum of the float32
    stems, rounded once to float32.
    """
    if not round(duration * rate) >= 1:
        raise ValueError(f"duration {duration!r} s is shorter than one sample at {rate} Hz")
    ranges = track_ranges(variety, split)
    song = plan_song(rng, duration, rate, ranges)
    renderers = {
        "vocals": render_vocals,
        "drums": render_drums,
        "bass": render_bass,
        "other": render_other,
    }
    # independent generators per stem (numpy>=1.22 compatible, unlike Generator.spawn)
    seeds = rng.integers(0, 2**63 - 1, size=len(SOURCES) + 1)
    children = {name: np.random.default_rng(int(s)) for name, s in zip(SOURCES + ("mix",), seeds)}
    n = song.n_samples
    m = min(n, int(0.02 * rate))
    stems = {}
    for name in SOURCES:
        x = np.ascontiguousarray(renderers[name](song, children[name])[:, :n])
        x[:, n - m :] *= np.linspace(1.0, 0.0, m)  # fade out the cut at the end
        stems[name] = x
    gains = _balance(stems, children["mix"], ranges)
    out = {name: (stems[name] * gains[name]).astype(np.float32) for name in SOURCES}
    mixture = out["vocals"].astype(np.float64)
    for name in SOURCES[1:]:
        mixture += out[name]
    out["mixture"] = mixture.astype(np.float32)
    return out


def track_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Generator of one track, derived from ``(seed, split, index)`` only."""
    return np.random.default_rng([int(seed), _SPLIT_CODES[split], int(index)])


def track_name(split: str, index: int) -> str:
    """Folder name of a track, e.g. ``'demo-valid-001 - Synth'`` (musdb reads "artist - title")."""
    return f"demo-{split}-{index:03d} - Synth"


def track_folder(root: Union[str, Path], split: str, index: int) -> Path:
    """Folder of a track: ``root/train/<name>`` for train and valid tracks, ``root/test/<name>``."""
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(root) / ("test" if split == "test" else "train") / track_name(split, index)
