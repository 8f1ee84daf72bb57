"""A separator that TorchScript can compile, for deployment without Python or this package.

:class:`ScriptableSeparator` computes what :class:`~openunmix.model.Separator`
computes (STFT, target models, windowed Wiener filter, inverse STFT) in the
subset of Python that ``torch.jit.script`` compiles: no generators and no
Python helper classes. The target models, the STFT modules and the filter
functions of :mod:`openunmix.filtering` are the package's own, compiled as
they are; only the loops over batch items, time windows and frequency-bin
chunks are written here again. The one difference to ``Separator.forward``
is that the inverse STFT runs on the whole filtered spectrum at once instead
of window by window (same result, more memory on long inputs).

``torch.jit.script`` is deprecated in torch 2.13 but works; its successor
``torch.export`` fixes the number of frames an ``nn.LSTM`` sees to that of
the example input, so it cannot yet give a separator for inputs of any length.

Shapes (as in :mod:`openunmix.model`):
    waveform:  ``(batch, channels, samples)``
    spectrum:  complex ``(batch, channels, bins, frames)``
    magnitude: real ``(batch, channels, bins, frames)``
    estimates: ``(batch, sources, channels, samples)``
"""

from typing import List, Mapping, Optional

import torch
from torch import nn

from .filtering import expectation_maximization, ratio_mask, residual_model
from .model import OpenUnmix, Separator, residual_name
from .transforms import ComplexNorm, make_filterbanks


