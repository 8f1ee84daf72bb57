"""Wiener filtering of the mixture STFT from target magnitude estimates.

Everything runs in torch on native complex tensors, on CPU or GPU, for any
number of channels, without Python loops over frames. The filter settings
travel as one :class:`FilterSettings` (validated); the filter functions take
them as one :class:`FilterArgs` (``settings.args()``), a named tuple that
``torch.jit.script`` compiles (the exported TorchScript separator runs this
very code). The mathematical primitives (:func:`wiener`,
:func:`expectation_maximization`, ...) keep norbert-like arguments.

Shapes (frames first, as in ``norbert``):
    v: real ``(frames, bins, channels, sources)``: nonnegative source magnitudes
        (or any power of them)
    x: complex ``(frames, bins, channels)``: the mixture STFT
    y: complex ``(frames, bins, channels, sources)``: source STFT estimates
"""

# no `from __future__ import annotations`: TorchScript reads FilterArgs' annotations as types (it cannot
# resolve them as strings where a module attribute holds a FilterArgs, pytorch issue 95858)
import math
import numbers
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import torch

LOGIT_SLOPE = 15.0


class FilterArgs(NamedTuple):
    """:class:`FilterSettings` as the filter functions take them: one value that TorchScript compiles.

    Made by :meth:`FilterSettings.args` (which validates); the fields are those
    of :class:`FilterSettings`, with 0 for None in ``wiener_win_len`` (the
    whole input at once) and ``bin_chunk`` (all bins at once).
    """

    niter: int
    softmask: bool
    alpha: float
    logit: Optional[float]
    residual: bool
    wiener_win_len: int
    bin_chunk: int


@dataclass(frozen=True)
class FilterSettings:
    """How a separator turns target magnitudes into source spectrograms.

    Carried unchanged from the command line to :class:`~openunmix.separation.separator.Separator`,
    the export and the stream. Invalid values raise ``ValueError`` with a
    one-line message that starts with the setting's name (the command layer
    prints it as ``--<setting> ...``).

    Attributes:
        niter: EM iterations of the Wiener filter (default 1, as upstream's
            ``umx`` and its published scores; 0: the ratio mask alone).
        softmask: start the filter from the ratio mask; otherwise from the
            model magnitudes with the mixture phase.
        alpha: exponent of the magnitudes in the ratio mask and residual model.
        logit: threshold of the logit compression of the ratio mask (None: off).
        residual: add a source for what the targets leave in the mixture
            (a separator of a single target always adds it).
        wiener_win_len: frames filtered at once (the EM's statistics are
            estimated per window); None filters the whole input at once.
        bin_chunk: frequency bins filtered at once (bounds the filter's
            memory, does not change the result); None: all bins at once.
    """

    niter: int = 1
    softmask: bool = True
    alpha: float = 1.0
    logit: Optional[float] = None
    residual: bool = False
    wiener_win_len: Optional[int] = 300
    bin_chunk: Optional[int] = 256

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise the types once, here
        set_(self, "niter", _integer("niter", self.niter, 0))
        set_(self, "softmask", _flag("softmask", self.softmask))
        set_(self, "residual", _flag("residual", self.residual))
        alpha = _real("alpha", self.alpha)
        if alpha <= 0:
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
        set_(self, "alpha", alpha)
        if self.logit is not None:
            logit = _real("logit", self.logit)
            if not 0 < logit < 1:
                raise ValueError(f"logit must be a number > 0 and < 1 (or None: off), got {logit!r}")
            set_(self, "logit", logit)
        for name in ("wiener_win_len", "bin_chunk"):
            if getattr(self, name) is not None:
                set_(self, name, _integer(name, getattr(self, name), 1, " (or None: all at once)"))

    def args(self) -> FilterArgs:
        """These settings as the filter functions take them (:func:`filter_windows`, :func:`filter_window`,
        :func:`wiener_setup`, :func:`wiener_bins`)."""
        return FilterArgs(niter=self.niter, softmask=self.softmask, alpha=self.alpha, logit=self.logit,
                          residual=self.residual, wiener_win_len=self.wiener_win_len or 0,
                          bin_chunk=self.bin_chunk or 0)


