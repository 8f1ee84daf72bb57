"""The audio of the listening page: where it comes from, how it is encoded, and its spectrograms.

Audio arrays are ``(channels, samples)`` float32 at the rate given beside
them; musdb's ``(samples, channels)`` arrays are transposed where they are read.

Sources (all optional; the page plays whatever is available):

* a MUSDB18 root (``.stem.mp4`` files, or decoded wav with ``is_wav``): the
  mixture and the reference of each target, read with musdb;
* per method, an estimates folder in ``eval.py``'s layout:
  ``ESTIMATES/<subset>/<track>/<target>.wav`` (or ``ESTIMATES/<track>/<target>.wav``);
  ``.flac`` and ``.ogg`` files are read too;
* methods whose estimate is the mixture itself (``eval.py --baseline``): the
  mixture's player stands for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Set, Tuple

import numpy as np

from ..audio import AudioError
from ..audio import load as load_audio
from ..evaluation.scoring import cached_sources
from ..evaluation.tracks import EvaluationError, first_line, list_tracks
from ..utils import PathLike
from .scores import CompareError

ESTIMATE_SUFFIXES = (".wav", ".flac", ".ogg")
FORMATS = {"ogg": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III")}  # what the page's players load


@dataclass(frozen=True)
class AudioSources:
    """Where the audio of a listening page comes from.

    Attributes:
        root: MUSDB18 root with the mixtures and references; None: no mixture
            or reference players.
        is_wav: the root holds decoded wav folders, not ``.stem.mp4`` files.
        subset: the subset the tracks are in.
        estimates: ``{method: estimates folder}`` (see the module's docstring).
        mixture_methods: methods whose estimate of every target is the mixture
            (their SDR curves follow the mixture's player; no copy of it is written).
    """

    root: Optional[Path] = None
    is_wav: bool = False
    subset: str = "test"
    estimates: Mapping[str, Path] = field(default_factory=dict)
    mixture_methods: FrozenSet[str] = frozenset()

    def check(self, methods: Optional[Set[str]] = None) -> None:
        """Raise :class:`CompareError` for an estimates folder that is missing or names an unknown method."""
        for name, folder in self.estimates.items():
            if methods is not None and name not in methods:
                raise CompareError(f"estimates given for {name!r}, which is not one of the methods compared "
                                   f"({', '.join(sorted(methods))})")
            if not Path(folder).is_dir():
                raise CompareError(f"{folder}: no such estimates folder (for {name!r})")
        if self.root is not None and not Path(self.root).is_dir():
            raise CompareError(f"{self.root}: MUSDB root folder does not exist")

    def musdb_tracks(self) -> Dict[str, Any]:
        """``{track name: musdb track}`` of the root's subset; empty without a root.

        Raises:
            CompareError: an unusable root (the message says why).
        """
        if self.root is None:
            return {}
        try:
            return {t.name: t for t in list_tracks(self.root, self.subset, self.is_wav)}
        except EvaluationError as err:
            raise CompareError(str(err)) from None

    def estimate_path(self, method: str, track: str, target: str) -> Optional[Path]:
        """The estimate file of one method, track and target, or None when there is none."""
        folder = self.estimates.get(method)
        if folder is None:
            return None
        for base in (Path(folder) / self.subset / track, Path(folder) / track):
            for suffix in ESTIMATE_SUFFIXES:
                path = base / f"{target}{suffix}"
                if path.is_file():
                    return path
        return None


@dataclass
class TrackAudio:
    """The decoded mixture and references of one track.

    Attributes:
        rate: their sample rate.
        mixture: ``(channels, samples)``.
        references: ``{target: (channels, samples)}``.
    """

    rate: float
    mixture: np.ndarray
    references: Dict[str, np.ndarray]

    @property
    def duration(self) -> float:
        return self.mixture.shape[-1] / self.rate


def read_track(track: Any, targets: Tuple[str, ...]) -> TrackAudio:
    """Decode a musdb track's mixture and the references of ``targets`` it has (each source decoded once).

    Decoded-wav tracks are read with soundfile at full precision (musdb
    would pipe them through ffmpeg as 16-bit); ``.stem.mp4`` tracks through musdb.

    Raises:
        CompareError: the track cannot be decoded.
    """
    if getattr(track, "is_wav", False):
        return _read_wav_track(track, targets)
    with cached_sources(track):
        try:
            mixture = np.ascontiguousarray(track.audio.T, dtype=np.float32)
            refs = {t: np.ascontiguousarray(track.targets[t].audio.T, dtype=np.float32)
                    for t in targets if t in track.targets}
        except Exception as err:  # musdb/stempeg/ffmpeg raise assorted types
            raise CompareError(f"{track.path}: cannot decode the track ({first_line(err)})") from None
    return TrackAudio(float(track.rate), mixture, refs)


def _read_wav_track(track: Any, targets: Tuple[str, ...]) -> TrackAudio:
    try:
        mixture, rate = load_audio(track.path, check_finite=False)
        sources = {name: load_audio(source.path, check_finite=False)[0] for name, source in track.sources.items()}
    except AudioError as err:
        raise CompareError(str(err)) from None
    refs = {}
    for target in targets:
        if target in track.targets:
            parts = [s.gain * sources[s.name] for s in track.targets[target].sources if s.name in sources]
            if parts:
                refs[target] = np.ascontiguousarray(np.sum(parts, axis=0), dtype=np.float32)
    return TrackAudio(rate, mixture, refs)


def read_estimate(path: PathLike) -> Tuple[np.ndarray, float]:
    """``((channels, samples), rate)`` of an estimate file.

    Raises:
        CompareError: an unreadable file.
    """
    try:
        return load_audio(path, check_finite=False)
    except AudioError as err:
        raise CompareError(str(err)) from None


def encode(path: PathLike, audio: np.ndarray, rate: float, fmt: str = "ogg") -> None:
    """Write ``(channels, samples)`` audio compressed (``ogg``: Vorbis, ``mp3``) or as 16-bit ``wav``.

    Samples are clipped to [-1, 1] (what a player does anyway) and NaN is written as 0.
    """
    import soundfile as sf

    data = np.clip(np.nan_to_num(np.asarray(audio, dtype=np.float32)), -1.0, 1.0).T
    if fmt == "wav":
        sf.write(str(path), data, int(round(rate)), format="WAV", subtype="PCM_16")
        return
    container, subtype = FORMATS[fmt]
    sf.write(str(path), data, int(round(rate)), format=container, subtype=subtype)


# ---------------------------------------------------------------------------
# spectrograms


def spectrogram(audio: np.ndarray, rate: float, columns: int = 800, rows: int = 128, n_fft: int = 2048,
                chunk: int = 1024) -> np.ndarray:
    """A mel-spaced power spectrogram of the channel mean, pooled (maximum) to an image.

    Args:
        audio: ``(channels, samples)``.
        columns: at most this many time columns (fewer when there are fewer STFT frames).
        rows: frequency rows, mel-spaced from 0 Hz to ``rate / 2``.

    Returns:
        ``(rows, columns')`` power in dB (10 log10), row 0 the lowest
        frequency; column ``j`` covers the ``j``-th equal part of the audio.
    """
    x = np.asarray(audio, dtype=np.float32).mean(axis=0)
    hop = n_fft // 2
    frames = max(1, int(np.ceil(max(x.size - n_fft, 0) / hop)) + 1)
    x = np.pad(x, (0, (frames - 1) * hop + n_fft - x.size))
    window = np.hanning(n_fft).astype(np.float32)
    starts = _mel_bin_starts(rate, n_fft, rows)
    banded = np.empty((frames, rows), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    for lo in range(0, frames, chunk):
        power = np.abs(np.fft.rfft(view[lo:lo + chunk] * window, axis=-1)) ** 2
        banded[lo:lo + chunk] = np.maximum.reduceat(power, starts, axis=1)
    columns = min(columns, frames)
    edges = np.linspace(0, frames, columns + 1)[:-1].astype(int)
    pooled = np.maximum.reduceat(banded, edges, axis=0)
    return (10.0 * np.log10(pooled + 1e-12)).T


def _mel_bin_starts(rate: float, n_fft: int, rows: int) -> np.ndarray:
    """The first STFT bin of each of ``rows`` mel-spaced bands (non-decreasing)."""
    top = 2595.0 * np.log10(1.0 + (rate / 2.0) / 700.0)
    hz = 700.0 * (10 ** (np.linspace(0.0, top, rows + 1)[:-1] / 2595.0) - 1.0)
    bins = np.floor(hz / (rate / n_fft)).astype(int)
    return np.minimum(bins, n_fft // 2)


def write_spectrogram(path: PathLike, image: np.ndarray, top_db: float, range_db: float = 80.0) -> None:
    """Write a ``(rows, columns)`` dB image as PNG, ``top_db`` white-hot and ``range_db`` below it black."""
    from matplotlib.image import imsave  # no pyplot

    imsave(str(path), image, vmin=top_db - range_db, vmax=top_db, cmap="magma", origin="lower", format="png")