class ScriptableSeparator(nn.Module):
    """:class:`~openunmix.model.Separator` in compilable form; the filter settings are fixed.

    Args:
        target_models: ``{name: OpenUnmix}`` sharing STFT settings and channels.
        niter, softmask, alpha, logit, residual, wiener_win_len, bin_chunk:
            the filter settings, as in :class:`~openunmix.model.Separator`.
        sample_rate, n_fft, n_hop, nb_channels: the models' settings.

    After ``torch.jit.script``, the compiled module keeps the attributes
    ``source_names``, ``targets``, ``sample_rate``, ``n_fft``, ``n_hop``,
    ``nb_channels`` and the filter settings for whoever loads it.
    """

    logit: Optional[float]
    source_names: List[str]
    targets: List[str]

    def __init__(
        self,
        target_models: Mapping[str, OpenUnmix],
        niter: int = 0,
        softmask: bool = True,
        alpha: float = 1.0,
        logit: Optional[float] = None,
        residual: bool = False,
        sample_rate: float = 44100.0,
        n_fft: int = 4096,
        n_hop: int = 1024,
        nb_channels: int = 2,
        wiener_win_len: Optional[int] = 300,
        bin_chunk: Optional[int] = 256,
    ):
        super().__init__()
        for name, model in target_models.items():
            if not isinstance(model, OpenUnmix):
                raise ValueError(f"'{name}' is a {type(model).__name__}, not an OpenUnmix target model "
                                 "(joint models such as X-UMX are not supported)")
        self.targets = list(target_models.keys())
        self.residual = bool(residual) or len(self.targets) == 1
        self.source_names = self.targets + [residual_name(self.targets)] if self.residual else list(self.targets)
        self.target_models = nn.ModuleList(list(target_models.values()))
        self.niter = int(niter)
        self.softmask = bool(softmask)
        self.alpha = float(alpha)
        self.logit = None if logit is None else float(logit)
        self.sample_rate = float(sample_rate)
        self.n_fft = int(n_fft)
        self.n_hop = int(n_hop)
        self.nb_channels = int(nb_channels)
        self.wiener_win_len = int(wiener_win_len or 0)  # 0: the whole input at once
        self.bin_chunk = int(bin_chunk or 0)  # 0: all bins at once
        self.stft, self.istft = make_filterbanks(n_fft, n_hop, center=True)
        self.complexnorm = ComplexNorm(mono=nb_channels == 1)

    @classmethod
    def from_separator(cls, separator: Separator) -> "ScriptableSeparator":  # noqa: F821
        """The same models and settings as ``separator`` (the models are shared, not copied)."""
        return cls(
            dict(separator.target_models.items()), niter=separator.niter, softmask=separator.softmask,
            alpha=separator.alpha, logit=separator.logit, residual=separator.residual,
            sample_rate=separator.sample_rate, n_fft=separator.n_fft, n_hop=separator.n_hop,
            nb_channels=separator.nb_channels, wiener_win_len=separator.wiener_win_len,
            bin_chunk=separator.bin_chunk,
        )

    def wiener(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """:func:`openunmix.filtering.wiener` with this separator's settings.

        Args:
            v: real ``(frames, bins, channels, targets)`` target magnitudes.
            x: complex ``(frames, bins, channels)`` mixture STFT.

        Returns:
            complex ``(frames, bins, channels, sources)``.
        """
        scale = 1.0
        if self.niter > 0 and x.numel() > 0:
            scale = max(1.0, float(x.abs().max()) / 10.0)
        bins = x.shape[1]
        chunk = self.bin_chunk if 0 < self.bin_chunk < bins else bins
        out = torch.empty(list(x.shape) + [len(self.source_names)], dtype=x.dtype, device=x.device)
        for b in range(0, bins, chunk):
            out[:, b : b + chunk] = self._wiener_bins(v[:, b : b + chunk], x[:, b : b + chunk], scale)
        return out

    def _wiener_bins(self, v: torch.Tensor, x: torch.Tensor, scale: float) -> torch.Tensor:
        """:meth:`wiener` on a range of bins, with the mixture scale fixed by the caller."""
        if self.softmask and self.alpha != 1.0:
            v = v**self.alpha
        if self.residual:
            v = residual_model(v, x, self.alpha if self.softmask else 1.0)
        if self.softmask:
            y = ratio_mask(v, x, self.logit, None)
        else:
            y = v.to(x.real.dtype) * torch.sgn(x).unsqueeze(-1)
        if self.niter == 0:
            return y
        return expectation_maximization(y / scale, x / scale, self.niter, None) * scale

    def filter(self, V: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """Wiener-filter a batch in windows of ``wiener_win_len`` frames.

        Args:
            V: target magnitudes ``(batch, channels, bins, frames, targets)``.
            X: complex mixture ``(batch, channels, bins, frames)``.

        Returns:
            complex ``(batch, sources, channels, bins, frames)``.
        """
        batch, channels, bins, frames = X.shape
        win = self.wiener_win_len if self.wiener_win_len > 0 else max(frames, 1)
        Y = torch.empty([batch, len(self.source_names), channels, bins, frames], dtype=X.dtype, device=X.device)
        for b in range(batch):
            for t in range(0, frames, win):
                v = V[b, :, :, t : t + win].permute(2, 1, 0, 3)  # (frames, bins, channels, targets)
                x = X[b, :, :, t : t + win].permute(2, 1, 0)  # (frames, bins, channels)
                Y[b, :, :, :, t : t + win] = self.wiener(v, x).permute(3, 2, 1, 0)
        return Y

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Separate.

        Args:
            audio: ``(batch, channels, samples)`` at ``sample_rate``.

        Returns:
            ``(batch, sources, channels, samples)``, sources as in ``source_names``.
        """
        if self.nb_channels == 1 and audio.shape[1] != 1:
            raise ValueError("a mono model needs mono input")
        X = self.stft(audio)
        mag = self.complexnorm(X)
        estimates: List[torch.Tensor] = []
        for model in self.target_models:
            estimates.append(model(mag))
        V = torch.stack(estimates, dim=-1)
        return self.istft(self.filter(V, X), audio.shape[-1])


def script_separator(separator: Separator) -> torch.jit.ScriptModule:
    """``separator`` compiled by TorchScript (frozen models, same settings)."""
    return torch.jit.script(ScriptableSeparator.from_separator(separator).eval())