def _integer(name: str, value: object, low: int, alternative: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}{alternative}, got {value!r}")
    return int(value)


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _flag(name: str, value: object) -> bool:
    if value not in (True, False):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _eps(x: torch.Tensor) -> float:
    """Machine epsilon of ``x``'s real dtype, without ``torch.finfo`` (which
    TorchScript lacks: :mod:`openunmix.export.scripted` scripts these functions)."""
    dtype = x.real.dtype if x.is_complex() else x.dtype
    if dtype == torch.float64:
        return 2.220446049250313e-16
    if dtype == torch.float16:
        return 0.0009765625
    if dtype == torch.bfloat16:
        return 0.0078125
    return 1.1920928955078125e-07


def logit_compress(mask: torch.Tensor, threshold: float, slope: float = LOGIT_SLOPE) -> torch.Tensor:
    """Soft binarisation of a ratio mask: values above ``threshold`` go towards 1,
    below it towards 0 (a logistic curve of the given ``slope``). Any shape."""
    return torch.sigmoid(slope * (mask - threshold))


def ratio_mask(
    v: torch.Tensor,
    x: torch.Tensor,
    logit: Optional[float] = None,
    eps: Optional[float] = None,
) -> torch.Tensor:
    """Ratio-mask separation: ``y_j = v_j / (eps + sum_k v_k) * x``.

    Args:
        v: ``(frames, bins, channels, sources)`` magnitudes.
        x: complex ``(frames, bins, channels)`` mixture.
        logit: if given, the mask is compressed by :func:`logit_compress`
            with this threshold.
        eps: regulariser (default: machine epsilon of ``x``'s real dtype).

    Returns:
        complex ``(frames, bins, channels, sources)``.
    """
    eps = _eps(x) if eps is None else eps
    total = v[..., 0].clone()  # the sources' sum as adds: torch reduces a short last dimension slowly
    for j in range(1, v.shape[-1]):
        total += v[..., j]
    mask = v / (total + eps).unsqueeze(-1)
    if logit is not None:
        mask = logit_compress(mask, logit)
    return x.unsqueeze(-1) * mask.to(x.real.dtype)


