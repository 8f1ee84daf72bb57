"""What the command-line scripts run, with plain arguments: errors become one line on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from .audio import AudioError
from .separate import DEFAULT_OVERLAP, DEFAULT_SEGMENT, SeparationSettings, separate_file
from .utils import ModelError


def error(message: str) -> None:
    """Print one error line on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def add_separation_arguments(parser: argparse.ArgumentParser) -> None:
    """The separation flags that ``test.py`` and ``eval.py`` share."""
    p = parser
    p.add_argument("--niter", type=int, default=0, help="EM iterations of the Wiener filter; 0 is the ratio mask (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=1.0, help="exponent of the magnitudes in the ratio mask (default: %(default)s)")
    p.add_argument("--logit", type=float, default=None, help="threshold of the logit compression of the ratio mask (default: off)")
    p.add_argument("--no-softmask", action="store_true", help="start the filter from the model magnitudes with the mixture phase")
    p.add_argument("--residual", action="store_true", help="also output what the targets leave in the mixture")
    p.add_argument("--no-cuda", action="store_true", help="run on the CPU even when a GPU is available")
    p.add_argument("--segment", type=float, default=DEFAULT_SEGMENT, help="seconds of audio separated at once; bounds memory (default: %(default)s)")
    p.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP, help="seconds of cross-fade between segments (default: %(default)s)")


def separation_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> SeparationSettings:
    """The flags of :func:`add_separation_arguments` as settings (``parser.error`` on bad values)."""
    try:
        return SeparationSettings(
            niter=args.niter, alpha=args.alpha, logit=args.logit, softmask=not args.no_softmask,
            residual=args.residual, use_cuda=not args.no_cuda, segment=args.segment, overlap=args.overlap,
        )
    except ValueError as err:  # the message names the setting: its flag is --<setting>
        parser.error(f"--{err}")


def output_names(inputs: Sequence[str]) -> List[str]:
    """Output folder name per input: its stem, made longer only where stems collide.

    ``a/song.wav`` and ``b/song.flac`` give ``song.wav`` and ``song.flac``;
    ``a/song.wav`` and ``b/song.wav`` give ``a_song.wav`` and ``b_song.wav``;
    a remaining tie gets a counter.
    """
    paths = [Path(p) for p in inputs]
    names = [p.stem for p in paths]
    for longer in (lambda p: p.name, lambda p: f"{p.parent.name}_{p.name}"):
        clash = {n for n in names if names.count(n) > 1}
        names = [longer(p) if n in clash else n for p, n in zip(paths, names)]
    seen: Dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if names.count(n) == 1 else f"{n}_{seen[n]}")
    return unique


def separate_main(
    model_dir: str,
    inputs: Sequence[str],
    outdir: str,
    targets: Optional[List[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    ext: str = ".wav",
    threads: Optional[int] = None,
    progress: bool = True,
) -> int:
    """Separate every input file; return the exit status (0: all separated, 1: some failed)."""
    if threads:
        torch.set_num_threads(threads)
    try:
        separator = settings.load(model_dir, targets)
    except ModelError as err:
        error(str(err))
        return 2
    failed = 0
    for name, folder in zip(inputs, output_names(inputs)):
        path = Path(name)
        target_dir = Path(outdir) / folder
        try:
            outputs = separate_file(
                separator, path, target_dir, segment=settings.segment, overlap=settings.overlap, ext=ext,
                progress=progress,
            )
        except (AudioError, OSError) as err:
            error(str(err))
            failed += 1
            continue
        if progress:
            print(f"{path} -> {target_dir}/ ({', '.join(outputs)})", file=sys.stderr)
    if failed:
        error(f"{failed} of {len(inputs)} input files failed")
        return 1
    return 0
