"""Open-Unmix (``umx``): one :class:`~openunmix.architectures.umx.OpenUnmix` model per target.

Folder format: ``<target>.pth`` (state dict, upstream's parameter names) and
``<target>.json`` (settings at the top level and under ``args``, training
arguments and history) per target, plus ``separator.json``. Upstream
open-unmix folders load too: their ``.pth`` files may carry a hash suffix
(``vocals-b62c91ce.pth``), their STFT settings may live in ``separator.json``
only, and their 2019 state dicts hold the sample rate and STFT windows,
which are dropped. Open-Unmix files carry no ``"architecture"`` mark, so this
architecture owns every ``<stem>.json`` + ``<stem>.pth`` pair no other
architecture claims. The published weights of the model table
(:mod:`openunmix.models.table`) are Open-Unmix models too.

Training: the MSE between the model's output and the target magnitude
``(batch, channels, bins, frames)``; files ``<target>.*``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .folder import (
    ModelConfig,
    flatten,
    load_state,
    read_json,
    read_separator_json,
    save_model_files,
    state_dict_from_file,
    stft_settings,
)
from ..utils import ModelError, PathLike, bandwidth_to_max_bin, frozen, setting_number
from .base import ArchitectureError
from .registry import register
from .base import (
    MAGNITUDE,
    Architecture,
    Capabilities,
    MagnitudeTargetPart,
    TrainingOption,
    TrainingPart,
    check_stft_options,
)

NAME = "umx"
_BIDIRECTIONAL = "bidirectional (its LSTM reads the future); train one with train.py --unidirectional"

# the model's settings, declared once: Open-Unmix's training options, and X-UMX's (whose branches are Open-Unmix
# models); names as in upstream's json ("nfft", "nhop", ...), so the flags and the json agree
MODEL_OPTIONS = (
    TrainingOption("nfft", int, 4096, low=16, high=65536, help="STFT size (default: 4096)"),
    TrainingOption("nhop", int, 1024, low=1, high=65536, help="STFT hop (default: 1024)"),
    TrainingOption("bandwidth", float, 16000.0, low=1e-9,
                   help="Hz; bins above are not fed to the network (default: 16000)"),
    TrainingOption("hidden_size", int, 512, low=2, high=65536, help="width of the hidden layers (default: 512)"),
    TrainingOption("nb_layers", int, 3, low=1, high=64, help="LSTM layers (default: 3)"),
    TrainingOption("unidirectional", bool, False,
                   help="causal model: a unidirectional LSTM (streamable; default: bidirectional)"),
)


def check_model_options(options: Mapping[str, Any]) -> None:
    """What depends on two of :data:`MODEL_OPTIONS`: a hop within the FFT, an even width when bidirectional.

    Raises:
        ArchitectureError: in the words of the command line's flags.
    """
    check_stft_options(options)
    if not options["unidirectional"] and options["hidden_size"] % 2:
        raise ArchitectureError(
            f"argument --hidden-size: a bidirectional model needs an even size, got {options['hidden_size']}")


def model_options(config: ModelConfig) -> Dict[str, Any]:
    """The settings :class:`OpenUnmix` is built from, as a folder's or the table's config holds them."""
    o = config.options
    return {"nb_bins": int(o["nfft"]) // 2 + 1, "nb_channels": config.nb_channels,
            "hidden_size": int(o["hidden_size"]), "nb_layers": int(o["nb_layers"]),
            "unidirectional": bool(o["unidirectional"]), "max_bin": int(o["max_bin"])}


def run_config(target: str, sample_rate: float, nb_channels: int, options: Mapping[str, Any],
               architecture: str = NAME) -> ModelConfig:
    """The config of a new model of a training run: its options with the bandwidth as bins at ``sample_rate``."""
    settings = {k: options[k] for k in ("nfft", "nhop", "hidden_size", "nb_layers", "unidirectional")}
    settings["max_bin"] = bandwidth_to_max_bin(sample_rate, options["nfft"], options["bandwidth"])
    return ModelConfig(target=target, sample_rate=sample_rate, nb_channels=nb_channels, architecture=architecture,
                       options=settings)
# keys of upstream's 2019 (v1.0) state dicts that are not parameters of the model
_LEGACY_KEYS = ("sample_rate", "stft.window", "transform.0.window")


# ---------------------------------------------------------------- model


def _in_place(x: torch.Tensor) -> bool:
    """Whether a fresh intermediate ``x`` may be overwritten: nothing records it for a gradient (inference,
    ``torch.no_grad``); in training the out-of-place operations keep what backward needs."""
    return not x.requires_grad


class OpenUnmix(nn.Module):
    """Magnitude-spectrogram masker for one target (upstream architecture and names).

    Bandwidth crop -> input shift/scale -> fc1 -> BN -> tanh -> LSTM (3 layers)
    -> skip concat -> fc2 -> BN -> ReLU -> fc3 -> BN -> output scale/shift ->
    ReLU -> times the input magnitude.

    Args:
        nb_bins: number of STFT bins (``n_fft // 2 + 1``).
        nb_channels: audio channels of the input magnitude.
        hidden_size: width of the hidden layers.
        nb_layers: LSTM layers.
        unidirectional: causal LSTM of ``hidden_size`` units instead of a
            bidirectional one of ``hidden_size // 2`` per direction.
        input_mean, input_scale: per-bin mixture-magnitude mean and standard
            deviation (numpy arrays of ``nb_bins`` or more values), used to
            initialise the input normalisation.
        max_bin: bins at or below the model's bandwidth; only these are fed to
            the network, all ``nb_bins`` are predicted.
    """

    def __init__(
        self,
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
        self.nb_output_bins = nb_bins
        self.nb_bins = max_bin if max_bin else nb_bins
        self.nb_channels = nb_channels
        self.hidden_size = hidden_size
        self.nb_layers = nb_layers
        self.unidirectional = unidirectional

        self.fc1 = nn.Linear(self.nb_bins * nb_channels, hidden_size, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden_size)
        self.lstm = nn.LSTM(
            input_size=hidden_size,
            hidden_size=hidden_size if unidirectional else hidden_size // 2,
            num_layers=nb_layers,
            bidirectional=not unidirectional,
            batch_first=False,
            dropout=0.4 if nb_layers > 1 else 0.0,
        )
        self.fc2 = nn.Linear(hidden_size * 2, hidden_size, bias=False)
        self.bn2 = nn.BatchNorm1d(hidden_size)
        self.fc3 = nn.Linear(hidden_size, self.nb_output_bins * nb_channels, bias=False)
        self.bn3 = nn.BatchNorm1d(self.nb_output_bins * nb_channels)

        # stored as upstream does: the negated mean is added, the inverse scale multiplied
        mean = torch.zeros(self.nb_bins)
        scale = torch.ones(self.nb_bins)
        if input_mean is not None:
            mean = -torch.as_tensor(np.asarray(input_mean)[: self.nb_bins], dtype=torch.float32)
        if input_scale is not None:
            scale = 1.0 / torch.as_tensor(
                np.asarray(input_scale)[: self.nb_bins], dtype=torch.float32
            )
        self.input_mean = nn.Parameter(mean)
        self.input_scale = nn.Parameter(scale)
        self.output_scale = nn.Parameter(torch.ones(self.nb_output_bins))
        self.output_mean = nn.Parameter(torch.ones(self.nb_output_bins))

    def freeze(self) -> "OpenUnmix":
        """Inference only: no gradients, eval mode."""
        return frozen(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The part before the LSTM: bandwidth crop, input normalisation, fc1, BN, tanh.

        Args:
            x: mixture magnitude ``(batch, channels, bins, frames)``.

        Returns:
            ``(frames, batch, hidden_size)``, the LSTM's input.
        """
        x = x.permute(3, 0, 1, 2)  # (frames, batch, channels, bins)
        frames, batch, channels, _ = x.shape
        x = x[..., : self.nb_bins] + self.input_mean
        x = x.mul_(self.input_scale) if _in_place(x) else x * self.input_scale
        x = self.bn1(self.fc1(x.reshape(frames * batch, channels * self.nb_bins)))
        return torch.tanh(x.reshape(frames, batch, self.hidden_size))

    def decode(self, skip: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        """The part after the LSTM: fc2, BN, ReLU, fc3, BN, output scale/shift, ReLU, mask.

        Args:
            skip: encoder output and LSTM output concatenated,
                ``(frames, batch, 2 * hidden_size)``.
            mix: mixture magnitude ``(batch, channels, bins, frames)``.

        Returns:
            target magnitude ``(batch, channels, bins, frames)``.
        """
        frames, batch = skip.shape[0], skip.shape[1]
        channels = mix.shape[1]
        x = F.relu(self.bn2(self.fc2(skip.reshape(frames * batch, -1))))
        x = self.bn3(self.fc3(x))
        x = x.reshape(frames, batch, channels, self.nb_output_bins)
        if _in_place(x):  # the same operations, without a new tensor for each
            x = x.mul_(self.output_scale).add_(self.output_mean).relu_()
        else:
            x = F.relu(x * self.output_scale + self.output_mean)
        return x.permute(1, 2, 3, 0) * mix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Estimate the target magnitude: :meth:`encode`, LSTM, :meth:`decode`.

        Args:
            x: mixture magnitude ``(batch, channels, bins, frames)``.

        Returns:
            target magnitude ``(batch, channels, bins, frames)``.
        """
        h = self.encode(x)
        lstm_out, _ = self.lstm(h)
        return self.decode(torch.cat([h, lstm_out], dim=-1), x)


# ---------------------------------------------------------------- folder format


def _find_pth(model_dir: Path, target: str) -> Optional[Path]:
    exact = model_dir / f"{target}.pth"
    if exact.is_file():
        return exact
    hashed = sorted(model_dir.glob(f"{target}-*.pth"))
    return hashed[0] if hashed else None


def _state(path: PathLike) -> Dict[str, torch.Tensor]:
    """A state dict without upstream's non-parameter extras."""
    return {k: v for k, v in state_dict_from_file(path).items() if k not in _LEGACY_KEYS}


def _check_mark(js: Path, settings: Mapping[str, Any]) -> None:
    """Refuse a json that another architecture wrote (its ``"architecture"`` mark), naming it."""
    from .registry import names

    mark = settings.get("architecture", NAME)
    if mark == NAME:
        return
    registered = names()
    if mark in registered:
        raise ModelError(f"{js}: holds a {mark!r} model, not an Open-Unmix target model")
    raise ArchitectureError(f"{js}: a model of architecture {mark!r}, which is not registered "
                            f"(registered: {', '.join(registered)}; plug-ins: OPENUNMIX_ARCHITECTURES=module.path)")


def read_config(model_dir: PathLike, target: str) -> Tuple[ModelConfig, Dict[str, torch.Tensor]]:
    """Read and validate ``<target>.json`` and ``<target>.pth`` of a model folder.

    The target's own json is read over ``separator.json`` (where upstream
    keeps the STFT settings).

    Returns:
        the validated settings and the state dict.

    Raises:
        ModelError: missing or malformed files, or a state dict whose shapes
            do not match its json.
    """
    from .registry import list_targets

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: model folder does not exist")
    js = model_dir / f"{target}.json"
    pth = _find_pth(model_dir, target)
    if not js.is_file() and pth is None:
        available = list_targets(model_dir)
        raise ModelError(
            f"{model_dir}: no model for target '{target}' (available: {', '.join(available) or 'none'})"
        )
    data = read_json(js)
    if pth is None:
        raise ModelError(f"{model_dir / (target + '.pth')}: missing model weights file")
    settings = {**read_separator_json(model_dir), **flatten(js, data)}
    _check_mark(js, flatten(js, data))
    sample_rate, n_fft, n_hop, nb_channels = stft_settings(js, settings)
    hidden_size = setting_number(js, settings, "hidden_size", int, 2, 65536, default=512)
    state = _state(pth)
    config = config_from_state(state, target, sample_rate, n_fft, n_hop, nb_channels, hidden_size,
                               path=pth, settings=js.name)
    return config, state


def config_from_state(
    state: Mapping[str, torch.Tensor],
    target: str,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    nb_channels: int,
    hidden_size: int,
    path: PathLike,
    settings: str,
) -> ModelConfig:
    """Complete the settings from a state dict (bandwidth, layers, direction) and check they fit.

    Args:
        path: the weights file (named in errors).
        settings: where the settings come from (named in errors).

    Raises:
        ModelError: a state dict that is not Open-Unmix's or does not fit the settings.
    """
    try:
        max_bin = int(state["input_mean"].shape[0])
        fc1 = state["fc1.weight"].shape
        nb_bins = int(state["output_mean"].shape[0])
        lstm_layers = {k.split("_l")[-1].split("_")[0] for k in state if k.startswith("lstm.weight_ih_l")}
        unidirectional = not any(k.endswith("_reverse") for k in state if k.startswith("lstm."))
    except (KeyError, IndexError, AttributeError):
        raise ModelError(f"{path}: not an Open-Unmix state dict (missing or malformed parameters)") from None
    problems = []
    if nb_bins != n_fft // 2 + 1:
        problems.append(f"{nb_bins} output bins but nfft={n_fft} gives {n_fft // 2 + 1}")
    if fc1[0] != hidden_size:
        problems.append(f"hidden size {fc1[0]} but the settings say {hidden_size}")
    if fc1[1] != max_bin * nb_channels:
        problems.append(f"input width {fc1[1]} but the settings say {nb_channels} channels x {max_bin} bins")
    if problems or not lstm_layers:
        raise ModelError(f"{path}: shapes do not match {settings}: " + "; ".join(problems or ["no LSTM weights"]))
    return ModelConfig(
        target=target,
        sample_rate=sample_rate,
        nb_channels=nb_channels,
        options={"nfft": n_fft, "nhop": n_hop, "hidden_size": hidden_size, "nb_layers": len(lstm_layers),
                 "unidirectional": unidirectional, "max_bin": max_bin},
    )


def build_model(config: ModelConfig, input_mean: Optional[np.ndarray] = None,
                input_scale: Optional[np.ndarray] = None) -> OpenUnmix:
    """An untrained :class:`OpenUnmix` of the given settings (``input_mean``/``input_scale``: per-bin statistics)."""
    return OpenUnmix(**model_options(config), input_mean=input_mean, input_scale=input_scale)


def instantiate(config: ModelConfig, state: Mapping[str, torch.Tensor], path: PathLike, settings: str,
                device: Union[str, torch.device] = "cpu") -> OpenUnmix:
    """A frozen :class:`OpenUnmix` of ``config`` holding ``state`` (all names must match), on ``device``.

    Raises:
        ModelError: naming ``path`` and the first mismatch with ``settings``.
    """
    # built without storage and given the file's tensors: the random initialisation of
    # millions of weights that the state dict then overwrites is never computed
    with torch.device("meta"):
        model = build_model(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    load_state(model, state, path, settings, assign=True)
    return model.to(device).freeze()


def model_settings(model: nn.Module, n_fft: int, n_hop: int) -> Dict[str, Any]:
    """The json settings of a model of the Open-Unmix family (what :func:`read_config` needs)."""
    return {
        "nfft": int(n_fft),
        "nhop": int(n_hop),
        "nb_channels": int(model.nb_channels),
        "hidden_size": int(model.hidden_size),
        "nb_layers": int(model.nb_layers),
        "unidirectional": bool(model.unidirectional),
        "max_bin": int(model.nb_bins),
    }


def save_target_model(
    model_dir: PathLike,
    target: str,
    model: OpenUnmix,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write ``<target>.pth`` (state dict, upstream names) and ``<target>.json`` atomically.

    The json holds the settings :func:`read_config` needs, at the top level and
    under ``args`` (where upstream keeps them), merged over ``extra``
    (training arguments and history). ``separator.json`` is updated too.
    """
    save_model_files(model_dir, target, model.state_dict(), model_settings(model, n_fft, n_hop), sample_rate,
                     [target], identity={"target": target}, extra=extra)


# ---------------------------------------------------------------- training


def checkpoint_settings(model: nn.Module) -> Dict[str, Any]:
    """The constructor settings of a model of the Open-Unmix family, as checkpoints store them."""
    return {
        "nb_bins": model.nb_output_bins, "nb_channels": model.nb_channels,
        "hidden_size": model.hidden_size, "nb_layers": model.nb_layers,
        "unidirectional": model.unidirectional, "max_bin": model.nb_bins,
    }


class UMXPart(MagnitudeTargetPart):
    """Open-Unmix's training part: one target, MSE between estimated and true magnitudes.

    Args:
        target: the target (file names ``<target>.pth`` etc.).
        nb_channels: the run's channels.
        options: the architecture's checked options (:data:`MODEL_OPTIONS`).
    """

    name = NAME

    def __init__(self, target: str, nb_channels: int, options: Mapping[str, Any]):
        super().__init__(target, options["nfft"], options["nhop"], nb_channels)
        self.options = dict(options)
        self.statistics = (self.n_fft, self.n_hop)

    def new_model(self, sample_rate: float, statistics: Optional[Tuple[np.ndarray, np.ndarray]]) -> nn.Module:
        config = run_config(self.target, sample_rate, self.nb_channels, self.options)
        return build_model(config, *(statistics or (None, None)))

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        return {**checkpoint_settings(model), "architecture": self.name}

    def model_from_arch(self, arch: Mapping[str, Any]) -> nn.Module:
        self.check_arch(arch, NAME)
        return OpenUnmix(nb_bins=arch["nb_bins"], nb_channels=arch["nb_channels"], hidden_size=arch["hidden_size"],
                         nb_layers=arch["nb_layers"], unidirectional=arch["unidirectional"], max_bin=arch["max_bin"])

    def load_folder(self, model_dir: PathLike) -> nn.Module:
        config, state = read_config(model_dir, self.target)
        self.check_stft(model_dir, config.n_fft, config.n_hop, config.nb_channels)
        model = build_model(config)
        load_state(model, state, f"{model_dir}/{self.target}.pth", "its json")
        return model

    def save(self, out: Path, model: nn.Module, sample_rate: float, extra: Dict[str, Any]) -> None:
        save_target_model(out, self.target, model, sample_rate, self.n_fft, self.n_hop, extra=extra)


# ---------------------------------------------------------------- the architecture


class UMX(Architecture):
    """Open-Unmix target models (see the module docstring)."""

    name = NAME
    title = "Open-Unmix"
    description = "one target model"
    file_stem = "<target>"
    claims_remaining = True
    model_types = (OpenUnmix,)
    options = MODEL_OPTIONS
    options_title = "model (umx, xumx)"

    def check_together(self, options: Mapping[str, Any]) -> None:
        check_model_options(options)

    def build(self, config: ModelConfig, targets: Sequence[str]) -> Dict[str, nn.Module]:
        return {t: build_model(replace(config, target=t)) for t in targets}

    def folder_models(self, model_dir: Path, stems: Sequence[str]) -> Dict[str, List[str]]:
        """Every ``<stem>.json`` with a ``<stem>.pth`` (or ``<stem>-<hash>.pth``) is the model of target ``stem``."""
        return {stem: [stem] for stem in stems if _find_pth(model_dir, stem) is not None}

    def load(self, model_dir: Path, stem: str, targets: Sequence[str],
             device: Union[str, torch.device] = "cpu") -> Tuple[Dict[str, nn.Module], ModelConfig]:
        config, state = read_config(model_dir, stem)
        return {stem: instantiate(config, state, f"{model_dir}/{stem}.pth", "its json", device)}, config

    def table_options(self, where: str, entry: Mapping[str, Any]) -> Dict[str, Any]:
        """``nfft``, ``nhop``, ``hidden_size``, ``nb_layers`` (default 3), ``unidirectional`` (default false)
        and ``max_bin`` or ``bandwidth`` (Hz) of a table entry, checked."""
        rate = setting_number(where, entry, "sample_rate", float, 1000, 768000)
        n_fft = setting_number(where, entry, "nfft", int, 16, 65536)
        n_hop = setting_number(where, entry, "nhop", int, 1, n_fft)
        if "max_bin" in entry:
            max_bin = setting_number(where, entry, "max_bin", int, 1, n_fft // 2 + 1)
        else:
            max_bin = bandwidth_to_max_bin(rate, n_fft, setting_number(where, entry, "bandwidth", float, 1e-9, 1e9))
        unidirectional = entry.get("unidirectional", False)
        if not isinstance(unidirectional, bool):
            raise ModelError(f"{where}: setting 'unidirectional' must be true or false, got {unidirectional!r}")
        hidden = setting_number(where, entry, "hidden_size", int, 2, 65536)
        if not unidirectional and hidden % 2:
            raise ModelError(f"{where}: a bidirectional model needs an even 'hidden_size', got {hidden}")
        return {"nfft": n_fft, "nhop": n_hop, "hidden_size": hidden,
                "nb_layers": setting_number(where, entry, "nb_layers", int, 1, 64, default=3),
                "unidirectional": unidirectional, "max_bin": max_bin}

    def load_published(self, config: ModelConfig, where: str, path: PathLike,
                       device: Union[str, torch.device] = "cpu") -> Tuple[nn.Module, ModelConfig]:
        """A target of a model table entry: the file's shapes must match the table's settings."""
        state = _state(path)
        settings, o = where, config.options
        config = config_from_state(state, config.target, config.sample_rate, o["nfft"], o["nhop"],
                                   config.nb_channels, o["hidden_size"], path=path, settings=settings)
        table = (o["max_bin"], o["nb_layers"], o["unidirectional"])
        found = tuple(config.options[k] for k in ("max_bin", "nb_layers", "unidirectional"))
        if found != table:
            raise ModelError(
                f"{path}: shapes do not match {settings}: the file has max_bin={found[0]}, nb_layers={found[1]}, "
                f"unidirectional={found[2]}; the table says {table[0]}, {table[1]}, {table[2]}"
            )
        return instantiate(config, state, path, settings, device), config

    def training_part(self, target: str, nb_channels: int, options: Mapping[str, Any]) -> TrainingPart:
        return UMXPart(target, nb_channels, options)

    def capabilities(self, model: nn.Module) -> Capabilities:
        return Capabilities(output=MAGNITUDE, joint=False, streamable=True, causal=bool(model.unidirectional),
                            exportable=True, causal_note=_BIDIRECTIONAL)


register(UMX())
