"""The separator that TorchScript compiles, for deployment without Python or this package.

:class:`ScriptableSeparator` holds what a :class:`~openunmix.separation.separator.Separator`
holds (its STFT modules, target models and filter settings) in the form
``torch.jit.script`` compiles, and runs the package's own code: the target
models, the STFT modules and the window loop and Wiener filter of
:mod:`openunmix.filtering` (:func:`~openunmix.filtering.filter_windows`),
compiled as they are. The one difference to ``Separator.forward`` is that
the inverse STFT runs on the whole filtered spectrum at once instead of
window by window (same result, more memory on long inputs).

``torch.jit.script`` is deprecated in torch 2.13 but works; its successor
``torch.export`` fixes the number of frames an ``nn.LSTM`` sees to that of
the example input, so it cannot yet give a separator for inputs of any length.

Shapes (as in :mod:`openunmix.separation.separator`):
    waveform:  ``(batch, channels, samples)``
    spectrum:  complex ``(batch, channels, bins, frames)``
    magnitude: real ``(batch, channels, bins, frames)``
    estimates: ``(batch, sources, channels, samples)``
"""

# no `from __future__ import annotations`: TorchScript reads the class attributes' annotations as types
from typing import List, Optional

import torch
from torch import nn

from ..filtering import FilterArgs, filter_windows
from ..separation.steps import chunk_plan, chunk_window
from .. import architectures
from ..separation.separator import Separator
from ..utils import PathLike
from .errors import ExportError, first_line

PARITY_TOLERANCE = 1e-4  # relative error of the saved TorchScript separator against Separator


