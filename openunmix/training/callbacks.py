"""Training hooks: what a run does besides training, and how a caller watches or stops a run.

A :class:`Callback` has one no-op method per point of a run; the
:class:`~openunmix.training.Trainer` calls them in this order::

    on_message*                      build: setup notes (mixed precision, statistics pass)
    on_train_start                   once, after build, before any epoch
    on_save                          a resumed run first writes its whole set of files again
    for each epoch:
        on_epoch_start
        on_step*                     after every optimizer step; True asks the run to stop
        on_validation                after a validated epoch's validation
        on_save                      after the epoch's record was appended
        on_epoch_end
    on_train_end                     once, when the run ends without an error

``on_train_end`` is not called when the run raises (an error, Ctrl-C).

Ranks: under ``torchrun`` every process calls the hooks of its callbacks at
the same points, except ``on_save``, which is called on rank 0 only, with
Ctrl-C held until all callbacks have returned (the files of an epoch are
written as one set). A callback whose ``main_only`` is True is called on
rank 0 only; the defaults that print and write files are.

The default callbacks (:func:`openunmix.training.trainer.default_callbacks`), in this order:
:class:`ModelSaver` (checkpoint, model and json), :class:`LossPlot` (the
loss curves), :class:`LogPrinter` (the printed log) and, unless the run's
``tensorboard`` is off, :class:`~.tensorboard.TensorBoardLogger` (event files). A caller's
callbacks come after them: when a caller's ``on_epoch_end`` runs, the
epoch is saved and its line printed.

What a callback may read from the trainer (and should not change):

* ``cfg`` (:class:`~openunmix.training.TrainConfig`), ``options`` (the
  architecture's checked options), ``part`` (the architecture's training
  part; ``part.stem`` names the files), ``out`` (the output folder),
  ``is_main`` (rank 0), ``ctx.rank`` and ``ctx.world_size``;
* from ``on_train_start`` on: ``model`` (the module being trained, not
  wrapped for data parallelism), ``optimizer``, ``scheduler``, ``es``
  (:class:`~openunmix.training.EarlyStopping`), ``sample_rate``,
  ``start_epoch`` (the first epoch this run trains: above 1 when resumed),
  ``state`` (``epoch``: the last finished epoch; ``train_loss_history``,
  ``valid_loss_history`` (None where not validated),
  ``train_time_history``, ``data_wait_history``, ``valid_time_history``,
  ``valid_sdr_history`` (``{target: dB}`` or None per epoch),
  ``lr_history``, ``best_epoch``, ``step``) and ``best_state`` (the best
  weights so far);
* from ``on_train_start`` on: ``eval_model`` and ``eval_state()``: the
  module, and its state dict, that validation runs and the best model is
  taken from (the weight average with ``cfg.ema``, :mod:`.averaging`;
  else ``model``); ``average`` (the :class:`~.averaging.WeightAverage`,
  or None); in ``on_step``, ``grad_norm``: the step's gradient norm before
  clipping (a 0-dim tensor with ``cfg.clip_grad``, else None);
* ``step``: optimizer steps taken in the run (resumed runs included);
  ``epoch``: the epoch in progress; ``data_wait``: seconds this epoch spent
  waiting for batches so far; ``clock``: what these seconds and those of the
  histories are counted with (``time.perf_counter``; settable, e.g. to
  ``time.process_time`` for a CPU-time budget);
* ``valid_sdr``: the last validation's ``{target: uSDR}`` (None before the
  first, or without ``cfg.valid_sdr``);
* ``stopped`` (a callback asked to stop) and, in ``on_train_end``,
  ``stop_reason``: ``"epochs"``, ``"early stopping"`` (this run's),
  ``"already stopped"`` (a resumed run that early stopping had ended:
  no epoch ran) or ``"callback"``.

The trainer seeds torch's global random generator at the start of each
epoch's training, after ``on_epoch_start``; ``on_step``, called in the middle
of the epoch, must not draw from it (the epoch's dropout masks would change,
and a run with the callback would differ from one without).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

from .outputs import plot_losses, save_checkpoint

# the run a hook is called with: an openunmix.training.trainer.Trainer (not imported here, for the trainer
# imports this module; what a callback may read of it is listed above)
Trainer = Any


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch, as appended to the trainer's histories."""

    epoch: int
    train_loss: float
    valid_loss: Optional[float]  # None: the epoch was not validated
    seconds: float  # the whole epoch, validation included
    valid_seconds: float
    data_wait: float  # seconds spent waiting for batches
    lr: float  # the learning rate of the epoch's last step
    step: int  # optimizer steps taken in the run so far
    valid_sdr: Optional[Dict[str, float]] = None  # {target: mean uSDR over the validation tracks}, when computed


