"""Layout ``unaligned``: independent sources ``root/{train,valid}/<source>/*.wav``, mixed on the fly."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset

from ..audio import PathLike
from .augment import (
    DEFAULT_AUGMENTATIONS, GAIN_RANGE, MAX_SEMITONES_OPTION, REPITCH_PROB, SOURCE_GAIN, AugmentationSpec,
    apply_augmentations, build_augmentations,
)
from .common import (
    EXT,
    SHORT_TRACKS,
    SOURCE_AUGMENTATIONS,
    AudioFile,
    BaseDataset,
    excerpt_start,
    missing_folder,
    probe_file,
    short_policy,
    sum_sources,
    to_tensors,
)
from .errors import DatasetError
from .registry import DatasetOption, DatasetSettings, register_layout

__all__ = ["UnalignedDataset", "build_unaligned"]


class UnalignedDataset(BaseDataset):
    """Independent sources in ``root/<split>/<source>/*.wav``, mixed on the fly.

    Each item is ``(mixture, target)``, float32 tensors of shape
    ``(nb_channels, samples)``: an excerpt of a target file plus, for each
    interference folder, an excerpt of an independently chosen random file
    at a random offset; mixture = linear sum of all of them.

    Only file paths and lengths are indexed at construction (``audio.info``,
    header reads); no audio is loaded, so folders may hold any amount of audio.

    Length: in training mode (``split='train'`` with ``seq_duration``)
    ``len = number of target files * samples_per_track``, item ``i`` using
    target file ``i // samples_per_track`` at a random start, with per-source
    augmentations. Otherwise ``len = number of target files`` and items are
    fixed excerpts: the random choices are drawn from a generator that ignores
    the epoch, so they are the same every time, and nothing is augmented.
    Without ``seq_duration`` the excerpt is the whole target file and the
    interference excerpts have its length (zero-padded when shorter).
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        target: str = "vocals",
        interferences: Sequence[str] = ("noise", "music"),
        seq_duration: Optional[float] = None,
        samples_per_track: int = 64,
        sample_rate: float = 44100.0,
        nb_channels: int = 2,
        seed: int = 42,
        source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
        ext: str = ".wav",
        short_tracks: str = "pad",
        source_gain: Sequence[float] = GAIN_RANGE,
        repitch_prob: float = 0.0,
        max_semitones: float = 2.0,
    ) -> None:
        super().__init__(
            split, seq_duration, samples_per_track, sample_rate, nb_channels, seed, short_tracks
        )
        interferences = [interferences] if isinstance(interferences, str) else list(interferences)
        if target in interferences:
            raise ValueError(f"target {target!r} is also listed as an interference")
        self.root = Path(root)
        self.target = target
        self.interferences = tuple(interferences)
        self.ext = ext
        self.augmentations = build_augmentations(source_augmentations, gain=source_gain)
        self._init_repitch(repitch_prob, max_semitones)
        where = self.root / split
        if not where.is_dir():
            raise missing_folder(where)
        frames = self.excerpt_frames
        self.target_files = short_policy(
            self._index(where / target, "target"), lambda f: [f], lambda f: f.path.name,
            frames, self.sample_rate, short_tracks, where / target,
        )
        self.interference_files: Dict[str, List[AudioFile]] = {
            name: short_policy(
                self._index(where / name, "interference"), lambda f: [f], lambda f: f.path.name,
                frames, self.sample_rate, short_tracks, where / name,
            )
            for name in self.interferences
        }

    def _index(self, folder: Path, role: str) -> List[AudioFile]:
        if not folder.is_dir():
            raise missing_folder(folder, role)
        paths = sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.name.endswith(self.ext) and not p.name.startswith(".")
        )
        if not paths:
            raise DatasetError(f"{folder}: no *{self.ext} files")
        return [probe_file(p, self.nb_channels) for p in paths]

    def __len__(self) -> int:
        per_file = self.samples_per_track if self.train_mode else 1
        return len(self.target_files) * per_file

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mixture, target)``, float32 tensors of shape ``(nb_channels, samples)``."""
        index = self._check_index(index)
        rng = self.item_rng(index)
        per_file = self.samples_per_track if self.train_mode else 1
        file = self.target_files[index // per_file]
        augmentations = self.augmentations if self.train_mode else ()
        frames = self.excerpt_frames or file.length(self.sample_rate)
        chosen = [file]
        for name in self.interferences:
            pool = self.interference_files[name]
            chosen.append(pool[int(rng.integers(len(pool)))])
        parts = []
        for f in chosen:
            start = excerpt_start(rng, f.length(self.sample_rate), frames)
            x = self._read_source(f, start, frames, rng) if self.train_mode else self._read(f, start, frames)
            parts.append(apply_augmentations(x, augmentations, rng))
        return to_tensors(sum_sources(parts), parts[0])

    def stats_sources(self) -> List[List[Path]]:
        """Every target and interference file on its own: ``[[file], ...]``."""
        files = list(self.target_files)
        for name in self.interferences:
            files.extend(self.interference_files[name])
        return [[f.path] for f in files]


def build_unaligned(
    root: Path,
    target: str,
    settings: DatasetSettings,
    *,
    interferences: Sequence[str] = ("noise", "music"),
    ext: str = ".wav",
    source_augmentations: AugmentationSpec = DEFAULT_AUGMENTATIONS,
    short_tracks: str = "pad",
    source_gain: Sequence[float] = GAIN_RANGE,
    repitch_prob: float = 0.0,
    max_semitones: float = 2.0,
) -> Tuple[Dataset, Dataset]:
    """The ``(train, valid)`` unaligned datasets; validation items are fixed ``seq_duration`` excerpts."""
    base = dict(
        root=root, target=target, interferences=interferences, ext=ext,
        short_tracks=short_tracks, **settings.fixed_args(),
    )
    train = UnalignedDataset(
        split="train", source_augmentations=source_augmentations, source_gain=source_gain,
        repitch_prob=repitch_prob, max_semitones=max_semitones, **settings.excerpt_args(), **base,
    )
    valid = UnalignedDataset(
        split="valid", seq_duration=settings.seq_duration, samples_per_track=1,
        source_augmentations=None, **base,
    )
    return train, valid


INTERFERENCES = DatasetOption("interferences", "interference folders", flag="--interferences", nargs="+")

register_layout("unaligned", build_unaligned, (INTERFERENCES, EXT, SOURCE_AUGMENTATIONS, SHORT_TRACKS, SOURCE_GAIN,
                                               REPITCH_PROB, MAX_SEMITONES_OPTION))
