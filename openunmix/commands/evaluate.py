"""``eval.py``: separate a MUSDB18 subset with a model, score it with museval, print and write the report."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

from ..distributed import broadcast_object, cleanup
from ..evaluation import EvaluationError, evaluate, evaluate_mixture_baseline, format_comparison, format_table
from ..separation.separate import SeparationSettings
from ..separation.sharding import Shard
from ..utils import ModelError
from .argtypes import ArgumentParser, positive_int
from .common import (
    add_model_arguments, add_separation_arguments, add_shard_arguments, error, job_shard, join_processes,
    print_licence_notice, separation_settings,
)


def evaluate_main(
    model_dir: Optional[str],
    root: str,
    subset: str = "test",
    is_wav: bool = False,
    targets: Optional[List[str]] = None,
    outdir: str = "estimates",
    evaldir: str = "eval",
    settings: SeparationSettings = SeparationSettings(),
    cores: int = 1,
    tracks: Optional[List[str]] = None,
    force: bool = False,
    estimates_only: bool = False,
    score_only: bool = False,
    progress: bool = True,
    baseline: bool = False,
    report: Optional[str] = None,
    report_wav: bool = False,
    shard: Shard = Shard(),
) -> int:
    """What ``eval.py`` runs: separate, score, aggregate; errors become one line on stderr.

    ``score_only`` needs no model: it scores the estimates in ``outdir``
    (the sources in ``targets``, or every musdb target found there).
    ``estimates_only`` separates and scores nothing. With ``baseline``, the
    unprocessed mixture is scored too (in ``evaldir/mixture-baseline``) and
    the model's median SDR is compared with it. ``settings``: how to separate
    (default :class:`~openunmix.separation.separate.SeparationSettings`). With ``report``,
    the listening page of the tracks evaluated (the model, and the mixture
    baseline with ``baseline``) is written into that folder (see
    :func:`openunmix.compare.evaluation_report`; ``report_wav`` adds full wav
    files). The table goes to stdout, progress and errors to stderr.

    Under ``torchrun`` the processes share the tracks (balanced by duration,
    one GPU each where there are GPUs); rank 0 shows one progress display,
    waits for the others, reports their failures, aggregates every track
    and writes the report; the others print nothing. ``shard`` is this task's
    share of a job array: the task that finds every track scored when it
    ends aggregates; a task that does not says so (``score_only`` without a
    shard aggregates afterwards).

    Returns:
        the exit status: 0 all done, 1 some tracks failed (or the listening
        page could not be written), 2 nothing could be done (bad dataset,
        names, model or folders), 130 interrupted. Under ``torchrun``, rank
        0's status is the run's; the other ranks return 0 unless they could
        not work at all.
    """
    ctx = join_processes(settings.use_cuda and not score_only)
    try:
        return _evaluate(model_dir, root, subset, is_wav, targets, outdir, evaldir, settings, cores, tracks, force,
                         estimates_only, score_only, progress, baseline, report, report_wav, shard, ctx)
    finally:
        cleanup()


def _evaluate(model_dir: Optional[str], root: str, subset: str, is_wav: bool, targets: Optional[List[str]],
              outdir: str, evaldir: str, settings: SeparationSettings, cores: int, tracks: Optional[List[str]],
              force: bool, estimates_only: bool, score_only: bool, progress: bool, baseline: bool,
              report: Optional[str], report_wav: bool, shard: Shard, ctx: Any) -> int:
    from ..compare import CompareError, check_report_folder

    lead = ctx.rank == 0
    try:
        if report is not None:
            check_report_folder(report)  # before hours of separation
        result = evaluate(
            root, None if score_only else model_dir, subset, is_wav, targets, outdir, evaldir, settings, cores,
            tracks, force, estimates_only, score_only, progress and lead, shard, ctx,
        )
        # every process scores its share of the mixtures too, once rank 0 has a summary (or awaits other tasks')
        floor = None
        if baseline and not estimates_only and broadcast_object(result.summary is not None or bool(result.pending), ctx):
            floor = evaluate_mixture_baseline(
                root, subset, _baseline_targets(result, outdir, subset), is_wav, Path(evaldir) / "mixture-baseline",
                cores, force, tracks, progress and lead, shard, ctx,
            )
        if not lead:
            return 0
        total = len(result.tracks)
        if estimates_only:
            return _finish(result.failed, total, f"estimates in {Path(outdir) / subset}")
        if result.pending:
            return _finish(result.failed, total, _pending_note(result, shard))
        if result.summary is None:  # nothing scored: the per-track errors say why
            return _finish(result.failed, total, "")
        print(format_table(result.summary), flush=True)
        if floor is not None:
            print(format_comparison(result.summary, floor), flush=True)
        status = _finish(result.failed, total, f"{result.aggregated} tracks aggregated: "
                         f"{Path(evaldir) / 'results.csv'}, {Path(evaldir) / 'sdr.png'}")
        if report is not None:
            scored = [t for t in result.tracks if t not in result.failed]
            status = max(status, _write_report(report, report_wav, model_dir, root, subset, is_wav, outdir, evaldir,
                                               baseline, scored, progress))
        return status
    except (EvaluationError, ModelError, CompareError, OSError) as err:
        error(str(err) if lead else f"rank {ctx.rank}: {err}")
        return 2
    except KeyboardInterrupt:
        if lead:
            error("interrupted; run the same command again to resume")
        return 130


def _baseline_targets(result: Any, outdir: str, subset: str) -> List[str]:
    """The targets the mixture is scored as: those of the model's summary, or (in a task of a job array, before
    the summary) the musdb targets among the estimates of one of its tracks."""
    from ..evaluation import MUSDB_TARGETS, estimates_folder

    if result.summary is not None:
        return list(result.summary)
    for name in result.share or result.tracks:
        folder = estimates_folder(outdir, subset, name)
        found = [t for t in MUSDB_TARGETS if (folder / f"{t}.wav").is_file()]
        if len(found) >= 2:
            return found
    raise EvaluationError(f"{Path(outdir) / subset}: no estimates to tell which targets the mixture is scored as")


def _pending_note(result: Any, shard: Shard) -> str:
    done = len(result.tracks) - len(result.pending) - len(result.failed)
    mine = f"{len(result.share)} track{'s' if len(result.share) != 1 else ''}"
    return (f"share {shard} ({mine}) finished; {done} of {len(result.tracks)} tracks scored so far. The "
            "table is written by the task that finds every track scored; after a failure, the same command with "
            "--score-only and without --shard aggregates what is there")


def _write_report(report: str, wav: bool, model: Optional[str], root: str, subset: str, is_wav: bool, outdir: str,
                  evaldir: str, baseline: bool, tracks: Sequence[str], progress: bool) -> int:
    """Write the listening page of the tracks evaluated; returns 0, or 1 (one error line) when it cannot be written."""
    from ..compare import CompareError, ReportSettings, evaluation_report

    name = Path(str(model).rstrip("/\\")).name if model else Path(outdir).name
    try:
        index = evaluation_report(
            evaldir, outdir, report, root, subset, is_wav, name or "model",
            Path(evaldir) / "mixture-baseline" if baseline else None, tracks, ReportSettings(wav=wav), progress,
        )
    except (CompareError, EvaluationError, OSError) as err:
        error(f"{err} (the listening page was not written)")
        return 1
    print(f"listening page: {index}", flush=True)
    return 0


def _finish(failed: Mapping[str, str], total: int, done: str) -> int:
    """Report per-track failures (one line each, their count when several) and what was written.

    Returns:
        the exit status: 1 when a track failed, else 0.
    """
    for message in failed.values():
        error(message)
    if done:
        print(done, file=sys.stderr, flush=True)
    if len(failed) > 1:
        error(f"{len(failed)} of {total} tracks failed")
    return 1 if failed else 0


def build_parser(prog: Optional[str] = None) -> ArgumentParser:
    """The parser of ``eval.py``."""
    p = ArgumentParser(prog=prog, description="Open-Unmix evaluation on MUSDB18 with museval")
    add_model_arguments(p)
    p.add_argument("--root", required=True, help="MUSDB18 root folder (holding train/ and test/)")
    p.add_argument("--is-wav", action="store_true", help="the dataset is decoded wav folders, not .stem.mp4 files")
    p.add_argument("--subset", default="test", choices=("train", "test"), help="subset to evaluate (default: %(default)s)")
    p.add_argument("--tracks", nargs="+", default=None, metavar="NAME", help="evaluate only these tracks (default: all)")
    p.add_argument("--targets", nargs="+", default=None,
                   help="targets to separate (default: all of the model's); with --score-only, the estimates to score")
    p.add_argument("--outdir", default="estimates", help="estimates folder: OUTDIR/<subset>/<track>/<source>.wav (default: %(default)s)")
    p.add_argument("--evaldir", default="eval", help="scores folder: EVALDIR/<subset>/<track>.json, results.csv, sdr.png (default: %(default)s)")
    add_separation_arguments(p)
    p.add_argument("--cores", type=positive_int, default=1, help="processes scoring tracks in parallel (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="separate and score again tracks that already have results")
    add_shard_arguments(p, "tracks")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--estimates-only", action="store_true", help="separate and write the estimates, score nothing")
    mode.add_argument("--score-only", action="store_true", help="score the estimates already in OUTDIR; needs no model")
    p.add_argument("--baseline", action="store_true",
                   help="also score the unprocessed mixture and compare (EVALDIR/mixture-baseline)")
    p.add_argument("--report", metavar="DIR", default=None,
                   help="also write the listening page into DIR (DIR/index.html): tables, plots, and per track the "
                        "mixture, references and estimates to play, with spectrograms and per-frame SDR curves")
    p.add_argument("--report-wav", action="store_true",
                   help="with --report: also full-length wav files beside the compressed audio (large)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def evaluate_command(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``eval.py``: parse the command line and evaluate; returns the exit status."""
    p = build_parser(prog)
    a = p.parse_args(argv)
    if a.report is not None and a.estimates_only:
        p.error("argument --report: the listening page needs scores; not with --estimates-only")
    if a.report_wav and a.report is None:
        p.error("argument --report-wav: only with --report DIR")
    settings = separation_settings(p, a)
    shard, note = job_shard(p, a, "track")
    lead = os.environ.get("RANK", "0") == "0"  # under torchrun, only rank 0 talks
    if lead and not a.score_only:
        print_licence_notice(a.model, a.models)
    if lead and note:
        print(f"note: {note}", file=sys.stderr, flush=True)
    return evaluate_main(
        model_dir=None if a.score_only else a.model, root=a.root, subset=a.subset, is_wav=a.is_wav, targets=a.targets,
        outdir=a.outdir, evaldir=a.evaldir, cores=a.cores, tracks=a.tracks, force=a.force,
        estimates_only=a.estimates_only, score_only=a.score_only, progress=not a.quiet,
        baseline=a.baseline, settings=settings, report=a.report, report_wav=a.report_wav, shard=shard,
    )
