"""A second architecture defined only in the tests: a complex-mask model on its own STFT (``cmask``).

Where ``tinygain`` (:mod:`plugins.tiny_arch`) is a magnitude model that the
Separator Wiener-filters, this one returns complex spectrograms, as the
band-split RoFormers do: its :class:`~openunmix.architectures.Capabilities`
say ``output="spectrogram"``, and the Separator takes the inverse STFT of its
estimates with no filter. It is registered like the other plug-in, through
``OPENUNMIX_ARCHITECTURES=plugins.complex_mask`` with ``tests/`` on
``PYTHONPATH``.

Model: for each channel and frequency bin, a complex mask computed from the
log magnitudes of ``2 * context + 1`` frames centred on the frame (a
depthwise 1-D convolution over time, two outputs per bin: the mask's real
and imaginary parts), multiplied with the mixture's STFT. With ``context >
0`` it reads future frames: it is not causal, and the stream refuses it.
Input and output are STFTs as real and imaginary parts, ``(batch, channels,
bins, frames, 2)`` (``torch.view_as_real``'s layout), so the model is plain
real arithmetic and exports to ONNX.

Folder format: per target ``<target>_cmask.pth`` and ``<target>_cmask.json``
(``"architecture": "cmask"``, ``"target"``, ``nfft``, ``nhop``,
``nb_channels``, ``context``, sample rate, training arguments and history),
plus ``separator.json``. Options (flags of ``train.py``): ``nfft`` (default
1024) and ``nhop`` (default 256): its own STFT, other defaults than
Open-Unmix's; ``context`` (default 1).

Training: mean squared error between the estimated and the true target STFT
(real and imaginary parts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from openunmix import architectures
from openunmix.architectures import (SPECTROGRAM, Architecture, Capabilities, TrainingOption, TrainingPart,
                                     register)
from openunmix.architectures.base import check_stft_options
from openunmix.architectures.folder import (ModelConfig, flatten, load_state, read_json, save_model_files,
                                     state_dict_from_file, stft_settings)
from openunmix.transforms import STFT
from openunmix.utils import PathLike, frozen, setting_number

NAME = "cmask"
SUFFIX = "_cmask"  # files <target>_cmask.*


class ComplexMask(nn.Module):
    """A complex mask per channel and bin from the log magnitudes around each frame, times the mixture.

    Args:
        nb_bins: STFT bins (``n_fft // 2 + 1``).
        nb_channels: audio channels.
        context: frames on each side the mask sees (0: causal).
    """

    def __init__(self, nb_bins: int, nb_channels: int, context: int = 1):
        super().__init__()
        self.nb_bins, self.nb_channels, self.context = nb_bins, nb_channels, context
        lanes = nb_bins * nb_channels
        self.mask = nn.Conv1d(lanes, 2 * lanes, 2 * context + 1, padding=context, groups=lanes)
        with torch.no_grad():  # start near the identity mask (real part 1, imaginary part 0)
            self.mask.weight.mul_(0.1)
            self.mask.bias.copy_(torch.tensor([1.0, 0.0]).repeat(lanes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mixture STFT ``(batch, channels, bins, frames, 2)`` -> target STFT, same shape (real, imaginary)."""
        batch, channels, bins, frames, _ = x.shape
        re, im = x[..., 0], x[..., 1]
        features = torch.log1p(torch.sqrt(re * re + im * im)).reshape(batch, channels * bins, frames)
        m = self.mask(features).reshape(batch, channels, bins, 2, frames)
        m_re, m_im = m[:, :, :, 0], m[:, :, :, 1]
        return torch.stack([m_re * re - m_im * im, m_re * im + m_im * re], dim=-1)


def _settings(model: ComplexMask, n_fft: int, n_hop: int) -> Dict[str, Any]:
    return {"nfft": int(n_fft), "nhop": int(n_hop), "nb_channels": int(model.nb_channels),
            "context": int(model.context)}


def load_mask_model(model_dir: Path, target: str) -> Tuple[ComplexMask, ModelConfig]:
    """``<target>_cmask.{json,pth}``, validated (one-line ModelError)."""
    stem = f"{target}{SUFFIX}"
    js, pth = model_dir / f"{stem}.json", model_dir / f"{stem}.pth"
    settings = flatten(js, read_json(js))
    sample_rate, n_fft, n_hop, nb_channels = stft_settings(js, settings)
    context = setting_number(js, settings, "context", int, 0, 64)
    model = ComplexMask(n_fft // 2 + 1, nb_channels, context)
    load_state(model, state_dict_from_file(pth), pth, "its json")
    config = ModelConfig(target=target, sample_rate=sample_rate, nb_channels=nb_channels, architecture=NAME,
                         options={"nfft": n_fft, "nhop": n_hop, "context": context})
    return model, config


class MaskPart(TrainingPart):
    """Training part: MSE between the estimated and the true target STFT ``(batch, channels, bins, frames, 2)``."""

    name = NAME
    loss_label = "STFT MSE"
    log_scale = True

    def __init__(self, target: str, nb_channels: int, options: Mapping[str, Any]):
        self.target, self.stem = target, f"{target}{SUFFIX}"
        self.n_fft, self.n_hop, self.context = options["nfft"], options["nhop"], options["context"]
        self.nb_channels = nb_channels
        self.min_valid_samples = self.n_hop
        self.stft = STFT(self.n_fft, self.n_hop)

    def to(self, device: torch.device) -> "MaskPart":
        self.stft = self.stft.to(device)
        return self

    def new_model(self, sample_rate: float, statistics: Optional[Tuple[np.ndarray, np.ndarray]]) -> nn.Module:
        return ComplexMask(self.n_fft // 2 + 1, self.nb_channels, self.context)

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        return {"architecture": NAME, "nb_bins": model.nb_bins, "nb_channels": model.nb_channels,
                "context": model.context}

    def model_from_arch(self, arch: Mapping[str, Any]) -> nn.Module:
        self.check_arch(arch, architectures.DEFAULT)
        return ComplexMask(arch["nb_bins"], arch["nb_channels"], arch["context"])

    def load_folder(self, model_dir: PathLike) -> nn.Module:
        model, config = load_mask_model(Path(model_dir), self.target)
        self.check_stft(model_dir, config.n_fft, config.n_hop, config.nb_channels)
        return model

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """Mixture and target ``(batch, channels, samples)`` -> their STFTs ``(batch, channels, bins, frames, 2)``."""
        return torch.view_as_real(self.stft(x)), torch.view_as_real(self.stft(y))

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """MSE of ``(batch, channels, bins, frames, 2)`` STFTs."""
        return torch.mean((estimate - reference) ** 2)

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        return torch.sum((estimate - reference) ** 2).double().cpu(), reference.numel()

    def save(self, out: Path, model: nn.Module, sample_rate: float, extra: Dict[str, Any]) -> None:
        save_model_files(out, self.stem, model.state_dict(), _settings(model, self.n_fft, self.n_hop), sample_rate,
                         [self.target], identity={"architecture": NAME, "target": self.target}, extra=extra)


class CMask(Architecture):
    name = NAME
    title = "tiny complex mask"
    description = "complex mask on its own STFT (test plug-in)"
    file_stem = f"<target>{SUFFIX}"
    options_title = "cmask options"
    options = (TrainingOption("nfft", int, 1024, low=16, high=65536, help="STFT size (default: 1024)"),
               TrainingOption("nhop", int, 256, low=1, high=65536, help="STFT hop (default: 256)"),
               TrainingOption("context", int, 1, low=0, high=64, help="frames on each side of the mask (default: 1)"))
    model_types = (ComplexMask,)

    def check_together(self, options: Mapping[str, Any]) -> None:
        check_stft_options(options)

    def build(self, config: ModelConfig, targets: Sequence[str]) -> Dict[str, nn.Module]:
        return {t: ComplexMask(config.n_fft // 2 + 1, config.nb_channels, config.options.get("context", 1))
                for t in targets}

    # folder_models: the default (json files marked "architecture": "cmask" with their .pth)

    def load(self, model_dir: Path, stem: str, targets: Sequence[str],
             device: Union[str, torch.device] = "cpu") -> Tuple[Dict[str, nn.Module], ModelConfig]:
        target = stem[: -len(SUFFIX)] if stem.endswith(SUFFIX) else stem
        model, config = load_mask_model(Path(model_dir), target)
        return {target: frozen(model.to(device))}, config

    def training_part(self, target: str, nb_channels: int, options: Mapping[str, Any]) -> TrainingPart:
        return MaskPart(target, nb_channels, options)

    def capabilities(self, model: nn.Module) -> Capabilities:
        causal = model.context == 0
        return Capabilities(output=SPECTROGRAM, joint=False, streamable=False, causal=causal, exportable=True,
                            causal_note="" if causal else f"a tiny complex mask model: its mask reads {model.context} later frame(s)")


register(CMask())


def folder_targets(model_dir: PathLike) -> List[str]:
    """The targets of the cmask models of a folder (for the tests)."""
    return sorted(p.name[: -len(SUFFIX) - 5] for p in Path(model_dir).glob(f"*{SUFFIX}.json"))
