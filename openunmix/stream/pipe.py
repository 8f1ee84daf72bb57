"""The library part of ``python -m openunmix.stream``: raw float32 PCM from a pipe, separated as a stream.

stdin carries interleaved float32 samples (``ffmpeg -f f32le``) at the
model's rate; one source goes to stdout in the same format, or every source
to a folder as wav files that grow as the stream runs (their header is
rewritten after every block, so they are valid files at any moment). Both
outputs are aligned with the input: the first ``latency`` samples of the
stream (silence while the first window fills) are not written, so sample
``n`` of the output is separated sample ``n`` of the input, written
``latency`` samples of input later, and the output ends as long as the input.

Bad input raises :class:`PipeError` (one line): NaN/Inf samples, a final
partial sample frame (what came before it is still separated and written),
a stdout closed by its reader, an output that cannot be written. The
program (:mod:`openunmix.commands.stream`) prints it.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, List, Optional

import numpy as np
import torch

from .separator import StreamingSeparator

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
             source: Optional[str] = None, outdir: Optional[Path] = None) -> None:
    """Stream stdin through ``streamer`` to stdout (``source``) or to wav files in ``outdir``, to the input's end.

    Args:
        block: sample frames read at once.
        source: the source written to stdout (default: the first).
        outdir: an existing folder: every source to ``<source>.wav`` there instead of stdout.

    Raises:
        PipeError: bad input (whatever came before it is separated and
            written first), a closed stdout, or an output that cannot be written.
    """
    names = streamer.source_names
    failure: Optional[str] = None
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
        raise PipeError(failure)
