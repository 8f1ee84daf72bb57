"""Per-source augmentations of training excerpts.

An augmentation takes ``(audio, rng)``, ``audio`` a float32 array of shape
``(channels, samples)`` and ``rng`` a ``numpy.random.Generator``, and returns
audio of the same shape. Datasets apply them to each source on its own,
before the sources are summed into the mixture.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import DatasetNameError

__all__ = [
    "Augmentation",
    "AugmentationSpec",
    "DEFAULT_AUGMENTATIONS",
    "augment_gain",
    "augment_channelswap",
    "augmentation_names",
    "build_augmentations",
    "apply_augmentations",
]

#: A per-source augmentation: ``(audio (channels, samples), rng) -> audio``.
Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AugmentationSpec = Optional[Sequence[Union[str, Augmentation]]]

DEFAULT_AUGMENTATIONS: Tuple[str, ...] = ("gain", "channelswap")


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


def build_augmentations(spec: AugmentationSpec) -> Tuple[Augmentation, ...]:
    """Turn names (``'gain'``, ``'channelswap'``) and callables into augmentations.

    ``None`` or an empty sequence means no augmentation.

    Raises:
        DatasetNameError: an unknown name (the message lists the known ones).
    """
    if spec is None:
        return ()
    if isinstance(spec, str) or callable(spec):
        spec = [spec]  # type: ignore[list-item]
    out = []
    for item in spec:
        if callable(item):
            out.append(item)
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
