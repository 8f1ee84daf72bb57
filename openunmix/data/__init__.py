"""Torch datasets for training Open-Unmix target models, one module per layout.

Every dataset item is a pair ``(mixture, target)`` of float32 tensors shaped
``(nb_channels, samples)`` at the dataset's ``sample_rate``.

Layouts (``root`` is the folder given to a dataset), each registered under
the name ``train.py --dataset`` takes (:func:`dataset_names`):

* ``musdb`` (:mod:`.musdb`) -- :class:`MUSDBDataset`: MUSDB18 through the
  ``musdb`` package, as ``.stem.mp4`` files (decoded once into a wav cache)
  or as wav folders.
* ``aligned`` (:mod:`.aligned`) -- :class:`AlignedDataset`:
  ``root/<split>/<track>/{input_file,output_file}``.
* ``unaligned`` (:mod:`.unaligned`) -- :class:`UnalignedDataset`:
  ``root/<split>/<source>/*.wav``; the mixture is the sum of a target excerpt
  and one random excerpt per interference folder.
* ``trackfolder_fix`` (:mod:`.trackfolder_fix`) --
  :class:`FixedSourcesTrackFolderDataset`: ``root/<split>/<track>/`` with the
  same source files in every track.
* ``trackfolder_var`` (:mod:`.trackfolder_var`) --
  :class:`VariableSourcesTrackFolderDataset`: ``root/<split>/<track>/`` with
  any set of source files per track.

What they share (excerpt reading, short files, training mode, randomness)
is in :mod:`.common`, the augmentations in :mod:`.augment`, the MUSDB source
names in :mod:`.sources` (importable on its own, without audio or torch), and
the layouts by name with :func:`load_datasets` in :mod:`.registry`. A new
layout is a module that defines its dataset and calls
:func:`register_layout`, imported below, declaring the options its builder takes as
:class:`DatasetOption` values (``train.py`` makes flags of them: :func:`dataset_options`).
"""

from .augment import (
    DEFAULT_AUGMENTATIONS,
    apply_augmentations,
    augment_channelswap,
    augment_gain,
    augmentation_names,
    build_augmentations,
)
from .common import (
    VALID_TRACKS_FILE,
    AudioFile,
    excerpt_start,
    fix_length,
    probe_file,
    read_excerpt,
    read_valid_tracks,
    sum_sources,
)
from .errors import DatasetError, DatasetNameError, ShortFileWarning
from .registry import (
    DatasetOption,
    DatasetSettings,
    dataset_names,
    dataset_options,
    layout_declarations,
    layout_options,
    load_datasets,
    register_layout,
)
from .sources import MUSDB_SOURCES, MUSDB_TARGETS

# The layouts register themselves in this order, which train.py --dataset lists.
from .musdb import MUSDBDataset, write_wav_cache  # noqa: E402  isort: skip
from .aligned import AlignedDataset  # noqa: E402  isort: skip
from .unaligned import UnalignedDataset  # noqa: E402  isort: skip
from .trackfolder_fix import FixedSourcesTrackFolderDataset  # noqa: E402  isort: skip
from .trackfolder_var import VariableSourcesTrackFolderDataset  # noqa: E402  isort: skip

__all__ = [
    "DatasetError",
    "DatasetNameError",
    "ShortFileWarning",
    "AudioFile",
    "MUSDB_SOURCES",
    "MUSDB_TARGETS",
    "DEFAULT_AUGMENTATIONS",
    "VALID_TRACKS_FILE",
    "probe_file",
    "read_excerpt",
    "fix_length",
    "sum_sources",
    "excerpt_start",
    "augment_gain",
    "augment_channelswap",
    "augmentation_names",
    "build_augmentations",
    "apply_augmentations",
    "read_valid_tracks",
    "write_wav_cache",
    "MUSDBDataset",
    "AlignedDataset",
    "UnalignedDataset",
    "FixedSourcesTrackFolderDataset",
    "VariableSourcesTrackFolderDataset",
    "DatasetOption",
    "DatasetSettings",
    "register_layout",
    "dataset_names",
    "dataset_options",
    "layout_declarations",
    "layout_options",
    "load_datasets",
]
