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


from openunmix.commands.evaluate import evaluate_command


def main(argv=None) -> int:
    return evaluate_command(argv, prog="eval.py")


if __name__ == "__main__":
    sys.exit(main())
