"""What BS-RoFormer and Mel-RoFormer share as architectures: options, folder format, training part.

:mod:`.bs_roformer` and :mod:`.mel_roformer` each register one
:class:`RoFormerArchitecture`, which differ in their bands
(:class:`~.roformer.RoFormerSettings`'s ``layout``).

Folder format: one joint model of all its targets, ``<name>.pth`` (state
dict) and ``<name>.json`` (``"architecture": name``, ``"targets"``, every
setting of :class:`~.roformer.RoFormerSettings` under MSST's names, ``nfft``
and ``nhop`` for the Separator, the bands as ``freqs_per_bands`` (BS) or
``num_bands`` (Mel), the sample rate, and for a trained model its
arguments and history), plus ``separator.json``.

Training (:class:`RoFormerPart`): the papers' loss, L1 between the estimated
and true waveforms plus ``stft_loss_weight`` times the L1 between their
complex STFTs at five resolutions (windows 4096 to 256, hop 147), on one
target or several at once (``--targets``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .base import SPECTROGRAM, Architecture, ArchitectureError, Capabilities, TrainingOption, TrainingPart
from .folder import ModelConfig, flatten, load_state, read_json, save_model_files, state_dict_from_file
from .roformer import BandRoFormer, RoFormerSettings, settings_json
from ..transforms import ISTFT, STFT
from ..utils import ModelError, PathLike, frozen, setting_number

# the options every RoFormer has: (name, kind, default, low, high, help); the settings' field is the name,
# except nfft -> n_fft and nhop -> hop_length (flags shared with Open-Unmix)
COMMON_OPTIONS = (
    TrainingOption("dim", int, 192, low=8, high=8192, help="transformer width (default: 192)"),
    TrainingOption("depth", int, 6, low=1, high=128, help="axial blocks, time then bands (default: 6)"),
    TrainingOption("heads", int, 8, low=1, high=128, help="attention heads (default: 8)"),
    TrainingOption("dim_head", int, 64, low=2, high=1024, help="size of each head, even (default: 64)"),
    TrainingOption("time_transformer_depth", int, 1, low=1, high=32, help="layers across time per block (default: 1)"),
    TrainingOption("freq_transformer_depth", int, 1, low=1, high=32, help="layers across bands per block (default: 1)"),
    TrainingOption("mask_estimator_depth", int, 2, low=1, high=16, help="depth of each band's mask MLP (default: 2)"),
    TrainingOption("mlp_expansion_factor", int, 4, low=1, high=64, help="mask MLP width over dim (default: 4)"),
    TrainingOption("attn_dropout", float, 0.1, low=0.0, high=0.99, help="attention dropout (default: 0.1)"),
    TrainingOption("ff_dropout", float, 0.1, low=0.0, high=0.99, help="feed-forward dropout (default: 0.1)"),
    TrainingOption("nfft", int, 2048, low=16, high=65536, help="STFT size (RoFormers' default: 2048)"),
    TrainingOption("nhop", int, 512, low=1, high=65536, help="STFT hop (RoFormers' default: 512)"),
    TrainingOption("win_length", int, 0, low=0, high=65536, help="STFT window length (default 0: nfft)"),
    TrainingOption("normalized", bool, False, help="normalized STFT (torch.stft's normalized)"),
    TrainingOption("zero_dc", bool, True, help="keep the estimates' 0 Hz bin (default: set to zero, as MSST)"),
    TrainingOption("chunk_size", int, 131584, low=0, high=1 << 26,
                   help="samples the model separates at once (default: 131584, MSST's; 0: whole input)"),
    TrainingOption("num_overlap", int, 4, low=1, high=64, help="chunks over each sample when separating (default: 4)"),
    TrainingOption("targets", str, "", help="targets of one joint model, comma-separated (default: --target); "
                                            "several need --dataset musdb"),
    TrainingOption("stft_loss_weight", float, 1.0, low=0.0, high=1e6,
                   help="weight of the multi-resolution STFT L1 term (default: 1.0)"),
)
_FIELD = {"nfft": "n_fft", "nhop": "hop_length"}
_NUMBERS = [o for o in COMMON_OPTIONS if o.kind in (int, float) and o.name not in ("stft_loss_weight",)]
_FLAGS = ("normalized", "zero_dc", "gated")
RESOLUTIONS = (4096, 2048, 1024, 512, 256)  # the multi-resolution loss's windows and hop (the papers', MSST's)
RESOLUTION_HOP = 147


def check_common(options: Mapping[str, Any]) -> None:
    """What depends on several options (in the words of the flags); ``ArchitectureError``."""
    if options["nhop"] > options["nfft"]:
        raise ArchitectureError(f"argument --nhop: {options['nhop']} is larger than --nfft {options['nfft']}")
    if options["win_length"] > options["nfft"]:
        raise ArchitectureError(f"argument --win-length: {options['win_length']} is larger than --nfft {options['nfft']}")
    if options["dim_head"] % 2:
        raise ArchitectureError(f"argument --dim-head: rotary positions need an even size, got {options['dim_head']}")
    if options["chunk_size"] and options["chunk_size"] < options["nfft"]:
        raise ArchitectureError(f"argument --chunk-size: {options['chunk_size']} is shorter than --nfft {options['nfft']}")
    parse_targets(options["targets"], "vocals")


def parse_targets(text: str, default: str) -> List[str]:
    """``"vocals,drums"`` -> ``["vocals", "drums"]`` (empty: ``[default]``); ``ArchitectureError`` for repeats."""
    names = [t.strip() for t in (text or "").split(",") if t.strip()] or [default]
    if len(set(names)) != len(names):
        raise ArchitectureError(f"argument --targets: a target is named twice in {text!r}")
    return names


def settings_from_options(layout: str, bands: Callable[[Mapping[str, Any], float], Tuple[Tuple[int, ...], ...]],
                          options: Mapping[str, Any], targets: Sequence[str], nb_channels: int,
                          sample_rate: float) -> RoFormerSettings:
    """The model settings of a training run's checked options."""
    values = {_FIELD.get(o.name, o.name): options[o.name] for o in _NUMBERS}
    values["win_length"] = values["win_length"] or values["n_fft"]
    return RoFormerSettings(targets=tuple(targets), nb_channels=nb_channels, bands=bands(options, sample_rate),
                            normalized=bool(options["normalized"]), zero_dc=bool(options["zero_dc"]),
                            layout=layout, **values)


