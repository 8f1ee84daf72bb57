"""CrossNet-Open-Unmix (``xumx``, Sawata et al., ICASSP 2021): four Open-Unmix branches joined by two bridges.

Model. Every branch is an :class:`~openunmix.architectures.umx.OpenUnmix` (its own input
and output scaling, fc1/BN/tanh encoder, LSTM, fc2/fc3 decoder and mask).
The bridges add no weights:

* bridge 1: the branches' encoder outputs are averaged, and the average is
  the input of every branch's LSTM;
* bridge 2: the branches' ``[encoder output ‖ LSTM output]`` concatenations
  are averaged, and the average is the input of every branch's decoder.

Parameter names show the branch: ``branches.<target>.<OpenUnmix name>``
(e.g. ``branches.vocals.fc1.weight``), so ``branches.vocals`` holds exactly
the parameters of an upstream-style vocals model. The model runs once for
all its targets (a joint model: output ``(batch, channels, bins, frames,
targets)``).

Folder format: one pair of files beside (or instead of) per-target ones:

* ``xumx.pth``: the state dict;
* ``xumx.json``: ``"architecture": "xumx"``, ``"targets"`` (branch order),
  the settings Open-Unmix files hold (nfft, nhop, nb_channels, hidden_size,
  nb_layers, unidirectional, max_bin, sample_rate), training arguments and
  history.

Training: all targets at once with the multi-domain loss

    loss = freq + mcoef * time

averaged over source groupings: every single source and, with the
combination loss, every sum of two and of three sources (4 + 6 + 4 = 14
groupings for four sources). For a grouping ``G`` the estimate and the
reference are the sums over ``G`` of the sources' magnitudes (``freq``: mean
squared error) or waveforms (``time``: weighted SDR loss,
:func:`openunmix.losses.weighted_sdr_loss`, of the inverse STFT of the
estimated magnitudes with the mixture's phase). Options ``mcoef`` and
``combination`` (flags ``--mcoef``, ``--no-combination``); datasets: musdb
only (every item needs all four sources).

Shapes follow :mod:`openunmix.separation.separator`: magnitude ``(batch, channels, bins,
frames)``; several targets stacked last; waveforms ``(batch, sources,
channels, samples)``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import losses
from ..data.sources import MUSDB_SOURCES
from .folder import (
    ModelConfig,
    flatten,
    load_state,
    read_json,
    save_model_files,
    state_dict_from_file,
    stft_settings,
)
from ..transforms import ISTFT, STFT, ComplexNorm
from ..utils import ModelError, PathLike, frozen, setting_number
from .base import ArchitectureError
from .registry import DEFAULT, register
from .base import MAGNITUDE, Architecture, Capabilities, TrainingOption, TrainingPart
from .umx import (
    _BIDIRECTIONAL,
    MODEL_OPTIONS,
    OpenUnmix,
    check_model_options,
    checkpoint_settings,
    config_from_state,
    model_options,
    model_settings,
    run_config,
)

NAME = "xumx"
STEM = "xumx"  # file stem of an X-UMX model: xumx.pth, xumx.json
XUMX_TARGETS = MUSDB_SOURCES  # vocals, drums, bass, other


# ---------------------------------------------------------------- model


class CrossNetOpenUnmix(nn.Module):
    """Joint model of several targets with averaged encoder and skip features.

    Args:
        branch_names: the targets, one branch each, in output order
            (default: vocals, drums, bass, other).
        nb_bins, nb_channels, hidden_size, nb_layers, unidirectional,
        input_mean, input_scale, max_bin: as :class:`~openunmix.architectures.umx.OpenUnmix`,
            the same for every branch.

    Attributes:
        targets: the targets :meth:`forward` returns, in order; all branches
            unless narrowed by :meth:`select_targets` (every branch still runs:
            the bridges need them all).
    """

    def __init__(
        self,
        branch_names: Sequence[str] = XUMX_TARGETS,
        nb_bins: int = 4096 // 2 + 1,
        nb_channels: int = 2,
        hidden_size: int = 512,
        nb_layers: int = 3,
        unidirectional: bool = False,
        input_mean: Optional[np.ndarray] = None,
        input_scale: Optional[np.ndarray] = None,
        max_bin: Optional[int] = None,
    ):
        super().__init__()
        names = list(branch_names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"X-UMX needs at least two distinct branches, got {names}")
        self.branches = nn.ModuleDict({
            name: OpenUnmix(nb_bins=nb_bins, nb_channels=nb_channels, hidden_size=hidden_size,
                            nb_layers=nb_layers, unidirectional=unidirectional, input_mean=input_mean,
                            input_scale=input_scale, max_bin=max_bin)
            for name in names
        })
        first = self.branches[names[0]]
        self.nb_output_bins = first.nb_output_bins
        self.nb_bins = first.nb_bins
        self.nb_channels = nb_channels
        self.hidden_size = hidden_size
        self.nb_layers = nb_layers
        self.unidirectional = unidirectional
        self.targets: List[str] = list(names)
        self.all_outputs = True
        # not in the state dict: which branch outputs forward returns
        self.register_buffer("output_index", torch.arange(len(names)), persistent=False)

    @property
    def branch_names(self) -> List[str]:
        """Every branch, in construction order."""
        return list(self.branches.keys())

    def select_targets(self, targets: Sequence[str]) -> "CrossNetOpenUnmix":
        """Return only ``targets`` (a subset of the branches, in this order) from :meth:`forward`."""
        names = self.branch_names
        unknown = [t for t in targets if t not in names]
        if unknown or not targets:
            raise ValueError(f"unknown X-UMX target(s) {unknown or list(targets)}; the branches are {names}")
        self.targets = list(targets)
        self.all_outputs = self.targets == names
        index = torch.tensor([names.index(t) for t in targets], device=self.output_index.device)
        self.output_index = index
        return self

    def freeze(self) -> "CrossNetOpenUnmix":
        """Inference only: no gradients, eval mode."""
        return frozen(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Estimate every target magnitude at once.

        Args:
            x: mixture magnitude ``(batch, channels, bins, frames)``.

        Returns:
            target magnitudes ``(batch, channels, bins, frames, targets)``,
            targets as in :attr:`targets`.
        """
        # loops over the ModuleDict (not a Python list of branches) keep the model scriptable
        encoded: List[torch.Tensor] = []
        for branch in self.branches.values():
            encoded.append(branch.encode(x))  # (frames, batch, hidden)
        shared = torch.stack(encoded).mean(0)  # bridge 1
        skips: List[torch.Tensor] = []
        i = 0
        for branch in self.branches.values():
            skips.append(torch.cat([encoded[i], branch.lstm(shared)[0]], dim=-1))
            i += 1
        skip = torch.stack(skips).mean(0)  # bridge 2: (frames, batch, 2 * hidden)
        masks: List[torch.Tensor] = []
        for branch in self.branches.values():
            masks.append(branch.decode(skip, x))
        out = torch.stack(masks, dim=-1)
        if self.all_outputs:
            return out
        return out.index_select(-1, self.output_index)


