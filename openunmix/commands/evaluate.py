"""``eval.py``: separate a MUSDB18 subset with a model, score it with museval, print and write the report.

The command parses, builds one :class:`~openunmix.evaluation.EvaluationSettings`, runs
:func:`~openunmix.evaluation.run_evaluation` and prints what it returns; errors become one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple

from ..distributed import Context, cleanup
from ..evaluation import (
    EvaluationError, EvaluationResult, EvaluationSettings, MetricError, SettingError, format_comparison, format_table,
    parse_metrics, run_evaluation,
)
from ..separation.sharding import Shard
from ..utils import ModelError
from .argtypes import ArgumentParser, positive_int
from .common import (
    add_model_arguments, add_separation_arguments, add_shard_arguments, error, job_shard, join_processes,
    print_licence_notice, separation_settings,
)


def run(settings: EvaluationSettings) -> int:
    """What ``eval.py`` runs once its settings are made: separate, score, aggregate, print; errors become one line
    on stderr.

    The table goes to stdout, progress and errors to stderr. Under
    ``torchrun`` the processes share the tracks (balanced by duration, one
    GPU each where there are GPUs); rank 0 shows one progress display, waits
    for the others, reports their failures, aggregates every track and
    writes the report; the others print nothing. In a task of a job array
    (``settings.shard``), the task that finds every track scored when it
    ends aggregates; a task that does not says so.

    Returns:
        the exit status: 0 all done, 1 some tracks failed (or the listening
        page could not be written), 2 nothing could be done (bad dataset,
        names, model or folders), 130 interrupted. Under ``torchrun``, rank
        0's status is the run's; the other ranks return 0 unless they could
        not work at all.
    """
    ctx = join_processes(settings.separation.use_cuda and not settings.score_only)
    try:
        return _run(settings, ctx)
    finally:
        cleanup()


def evaluate_main(model_dir: Optional[str], root: str, **options: Any) -> int:
    """:func:`run` with the settings as keywords: those of :class:`~openunmix.evaluation.EvaluationSettings`
    (``settings`` is accepted for its ``separation``, as before); ``model_dir`` is its ``model``.

    A bad setting is one error line and exit status 2.
    """
    if "settings" in options:
        options["separation"] = options.pop("settings")
    try:
        settings = EvaluationSettings(model=model_dir, root=root, **options)
    except SettingError as err:
        error(str(err))
        return 2
    return run(settings)


def _run(settings: EvaluationSettings, ctx: Context) -> int:
    from ..compare import CompareError, check_report_folder

    s = settings
    lead = ctx.rank == 0
    try:
        if s.report is not None:  # before hours of separation
            check_report_folder(s.report)
        result = run_evaluation(s, ctx)
        if not lead:
            return 0
        total = len(result.tracks)
        if s.estimates_only:
            return _finish(result.failed, total, f"estimates in {Path(s.outdir) / s.subset}")
        if result.pending:
            return _finish(result.failed, total, _pending_note(result, s.shard))
        if result.summary is None:  # nothing scored: the per-track errors say why
            return _finish(result.failed, total, "")
        print(format_table(result.summary), flush=True)
        if result.baseline is not None:
            print(format_comparison(result.summary, result.baseline), flush=True)
        written = [Path(s.evaldir) / "results.csv"] + ([Path(s.evaldir) / "sdr.png"] if "bsseval" in s.metrics else [])
        status = _finish(result.failed, total, f"{result.aggregated} tracks aggregated: "
                         + ", ".join(str(p) for p in written))
        if s.report is not None:
            scored = [t for t in result.tracks if t not in result.failed]
            status = max(status, _listening_page(s, scored))
        return status
    except (EvaluationError, ModelError, CompareError, OSError) as err:
        error(str(err) if lead else f"rank {ctx.rank}: {err}")
        return 2
    except KeyboardInterrupt:
        if lead:
            error("interrupted; run the same command again to resume")
        return 130


def _listening_page(settings: EvaluationSettings, tracks: Sequence[str]) -> int:
    """Write the listening page of the tracks evaluated; returns 0, or 1 (one error line) when it cannot be written."""
    from ..compare import CompareError, write_listening_page

    try:
        index = write_listening_page(settings, tracks, on_warning=_warn)
    except (CompareError, EvaluationError, OSError) as err:
        error(f"{err} (the listening page was not written)")
        return 1
    print(f"listening page: {index}", flush=True)
    return 0


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


def _pending_note(result: EvaluationResult, shard: Shard) -> str:
    done = len(result.tracks) - len(result.pending) - len(result.failed)
    mine = f"{len(result.share)} track{'s' if len(result.share) != 1 else ''}"
    return (f"share {shard} ({mine}) finished; {done} of {len(result.tracks)} tracks scored so far. The "
            "table is written by the task that finds every track scored; after a failure, the same command with "
            "--score-only and without --shard aggregates what is there")


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


def metric_list(text: str) -> Tuple[str, ...]:
    """An argparse ``type``: comma-separated metric names (:mod:`openunmix.evaluation.metrics`)."""
    try:
        return parse_metrics(text.split(","))
    except MetricError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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
    p.add_argument("--metrics", type=metric_list, default=None, metavar="NAMES",
                   help="comma-separated metrics to compute: bsseval (museval's BSSEval v4: SDR, SIR, ISR, SAR per "
                        "1 s frame; slow), usdr (the MDX/SDX challenges' SDR of the whole song), sisdr (SI-SDR of "
                        "the whole song); default: bsseval,usdr,sisdr. Without bsseval, museval is not run")
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
    p.add_argument("--strict", action="store_true",
                   help="with --report: a track whose estimates are missing or incomplete is an error (the page is "
                        "not written, exit status 1), not a warning and a note on its page")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def evaluate_command(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``eval.py``: parse the command line and evaluate; returns the exit status."""
    p = build_parser(prog)
    a = p.parse_args(argv)
    settings, note = _settings(p, a)
    lead = os.environ.get("RANK", "0") == "0"  # under torchrun, only rank 0 talks
    if lead and not a.score_only:
        print_licence_notice(a.model, a.models)
    if lead and note:
        print(f"note: {note}", file=sys.stderr, flush=True)
    return run(settings)


def _flag(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def _settings(parser: argparse.ArgumentParser,
              args: argparse.Namespace) -> Tuple[EvaluationSettings, Optional[str]]:
    """The parsed flags as settings (``parser.error`` naming the flag on a bad value), and the note saying where
    a share of a job array not given by ``--shard`` comes from (:func:`~.common.job_shard`)."""
    separation = separation_settings(parser, args)
    shard, note = job_shard(parser, args, "track")
    try:
        settings = EvaluationSettings(
            model=None if args.score_only else args.model, root=args.root, subset=args.subset, is_wav=args.is_wav,
            targets=args.targets, tracks=args.tracks, outdir=args.outdir, evaldir=args.evaldir,
            separation=separation, cores=args.cores, force=args.force, estimates_only=args.estimates_only,
            score_only=args.score_only, progress=not args.quiet, baseline=args.baseline, report=args.report,
            report_wav=args.report_wav, shard=shard, strict=args.strict,
            **({} if args.metrics is None else {"metrics": args.metrics}),
        )
    except SettingError as err:
        parser.error(f"argument {_flag(err.setting)}: {err.reason_with(_flag)}")
    return settings, note
