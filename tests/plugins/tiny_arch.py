"""A third architecture defined only in the tests: a per-bin gain masker (``tinygain``).

It shows that an architecture plugs in from outside the package: this module
is imported through ``OPENUNMIX_ARCHITECTURES=plugins.tiny_arch`` (with
``tests/`` on ``PYTHONPATH``) and registers itself; ``train.py``, ``test.py``
and ``eval.py`` then train, load, separate and score it like any other.

Model: one learnt gain per channel and frequency bin, ``sigmoid(gain) *
mixture magnitude``. Folder format: per target, ``<target>_gain.pth`` (state
dict) and ``<target>_gain.json`` (``"architecture": "tinygain"``,
``"target"``, STFT settings, training arguments and history), plus
``separator.json``. Training option ``gain_init`` (``--gain-init``): the
initial gain, before the sigmoid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from openunmix import architectures
from openunmix.architectures import (MAGNITUDE, Architecture, Capabilities, MagnitudeTargetPart, TrainingOption,
                                     TrainingPart, register)
from openunmix.architectures.base import check_stft_options
from openunmix.utils import frozen
from openunmix.architectures.folder import (ModelConfig, flatten, load_state, read_json, save_model_files,
                                   state_dict_from_file, stft_settings)
from openunmix.utils import ModelError, PathLike

NAME = "tinygain"
SUFFIX = "_gain"  # files <target>_gain.*


class BinGain(nn.Module):
    """``sigmoid(gain) * magnitude``, one gain per channel and bin.

    Args:
        nb_bins: STFT bins (``n_fft // 2 + 1``).
        nb_channels: channels of the magnitude.
        gain_init: the initial gain (before the sigmoid).
    """

    def __init__(self, nb_bins: int, nb_channels: int, gain_init: float = 0.0):
        super().__init__()
        self.nb_bins = nb_bins
        self.nb_channels = nb_channels
        self.gain = nn.Parameter(torch.full((nb_channels, nb_bins), float(gain_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """mixture magnitude ``(batch, channels, bins, frames)`` -> target magnitude, same shape."""
        return torch.sigmoid(self.gain)[None, :, :, None] * x


def _config(target: str, sample_rate: float, n_fft: int, n_hop: int, nb_channels: int) -> ModelConfig:
    return ModelConfig(target=target, sample_rate=sample_rate, nb_channels=nb_channels, architecture=NAME,
                       options={"nfft": n_fft, "nhop": n_hop})


def _settings(model: BinGain, n_fft: int, n_hop: int) -> Dict[str, Any]:
    return {"nfft": int(n_fft), "nhop": int(n_hop), "nb_channels": int(model.nb_channels)}


def load_gain_model(model_dir: Path, target: str) -> Tuple[BinGain, ModelConfig]:
    """``<target>_gain.{json,pth}``, validated (one-line ModelError)."""
    stem = f"{target}{SUFFIX}"
    js, pth = model_dir / f"{stem}.json", model_dir / f"{stem}.pth"
    settings = flatten(js, read_json(js))
    sample_rate, n_fft, n_hop, nb_channels = stft_settings(js, settings)
    state = state_dict_from_file(pth)
    gain = state.get("gain")
    if gain is None or tuple(gain.shape) != (nb_channels, n_fft // 2 + 1):
        raise ModelError(f"{pth}: not a {NAME} model of {js.name}'s settings")
    model = load_state(BinGain(n_fft // 2 + 1, nb_channels), state, pth, "its json")
    return model, _config(target, sample_rate, n_fft, n_hop, nb_channels)


class GainPart(MagnitudeTargetPart):
    """Training part: MSE between the gained mixture magnitude and the target magnitude (the shared
    magnitude part of single-target models; only the model and its files are this architecture's)."""

    name = NAME

    def __init__(self, target: str, nb_channels: int, options: Mapping[str, Any]):
        super().__init__(target, options["nfft"], options["nhop"], nb_channels)
        self.stem = f"{target}{SUFFIX}"
        self.gain_init = options["gain_init"]

    def new_model(self, sample_rate: float, statistics: Optional[Tuple[np.ndarray, np.ndarray]]) -> nn.Module:
        return BinGain(self.n_fft // 2 + 1, self.nb_channels, self.gain_init)

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        return {"architecture": NAME, "nb_bins": model.nb_bins, "nb_channels": model.nb_channels}

    def model_from_arch(self, arch: Mapping[str, Any]) -> nn.Module:
        self.check_arch(arch, architectures.DEFAULT)
        return BinGain(arch["nb_bins"], arch["nb_channels"])

    def load_folder(self, model_dir: PathLike) -> nn.Module:
        model, config = load_gain_model(Path(model_dir), self.target)
        self.check_stft(model_dir, config.n_fft, config.n_hop, config.nb_channels)
        return model

    def save(self, out: Path, model: nn.Module, sample_rate: float, extra: Dict[str, Any]) -> None:
        save_model_files(out, self.stem, model.state_dict(), _settings(model, self.n_fft, self.n_hop), sample_rate,
                         [self.target], identity={"architecture": NAME, "target": self.target}, extra=extra)


class TinyGain(Architecture):
    name = NAME
    title = "tiny gain"
    description = "per-bin gain (test plug-in)"
    file_stem = f"<target>{SUFFIX}"
    options_title = "tinygain options"
    options = (TrainingOption("nfft", int, 4096, low=16, high=65536, help="STFT size (default: 4096)"),
               TrainingOption("nhop", int, 1024, low=1, high=65536, help="STFT hop (default: 1024)"),
               TrainingOption("gain_init", float, 0.0, low=-10.0, high=10.0,
                              help="initial gain before the sigmoid (default: 0.0)"))
    model_types = (BinGain,)

    def build(self, config: ModelConfig, targets: Sequence[str]) -> Dict[str, nn.Module]:
        return {t: BinGain(config.n_fft // 2 + 1, config.nb_channels) for t in targets}

    def check_together(self, options: Mapping[str, Any]) -> None:
        check_stft_options(options)

    # folder_models: the default (json files marked "architecture": "tinygain" with their .pth)

    def load(self, model_dir: Path, stem: str, targets: Sequence[str],
             device: Union[str, torch.device] = "cpu") -> Tuple[Dict[str, nn.Module], ModelConfig]:
        target = stem[: -len(SUFFIX)] if stem.endswith(SUFFIX) else stem
        model, config = load_gain_model(Path(model_dir), target)
        return {target: frozen(model.to(device))}, config

    def training_part(self, target: str, nb_channels: int, options: Mapping[str, Any]) -> TrainingPart:
        return GainPart(target, nb_channels, options)

    def capabilities(self, model: nn.Module) -> Capabilities:
        return Capabilities(output=MAGNITUDE, joint=False, streamable=False, causal=True, exportable=True)


register(TinyGain())