class Callback:
    """No-op hooks of a training run; subclass and override what you need (see the module's docs)."""

    main_only: bool = False  # True: called on rank 0 only

    def on_message(self, trainer: "Trainer", text: str) -> None:
        """A note of the trainer's own (setup, statistics pass), one line."""

    def on_train_start(self, trainer: "Trainer") -> None:
        """After build (model, optimizer, resumed state), before the first epoch."""

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        """Before the epoch's first batch."""

    def on_step(self, trainer: "Trainer", step: int) -> bool:
        """After each optimizer step (``step``: steps taken in the run); True asks the run to stop.

        The run then stops at once, before the epoch's validation and saving:
        the last finished epoch stays saved. Must not draw random numbers.
        """
        return False

    def on_validation(self, trainer: "Trainer", epoch: int, valid_loss: float) -> None:
        """After an epoch's validation, once early stopping and the learning-rate schedule have seen it
        (``trainer.state["best_epoch"]`` is ``epoch`` when it improved; ``trainer.valid_sdr`` holds the
        validation's ``{target: uSDR}``, or None); only validated epochs."""

    def on_save(self, trainer: "Trainer") -> None:
        """Write files (rank 0 only; Ctrl-C is held meanwhile): after each epoch's record, and once at the
        start of a resumed run."""

    def on_epoch_end(self, trainer: "Trainer", epoch: int, record: EpochRecord) -> None:
        """After the epoch's record was appended to ``trainer.state`` and saved."""

    def on_train_end(self, trainer: "Trainer") -> None:
        """When the run ends without an error (``trainer.stop_reason`` says why)."""


