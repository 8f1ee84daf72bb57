"""Per-source augmentations of training excerpts.

An augmentation takes ``(audio, rng)``, ``audio`` a float32 array of shape
``(channels, samples)`` and ``rng`` a ``numpy.random.Generator``, and returns
audio of the same shape. Datasets apply them to each source on its own,
before the sources are summed into the mixture.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import soxr

from .errors import DatasetError, DatasetNameError
from .registry import DatasetOption

__all__ = [
    "Augmentation",
    "AugmentationSpec",
    "DEFAULT_AUGMENTATIONS",
    "GAIN_RANGE",
    "MAX_SEMITONES",
    "REPITCH_QUALITY",
    "augment_gain",
    "augment_channelswap",
    "augmentation_names",
    "build_augmentations",
    "apply_augmentations",
    "REMIX_PROB",
    "SOURCE_GAIN",
    "REPITCH_PROB",
    "MAX_SEMITONES_OPTION",
    "check_probability",
    "check_gain_range",
    "check_semitones",
    "draw_speed",
    "repitch_span",
    "repitch",
]

#: A per-source augmentation: ``(audio (channels, samples), rng) -> audio``.
Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AugmentationSpec = Optional[Sequence[Union[str, Augmentation]]]

DEFAULT_AUGMENTATIONS: Tuple[str, ...] = ("gain", "channelswap")
#: The ``gain`` augmentation's default range of linear factors.
GAIN_RANGE: Tuple[float, float] = (0.25, 1.25)
#: The largest ``max_semitones`` a repitch takes (an octave: it reads twice the excerpt).
MAX_SEMITONES = 12.0
#: soxr quality of the repitch resampling: medium, chosen for speed (benchmarks/augmentations.py).
REPITCH_QUALITY = "MQ"


def augment_gain(
    x: np.ndarray, rng: np.random.Generator, low: float = 0.25, high: float = 1.25
) -> np.ndarray:
    """Scale ``(channels, samples)`` audio by a gain drawn uniformly in ``[low, high)``."""
    return x * np.float32(rng.uniform(low, high))


def augment_channelswap(
    x: np.ndarray, rng: np.random.Generator, p: float = 0.5
) -> np.ndarray:
    """Swap the two channels of stereo ``(channels, samples)`` audio with probability ``p``.

    The random draw is made for every input so that the random stream does not
    depend on the channel count.
    """
    swap = rng.random() < p
    if swap and x.shape[0] == 2:
        return np.ascontiguousarray(x[::-1])
    return x


_AUGMENTATIONS: Dict[str, Augmentation] = {
    "gain": augment_gain,
    "channelswap": augment_channelswap,
}


def augmentation_names() -> Tuple[str, ...]:
    """The names :func:`build_augmentations` knows."""
    return tuple(_AUGMENTATIONS)


def build_augmentations(
    spec: AugmentationSpec, gain: Sequence[float] = GAIN_RANGE
) -> Tuple[Augmentation, ...]:
    """Turn names (``'gain'``, ``'channelswap'``) and callables into augmentations.

    ``None`` or an empty sequence means no augmentation. ``gain`` is the
    ``(low, high)`` range of the ``'gain'`` augmentation's linear factors.

    Raises:
        DatasetNameError: an unknown name (the message lists the known ones).
        DatasetError: a ``gain`` range that is not ``0 < low <= high`` (one line).
    """
    low, high = _checked("source_gain", check_gain_range, gain)
    if spec is None:
        return ()
    if isinstance(spec, str) or callable(spec):
        spec = [spec]  # type: ignore[list-item]
    out = []
    for item in spec:
        if callable(item):
            out.append(item)
        elif item == "gain" and (low, high) != GAIN_RANGE:
            out.append(functools.partial(augment_gain, low=low, high=high))
        elif item in _AUGMENTATIONS:
            out.append(_AUGMENTATIONS[item])
        else:
            raise DatasetNameError(
                f"unknown source augmentation {item!r}; "
                f"known: {', '.join(_AUGMENTATIONS)} (or a callable)"
            )
    return tuple(out)


def apply_augmentations(
    x: np.ndarray, augmentations: Sequence[Augmentation], rng: np.random.Generator
) -> np.ndarray:
    """Apply ``augmentations`` in order to ``(channels, samples)`` audio; returns the same shape."""
    for fn in augmentations:
        x = fn(x, rng)
    return x


# ---------------------------------------------------------------------------
# Checks of the settings (ValueError: the message, without the option's name)
# ---------------------------------------------------------------------------


def check_probability(p: float) -> float:
    """``p`` when it is within ``[0, 1]``, else ``ValueError``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"expected a probability in [0, 1], got {p:g}")
    return float(p)


