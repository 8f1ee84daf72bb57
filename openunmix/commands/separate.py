"""``test.py`` and the installed ``umx``: separate audio files with a model folder or a named model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, Sequence

import torch

from ..audio import AudioError
from ..separate import SeparationSettings, output_names, separate_file
from ..utils import ModelError
from .argtypes import ArgumentParser, positive_int, writable_extension
from .common import add_model_arguments, add_separation_arguments, error, print_licence_notice, separation_settings


def separate_main(
    model: str,
    inputs: Sequence[str],
    outdir: str,
    targets: Optional[List[str]] = None,
    settings: SeparationSettings = SeparationSettings(),
    ext: str = ".wav",
    threads: Optional[int] = None,
    progress: bool = True,
) -> int:
    """Separate every input file with a model folder or named model into ``outdir/<name>/``.

    The model and ``targets`` are checked (loaded) before any input is read;
    an input that fails is reported in one line and the others are still
    separated. Folder names come from :func:`openunmix.separate.output_names`.

    Returns:
        the exit status: 0 all separated, 1 some inputs failed, 2 no usable model.
    """
    if threads:
        torch.set_num_threads(threads)
    try:
        print_licence_notice(model, settings.models_file)
        separator = settings.load(model, targets, progress=progress)
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


def separate_command(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``test.py`` / ``umx``: parse the command line and separate; returns the exit status."""
    p = ArgumentParser(prog=prog, description="Open-Unmix separation of audio files")
    add_model_arguments(p)
    p.add_argument("--input", nargs="+", required=True, metavar="FILE", help="audio files (wav, flac, ogg, mp3, ...)")
    p.add_argument("--outdir", default="separated",
                   help="output folder; results go to OUTDIR/<input name>/ (default: %(default)s)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to separate (default: all of the model's)")
    add_separation_arguments(p)
    p.add_argument("--ext", type=writable_extension, default=".wav", help="output file extension (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    settings = separation_settings(p, a)
    try:
        return separate_main(a.model, a.input, a.outdir, a.targets, settings, ext=a.ext, threads=a.threads,
                             progress=not a.quiet)
    except KeyboardInterrupt:  # partial downloads and outputs are removed on the way out
        error("interrupted; files not finished were removed")
        return 130


def umx() -> int:
    """The ``umx`` command that ``pip install`` creates: the same as ``python test.py``."""
    from .runtime import tune_allocator

    tune_allocator()
    return separate_command(prog="umx")
