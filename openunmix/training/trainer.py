"""One training run: setup, epochs, validation and early stopping (see :mod:`openunmix.training`).

What a run does besides training (saving, the loss plot, the printed log) and
how a caller watches it are callbacks (:mod:`.callbacks`); the setup's small
pieces are in :mod:`.setup`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from .. import architectures
from .. import distributed as dist_utils
from .callbacks import Callback, CallbackList, EpochRecord, LogPrinter, LossPlot, ModelSaver, step_shortcut
from .tensorboard import TensorBoardLogger
from .averaging import WeightAverage, averaging_note, check_averaging
from .config import EarlyStopping, TrainConfig, TrainingError
from .loader import make_loader
from .outputs import read_checkpoint, run_info, sigint_deferred
from .setup import (amp_note, append_record, backward_step, check_finite, copy_state, local_batch_size,
                    make_optimizer, new_state, on_device, open_datasets, prepare_output, progress_bar, restore,
                    schedule_horizon, seeded)
from .statistics import shared_statistics
from .validation import check_selection, selection_value, validation_loss, validation_sdr


def default_callbacks(cfg: Optional[Any] = None) -> List[Callback]:
    """What a normal run does besides training: save, plot, print (in this order), then the TensorBoard
    event files when ``cfg`` (a :class:`~openunmix.training.TrainConfig`) asks for them."""
    chosen: List[Callback] = [ModelSaver(), LossPlot(), LogPrinter()]
    if cfg is not None and cfg.tensorboard:
        chosen.append(TensorBoardLogger(cfg.tensorboard_audio_every))
    return chosen


class Trainer:
    """One training run of ``cfg``; :meth:`run` trains and returns 0. Every name the settings give
    (architecture and its options, dataset layout and target, model folder, checkpoint) is checked
    before any work starts and before anything is written.

    ``callbacks`` are called at fixed points of the run (:mod:`.callbacks` says when, on which ranks,
    and what they may read), after the defaults of a normal run (:func:`default_callbacks`:
    saving, loss plot, printed log), which ``defaults=False`` leaves out. ``on_step(trainer, step)``
    is deprecated: a :class:`.callbacks.StepFunction` added after ``callbacks``.
    """

    def __init__(self, cfg: TrainConfig, callbacks: Optional[Sequence[Callback]] = None, *, defaults: bool = True,
                 on_step: Optional[Callable[["Trainer", int], bool]] = None):
        self.cfg = cfg
        self.stopped = False  # a callback asked to stop
        self.stop_reason: Optional[str] = None  # set when the run ends (callbacks' docs)
        self.epoch = 0  # the epoch in progress
        self.data_wait = 0.0  # seconds spent waiting for batches in the epoch in progress
        # the clock of the epoch, validation and data-wait times (a CPU-time budget sets time.process_time)
        self.clock: Callable[[], float] = time.perf_counter
        self.valid_sdr: Optional[Dict[str, float]] = None  # the last validation's {target: uSDR}
        check_selection(cfg.select_by, cfg.valid_sdr)
        check_averaging(cfg.ema, cfg.clip_grad)
        self.average: Optional[WeightAverage] = None  # the weight average (cfg.ema), made by build()
        self.grad_norm: Optional[torch.Tensor] = None  # the last step's gradient norm before clipping (cfg.clip_grad)
        arch = architectures.get(cfg.architecture)
        self.options = arch.check_options(cfg.architecture_options)
        self.part = arch.training_part(cfg.target, cfg.nb_channels, self.options)
        self.ctx = dist_utils.setup(use_cuda=not cfg.no_cuda)
        self.device = self.ctx.device
        self.is_main = self.ctx.rank == 0
        self.out = Path(cfg.output)
        self.local_batch = local_batch_size(cfg.batch_size, self.ctx.world_size)
        self.loader = None
        chosen = (default_callbacks(cfg) if defaults else []) + list(callbacks or []) + step_shortcut(on_step)
        self.callbacks = CallbackList(chosen, self.is_main)

    @property
    def step(self) -> int:
        """Optimizer steps taken in the run (resumed runs included)."""
        return self.scheduler.step_count

    # -- setup -------------------------------------------------------------

    @seeded(lambda trainer: trainer.cfg.seed)  # initial weights; the caller's generators are kept
    def build(self) -> None:
        cfg = self.cfg
        dataset_options = self.part.dataset_options(cfg.dataset)
        chk, model = self._starting_point()
        self.train_ds, self.valid_ds = open_datasets(cfg, dataset_options, self.ctx.world_size, self.local_batch)
        prepare_output(self.out, self.is_main)
        self.sample_rate = float(self.train_ds.sample_rate)
        self.part.to(self.device)

        self.state: Dict[str, Any] = new_state()
        if model is None:
            model = self.part.new_model(self.sample_rate, self._statistics())
            # every process starts from rank 0's initial weights
            dist_utils.broadcast_module(model, self.ctx)
        self.arch = self.part.arch(model)
        self.model = model.to(self.device)
        self.average = WeightAverage(self.model, cfg.ema) if cfg.ema is not None else None
        self.net = dist_utils.wrap_model(self.model, self.ctx)
        horizon = schedule_horizon(cfg, len(self.train_ds), self.ctx.world_size, self.local_batch)
        self.optimizer, self.scheduler = make_optimizer(cfg, self.model, horizon)
        self.es = EarlyStopping(patience=cfg.patience)
        self.best_state = copy_state(self.model)
        # holds the best weights when saving
        self.best_model = self._model_from_arch(self.arch)
        if chk is not None:
            self.es, self.state, self.best_state = restore(chk, self.optimizer, self.scheduler, self.average)
        self.start_epoch = self.state["epoch"] + 1
        self.scaler = dist_utils.make_grad_scaler(cfg.amp, self.device)
        self.amp_dtype = dist_utils.amp_dtype(cfg.amp, self.device)
        if cfg.compile:
            self.net = torch.compile(self.net)
        if cfg.amp:
            self.log(amp_note(self.amp_dtype))
        if cfg.ema is not None or cfg.clip_grad is not None:
            self.log(averaging_note(cfg.ema, cfg.clip_grad))

    def _starting_point(self) -> Tuple[Any, Any]:
        """``(checkpoint, model)`` to resume or fine-tune from (``(None, None)`` for a new model)."""
        cfg = self.cfg
        if cfg.checkpoint:
            folder = Path(cfg.checkpoint)
            chk = read_checkpoint(folder / f"{self.part.stem}.chkpnt" if folder.is_dir() else folder)
            model = self._model_from_arch(chk["arch"])
            model.load_state_dict(chk["model"])
            return chk, model
        if cfg.model:
            return None, self.part.load_folder(cfg.model)
        return None, None

    def _model_from_arch(self, arch: Dict[str, Any]) -> torch.nn.Module:
        try:
            return self.part.model_from_arch(arch)
        except (architectures.ArchitectureError, KeyError) as err:
            raise TrainingError(f"{self.cfg.checkpoint}: unusable checkpoint ({err})") from None

    def _statistics(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """The per-bin mixture statistics the part asks for (rank 0 computes, every process gets them)."""
        return shared_statistics(self.part.statistics, self.train_ds, self.sample_rate, self.ctx, self.is_main,
                                 self.cfg.nb_workers, not self.cfg.quiet, self.log)

    # -- loops -------------------------------------------------------------

    def log(self, msg: str) -> None:
        """A note of the run's: handed to the callbacks' ``on_message`` (the log printer prints it)."""
        self.callbacks.on_message(self, msg)

    def _loader(self, epoch: int) -> DataLoader:
        """The training loader, built once; each epoch re-seeds its sampler."""
        if self.loader is None:
            self.loader, self.sampler = make_loader(
                self.train_ds, self.local_batch, self.ctx.world_size, self.ctx.rank, self.cfg.seed,
                self.cfg.nb_workers, pin_memory=self.device.type == "cuda")
        self.sampler.set_epoch(epoch)
        return self.loader

    # dropout and loader seeds depend only on (seed, epoch, rank): a resumed run
    # repeats an uninterrupted one, and processes draw different dropout masks
    @seeded(lambda trainer, epoch: trainer.cfg.seed * 1_000_003 + epoch * 1009 + trainer.ctx.rank)
    def train_epoch(self, epoch: int) -> float:
        """One epoch over the training loader; returns the mean training loss."""
        self.net.train()
        loader = self._loader(epoch)
        total, count = 0.0, 0
        bar = progress_bar(self.is_main and not self.cfg.quiet, len(loader), f"epoch {epoch}")
        self.data_wait = 0.0  # seconds spent waiting for batches this epoch
        asked = self.clock()
        for x, y in loader:
            self.data_wait += self.clock() - asked
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.before_step()
            with torch.no_grad():
                X, Y = self.part.prepare(x, y)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                Yhat = self.net(X)
            loss = self.part.loss(Yhat.float(), Y)
            value = dist_utils.mean_over_processes(loss.detach(), self.ctx)
            check_finite(value, "loss", epoch, self.out)
            self.grad_norm = backward_step(loss, self.optimizer, self.scaler, self.cfg.clip_grad)
            if self.average is not None:
                self.average.update(self.model)
            total += value * x.shape[0]
            count += x.shape[0]
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.4g}")
            if self.callbacks.on_step(self, self.scheduler.step_count):
                self.stopped = True
                break
            asked = self.clock()
        bar.close()
        return total / max(count, 1)

    def validate(self) -> float:
        """The validation loss of :attr:`eval_model` over whole validation tracks, each processed in chunks."""
        self.net.eval()
        chunk = max(self.part.min_valid_samples, int(self.cfg.valid_chunk_dur * self.sample_rate))
        return validation_loss(self.eval_model, self.part, self.valid_ds, chunk, self.device, self.amp_dtype,
                               self.ctx)

    @property
    def eval_model(self) -> torch.nn.Module:
        """The module validated, selected and saved: the weight average with ``cfg.ema``, else :attr:`model`."""
        return self.model if self.average is None else self.average.module

    def eval_state(self) -> Dict[str, torch.Tensor]:
        """The weights validated, selected and saved (:attr:`eval_model`'s state dict, not copied)."""
        return self.eval_model.state_dict()

    def _judge(self, epoch: int, valid_loss: float) -> bool:
        """Hand a validation to the schedule (the loss) and early stopping (the loss or the SDR, as
        ``cfg.select_by`` says); True: early stopping ends the run."""
        check_finite(valid_loss, "validation loss", epoch, self.out)
        self.scheduler.after_validation(valid_loss)
        stop = self.es.step(selection_value(self.cfg.select_by, valid_loss, self.valid_sdr))
        if self.es.num_bad_epochs == 0:
            self.state["best_epoch"] = epoch
            self.best_state = copy_state(self.eval_model)
        self.callbacks.on_validation(self, epoch, valid_loss)
        return stop

    def _epoch(self, epoch: int) -> Optional[str]:
        """Train one epoch, validate it when due, record and save it; the reason to stop after it, or None."""
        self.epoch = epoch
        self.callbacks.on_epoch_start(self, epoch)
        t0 = self.clock()
        train_loss = self.train_epoch(epoch)
        if self.stopped:
            return "callback"
        valid_loss, t_valid, stop, sdr = None, 0.0, False, None
        if epoch % self.cfg.valid_every == 0 or epoch == self.cfg.epochs:
            t_valid = self.clock()
            valid_loss = self.validate()
            if self.cfg.valid_sdr:  # the model is in eval mode after validate()
                sdr = validation_sdr(self.eval_model, self.part, self.valid_ds, self.sample_rate, self.ctx)
            self.valid_sdr = sdr
            t_valid = self.clock() - t_valid
            stop = self._judge(epoch, valid_loss)
        record = EpochRecord(epoch, train_loss, valid_loss, self.clock() - t0, t_valid, self.data_wait,
                             self.optimizer.param_groups[0]["lr"], self.scheduler.step_count, sdr)
        append_record(self.state, record)
        self.save()
        self.callbacks.on_epoch_end(self, epoch, record)
        return "early stopping" if stop else None

    # -- outputs -----------------------------------------------------------

    def save(self) -> None:
        """Have the callbacks write the run's files (``on_save``; rank 0 only, Ctrl-C held until all are done)."""
        if not self.is_main:
            return
        with sigint_deferred():
            self.callbacks.on_save(self)

    def save_model(self) -> None:
        """Write the best weights so far and the run's json (the architecture's files), atomically."""
        self.best_model.load_state_dict(self.best_state)
        info = run_info(self.cfg, self.options, self.state, self.es, self.sample_rate, self.ctx.world_size)
        self.part.save(self.out, self.best_model, self.sample_rate, extra=info)

    @on_device  # the current GPU and cuDNN autotuning for the run only
    def run(self) -> int:
        """Build, then train until ``epochs``, early stopping or a callback's stop; returns 0.

        The caller's generators, current CUDA device and cuDNN settings are the same afterwards."""
        self.build()
        self.callbacks.on_train_start(self)
        if self.start_epoch > 1:
            # a run killed between writing the checkpoint and the other files left them
            # one epoch behind: write the whole set again from the checkpoint
            self.save()
        reason = "already stopped" if self.es.num_bad_epochs >= self.es.patience else None
        epoch = self.start_epoch
        while reason is None and epoch <= self.cfg.epochs:  # until the last epoch or a reason to stop
            reason, epoch = self._epoch(epoch), epoch + 1
        self.stop_reason = reason or "epochs"
        self.callbacks.on_train_end(self)
        return 0
