#!/usr/bin/env python
"""Evaluate an Open-Unmix model (a folder or a published name) on MUSDB18 with museval (BSSEval v4, SiSEC 2018 aggregation).

Example:
    python eval.py MODEL_DIR --root musdb18 --subset test --outdir estimates --evaldir eval --cores 4
separates every test track into estimates/test/<track>/<source>.wav, scores
them into eval/test/<track>.json and writes eval/results.csv and eval/sdr.png.
"""

import sys

from openunmix.commands.runtime import tune_allocator

tune_allocator()  # before torch is imported


from openunmix.commands.argtypes import ArgumentParser, positive_int
from openunmix.commands.common import add_model_arguments, add_separation_arguments, print_licence_notice, separation_settings
from openunmix.evaluate import evaluate_main


def main(argv=None) -> int:
    p = ArgumentParser(prog="eval.py", description="Open-Unmix evaluation on MUSDB18 with museval")
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
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--estimates-only", action="store_true", help="separate and write the estimates, score nothing")
    mode.add_argument("--score-only", action="store_true", help="score the estimates already in OUTDIR; needs no model")
    p.add_argument("--baseline", action="store_true",
                   help="also score the unprocessed mixture and compare (EVALDIR/mixture-baseline)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    settings = separation_settings(p, a)
    if not a.score_only:
        print_licence_notice(a.model, a.models)
    return evaluate_main(
        model_dir=None if a.score_only else a.model, root=a.root, subset=a.subset, is_wav=a.is_wav, targets=a.targets,
        outdir=a.outdir, evaldir=a.evaldir, cores=a.cores, tracks=a.tracks, force=a.force,
        estimates_only=a.estimates_only, score_only=a.score_only, progress=not a.quiet,
        baseline=a.baseline, settings=settings,
    )


if __name__ == "__main__":
    sys.exit(main())
