"""What every architecture provides: the :class:`Architecture` interface, its training part and small data types.

An architecture is one kind of model (Open-Unmix, X-UMX, or a plug-in). Its
module holds everything particular to it, behind this interface:

* building a model from settings (:meth:`Architecture.build`);
* its folder format: which files of a model folder it owns and which targets
  they hold (:meth:`Architecture.folder_models`), loading and validating them
  (:meth:`Architecture.load`) and the files it writes (its training part's
  :meth:`TrainingPart.save`);
* its training part (:class:`TrainingPart`: dataset options, new model,
  checkpoint settings, loss, files) and its training options, declared as
  data (:class:`TrainingOption`) that the train command turns into flags;
* what callers may ask of its models (:meth:`Architecture.capabilities`):
  whether a model returns several targets at once, runs block by block, sees
  only the past, can be exported.

Shapes follow :mod:`openunmix.separation.separator`: waveforms ``(batch, channels, samples)``
(several targets: ``(batch, targets, channels, samples)``), magnitudes
``(batch, channels, bins, frames)`` (several targets stacked last).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import losses
from .folder import ModelConfig, peek_json
from ..transforms import STFT, ComplexNorm
from ..utils import ModelError, PathLike


class ArchitectureError(ModelError):
    """An unknown architecture, a plug-in that does not load, or settings an architecture refuses (one line)."""


@dataclass(frozen=True)
class TrainingOption:
    """A training setting particular to one architecture, declared as data.

    The train command turns it into a flag; the run's json stores it under
    ``args`` with the other arguments.

    Attributes:
        name: its key in ``TrainConfig.architecture_options`` and in the json.
        kind: ``float``, ``int``, ``bool`` or ``str`` (text the architecture
            checks in :meth:`Architecture.check_together`).
        default: the value when the option is not given.
        help: one line for ``--help``.
        low, high: inclusive bounds of a number (``None``: unbounded).
        flag: the command-line flag; by default ``--<name>`` with dashes, and
            ``--no-<name>`` for a ``bool`` that defaults to True (the flag
            turns it off).
    """

    name: str
    kind: type
    default: Any
    help: str
    low: Optional[float] = None
    high: Optional[float] = None
    flag: str = ""

    @property
    def flag_name(self) -> str:
        """The command-line flag of the option."""
        if self.flag:
            return self.flag
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.kind is bool and self.default else f"--{dashed}"

    def check(self, value: Any) -> Any:
        """``value`` as ``kind``, within the bounds.

        Raises:
            ArchitectureError: naming the option and what is wrong.
        """
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ArchitectureError(f"option {self.name}: expected true or false, got {value!r}")
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise ArchitectureError(f"option {self.name}: expected text, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ArchitectureError(f"option {self.name}: expected a number, got {value!r}")
        if self.kind is int and float(value) != int(value):
            raise ArchitectureError(f"option {self.name}: expected an integer, got {value!r}")
        if not math.isfinite(value) or (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high):
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            bounds = f"[{low}, {high}]"
            raise ArchitectureError(f"option {self.name}: {value!r} is out of range {bounds}")
        return self.kind(value)


# what a model returns (Capabilities.output), and so which estimation step the Separator runs
MAGNITUDE = "magnitude"
SPECTROGRAM = "spectrogram"
WAVEFORM = "waveform"
OUTPUTS = (MAGNITUDE, SPECTROGRAM, WAVEFORM)


@dataclass(frozen=True)
class Capabilities:
    """What callers (the Separator, the export, the stream) may ask of one model.

    Attributes:
        output: what the model takes and returns, and so what the
            :class:`~openunmix.separation.separator.Separator` does with it:

            * ``"magnitude"``: mixture magnitude ``(batch, channels, bins,
              frames)`` in, target magnitude of the same shape out (a joint
              model: targets stacked last); the Separator Wiener-filters the
              estimates against the mixture's STFT (UMX, X-UMX);
            * ``"spectrogram"``: the mixture's STFT as real and imaginary
              parts ``(batch, channels, bins, frames, 2)`` in
              (``torch.view_as_real``'s layout, so that a model is real
              arithmetic and exports to ONNX), the target's STFT in the same
              layout out (e.g. a complex-masked mixture; a joint model:
              ``(batch, targets, channels, bins, frames, 2)``); the Separator
              takes its inverse STFT, no filter;
            * ``"waveform"``: the mixture ``(batch, channels, samples)`` in,
              the target ``(batch, channels, samples)`` out (a joint model:
              ``(batch, targets, channels, samples)``); no STFT, no filter.

            Models of the first two kinds work on the STFT of their folder's
            ``nfft``/``nhop`` settings (:attr:`ModelConfig.n_fft`).
        joint: the model returns several targets at once, listed by its
            ``targets`` attribute (the Separator runs it once for all).
        streamable: the model runs frame block by frame block with its state
            carried (``encode``, an ``lstm`` whose ``(h, c)`` state is carried,
            ``decode``; see :class:`openunmix.stream.StreamingSeparator`).
        causal: its output for a frame depends on that frame and the past only.
        causal_note: when not causal, what reads the future and how to get a
            causal model, for messages (e.g. the stream's refusal).
        exportable: one ONNX graph per model can be made from it (its input
            and output as ``output`` says; complex spectrograms as real and
            imaginary parts), and the TorchScript separator.
        win_length, normalized: the STFT beyond ``nfft``/``nhop``: the Hann
            window's length (None: ``nfft``) and ``torch.stft``'s
            ``normalized`` (models of spectrograms).
        chunk_size: samples the model sees at once when it separates (0: any
            length): longer audio runs in chunks that overlap-add
            (:func:`~openunmix.separation.steps.chunked`).
        num_overlap: chunks that cover each sample (the step is
            ``chunk_size // num_overlap``).
    """

    output: str = MAGNITUDE
    joint: bool = False
    streamable: bool = False
    causal: bool = False
    exportable: bool = False
    causal_note: str = ""
    win_length: Optional[int] = None
    normalized: bool = False
    chunk_size: int = 0
    num_overlap: int = 1

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"Capabilities.output must be one of {', '.join(OUTPUTS)}, not {self.output!r}")

    @property
    def filtered(self) -> bool:
        """The Separator Wiener-filters this model's estimates (its output is magnitudes)."""
        return self.output == MAGNITUDE


def check_stft_options(options: Mapping[str, Any]) -> None:
    """An architecture's ``nhop`` no larger than its ``nfft`` (for :meth:`Architecture.check_together`).

    Raises:
        ArchitectureError: in the words of the command line's flags.
    """
    if options["nhop"] > options["nfft"]:
        raise ArchitectureError(f"argument --nhop: {options['nhop']} is larger than --nfft {options['nfft']}")


class Spectrogram(torch.nn.Module):
    """Waveform ``(batch, channels, samples)`` -> magnitude ``(batch, channels, bins, frames)``."""

    def __init__(self, n_fft: int, n_hop: int, mono: bool):
        super().__init__()
        self.stft = STFT(n_fft, n_hop)
        self.norm = ComplexNorm(mono=mono)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` -> ``(batch, channels, bins, frames)`` (channels 1 when mono)."""
        return self.norm(self.stft(x))


class TrainingPart:
    """What a model type brings to the training loop (:mod:`openunmix.training`).

    The loop (epochs, early stopping, checkpoints, resume, DDP, ``--amp``) is
    the same for every architecture; the part says which targets a dataset
    item carries, how the model is built (new, from a checkpoint's settings,
    from a model folder), how a batch of waveforms becomes the model input
    and the loss's reference, the loss, and which files the model is saved as.

    Attributes:
        name: the architecture's name (``--architecture``).
        stem: file names in the output folder (``<stem>.pth``, ``.json``,
            ``.chkpnt``, ``_loss.png``).
        loss_label, log_scale: y-axis label and scale of the loss plot (a log
            scale only for losses that stay positive).
        statistics: ``(n_fft, n_hop)`` of the per-bin mixture magnitude
            statistics the loop computes over the training set before a new
            model is built (rank 0, then shared) and hands to
            :meth:`new_model`; ``None``: no statistics pass.
        min_valid_samples: the shortest validation chunk in samples (e.g. one hop).
        n_fft, n_hop, nb_channels: the run's STFT (None for models of waveforms) and channels.
    """

    name = ""
    stem = ""
    loss_label = "loss"
    log_scale = False
    statistics: Optional[Tuple[int, int]] = None
    min_valid_samples = 1
    n_fft: Optional[int] = None
    n_hop: Optional[int] = None
    nb_channels = 2

    def to(self, device: torch.device) -> "TrainingPart":
        """Move the part's transforms to ``device``."""
        return self

    def dataset_options(self, dataset: str) -> Dict[str, Any]:
        """Options for :func:`openunmix.data.load_datasets` (``ArchitectureError`` for a layout it cannot use)."""
        return {}

    def new_model(self, sample_rate: float, statistics: Optional[Tuple[np.ndarray, np.ndarray]]) -> nn.Module:
        """An untrained model of the part's settings for audio at ``sample_rate``.

        Args:
            statistics: the per-bin mean and standard deviation of the mixture
                magnitude (``(n_fft // 2 + 1,)`` each, at :attr:`statistics`'s
                STFT), or ``None`` when the part asks for none.
        """
        raise NotImplementedError

    def arch(self, model: nn.Module) -> Dict[str, Any]:
        """The settings stored in checkpoints (:meth:`model_from_arch` rebuilds the model from them);
        they include ``"architecture": name``."""
        raise NotImplementedError

    def model_from_arch(self, arch: Mapping[str, Any]) -> nn.Module:
        """An untrained model of a checkpoint's settings (``ArchitectureError`` for another architecture's)."""
        raise NotImplementedError

    def check_arch(self, arch: Mapping[str, Any], default: str) -> None:
        """Raise :class:`ArchitectureError` unless a checkpoint's settings are this architecture's
        (``default``: the architecture of checkpoints that do not say)."""
        found = arch.get("architecture", default)
        if found != self.name:
            raise ArchitectureError(f"the checkpoint holds a {found!r} model, not {self.name!r}")

    def load_folder(self, model_dir: PathLike) -> nn.Module:
        """The trained model of a model folder, to fine-tune.

        Raises:
            ModelError: unusable files, or settings that differ from the run's
                (STFT, channels, the model's shape), naming what differs.
        """
        raise NotImplementedError

    def check_stft(self, where: PathLike, n_fft: Optional[int], n_hop: Optional[int], nb_channels: int) -> None:
        """Raise :class:`~openunmix.utils.ModelError` unless a folder's model has the run's STFT and channels
        (the part's ``n_fft``, ``n_hop`` and ``nb_channels``), for :meth:`load_folder`."""
        if (n_fft, n_hop, nb_channels) != (self.n_fft, self.n_hop, self.nb_channels):
            raise ModelError(f"{where}: its STFT/channel settings differ from this run's arguments")

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """``(model input, loss reference)`` of a batch of waveforms (runs without gradients).

        Args:
            x: mixtures ``(batch, channels, samples)``.
            y: targets, as the dataset gives them (``(batch, channels, samples)``,
                or ``(batch, targets, channels, samples)`` for joint models).
        """
        raise NotImplementedError

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """The training loss (a scalar) of the model's float32 output.

        Args:
            estimate: the model's output for the input :meth:`prepare` gave,
                ``(batch, channels, bins, frames)`` (a joint model: ``(batch,
                channels, bins, frames, targets)``).
            reference: the loss reference :meth:`prepare` gave.
        """
        raise NotImplementedError

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """``(sum, count)`` of one validation chunk (``estimate`` and ``reference`` as for :meth:`loss`);
        the validation loss is ``Σ sum / Σ count``."""
        raise NotImplementedError

    def save(self, out: Path, model: nn.Module, sample_rate: float, extra: Dict[str, Any]) -> None:
        """Write the model's files into ``out`` (``extra``: arguments and history for the json)."""
        raise NotImplementedError


class MagnitudeTargetPart(TrainingPart):
    """The training part of a model of one target that maps the mixture's magnitude to the target's:
    MSE between estimated and true magnitudes ``(batch, channels, bins, frames)``.

    Subclasses give :attr:`name`, :meth:`new_model`, :meth:`model_from_arch`,
    :meth:`load_folder` and :meth:`save`; ``stem`` defaults to the target.

    Args:
        target: the target.
        n_fft, n_hop, nb_channels: the run's STFT and channels.
    """

    loss_label = "MSE"
    log_scale = True  # the loss is positive: log-scaled plot

    def __init__(self, target: str, n_fft: int, n_hop: int, nb_channels: int):
        self.target = target
        self.stem = target
        self.n_fft, self.n_hop, self.nb_channels = n_fft, n_hop, nb_channels
        self.min_valid_samples = n_hop
        self.spec = Spectrogram(n_fft, n_hop, mono=nb_channels == 1)

    def to(self, device: torch.device) -> "MagnitudeTargetPart":
        self.spec = self.spec.to(device)
        return self

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """The mixture's and the target's magnitudes ``(batch, channels, bins, frames)``.

        Args:
            x, y: mixture and target waveforms ``(batch, channels, samples)``.
        """
        return self.spec(x), self.spec(y)

    def loss(self, estimate: torch.Tensor, reference: Any) -> torch.Tensor:
        """MSE of ``(batch, channels, bins, frames)`` magnitudes."""
        return losses.magnitude_mse(estimate, reference)

    def valid_sums(self, estimate: torch.Tensor, reference: Any) -> Tuple[torch.Tensor, int]:
        """Sum of squared errors of ``(batch, channels, bins, frames)`` magnitudes and number of values."""
        return torch.sum((estimate - reference) ** 2).double().cpu(), reference.numel()


class Architecture:
    """One kind of model and everything particular to it (see the module docstring).

    Subclasses set the attributes and implement the methods; an instance is
    registered with :func:`openunmix.architectures.register`.

    Attributes:
        name: the ``--architecture`` value and the ``"architecture"`` of its files.
        title: its name in messages (``Open-Unmix``, ...).
        description: one line for ``--architecture``'s help.
        file_stem: how its files are named in a model folder, for help texts
            (``<target>``, ``xumx``, ...).
        options: its training options (flags of the train command).
        options_title: the title of its flags' group in ``--help``.
        claims_remaining: it also owns ``<stem>.json`` + ``<stem>.pth`` files that
            no other architecture claims (folders without an ``"architecture"``
            mark, as upstream writes them); at most one architecture does.
        model_types: the ``nn.Module`` classes of its models (capability lookup).
    """

    name = ""
    title = ""
    description = ""
    file_stem = "<target>"
    options: Tuple[TrainingOption, ...] = ()
    options_title = ""
    claims_remaining = False
    model_types: Tuple[type, ...] = ()

    # -- settings ----------------------------------------------------------

    def check_options(self, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Its training options: the given ones checked, the others at their defaults.

        Raises:
            ArchitectureError: an option it does not have (the line lists its
                options) or a value out of range.
        """
        options = dict(options or {})
        known = {o.name: o for o in self.options}
        unknown = [k for k in options if k not in known]
        if unknown:
            have = ", ".join(known) or "none"
            raise ArchitectureError(f"architecture {self.name!r} has no option {unknown[0]!r} (its options: {have})")
        checked = {name: o.check(options.get(name, o.default)) for name, o in known.items()}
        self.check_together(checked)
        return checked

    def check_together(self, options: Mapping[str, Any]) -> None:
        """Checks that involve several options (e.g. a hop no longer than the FFT); nothing by default.

        Raises:
            ArchitectureError: naming the options' flags and what is wrong.
        """

    def option(self, name: str) -> TrainingOption:
        """The declaration of option ``name``."""
        return next(o for o in self.options if o.name == name)

    # -- building ----------------------------------------------------------

    def build(self, config: "ModelConfig", targets: Sequence[str]) -> Dict[str, nn.Module]:
        """Untrained models of ``config`` for ``targets``, as a Separator takes them (``{key: model}``)."""
        raise NotImplementedError

    # -- folder format -----------------------------------------------------

    def folder_models(self, model_dir: Path, stems: Sequence[str]) -> Dict[str, List[str]]:
        """The models of this architecture among a folder's ``<stem>.json`` files: ``{stem: targets}``.

        ``stems`` are the json files not claimed yet (``separator.json``
        excluded). The default claims the stems whose json says
        ``"architecture": name`` and that have a ``<stem>.pth``; their targets
        are the json's ``"targets"`` list, or its ``"target"``.
        """
        found: Dict[str, List[str]] = {}
        for stem in stems:
            data = peek_json(model_dir / f"{stem}.json")
            if data.get("architecture") != self.name or not (model_dir / f"{stem}.pth").is_file():
                continue
            targets = data.get("targets", [data.get("target")])
            if isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets):
                found[stem] = list(targets)
        return found

    def load(self, model_dir: Path, stem: str, targets: Sequence[str],
             device: Union[str, torch.device] = "cpu") -> Tuple[Dict[str, nn.Module], "ModelConfig"]:
        """Load, validate and freeze the model of ``<stem>.*`` for ``targets`` (some or all of its targets).

        Returns:
            ``({key: model}, config)``, the models as a Separator takes them
            and their settings (sample rate, channels, and the architecture's
            own settings in ``config.options``: ``nfft`` and ``nhop`` for
            models that work on an STFT).

        Raises:
            ModelError: missing, malformed or inconsistent files (one line).
        """
        raise NotImplementedError

    def table_options(self, where: str, entry: Mapping[str, Any]) -> Dict[str, Any]:
        """The architecture's settings of a model table entry (the json object of one named model).

        Returns:
            the settings as :meth:`build` and :meth:`load_published` read them
            from ``ModelConfig.options`` (the entry's ``options``).

        Raises:
            ModelError: a missing or bad setting, naming ``where``.
        """
        raise ArchitectureError(f"{where}: architecture {self.name!r} has no models in the model table")

    def load_published(self, config: ModelConfig, where: str, path: PathLike,
                       device: Union[str, torch.device] = "cpu") -> Tuple[nn.Module, ModelConfig]:
        """One target's model of a model table entry from its downloaded file, frozen.

        Args:
            config: the entry's settings for the target (``config.target``):
                sample rate, channels, the architecture's ``options`` (as
                :meth:`table_options` gave them).
            where: the entry, for messages (``model 'umxhq' of models.json``).
            path: the downloaded weights.

        Returns:
            the model and its settings as read from the file (checked against ``config``).
        """
        raise ArchitectureError(f"architecture {self.name!r} has no models in the model table")

    # -- training ----------------------------------------------------------

    def training_part(self, target: str, nb_channels: int, options: Mapping[str, Any]) -> TrainingPart:
        """Its part of a training run of ``target`` (the dataset's target; joint models train their own)
        with ``nb_channels`` channels and its ``options`` (as :meth:`check_options` returns them)."""
        raise ArchitectureError(f"architecture {self.name!r} cannot be trained")

    # -- capabilities ------------------------------------------------------

    def capabilities(self, model: nn.Module) -> Capabilities:
        """What callers may ask of ``model``, one of this architecture's models."""
        return Capabilities(joint=getattr(model, "targets", None) is not None)
