"""The dataset layouts by name, and :func:`load_datasets`, which builds one.

Each layout module registers itself when the package is imported, with the
options its builder takes, declared as data next to it::

    INPUT_FILE = DatasetOption("input_file", "mixture file name", flag="--input-file")
    register_layout("aligned", build_aligned, (INPUT_FILE, OUTPUT_FILE, RANDOM_CHUNKS, SHORT_TRACKS))

A :class:`DatasetOption` with a ``flag`` becomes a ``train.py`` flag of the
"dataset options" group (:func:`dataset_options` lists them across layouts);
options several layouts take are declared once (:mod:`.common`) and named by
each. A builder is called as ``build(root, target, settings, **options)``, with
``root`` a ``Path``, ``settings`` a :class:`DatasetSettings` and only the
options it registered (those not ``None``), and returns ``(train, valid)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from torch.utils.data import Dataset

from ..audio import PathLike
from .errors import DatasetNameError

__all__ = [
    "DatasetOption",
    "DatasetSettings",
    "Layout",
    "register_layout",
    "dataset_names",
    "dataset_options",
    "layout_declarations",
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
class DatasetOption:
    """One option of a layout's builder (its keyword ``name``), and the ``train.py`` flag it becomes.

    Attributes:
        name: the builder's keyword, and the flag's ``dest``.
        help: what the option does; ``train.py --help`` puts the layouts that take it in front.
        flag: the ``train.py`` flag (e.g. ``"--is-wav"``); None: no flag, the option is for
            :func:`load_datasets` callers only.
        kind: the type of a value: ``str``, ``int``, ``float`` or ``bool``.
        default: the flag's value when it is not given; None leaves the option out (the builder's default).
        nargs: ``"+"`` or ``"*"`` for a list of values, or a count > 1 (as argparse's ``nargs``); None: one value.
        choices: the values allowed, if only some are.
        switch: a ``bool`` option given by the flag alone (``True`` when given). A ``bool`` option that is
            not a switch has ``--flag`` and ``--no-flag``.
        metavar: the value's name in ``--help`` (a tuple: one name per value of a fixed ``nargs``).
        check: what a value must be: a function that returns it or raises ``ValueError`` with a message
            (``train.py`` prints it after the flag).
        strict: ``train.py`` refuses the flag for a layout that does not take the option (otherwise an
            option of another layout is ignored).
    """

    name: str
    help: str = ""
    flag: Optional[str] = None
    kind: type = str
    default: Any = None
    nargs: Union[str, int, None] = None
    choices: Optional[Tuple[Any, ...]] = None
    switch: bool = False
    metavar: Union[str, Tuple[str, ...], None] = None
    check: Optional[Callable[[Any], Any]] = None
    strict: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"dataset option {self.name!r}: the name must be a Python identifier")
        if self.flag is not None and not self.flag.startswith("--"):
            raise ValueError(f"dataset option {self.name!r}: flag {self.flag!r} must start with --")
        if self.kind not in (str, int, float, bool):
            raise ValueError(f"dataset option {self.name!r}: kind must be str, int, float or bool")
        if self.switch and self.kind is not bool:
            raise ValueError(f"dataset option {self.name!r}: a switch is of kind bool")
        if self.nargs not in (None, "+", "*") and not (isinstance(self.nargs, int) and self.nargs > 1):
            raise ValueError(f"dataset option {self.name!r}: nargs must be None, '+', '*' or a count > 1")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))


OptionSpec = Union[DatasetOption, str]  # a bare name: an option without a flag (or one declared by another layout)


@dataclass(frozen=True)
class Layout:
    """A registered dataset layout: its name, builder and the options it takes."""

    name: str
    build: Builder
    declarations: Tuple[DatasetOption, ...]

    @property
    def options(self) -> Tuple[str, ...]:
        """The option names."""
        return tuple(opt.name for opt in self.declarations)


_LAYOUTS: Dict[str, Layout] = {}


def register_layout(name: str, build: Builder, options: Sequence[OptionSpec]) -> None:
    """Make layout ``name`` available to :func:`load_datasets` (and ``train.py --dataset``).

    Args:
        options: what the builder takes: :class:`DatasetOption` declarations, or bare names (an option
            declared by another layout, or one without a flag).

    Raises:
        ValueError: ``name`` is already registered with another builder, or an option with a flag is
            declared otherwise by another layout (one name is one flag).
    """
    known = _LAYOUTS.get(name)
    if known is not None and known.build is not build:
        raise ValueError(f"dataset layout {name!r} is already registered")
    declared = {opt.name: (opt, layout.name) for layout in _LAYOUTS.values() if layout.name != name
                for opt in layout.declarations}
    declarations = []
    for spec in options:
        if isinstance(spec, str):
            spec = declared.get(spec, (DatasetOption(spec), name))[0]
        elif spec.name in declared and declared[spec.name][0].flag is not None and declared[spec.name][0] != spec:
            raise ValueError(f"dataset layout {name!r}: option {spec.name!r} is declared otherwise by layout "
                             f"{declared[spec.name][1]!r}")
        declarations.append(spec)
    _LAYOUTS[name] = Layout(name, build, tuple(declarations))


def dataset_names() -> List[str]:
    """The registered layout names, in registration order."""
    return list(_LAYOUTS)


def layout_options(name: str) -> Tuple[str, ...]:
    """The option names layout ``name`` takes (``DatasetNameError`` for an unknown name)."""
    return _layout(name).options


def layout_declarations(name: str) -> Tuple[DatasetOption, ...]:
    """The options layout ``name`` takes, as declared (``DatasetNameError`` for an unknown name)."""
    return _layout(name).declarations


def dataset_options() -> List[Tuple[DatasetOption, Tuple[str, ...]]]:
    """Every option of the registered layouts once (by name), with the layouts that take it.

    In the order the layouts were registered and declare them; where one name has declarations with and
    without a flag (a bare name), the one with a flag.
    """
    found: Dict[str, DatasetOption] = {}
    users: Dict[str, List[str]] = {}
    for layout in _LAYOUTS.values():
        for opt in layout.declarations:
            if opt.name not in found or (found[opt.name].flag is None and opt.flag is not None):
                found[opt.name] = opt
            users.setdefault(opt.name, []).append(layout.name)
    return [(opt, tuple(users[name])) for name, opt in found.items()]


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
    * per step (:mod:`.augment`): ``remix_prob`` (musdb, trackfolder_fix;
      default 1 with ``random_track_mix``, else 0), and where sources are
      mixed ``source_gain`` (``(0.25, 1.25)``), ``repitch_prob`` (0) and
      ``max_semitones`` (2).

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
