"""``python -m openunmix.compare``: compare the scores of several methods as SiSEC 2018 did, and listen to them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple

from .argtypes import ArgumentParser, fraction, positive_int
from .common import error

PROG = "python -m openunmix.compare"


def method_folder(text: str) -> Tuple[str, str]:
    """An argparse ``type``: ``NAME=DIR``, or ``DIR`` (named after the folder)."""
    name, sep, folder = text.partition("=")
    if not sep:
        name, folder = Path(text.rstrip("/\\")).name, text
    if not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR (or DIR), got {text!r}")
    return name, folder


def build_parser(prog: str = PROG) -> ArgumentParser:
    """The parser of ``python -m openunmix.compare``."""
    p = ArgumentParser(
        prog=prog,
        description="Compare methods from their museval per-track scores, as SiSEC 2018 did: the median table "
                    "with bootstrap confidence intervals, paired tests (Wilcoxon, Conover with Holm's correction), "
                    "plots, and optionally a listening page.",
    )
    p.add_argument("methods", nargs="+", type=method_folder, metavar="NAME=DIR",
                   help="a method and its score folder: what eval.py writes (EVALDIR) or any folder of museval "
                        "per-track json (DIR/<subset>/<track>.json); DIR alone is named after the folder")
    p.add_argument("--subset", default="test", help="the subset folder read in each DIR (default: %(default)s)")
    p.add_argument("--outdir", default="compare",
                   help="results.csv, results.json, pairwise.csv and the plots (default: %(default)s)")
    p.add_argument("--confidence", type=fraction, default=0.95,
                   help="level of the bootstrap confidence intervals (default: %(default)s)")
    p.add_argument("--resamples", type=positive_int, default=9999, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--alpha", type=fraction, default=0.05,
                   help="significance level of the verdicts, on Holm-corrected p-values (default: %(default)s)")
    p.add_argument("--verdict", choices=("wilcoxon", "conover"), default="wilcoxon",
                   help="the test the verdicts follow (default: %(default)s, the paired one)")
    p.add_argument("--metric", default=None, metavar="NAME",
                   help="the metric the methods are ranked by and whose paired tests, heat maps and per-track table "
                        "are shown: SDR, SIR, ISR, SAR (BSSEval), uSDR or SI-SDR (whole track; also usdr, sisdr) "
                        "(default: SDR, or the first metric the scores have)")
    page = p.add_argument_group("listening page")
    page.add_argument("--report", metavar="DIR", default=None,
                      help="write the listening page into DIR (DIR/index.html); replaces an earlier report there")
    page.add_argument("--root", metavar="MUSDB_ROOT", default=None,
                      help="MUSDB18 root: the mixtures and references the page plays")
    page.add_argument("--is-wav", action="store_true", help="the root holds decoded wav folders, not .stem.mp4 files")
    page.add_argument("--estimates", nargs="+", action="extend", type=method_folder, default=[], metavar="NAME=DIR",
                      help="a method's estimates folder (DIR/<subset>/<track>/<target>.wav, as eval.py writes "
                           "with --outdir); the page plays them")
    page.add_argument("--mixture-estimates", nargs="+", action="extend", default=[], metavar="NAME",
                      help="methods whose estimate is the mixture itself (eval.py's mixture baseline)")
    page.add_argument("--report-tracks", nargs="+", default=None, metavar="TRACK",
                      help="pages for these tracks only (default: every track)")
    page.add_argument("--report-format", choices=("ogg", "mp3"), default="ogg",
                      help="the compressed audio the players load (default: %(default)s)")
    page.add_argument("--report-wav", action="store_true",
                      help="also write full-length 16-bit wav files beside the compressed audio (large)")
    page.add_argument("--strict", action="store_true",
                      help="a track with pieces missing (a method's estimates, the track in --root) is an error: "
                           "the page is not written (exit status 1); default: a warning and a note on its page")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line, compare, print, write; returns the exit status.

    0: done; 1: the results were written but the listening page could not
    be; 2: bad flags or input, nothing written; 130: interrupted.
    """
    parser = build_parser()
    a = parser.parse_args(argv)
    page_flags = [flag for flag, used in (("--root", a.root), ("--estimates", a.estimates),
                                          ("--mixture-estimates", a.mixture_estimates),
                                          ("--report-tracks", a.report_tracks), ("--report-wav", a.report_wav),
                                          ("--strict", a.strict))
                  if used]
    if page_flags and a.report is None:
        parser.error(f"{', '.join(page_flags)} only serve the listening page: add --report DIR")
    names = [name for name, _ in a.estimates]
    if len(set(names)) != len(names):
        parser.error("argument --estimates: a method's estimates given twice")

    from ..compare import (
        AudioSources, BootstrapSettings, CompareError, CompareSettings, PairedSettings, ReportSettings,
        check_report_folder, compare_folders, format_pairs, format_table, notes, render_plots, report_tracks,
        write_report, write_results,
    )
    from ..evaluation import EvaluationError, check_writable

    try:
        settings = CompareSettings(a.subset, BootstrapSettings(a.confidence, a.resamples),
                                   PairedSettings(a.alpha, a.verdict), a.metric)
        sources = None
        if a.report is not None:
            check_report_folder(a.report)
            sources = AudioSources(Path(a.root) if a.root else None, a.is_wav, a.subset,
                                   {name: Path(folder) for name, folder in a.estimates},
                                   frozenset(a.mixture_estimates))
        check_writable(a.outdir, "results")
        comparison = compare_folders(a.methods, settings)
        listed = None
        if sources is not None:
            methods = {m.name for m in comparison.methods}
            sources.check(methods)
            unknown = [m for m in a.mixture_estimates if m not in methods]
            if unknown:
                raise CompareError(f"--mixture-estimates names {', '.join(map(repr, unknown))}, not a method compared")
            report_tracks(comparison, a.report_tracks)
            listed = sources.musdb_tracks()  # the root is checked before anything is written
        plots = render_plots(comparison)
        written = write_results(comparison, a.outdir, plots)
    except (CompareError, EvaluationError, OSError) as err:
        error(str(err))
        return 2
    except KeyboardInterrupt:
        error("interrupted; nothing was written")
        return 130

    print(format_table(comparison), flush=True)
    pairs = format_pairs(comparison)
    if pairs:
        print("\n" + pairs, flush=True)
    for line in notes(comparison):
        print(f"note: {line}", file=sys.stderr, flush=True)
    print(f"results: {', '.join(str(p) for p in written)}", file=sys.stderr, flush=True)
    if a.report is None:
        return 0
    try:
        chosen = tuple(a.report_tracks) if a.report_tracks else None
        report = ReportSettings(a.report_format, a.report_wav, tracks=chosen, strict=a.strict)
        index = write_report(comparison, a.report, sources, report, plots, progress=not a.quiet, musdb_tracks=listed,
                             on_warning=lambda line: print(f"warning: {line}", file=sys.stderr, flush=True))
    except (CompareError, EvaluationError, OSError) as err:
        error(f"{err} (the listening page was not written)")
        return 1
    except KeyboardInterrupt:
        error("interrupted; the listening page was not written")
        return 130
    print(f"listening page: {index}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
