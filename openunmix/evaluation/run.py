"""Evaluation of a model on a MUSDB18 subset: separate, score, aggregate.

:func:`evaluate` drives the steps for a dataset and returns what happened;
problems that stop it raise one-line exceptions (:class:`~.tracks.EvaluationError`,
:class:`~openunmix.utils.ModelError`, ``OSError``), problems of single tracks
are returned per track. Printing is left to the caller (``eval.py``).

Many processes can share an evaluation: the ``torchrun`` processes of one
run (``ctx``) and the tasks of a job array (``shard``). Each separates and
scores its share of the tracks (balanced by duration,
:mod:`openunmix.separation.sharding`); under ``torchrun``, rank 0 waits for the others,
learns their failures and aggregates every track. A task of a job array
aggregates when it finds every track scored, so the last task to finish
writes the table; otherwise (a track failed elsewhere) scoring only the
estimates on disk (``score_only``, no shard) aggregates afterwards.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..distributed import Context, gather_objects
from ..separation.separate import SeparationSettings
from ..separation.sharding import Shard
from ..utils import PathLike
from .aggregate import Summary
from .baseline import evaluate_mixture_baseline, mixture_baseline
from .estimates import separate_tracks
from .report import write_report
from .scoring import score_tracks
from .tracks import (
    ALONE, EvaluationError, check_scorable, check_target_names, check_writable, estimates_folder, is_scored,
    list_tracks, scorable, share_tracks,
)

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
        shard: this task's share of a job array (default: every track).

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

    def __post_init__(self) -> None:
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


def separate_dataset(
    model: PathLike,
    tracks: Sequence[Any],
    estimates_dir: PathLike,
    targets: Optional[Sequence[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    force: bool = False,
    for_scoring: bool = True,
    progress: bool = True,
) -> Tuple[List[str], Dict[str, str], List[str]]:
    """Load the model (a folder or a name) once and separate the tracks (see :func:`~.estimates.separate_tracks`).

    With ``for_scoring``, a model whose sources museval cannot score is
    refused before anything is separated.

    Returns:
        ``(names of the tracks separated now, {track name: error message},
        the musdb targets among the separator's sources)``.

    Raises:
        ModelError: unusable model, unknown targets; EvaluationError: unscorable sources.
    """
    separator = settings.load(model, targets)
    sources = check_scorable(separator.source_names) if for_scoring else scorable(separator.source_names)
    separated, failed = separate_tracks(
        separator, tracks, estimates_dir, settings.segment, settings.overlap, force, progress,
    )
    return separated, failed, sources


def evaluate(
    root: PathLike,
    model: Optional[PathLike] = None,
    subset: str = "test",
    is_wav: bool = False,
    targets: Optional[Sequence[str]] = None,
    estimates_dir: PathLike = "estimates",
    evaldir: PathLike = "eval",
    settings: SeparationSettings = SeparationSettings(),
    cores: int = 1,
    tracks: Optional[Sequence[str]] = None,
    force: bool = False,
    estimates_only: bool = False,
    score_only: bool = False,
    progress: bool = True,
    shard: Shard = Shard(),
    ctx: Context = ALONE,
) -> EvaluationResult:
    """Separate the tracks of a subset with a model, score the estimates, write the report.

    Everything named (tracks, targets, the model) and every folder is checked
    before anything is separated. Tracks whose estimates (or scores) are on
    disk already are skipped unless ``force``; the leftovers of killed runs are
    removed from the folders written to.

    Args:
        root: MUSDB18 root (``.stem.mp4`` files, or decoded wav folders with ``is_wav``).
        model: a model folder or a model name; not needed with ``score_only``.
        targets: the targets to separate (None: all of the model's); with
            ``score_only``, the estimates to score (None: every musdb target found).
        estimates_dir: ``ESTIMATES_DIR/<subset>/<track>/<source>.wav``.
        evaldir: per-track scores, ``results.csv`` and ``sdr.png``.
        settings: how to separate.
        cores: processes scoring tracks in parallel.
        tracks: only these tracks (None: all).
        estimates_only: separate and write the estimates, score nothing.
        score_only: score the estimates already in ``estimates_dir``.
        shard: this task's share of a job array (default: every track).
        ctx: this process's place under ``torchrun``
            (:func:`openunmix.distributed.setup`); every process must call
            this function. The processes divide the task's share.

    Returns:
        the tracks selected, those that failed (on rank 0: in every process),
        and the summary (None on the other ranks, and in a task of a job
        array while other tasks' tracks are not scored yet: see ``pending``).

    Raises:
        EvaluationError: unusable dataset, unknown track or target names,
            unusable folders; ModelError: unusable model; OSError.
    """
    selected = list_tracks(root, subset, is_wav, tracks)
    names = tuple(t.name for t in selected)
    mine = share_tracks(selected, shard.within(ctx.rank, ctx.world_size))
    sources: Optional[List[str]] = None
    if score_only:
        if not Path(estimates_dir).is_dir():
            raise EvaluationError(f"{estimates_dir}: no estimates folder")
        sources = check_target_names(targets) if targets else None
    else:
        check_writable(estimates_dir, "estimates")
    if not estimates_only:
        check_writable(evaldir, "evaluation")
    if not score_only and model is None:
        raise EvaluationError("a model is needed to separate the tracks (or score only the estimates on disk)")
    display = None
    if ctx.world_size > 1 and ctx.rank == 0 and progress:  # one display for the tracks of every process
        shown = {t.name for r in range(ctx.world_size) for t in share_tracks(selected, shard.within(r, ctx.world_size))}
        display = _TrackProgress([t for t in selected if t.name in shown], estimates_dir, evaldir, estimates_only)
    own_bars = progress and ctx.world_size == 1
    separated: List[str] = []
    failed: Dict[str, str] = {}
    try:
        if not score_only:
            separated, failed, sources = separate_dataset(
                model, mine, estimates_dir, targets, settings, force, for_scoring=not estimates_only,
                progress=own_bars,
            )
        if not estimates_only:
            todo = [t for t in mine if t.name not in failed]
            failed.update(score_tracks(todo, evaldir, estimates_dir, sources, cores, force, redo=separated,
                                       progress=own_bars))
        everyone = gather_objects(failed, ctx)  # rank 0 waits for every process here
    finally:
        if display is not None:
            display.close()
    share = tuple(t.name for t in mine)
    if ctx.rank != 0:
        return EvaluationResult(names, failed, share=share)
    failed = {name: message for part in everyone or [] for name, message in part.items()}
    if estimates_only:
        return EvaluationResult(names, failed, share=share)
    pending = tuple(n for n in names if n not in failed and not is_scored(evaldir, subset, n))
    if pending:  # other tasks of a job array are still at work (or failed there)
        return EvaluationResult(names, failed, share=share, pending=pending)
    try:
        summary, count = write_report(evaldir, subset, names)
    except EvaluationError:
        if failed:  # nothing scored: the per-track errors say why
            return EvaluationResult(names, failed, share=share)
        raise
    return EvaluationResult(names, failed, summary, count, share=share)


def run_evaluation(settings: EvaluationSettings, ctx: Context = ALONE) -> EvaluationResult:
    """What ``eval.py`` runs: :func:`evaluate` with ``settings``, then the mixture baseline (``settings.baseline``).

    The report folder (``settings.report``) is checked first, before hours of
    separation; the listening page itself is written afterwards by
    :func:`~.report.write_listening_page`, with the tracks scored. Every
    process under ``torchrun`` must call this; only rank 0 shows progress.

    Returns:
        as :func:`evaluate`, with the mixture baseline's summary in ``baseline``.

    Raises:
        EvaluationError, ModelError, CompareError (unusable report folder), OSError: one line.
    """
    s = settings
    if s.report is not None:
        from ..compare import check_report_folder

        check_report_folder(s.report)
    result = evaluate(
        s.root, None if s.score_only else s.model, s.subset, s.is_wav, s.targets, s.outdir, s.evaldir,
        s.separation, s.cores, s.tracks, s.force, s.estimates_only, s.score_only, s.progress and ctx.rank == 0,
        s.shard, ctx,
    )
    floor = mixture_baseline(s, result, ctx)
    return result if floor is None else replace(result, baseline=floor)


class _TrackProgress:
    """Rank 0's display of every process's tracks under ``torchrun``, polled from the folders they write."""

    def __init__(self, tracks: Sequence[Any], estimates_dir: PathLike, evaldir: PathLike, estimates_only: bool,
                 poll: float = 2.0):
        from tqdm import tqdm

        self.tracks = list(tracks)
        self.estimates_dir, self.evaldir, self.estimates_only = estimates_dir, evaldir, estimates_only
        self.bar = tqdm(total=len(self.tracks), unit="track", desc="separated" if estimates_only else "scored",
                        dynamic_ncols=True)
        self._stop = threading.Event()
        self._poll = poll
        self._update()
        self._thread = threading.Thread(target=self._follow, name="evaluation-progress", daemon=True)
        self._thread.start()

    def _separated(self, track: Any) -> bool:
        folder = estimates_folder(self.estimates_dir, track.subset, track.name)
        try:
            names = [p.name for p in folder.iterdir()]
        except OSError:
            return False
        return any(n.endswith(".wav") and not n.startswith(".") for n in names) and not any(".tmp-" in n for n in names)

    def _update(self) -> None:
        separated = sum(self._separated(t) for t in self.tracks)
        if self.estimates_only:
            self.bar.n = separated
        else:
            self.bar.n = sum(is_scored(self.evaldir, t.subset, t.name) for t in self.tracks)
            self.bar.set_postfix_str(f"{separated} separated", refresh=False)
        self.bar.refresh()

    def _follow(self) -> None:
        while not self._stop.wait(self._poll):
            self._update()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._update()
        self.bar.close()
