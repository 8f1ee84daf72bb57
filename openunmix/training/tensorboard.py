"""TensorBoard event files of a training run: :class:`TensorBoardLogger`, one of the default callbacks.

A run writes into ``<output>/tensorboard/<stem>/`` (one TensorBoard run per
model of the folder; ``tensorboard --logdir models/`` shows every run under
``models/``). The x axis is the optimizer step (``steps`` in the run's json).
Tags:

========================  ===============================================  =============
tag                       value                                            when
========================  ===============================================  =============
``loss/train``            the epoch's mean training loss                   every epoch
``loss/valid``            the validation loss                              validated epochs
``sdr/<target>``          the validation's uSDR of each target (dB)        validated epochs
``sdr/mean``              their mean over targets                          validated epochs
``lr``                    the learning rate of the epoch's last step       every epoch
``time/seconds_per_step`` training seconds (validation left out) per step  every epoch
``time/data_wait_share``  share of those seconds spent waiting for batches every epoch
``time/validation``       seconds the validation took                      validated epochs
``step/grad_norm``        the gradients' global L2 norm (before clipping)  every step
``step/lr``               the learning rate                                every step
========================  ===============================================  =============

Every ``audio_every`` validations (the first included) the estimates of
each target on an excerpt of the first validation track (its first
:data:`EXCERPT` seconds, as mono) are written as audio (``audio/<target>``)
and as spectrogram images (``spectrogram/<target>``); the mixture's and the
references' once.

A resumed run appends to the same folder: it starts with TensorBoard's purge
marker at the step after its checkpoint, so that the steps of an epoch that
did not finish are not shown twice. A new run (not resumed) purges every
earlier event of the folder the same way.

Rank 0 only. A folder that cannot be written, or TensorBoard missing, is
one warning (through the run's log) and the run goes on without event files.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np
import torch

from .callbacks import Callback, EpochRecord
from .validation import mean_sdr, part_targets, references, separate_targets, training_separator

Trainer = Any
EXCERPT = 10.0  # seconds of the first validation track written as audio
SPECTROGRAM_FFT = 1024
SPECTROGRAM_RANGE = 80.0  # dB below the loudest bin shown


def spectrogram_image(audio: np.ndarray, n_fft: int = SPECTROGRAM_FFT, db_range: float = SPECTROGRAM_RANGE) -> np.ndarray:
    """A mono signal's magnitude spectrogram as an RGB image, low frequencies at the bottom.

    Args:
        audio: ``(samples,)``.

    Returns:
        ``(n_fft // 2 + 1, frames, 3)`` floats in [0, 1] (the magma colour map over ``db_range`` dB).
    """
    from matplotlib import colormaps

    x = torch.from_numpy(np.asarray(audio, dtype=np.float32))
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs().numpy()
    db = 20 * np.log10(np.maximum(spec, 1e-10))
    top = float(db.max())
    scaled = np.clip((db - (top - db_range)) / db_range, 0.0, 1.0)[::-1]
    return colormaps["magma"](scaled)[..., :3].astype(np.float32)


class TensorBoardLogger(Callback):
    """Writes the run's TensorBoard event files (see the module's docs); rank 0 only.

    Args:
        audio_every: validations between audio and spectrogram summaries (0: none).
    """

    main_only = True

    def __init__(self, audio_every: int = 5):
        self.audio_every = audio_every
        self.writer: Optional[Any] = None
        self.validations = 0  # validations of the run so far (resumed runs included)
        self.epoch_start_step = 0
        self.sources_written = False

    # -- the writer ----------------------------------------------------------

    def _give_up(self, trainer: "Trainer", err: BaseException) -> None:
        """One warning; no more event files in this run."""
        self.writer = None
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        trainer.log(f"warning: TensorBoard: {detail}; training goes on without event files")

    def _write(self, trainer: "Trainer", fn: Any, *args: Any, **kwargs: Any) -> None:
        if self.writer is None:
            return
        try:
            fn(*args, **kwargs)
        except (OSError, RuntimeError, ValueError) as err:
            self._give_up(trainer, err)

    def on_train_start(self, trainer: "Trainer") -> None:
        folder = trainer.out / "tensorboard" / trainer.part.stem
        try:
            from torch.utils.tensorboard import SummaryWriter

            folder.mkdir(parents=True, exist_ok=True)
            # TensorBoard drops the events of earlier runs in this folder from this step on
            self.writer = SummaryWriter(str(folder), purge_step=int(trainer.state.get("step", 0)) + 1, flush_secs=30)
        except (ImportError, OSError, RuntimeError) as err:
            self._give_up(trainer, err)
            return
        self.validations = sum(v is not None for v in trainer.state["valid_loss_history"])

    # -- what is written -------------------------------------------------------

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        self.epoch_start_step = trainer.step

    def on_step(self, trainer: "Trainer", step: int) -> bool:
        if self.writer is None:
            return False
        norm = getattr(trainer, "grad_norm", None)  # with --clip-grad: the norm before clipping
        if norm is None:
            norms = [p.grad.detach().norm() for p in trainer.model.parameters() if p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack(norms).float()) if norms else None
        if norm is not None:
            self._write(trainer, self.writer.add_scalar, "step/grad_norm", float(norm), step)
        self._write(trainer, self.writer.add_scalar, "step/lr", trainer.optimizer.param_groups[0]["lr"], step)
        return False

    def on_validation(self, trainer: "Trainer", epoch: int, valid_loss: float) -> None:
        self.validations += 1
        if self.writer is None or self.audio_every <= 0 or (self.validations - 1) % self.audio_every:
            return
        try:
            self._audio(trainer)
        except (OSError, RuntimeError, ValueError) as err:
            self._give_up(trainer, err)

    def _audio(self, trainer: "Trainer") -> None:
        """The estimates of an excerpt of the first validation track, as audio and spectrograms."""
        x, y = trainer.valid_ds[0]
        length = min(x.shape[-1], int(EXCERPT * trainer.sample_rate))
        targets = part_targets(trainer.part)
        rate = int(round(trainer.sample_rate))
        model = trainer.eval_model  # the weights validated (the average with --ema)
        was_training = model.training
        model.eval()
        try:
            separator = training_separator(model, trainer.part, trainer.sample_rate)
            with torch.inference_mode():
                estimates = separate_targets(separator, x[..., :length], targets)
        finally:
            model.train(was_training)
        step = trainer.step
        sounds: Dict[str, np.ndarray] = {f"audio/{t}": e.mean(axis=0) for t, e in estimates.items()}
        if not self.sources_written:
            sounds["audio/mixture"] = x[..., :length].double().numpy().mean(axis=0)
            for t, r in references(y[..., :length], targets).items():
                sounds[f"audio/reference_{t}"] = r.mean(axis=0)
            self.sources_written = True
        for tag, mono in sounds.items():
            clipped = np.clip(mono, -1.0, 1.0).astype(np.float32)
            self.writer.add_audio(tag, torch.from_numpy(clipped)[None], step, sample_rate=rate)
            self.writer.add_image(tag.replace("audio/", "spectrogram/"), spectrogram_image(clipped), step,
                                  dataformats="HWC")

    def on_epoch_end(self, trainer: "Trainer", epoch: int, record: EpochRecord) -> None:
        if self.writer is None:
            return
        step = record.step
        train_seconds = max(record.seconds - record.valid_seconds, 1e-9)
        steps = max(record.step - self.epoch_start_step, 1)
        scalars = {"loss/train": record.train_loss, "lr": record.lr,
                   "time/seconds_per_step": train_seconds / steps,
                   "time/data_wait_share": record.data_wait / train_seconds}
        if record.valid_loss is not None:
            scalars["loss/valid"] = record.valid_loss
            scalars["time/validation"] = record.valid_seconds
        if record.valid_sdr:
            scalars.update({f"sdr/{t}": v for t, v in record.valid_sdr.items()})
            scalars["sdr/mean"] = mean_sdr(record.valid_sdr)
        for tag, value in scalars.items():
            if value is not None and math.isfinite(value):
                self._write(trainer, self.writer.add_scalar, tag, value, step)
        self._write(trainer, self.writer.flush)  # the epoch's events on disk with its checkpoint

    def on_train_end(self, trainer: "Trainer") -> None:
        if self.writer is not None:
            self._write(trainer, self.writer.close)
            self.writer = None
