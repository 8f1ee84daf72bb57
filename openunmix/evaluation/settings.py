"""The settings of an evaluation run and what it returns: plain data that every part of a run reads.

:class:`EvaluationSettings` (what ``eval.py``'s flags say, checked when
made), :class:`EvaluationResult` (what :func:`~.run.evaluate` did), and where
the mixture baseline's scores go (:func:`baseline_folder`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from ..separation.separate import SeparationSettings
from ..separation.sharding import Shard
from ..utils import PathLike
from .aggregate import Summary
from .metrics import DEFAULT_METRICS, MetricError, parse_metrics

# where an evaluation keeps its baseline's scores, under its EVALDIR
BASELINE_DIR = "mixture-baseline"


def baseline_folder(evaldir: PathLike) -> Path:
    """Where an evaluation writing its scores to ``evaldir`` keeps the mixture baseline's."""
    return Path(evaldir) / BASELINE_DIR


SUBSETS = ("train", "test")


class SettingError(ValueError):
    """A bad :class:`EvaluationSettings` value; the message (one line) is ``<setting>: <reason>``.

    ``setting`` names the setting, ``others`` the settings the reason refers
    to, so that a command can name its flags instead: :meth:`reason_with`.
    """

    def __init__(self, setting: str, reason: str, others: Sequence[str] = ()):
        self.setting = setting
        self.reason = reason  # "{0}", "{1}"...: the settings of ``others``
        self.others = tuple(others)
        super().__init__(f"{setting}: {self.reason_with(str)}")

    def reason_with(self, name: Any) -> str:
        """The reason, each setting it refers to written as ``name(setting)`` (e.g. a flag)."""
        return self.reason.format(*(name(other) for other in self.others))


@dataclass(frozen=True)
class EvaluationSettings:
    """Every setting of an evaluation run (what ``eval.py``'s flags say); checked when made.

    Attributes:
        root: MUSDB18 root (``.stem.mp4`` files, or decoded wav folders with ``is_wav``).
        model: a model folder or a model name; not needed (None) with ``score_only``.
        subset: ``'train'`` or ``'test'``.
        is_wav: the dataset is decoded wav folders.
        targets: the targets to separate (None: all of the model's); with
            ``score_only``, the estimates to score (None: every musdb target found).
        tracks: only these tracks (None: all).
        outdir: the estimates, ``OUTDIR/<subset>/<track>/<source>.wav``.
        evaldir: per-track scores, ``results.csv`` and ``sdr.png``.
        separation: how to separate.
        cores: processes scoring tracks in parallel (at least 1).
        force: separate and score again tracks that already have results.
        estimates_only: separate and write the estimates, score nothing.
        score_only: score the estimates already in ``outdir``; needs no model.
        progress: progress bars (on stderr).
        baseline: also score the unprocessed mixture (in ``EVALDIR/mixture-baseline``)
            and compare the model with it.
        report: also write the listening page into this folder (not with ``estimates_only``).
        report_wav: with ``report``, full-length wav files beside the compressed audio.
        strict: with ``report``, a track whose estimates are missing or incomplete stops the page
            (an error) instead of a warning and a note on its page.
        shard: this task's share of a job array (default: every track).
        metrics: what to score (:mod:`.metrics`: ``bsseval``, ``usdr``,
            ``sisdr``; default all three); without ``bsseval`` museval is not
            run and one target suffices.

    Sequences given as lists are kept as tuples.

    Raises:
        SettingError: (a ``ValueError``) a bad value or combination; one line.
    """

    root: PathLike
    model: Optional[PathLike] = None
    subset: str = "test"
    is_wav: bool = False
    targets: Optional[Tuple[str, ...]] = None
    tracks: Optional[Tuple[str, ...]] = None
    outdir: PathLike = "estimates"
    evaldir: PathLike = "eval"
    separation: SeparationSettings = SeparationSettings()
    cores: int = 1
    force: bool = False
    estimates_only: bool = False
    score_only: bool = False
    progress: bool = True
    baseline: bool = False
    report: Optional[PathLike] = None
    report_wav: bool = False
    shard: Shard = Shard()
    strict: bool = False
    metrics: Tuple[str, ...] = DEFAULT_METRICS

    def __post_init__(self) -> None:
        if isinstance(self.metrics, str) or not all(isinstance(m, str) for m in self.metrics):
            raise SettingError("metrics", f"needs a list of metric names, got {self.metrics!r}")
        try:
            object.__setattr__(self, "metrics", parse_metrics(list(self.metrics)))
        except MetricError as err:
            raise SettingError("metrics", str(err)) from None
        for name in ("targets", "tracks"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        for name in ("root", "outdir", "evaldir"):
            _check_path(name, getattr(self, name))
        if self.model is not None:
            _check_path("model", self.model)
        if self.report is not None:
            _check_path("report", self.report)
        if self.subset not in SUBSETS:
            raise SettingError("subset", f"{self.subset!r} is not one of {', '.join(map(repr, SUBSETS))}")
        if isinstance(self.cores, bool) or not isinstance(self.cores, int) or self.cores < 1:
            raise SettingError("cores", f"needs a whole number of at least 1, got {self.cores!r}")
        if not isinstance(self.separation, SeparationSettings):
            raise SettingError("separation", f"needs a SeparationSettings, got {type(self.separation).__name__}")
        if not isinstance(self.shard, Shard):
            raise SettingError("shard", f"needs a Shard, got {type(self.shard).__name__}")
        if self.estimates_only and self.score_only:
            raise SettingError("score_only", "not allowed with {0}", ("estimates_only",))
        if self.report is not None and self.estimates_only:
            raise SettingError("report", "the listening page needs scores; not with {0}", ("estimates_only",))
        if self.report_wav and self.report is None:
            raise SettingError("report_wav", "only with {0} DIR", ("report",))
        if self.strict and self.report is None:
            raise SettingError("strict", "only with {0} DIR", ("report",))


def _names(setting: str, names: Optional[Sequence[str]]) -> Optional[Tuple[str, ...]]:
    """``names`` as a tuple of strings (None stays None)."""
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or not all(isinstance(n, str) for n in names):
        raise SettingError(setting, f"needs a list of names, got {names!r}")
    if not names:
        raise SettingError(setting, "an empty list; leave it out (None) for all")
    return tuple(names)


def _check_path(setting: str, value: Any) -> None:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise SettingError(setting, f"needs a path, got {value!r}")

@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` did.

    Attributes:
        tracks: names of the tracks selected.
        failed: ``{track name: one-line error message}`` of the tracks that
            could not be separated or scored; the others were done.
        summary: the aggregate over the scored tracks (see
            :func:`~.aggregate.summarize`); None when only estimates were
            written, or when no track could be scored.
        aggregated: number of tracks in ``summary``.
        share: the tracks this process separated and scored (all of them when alone).
        pending: tracks that other tasks of a job array have not scored yet;
            ``summary`` is None while there are any.
        baseline: the mixture baseline's summary (:func:`run_evaluation` with
            ``baseline``, on rank 0 once every track is scored); else None.
    """

    tracks: Tuple[str, ...]
    failed: Dict[str, str] = field(default_factory=dict)
    summary: Optional[Summary] = None
    aggregated: int = 0
    share: Tuple[str, ...] = ()
    pending: Tuple[str, ...] = ()
    baseline: Optional[Summary] = None