def read_settings(where: PathLike, data: Mapping[str, Any], layout: str,
                  bands: Callable[[PathLike, Mapping[str, Any], int, float], Tuple[Tuple[int, ...], ...]]
                  ) -> Tuple[RoFormerSettings, float]:
    """``(settings, sample_rate)`` of a model json's flattened settings, checked (one-line ``ModelError``)."""
    sample_rate = setting_number(where, data, "sample_rate", float, 1000, 768000, default=44100.0)
    targets = data.get("targets")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
        raise ModelError(f"{where}: setting 'targets' must be a non-empty list of names")
    values: Dict[str, Any] = {}
    for o in _NUMBERS:
        key = _FIELD.get(o.name, o.name)
        value = data.get(o.name, data.get(key, o.default))
        values[key] = setting_number(where, {key: value}, key, o.kind, o.low, o.high)
    values["win_length"] = values["win_length"] or values["n_fft"]
    for key in _FLAGS:
        value = data.get(key, key != "normalized")
        if not isinstance(value, bool):
            raise ModelError(f"{where}: setting '{key}' must be true or false, got {value!r}")
        values[key] = value
    nb_channels = setting_number(where, data, "nb_channels", int, 1, 2)
    if values["dim_head"] % 2 or values["hop_length"] > values["n_fft"] or values["win_length"] > values["n_fft"]:
        raise ModelError(f"{where}: inconsistent settings (dim_head must be even, nhop and win_length within nfft)")
    band_list = bands(where, data, values["n_fft"], sample_rate)
    return RoFormerSettings(targets=tuple(targets), nb_channels=nb_channels, bands=band_list, layout=layout,
                            **values), sample_rate


