"""The Separator's estimation steps, one per kind of model output (see :mod:`.separator`).

* magnitudes (:func:`fill_magnitudes`, :func:`filtered_windows`): the target
  models side by side on the CPU, then the Wiener filter window by window
  (its chunks of bins side by side on request), for the overlap-add inverse
  STFT of :class:`~openunmix.separation.separator.Separator`;
* spectrograms (:func:`spectrogram_sources`): the models' STFTs, the
  residual, the inverse STFT;
* waveforms (:func:`waveform_sources`): the models' waveforms and the residual;
* models that see a fixed length (:func:`chunked`): overlapping chunks of
  that length, their estimates faded and overlap-added.

Each step takes what it works on as arguments; none holds state.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..filtering import FilterArgs, filter_window, wiener_bins, wiener_setup, windows
from .parallel import map_side_by_side


def workers(setting: Optional[bool], jobs: int, x: torch.Tensor) -> int:
    """Worker threads for ``jobs`` pieces of work on ``x``'s device (< 2: none, work in this thread).

    ``setting``: True always side by side, False never, None when torch has two threads or more.
    """
    threads = torch.get_num_threads()
    parallel = threads >= 2 if setting is None else setting
    if not parallel or jobs < 2 or x.device.type != "cpu" or torch.is_autocast_enabled("cpu"):
        return 1  # autocast is per thread: keep it in this one
    return min(jobs, max(2, threads))


def _is_joint(model: nn.Module) -> bool:
    return getattr(model, "targets", None) is not None


def fill_magnitudes(models: Sequence[nn.Module], mag: torch.Tensor, V: torch.Tensor,
                    parallel: Optional[bool] = None) -> None:
    """Write every target's magnitude into ``V``, running each model (joint or not) once.

    The models run one after the other on torch's threads, or, on the CPU
    with ``parallel`` (None: when torch has ``k >= 2`` threads), side by
    side: ``min(k, models)`` worker threads (at least 2) take the models in
    turn, and each runs its models on ``k / workers`` threads (torch's
    intra-op count is per thread;
    :func:`~openunmix.separation.parallel.map_side_by_side`). A batch-1 LSTM
    keeps two threads poorly busy, two single-threaded models keep them busy
    (see docs/performance.md). The workers are joined before this returns or
    raises; the thread count of the calling thread does not change. The
    result equals the sequential one up to float rounding (bitwise where
    both run each model on the same number of threads).

    Args:
        models: the target models, in the order of ``V``'s targets.
        mag: ``(batch, channels, bins, frames)``.
        V: ``(batch, channels, bins, frames, targets)``, filled in place.
    """
    jobs = []
    j = 0
    for model in models:
        joint = _is_joint(model)
        jobs.append((model, j, joint))
        j += len(model.targets) if joint else 1

    def run(job: Tuple[nn.Module, int, bool]) -> None:
        # each job writes its own targets of V (disjoint slices), so no output waits for its turn
        model, first, joint = job
        out = model(mag)
        if joint:
            V[..., first : first + out.shape[-1]] = out
        else:
            V[..., first] = out

    count = workers(parallel, len(jobs), mag)
    for _ in map(run, jobs) if count < 2 else map_side_by_side(
            run, jobs, count, torch.get_num_threads(), name="openunmix-target"):
        pass


class _Window:
    """One filter window of :func:`filtered_windows` run in chunks of bins: its
    :func:`~openunmix.filtering.wiener_setup`, made once by whichever job comes first."""

    def __init__(self, v: torch.Tensor, x: torch.Tensor, args: FilterArgs):
        self.v, self.x = v, x  # (frames, bins, channels, targets), (frames, bins, channels)
        self.args = args
        self._lock = threading.Lock()
        self._setup: Optional[Tuple[float, torch.Tensor, List[Tuple[int, int]]]] = None

    def setup(self) -> Tuple[float, torch.Tensor, List[Tuple[int, int]]]:
        with self._lock:
            if self._setup is None:
                self._setup = wiener_setup(self.v, self.x, self.args)
            return self._setup

    def release(self) -> torch.Tensor:
        """The filtered window ``(frames, bins, channels, sources)``, no longer held here."""
        with self._lock:
            assert self._setup is not None
            out = self._setup[1]
            self._setup = None
            self.v = self.x = None  # type: ignore[assignment]
            return out


def filtered_windows(V: torch.Tensor, X: torch.Tensor, args: FilterArgs,
                     parallel: Optional[bool] = False) -> Iterator[Tuple[int, int, torch.Tensor]]:
    """Wiener-filter one batch item and time window after the other (:func:`~openunmix.filtering.windows`).

    With ``parallel`` (None: when torch has ``k >= 2`` threads, on the CPU),
    ``min(k, chunks)`` worker threads filter the windows' chunks of
    ``args.bin_chunk`` bins side by side on ``k / workers`` intra-op threads
    each (:func:`~openunmix.separation.parallel.map_side_by_side`,
    :func:`~openunmix.filtering.wiener_bins`); the windows are still yielded
    in order, and about ``workers`` windows are held at a time. Each window's
    filter is the same computation either way.

    Args:
        V: target magnitudes ``(batch, channels, bins, frames, targets)``.
        X: complex mixture ``(batch, channels, bins, frames)``.
        args: the filter's settings (:meth:`~openunmix.filtering.FilterSettings.args`).

    Yields:
        ``(item, first_frame, y)`` with ``y`` complex ``(sources, channels, bins, window frames)``.
    """
    spans = windows(X.shape[0], X.shape[-1], args.wiener_win_len)
    chunks = -(-X.shape[2] // args.bin_chunk) if args.bin_chunk else 1
    count = workers(parallel, len(spans) * chunks, X)
    if count < 2:
        for item, start, end in spans:
            yield item, start, filter_window(V[item, :, :, start:end], X[item, :, :, start:end], args)
        return
    # the windows' chunks of bins, as filter_window -> wiener cuts them, are the workers' jobs (many
    # small ones keep two workers equally busy; a 977-frame segment has windows of 300, 300, 300, 77).
    # A window's output is allocated by the first of its jobs and let go once yielded: about `count`
    # windows are held at a time, as many as one after the other would hold
    jobs = []
    for item, start, end in spans:
        window = _Window(V[item, :, :, start:end].permute(2, 1, 0, 3), X[item, :, :, start:end].permute(2, 1, 0), args)
        for k in range(chunks):
            jobs.append((item, start, window, k, k == chunks - 1))

    def run(job: Tuple[int, int, _Window, int, bool]) -> Tuple[int, int, _Window, bool]:
        item, start, window, k, last = job
        scale, out, parts = window.setup()
        b, e = parts[k]
        wiener_bins(window.v, window.x, window.args, scale, out, b, e)
        return item, start, window, last

    for item, start, window, last in map_side_by_side(run, jobs, count, torch.get_num_threads(),
                                                      name="openunmix-filter"):
        if last:  # the window's chunks are all done (they come in order)
            out = window.release()
            yield item, start, out.permute(3, 2, 1, 0)


def run_models(models: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Models of spectrograms or waveforms: every model (joint ones once) on ``x``, targets stacked second.

    Args:
        x: the mixture's STFT as real and imaginary parts ``(batch, channels, bins, frames, 2)``, or its
            waveform ``(batch, channels, samples)``.

    Returns:
        ``(batch, targets, channels, bins, frames, 2)`` or ``(batch, targets, channels, samples)``.
    """
    parts = []
    for model in models:
        out = model(x)
        parts.append(out if _is_joint(model) else out.unsqueeze(1))
    return torch.cat(parts, dim=1)


