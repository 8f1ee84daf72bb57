"""``python -m openunmix.stream``: separate raw float32 PCM from stdin block by block with a causal model.

One source goes to stdout in the same format, or every source to
``--outdir/<source>.wav`` (see :mod:`openunmix.stream.pipe`). Bad flags, a
``--channels``/``--rate`` the model does not take or an unknown
``--source`` end with one ``error:`` line and status 2 before anything is
read; bad input or a closed stdout with one line and status 1.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import torch

from ..models.hub import load_separator
from ..stream import DEFAULT_MEMORY, PipeError, StreamingSeparator, run_pipe
from ..utils import ModelError, make_output_folder
from .argtypes import ArgumentParser, positive_float, positive_int
from .common import add_filter_arguments, add_model_arguments, error, filter_settings


def _quiet_stdout() -> None:
    """After a closed stdout: point it at /dev/null so the interpreter's exit flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _mismatch(streamer: StreamingSeparator, channels: int, rate: float, source: Optional[str]) -> Optional[str]:
    """What of ``--channels``, ``--rate`` and ``--source`` the model does not take (None: all fit)."""
    if channels != streamer.channels:
        return (f"--channels {channels}, but the model takes {streamer.channels} "
                f"(convert the input, e.g. ffmpeg ... -ac {streamer.channels})")
    if rate != streamer.sample_rate:
        return (f"--rate {rate:g}, but the model runs at {streamer.sample_rate:g} Hz "
                f"(resample the input, e.g. ffmpeg ... -ar {streamer.sample_rate:g})")
    if source is not None and source not in streamer.source_names:
        return f"--source {source}: not one of this model's sources ({', '.join(streamer.source_names)})"
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line, load the model, run the pipe; returns the exit status."""
    p = ArgumentParser(prog="python -m openunmix.stream",
                       description="Separate raw float32 interleaved PCM from stdin block by block with a "
                                   "causal (unidirectional) model; write one source to stdout or all to --outdir.")
    add_model_arguments(p, optional=False)
    p.add_argument("--rate", type=positive_float, required=True, help="sample rate of stdin (must be the model's)")
    p.add_argument("--channels", type=positive_int, required=True, help="channels of stdin (must be the model's)")
    p.add_argument("--targets", nargs="+", default=None, help="targets to separate (default: all of the model's)")
    p.add_argument("--source", default=None,
                   help="source written to stdout, e.g. vocals or accompaniment (default: the first target)")
    p.add_argument("--outdir", default=None, help="write every source to OUTDIR/<source>.wav instead of stdout")
    p.add_argument("--block", type=positive_int, default=1024, help="samples read per block (default: %(default)s)")
    add_filter_arguments(p, niter_help="steps of the online Wiener filter per frame; 0 is the ratio mask "
                                       "(default: %(default)s)")
    p.add_argument("--memory", type=positive_float, default=DEFAULT_MEMORY,
                   help="seconds over which the online filter statistics are averaged (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="CPU threads for torch (default: %(default)s: a block is a frame or two, and threads that wait "
                        "for each other stall when ffmpeg or the player share the cores)")
    a = p.parse_args(argv)
    settings = filter_settings(p, a)

    torch.set_num_threads(a.threads)
    try:
        separator = load_separator(a.model, a.targets, settings, models_file=a.models, cache_dir=a.cache_dir,
                                   progress=False)
        streamer = StreamingSeparator(separator, memory=a.memory)
    except (ModelError, ValueError) as err:
        error(str(err))
        return 2
    problem = _mismatch(streamer, a.channels, a.rate, a.source)
    if problem:
        error(problem)
        return 2
    outdir = None
    if a.outdir is not None:
        try:
            outdir = make_output_folder(a.outdir)
        except OSError as err:
            error(str(err))
            return 2
    status = 0
    try:
        run_pipe(streamer, sys.stdin.buffer, sys.stdout.buffer, a.block, a.source, outdir)
    except PipeError as err:
        error(str(err))
        status = 1
    except KeyboardInterrupt:
        error("interrupted")
        status = 130
    if status and outdir is None:
        _quiet_stdout()
    return status


if __name__ == "__main__":
    sys.exit(main())
