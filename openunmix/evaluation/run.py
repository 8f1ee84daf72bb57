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

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..distributed import Context, gather_objects
from ..models.hub import load_with
from ..separation.separate import SeparationSettings
from ..utils import PathLike
from .baseline import mixture_baseline
from .estimates import separate_tracks
from .report import write_report
from .metrics import BSSEVAL
from .scoring import score_tracks
from .settings import SUBSETS, EvaluationResult, EvaluationSettings, SettingError  # noqa: F401 (handed on)
from .tracks import (
    ALONE, EvaluationError, check_scorable, check_target_names, check_writable, estimates_folder, is_scored,
    list_tracks, scorable, share_tracks,
)

def separate_dataset(
    model: PathLike,
    tracks: Sequence[Any],
    estimates_dir: PathLike,
    targets: Optional[Sequence[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    force: bool = False,
    for_scoring: bool = True,
    progress: bool = True,
    least: int = 2,
) -> Tuple[List[str], Dict[str, str], List[str]]:
    """Load the model (a folder or a name) once and separate the tracks (see :func:`~.estimates.separate_tracks`).

    With ``for_scoring``, a model with fewer than ``least`` musdb targets among its sources (2 for museval, 1
    for the whole-track metrics) is refused before anything is separated.

    Returns:
        ``(names of the tracks separated now, {track name: error message},
        the musdb targets among the separator's sources)``.

    Raises:
        ModelError: unusable model, unknown targets; EvaluationError: unscorable sources.
    """
    separator = load_with(settings, model, targets)
    sources = check_scorable(separator.source_names, least) if for_scoring else scorable(separator.source_names)
    separated, failed = separate_tracks(
        separator, tracks, estimates_dir, settings.segment, settings.overlap, force, progress,
    )
    return separated, failed, sources


def evaluate(settings: EvaluationSettings, ctx: Context = ALONE) -> EvaluationResult:
    """Separate the tracks of a subset with a model, score the estimates, write the report.

    Everything named (tracks, targets, the model) and every folder is checked
    before anything is separated. Tracks whose estimates (or scores) are on
    disk already are skipped unless ``force``; the leftovers of killed runs are
    removed from the folders written to.

    Args:
        settings: the run's settings (its ``baseline`` and ``report`` are
            :func:`run_evaluation`'s business); ``progress`` shows bars on
            rank 0 only.
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
    s = settings
    root, subset, estimates_dir, evaldir, shard = s.root, s.subset, s.outdir, s.evaldir, s.shard
    targets, score_only, estimates_only, force = s.targets, s.score_only, s.estimates_only, s.force
    model = None if score_only else s.model
    progress = s.progress and ctx.rank == 0
    least = 2 if BSSEVAL in s.metrics else 1
    selected = list_tracks(root, subset, s.is_wav, s.tracks)
    names = tuple(t.name for t in selected)
    mine = share_tracks(selected, shard.within(ctx.rank, ctx.world_size))
    sources: Optional[List[str]] = None
    if score_only:
        if not Path(estimates_dir).is_dir():
            raise EvaluationError(f"{estimates_dir}: no estimates folder")
        sources = check_target_names(targets, least) if targets else None
    else:
        check_writable(estimates_dir, "estimates")
    if not estimates_only:
        check_writable(evaldir, "evaluation")
    if not score_only and model is None:
        raise EvaluationError("a model is needed to separate the tracks (or score only the estimates on disk)")
    display = None
    if ctx.world_size > 1 and ctx.rank == 0 and progress:  # one display for the tracks of every process
        shown = {t.name for r in range(ctx.world_size) for t in share_tracks(selected, shard.within(r, ctx.world_size))}
        display = _TrackProgress([t for t in selected if t.name in shown], estimates_dir, evaldir, estimates_only,
                                 s.metrics)
    own_bars = progress and ctx.world_size == 1
    separated: List[str] = []
    failed: Dict[str, str] = {}
    try:
        if not score_only:
            separated, failed, sources = separate_dataset(
                model, mine, estimates_dir, targets, s.separation, force, for_scoring=not estimates_only,
                progress=own_bars, least=least,
            )
        if not estimates_only:
            todo = [t for t in mine if t.name not in failed]
            failed.update(score_tracks(todo, evaldir, estimates_dir, sources, s.cores, force, redo=separated,
                                       progress=own_bars, metrics=s.metrics))
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
    pending = tuple(n for n in names if n not in failed and not is_scored(evaldir, subset, n, s.metrics))
    if pending:  # other tasks of a job array are still at work (or failed there)
        return EvaluationResult(names, failed, share=share, pending=pending)
    try:
        summary, count = write_report(evaldir, subset, names, metrics=s.metrics)
    except EvaluationError:
        if failed:  # nothing scored: the per-track errors say why
            return EvaluationResult(names, failed, share=share)
        raise
    return EvaluationResult(names, failed, summary, count, share=share)


def run_evaluation(settings: EvaluationSettings, ctx: Context = ALONE) -> EvaluationResult:
    """What ``eval.py`` runs: :func:`evaluate` with ``settings``, then the mixture baseline (``settings.baseline``).

    The listening page (``settings.report``) is the comparison's:
    :func:`openunmix.compare.check_report_folder` checks its folder before
    (``eval.py`` does, before hours of separation) and
    :func:`openunmix.compare.write_listening_page` writes it afterwards, with
    the tracks scored. Every process under ``torchrun`` must call this; only
    rank 0 shows progress.

    Returns:
        as :func:`evaluate`, with the mixture baseline's summary in ``baseline``.

    Raises:
        EvaluationError, ModelError, OSError: one line.
    """
    s = settings
    result = evaluate(s, ctx)
    floor = mixture_baseline(s, result, ctx)
    return result if floor is None else replace(result, baseline=floor)


class _TrackProgress:
    """Rank 0's display of every process's tracks under ``torchrun``, polled from the folders they write."""

    def __init__(self, tracks: Sequence[Any], estimates_dir: PathLike, evaldir: PathLike, estimates_only: bool,
                 metrics: Sequence[str], poll: float = 2.0):
        from tqdm import tqdm

        self.tracks = list(tracks)
        self.estimates_dir, self.evaldir, self.estimates_only = estimates_dir, evaldir, estimates_only
        self.metrics = tuple(metrics)
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
            self.bar.n = sum(is_scored(self.evaldir, t.subset, t.name, self.metrics) for t in self.tracks)
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
