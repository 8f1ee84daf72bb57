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


from openunmix.cli import add_separation_arguments, separate_main, separation_settings


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Open-Unmix separation of audio files")
    p.add_argument("model", metavar="MODEL_DIR", help="model folder with <target>.pth and <target>.json")
    p.add_argument("--input", nargs="+", required=True, metavar="FILE", help="audio files (wav, flac, ogg, mp3, ...)")
    p.add_argument("--outdir", default="separated", help="output folder; results go to OUTDIR/<input name>/ (default: %(default)s)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to separate (default: every model in MODEL_DIR)")
    add_separation_arguments(p)
    p.add_argument("--ext", default=".wav", help="output file extension (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    settings = separation_settings(p, a)
    return separate_main(a.model, a.input, a.outdir, a.targets, settings, ext=a.ext, threads=a.threads,
                         progress=not a.quiet)


if __name__ == "__main__":
    sys.exit(main())
