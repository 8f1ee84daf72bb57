"""Separation of audio of any length in bounded memory.

Audio is read block by block, resampled to the model rate on the fly, cut
into overlapping segments that the :class:`~openunmix.separation.separator.Separator`
processes K at a time (one batch), joined again by a linear cross-fade over
the overlap, resampled back to the input rate and written out incrementally.
Memory therefore depends on the segment length and K, not on the song length.

The segments follow :func:`~openunmix.separation.plan.segment_plan`: a song
that fits in one segment is separated whole; a longer one in segments of
equal length (to a sample) that overlap by exactly the cross-fade, a
multiple of K of them (:func:`~openunmix.separation.plan.segment_batch`). :func:`separate_file` reads and
resamples ahead and writes behind in background threads
(:mod:`openunmix.separation.background`), so the models do not wait for the disk.

Arrays are ``(channels, samples)`` for audio and ``(sources, channels,
samples)`` for estimates.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
import soundfile as sf
import soxr
import torch

from .. import audio as audio_io
from ..audio import AudioError
from .background import ReadAhead, WriteBehind
from ..filtering import FilterSettings
from .plan import BATCH_AUDIO, segment_batch, segment_plan  # noqa: F401 (BATCH_AUDIO: part of this API)
from .separator import Separator
from ..precision import check_precision
from ..utils import file_mode, make_output_folder, remove_stale_temporaries, temporary_prefix
from .names import output_names  # noqa: F401 (imported from here by earlier code)

DEFAULT_SEGMENT = 30.0  # seconds of audio the model sees at once
DEFAULT_OVERLAP = 4.0  # seconds of cross-fade between segments


@dataclass(frozen=True)
class SeparationSettings:
    """How a model folder separates, shared by ``test.py`` and ``eval.py``.

    Attributes:
        filter: the Wiener filter's settings (:class:`~openunmix.filtering.FilterSettings`).
        use_cuda: run on the GPU when there is one.
        segment: seconds of audio separated at once (bounds memory).
        overlap: seconds of cross-fade between segments.
        models_file: the user's model table for named models (None: ``$OPENUNMIX_MODELS`` if set).
        cache_dir: where downloaded model files are kept (None: torch's hub cache).
        precision: of the target models, ``float32``, ``bfloat16`` or ``int8``
            (CPU only); see :mod:`openunmix.precision`.
        batch: segments separated as one batch (None: :func:`segment_batch`).
        chunk_size, num_overlap: for models that separate in chunks of a fixed
            length (the RoFormers), the chunk in samples and the chunks over
            each sample (None: the model folder's); see
            :func:`~openunmix.separation.steps.chunked`.
    """

    filter: FilterSettings = field(default_factory=FilterSettings)  # noqa: A003 (the settings' name across the package)
    use_cuda: bool = True
    segment: float = DEFAULT_SEGMENT
    overlap: float = DEFAULT_OVERLAP
    models_file: Optional[str] = None
    cache_dir: Optional[str] = None
    precision: str = "float32"
    batch: Optional[int] = None
    chunk_size: Optional[int] = None
    num_overlap: Optional[int] = None

    def __post_init__(self) -> None:
        if not isinstance(self.filter, FilterSettings):
            raise TypeError(f"filter must be a FilterSettings, not {type(self.filter).__name__}")
        if not all(math.isfinite(v) for v in (self.segment, self.overlap)):
            raise ValueError("segment and overlap must be finite numbers")
        if self.segment <= 0 or not 0 <= self.overlap < self.segment:
            raise ValueError("segment must be > 0 and the overlap at least 0 and shorter than the segment")
        if self.batch is not None and self.batch < 1:
            raise ValueError("batch must be at least 1")
        if self.chunk_size is not None and self.chunk_size < 0:
            raise ValueError("chunk-size must be at least 0 (0: the whole segment at once)")
        if self.num_overlap is not None and self.num_overlap < 1:
            raise ValueError("num-overlap must be at least 1")
        check_precision(self.precision, self.device)  # its messages start with "precision"

    @property
    def device(self) -> torch.device:
        return torch.device("cuda" if self.use_cuda and torch.cuda.is_available() else "cpu")



def _separate_segment(separator: Separator, segment: np.ndarray, device: torch.device) -> np.ndarray:
    """``(channels, samples)`` -> ``(sources, channels, samples)``; ``(K, ...)`` with a batch of K segments."""
    with torch.inference_mode():
        x = torch.from_numpy(segment).to(device)
        out = separator(x[None] if segment.ndim == 2 else x)
        return (out[0] if segment.ndim == 2 else out).float().cpu().numpy()


def separate_blocks(
    separator: Separator,
    blocks: Iterable[np.ndarray],
    segment: int,
    overlap: int,
    device: Union[str, torch.device] = "cpu",
    on_segment: Optional[Callable[[int], None]] = None,
    length: Optional[int] = None,
    batch: Optional[int] = None,
) -> Iterator[np.ndarray]:
    """Separate a stream of audio blocks in overlapping segments, K at a time.

    With ``length`` (the samples the stream is expected to hold), the
    segments follow :func:`segment_plan` (a multiple of K of them); the last
    one takes whatever the stream really holds (a resampler gives a sample
    more or less), and audio beyond the plan is cut into further segments of
    ``segment`` samples. Without it, segments of ``segment`` samples follow
    each other at a stride of ``segment - overlap``, and the last one is
    what remains.

    K consecutive segments go through the separator as one batch; one shorter
    than the batch's longest (by a sample in a plan, more at the stream's end)
    takes as many more samples after it (before it at the end), cut back after.

    Args:
        separator: the models and filter.
        blocks: ``(channels, n)`` float32 blocks at the separator's rate, of any sizes.
        segment: samples per segment (the most, with ``length``).
        overlap: samples shared by consecutive segments, cross-faded linearly.
        on_segment: called with the number of new samples after each segment
            (for progress bars).
        length: samples expected in ``blocks`` (None: unknown).
        batch: K (None: the separator's ``segment_batch`` if set, else
            :func:`~openunmix.separation.plan.segment_batch` of ``length`` for
            models of magnitudes, 1 for other models or when ``length`` is unknown).

    Yields:
        ``(sources, channels, n)`` blocks whose lengths add up to the input's.
    """
    if not 0 <= overlap < segment:
        raise ValueError("overlap must be at least 0 and shorter than the segment")
    device = torch.device(device)
    batch = batch if batch is not None else getattr(separator, "segment_batch", None)
    if batch is None:  # batched by default where the recurrence is (Open-Unmix and X-UMX: the filtered models)
        auto = length is not None and getattr(separator, "filtered", True)
        batch = segment_batch(length, segment, overlap, rate=separator.sample_rate) if auto else 1
    if batch < 1:
        raise ValueError("batch must be at least 1")
    stride = segment - overlap
    plan = segment_plan(length, segment, overlap, batch) if length is not None else []
    buf: Optional[np.ndarray] = None
    buf_start = 0  # the stream's sample at buf[:, 0]
    received = 0  # the stream's samples so far
    pending: Optional[np.ndarray] = None

    def bounds(i: int) -> Tuple[int, int]:
        """Segment ``i``'s range if it is not the stream's last."""
        if i < len(plan) - 1:
            return plan[i]
        first = plan[-1][0] if plan else 0  # past the plan: segments of `segment` samples
        start = first + (i - max(len(plan) - 1, 0)) * stride
        return start, start + segment

    def fade(est: np.ndarray, last: bool) -> np.ndarray:
        nonlocal pending
        new = est.shape[-1] - (pending.shape[-1] if pending is not None else 0)
        if pending is not None:
            o = pending.shape[-1]
            ramp = (np.arange(1, o + 1, dtype=np.float32) / (o + 1))
            est[..., :o] = pending * (1.0 - ramp) + est[..., :o] * ramp
        if last or overlap == 0:
            pending = None
            out = est
        else:
            pending = est[..., -overlap:].copy()
            out = est[..., :-overlap]
        if on_segment is not None:
            on_segment(new)
        return out

    def run(spans: List[Tuple[int, int]], last: bool) -> Iterator[np.ndarray]:
        """Separate the stream's ``spans`` (inside ``buf``) as one batch; only the final one may be ``last``."""
        assert buf is not None
        if len(spans) == 1:
            s, e = spans[0]
            ests = [_separate_segment(separator, buf[:, s - buf_start : e - buf_start], device)]
        else:
            size = max(e - s for s, e in spans)
            starts = [min(s + size, buf_start + buf.shape[-1]) - size for s, _ in spans]  # as long as the longest
            est = _separate_segment(
                separator, np.stack([buf[:, f - buf_start : f - buf_start + size] for f in starts]), device)
            ests = [est[k, ..., s - f : e - f] for k, ((s, e), f) in enumerate(zip(spans, starts))]
        for k, est in enumerate(ests):
            yield fade(np.ascontiguousarray(est), last and k == len(ests) - 1)

    i = 0  # the next segment
    for block in blocks:
        buf = block if buf is None else np.concatenate([buf, block], axis=-1)
        received += block.shape[-1]
        while True:
            spans = [bounds(k) for k in range(i, i + batch)]
            if received <= spans[-1][1]:  # strictly more: the batch's segments are not the last one
                break
            yield from run(spans, last=False)
            i += batch
            nxt = bounds(i)[0]
            buf = buf[:, nxt - buf_start :]
            buf_start = nxt
    if buf is None:
        return
    spans = []  # fewer than K complete segments, then what remains
    while received > bounds(i)[1]:
        spans.append(bounds(i))
        i += 1
    rest = received - bounds(i)[0]
    tail = i == 0 or rest > overlap
    if tail:
        spans.append((bounds(i)[0], received))
    if spans:
        yield from run(spans, last=tail)
    if not tail and pending is not None:  # the rest lies inside the last segment's overlap
        yield pending


def separate(
    separator: Separator,
    audio: torch.Tensor,
    segment: Optional[float] = DEFAULT_SEGMENT,
    overlap: float = DEFAULT_OVERLAP,
) -> torch.Tensor:
    """Separate in-memory audio at the separator's rate in overlapping segments.

    Args:
        audio: ``(channels, samples)`` or ``(batch, channels, samples)``.
        segment: seconds per segment (``None``: the whole signal at once).
        overlap: seconds of cross-fade between segments.

    Returns:
        ``([batch,] sources, channels, samples)``.
    """
    squeeze = audio.dim() == 2
    batch = audio[None] if squeeze else audio
    device = next(separator.parameters()).device
    rate = separator.sample_rate
    outs = []
    for item in batch:
        x = item.detach().float().cpu().numpy()
        if segment is None:
            outs.append(torch.from_numpy(_separate_segment(separator, x, device)))
            continue
        seg = int(round(segment * rate))
        ov = min(int(round(overlap * rate)), seg - 1)
        parts = list(separate_blocks(separator, [x], seg, ov, device, length=x.shape[-1]))
        outs.append(torch.from_numpy(np.concatenate(parts, axis=-1)))
    out = torch.stack(outs)
    return out[0] if squeeze else out


def read_blocks(
    path: Union[str, os.PathLike],
    rate: float,
    nb_channels: int,
    block_seconds: float = 10.0,
) -> Iterator[np.ndarray]:
    """Read an audio file in blocks, fitted to ``nb_channels`` and resampled to ``rate``.

    Yields:
        float32 ``(nb_channels, n)`` blocks.

    Raises:
        AudioError: unreadable audio, too many channels, NaN/Inf samples.
    """
    in_rate, _, channels = audio_io.info(path)
    audio_io.check_channels(channels, nb_channels, str(path))
    stream = None if in_rate == rate else soxr.ResampleStream(in_rate, rate, nb_channels, dtype="float32", quality="HQ")
    blocksize = max(1, int(block_seconds * in_rate))
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(blocksize=blocksize, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise AudioError(f"{path}: audio holds NaN or Inf samples")
                x = audio_io.fit_channels(np.ascontiguousarray(block.T), nb_channels, str(path))
                if stream is not None:
                    x = np.ascontiguousarray(stream.resample_chunk(np.ascontiguousarray(x.T)).T)
                if x.shape[-1]:
                    yield x
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: cannot decode audio ({str(err).strip()})") from None
    if stream is not None:
        tail = stream.resample_chunk(np.zeros((0, nb_channels), np.float32), last=True)
        if len(tail):
            yield np.ascontiguousarray(tail.T)


class _Writers:
    """One audio file per source, written to temporary names and renamed on commit.

    The temporary names come from :func:`~openunmix.utils.temporary_prefix`, so the
    next separation into the folder removes what a killed run left.
    """

    def __init__(self, outdir: Path, names: List[str], rate: float, channels: int, length: int, ext: str, subtype: Optional[str]):
        self.outdir = outdir
        self.names = names
        self.length = length
        self.written = 0
        self.tmp: Dict[str, str] = {}
        self.files: Dict[str, sf.SoundFile] = {}
        for name in names:
            # the suffix keeps the extension: soundfile picks the format from it
            fd, tmp = tempfile.mkstemp(dir=outdir, prefix=temporary_prefix(f"{name}{ext}"), suffix=ext)
            os.close(fd)
            os.chmod(tmp, file_mode())
            self.tmp[name] = tmp
            try:
                self.files[name] = sf.SoundFile(tmp, "w", samplerate=int(round(rate)), channels=channels, subtype=subtype)
            except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
                self.discard()
                raise AudioError(
                    f"{outdir / (name + ext)}: soundfile cannot write this format at {rate:g} Hz with "
                    f"{channels} channels ({str(err).strip().splitlines()[-1]})"
                ) from None
        self.ext = ext

    def write(self, block: np.ndarray) -> None:
        """``(sources, channels, n)``; samples past ``length`` are dropped."""
        n = min(block.shape[-1], self.length - self.written)
        if n <= 0:
            return
        for i, name in enumerate(self.names):
            try:
                self.files[name].write(np.ascontiguousarray(block[i, :, :n].T))
            except (AssertionError, RuntimeError) as err:  # soundfile asserts that every frame was written
                detail = str(err).strip().splitlines()[-1] if str(err).strip() else "disk full or file size limit"
                raise OSError(f"{self.outdir / (name + self.ext)}: cannot write ({detail})") from None
        self.written += n

    def commit(self) -> Dict[str, Path]:
        missing = self.length - self.written
        if missing > 0:  # resampler rounding: pad the last few samples
            self.write(np.zeros((len(self.names), self.files[self.names[0]].channels, missing), np.float32))
        for f in self.files.values():
            f.close()
        paths = {}
        for name, tmp in self.tmp.items():
            paths[name] = self.outdir / f"{name}{self.ext}"
            os.replace(tmp, paths[name])
        self.tmp = {}
        return paths

    def discard(self) -> None:
        for f in self.files.values():
            if not f.closed:
                f.close()
        for tmp in self.tmp.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.tmp = {}


@dataclass
class PipelineStats:
    """What :func:`separate_file` spent its time on (seconds), filled in when passed to it.

    Attributes:
        segments: segments separated.
        input_wait: the separation waited for decoded, resampled input.
        output_wait: the separation waited for the writer (its queue was full, or the last blocks).
        read: decoding and resampling the input (in the background thread, or inline).
        write: resampling back and writing the outputs (likewise).
        total: the whole call.
    """

    segments: int = 0
    input_wait: float = 0.0
    output_wait: float = 0.0
    read: float = 0.0
    write: float = 0.0
    total: float = 0.0


def separate_file(
    separator: Separator,
    path: Union[str, os.PathLike],
    outdir: Union[str, os.PathLike],
    segment: float = DEFAULT_SEGMENT,
    overlap: float = DEFAULT_OVERLAP,
    ext: str = ".wav",
    subtype: Optional[str] = None,
    progress: bool = False,
    background: bool = True,
    stats: Optional[PipelineStats] = None,
) -> Dict[str, Path]:
    """Separate one audio file into ``outdir/<source><ext>`` files.

    Outputs have the input's sample rate, length and channel count (mono input
    to a stereo model gives stereo outputs). Files are written under temporary
    names and renamed only when every source is complete, so a failure leaves
    no partial output; temporary files that killed runs left in ``outdir`` are
    removed first.

    With ``background`` (the default), the input is decoded and resampled a
    segment ahead and the outputs are resampled and written behind, each in
    a thread of its own, while the models run; the files are the same as
    without. An error in either thread is raised here, and the threads are
    joined before this returns or raises.

    Args:
        segment, overlap: seconds; the segments follow :func:`segment_plan`.
        stats: filled with where the time went (:class:`PipelineStats`).

    Returns:
        ``{source: path}``.

    Raises:
        AudioError: unusable input; OSError: output folder not writable, an output not fully written.
    """
    t_start = time.perf_counter()
    path = Path(path)
    outdir = Path(outdir)
    in_rate, length, channels = audio_io.info(path)
    if length < 2:
        raise AudioError(f"{path}: too short to separate ({length} sample{'s' if length != 1 else ''})")
    audio_io.check_channels(channels, separator.nb_channels, str(path))
    rate = separator.sample_rate
    nb_channels = separator.nb_channels
    out_channels = nb_channels
    seg = max(2, int(round(segment * rate)))
    ov = min(int(round(overlap * rate)), seg - 1)
    # samples at the model rate; the resampler may give one more or less, which the last segment absorbs
    model_length = length if in_rate == rate else int(round(length * rate / in_rate))
    device = next(separator.parameters()).device
    names = separator.source_names
    make_output_folder(outdir)
    remove_stale_temporaries(outdir)

    writers = _Writers(outdir, names, in_rate, out_channels, length, ext, subtype)
    back = None if in_rate == rate else [
        soxr.ResampleStream(rate, in_rate, out_channels, dtype="float32", quality="HQ") for _ in names
    ]
    stats = stats if stats is not None else PipelineStats()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=round(length / in_rate, 1), unit="s", desc=path.name, leave=False)

    def tick(n: int) -> None:
        stats.segments += 1
        if bar is not None:
            bar.update(round(n / rate, 1))

    def write(est: Optional[np.ndarray]) -> None:  # None: the end, flush the resamplers
        if est is None:
            if back is not None:
                writers.write(_resample_out(np.zeros((len(names), out_channels, 0), np.float32), back, last=True))
        else:
            writers.write(_resample_out(est, back, last=False))

    blocks: Iterable[np.ndarray] = read_blocks(path, rate, nb_channels)
    reader: Optional[ReadAhead] = None
    writer: Optional[WriteBehind] = None
    try:
        if background:
            # a segment of input ahead (in 10 s blocks), a segment of output behind (writing one takes a
            # tenth of separating it, and each one queued holds every source's audio): memory stays bounded
            reader = ReadAhead(blocks, depth=max(2, math.ceil(segment / 10.0) + 1))
            writer = WriteBehind(write, depth=1)
            for est in separate_blocks(separator, reader, seg, ov, device, on_segment=tick, length=model_length):
                writer.put(est)
            writer.put(None)
            writer.finish()
        else:
            timed = _Timed(blocks)
            for est in separate_blocks(separator, timed, seg, ov, device, on_segment=tick, length=model_length):
                t = time.perf_counter()
                write(est)
                stats.write += time.perf_counter() - t
            t = time.perf_counter()
            write(None)
            stats.write += time.perf_counter() - t
            stats.read = stats.input_wait = timed.busy
        return writers.commit()
    finally:
        if reader is not None:
            reader.close()
            stats.input_wait, stats.read = reader.waited, reader.busy
        if writer is not None:
            writer.close()
            stats.output_wait, stats.write = writer.waited, writer.busy
        writers.discard()  # after the writer thread is joined
        if bar is not None:
            bar.close()
        stats.total = time.perf_counter() - t_start


class _Timed:
    """An iterator that adds up the seconds its source takes for each item (``busy``)."""

    def __init__(self, source: Iterable[np.ndarray]):
        self._it = iter(source)
        self.busy = 0.0

    def __iter__(self) -> "_Timed":
        return self

    def __next__(self) -> np.ndarray:
        t = time.perf_counter()
        try:
            return next(self._it)
        finally:
            self.busy += time.perf_counter() - t


def _resample_out(est: np.ndarray, streams, last: bool) -> np.ndarray:
    """Resample ``(sources, channels, n)`` back to the input rate with one stream per source."""
    if streams is None:
        return est
    outs = [np.ascontiguousarray(s.resample_chunk(np.ascontiguousarray(e.T), last=last).T) for s, e in zip(streams, est)]
    n = min(o.shape[-1] for o in outs)
    return np.stack([o[..., :n] for o in outs])