def check_gain_range(gain: Sequence[float]) -> Tuple[float, float]:
    """``(low, high)`` when ``0 < low <= high`` (both finite), else ``ValueError``."""
    values = tuple(gain)
    if len(values) != 2:
        raise ValueError(f"expected two factors LOW HIGH, got {len(values)}")
    low, high = (float(v) for v in values)
    if not (0.0 < low <= high and math.isfinite(high)):
        raise ValueError(f"expected factors 0 < LOW <= HIGH, got {low:g} {high:g}")
    return low, high


def check_semitones(s: float) -> float:
    """``s`` when it is within ``[0, MAX_SEMITONES]``, else ``ValueError``."""
    if not 0.0 <= s <= MAX_SEMITONES:
        raise ValueError(f"expected semitones in [0, {MAX_SEMITONES:g}], got {s:g}")
    return float(s)


def _checked(name: str, check: Callable, value):
    try:
        return check(value)
    except ValueError as err:
        raise DatasetError(f"{name}: {err}") from None


# Options of the layouts that mix sources (variety per step, docs/training.md#augmentations-per-step); train.py
# refuses them for the layouts that do not take them (strict).
REMIX_PROB = DatasetOption("remix_prob", "probability that an item takes each source from a random track "
                           "(default: 1 with --random-track-mix, else 0)", flag="--remix-prob", kind=float,
                           metavar="P", check=check_probability, strict=True)
SOURCE_GAIN = DatasetOption("source_gain", "range of the gain augmentation's linear factors (default: 0.25 1.25)",
                            flag="--source-gain", kind=float, nargs=2, metavar=("LOW", "HIGH"),
                            check=check_gain_range, strict=True)
REPITCH_PROB = DatasetOption("repitch_prob", "probability that a source is resampled to another pitch and tempo "
                             "(default: 0, off)", flag="--repitch-prob", kind=float, metavar="P",
                             check=check_probability, strict=True)
MAX_SEMITONES_OPTION = DatasetOption("max_semitones", "largest repitch, in semitones up or down (default: 2)",
                                     flag="--max-semitones", kind=float, metavar="S", check=check_semitones,
                                     strict=True)


# ---------------------------------------------------------------------------
# Pitch and tempo by resampling ("repitch")
# ---------------------------------------------------------------------------


def draw_speed(rng: np.random.Generator, prob: float, max_semitones: float) -> Optional[float]:
    """A speed factor ``2 ** (u / 12)``, ``u`` uniform in ``[-max_semitones, max_semitones]``, with
    probability ``prob``; otherwise ``None``. Draws nothing when ``prob`` is 0."""
    if prob <= 0.0 or rng.random() >= prob:
        return None
    return float(2.0 ** (rng.uniform(-max_semitones, max_semitones) / 12.0))


def repitch_span(frames: int, speed: float) -> int:
    """Samples to read so that ``frames`` of them play ``speed`` times faster."""
    return max(1, int(round(frames * speed)))


def repitch(x: np.ndarray, frames: int, quality: str = REPITCH_QUALITY) -> np.ndarray:
    """Resample ``(channels, samples)`` audio to exactly ``frames`` samples (soxr ``quality``).

    Played at the original rate, the result is ``samples / frames`` times
    faster and higher (pitch and tempo change together). Returns float32
    ``(channels, frames)``.
    """
    n = x.shape[-1]
    if n != frames:
        out = soxr.resample(np.ascontiguousarray(x.T), n, frames, quality=quality)
        x = np.ascontiguousarray(out.T)
    if x.shape[-1] != frames:  # soxr rounds its output length
        x = x[:, :frames] if x.shape[-1] > frames else np.pad(x, [(0, 0), (0, frames - x.shape[-1])])
    return np.ascontiguousarray(x, dtype=np.float32)
