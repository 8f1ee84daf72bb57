"""The settings of a training run, early stopping, and the errors a run ends with."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ..architectures import DEFAULT as DEFAULT_ARCHITECTURE


class TrainingError(Exception):
    """Training cannot go on; the message (one line) says why."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGINT) stopped a run; the last finished epoch is saved.

    Attributes:
        report: whether this process should tell the user (the main process
            of a multi-process run; every other process stays quiet).
    """

    def __init__(self, message: str, report: bool = True):
        super().__init__(message)
        self.message = message
        self.report = report


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without an improvement of more than ``min_delta``."""

    patience: int = 20
    min_delta: float = 0.0
    best: float = math.inf
    num_bad_epochs: int = 0

    def step(self, value: float) -> bool:
        """Record an epoch's validation loss; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        return self.num_bad_epochs >= self.patience


@dataclass
class TrainConfig:
    """Every setting of a training run (what ``train.py`` parses).

    What every run has is here; ``dataset_options`` are the layout's own
    options (:mod:`openunmix.data`), ``architecture_options`` the
    architecture's, the model's shape and STFT among them (its declared
    :class:`~openunmix.architectures.TrainingOption` s, e.g. Open-Unmix's
    ``nfft``, ``nhop``, ``bandwidth``, ``hidden_size``, ``nb_layers``,
    ``unidirectional``; missing ones take their defaults). ``lr_schedule``, ``warmup_steps`` and ``lr_horizon``
    (in optimizer steps; None: every step of ``epochs`` epochs) shape the
    learning rate (:mod:`.schedule`); ``valid_every`` validates every that
    many epochs (and after the last), and ``patience`` and
    ``lr_decay_patience`` count validations; ``compile`` runs the model's
    training forward pass through :func:`torch.compile`; ``amp`` trains
    under bfloat16 autocast on CPUs with bfloat16 units and on GPUs (fp16
    where a GPU lacks bf16). Both option dicts are stored with the other arguments under ``args``
    in the run's json. ``valid_sdr``: each validation also separates the
    whole validation tracks and records each target's uSDR
    (:mod:`.validation`); ``select_by`` (``loss`` or ``sdr``) is what the
    best model and early stopping follow (the learning-rate plateau follows
    the loss either way). ``tensorboard``: event files for TensorBoard
    (:mod:`.tensorboard`), with a validation excerpt's estimates as audio and
    spectrogram every ``tensorboard_audio_every`` validations. ``ema``
    (a decay strictly between 0 and 1; None: off): an exponential moving
    average of the weights is updated after every step, and validation, the
    best model and the saved model are the average's (:mod:`.averaging`);
    ``clip_grad`` (above 0; None: off): the gradients are scaled down to that
    total L2 norm before each step.
    """

    root: str
    output: str
    dataset: str = "musdb"
    target: str = "vocals"
    epochs: int = 1000
    patience: int = 20
    batch_size: int = 8
    seq_dur: float = 5.0
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_decay_patience: int = 80
    lr_decay_gamma: float = 0.3
    lr_schedule: str = "plateau"
    warmup_steps: int = 0
    lr_horizon: Optional[int] = None
    valid_every: int = 1
    compile: bool = False  # noqa: A003 (the flag's name)
    recipe: str = "default"  # the recipe the command line started from (recorded in the json)
    seed: int = 1
    nb_channels: int = 2
    sample_rate: float = 44100.0
    samples_per_track: int = 64
    nb_workers: int = 0
    valid_chunk_dur: float = 30.0
    checkpoint: Optional[str] = None
    model: Optional[str] = None
    no_cuda: bool = False
    amp: bool = False
    quiet: bool = False
    valid_sdr: bool = True  # each validation also separates the validation tracks and scores their uSDR
    select_by: str = "loss"  # what the best model and early stopping follow: "loss" or "sdr"
    tensorboard: bool = True  # event files in <output>/tensorboard/<stem>/
    tensorboard_audio_every: int = 5  # validations between audio and spectrogram summaries (0: none)
    ema: Optional[float] = None  # decay of the weights' moving average, validated and saved (None: off)
    clip_grad: Optional[float] = None  # the gradients' total L2 norm is clipped to this (None: off)
    dataset_options: Dict[str, Any] = field(default_factory=dict)
    architecture: str = DEFAULT_ARCHITECTURE
    architecture_options: Dict[str, Any] = field(default_factory=dict)