def _new_model(targets: Sequence[str], config: ModelConfig, input_mean: Optional[np.ndarray] = None,
               input_scale: Optional[np.ndarray] = None) -> CrossNetOpenUnmix:
    return CrossNetOpenUnmix(targets, **model_options(config), input_mean=input_mean, input_scale=input_scale)


# ---------------------------------------------------------------- loss


def source_groups(nb_sources: int, combination: bool = True) -> List[Tuple[int, ...]]:
    """Index groupings the X-UMX loss averages over.

    Every single source; with ``combination``, also every set of 2 .. ``nb_sources - 1``
    sources (the whole set is left out: its sum is the mixture). Four sources
    give 4 groupings without and 14 with the combination loss.
    """
    sizes = range(1, nb_sources) if combination else range(1, 2)
    groups = [g for k in sizes for g in itertools.combinations(range(nb_sources), k)]
    return groups or [(0,)]


def _group_matrix(groups: List[Tuple[int, ...]], nb_sources: int, like: torch.Tensor) -> torch.Tensor:
    """``(groups, sources)`` 0/1 matrix: row ``g`` selects the sources of grouping ``g``."""
    G = torch.zeros(len(groups), nb_sources, dtype=like.dtype, device=like.device)
    for i, g in enumerate(groups):
        G[i, list(g)] = 1.0
    return G


