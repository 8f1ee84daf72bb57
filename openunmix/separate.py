"""Separation of audio of any length in bounded memory.

Audio is read block by block, resampled to the model rate on the fly, cut
into overlapping segments that the :class:`~openunmix.model.Separator`
processes one at a time, joined again by a linear cross-fade over the
overlap, resampled back to the input rate and written out incrementally.
Memory therefore depends on the segment length, not on the song length.

Arrays are ``(channels, samples)`` for audio and ``(sources, channels,
samples)`` for estimates.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np
import soundfile as sf
import soxr
import torch

from . import audio as audio_io
from .audio import AudioError
from .filtering import FilterSettings
from .model import Separator
from .hub import load_separator
from .precision import check_precision
from .utils import PathLike, file_mode, make_output_folder, remove_stale_temporaries, temporary_prefix

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
    """

    filter: FilterSettings = field(default_factory=FilterSettings)  # noqa: A003 (the settings' name across the package)
    use_cuda: bool = True
    segment: float = DEFAULT_SEGMENT
    overlap: float = DEFAULT_OVERLAP
    models_file: Optional[str] = None
    cache_dir: Optional[str] = None
    precision: str = "float32"

    def __post_init__(self) -> None:
        if not isinstance(self.filter, FilterSettings):
            raise TypeError(f"filter must be a FilterSettings, not {type(self.filter).__name__}")
        if not all(math.isfinite(v) for v in (self.segment, self.overlap)):
            raise ValueError("segment and overlap must be finite numbers")
        if self.segment <= 0 or not 0 <= self.overlap < self.segment:
            raise ValueError("segment must be > 0 and the overlap at least 0 and shorter than the segment")
        check_precision(self.precision, self.device)  # its messages start with "precision"

    @property
    def device(self) -> torch.device:
        return torch.device("cuda" if self.use_cuda and torch.cuda.is_available() else "cpu")

    def load(
        self,
        model: PathLike,
        targets: Optional[Sequence[str]] = None,
        progress: bool = True,
    ) -> Separator:
        """The :class:`Separator` of a model folder or named model with these filter settings, on :attr:`device`.

        Raises:
            ModelError: unknown model, failed download, unusable model files.
        """
        return load_separator(
            model, targets, self.filter, device=self.device, models_file=self.models_file,
            cache_dir=self.cache_dir, progress=progress, precision=self.precision,
        )


def _separate_segment(separator: Separator, segment: np.ndarray, device: torch.device) -> np.ndarray:
    """``(channels, samples)`` -> ``(sources, channels, samples)``."""
    with torch.inference_mode():
        x = torch.from_numpy(segment).to(device)[None]
        return separator(x)[0].float().cpu().numpy()


def separate_blocks(
    separator: Separator,
    blocks: Iterable[np.ndarray],
    segment: int,
    overlap: int,
    device: Union[str, torch.device] = "cpu",
    on_segment: Optional[Callable[[int], None]] = None,
) -> Iterator[np.ndarray]:
    """Separate a stream of audio blocks in overlapping segments.

    Args:
        separator: the models and filter.
        blocks: ``(channels, n)`` float32 blocks at the separator's rate, of any sizes.
        segment: samples per segment.
        overlap: samples shared by consecutive segments, cross-faded linearly.
        on_segment: called with the number of new samples after each segment
            (for progress bars).

    Yields:
        ``(sources, channels, n)`` blocks whose lengths add up to the input's.
    """
    if not 0 <= overlap < segment:
        raise ValueError("overlap must be at least 0 and shorter than the segment")
    device = torch.device(device)
    stride = segment - overlap
    buf: Optional[np.ndarray] = None
    pending: Optional[np.ndarray] = None

    def run(window: np.ndarray, last: bool) -> Iterator[np.ndarray]:
        nonlocal pending
        est = _separate_segment(separator, window, device)
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
        yield out

    processed = False
    for block in blocks:
        buf = block if buf is None else np.concatenate([buf, block], axis=-1)
        while buf.shape[-1] > segment:  # strictly more: the segment is not the last one
            yield from run(buf[:, :segment], last=False)
            processed = True
            buf = buf[:, stride:]
    if buf is None:
        return
    if not processed or buf.shape[-1] > overlap:
        yield from run(buf, last=True)
    elif pending is not None:  # the rest lies inside the last segment's overlap
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
        parts = list(separate_blocks(separator, [x], seg, ov, device))
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


def output_names(inputs: Sequence[PathLike]) -> List[str]:
    """Output folder name per input file: its stem, made longer only where stems collide.

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
            self.files[name].write(np.ascontiguousarray(block[i, :, :n].T))
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


def separate_file(
    separator: Separator,
    path: Union[str, os.PathLike],
    outdir: Union[str, os.PathLike],
    segment: float = DEFAULT_SEGMENT,
    overlap: float = DEFAULT_OVERLAP,
    ext: str = ".wav",
    subtype: Optional[str] = None,
    progress: bool = False,
) -> Dict[str, Path]:
    """Separate one audio file into ``outdir/<source><ext>`` files.

    Outputs have the input's sample rate, length and channel count (mono input
    to a stereo model gives stereo outputs). Files are written under temporary
    names and renamed only when every source is complete, so a failure leaves
    no partial output; temporary files that killed runs left in ``outdir`` are
    removed first.

    Returns:
        ``{source: path}``.

    Raises:
        AudioError: unusable input; OSError: output folder not writable.
    """
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
    device = next(separator.parameters()).device
    names = separator.source_names
    make_output_folder(outdir)
    remove_stale_temporaries(outdir)

    writers = _Writers(outdir, names, in_rate, out_channels, length, ext, subtype)
    back = None if in_rate == rate else [
        soxr.ResampleStream(rate, in_rate, out_channels, dtype="float32", quality="HQ") for _ in names
    ]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=round(length / in_rate, 1), unit="s", desc=path.name, leave=False)
    try:
        def tick(n: int) -> None:
            if bar is not None:
                bar.update(round(n / rate, 1))

        blocks = read_blocks(path, rate, nb_channels)
        for est in separate_blocks(separator, blocks, seg, ov, device, on_segment=tick):
            writers.write(_resample_out(est, back, last=False))
        if back is not None:
            writers.write(_resample_out(np.zeros((len(names), out_channels, 0), np.float32), back, last=True))
        return writers.commit()
    finally:
        writers.discard()
        if bar is not None:
            bar.close()


def _resample_out(est: np.ndarray, streams, last: bool) -> np.ndarray:
    """Resample ``(sources, channels, n)`` back to the input rate with one stream per source."""
    if streams is None:
        return est
    outs = [np.ascontiguousarray(s.resample_chunk(np.ascontiguousarray(e.T), last=last).T) for s, e in zip(streams, est)]
    n = min(o.shape[-1] for o in outs)
    return np.stack([o[..., :n] for o in outs])