def residual_model(v: torch.Tensor, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Add a source for what the target models leave unexplained in the mixture.

    The targets are first rescaled per ``(bin, channel)`` by the least-squares
    gain that best fits their sum to the mixture spectrogram ``|x|**alpha``;
    the residual is ``max(0, |x|**alpha - sum_j v_j)`` (with the unscaled
    targets), as in ``norbert.contrib.residual_model``.

    Args:
        v: ``(frames, bins, channels, sources)`` magnitudes (to the power ``alpha``).
        x: complex ``(frames, bins, channels)`` mixture.

    Returns:
        ``(frames, bins, channels, sources + 1)``, the residual last.
    """
    eps = _eps(v)
    vx = torch.clamp(x.abs() ** alpha, min=eps).to(v.dtype)
    v_total = v.sum(dim=-1)
    gain = (vx * v_total).sum(dim=0, keepdim=True) / (eps + (v_total**2).sum(dim=0, keepdim=True))
    residual = torch.clamp(vx - v_total, min=0)
    return torch.cat([v * gain.unsqueeze(-1), residual.unsqueeze(-1)], dim=-1)


def _invert(M: torch.Tensor, eps: float) -> torch.Tensor:
    """Inverse of Hermitian ``(..., channels, channels)`` matrices.

    Closed form for 1 and 2 channels, pseudo-inverse (relative cutoff ``eps``)
    for more.
    """
    channels = M.shape[-1]
    if channels == 1:
        return 1.0 / (M + eps)
    if channels == 2:
        a, b = M[..., 0, 0], M[..., 0, 1]
        c, d = M[..., 1, 0], M[..., 1, 1]
        inv_det = 1.0 / (a * d - b * c)
        row0 = torch.stack([d, -b], dim=-1)
        row1 = torch.stack([-c, a], dim=-1)
        return torch.stack([row0, row1], dim=-2) * inv_det[..., None, None]
    return torch.linalg.pinv(M, rtol=eps, hermitian=True)


def local_gaussian_model(y: torch.Tensor, eps: float):
    """Power spectral densities and spatial covariance matrices of the sources.

    Args:
        y: complex ``(frames, bins, channels, sources)``.

    Returns:
        ``(v, R)``: ``v`` real ``(frames, bins, sources)``, the channel-averaged
        power; ``R`` complex ``(bins, channels, channels, sources)``, the
        power-weighted average of ``y y^H`` over frames.
    """
    v = torch.view_as_real(y).square().sum(-1).mean(dim=2)
    R = torch.einsum("tbis,tbjs->bijs", y, y.conj())
    R = R / (eps + v.sum(dim=0))[:, None, None, :]
    return v, R


def expectation_maximization(
    y: torch.Tensor, x: torch.Tensor, iterations: int = 2, eps: Optional[float] = None
) -> torch.Tensor:
    """Refine source estimates with the multichannel EM Wiener filter.

    Each iteration fits a local Gaussian model (PSD ``v_j`` and spatial
    covariance ``R_j``) to the current estimates, then applies the
    multichannel Wiener gain ``v_j R_j C_x^{-1}`` with
    ``C_x = sum_j v_j R_j + sqrt(eps) I``.

    Args:
        y: complex ``(frames, bins, channels, sources)`` initial estimates.
        x: complex ``(frames, bins, channels)`` mixture.

    Returns:
        complex ``(frames, bins, channels, sources)``.
    """
    eps = _eps(x) if eps is None else eps
    channels = x.shape[-1]
    if channels == 2:
        return _em_stereo(y, x, iterations, eps)
    reg = (eps**0.5) * torch.eye(channels, dtype=x.dtype, device=x.device)
    for _ in range(iterations):
        v, R = local_gaussian_model(y, eps)
        Cxx = torch.einsum("tbs,bijs->tbij", v.to(R.dtype), R) + reg
        z = torch.einsum("tbij,tbj->tbi", _invert(Cxx, eps), x)
        y = torch.einsum("bijs,tbj->tbis", R, z) * v.unsqueeze(2)
    return y


def _em_stereo(
    y: torch.Tensor, x: torch.Tensor, iterations: int, eps: float, gain: float = 1.0,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """:func:`expectation_maximization` for 2 channels in closed form, times ``gain``.

    The same computation as the general loop, written out on the entries of
    the Hermitian 2x2 matrices: ``R_j = [[r00, r01], [conj(r01), r11]]`` with
    real diagonals, ``C_x`` likewise, and its inverse from the real
    determinant ``c00 c11 - |c01|^2``. No matrix is materialised and no
    complex array is permuted, so each iteration makes a few passes over
    ``y`` instead of the einsums' copies. ``gain`` scales the last
    iteration's output through the real ``v`` (folding the caller's rescaling
    into the filter).

    Args:
        y: complex ``(frames, bins, 2, sources)``.
        x: complex ``(frames, bins, 2)``.
        out: complex ``(frames, bins, 2, sources)`` (any strides) that receives
            the last iteration's output (default: a new tensor).

    Returns:
        complex ``(frames, bins, 2, sources)``.
    """
    reg = eps**0.5
    x0 = x[:, :, 0]  # (frames, bins)
    x1 = x[:, :, 1]
    for it in range(iterations):
        # |y|^2 and the channel mean as elementwise adds: torch reduces dimensions of size 2 slowly
        parts = torch.view_as_real(y).square()
        power = parts[..., 0] + parts[..., 1]  # (frames, bins, 2, sources)
        v = (power[:, :, 0] + power[:, :, 1]).mul_(0.5)  # (frames, bins, sources)
        weight = 1.0 / (eps + v.sum(0))  # (bins, sources)
        # the spatial covariances' entries, stacked as real (bins, sources, 4): r00, r11, re r01, im r01
        r01 = torch.view_as_real((y[:, :, 0] * y[:, :, 1].conj()).sum(0))
        stats = torch.cat([power.sum(0).transpose(1, 2), r01], dim=-1).mul_(weight.unsqueeze(-1))
        # C_x's entries for every frame in one batched product over the sources: (frames, bins, 4)
        cxx = torch.einsum("tbs,bsk->tbk", v, stats)
        c00 = cxx[:, :, 0] + reg
        c11 = cxx[:, :, 1] + reg
        c01 = torch.complex(cxx[:, :, 2], cxx[:, :, 3])
        inv_det = 1.0 / (c00 * c11 - cxx[:, :, 2].square() - cxx[:, :, 3].square())
        z0 = (x0 * (c11 * inv_det) - x1 * (c01 * inv_det)).unsqueeze(-1)  # (frames, bins, 1)
        z1 = (x1 * (c00 * inv_det) - x0 * (c01.conj() * inv_det)).unsqueeze(-1)
        if it == iterations - 1 and gain != 1.0:
            v = v.mul_(gain)
        r00 = stats[:, :, 0]  # (bins, sources)
        r11 = stats[:, :, 1]
        r01 = torch.complex(stats[:, :, 2], stats[:, :, 3])
        dest = out if (out is not None and it == iterations - 1) else torch.empty_like(y)
        torch.mul(z0 * r00 + z1 * r01, v, out=dest[:, :, 0])
        torch.mul(z0 * r01.conj() + z1 * r11, v, out=dest[:, :, 1])
        y = dest
    if iterations == 0:
        if gain != 1.0:
            y = y * gain
        if out is not None:
            y = out.copy_(y)
    return y


def _em_stereo_fused(
    y: torch.Tensor, x: torch.Tensor, iterations: int, eps: float, gain: float, out: torch.Tensor
) -> None:
    """:func:`_em_stereo` on one block of bins, fused: fewer passes over the estimates, in their native layout.

    The estimates are held channel first, ``(2, bins, frames, sources)``
    (the separator's own layout of the magnitudes: each channel's half
    contiguous, sums over frames along rows), and each iteration makes
    about 10 passes over them instead of 20: ``|y|^2`` once for the
    statistics and the power; the channel mean's 1/2 and the statistics'
    weights are folded into the small ``(bins, sources)`` factors; ``C_x``
    is one batched product over the sources per bin; the new estimates
    ``v_j (z R_j)`` are one batched complex product per channel (the 2x2
    ``R_j`` of every source side by side) and one multiplication by ``v``,
    the last written straight into ``out``. The same computation as
    :func:`_em_stereo` up to float rounding (tests/core/test_filtering.py:
    both against norbert). Run on a block of bins small enough for the
    caches (``bin_chunk``), every pass after the first reads from them.

    Args:
        y: complex ``(frames, bins, 2, sources)`` initial estimates (any strides).
        x: complex ``(frames, bins, 2)`` mixture (any strides).
        gain: scales the output (the caller's rescaling).
        out: complex ``(frames, bins, 2, sources)`` (any strides), receives the last iteration's output.
    """
    reg = eps**0.5
    Y = y.permute(2, 1, 0, 3).contiguous()  # (2, bins, frames, sources)
    x0 = x[:, :, 0].t()  # (bins, frames)
    x1 = x[:, :, 1].t()
    for it in range(iterations):
        parts = torch.view_as_real(Y).square()  # (complex |y|: a slow hypot; real products never mix types)
        power = parts[..., 0] + parts[..., 1]  # |y|^2: (2, bins, frames, sources)
        v2 = power[0] + power[1]  # twice the channel mean v: (bins, frames, sources)
        s00 = power[0].sum(1)  # (bins, sources)
        s11 = power[1].sum(1)
        weight = 0.5 / (eps + 0.5 * (s00 + s11))  # R_j's weight 1 / (eps + sum_t v), times v's 1/2
        s01 = (Y[0] * Y[1].conj()).sum(1) * weight
        r00 = s00 * weight
        r11 = s11 * weight
        # C_x's entries c00, c11, re c01, im c01 of every frame: (bins, frames, sources) @ (bins, sources, 4)
        cxx = torch.bmm(v2, torch.stack([r00, r11, s01.real, s01.imag], dim=-1))
        c00 = cxx[:, :, 0] + reg
        c11 = cxx[:, :, 1] + reg
        c01 = torch.complex(cxx[:, :, 2], cxx[:, :, 3])
        inv_det = 1.0 / (c00 * c11 - cxx[:, :, 2].square() - cxx[:, :, 3].square())
        z = torch.empty([x0.shape[0], x0.shape[1], 2], dtype=Y.dtype, device=Y.device)  # (bins, frames, 2)
        torch.sub(x0 * (c11 * inv_det), x1 * (c01 * inv_det), out=z[:, :, 0])
        torch.sub(x1 * (c00 * inv_det), x0 * (c01.conj() * inv_det), out=z[:, :, 1])
        # y_c = v (z0 R_c0 + z1 R_c1), per bin and channel one real product (frames, 4) @ (4, 2 sources):
        # z's real and imaginary parts against R's entries arranged so that the columns are y_c's real and
        # imaginary parts, source by source; written over the estimates (no longer read)
        if it == iterations - 1 and gain != 1.0:
            r00, r11, s01 = r00 * gain, r11 * gain, s01 * gain
        zero = torch.zeros_like(r00)
        re, im = s01.real, s01.imag
        zr = torch.view_as_real(z).flatten(2)  # (bins, frames, 4): re z0, im z0, re z1, im z1
        for c, rows in ((0, ((r00, zero), (zero, r00), (re, im), (-im, re))),
                        (1, ((re, -im), (im, re), (r11, zero), (zero, r11)))):
            m = torch.stack([torch.stack([a, b], dim=-1).flatten(1) for a, b in rows], dim=1)  # (bins, 4, 2 sources)
            torch.bmm(zr, m, out=torch.view_as_real(Y[c]).flatten(2))
        if it == iterations - 1:
            torch.mul(Y, v2, out=out.permute(2, 1, 0, 3))  # (a complex product writes the transposed layout
        else:  # faster than one on the real and imaginary parts)
            torch.view_as_real(Y).mul_(v2.unsqueeze(-1))


def wiener(
    v: torch.Tensor,
    x: torch.Tensor,
    iterations: int = 1,
    softmask: bool = True,
    residual: bool = False,
    alpha: float = 1.0,
    logit: Optional[float] = None,
    eps: Optional[float] = None,
    bin_chunk: Optional[int] = None,
) -> torch.Tensor:
    """Separate the mixture ``x`` given source magnitudes ``v``.

    The initial estimates are a ratio mask (``softmask=True``, optionally
    logit-compressed) or the magnitudes with the mixture phase
    (``softmask=False``); ``iterations`` EM steps then refine them
    (``iterations=0`` returns the initial estimates). With ``residual``, one
    more source models what the targets leave in the mixture
    (:func:`residual_model`). With the defaults of ``alpha``/``logit``/``eps``
    this equals ``norbert.wiener(residual_model(v, x) if residual else v, x,
    iterations, use_softmask=softmask)``.

    Args:
        v: real ``(frames, bins, channels, sources)`` target magnitudes.
        x: complex ``(frames, bins, channels)`` mixture STFT.
        alpha: exponent applied to ``v`` for the ratio mask and the residual
            model (ignored without ``softmask``).
        logit: threshold of the logit compression of the ratio mask.
        bin_chunk: filter this many frequency bins at a time (None or 0: all).
            Every step works on each bin independently, so the result is the
            same; only the peak memory of the temporaries shrinks.

    Returns:
        complex ``(frames, bins, channels, sources[+1])``.
    """
    args = FilterArgs(niter=iterations, softmask=softmask, alpha=alpha, logit=logit, residual=residual,
                      wiener_win_len=0, bin_chunk=0 if bin_chunk is None else bin_chunk)
    return _wiener(v, x, args, eps)


def _wiener(v: torch.Tensor, x: torch.Tensor, args: FilterArgs, eps: Optional[float],
            fused: bool = True) -> torch.Tensor:
    """:func:`wiener` with its settings as one :class:`FilterArgs` (``wiener_win_len`` unused).

    ``fused=False``: the stereo EM of before the fused one (:func:`_em_stereo`), for benchmarks/wiener.py.

    Args:
        v: real ``(frames, bins, channels, sources)`` target magnitudes.
        x: complex ``(frames, bins, channels)`` mixture STFT.

    Returns:
        complex ``(frames, bins, channels, sources[+1])``.
    """
    scale, out, chunks = wiener_setup(v, x, args)
    for b, e in chunks:
        _wiener_bins(v[:, b:e], x[:, b:e], args, eps, scale, out[:, b:e], fused)
    return out


def wiener_setup(v: torch.Tensor, x: torch.Tensor,
                 args: FilterArgs) -> Tuple[float, torch.Tensor, List[Tuple[int, int]]]:
    """What :func:`wiener` fixes before it filters its chunks of bins: the scale, the output and the chunks.

    The chunks are independent: :func:`wiener_bins` on each of them, in any
    order or at the same time, fills ``out`` as :func:`wiener` does.
    ``args.niter``, ``args.residual`` and ``args.bin_chunk`` matter here.

    Args:
        v: real ``(frames, bins, channels, targets)`` target magnitudes.
        x: complex ``(frames, bins, channels)`` mixture STFT.

    Returns:
        ``(scale, out, chunks)``: the mixture scale (the EM runs on the
        mixture divided by it, as norbert does); ``out`` complex
        ``(frames, bins, channels, sources[+1])`` (uninitialised, in the
        layout the inverse STFT reads); ``[(first bin, end bin), ...]``.
    """
    # scale to a range where the regularisation is meaningful, as norbert does
    scale = 1.0
    if args.niter > 0 and x.numel() > 0:
        parts = torch.view_as_real(x).square()  # |x|^2 without complex abs (a slow hypot)
        scale = max(1.0, float((parts[..., 0] + parts[..., 1]).max().sqrt()) / 10.0)
    frames, bins, channels = x.shape[0], x.shape[1], x.shape[2]
    sources = v.shape[-1] + 1 if args.residual else v.shape[-1]
    # sources, channels, frames, bins in memory: the layout the inverse STFT reads
    # (bins contiguous), seen as (frames, bins, channels, sources)
    out = torch.empty([sources, channels, frames, bins], dtype=x.dtype, device=x.device).permute(2, 3, 1, 0)
    step = max(bins, 1)
    if 0 < args.bin_chunk < bins:
        step = args.bin_chunk
    chunks: List[Tuple[int, int]] = []
    for b in range(0, bins, step):
        chunks.append((b, min(b + step, bins)))
    return scale, out, chunks


def wiener_bins(v: torch.Tensor, x: torch.Tensor, args: FilterArgs, scale: float, out: torch.Tensor,
                first: int, end: int) -> None:
    """:func:`wiener` on the bins ``first:end`` into ``out`` (from :func:`wiener_setup`), default ``eps``.

    Args:
        v: real ``(frames, bins, channels, targets)`` target magnitudes, of all bins.
        x: complex ``(frames, bins, channels)`` mixture STFT, of all bins.
        args: the settings given to :func:`wiener_setup`.
        out: complex ``(frames, bins, channels, sources[+1])``, of all bins; the bins ``first:end`` are written.
    """
    _wiener_bins(v[:, first:end], x[:, first:end], args, None, scale, out[:, first:end])


def _wiener_bins(v: torch.Tensor, x: torch.Tensor, args: FilterArgs, eps: Optional[float], scale: float,
                 out: torch.Tensor, fused: bool = True) -> None:
    """:func:`wiener` on a range of bins into ``out``, with the mixture scale fixed by the caller.

    Shapes as in :func:`wiener`: ``v`` real ``(frames, bins, channels, targets)``, ``x`` complex
    ``(frames, bins, channels)``; ``out`` is complex ``(frames, bins, channels, sources[+1])``.
    """
    iterations, softmask, alpha = args.niter, args.softmask, args.alpha
    if softmask and alpha != 1.0:
        v = v**alpha
    if args.residual:
        v = residual_model(v, x, alpha if softmask else 1.0)
    # the EM is not scale-invariant (eps): it starts from estimates of the mixture scaled by 1 / scale,
    # and the filter scales its output back. The ratio mask is linear in x: it starts from the scaled
    # mixture; the magnitudes with the mixture phase are scaled themselves, as norbert does.
    xs = x / scale if scale != 1.0 else x
    if softmask:
        y = ratio_mask(v, xs, args.logit, eps)
    else:
        # mixture phase; sgn(0) = 0 keeps silent bins silent (norbert's exp(i*angle(0)) = 1 would not)
        vs = v / scale if scale != 1.0 else v
        y = vs.to(x.real.dtype) * torch.sgn(xs).unsqueeze(-1)
    if iterations == 0:
        out.copy_(y)
    elif x.shape[-1] == 2 and fused:
        _em_stereo_fused(y, xs, iterations, _eps(x) if eps is None else eps, scale, out)
    elif x.shape[-1] == 2:
        _em_stereo(y, xs, iterations, _eps(x) if eps is None else eps, scale, out)
    else:
        out.copy_(expectation_maximization(y, xs, iterations, eps)).mul_(scale)


def windows(batch: int, frames: int, wiener_win_len: Optional[int]) -> List[Tuple[int, int, int]]:
    """The windows the filter works on, ``(item, first frame, end frame)``, item after item.

    ``wiener_win_len`` frames each (None or 0: the whole input at once); the
    EM's statistics are estimated per window, as upstream does. No tensors.
    """
    win = frames if wiener_win_len is None or wiener_win_len <= 0 else wiener_win_len
    win = max(win, 1)
    found: List[Tuple[int, int, int]] = []
    for item in range(batch):
        for start in range(0, frames, win):
            found.append((item, start, min(start + win, frames)))
    return found


def filter_window(V: torch.Tensor, X: torch.Tensor, args: FilterArgs) -> torch.Tensor:
    """:func:`wiener` on one batch item's window, in the separator's layout, with the settings ``args``.

    ``args.wiener_win_len`` does not apply (the caller cut the window).

    Args:
        V: target magnitudes ``(channels, bins, frames, targets)``.
        X: complex mixture ``(channels, bins, frames)``.

    Returns:
        complex ``(sources, channels, bins, frames)``.
    """
    y = _wiener(V.permute(2, 1, 0, 3), X.permute(2, 1, 0), args, None)
    return y.permute(3, 2, 1, 0)


def filter_windows(V: torch.Tensor, X: torch.Tensor, args: FilterArgs) -> torch.Tensor:
    """Wiener-filter a batch window by window (:func:`windows`, :func:`filter_window`).

    ``args`` are the settings (:meth:`FilterSettings.args`), one value that
    TorchScript compiles.

    Args:
        V: target magnitudes ``(batch, channels, bins, frames, targets)``.
        X: complex mixture ``(batch, channels, bins, frames)``.

    Returns:
        complex ``(batch, sources, channels, bins, frames)``.
    """
    batch, channels, bins, frames = X.shape[0], X.shape[1], X.shape[2], X.shape[3]
    sources = V.shape[-1] + 1 if args.residual else V.shape[-1]
    Y = torch.empty([batch, sources, channels, bins, frames], dtype=X.dtype, device=X.device)
    for item, start, end in windows(batch, frames, args.wiener_win_len):
        Y[item, :, :, :, start:end] = filter_window(V[item, :, :, start:end], X[item, :, :, start:end], args)
    return Y
