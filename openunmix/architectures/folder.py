"""Model folders: reading and writing their files, and which architecture loads which of them.

A model folder holds one or more models, each as ``<stem>.pth`` (state dict)
and ``<stem>.json`` (settings, training arguments and history), and a
``separator.json`` with the settings all its models share (targets, sample
rate, STFT, channels). Which files belong to which architecture, and how a
model is validated and built, is each architecture's business
(:mod:`openunmix.architectures`); this module holds what they share: json
and state-dict reading (validated, no code unpickled), the json layout and
``separator.json``. Which architecture loads which targets of a folder is
the registry's job (:func:`openunmix.architectures.load_target_models`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from ..utils import ModelError, PathLike, load_torch, save_json, save_torch, setting_number

SEPARATOR_JSON = "separator.json"


@dataclass(frozen=True)
class ModelConfig:
    """Settings of one model of a folder or of the model table, checked against its weights.

    What every model has is here; what is particular to its architecture is
    in ``options`` (Open-Unmix: ``nfft``, ``nhop``, ``hidden_size``,
    ``nb_layers``, ``unidirectional``, ``max_bin``). Architectures whose
    models work on an STFT name its settings ``nfft`` and ``nhop``
    (:attr:`n_fft`, :attr:`n_hop`), which the Separator, the export and the
    stream read.

    Attributes:
        target: the target (or, for a joint model, its file stem).
        sample_rate: Hz.
        nb_channels: audio channels the model takes.
        architecture: the registered architecture's name.
        options: the architecture's own settings.
    """

    target: str
    sample_rate: float
    nb_channels: int
    architecture: str = "umx"
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_fft(self) -> Optional[int]:
        """The FFT size of the model's STFT (``None``: a model of waveforms)."""
        value = self.options.get("nfft")
        return None if value is None else int(value)

    @property
    def n_hop(self) -> Optional[int]:
        """The hop of the model's STFT (``None``: a model of waveforms)."""
        value = self.options.get("nhop")
        return None if value is None else int(value)

    def shared(self) -> Tuple[float, int, Optional[int], Optional[int]]:
        """``(sample_rate, nb_channels, n_fft, n_hop)``: what the models of one Separator must share."""
        return self.sample_rate, self.nb_channels, self.n_fft, self.n_hop


# ---------------------------------------------------------------- reading


def read_json(path: Path) -> Dict[str, Any]:
    """A json object from a model folder.

    Raises:
        ModelError: a missing file, malformed json, or not an object.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ModelError(f"{path}: missing model settings file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: malformed json ({err})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: malformed model settings (expected a json object)")
    return data


def peek_json(path: Path) -> Dict[str, Any]:
    """:func:`read_json`, or ``{}`` for a file that is missing or malformed (when only looking)."""
    try:
        return read_json(path)
    except ModelError:
        return {}


def flatten(path: Path, data: Mapping[str, Any]) -> Dict[str, Any]:
    """Top-level settings over those in ``args`` (upstream keeps most in ``args``)."""
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise ModelError(f"{path}: malformed model settings ('args' is not an object)")
    return {**args, **data}


def read_separator_json(model_dir: Path) -> Dict[str, Any]:
    """The folder's ``separator.json``, flattened (``{}`` when there is none)."""
    path = Path(model_dir) / SEPARATOR_JSON
    return flatten(path, read_json(path)) if path.is_file() else {}


def state_dict_from_file(path: PathLike) -> Dict[str, torch.Tensor]:
    """The state dict of a ``.pth`` file, loaded safely (a ``{"state_dict": ...}`` wrapper is opened).

    Raises:
        ModelError: unreadable file, pickled code, or not a state dict.
    """
    state = load_torch(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: not a model state dict")
    return dict(state)


def stft_settings(js: PathLike, settings: Dict[str, Any]) -> Tuple[float, int, int, int]:
    """``(sample_rate, nfft, nhop, nb_channels)`` of flattened settings, checked (``rate`` may name the rate)."""
    if "sample_rate" not in settings and "rate" in settings:
        settings["sample_rate"] = settings["rate"]
    sample_rate = setting_number(js, settings, "sample_rate", float, 1000, 768000, default=44100.0)
    n_fft = setting_number(js, settings, "nfft", int, 16, 65536)
    n_hop = setting_number(js, settings, "nhop", int, 1, n_fft)
    nb_channels = setting_number(js, settings, "nb_channels", int, 1, 16)
    return sample_rate, n_fft, n_hop, nb_channels


def load_state(model: nn.Module, state: Mapping[str, torch.Tensor], path: PathLike, settings: str,
               assign: bool = False) -> nn.Module:
    """Load ``state`` into ``model``, every name matching.

    Raises:
        ModelError: naming ``path`` and the first mismatch with ``settings``.
    """
    try:
        model.load_state_dict(state, strict=True, assign=assign)
    except RuntimeError as err:
        detail = str(err).strip().splitlines()
        raise ModelError(f"{path}: does not fit {settings} ({detail[1].strip() if len(detail) > 1 else detail[0]})") from None
    return model


# ---------------------------------------------------------------- writing


def save_model_files(
    model_dir: PathLike,
    stem: str,
    state: Mapping[str, torch.Tensor],
    settings: Mapping[str, Any],
    sample_rate: float,
    targets: Sequence[str],
    identity: Optional[Mapping[str, Any]] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write ``<stem>.pth`` and ``<stem>.json`` and add ``targets`` to ``separator.json``, each atomically.

    The json holds ``settings`` at the top level and under ``args`` (where
    upstream keeps them), merged over ``extra`` (training arguments and
    history), the sample rate, and ``identity`` (what the architecture marks
    its files with). ``settings`` must hold ``nfft``, ``nhop`` and
    ``nb_channels`` (copied to ``separator.json``).
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    info = dict(extra or {})
    info["args"] = {**dict(info.get("args", {})), **settings}
    info.update(settings)
    info["sample_rate"] = float(sample_rate)
    info.update(identity or {})
    save_torch(model_dir / f"{stem}.pth", {k: v.detach().cpu() for k, v in state.items()})
    save_json(model_dir / f"{stem}.json", info)
    sep_path = model_dir / SEPARATOR_JSON
    sep = read_json(sep_path) if sep_path.is_file() else {}
    old = sep.get("targets") if isinstance(sep.get("targets"), list) else []
    save_json(sep_path, {"targets": old + [t for t in targets if t not in old], "sample_rate": float(sample_rate),
                         "nfft": int(settings["nfft"]), "nhop": int(settings["nhop"]),
                         "nb_channels": int(settings["nb_channels"])})