def _grouped_wsdr(wav_estimate: torch.Tensor, wav_reference: torch.Tensor, mixture: torch.Tensor,
                  G: torch.Tensor, eps: float = losses.EPS) -> torch.Tensor:
    """:func:`~openunmix.losses.weighted_sdr_loss` of every grouping's summed waveforms, averaged, from inner products.

    Every signal the loss needs (a grouping's estimate and target, and the two
    noises) is a combination with coefficients 0 or ±1 of the basis
    ``[ŝ_k - s_k, s_k, x - Σ s_k]``, so all inner products come from one Gram
    matrix of that basis per batch item and channel: no grouping's waveform is
    ever formed. (The basis keeps the terms of the same size: no large
    cancelling sums in float32.)

    Args:
        wav_estimate, wav_reference: ``(batch, sources, channels, samples)``.
        mixture: ``(batch, channels, samples)``.
        G: ``(groups, sources)`` from :func:`_group_matrix`.
    """
    basis = torch.cat([wav_estimate - wav_reference, wav_reference,
                       (mixture - wav_reference.sum(1))[:, None]], dim=1)  # (batch, 2k+1, channels, samples)
    basis = basis.transpose(1, 2)  # (batch, channels, 2k+1, samples)
    Q = basis @ basis.transpose(-1, -2)  # (batch, channels, 2k+1, 2k+1)
    zeros = torch.zeros_like(G)
    one = torch.ones_like(G[:, :1])
    d_g = torch.cat([G, zeros, 0 * one], 1)  # Σ_G (ŝ - s)
    s_g = torch.cat([zeros, G, 0 * one], 1)  # s_G
    n_g = torch.cat([zeros, 1 - G, one], 1)  # x - s_G
    est, noise_est = s_g + d_g, n_g - d_g  # ŝ_G and x - ŝ_G

    def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # (batch, channels, groups)
        return torch.einsum("gi,bcij,gj->bcg", a, Q, b)

    s_energy, n_energy = inner(s_g, s_g), inner(n_g, n_g)
    cos_s = inner(s_g, est) / (torch.sqrt(s_energy + eps) * torch.sqrt(inner(est, est) + eps))
    cos_n = inner(n_g, noise_est) / (torch.sqrt(n_energy + eps) * torch.sqrt(inner(noise_est, noise_est) + eps))
    alpha = s_energy / (s_energy + n_energy + eps)
    return -(alpha * cos_s + (1 - alpha) * cos_n).mean()


