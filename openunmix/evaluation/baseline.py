"""The mixture baseline: the unprocessed mixture scored as the estimate of each target, the floor a model must beat.

:func:`evaluate_mixture_baseline` scores it for a dataset; :func:`mixture_baseline`
scores it beside an evaluation (``EvaluationSettings.baseline``), as the
targets the model was scored on (:func:`baseline_targets`), also in a task of
a job array that has no summary yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Sequence

from ..distributed import Context, broadcast_object, gather_objects
from ..separation.sharding import Shard
from ..utils import PathLike
from .aggregate import Summary
from .metrics import BSSEVAL, DEFAULT_METRICS
from .report import write_report
from .scoring import score_tracks
from .settings import EvaluationResult, EvaluationSettings, baseline_folder
from .tracks import (
    ALONE, MUSDB_TARGETS, EvaluationError, check_scorable, check_writable, estimates_folder, is_scored, list_tracks,
    share_tracks,
)



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
    shard: Shard = Shard(),
    ctx: Context = ALONE,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> Optional[Summary]:
    """Score the unprocessed mixture as the estimate of each target (with ``metrics``): the floor a model must beat.

    Writes the per-track files, ``results.csv`` and ``sdr.png`` under
    ``evaldir`` (keep it apart from the model's) and returns the summary (see
    :func:`~.aggregate.summarize`). With ``shard`` and ``ctx`` as in
    :func:`~.run.evaluate`, each process scores its share; the summary comes back on
    rank 0 once every track is scored, None otherwise.

    Raises:
        EvaluationError: unusable dataset or targets, or a track that failed.
    """
    check_scorable(list(targets), 2 if BSSEVAL in metrics else 1)
    selected = list_tracks(root, subset, is_wav, tracks)
    check_writable(evaldir, "evaluation")
    mine = share_tracks(selected, shard.within(ctx.rank, ctx.world_size))
    failed = score_tracks(mine, evaldir, None, list(targets), cores, force,
                          progress=progress and ctx.world_size == 1, metrics=metrics)
    everyone = gather_objects(failed, ctx)
    if ctx.rank != 0:
        return None
    failed = {name: message for part in everyone or [] for name, message in part.items()}
    if failed:
        raise EvaluationError(next(iter(failed.values())))
    if any(not is_scored(evaldir, subset, t.name, metrics) for t in selected):
        return None  # other tasks of a job array are still at work
    summary, _ = write_report(evaldir, subset, [t.name for t in selected], "mixture as the estimate", metrics)
    return summary


def baseline_targets(result: Any, outdir: PathLike, subset: str,
                     metrics: Sequence[str] = DEFAULT_METRICS) -> List[str]:
    """The targets the mixture is scored as: those of the model's summary, or (in a task of a job array, before
    the summary) the musdb targets among the estimates of one of its tracks.

    Args:
        result: the :class:`~.run.EvaluationResult` of the model.
        outdir: the model's estimates, ``OUTDIR/<subset>/<track>/<target>.wav``.

    Raises:
        EvaluationError: no estimates of two musdb targets to go by.
    """
    if result.summary is not None:
        return list(result.summary)
    for name in result.share or result.tracks:
        folder = estimates_folder(outdir, subset, name)
        found = [t for t in MUSDB_TARGETS if (folder / f"{t}.wav").is_file()]
        if len(found) >= (2 if BSSEVAL in metrics else 1):
            return found
    raise EvaluationError(f"{Path(outdir) / subset}: no estimates to tell which targets the mixture is scored as")


def mixture_baseline(settings: EvaluationSettings, result: EvaluationResult,
                     ctx: Context = ALONE) -> Optional[Summary]:
    """The mixture baseline of an evaluation run, when ``settings.baseline`` asks for it, in
    ``EVALDIR/mixture-baseline``: scored by every process once rank 0 has the model's summary (or awaits
    other tasks' tracks), as the targets of :func:`baseline_targets`.

    Args:
        settings: the run's :class:`~.run.EvaluationSettings`.
        result: what :func:`~.run.evaluate` returned for them in this process.

    Returns:
        the summary on rank 0 once every track is scored; None otherwise, and
        when no baseline is asked for, with ``estimates_only``, or when the
        model has nothing scored.

    Raises:
        EvaluationError: as :func:`evaluate_mixture_baseline` and :func:`baseline_targets`.
    """
    s = settings
    if not s.baseline or s.estimates_only:
        return None
    if not broadcast_object(result.summary is not None or bool(result.pending), ctx):
        return None
    return evaluate_mixture_baseline(
        s.root, s.subset, baseline_targets(result, s.outdir, s.subset, s.metrics), is_wav=s.is_wav,
        evaldir=baseline_folder(s.evaldir), cores=s.cores, force=s.force, tracks=s.tracks,
        progress=s.progress and ctx.rank == 0, shard=s.shard, ctx=ctx, metrics=s.metrics,
    )
