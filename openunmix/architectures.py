"""The model types ``train.py`` trains, as parts of the training loop.

A part says what differs between model types: which targets a dataset item
carries, how the model is built (new, from a checkpoint's ``arch``, from a
model folder), how a batch of waveforms becomes the model input and the
loss's reference, the loss, and which files the model is saved as. The loop
itself (:class:`openunmix.training.Trainer`: epochs, early stopping,
checkpoints, resume, DDP, ``--amp``) is the same for every part.

* ``umx``: :class:`UMXPart`, one :class:`~openunmix.model.OpenUnmix` target
  model, MSE on magnitudes, files ``<target>.*``.
* ``xumx``: :class:`XUMXPart`, one :class:`~openunmix.xumx.CrossNetOpenUnmix`
  for vocals, drums, bass and other, multi-domain (+ combination) loss
  (:mod:`openunmix.losses`), files ``xumx.*``.

Shapes follow :mod:`openunmix.model`: waveforms ``(batch, channels, samples)``
(several targets: ``(batch, targets, channels, samples)``), magnitudes
``(batch, channels, bins, frames)`` (several targets stacked last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from torch import nn

from . import losses
from .model import OpenUnmix
from .modelfolder import XUMX_STEM, build_model, read_config, read_xumx_config, save_target_model, save_xumx_model
from .transforms import ISTFT, STFT, ComplexNorm
from .utils import ModelError
from .xumx import XUMX_TARGETS, CrossNetOpenUnmix


class Spectrogram(torch.nn.Module):
    """Waveform ``(batch, channels, samples)`` -> magnitude ``(batch, channels, bins, frames)``."""

    def __init__(self, n_fft: int, n_hop: int, mono: bool):
        super().__init__()
        self.stft = STFT(n_fft, n_hop)
        self.norm = ComplexNorm(mono=mono)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.stft(x))


class PartError(Exception):
    """The part cannot train with these settings; the message says why."""


class Part:
    """What a model type brings to the training loop (see the module docstring).

    Attributes:
        name: ``--architecture`` value.
        stem: file names in the output folder (``<stem>.pth``, ``.json``, ``.chkpnt``, ``_loss.png``).
        loss_label, log_scale: y-axis label and scale of the loss plot.
    """

    name = ""
    stem = ""
    loss_label = "loss"
    log_scale = False

    def to(self, device: torch.device) -> "Part":
        """Move the part's transforms to ``device``."""
        raise NotImplementedError

    def dataset_options(self, dataset: str) -> Dict[str, Any]:
        """Options for :func:`openunmix.data.load_datasets` (``PartError`` for a layout it cannot use)."""
        return {}

    def new_model(self, nb_bins: int, nb_channels: int, hidden_size: int, nb_layers: int, unidirectional: bool,
                  input_mean: Optional[np.ndarray], input_scale: Optional[np.ndarray], max_bin: int) -> nn.Module:
        """An untrained model; ``input_mean``/``input_scale`` are per-bin mixture statistics."""
        raise NotImplementedError

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        """The constructor settings stored in checkpoints (:meth:`model_from_arch` rebuilds the model)."""
        return {
            "nb_bins": model.nb_output_bins, "nb_channels": model.nb_channels,
            "hidden_size": model.hidden_size, "nb_layers": model.nb_layers,
            "unidirectional": model.unidirectional, "max_bin": model.nb_bins,
        }

    def model_from_arch(self, arch: Dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def load_folder(self, model_dir: str) -> Tuple[nn.Module, Tuple[int, int, int]]:
        """The trained model of a model folder and its ``(n_fft, n_hop, nb_channels)`` (fine-tuning)."""
        raise NotImplementedError

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """``(model input, loss reference)`` of a batch of waveforms (runs without gradients)."""
        raise NotImplementedError

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """The training loss (a scalar) of the model's float32 output."""
        raise NotImplementedError

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """``(sum, count)`` of one validation chunk; the validation loss is ``Σ sum / Σ count``."""
        raise NotImplementedError

    def save(self, out: Path, model: nn.Module, sample_rate: float, n_fft: int, n_hop: int,
             extra: Dict[str, Any]) -> None:
        """Write the model files (``extra``: arguments and history for the json)."""
        raise NotImplementedError


class UMXPart(Part):
    """Open-Unmix: one target, MSE between estimated and true magnitudes.

    Args:
        target: the target (file names ``<target>.pth`` etc.).
        n_fft, n_hop, nb_channels: the run's STFT and channels.
    """

    name = "umx"
    loss_label = "MSE"
    log_scale = True  # the loss is positive: log-scaled plot

    def __init__(self, target: str, n_fft: int, n_hop: int, nb_channels: int):
        self.target = target
        self.stem = target
        self.spec = Spectrogram(n_fft, n_hop, mono=nb_channels == 1)

    def to(self, device: torch.device) -> "UMXPart":
        self.spec = self.spec.to(device)
        return self

    def new_model(self, nb_bins: int, nb_channels: int, hidden_size: int, nb_layers: int, unidirectional: bool,
                  input_mean: Optional[np.ndarray], input_scale: Optional[np.ndarray], max_bin: int) -> nn.Module:
        return OpenUnmix(nb_bins=nb_bins, nb_channels=nb_channels, hidden_size=hidden_size, nb_layers=nb_layers,
                         unidirectional=unidirectional, input_mean=input_mean, input_scale=input_scale,
                         max_bin=max_bin)

    def model_from_arch(self, arch: Dict[str, Any]) -> nn.Module:
        if arch.get("architecture", self.name) != self.name:
            raise PartError(f"the checkpoint holds a {arch['architecture']!r} model, not {self.name!r}")
        return self.new_model(arch["nb_bins"], arch["nb_channels"], arch["hidden_size"], arch["nb_layers"],
                              arch["unidirectional"], None, None, arch["max_bin"])

    def load_folder(self, model_dir: str) -> Tuple[nn.Module, Tuple[int, int, int]]:
        config, state = read_config(model_dir, self.target)
        model = build_model(config)
        model.load_state_dict(state)
        return model, (config.n_fft, config.n_hop, config.nb_channels)

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """``(model input, loss reference)`` of a batch: the mixture's and the target's magnitudes.

        Args:
            x, y: mixture and target waveforms ``(batch, channels, samples)``.
        """
        return self.spec(x), self.spec(y)

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """MSE of ``(batch, channels, bins, frames)`` magnitudes."""
        return losses.magnitude_mse(estimate, reference)

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """Sum of squared errors and number of values."""
        return torch.sum((estimate - reference) ** 2).double().cpu(), reference.numel()

    def save(self, out: Path, model: nn.Module, sample_rate: float, n_fft: int, n_hop: int,
             extra: Dict[str, Any]) -> None:
        save_target_model(out, self.target, model, sample_rate, n_fft, n_hop, extra=extra)


class XUMXPart(Part):
    """CrossNet-Open-Unmix: vocals, drums, bass and other jointly, multi-domain loss.

    Args:
        n_fft, n_hop, nb_channels: the run's STFT and channels.
        mcoef: weight of the time-domain (weighted SDR) term.
        combination: also average the loss over sums of two and three sources.
    """

    name = "xumx"
    loss_label = "freq MSE + mcoef x wSDR"
    log_scale = False  # the weighted SDR term is negative

    def __init__(self, n_fft: int, n_hop: int, nb_channels: int, mcoef: float = 10.0, combination: bool = True):
        self.stem = XUMX_STEM
        self.targets = XUMX_TARGETS
        self.mcoef = float(mcoef)
        self.combination = bool(combination)
        self.stft = STFT(n_fft, n_hop)
        self.istft = ISTFT(n_fft, n_hop)
        self.norm = ComplexNorm(mono=nb_channels == 1)

    def to(self, device: torch.device) -> "XUMXPart":
        self.stft, self.istft = self.stft.to(device), self.istft.to(device)
        return self

    def dataset_options(self, dataset: str) -> Dict[str, Any]:
        """Items carry every target: ``(mixture, (targets, channels, samples))``."""
        if dataset != "musdb":
            raise PartError(f"--architecture xumx trains on --dataset musdb (all four sources), not {dataset}")
        return {"joint_targets": self.targets}

    def new_model(self, nb_bins: int, nb_channels: int, hidden_size: int, nb_layers: int, unidirectional: bool,
                  input_mean: Optional[np.ndarray], input_scale: Optional[np.ndarray], max_bin: int) -> nn.Module:
        return CrossNetOpenUnmix(self.targets, nb_bins=nb_bins, nb_channels=nb_channels, hidden_size=hidden_size,
                                 nb_layers=nb_layers, unidirectional=unidirectional, input_mean=input_mean,
                                 input_scale=input_scale, max_bin=max_bin)

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        return {**super().arch(model), "architecture": self.name, "targets": list(model.branch_names)}

    def model_from_arch(self, arch: Dict[str, Any]) -> nn.Module:
        if arch.get("architecture", "umx") != self.name:
            raise PartError(f"the checkpoint holds a {arch.get('architecture', 'umx')!r} model, not {self.name!r}")
        return CrossNetOpenUnmix(arch["targets"], nb_bins=arch["nb_bins"], nb_channels=arch["nb_channels"],
                                 hidden_size=arch["hidden_size"], nb_layers=arch["nb_layers"],
                                 unidirectional=arch["unidirectional"], max_bin=arch["max_bin"])

    def load_folder(self, model_dir: str) -> Tuple[nn.Module, Tuple[int, int, int]]:
        config, targets, state = read_xumx_config(model_dir)
        if tuple(targets) != tuple(self.targets):
            raise ModelError(f"{model_dir}: its X-UMX targets {targets} are not {list(self.targets)}")
        model = CrossNetOpenUnmix(targets, nb_bins=config.n_fft // 2 + 1, nb_channels=config.nb_channels,
                                  hidden_size=config.hidden_size, nb_layers=config.nb_layers,
                                  unidirectional=config.unidirectional, max_bin=config.max_bin)
        model.load_state_dict(state)
        return model, (config.n_fft, config.n_hop, config.nb_channels)

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
        total, _, _ = losses.multi_domain_loss(estimate, Y, wav, y, x, self.mcoef, self.combination)
        return total

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """The chunk's loss weighted by its samples."""
        samples = reference[3].shape[-1]
        return self.loss(estimate, reference).double().cpu() * samples, samples

    def save(self, out: Path, model: nn.Module, sample_rate: float, n_fft: int, n_hop: int,
             extra: Dict[str, Any]) -> None:
        save_xumx_model(out, model, sample_rate, n_fft, n_hop, extra=extra)


ARCHITECTURES = ("umx", "xumx")


def make_part(architecture: str, target: str, n_fft: int, n_hop: int, nb_channels: int,
              mcoef: float = 10.0, combination: bool = True) -> Part:
    """The part of ``architecture`` (``'umx'`` or ``'xumx'``) for a run with these settings."""
    if architecture == "umx":
        return UMXPart(target, n_fft, n_hop, nb_channels)
    if architecture == "xumx":
        return XUMXPart(n_fft, n_hop, nb_channels, mcoef, combination)
    raise PartError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