class _Gram(torch.autograd.Function):
    """``dᵀ d`` of a ``(rows, k)`` matrix, summed in float64 and returned in ``d``'s dtype.

    The rows are every value of a batch (355k for 4 excerpts of 1 s at n_fft 512,
    17M for the default training). A float32 matrix product sums them with an
    accuracy that depends on the BLAS kernel: MKL's SSE4.2 path (which AMD CPUs
    may get) was 4e-4 off in relative terms where its AVX-512 path was 1e-7, so the
    loss of the same batch differed between CPUs, and between one process and a
    batch split over two, far beyond float32 rounding. Summed in float64, it is
    correct to float32 rounding on every kernel. The gradient ``d (g + gᵀ)`` sums
    ``k`` terms per value and stays in ``d``'s dtype.
    """

    CHUNK = 1 << 18  # rows converted to float64 at a time

    @staticmethod
    def forward(ctx: Any, d: torch.Tensor) -> torch.Tensor:
        """``d``: ``(rows, k)`` -> ``(k, k)``."""
        ctx.save_for_backward(d)
        gram = d.new_zeros((d.shape[1], d.shape[1]), dtype=torch.float64)
        with torch.autocast(d.device.type, enabled=False):
            for part in d.split(_Gram.CHUNK):
                part = part.double()
                gram += part.transpose(0, 1) @ part
        return gram.to(d.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        """``grad``: ``(k, k)`` -> ``(rows, k)``."""
        (d,) = ctx.saved_tensors
        return d @ (grad + grad.transpose(0, 1))


def multi_domain_loss(
    mag_estimate: torch.Tensor,
    mag_reference: torch.Tensor,
    wav_estimate: torch.Tensor,
    wav_reference: torch.Tensor,
    mixture: torch.Tensor,
    mcoef: float = 10.0,
    combination: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The X-UMX loss: ``freq + mcoef * time``, both averaged over :func:`source_groups`.

    No grouping's sum is formed: the squared errors of all groupings come from
    the ``(sources, sources)`` Gram matrix of the magnitude errors, and the
    weighted SDR terms from inner products of the waveforms (see
    :func:`_grouped_wsdr`); the values are those of the definitions.

    Args:
        mag_estimate, mag_reference: ``(batch, channels, bins, frames, sources)``.
        wav_estimate, wav_reference: ``(batch, sources, channels, samples)``.
        mixture: ``(batch, channels, samples)``.
        mcoef: weight of the time-domain term.
        combination: also average over sums of 2 .. sources - 1 sources.

    Returns:
        ``(total, freq, time)``, scalars.
    """
    nb_sources = mag_estimate.shape[-1]
    G = _group_matrix(source_groups(nb_sources, combination), nb_sources, mag_estimate)
    diff = (mag_estimate - mag_reference).reshape(-1, nb_sources)
    gram = _Gram.apply(diff)  # (sources, sources), summed in float64: the same on every BLAS kernel
    # Σ over values of (Σ_{k in g} diff_k)² = a_gᵀ gram a_g; the mean over values and groupings
    freq = ((G @ gram) * G).sum() / (diff.shape[0] * G.shape[0])
    time = mag_estimate.new_zeros(())
    if mcoef:
        time = _grouped_wsdr(wav_estimate, wav_reference, mixture, G.to(wav_estimate.dtype))
    return freq + mcoef * time, freq, time


# ---------------------------------------------------------------- folder format


def xumx_targets(model_dir: PathLike) -> List[str]:
    """The targets of the folder's X-UMX model (``[]`` without ``xumx.json`` and ``xumx.pth``)."""
    model_dir = Path(model_dir)
    js, pth = model_dir / f"{STEM}.json", model_dir / f"{STEM}.pth"
    if not (js.is_file() and pth.is_file()):
        return []
    targets = read_json(js).get("targets")
    if (not isinstance(targets, list) or len(targets) < 2 or not all(isinstance(t, str) and t for t in targets)
            or len(set(targets)) != len(targets)):
        raise ModelError(f"{js}: 'targets' must list two or more distinct target names")
    return targets


def read_xumx_config(model_dir: PathLike) -> Tuple[ModelConfig, List[str], Dict[str, torch.Tensor]]:
    """Read and validate ``xumx.json`` and ``xumx.pth``.

    Returns:
        the settings (shared by every branch; ``target`` is ``'xumx'``), the
        branch names in order, and the state dict.

    Raises:
        ModelError: missing or malformed files, or branches whose shapes do not
            match the json.
    """
    model_dir = Path(model_dir)
    js, pth = model_dir / f"{STEM}.json", model_dir / f"{STEM}.pth"
    if not js.is_file() or not pth.is_file():
        raise ModelError(f"{model_dir}: no X-UMX model (expected {js.name} and {pth.name})")
    targets = xumx_targets(model_dir)
    settings = flatten(js, read_json(js))
    sample_rate, n_fft, n_hop, nb_channels = stft_settings(js, settings)
    hidden_size = setting_number(js, settings, "hidden_size", int, 2, 65536, default=512)
    state = state_dict_from_file(pth)
    config = None
    for target in targets:
        prefix = f"branches.{target}."
        branch = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        found = config_from_state(branch, STEM, sample_rate, n_fft, n_hop, nb_channels, hidden_size,
                                  path=f"{pth} (branch {target})", settings=js.name)
        if config is not None and found != config:
            raise ModelError(f"{pth}: branch '{target}' differs in shape from branch '{targets[0]}'")
        config = found
    assert config is not None
    return config, targets, state


def load_xumx_model(
    model_dir: PathLike, targets: Optional[Sequence[str]] = None, device: Union[str, torch.device] = "cpu"
) -> Tuple[ModelConfig, CrossNetOpenUnmix]:
    """The folder's X-UMX model, frozen, returning ``targets`` (default: all branches).

    Returns:
        ``(config, model)``.
    """
    config, branches, state = read_xumx_config(model_dir)
    model = _new_model(branches, config)
    load_state(model, state, Path(model_dir) / f"{STEM}.pth", "its json")
    try:
        model.select_targets(list(targets) if targets else branches)
    except ValueError as err:
        raise ModelError(f"{model_dir}: {err}") from None
    return config, model.to(device).freeze()


def save_xumx_model(
    model_dir: PathLike,
    model: CrossNetOpenUnmix,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write ``xumx.pth`` and ``xumx.json`` atomically, with the settings Open-Unmix files hold.

    ``separator.json`` lists the X-UMX targets beside any others of the folder.
    """
    save_model_files(model_dir, STEM, model.state_dict(), model_settings(model, n_fft, n_hop), sample_rate,
                     model.branch_names, identity={"architecture": NAME, "targets": list(model.branch_names)},
                     extra=extra)


# ---------------------------------------------------------------- training


class XUMXPart(TrainingPart):
    """X-UMX's training part: vocals, drums, bass and other jointly, multi-domain loss.

    Args:
        nb_channels: the run's channels.
        options: the architecture's checked options (the branches' model
            settings, ``mcoef``: weight of the time-domain (weighted SDR) term,
            ``combination``: also average the loss over sums of two and three
            sources).
    """

    name = NAME
    loss_label = "freq MSE + mcoef x wSDR"
    log_scale = False  # the weighted SDR term is negative

    def __init__(self, nb_channels: int, options: Mapping[str, Any]):
        n_fft, n_hop = options["nfft"], options["nhop"]
        self.stem = STEM
        self.targets = XUMX_TARGETS
        self.options = dict(options)
        self.n_fft, self.n_hop, self.nb_channels = n_fft, n_hop, nb_channels
        self.statistics = (n_fft, n_hop)
        self.min_valid_samples = n_hop
        self.mcoef = float(options["mcoef"])
        self.combination = bool(options["combination"])
        self.stft = STFT(n_fft, n_hop)
        self.istft = ISTFT(n_fft, n_hop)
        self.norm = ComplexNorm(mono=nb_channels == 1)

    def to(self, device: torch.device) -> "XUMXPart":
        self.stft, self.istft = self.stft.to(device), self.istft.to(device)
        return self

    def dataset_options(self, dataset: str) -> Dict[str, Any]:
        """Items carry every target: ``(mixture, (targets, channels, samples))``."""
        if dataset != "musdb":
            raise ArchitectureError(
                f"--architecture {NAME} trains on --dataset musdb (all four sources), not {dataset}")
        return {"joint_targets": self.targets}

    def new_model(self, sample_rate: float, statistics: Optional[Tuple[np.ndarray, np.ndarray]]) -> nn.Module:
        config = run_config(STEM, sample_rate, self.nb_channels, self.options, architecture=NAME)
        return _new_model(self.targets, config, *(statistics or (None, None)))

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        return {**checkpoint_settings(model), "architecture": self.name, "targets": list(model.branch_names)}

    def model_from_arch(self, arch: Mapping[str, Any]) -> nn.Module:
        self.check_arch(arch, DEFAULT)
        return CrossNetOpenUnmix(arch["targets"], nb_bins=arch["nb_bins"], nb_channels=arch["nb_channels"],
                                 hidden_size=arch["hidden_size"], nb_layers=arch["nb_layers"],
                                 unidirectional=arch["unidirectional"], max_bin=arch["max_bin"])

    def load_folder(self, model_dir: PathLike) -> nn.Module:
        config, targets, state = read_xumx_config(model_dir)
        if tuple(targets) != tuple(self.targets):
            raise ModelError(f"{model_dir}: its X-UMX targets {targets} are not {list(self.targets)}")
        self.check_stft(model_dir, config.n_fft, config.n_hop, config.nb_channels)
        model = _new_model(targets, config)
        load_state(model, state, Path(model_dir) / f"{STEM}.pth", "its json")
        return model

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """Model input: the mixture magnitude; reference: what :meth:`loss` needs.

        Args:
            x: mixture ``(batch, channels, samples)``.
            y: targets ``(batch, targets, channels, samples)``.

        Returns:
            ``(magnitude, (mixture spectrum, target magnitudes
            (batch, channels, bins, frames, targets), y, x))``.
        """
        X = self.stft(x)
        batch, targets = y.shape[:2]
        Y = self.norm(self.stft(y.reshape((batch * targets,) + y.shape[2:])))
        Y = Y.reshape((batch, targets) + Y.shape[1:]).permute(0, 2, 3, 4, 1)
        return self.norm(X), (X, Y, y, x)

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """Multi-domain loss of ``(batch, channels, bins, frames, targets)`` estimates."""
        X, Y, y, x = reference
        wav = losses.masked_waveforms(estimate, X, self.istft, x.shape[-1]) if self.mcoef else None
        total, _, _ = multi_domain_loss(estimate, Y, wav, y, x, self.mcoef, self.combination)
        return total

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """The chunk's loss (of ``(batch, channels, bins, frames, targets)`` estimates) weighted by its samples."""
        samples = reference[3].shape[-1]
        return self.loss(estimate, reference).double().cpu() * samples, samples

    def save(self, out: Path, model: nn.Module, sample_rate: float, extra: Dict[str, Any]) -> None:
        save_xumx_model(out, model, sample_rate, self.n_fft, self.n_hop, extra=extra)


# ---------------------------------------------------------------- the architecture


class XUMX(Architecture):
    """CrossNet-Open-Unmix (see the module docstring)."""

    name = NAME
    title = "X-UMX"
    description = "CrossNet-Open-Unmix, vocals/drums/bass/other jointly"
    file_stem = STEM
    options_title = "xumx loss"
    options = MODEL_OPTIONS + (
        TrainingOption("mcoef", float, 10.0, low=0.0,
                       help="weight of the time-domain weighted-SDR term (default: 10.0; 0: frequency domain only)"),
        TrainingOption("combination", bool, True,
                       help="no combination loss: average over the single sources only (ablation)"),
    )
    model_types = (CrossNetOpenUnmix,)

    def build(self, config: ModelConfig, targets: Sequence[str]) -> Dict[str, nn.Module]:
        return {STEM: _new_model(targets, config)}

    def folder_models(self, model_dir: Path, stems: Sequence[str]) -> Dict[str, List[str]]:
        """``xumx.json`` with ``xumx.pth``: one joint model of the json's ``targets``."""
        if STEM not in stems:
            return {}
        targets = xumx_targets(model_dir)
        return {STEM: targets} if targets else {}

    def load(self, model_dir: Path, stem: str, targets: Sequence[str],
             device: Union[str, torch.device] = "cpu") -> Tuple[Dict[str, nn.Module], ModelConfig]:
        config, model = load_xumx_model(model_dir, targets, device)
        return {stem: model}, config

    def check_together(self, options: Mapping[str, Any]) -> None:
        check_model_options(options)

    def training_part(self, target: str, nb_channels: int, options: Mapping[str, Any]) -> TrainingPart:
        return XUMXPart(nb_channels, options)

    def capabilities(self, model: nn.Module) -> Capabilities:
        # the stream steps one LSTM per model and the export writes one graph per target: neither takes
        # a joint model yet
        return Capabilities(output=MAGNITUDE, joint=True, streamable=False, causal=bool(model.unidirectional),
                            exportable=False, causal_note=_BIDIRECTIONAL)


register(XUMX())