class RoFormerPart(TrainingPart):
    """A RoFormer's training part: the model's STFT in, the waveforms' multi-domain L1 out.

    Args:
        arch: the architecture.
        target: the run's ``--target`` (the model's target unless ``targets`` is given).
        nb_channels: the run's channels.
        options: the architecture's checked options.
    """

    loss_label = "L1 wave + multi-res STFT"
    log_scale = True  # both terms are positive

    def __init__(self, arch: "RoFormerArchitecture", target: str, nb_channels: int, options: Mapping[str, Any]):
        self.arch_ = arch
        self.name = self.stem = arch.name
        self.options = dict(options)
        self.targets = parse_targets(options["targets"], target)
        self.n_fft, self.n_hop, self.nb_channels = options["nfft"], options["nhop"], nb_channels
        self.min_valid_samples = self.n_fft
        self.sample_rate = 44100.0
        self.weight = float(options["stft_loss_weight"])
        win = options["win_length"] or self.n_fft
        self.stft = STFT(self.n_fft, self.n_hop, win_length=win, normalized=options["normalized"])
        self.istft = ISTFT(self.n_fft, self.n_hop, win_length=win, normalized=options["normalized"])
        self.resolutions = [STFT(max(r, self.n_fft), RESOLUTION_HOP, win_length=r) for r in RESOLUTIONS]

    def to(self, device: torch.device) -> "RoFormerPart":
        self.stft, self.istft = self.stft.to(device), self.istft.to(device)
        self.resolutions = [s.to(device) for s in self.resolutions]
        return self

    def dataset_options(self, dataset: str) -> Dict[str, Any]:
        """Several targets: items carry them all (``(targets, channels, samples)``), from MUSDB18."""
        if len(self.targets) == 1:
            return {}
        if dataset != "musdb":
            raise ArchitectureError(f"--targets {','.join(self.targets)}: a joint model of several targets trains "
                                    f"on --dataset musdb, not {dataset} (train one target per run there)")
        return {"joint_targets": self.targets}

    def new_model(self, sample_rate: float, statistics: Optional[Tuple[np.ndarray, np.ndarray]]) -> nn.Module:
        self.sample_rate = float(sample_rate)  # the mel bands depend on it: checkpoints keep it
        return BandRoFormer(self.arch_.settings(self.options, self.targets, self.nb_channels, sample_rate))

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        return {"architecture": self.name, "sample_rate": self.sample_rate, **self.arch_.settings_json(model.settings)}

    def model_from_arch(self, arch: Mapping[str, Any]) -> nn.Module:
        self.check_arch(arch, "umx")
        settings, self.sample_rate = read_settings("the checkpoint", arch, self.arch_.layout, self.arch_.read_bands)
        return BandRoFormer(settings)

    def load_folder(self, model_dir: PathLike) -> nn.Module:
        settings, _, state = self.arch_.read_folder(Path(model_dir))
        if list(settings.targets) != self.targets:
            raise ModelError(f"{model_dir}: its targets {list(settings.targets)} are not this run's {self.targets}")
        self.check_stft(model_dir, settings.n_fft, settings.hop_length, settings.nb_channels)
        return load_state(BandRoFormer(settings), state, Path(model_dir) / f"{self.stem}.pth", "its json")

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """Model input: the mixture's STFT ``(batch, channels, bins, frames, 2)``; reference: the targets'
        waveforms ``(batch, targets, channels, samples)``.

        Args:
            x: mixtures ``(batch, channels, samples)``.
            y: targets ``(batch, channels, samples)`` or ``(batch, targets, channels, samples)``.
        """
        return torch.view_as_real(self.stft(x)), (y if y.dim() == 4 else y.unsqueeze(1))

    def waveforms(self, estimate: torch.Tensor, samples: int) -> torch.Tensor:
        """``(batch, targets, channels, bins, frames, 2)`` -> ``(batch, targets, channels, samples)``."""
        return self.istft(torch.view_as_complex(estimate.float().contiguous()), samples)

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """Waveform L1 plus ``stft_loss_weight`` times the multi-resolution complex STFT L1.

        Args:
            estimate: ``(batch, targets, channels, bins, frames, 2)``.
            reference: ``(batch, targets, channels, samples)``.
        """
        wave = self.waveforms(estimate, reference.shape[-1])
        total = torch.mean(torch.abs(wave - reference))
        if self.weight:
            est, ref = wave.flatten(0, 2), reference.flatten(0, 2)
            stft_term = sum(torch.mean(torch.abs(s(est) - s(ref))) for s in self.resolutions)
            total = total + self.weight * stft_term
        return total

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """The chunk's loss weighted by its samples."""
        samples = reference.shape[-1]
        return self.loss(estimate, reference).double().cpu() * samples, samples

    def save(self, out: Path, model: nn.Module, sample_rate: float, extra: Dict[str, Any]) -> None:
        self.arch_.save(out, model, sample_rate, extra)