class ScriptableSeparator(nn.Module):
    """``separator`` in compilable form (the models and transforms are shared, not copied).

    After ``torch.jit.script``, the compiled module keeps the attributes
    ``source_names``, ``targets``, ``sample_rate``, ``n_fft``, ``n_hop``,
    ``nb_channels`` and the filter settings ``niter``, ``softmask``,
    ``alpha``, ``logit``, ``residual``, ``wiener_win_len`` (0: the whole
    input at once) and ``bin_chunk`` (0: all bins at once) for whoever loads it;
    the filter takes them as one value, ``filter_args``
    (:class:`~openunmix.filtering.FilterArgs`, the same fields in that order).

    Raises:
        ValueError: a target model whose architecture cannot be exported (e.g. a joint model).
    """

    filter_args: FilterArgs
    logit: Optional[float]
    source_names: List[str]
    targets: List[str]
    output: str
    joint: List[bool]

    def __init__(self, separator: Separator):
        super().__init__()
        joint: List[bool] = []
        for name, model in separator.target_models.items():
            caps = architectures.capabilities(model)
            if not caps.exportable:
                why = "joint models of several targets are not supported" if caps.joint else "not exportable"
                raise ValueError(f"'{name}' is a {architectures.describe(model)} ({why})")
            joint.append(caps.joint)
        self.joint = joint  # per model: it returns its targets stacked second (models of spectrograms/waveforms)
        self.chunk_size = int(separator.chunk_size)  # models that see a fixed length: chunked, as Separator
        self.num_overlap = int(separator.num_overlap)
        self.output = separator.output  # what the models return: magnitude, spectrogram or waveform
        self.targets = list(separator.targets)
        self.source_names = list(separator.source_names)
        self.target_models = nn.ModuleList(list(separator.target_models.values()))
        args = separator.filter.args()
        self.filter_args = args  # what the filter takes; the fields below are for whoever loads the module
        self.niter = args.niter
        self.softmask = args.softmask
        self.alpha = args.alpha
        self.logit = args.logit
        self.residual = args.residual
        self.wiener_win_len = args.wiener_win_len
        self.bin_chunk = args.bin_chunk
        self.sample_rate = float(separator.sample_rate)
        self.n_fft = int(separator.n_fft or 0)  # 0: models of waveforms, no STFT
        self.n_hop = int(separator.n_hop or 0)
        self.nb_channels = int(separator.nb_channels)
        self.stft, self.istft, self.complexnorm = separator.stft, separator.istft, separator.complexnorm

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Separate.

        Args:
            audio: ``(batch, channels, samples)`` at ``sample_rate``.

        Returns:
            ``(batch, sources, channels, samples)``, sources as in ``source_names``.
        """
        if self.nb_channels == 1 and audio.shape[1] != 1:
            raise ValueError("a mono model needs mono input")
        if self.output != "magnitude":
            if self.chunk_size <= 0:
                S = self._sources(audio)
            else:
                S = self._chunked(audio)
            if self.residual:
                S = torch.cat([S, (audio - S.sum(1)).unsqueeze(1)], dim=1)
            return S
        X = self.stft(audio)
        mag = self.complexnorm(X)
        estimates: List[torch.Tensor] = []
        for model in self.target_models:
            estimates.append(model(mag))
        V = torch.stack(estimates, dim=-1)  # (batch, channels, bins, frames, targets)
        Y = filter_windows(V, X, self.filter_args)
        return self.istft(Y, audio.shape[-1])


    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """Every model on ``x`` (STFT as real/imaginary parts, or waveform), targets stacked second."""
        parts: List[torch.Tensor] = []
        for i, model in enumerate(self.target_models):
            out = model(x)
            parts.append(out if self.joint[i] else out.unsqueeze(1))
        return torch.cat(parts, dim=1)

    def _sources(self, audio: torch.Tensor) -> torch.Tensor:
        """Models of spectrograms and waveforms: ``(batch, channels, samples)`` -> ``(batch, targets,
        channels, samples)``."""
        if self.output == "waveform":
            return self._run(audio)
        X = self.stft(audio)
        Y = torch.view_as_complex(self._run(torch.view_as_real(X)).contiguous())
        return self.istft(Y, audio.shape[-1])

    def _chunked(self, audio: torch.Tensor) -> torch.Tensor:
        """:func:`~openunmix.separation.steps.chunked` over :meth:`_sources` (the same plan and weights)."""
        chunk = self.chunk_size
        border, overlap, plan = chunk_plan(audio.shape[-1], chunk, self.num_overlap)
        x = torch.nn.functional.pad(audio, (border, border), mode="reflect") if border > 0 else audio
        total = x.shape[-1]
        out = torch.zeros(0)
        weight = torch.zeros(total, dtype=audio.dtype, device=audio.device)
        for start, last in plan:
            piece = x[:, :, start : start + chunk]
            n = piece.shape[-1]
            if n < chunk:
                mode = "reflect" if n > chunk // 2 + 1 else "constant"
                piece = torch.nn.functional.pad(piece, (0, chunk - n), mode=mode)
            estimate = self._sources(piece)[:, :, :, :n]
            w = chunk_window(chunk, start > 0, not last, audio.device, overlap)[:n].to(audio.dtype)
            if out.numel() == 0:
                out = torch.zeros(estimate.shape[:-1] + (total,), dtype=estimate.dtype, device=audio.device)
            out[:, :, :, start : start + n] += estimate * w
            weight[start : start + n] += w
        out = out / weight.clamp(min=1e-8)
        return out[:, :, :, border : border + audio.shape[-1]]


def script_separator(separator: Separator) -> torch.jit.ScriptModule:
    """``separator`` compiled by TorchScript (frozen models, same settings)."""
    return torch.jit.script(ScriptableSeparator(separator).eval())


def export_separator(separator: Separator, path: PathLike) -> None:
    """Write ``separator`` as TorchScript and check that the saved file reproduces it.

    Raises:
        ExportError: the separator does not compile, or the reloaded file
            differs from it by more than :data:`PARITY_TOLERANCE` (relative).
    """
    separator = separator.cpu().eval()
    try:
        scripted = script_separator(separator)
    except ValueError as err:
        raise ExportError(str(err)) from None
    except Exception as err:  # TorchScript compiler errors are long; keep their gist
        raise ExportError(f"TorchScript compilation failed ({first_line(err)})") from None
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
    # a few frames that are not a whole number of hops
    noise = torch.randn(1, separator.nb_channels, 3 * (separator.n_fft or 4096) + 17,
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = separator(noise), loaded(noise)
    error = float((expected - got).abs().max() / expected.abs().max().clamp(min=1e-12))
    if error > PARITY_TOLERANCE:
        raise ExportError(f"the TorchScript separator differs from Separator (relative error {error:.2e})")
