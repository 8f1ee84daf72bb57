"""Writing the demo dataset in the MUSDB18 decoded-wav layout."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Union

import numpy as np

from ..utils import atomic_path, remove_stale_temporaries
from .tracks import SOURCES, synthesize_track, track_folder, track_name, track_rng
from .variety import check_variety

SETTINGS_FILE = "dataset.json"  # the arguments a dataset was written with, at its root


def write_wav(path: Union[str, Path], audio: np.ndarray, rate: int) -> None:
    """Write ``audio`` ``(channels, samples)`` as a 32-bit float wav.

    The header is written here rather than by libsndfile, whose float wav files
    carry a time-stamped PEAK chunk and so differ from run to run.  The file is
    written beside ``path`` and renamed onto it (:func:`~openunmix.utils.atomic_path`).
    """
    path = Path(path)
    channels, samples = audio.shape
    data = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    header = b"".join(
        [
            b"RIFF",
            struct.pack("<I", 4 + (8 + 16) + (8 + 4) + (8 + len(data))),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, 3, channels, rate, rate * channels * 4, channels * 4, 32),
            b"fact",
            struct.pack("<II", 4, samples),
            b"data",
            struct.pack("<I", len(data)),
        ]
    )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(data)


def generate_dataset(
    root: Union[str, Path],
    seed: int = 42,
    nb_train: int = 8,
    nb_valid: int = 2,
    nb_test: int = 2,
    duration: float = 20.0,
    rate: int = 44100,
    variety: str = "demo",
) -> Path:
    """Write the demo dataset under ``root`` and return ``root`` as a Path.

    Training and validation tracks go to ``root/train``, test tracks to
    ``root/test``; ``root/valid_tracks.txt`` lists the validation track names
    and ``root/dataset.json`` the arguments (seed, counts, duration, rate,
    variety).  ``variety`` is ``'demo'`` (the tracks of ``make demo``) or
    ``'wide'`` (more varied, with held-out keys and vocal levels in the test
    split; see :mod:`openunmix.demo.variety`).
    Existing files of the same names are overwritten; temporary files that
    killed runs left in the track folders are removed.
    """
    counts = {"train": nb_train, "valid": nb_valid, "test": nb_test}
    for split, count in counts.items():
        if int(count) != count or count < 0:
            raise ValueError(f"nb_{split} must be a non-negative integer, got {count!r}")
    if not duration > 0 or not math.isfinite(duration):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if int(rate) != rate or rate < 8000:
        raise ValueError(f"rate must be an integer of at least 8000 Hz, got {rate!r}")
    if round(duration * rate) < 1:
        raise ValueError(f"duration {duration!r} s is shorter than one sample at {rate} Hz")
    check_variety(variety)

    root = Path(root)
    for split, count in counts.items():
        for index in range(int(count)):
            folder = track_folder(root, split, index)
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(folder)
            audio = synthesize_track(track_rng(seed, split, index), duration, int(rate), variety, split)
            for name, x in audio.items():
                write_wav(folder / f"{name}.wav", x, int(rate))
    root.mkdir(parents=True, exist_ok=True)
    names = [track_name("valid", i) for i in range(int(nb_valid))]
    (root / "valid_tracks.txt").write_text("".join(f"{name}\n" for name in names))
    settings = dict(
        generator="openunmix.demo", seed=int(seed), nb_train=int(nb_train), nb_valid=int(nb_valid),
        nb_test=int(nb_test), duration=float(duration), rate=int(rate), variety=variety,
    )
    with atomic_path(root / SETTINGS_FILE) as tmp:
        Path(tmp).write_text(json.dumps(settings, indent=2) + "\n")
    return root


def dataset_size(root: Union[str, Path], nb_train: int, nb_valid: int, nb_test: int) -> int:
    """Bytes of the audio files of a dataset written by :func:`generate_dataset` with these counts."""
    counts = {"train": nb_train, "valid": nb_valid, "test": nb_test}
    return sum(
        (track_folder(root, split, i) / f"{name}.wav").stat().st_size
        for split, count in counts.items()
        for i in range(int(count))
        for name in ("mixture",) + SOURCES
    )
