"""The Separator: waveform-to-waveform separation with the target models of any architecture.

Each model's architecture says what the model returns
(:attr:`openunmix.architectures.Capabilities.output`), and the Separator
runs the estimation step that goes with it:

* ``magnitude`` (Open-Unmix, X-UMX): the models see the mixture's magnitude
  and estimate the targets' magnitudes; the multichannel Wiener filter
  (:mod:`openunmix.filtering`, settings :class:`~openunmix.filtering.FilterSettings`)
  turns them into complex spectrograms, window by window, and an overlap-add
  inverse STFT into waveforms;
* ``spectrogram`` (complex-mask models): the models see the mixture's complex
  STFT and return the targets' (a masked mixture); the inverse STFT gives
  the waveforms, no filter;
* ``waveform``: the models map the mixture's waveform to the targets'.

With ``residual``, a last source holds what the targets leave of the
mixture (in the Wiener filter's model, or the mixture's STFT or waveform
minus the targets').

Shapes (names used across the package):
    waveform:  ``(batch, channels, samples)``
    spectrum:  complex ``(batch, channels, bins, frames)``
    magnitude: real ``(batch, channels, bins, frames)``
    estimates: ``(batch, sources, channels, samples)``
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import torch
from torch import nn

from .. import architectures
from ..architectures import MAGNITUDE, SPECTROGRAM, WAVEFORM
from ..filtering import FilterArgs, FilterSettings, filter_window, filter_windows, wiener_bins, wiener_setup, windows
from ..transforms import ComplexNorm, OverlapAdd, make_filterbanks
from ..utils import frozen
from .parallel import map_side_by_side


class _Window:
    """One filter window of :meth:`Separator.filtered_windows` run in chunks of bins: its
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


def residual_name(targets: List[str]) -> str:
    """Name of the residual source: ``accompaniment`` beside a lone vocals model."""
    return "accompaniment" if list(targets) == ["vocals"] else "residual"


def filter_settings_given(filter: FilterSettings) -> List[str]:  # noqa: A002
    """The settings of ``filter`` that differ from the defaults, ``residual`` aside (which every kind of model
    honours): what a model that is not Wiener-filtered refuses."""
    default = FilterSettings()
    return [f.name for f in dataclasses.fields(FilterSettings)
            if f.name != "residual" and getattr(filter, f.name) != getattr(default, f.name)]


def output_kind(target_models: Mapping[str, nn.Module]) -> str:
    """What the models return (:attr:`~openunmix.architectures.Capabilities.output`), the same for all.

    Raises:
        ValueError: models of different kinds.
    """
    kinds = {key: architectures.capabilities(model).output for key, model in target_models.items()}
    found = sorted(set(kinds.values()))
    if len(found) > 1:
        detail = ", ".join(f"'{k}' returns {v}s" for k, v in kinds.items())
        raise ValueError(f"the target models of one separator must return the same kind of estimate ({detail})")
    return found[0] if found else MAGNITUDE