def spectrogram_sources(run: Callable[[torch.Tensor], torch.Tensor], stft: nn.Module, istft: nn.Module,
                        audio: torch.Tensor, residual: bool) -> torch.Tensor:
    """Models of spectrograms: the inverse STFT of their estimates (and of the residual, the mixture's
    STFT minus theirs).

    Args:
        run: :func:`run_models` over the models.
        stft, istft: the models' STFT and its inverse.
        audio: ``(batch, channels, samples)``.

    Returns:
        ``(batch, sources, channels, samples)``.
    """
    X = stft(audio)  # (batch, channels, bins, frames)
    Y = torch.view_as_complex(run(torch.view_as_real(X)).contiguous())  # (batch, targets, channels, bins, frames)
    if residual:
        Y = torch.cat([Y, (X - Y.sum(1)).unsqueeze(1)], dim=1)
    return istft(Y, audio.shape[-1])


def waveform_sources(run: Callable[[torch.Tensor], torch.Tensor], audio: torch.Tensor, residual: bool) -> torch.Tensor:
    """Models of waveforms: their estimates (and the residual, the mixture minus theirs).

    ``audio`` ``(batch, channels, samples)`` -> ``(batch, sources, channels, samples)``.
    """
    S = run(audio)
    if residual:
        S = torch.cat([S, (audio - S.sum(1)).unsqueeze(1)], dim=1)
    return S


