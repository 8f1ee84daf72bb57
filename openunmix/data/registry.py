"""The dataset layouts by name, and :func:`load_datasets`, which builds one.

Each layout module registers itself when the package is imported::

    register_layout("aligned", build_aligned, ("input_file", "output_file", ...))

A builder is called as ``build(root, target, settings, **options)``, with
``root`` a ``Path``, ``settings`` a :class:`DatasetSettings` and only the
options it registered (those not ``None``), and returns ``(train, valid)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from torch.utils.data import Dataset

from ..audio import PathLike
from .errors import DatasetNameError

__all__ = [
    "DatasetSettings",
    "Layout",
    "register_layout",
    "dataset_names",
    "layout_options",
    "load_datasets",
]

Builder = Callable[..., Tuple[Dataset, Dataset]]


@dataclass(frozen=True)
class DatasetSettings:
    """What every layout's builder takes, beside the root, the target and its own options.

    ``seq_duration`` and ``samples_per_track`` shape the training set's
    excerpts; the others apply to both sets.
    """

    seq_duration: Optional[float] = 6.0
    samples_per_track: int = 64
    sample_rate: float = 44100.0
    nb_channels: int = 2
    seed: int = 42

    def excerpt_args(self) -> Dict[str, Any]:
        """``seq_duration`` and ``samples_per_track``, as dataset keyword arguments."""
        return dict(seq_duration=self.seq_duration, samples_per_track=self.samples_per_track)

    def fixed_args(self) -> Dict[str, Any]:
        """``sample_rate``, ``nb_channels`` and ``seed``, as dataset keyword arguments."""
        return dict(sample_rate=self.sample_rate, nb_channels=self.nb_channels, seed=self.seed)


@dataclass(frozen=True)
class Layout:
    """A registered dataset layout: its name, builder and the option names it takes."""

    name: str
    build: Builder
    options: Tuple[str, ...]


_LAYOUTS: Dict[str, Layout] = {}


def register_layout(name: str, build: Builder, options: Sequence[str]) -> None:
    """Make layout ``name`` available to :func:`load_datasets` (and ``train.py --dataset``).

    Raises:
        ValueError: ``name`` is already registered with another builder.
    """
    known = _LAYOUTS.get(name)
    if known is not None and known.build is not build:
        raise ValueError(f"dataset layout {name!r} is already registered")
    _LAYOUTS[name] = Layout(name, build, tuple(options))


def dataset_names() -> List[str]:
    """The registered layout names, in registration order."""
    return list(_LAYOUTS)


def layout_options(name: str) -> Tuple[str, ...]:
    """The option names layout ``name`` takes (``DatasetNameError`` for an unknown name)."""
    return _layout(name).options


def _layout(name: str) -> Layout:
    if name not in _LAYOUTS:
        raise DatasetNameError(
            f"unknown dataset {name!r}; choose one of {', '.join(_LAYOUTS)}"
        )
    return _LAYOUTS[name]


def load_datasets(
    dataset: str,
    root: PathLike,
    target: str = "vocals",
    seq_duration: Optional[float] = 6.0,
    samples_per_track: int = 64,
    sample_rate: float = 44100.0,
    nb_channels: int = 2,
    seed: int = 42,
    **options: Any,
) -> Tuple[Dataset, Dataset]:
    """Build the ``(train, valid)`` datasets of one layout.

    ``dataset`` is one of :func:`dataset_names` (``'musdb'``, ``'aligned'``,
    ``'unaligned'``, ``'trackfolder_fix'``, ``'trackfolder_var'``). The
    training set uses ``seq_duration`` excerpts, ``samples_per_track`` per
    track (per target file for unaligned) and random chunks (option
    ``random_chunks``, default True). The validation set returns whole tracks
    without augmentation, except for ``'unaligned'``, whose validation items
    are fixed (epoch-independent) ``seq_duration`` excerpts, one per target
    file. Items are ``(mixture, target)`` float32 tensors of shape
    ``(nb_channels, samples)`` (joint MUSDB targets:
    ``(targets, nb_channels, samples)``).

    ``options`` (an option set to ``None`` takes its default; options of other
    layouts are ignored):

    * musdb: ``is_wav`` (False), ``subset`` (``'train'``), ``valid_tracks``
      (default: ``root/valid_tracks.txt`` if present, else musdb's split),
      ``random_track_mix``, ``random_chunks``, ``source_augmentations``,
      ``cache_dir``, ``joint_targets`` (several targets per item, stacked).
      ``target`` is the MUSDB target.
    * aligned: ``input_file`` (``'mixture.wav'``), ``output_file``
      (``'<target>.wav'``); splits ``train`` and ``valid``.
    * unaligned: ``interferences`` (``('noise', 'music')``), ``ext``;
      ``target`` is the target folder; splits ``train`` and ``valid``.
    * trackfolder_fix: ``target_file`` (``'<target>.wav'``),
      ``interferer_files`` (``('bass.wav', 'drums.wav')``), ``random_track_mix``.
    * trackfolder_var: ``target_file`` (``'<target><ext>'``), ``ext``
      (``'.wav'``), ``silence_missing_targets``.
    * all: ``short_tracks`` (``'pad'`` or ``'skip'``), and
      ``source_augmentations`` where sources are mixed.

    Names are checked as the datasets are built, before any audio is read: a
    target, file or folder the data does not have, or an unknown augmentation,
    raises a ``DatasetError`` whose one line lists what exists.

    Raises:
        DatasetError: unknown dataset name, or a dataset that cannot be built.
        TypeError: an option no layout knows.
    """
    layout = _layout(dataset)
    known = {name for entry in _LAYOUTS.values() for name in entry.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"load_datasets: unknown option(s) {', '.join(unknown)}")
    chosen = {k: v for k, v in options.items() if v is not None and k in layout.options}
    settings = DatasetSettings(
        seq_duration=seq_duration,
        samples_per_track=samples_per_track,
        sample_rate=sample_rate,
        nb_channels=nb_channels,
        seed=seed,
    )
    return layout.build(Path(root), target, settings, **chosen)
