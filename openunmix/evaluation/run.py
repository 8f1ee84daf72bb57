"""Evaluation of a model on a MUSDB18 subset: separate, score, aggregate.

:func:`evaluate` drives the steps for a dataset and returns what happened;
problems that stop it raise one-line exceptions (:class:`~.tracks.EvaluationError`,
:class:`~openunmix.utils.ModelError`, ``OSError``), problems of single tracks
are returned per track. Printing is left to the caller (``eval.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..separate import SeparationSettings
from ..utils import PathLike
from .aggregate import Summary
from .estimates import separate_tracks
from .report import write_report
from .scoring import score_tracks
from .tracks import EvaluationError, check_scorable, check_target_names, check_writable, list_tracks, scorable


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
    """

    tracks: Tuple[str, ...]
    failed: Dict[str, str] = field(default_factory=dict)
    summary: Optional[Summary] = None
    aggregated: int = 0


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

    Returns:
        the tracks selected, those that failed, and the summary.

    Raises:
        EvaluationError: unusable dataset, unknown track or target names,
            unusable folders; ModelError: unusable model; OSError.
    """
    selected = list_tracks(root, subset, is_wav, tracks)
    names = tuple(t.name for t in selected)
    sources: Optional[List[str]] = None
    if score_only:
        if not Path(estimates_dir).is_dir():
            raise EvaluationError(f"{estimates_dir}: no estimates folder")
        sources = check_target_names(targets) if targets else None
    else:
        check_writable(estimates_dir, "estimates")
    if not estimates_only:
        check_writable(evaldir, "evaluation")
    separated: List[str] = []
    failed: Dict[str, str] = {}
    if not score_only:
        if model is None:
            raise EvaluationError("a model is needed to separate the tracks (or score only the estimates on disk)")
        separated, failed, sources = separate_dataset(
            model, selected, estimates_dir, targets, settings, force, for_scoring=not estimates_only,
            progress=progress,
        )
    if estimates_only:
        return EvaluationResult(names, failed)
    todo = [t for t in selected if t.name not in failed]
    failed.update(score_tracks(todo, evaldir, estimates_dir, sources, cores, force, redo=separated, progress=progress))
    try:
        summary, count = write_report(evaldir, subset, names)
    except EvaluationError:
        if failed:  # nothing scored: the per-track errors say why
            return EvaluationResult(names, failed)
        raise
    return EvaluationResult(names, failed, summary, count)


def evaluate_mixture_baseline(
    root: PathLike,
    subset: str = "test",
    targets: Sequence[str] = ("vocals", "accompaniment"),
    is_wav: bool = False,
    evaldir: PathLike = "eval-mixture",
    cores: int = 1,
    force: bool = False,
    tracks: Optional[Sequence[str]] = None,
    progress: bool = False,
) -> Summary:
    """Score the unprocessed mixture as the estimate of each target: the floor a model must beat.

    Writes the per-track files, ``results.csv`` and ``sdr.png`` under
    ``evaldir`` (keep it apart from the model's) and returns the summary (see
    :func:`~.aggregate.summarize`).

    Raises:
        EvaluationError: unusable dataset or targets, or a track that failed.
    """
    check_scorable(list(targets))
    selected = list_tracks(root, subset, is_wav, tracks)
    check_writable(evaldir, "evaluation")
    failed = score_tracks(selected, evaldir, None, list(targets), cores, force, progress=progress)
    if failed:
        raise EvaluationError(next(iter(failed.values())))
    summary, _ = write_report(evaldir, subset, [t.name for t in selected], "mixture as the estimate")
    return summary
