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
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import torch
from torch import nn

from .. import architectures
from ..architectures import MAGNITUDE, SPECTROGRAM, WAVEFORM
from ..filtering import FilterSettings, filter_windows
from ..transforms import ComplexNorm, OverlapAdd, make_filterbanks
from ..utils import frozen
from . import steps


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

    :attr:`segment_batch` (settable, None by default): how many segments of a
    long song :func:`~openunmix.separation.separate.separate_blocks` passes as
    one batch (None: its choice from the song's length and the threads).
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
        self.segment_batch: Optional[int] = None
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
        caps = [architectures.capabilities(m) for m in self.target_models.values()]
        first = caps[0] if caps else architectures.Capabilities()
        # chunked separation (models that see a fixed length); settable, e.g. from the command line
        self.chunk_size, self.num_overlap = first.chunk_size, first.num_overlap
        if self.output == WAVEFORM:
            self.stft = self.istft = None
        else:
            if n_fft is None or n_hop is None:
                raise ValueError(f"models that return {self.output}s need the STFT settings n_fft and n_hop")
            self.stft, self.istft = make_filterbanks(n_fft, n_hop, center=True, win_length=first.win_length,
                                                     normalized=first.normalized)
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
        """Write every target's magnitude into ``V``, running each model (joint or not) once, side by side
        on the CPU with :attr:`parallel_targets` (:func:`~openunmix.separation.steps.fill_magnitudes`).

        Args:
            mag: ``(batch, channels, bins, frames)``.
            V: ``(batch, channels, bins, frames, targets)``, filled in place.
        """
        steps.fill_magnitudes(list(self.target_models.values()), mag, V, self.parallel_targets)

    def filtered_windows(self, V: torch.Tensor, X: torch.Tensor) -> Iterator[Tuple[int, int, torch.Tensor]]:
        """Wiener-filter one batch item and time window after the other, chunks side by side with
        :attr:`parallel_filter` (:func:`~openunmix.separation.steps.filtered_windows`).

        Args:
            V: target magnitudes ``(batch, channels, bins, frames, targets)``.
            X: complex mixture ``(batch, channels, bins, frames)``.

        Yields:
            ``(item, first_frame, y)`` with ``y`` complex ``(sources, channels, bins, window frames)``.
        """
        return steps.filtered_windows(V, X, self.filter.args(), self.parallel_filter)

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
        if self.output != MAGNITUDE:
            return self.estimate_sources(audio)
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
        return out[0].unsqueeze(0) if batch == 1 else torch.stack(out)  # one song: no copy

    def estimate_sources(self, audio: torch.Tensor) -> torch.Tensor:
        """Models of spectrograms and waveforms: ``(batch, channels, samples)`` -> ``(batch, sources, channels,
        samples)``, in chunks of :attr:`chunk_size` samples (:func:`~openunmix.separation.steps.chunked`) when
        it is set and the input is longer."""
        if self.output == SPECTROGRAM:
            def run(x: torch.Tensor, residual: bool) -> torch.Tensor:
                return steps.spectrogram_sources(self.run_models, self.stft, self.istft, x, residual)
        else:
            def run(x: torch.Tensor, residual: bool) -> torch.Tensor:
                return steps.waveform_sources(self.run_models, x, residual)
        if not self.chunk_size:
            return run(audio, self.filter.residual)
        out = steps.chunked(lambda x: run(x, False), audio, self.chunk_size, self.num_overlap)
        if self.filter.residual:
            out = torch.cat([out, (audio - out.sum(1)).unsqueeze(1)], dim=1)
        return out

    def run_models(self, x: torch.Tensor) -> torch.Tensor:
        """Models of spectrograms and of waveforms: every target model (joint ones once) on ``x``, targets
        stacked second (:func:`~openunmix.separation.steps.run_models`).

        Args:
            x: the mixture's STFT as real and imaginary parts ``(batch, channels, bins, frames, 2)``, or its
                waveform ``(batch, channels, samples)``.

        Returns:
            ``(batch, targets, channels, bins, frames, 2)`` or ``(batch, targets, channels, samples)``.
        """
        return steps.run_models(list(self.target_models.values()), x)

    def to_dict(self, estimates: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``(batch, sources, channels, samples)`` -> ``{source: (batch, channels, samples)}``."""
        return {name: estimates[:, i] for i, name in enumerate(self.source_names)}
