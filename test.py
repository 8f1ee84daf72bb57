#!/usr/bin/env python
"""Separate audio files with a published Open-Unmix model or a model folder.

Examples:
    python test.py --input song.mp3                  # umxhq, downloaded on first use
    python test.py umxl --input song.mp3 --niter 1   # the larger model (non-commercial licence)
    python test.py MODEL_DIR --input song.wav --outdir separated
write separated/song/vocals.wav, ... (one file per target, plus the residual).
"""

import sys

from openunmix.commands.runtime import starting, tune_allocator

tune_allocator(arenas=1)  # before torch is imported; one heap for the separation's threads

with starting():  # Ctrl-C while torch is imported: one line, no traceback
    from openunmix.commands.separate import separate_command


def main(argv=None) -> int:
    return separate_command(argv, prog="test.py")


if __name__ == "__main__":
    sys.exit(main())