class Separator(nn.Module):
    """Waveform-to-waveform separation with the target models of any architecture.

    Args:
        target_models: ``{name: model}``; all must share the sample rate,
            channel count and (for models of spectrograms) the STFT settings,
            and return the same kind of estimate (their architectures'
            :attr:`~openunmix.architectures.Capabilities.output`; see the
            module docstring). A value may also be a joint model of several
            targets (see :mod:`openunmix.architectures`): a module with a
            ``targets`` list whose output stacks them (magnitudes: last,
            ``(batch, channels, bins, frames, len(targets))``; spectrograms and
            waveforms: second, ``(batch, len(targets), channels, ...)``); it
            runs once for all of them and its key is only a name.
        filter: the Wiener filter's settings
            (:class:`~openunmix.filtering.FilterSettings`; None: the
            defaults). Kept as :attr:`filter`, with ``residual`` set for a
            single target (whose residual source is always added). Models that
            are not Wiener-filtered take only ``residual``: any other setting
            that differs from its default is refused (``ValueError`` naming it).
        sample_rate, nb_channels: the models' settings.
        n_fft, n_hop: the models' STFT (None for models of waveforms).
        parallel_targets: run the target models side by side on the CPU
            (:meth:`fill_magnitudes`): None (the default) when torch has two
            or more threads and there are two or more models; True always;
            False never. Kept as :attr:`parallel_targets` (settable).
        parallel_filter: Wiener-filter the windows' chunks side by side on
            the CPU (:meth:`filtered_windows`): False (the default: on a
            quiet 2-core machine it was 0.78x as fast as one chunk at a time
            on both threads, docs/performance.md); True always; None like
            ``parallel_targets``. Kept as :attr:`parallel_filter`.
    """

    def __init__(
        self,
        target_models: Mapping[str, nn.Module],
        filter: Optional[FilterSettings] = None,  # noqa: A002 (the settings' name across the package)
        sample_rate: float = 44100.0,
        n_fft: Optional[int] = 4096,
        n_hop: Optional[int] = 1024,
        nb_channels: int = 2,
        parallel_targets: Optional[bool] = None,
        parallel_filter: Optional[bool] = False,
    ):
        super().__init__()
        self.target_models = nn.ModuleDict(dict(target_models))
        self.parallel_targets = parallel_targets
        self.parallel_filter = parallel_filter
        if filter is None:
            filter = FilterSettings()
        if not isinstance(filter, FilterSettings):
            raise TypeError(f"filter must be a FilterSettings, not {type(filter).__name__}")
        self.output = output_kind(self.target_models)
        if self.output != MAGNITUDE:
            given = filter_settings_given(filter)
            if given:
                first = next(iter(self.target_models.values()))
                raise ValueError(f"{given[0]}: the {architectures.describe(first)} returns {self.output}s, which "
                                 "are not Wiener-filtered: the filter's settings do not apply (only residual does)")
        if len(self.targets) == 1 and not filter.residual:
            filter = dataclasses.replace(filter, residual=True)
        self.filter = filter
        self.sample_rate = float(sample_rate)
        self.n_fft = n_fft
        self.n_hop = n_hop
        self.nb_channels = nb_channels
        if self.output == WAVEFORM:
            self.stft = self.istft = None
        else:
            if n_fft is None or n_hop is None:
                raise ValueError(f"models that return {self.output}s need the STFT settings n_fft and n_hop")
            self.stft, self.istft = make_filterbanks(n_fft, n_hop, center=True)
        self.complexnorm = ComplexNorm(mono=nb_channels == 1)

    @property
    def filtered(self) -> bool:
        """Whether the models' estimates are Wiener-filtered (they are magnitudes)."""
        return self.output == MAGNITUDE

    @property
    def targets(self) -> List[str]:
        """The model targets, in output order (a joint model's in its order)."""
        names: List[str] = []
        for key, model in self.target_models.items():
            joint = getattr(model, "targets", None)
            names += list(joint) if joint is not None else [key]
        return names

    @property
    def source_names(self) -> List[str]:
        """Names of the output sources, in output order (targets, then the residual)."""
        names = self.targets
        return names + [residual_name(names)] if self.filter.residual else names

    def freeze(self) -> "Separator":
        """Inference only: no gradients, eval mode."""
        return frozen(self)

    def estimate_magnitudes(self, mag: torch.Tensor) -> torch.Tensor:
        """Run every target model.

        Args:
            mag: ``(batch, channels, bins, frames)``.

        Returns:
            ``(batch, channels, bins, frames, targets)``.
        """
        V = torch.empty(mag.shape + (len(self.targets),), dtype=mag.dtype, device=mag.device)
        self.fill_magnitudes(mag, V)
        return V

    def fill_magnitudes(self, mag: torch.Tensor, V: torch.Tensor) -> None:
        """Write every target's magnitude into ``V``, running each model (joint or not) once.

        The models run one after the other on torch's threads, or, on the
        CPU with :attr:`parallel_targets` (by default when torch has ``k >= 2``
        threads), side by side: ``min(k, models)`` worker threads (at least 2)
        take the models in turn, and each runs its models on ``k / workers``
        threads (torch's intra-op count is per thread;
        :func:`~openunmix.separation.parallel.map_side_by_side`). A batch-1 LSTM keeps
        two threads poorly busy, two single-threaded models keep them busy
        (see docs/performance.md). The workers are joined before this
        returns or raises; the thread count of the calling thread does not
        change. The result equals the sequential one up to float rounding
        (bitwise where both run each model on the same number of threads).

        Args:
            mag: ``(batch, channels, bins, frames)``.
            V: ``(batch, channels, bins, frames, targets)``, filled in place.
        """
        jobs = []
        j = 0
        for model in self.target_models.values():
            joint = getattr(model, "targets", None) is not None
            jobs.append((model, j, joint))
            j += len(model.targets) if joint else 1

        def run(job: Tuple[nn.Module, int, bool]) -> Tuple[torch.Tensor, int, bool]:
            return job[0](mag), job[1], job[2]

        workers = self._workers(self.parallel_targets, len(jobs), mag)
        results = map(run, jobs) if workers < 2 else map_side_by_side(
            run, jobs, workers, torch.get_num_threads(), name="openunmix-target")
        for out, first, joint in results:
            if joint:
                V[..., first : first + out.shape[-1]] = out
            else:
                V[..., first] = out

    @staticmethod
    def _workers(setting: Optional[bool], jobs: int, x: torch.Tensor) -> int:
        """Worker threads for ``jobs`` pieces of work on ``x``'s device (< 2: none, work in this thread)."""
        threads = torch.get_num_threads()
        parallel = threads >= 2 if setting is None else setting
        if not parallel or jobs < 2 or x.device.type != "cpu" or torch.is_autocast_enabled("cpu"):
            return 1  # autocast is per thread: keep it in this one
        return min(jobs, max(2, threads))

    def filtered_windows(self, V: torch.Tensor, X: torch.Tensor) -> Iterator[Tuple[int, int, torch.Tensor]]:
        """Wiener-filter one batch item and time window after the other (:func:`~openunmix.filtering.windows`).

        With :attr:`parallel_filter` (off by default; None: when torch has
        ``k >= 2`` threads, on the CPU), ``min(k, chunks)`` worker threads filter the
        windows' chunks of ``filter.bin_chunk`` bins side by side on
        ``k / workers`` intra-op threads each
        (:func:`~openunmix.separation.parallel.map_side_by_side`,
        :func:`~openunmix.filtering.wiener_bins`); the windows are still
        yielded in order, and about ``workers`` windows are held at a time.
        Each window's filter is the same computation either way.

        Args:
            V: target magnitudes ``(batch, channels, bins, frames, targets)``.
            X: complex mixture ``(batch, channels, bins, frames)``.

        Yields:
            ``(item, first_frame, y)`` with ``y`` complex ``(sources, channels, bins, window frames)``.
        """
        f = self.filter.args()
        spans = windows(X.shape[0], X.shape[-1], f.wiener_win_len)
        chunks = -(-X.shape[2] // f.bin_chunk) if f.bin_chunk else 1
        workers = self._workers(self.parallel_filter, len(spans) * chunks, X)
        if workers < 2:
            for item, start, end in spans:
                yield item, start, filter_window(V[item, :, :, start:end], X[item, :, :, start:end], f)
            return
        # the windows' chunks of bins, as filter_window -> wiener cuts them, are the workers' jobs (many
        # small ones keep two workers equally busy; a 977-frame segment has windows of 300, 300, 300, 77).
        # A window's output is allocated by the first of its jobs and let go once yielded: about `workers`
        # windows are held at a time, as many as one after the other would hold
        jobs = []
        for item, start, end in spans:
            window = _Window(V[item, :, :, start:end].permute(2, 1, 0, 3), X[item, :, :, start:end].permute(2, 1, 0), f)
            for k in range(chunks):
                jobs.append((item, start, window, k, k == chunks - 1))

        def run(job: Tuple[int, int, "_Window", int, bool]) -> Tuple[int, int, "_Window", bool]:
            item, start, window, k, last = job
            scale, out, parts = window.setup()
            b, e = parts[k]
            wiener_bins(window.v, window.x, window.args, scale, out, b, e)
            return item, start, window, last

        for item, start, window, last in map_side_by_side(run, jobs, workers, torch.get_num_threads(),
                                                          name="openunmix-filter"):
            if last:  # the window's chunks are all done (they come in order)
                out = window.release()
                yield item, start, out.permute(3, 2, 1, 0)

    def filter_spectrum(self, V: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """Wiener-filter a batch, in windows of ``filter.wiener_win_len`` frames.

        Args:
            V: target magnitudes ``(batch, channels, bins, frames, targets)``.
            X: complex mixture ``(batch, channels, bins, frames)``.

        Returns:
            complex ``(batch, sources, channels, bins, frames)``.
        """
        return filter_windows(V, X, self.filter.args())

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Separate.

        Memory is kept low for long inputs: the target magnitudes are written
        into one buffer, and the filter's output is turned back into audio
        window by window (:class:`~openunmix.transforms.OverlapAdd`), so the
        complex spectra of the sources are never all held at once.

        Args:
            audio: ``(batch, channels, samples)`` at ``sample_rate``.

        Returns:
            ``(batch, sources, channels, samples)``, sources as in :attr:`source_names`.
        """
        if self.nb_channels == 1 and audio.shape[1] != 1:
            raise ValueError("a mono model needs mono input")
        if self.output == SPECTROGRAM:
            return self._separate_spectrogram(audio)
        if self.output == WAVEFORM:
            return self._separate_waveform(audio)
        X = self.stft(audio)
        batch, channels, bins, frames = X.shape
        mag = self.complexnorm(X)
        V = self.estimate_magnitudes(mag)
        del mag
        out = [
            OverlapAdd((len(self.source_names), channels), frames, self.n_fft, self.n_hop,
                       self.stft.window.to(audio.dtype))
            for _ in range(batch)
        ]
        for b, t, y in self.filtered_windows(V, X):
            out[b].add(y, t)
            del y
        out = [ola.result(audio.shape[-1]) for ola in out]
        return torch.stack(out)

    def run_models(self, x: torch.Tensor) -> torch.Tensor:
        """Run every target model (joint ones once) on ``x`` and stack their targets second
        (models of spectrograms and of waveforms).

        Args:
            x: the models' input: the mixture STFT as real and imaginary parts
                ``(batch, channels, bins, frames, 2)``, or the waveform
                ``(batch, channels, samples)``.

        Returns:
            ``(batch, targets, channels, bins, frames, 2)`` or ``(batch,
            targets, channels, samples)``.
        """
        parts = []
        for model in self.target_models.values():
            out = model(x)
            parts.append(out if getattr(model, "targets", None) is not None else out.unsqueeze(1))
        return torch.cat(parts, dim=1)

    def _separate_spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """Models of complex spectrograms: the inverse STFT of their estimates (and of the residual).

        ``(batch, channels, samples)`` -> ``(batch, sources, channels, samples)``.
        """
        X = self.stft(audio)  # (batch, channels, bins, frames)
        Y = self.run_models(torch.view_as_real(X))  # (batch, targets, channels, bins, frames, 2)
        Y = torch.view_as_complex(Y.contiguous())
        if self.filter.residual:
            Y = torch.cat([Y, (X - Y.sum(1)).unsqueeze(1)], dim=1)
        return self.istft(Y, audio.shape[-1])

    def _separate_waveform(self, audio: torch.Tensor) -> torch.Tensor:
        """Models of waveforms: their estimates (and the residual).

        ``(batch, channels, samples)`` -> ``(batch, sources, channels, samples)``.
        """
        S = self.run_models(audio)
        if self.filter.residual:
            S = torch.cat([S, (audio - S.sum(1)).unsqueeze(1)], dim=1)
        return S

    def to_dict(self, estimates: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``(batch, sources, channels, samples)`` -> ``{source: (batch, channels, samples)}``."""
        return {name: estimates[:, i] for i, name in enumerate(self.source_names)}
