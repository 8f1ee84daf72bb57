"""``python -m openunmix.stream``: separate raw float32 PCM from stdin as a stream.

stdin carries interleaved float32 samples (``ffmpeg -f f32le``) at the
model's rate; one source goes to stdout in the same format, or every source
to ``--outdir`` as wav files that grow as the stream runs (their header is
rewritten after every block, so they are valid files at any moment). Both
outputs are aligned with the input: the first ``latency`` samples of the
stream (silence while the first window fills) are not written, so sample
``n`` of the output is separated sample ``n`` of the input, written
``latency`` samples of input later, and the output ends as long as the input.

Bad input ends with one ``error:`` line and exit status 1 (2 for bad flags):
a channel count or rate the model does not take, NaN/Inf samples, a final
partial sample frame (what came before it is still separated and written),
a stdout closed by its reader.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, List, Optional, Sequence

import numpy as np
import torch

from .commands.argtypes import ArgumentParser, nonnegative_int, number, positive_float, positive_int
from .stream import DEFAULT_MEMORY, StreamingSeparator

FLOAT_BYTES = 4


class PipeError(Exception):
    """Bad input on the pipe or a closed output; the message says which."""


class _Outputs:
    """Where separated blocks go: one source to a raw stream, or every source to wav files.

    Blocks are ``(sources, channels, samples)``; the first ``skip`` samples
    are dropped.
    """

    def __init__(self, names: List[str], rate: float, channels: int, skip: int,
                 stdout: Optional[BinaryIO], source: Optional[int], outdir: Optional[Path]):
        import soundfile as sf

        self.skip = skip
        self.stdout = stdout
        self.source = source
        self.files = []
        if outdir is not None:
            for name in names:
                self.files.append(sf.SoundFile(str(outdir / f"{name}.wav"), "w", int(round(rate)), channels, "FLOAT"))

    def write(self, block: torch.Tensor) -> None:
        drop = min(self.skip, block.shape[-1])
        self.skip -= drop
        data = block[..., drop:].float().cpu().numpy()
        if data.shape[-1] == 0:
            return
        if self.stdout is not None:
            try:
                self.stdout.write(np.ascontiguousarray(data[self.source].T).tobytes())
                self.stdout.flush()
            except BrokenPipeError:
                raise PipeError("stdout was closed by its reader; stopped") from None
        for f, source in zip(self.files, data):
            f.write(np.ascontiguousarray(source.T))
            f.flush()  # rewrites the header: the file is complete up to here

    def close(self) -> None:
        for f in self.files:
            f.close()


def read_block(stdin: BinaryIO, samples: int, channels: int) -> np.ndarray:
    """Up to ``samples`` interleaved float32 sample frames ``(channels, n)``; ``n == 0`` at the end.

    Raises:
        PipeError: the input ends inside a sample frame, or holds NaN/Inf.
    """
    frame = FLOAT_BYTES * channels
    data = stdin.read(samples * frame)
    whole = len(data) - len(data) % frame
    block = np.frombuffer(data[:whole], dtype="<f4").reshape(-1, channels).T
    if not np.isfinite(block).all():
        raise PipeError("stdin holds NaN or Inf samples")
    if whole != len(data):
        raise _Truncated(block, len(data) - whole, frame)
    return block


class _Truncated(PipeError):
    """The input ended inside a sample frame; ``block`` holds the whole frames before it."""

    def __init__(self, block: np.ndarray, stray: int, frame: int):
        super().__init__(
            f"stdin ended inside a sample frame ({stray} stray bytes; a frame is {frame} bytes: "
            f"{frame // FLOAT_BYTES} float32 channels); the partial frame was dropped"
        )
        self.block = block


def run_pipe(streamer: StreamingSeparator, stdin: BinaryIO, stdout: Optional[BinaryIO], block: int,
             source: Optional[str] = None, outdir: Optional[Path] = None) -> int:
    """Stream stdin through ``streamer`` to stdout (``source``) or to wav files in ``outdir``.

    Returns:
        the exit status: 0 at the end of the input, 1 on bad input or a closed stdout.
    """
    names = streamer.source_names
    failure = None
    outputs = None
    try:
        outputs = _Outputs(names, streamer.sample_rate, streamer.channels, streamer.latency,
                           None if outdir is not None else stdout,
                           names.index(source) if source is not None else 0, outdir)
        while True:
            try:
                data = read_block(stdin, block, streamer.channels)
            except _Truncated as err:
                data, failure = err.block, str(err)
            if data.shape[-1]:
                outputs.write(streamer.process(torch.from_numpy(data.copy())))
            if data.shape[-1] < block or failure:
                break
        outputs.write(streamer.flush())
    except PipeError as err:
        failure = str(err)
    except (OSError, RuntimeError) as err:  # soundfile's errors are RuntimeErrors
        failure = f"cannot write the output ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})"
    finally:
        if outputs is not None:
            outputs.close()
    if failure:
        _error(failure)
        return 1
    return 0


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def _quiet_stdout() -> None:
    """After a closed stdout: point it at /dev/null so the interpreter's exit flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line, load the model, run the pipe; returns the exit status."""
    from .commands.common import add_model_arguments

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
    p.add_argument("--niter", type=nonnegative_int, default=0,
                   help="steps of the online Wiener filter per frame; 0 is the ratio mask (default: %(default)s)")
    p.add_argument("--alpha", type=positive_float, default=1.0, help="exponent of the magnitudes in the ratio mask")
    p.add_argument("--logit", type=number(float, 0, 1, True, True), default=None,
                   help="threshold of the logit compression of the ratio mask (default: off)")
    p.add_argument("--no-softmask", action="store_true", help="start the filter from the model magnitudes with the mixture phase")
    p.add_argument("--residual", action="store_true", help="also output what the targets leave in the mixture")
    p.add_argument("--memory", type=positive_float, default=DEFAULT_MEMORY,
                   help="seconds over which the online filter statistics are averaged (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="CPU threads for torch (default: %(default)s: a block is a frame or two, and threads that wait "
                        "for each other stall when ffmpeg or the player share the cores)")
    a = p.parse_args(argv)

    from .hub import load_separator
    from .utils import ModelError, make_output_folder

    torch.set_num_threads(a.threads)
    try:
        separator = load_separator(a.model, a.targets, niter=a.niter, softmask=not a.no_softmask, alpha=a.alpha,
                                   logit=a.logit, residual=a.residual, models_file=a.models,
                                   cache_dir=a.cache_dir, progress=False)
        streamer = StreamingSeparator(separator, memory=a.memory)
    except (ModelError, ValueError) as err:
        _error(str(err))
        return 2
    problem = None
    if a.channels != streamer.channels:
        problem = (f"--channels {a.channels}, but the model takes {streamer.channels} "
                   f"(convert the input, e.g. ffmpeg ... -ac {streamer.channels})")
    elif a.rate != streamer.sample_rate:
        problem = (f"--rate {a.rate:g}, but the model runs at {streamer.sample_rate:g} Hz "
                   f"(resample the input, e.g. ffmpeg ... -ar {streamer.sample_rate:g})")
    elif a.source is not None and a.source not in streamer.source_names:
        problem = f"--source {a.source}: not one of this model's sources ({', '.join(streamer.source_names)})"
    if problem:
        _error(problem)
        return 2
    outdir = None
    if a.outdir is not None:
        try:
            outdir = make_output_folder(a.outdir)
        except OSError as err:
            _error(str(err))
            return 2
    try:
        status = run_pipe(streamer, sys.stdin.buffer, sys.stdout.buffer, a.block, a.source, outdir)
    except KeyboardInterrupt:
        _error("interrupted")
        status = 130
    if status and outdir is None:
        _quiet_stdout()
    return status