def chunk_window(chunk: int, fade_in: bool, fade_out: bool, device: torch.device, overlap: int) -> torch.Tensor:
    """The weights of one chunk's estimate ``(chunk,)``: 1, with linear fades over ``chunk // 10`` samples
    (at most the ``overlap`` with the neighbours) at the ends that other chunks overlap."""
    w = torch.ones(chunk, device=device)
    fade = min(chunk // 10, overlap)
    if fade > 0:
        ramp = torch.linspace(0.0, 1.0, fade, device=device)
        if fade_in:
            w[:fade] = ramp
        if fade_out:
            w[chunk - fade :] = ramp.flip(0)
    return w


def chunk_plan(length: int, chunk: int, num_overlap: int) -> Tuple[int, int, List[Tuple[int, bool]]]:
    """Where the chunks of :func:`chunked` lie: ``(border, overlap, [(start, last), ...])``: starts in the
    input reflected by ``border`` samples at both ends (0: not padded), ``overlap`` samples shared by
    neighbouring chunks, ``last`` for the chunk that reaches the end."""
    step = max(1, chunk // max(1, num_overlap))
    overlap = chunk - step
    border = overlap if overlap > 0 and length > 2 * overlap else 0
    total = length + 2 * border
    plan: List[Tuple[int, bool]] = []
    start = 0
    while start < total:
        last = start + chunk >= total
        plan.append((start, last))
        if last:
            break
        start += step
    return border, overlap, plan


def chunked(separate: Callable[[torch.Tensor], torch.Tensor], audio: torch.Tensor, chunk: int,
            num_overlap: int) -> torch.Tensor:
    """Separate in chunks of ``chunk`` samples that step by ``chunk // num_overlap``, as models trained on a
    fixed length are run (MSST's inference): the input is reflected by ``chunk - step`` samples at both
    ends (when longer than twice that), a chunk cut short at the end is padded to ``chunk`` samples
    (reflected when over half a chunk is left, else zeros), and the estimates are overlap-added with
    :func:`chunk_window`'s weights and divided by their sum (:func:`chunk_plan`). One chunk is in flight at
    a time; the TorchScript separator (:mod:`openunmix.export.scripted`) runs the same plan.

    Args:
        separate: ``(batch, channels, chunk)`` -> ``(batch, targets, channels, chunk)``.
        audio: ``(batch, channels, samples)``.

    Returns:
        ``(batch, targets, channels, samples)``.
    """
    length = audio.shape[-1]
    border, overlap, plan = chunk_plan(length, chunk, num_overlap)
    x = torch.nn.functional.pad(audio, (border, border), mode="reflect") if border else audio
    total = x.shape[-1]
    out: Optional[torch.Tensor] = None
    weight = torch.zeros(total, dtype=audio.dtype, device=audio.device)
    for start, last in plan:
        piece = x[..., start : start + chunk]
        n = piece.shape[-1]
        if n < chunk:
            mode = "reflect" if n > chunk // 2 + 1 else "constant"
            piece = torch.nn.functional.pad(piece, (0, chunk - n), mode=mode)
        estimate = separate(piece)[..., :n]
        w = chunk_window(chunk, start > 0, not last, audio.device, overlap)[:n].to(audio.dtype)
        if out is None:
            out = torch.zeros(estimate.shape[:-1] + (total,), dtype=estimate.dtype, device=audio.device)
        out[..., start : start + n] += estimate * w
        weight[start : start + n] += w
    assert out is not None
    out = out / weight.clamp(min=1e-8)
    return out[..., border : border + length] if border else out


__all__ = ["workers", "fill_magnitudes", "filtered_windows", "run_models", "spectrogram_sources", "waveform_sources",
           "chunked", "chunk_window", "chunk_plan"]
