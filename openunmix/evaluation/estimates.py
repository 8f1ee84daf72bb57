"""Estimates of MUSDB tracks: separating tracks into ``<source>.wav`` files and reading them back.

Audio arrays are ``(channels, samples)``; the estimates of a track are
``{source: (channels, samples)}``. musdb uses ``(samples, channels)``; its
arrays are transposed where they are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import audio as audio_io
from ..audio import AudioError
from ..separation.separate import separate, separate_file
from ..utils import PathLike, remove_stale_temporaries
from .tracks import MUSDB_TARGETS, EvaluationError, estimates_folder, first_line, has_estimates

SUBTYPE = "FLOAT"  # estimates are written as 32-bit float wav: no quantisation noise in the scores


def fit_length(x: np.ndarray, samples: int) -> np.ndarray:
    """Cut or zero-pad the last axis of ``(..., samples')`` to ``samples``."""
    if x.shape[-1] >= samples:
        return x[..., :samples]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, samples - x.shape[-1])]
    return np.pad(x, pad)


def separate_array(separator: Any, mixture: np.ndarray, rate: float, segment: float, overlap: float) -> np.ndarray:
    """Separate in-memory audio at any rate.

    Args:
        mixture: ``(channels, samples)`` at ``rate``.

    Returns:
        ``(sources, channels, samples)`` at ``rate``, as long as ``mixture``,
        with the separator's channel count.
    """
    x = audio_io.fit_channels(np.ascontiguousarray(mixture, dtype=np.float32), separator.nb_channels)
    x = audio_io.resample(x, rate, separator.sample_rate)
    est = separate(separator, torch.from_numpy(np.ascontiguousarray(x)), segment=segment, overlap=overlap).numpy()
    est = np.stack([audio_io.resample(e, separator.sample_rate, rate) for e in est])
    return fit_length(est, mixture.shape[-1])


def separate_track(separator: Any, track: Any, outdir: PathLike, segment: float, overlap: float) -> Dict[str, Path]:
    """Separate one musdb track into ``outdir/<source>.wav`` (32-bit float, the track's rate).

    Decoded-wav tracks are streamed from ``mixture.wav`` in bounded memory;
    ``.stem.mp4`` tracks are decoded by musdb and separated in memory.

    Returns:
        ``{source: path}``.

    Raises:
        AudioError: unusable mixture; OSError: ``outdir`` not writable.
    """
    outdir = Path(outdir)
    if track.is_wav:
        return separate_file(separator, track.path, outdir, segment=segment, overlap=overlap,
                             ext=".wav", subtype=SUBTYPE)
    try:
        mixture = np.ascontiguousarray(track.audio.T, dtype=np.float32)
    except Exception as err:  # stempeg/ffmpeg failures come in several types
        raise AudioError(f"{track.path}: cannot decode the mixture ({first_line(err)})") from None
    est = separate_array(separator, mixture, float(track.rate), segment, overlap)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, x in zip(separator.source_names, est):
        paths[name] = outdir / f"{name}.wav"
        audio_io.save(paths[name], x, float(track.rate), subtype=SUBTYPE)
    return paths


def separate_tracks(
    separator: Any,
    tracks: Sequence[Any],
    estimates_dir: PathLike,
    segment: float,
    overlap: float,
    force: bool = False,
    progress: bool = True,
) -> Tuple[List[str], Dict[str, str]]:
    """Separate every track whose estimates are not all on disk yet (all with ``force``).

    What killed runs left in a track's folder (temporary files) is removed first.

    Returns:
        ``(names of the tracks separated now, {track name: error message})``.
    """
    from tqdm import tqdm

    done: List[str] = []
    failed: Dict[str, str] = {}
    for track in tqdm(tracks, desc="separating", unit="track", disable=not progress):
        folder = estimates_folder(estimates_dir, track.subset, track.name)
        remove_stale_temporaries(folder)
        if not force and has_estimates(folder, separator.source_names):
            continue
        try:
            separate_track(separator, track, folder, segment, overlap)
        except (AudioError, OSError) as err:
            failed[track.name] = str(err)
            continue
        done.append(track.name)
    return done, failed


def load_estimates(
    folder: PathLike, sources: Optional[Sequence[str]] = None, rate: Optional[float] = None
) -> Dict[str, np.ndarray]:
    """Read ``folder/<source>.wav`` files.

    Args:
        sources: the sources to read; None reads every musdb target found.
        rate: the sample rate the files must have.

    Returns:
        ``{source: (channels, samples)}`` float32.

    Raises:
        EvaluationError: missing folder or files, wrong rate; AudioError: unreadable audio.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: no estimates folder")
    if sources is None:
        sources = [t for t in MUSDB_TARGETS if (folder / f"{t}.wav").is_file()]
    estimates = {}
    for source in sources:
        path = folder / f"{source}.wav"
        if not path.is_file():
            raise EvaluationError(f"{path}: missing estimate")
        x, x_rate = audio_io.load(path)
        if rate is not None and x_rate != rate:
            raise EvaluationError(f"{path}: sample rate {x_rate:g} Hz, the reference has {rate:g} Hz")
        estimates[source] = x
    return estimates
