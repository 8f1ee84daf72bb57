"""What the command-line scripts run, with plain arguments: errors become one line on stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, Sequence

import torch

from .audio import AudioError
from .utils import ModelError


def error(message: str) -> None:
    """Print one error line on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def pick_device(use_cuda: bool) -> torch.device:
    return torch.device("cuda" if use_cuda and torch.cuda.is_available() else "cpu")


def separate_main(
    model_dir: str,
    inputs: Sequence[str],
    outdir: str,
    targets: Optional[List[str]] = None,
    niter: int = 0,
    alpha: float = 1.0,
    logit: Optional[float] = None,
    softmask: bool = True,
    residual: bool = False,
    use_cuda: bool = True,
    segment: float = 30.0,
    overlap: float = 4.0,
    ext: str = ".wav",
    threads: Optional[int] = None,
    progress: bool = True,
) -> int:
    """Separate every input file; return the exit status (0: all separated, 1: some failed)."""
    from .modelfolder import load_separator
    from .separate import separate_file

    if threads:
        torch.set_num_threads(threads)
    device = pick_device(use_cuda)
    try:
        separator = load_separator(
            model_dir, targets, niter=niter, softmask=softmask, alpha=alpha,
            logit=logit, residual=residual, device=device,
        )
    except ModelError as err:
        error(str(err))
        return 2
    failed = 0
    for name in inputs:
        path = Path(name)
        try:
            outputs = separate_file(
                separator, path, Path(outdir) / path.stem, segment=segment,
                overlap=overlap, ext=ext, progress=progress,
            )
        except (AudioError, OSError) as err:
            error(str(err))
            failed += 1
            continue
        if progress:
            print(f"{path} -> {Path(outdir) / path.stem}/ ({', '.join(outputs)})", file=sys.stderr)
    if failed:
        error(f"{failed} of {len(inputs)} input files failed")
        return 1
    return 0