class RoFormerArchitecture(Architecture):
    """A band-split RoFormer architecture (see the module docstring); subclasses give the bands.

    Attributes:
        layout: :attr:`~.roformer.RoFormerSettings.layout`.
    """

    layout = "bs"
    options_title = "RoFormer options"
    model_types = (BandRoFormer,)

    # -- bands (subclasses) --------------------------------------------------

    def bands(self, options: Mapping[str, Any], sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
        """The bands of a training run's options (``ArchitectureError``)."""
        raise NotImplementedError

    def read_bands(self, where: PathLike, data: Mapping[str, Any], n_fft: int,
                   sample_rate: float) -> Tuple[Tuple[int, ...], ...]:
        """The bands of a model json's settings (``ModelError``)."""
        raise NotImplementedError

    def bands_json(self, settings: RoFormerSettings) -> Dict[str, Any]:
        """The json settings that give the bands back."""
        raise NotImplementedError

    # -- settings ------------------------------------------------------------

    def check_together(self, options: Mapping[str, Any]) -> None:
        check_common(options)
        self.bands(options, 44100.0)

    def settings(self, options: Mapping[str, Any], targets: Sequence[str], nb_channels: int,
                 sample_rate: float) -> RoFormerSettings:
        return settings_from_options(self.layout, self.bands, options, targets, nb_channels, sample_rate)

    def settings_json(self, settings: RoFormerSettings) -> Dict[str, Any]:
        out = settings_json(settings)
        out.update(self.bands_json(settings), nb_channels=settings.nb_channels)
        return out

    def build(self, config: ModelConfig, targets: Sequence[str]) -> Dict[str, nn.Module]:
        options = dict(self.check_options({k: v for k, v in config.options.items()
                                           if k in {o.name for o in self.options}}))
        settings = self.settings(options, targets, config.nb_channels, config.sample_rate)
        return {self.name: BandRoFormer(settings)}

    # -- folder ----------------------------------------------------------------

    def read_folder(self, model_dir: Path) -> Tuple[RoFormerSettings, float, Dict[str, torch.Tensor]]:
        js, pth = model_dir / f"{self.name}.json", model_dir / f"{self.name}.pth"
        data = read_json(js)
        if data.get("architecture") != self.name:
            raise ModelError(f"{js}: not a {self.title} model (its architecture is {data.get('architecture')!r})")
        settings, sample_rate = read_settings(js, flatten(js, data), self.layout, self.read_bands)
        return settings, sample_rate, state_dict_from_file(pth)

    def load(self, model_dir: Path, stem: str, targets: Sequence[str],
             device: Union[str, torch.device] = "cpu") -> Tuple[Dict[str, nn.Module], ModelConfig]:
        settings, sample_rate, state = self.read_folder(Path(model_dir))
        model = BandRoFormer(settings)
        load_state(model, state, Path(model_dir) / f"{self.name}.pth", "its json")
        try:
            model.select_targets(list(targets) if targets else list(settings.targets))
        except ValueError as err:
            raise ModelError(f"{model_dir}: {err}") from None
        options = self.settings_json(settings)  # holds nfft and nhop, which the Separator reads
        config = ModelConfig(target=self.name, sample_rate=sample_rate, nb_channels=settings.nb_channels,
                             architecture=self.name, options=options)
        return {self.name: frozen(model.to(device))}, config

    def save(self, out: PathLike, model: BandRoFormer, sample_rate: float,
             extra: Optional[Mapping[str, Any]] = None) -> None:
        """Write ``<name>.pth`` and ``<name>.json`` (and ``separator.json``) into ``out``."""
        settings = self.settings_json(model.settings)
        save_model_files(out, self.name, model.state_dict(), settings, sample_rate, model.targets,
                         identity={"architecture": self.name, "targets": list(model.targets)}, extra=extra)

    # -- training and capabilities -------------------------------------------------

    def training_part(self, target: str, nb_channels: int, options: Mapping[str, Any]) -> TrainingPart:
        return RoFormerPart(self, target, nb_channels, options)

    def capabilities(self, model: nn.Module) -> Capabilities:
        s: RoFormerSettings = model.settings
        return Capabilities(output=SPECTROGRAM, joint=True, streamable=False, causal=False, exportable=True,
                            causal_note=f"a {self.title} model: its attention reads every frame of a chunk",
                            win_length=s.win_length, normalized=s.normalized, chunk_size=s.chunk_size,
                            num_overlap=s.num_overlap)


__all__ = ["COMMON_OPTIONS", "RoFormerArchitecture", "RoFormerPart", "read_settings", "settings_from_options",
           "parse_targets", "check_common", "RESOLUTIONS", "RESOLUTION_HOP"]
