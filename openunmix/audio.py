"""Audio file input and output.

Every array here is laid out ``(channels, samples)`` (float32 unless said
otherwise); sample rates are in Hz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import soundfile as sf
import soxr

from .utils import PathLike, atomic_path



class AudioError(Exception):
    """A file that cannot be used as audio; the message names the file and the problem."""


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path))
    except Exception as err:  # soundfile raises several types for bad files
        raise AudioError(f"{path}: not a readable audio file ({_short(err)})") from None


def info(path: PathLike) -> Tuple[float, int, int]:
    """Return ``(sample_rate, samples, channels)`` of an audio file without decoding it.

    Raises:
        AudioError: when the file does not exist or is not readable audio.
    """
    path = Path(path)
    _check_file(path)
    with _open(path) as f:
        return float(f.samplerate), int(f.frames), int(f.channels)


def load(
    path: PathLike,
    start: int = 0,
    frames: int = -1,
    check_finite: bool = True,
) -> Tuple[np.ndarray, float]:
    """Read ``frames`` samples from ``start`` (in samples) of an audio file.

    Only the requested excerpt is decoded (soundfile seeks), so reading a few
    seconds of a long track is cheap. The file is opened once.

    Returns:
        ``(audio, rate)`` with ``audio`` float32 of shape ``(channels, samples)``.

    Raises:
        AudioError: missing, empty or corrupted files, and (with
            ``check_finite``) audio holding NaN or Inf samples.
    """
    path = Path(path)
    _check_file(path)
    with _open(path) as f:
        rate = float(f.samplerate)
        try:
            first = slice(start, None).indices(f.frames)[0]  # as soundfile.read takes it (negative: from the end)
            if first:
                f.seek(first)
            data = f.read(frames, dtype="float32", always_2d=True)
        except Exception as err:
            raise AudioError(f"{path}: cannot decode audio ({_short(err)})") from None
    audio = np.ascontiguousarray(data.T)
    if check_finite and not np.isfinite(audio).all():
        raise AudioError(f"{path}: audio holds NaN or Inf samples")
    return audio, rate


def resample(audio: np.ndarray, orig_rate: float, new_rate: float) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of ``(channels, samples)`` audio."""
    if orig_rate == new_rate or audio.shape[-1] == 0:
        return audio
    out = soxr.resample(np.ascontiguousarray(audio.T), orig_rate, new_rate, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=audio.dtype)


def check_channels(channels: int, nb_channels: int, name: str = "audio") -> None:
    """Raise :class:`AudioError` unless :func:`fit_channels` can adapt ``channels`` to ``nb_channels``."""
    if channels not in (1, nb_channels) and not (nb_channels == 1 and channels == 2):
        raise AudioError(f"{name}: has {channels} channels, the model takes {nb_channels}")


def fit_channels(audio: np.ndarray, nb_channels: int, name: str = "audio") -> np.ndarray:
    """Adapt ``(channels, samples)`` audio to ``nb_channels``.

    Mono is duplicated for stereo models and stereo is averaged for mono
    models; any other mismatch raises :class:`AudioError`.
    """
    channels = audio.shape[0]
    check_channels(channels, nb_channels, name)
    if channels == nb_channels:
        return audio
    if channels == 1:
        return np.repeat(audio, nb_channels, axis=0)
    return audio.mean(axis=0, keepdims=True)


def save(
    path: PathLike, audio: np.ndarray, rate: float, subtype: Optional[str] = None
) -> None:
    """Write ``(channels, samples)`` audio atomically (temporary file, then rename).

    A run killed while writing never leaves a half-written file at ``path``.
    ``subtype`` is a soundfile subtype (default: 16-bit PCM for wav, the
    format's default otherwise).
    """
    path = Path(path)
    if subtype is None and path.suffix.lower() == ".wav":
        subtype = "PCM_16"
    with atomic_path(path) as tmp:
        sf.write(tmp, np.ascontiguousarray(audio.T), int(round(rate)), subtype=subtype,
                 format=path.suffix.lstrip(".").upper() or "WAV")


def _short(err: Exception) -> str:
    msg = str(err).strip().splitlines()
    return msg[-1] if msg else type(err).__name__
