#!/usr/bin/env python
"""Separate audio files with a trained Open-Unmix model folder.

Example:
    python test.py MODEL_DIR --input song.wav --outdir separated --niter 1
writes separated/song/vocals.wav, ... (one file per target, plus the residual).
"""

import argparse
import sys

from openunmix.runtime import tune_allocator

tune_allocator()  # before torch is imported


from openunmix.cli import separate_main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Open-Unmix separation of audio files")
    p.add_argument("model", metavar="MODEL_DIR", help="model folder with <target>.pth and <target>.json")
    p.add_argument("--input", nargs="+", required=True, metavar="FILE", help="audio files (wav, flac, ogg, mp3, ...)")
    p.add_argument("--outdir", default="separated", help="output folder; results go to OUTDIR/<input name>/ (default: %(default)s)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to separate (default: every model in MODEL_DIR)")
    p.add_argument("--niter", type=int, default=0, help="EM iterations of the Wiener filter; 0 is the ratio mask (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=1.0, help="exponent of the magnitudes in the ratio mask (default: %(default)s)")
    p.add_argument("--logit", type=float, default=None, help="threshold of the logit compression of the ratio mask (default: off)")
    p.add_argument("--no-softmask", action="store_true", help="start the filter from the model magnitudes with the mixture phase")
    p.add_argument("--residual", action="store_true", help="also output what the targets leave in the mixture")
    p.add_argument("--no-cuda", action="store_true", help="run on the CPU even when a GPU is available")
    p.add_argument("--segment", type=float, default=30.0, help="seconds of audio separated at once; bounds memory (default: %(default)s)")
    p.add_argument("--overlap", type=float, default=4.0, help="seconds of cross-fade between segments (default: %(default)s)")
    p.add_argument("--ext", default=".wav", help="output file extension (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.niter < 0:
        p.error("--niter must be >= 0")
    if args.alpha <= 0:
        p.error("--alpha must be > 0")
    if args.segment <= 0 or args.overlap < 0 or args.overlap >= args.segment:
        p.error("need --segment > 0 and 0 <= --overlap < --segment")
    return args


if __name__ == "__main__":
    a = parse_args()
    sys.exit(
        separate_main(
            model_dir=a.model,
            inputs=a.input,
            outdir=a.outdir,
            targets=a.targets,
            niter=a.niter,
            alpha=a.alpha,
            logit=a.logit,
            softmask=not a.no_softmask,
            residual=a.residual,
            use_cuda=not a.no_cuda,
            segment=a.segment,
            overlap=a.overlap,
            ext=a.ext,
            threads=a.threads,
            progress=not a.quiet,
        )
    )