class CallbackList:
    """Calls each hook on every callback, in order; ``main_only`` callbacks are left out off rank 0."""

    def __init__(self, callbacks: Iterable[Callback], is_main: bool):
        self.callbacks: List[Callback] = [c for c in callbacks if is_main or not c.main_only]

    def on_message(self, trainer: "Trainer", text: str) -> None:
        for c in self.callbacks:
            c.on_message(trainer, text)

    def on_train_start(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_train_start(trainer)

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        for c in self.callbacks:
            c.on_epoch_start(trainer, epoch)

    def on_step(self, trainer: "Trainer", step: int) -> bool:
        """Every callback sees the step; True when any asks to stop."""
        stop = False
        for c in self.callbacks:
            stop = bool(c.on_step(trainer, step)) or stop
        return stop

    def on_validation(self, trainer: "Trainer", epoch: int, valid_loss: float) -> None:
        for c in self.callbacks:
            c.on_validation(trainer, epoch, valid_loss)

    def on_save(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_save(trainer)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, record: EpochRecord) -> None:
        for c in self.callbacks:
            c.on_epoch_end(trainer, epoch, record)

    def on_train_end(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_train_end(trainer)


def seconds_text(t: float) -> str:
    """Seconds as the log shows them."""
    return f"{t:.1f}s"


def epoch_line(record: EpochRecord, best: float, best_epoch: int, select_by: str = "loss") -> str:
    """The log line of a finished epoch (``best``: early stopping's value; with ``select_by`` ``sdr`` the
    negated mean SDR, shown as the SDR)."""
    shown = "-" if record.valid_loss is None else f"{record.valid_loss:.6g}"
    sdr = ""
    if record.valid_sdr:
        sdr = f"  SDR {sum(record.valid_sdr.values()) / len(record.valid_sdr):.2f} dB"
    best_text = f"best SDR {-best:.2f} dB" if select_by == "sdr" else f"best {best:.6g}"
    return (
        f"epoch {record.epoch:4d}  train {record.train_loss:.6g}  valid {shown}{sdr}  "
        f"{best_text} (epoch {best_epoch})  "
        f"lr {record.lr:.3g}  {seconds_text(record.seconds)}"
    )


class LogPrinter(Callback):
    """The printed log (rank 0): the trainer's notes, resuming, one line per epoch and how the run ended."""

    main_only = True

    def on_message(self, trainer: "Trainer", text: str) -> None:
        print(text, flush=True)

    def on_train_start(self, trainer: "Trainer") -> None:
        if trainer.start_epoch > 1:
            print(f"resuming at epoch {trainer.start_epoch} from {trainer.cfg.checkpoint}", flush=True)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, record: EpochRecord) -> None:
        print(epoch_line(record, trainer.es.best, trainer.state["best_epoch"], trainer.cfg.select_by), flush=True)

    def on_train_end(self, trainer: "Trainer") -> None:
        reason = trainer.stop_reason
        if reason == "already stopped":
            print("early stopping had already stopped this run", flush=True)
            return
        if reason == "callback":
            print(f"stopped in epoch {trainer.epoch} after {trainer.step} steps", flush=True)
        elif reason == "early stopping":
            print(f"early stopping: no improvement for {trainer.cfg.patience} validations", flush=True)
        print(f"best model (epoch {trainer.state['best_epoch']}) saved in {trainer.out}/{trainer.part.stem}.pth",
              flush=True)


class ModelSaver(Callback):
    """Writes the checkpoint, then the best model and its json (rank 0, each file atomically)."""

    main_only = True

    def on_save(self, trainer: "Trainer") -> None:
        save_checkpoint(trainer.out / f"{trainer.part.stem}.chkpnt", {
            "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
            "optimizer": trainer.optimizer.state_dict(),
            "scheduler": trainer.scheduler.state_dict(),
            "early_stopping": asdict(trainer.es),
            "state": trainer.state,
            "best_model": trainer.best_state,
            "arch": trainer.arch,
            # the weight average and its update count (--ema): a resumed run continues it
            "ema": None if trainer.average is None else trainer.average.state_dict(),
        })
        trainer.save_model()


class LossPlot(Callback):
    """Draws the loss curves into ``<stem>_loss.png`` (rank 0, atomically)."""

    main_only = True

    def on_save(self, trainer: "Trainer") -> None:
        stem, state = trainer.part.stem, trainer.state
        plot_losses(trainer.out / f"{stem}_loss.png", state["train_loss_history"], state["valid_loss_history"],
                    state["best_epoch"], stem, ylabel=trainer.part.loss_label, log_scale=trainer.part.log_scale)


class StepFunction(Callback):
    """A plain ``fn(trainer, step) -> bool`` as an :meth:`~Callback.on_step` hook (every rank)."""

    def __init__(self, fn: Callable[["Trainer", int], bool]):
        self.fn = fn

    def on_step(self, trainer: "Trainer", step: int) -> bool:
        return bool(self.fn(trainer, step))


def step_shortcut(on_step: Optional[Callable[["Trainer", int], bool]]) -> List[Callback]:
    """The deprecated ``Trainer(on_step=fn)`` as a callback list (empty without ``fn``)."""
    if on_step is None:
        return []
    warnings.warn("Trainer(on_step=fn) is deprecated: pass callbacks=[StepFunction(fn)] or a Callback",
                  DeprecationWarning, stacklevel=3)
    return [StepFunction(on_step)]


__all__ = ["Callback", "CallbackList", "EpochRecord", "LogPrinter", "ModelSaver", "LossPlot", "StepFunction",
           "epoch_line"]
