"""Training of any registered architecture: statistics pass, epochs, early stopping, checkpoints,
resume, and multi-process data parallelism.

What differs between model types is the architecture's training part
(:class:`openunmix.architectures.TrainingPart`: which targets an item
carries, the model, the loss, the files); the loop here is the same for
all. ``<stem>`` below is the part's file stem (the target for Open-Unmix).
Everything written to the output folder is written atomically, once per
finished epoch:

* ``<stem>.pth``: the best model's state dict;
* ``<stem>.json``: arguments, STFT settings, sample rate, loss, time and
  validation SDR histories, best epoch (and what it followed, ``select_by``);
* ``<stem>.chkpnt``: everything needed to resume (model, optimizer,
  scheduler, early stopping, epoch, histories, the weight average of
  ``--ema``); random numbers are
  seeded from ``(seed, epoch, rank)`` each epoch, so no generator state is needed;
* ``<stem>_loss.png``: the loss curves;
* ``tensorboard/<stem>/``: TensorBoard event files (:mod:`.tensorboard`),
  flushed after each epoch.

A run first removes the temporary files that runs killed while writing into
the same folder left behind (:func:`openunmix.utils.remove_stale_temporaries`).

Runs under ``torchrun`` too (``WORLD_SIZE`` > 1): DistributedDataParallel with
NCCL on GPUs and gloo on CPU; ``batch_size`` is the global batch, split
evenly between processes, and batch-norm statistics are computed over the
global batch, so a multi-process run follows a single-process run with the
same global batch (dropout masks aside).

What a run does besides training (writing those files, the printed log)
is done by callbacks, and a caller watches or stops a run with its own:
``Trainer(cfg, callbacks=[...])`` (:mod:`.callbacks`).

Modules: :mod:`.config` (settings, early stopping, errors),
:mod:`.statistics` (the statistics pass), :mod:`.loader` (batches per
epoch), :mod:`.outputs` (checkpoint, loss plot), :mod:`.callbacks` (the
hooks of a run and the default ones: saving, loss plot, log),
:mod:`.tensorboard` (the event files), :mod:`.validation` (validation by
SDR through the Separator), :mod:`.averaging` (the weight average of
``--ema`` and ``--clip-grad``'s clipping), :mod:`.setup`
(the setup's small pieces), :mod:`.trainer` (the run).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator, Optional

import torch

from .. import distributed as dist_utils
from ..audio import AudioError
from ..data import DatasetError
from ..utils import ModelError
from .callbacks import Callback
from .config import EarlyStopping, TrainConfig, TrainingError, TrainingInterrupted
from .outputs import plot_losses
from .statistics import dataset_statistics
from .trainer import Trainer

__all__ = ["TrainConfig", "EarlyStopping", "TrainingError", "TrainingInterrupted", "Trainer", "Callback", "train",
           "dataset_statistics", "plot_losses", "ONE_LINE_ERRORS"]

# what a run ends with when it cannot start or go on: each says why in one line
# (architecture errors are ModelErrors)
ONE_LINE_ERRORS = (TrainingError, ModelError, DatasetError, AudioError)


@contextlib.contextmanager
def _process_settings_kept() -> Iterator[None]:
    """Give the caller back its torch thread count, random generators and cuDNN autotuning.

    The trainer itself seeds torch's generators and turns on cuDNN autotuning
    for its own calls only (:func:`.setup.seeded`, :func:`.setup.on_device`);
    this is a second guard around the whole run, so that a program that calls
    :func:`train` and goes on afterwards finds its own settings again.
    """
    threads = torch.get_num_threads()
    benchmark = torch.backends.cudnn.benchmark
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark


def train(cfg: TrainConfig) -> int:
    """Run a training; returns 0 when it ends (after ``epochs`` or early stopping).

    The caller's torch thread count, random generator states and cuDNN
    autotuning setting are the same afterwards as before.

    Raises:
        TrainingError, openunmix.architectures.ArchitectureError,
        openunmix.data.DatasetError, openunmix.utils.ModelError,
        openunmix.audio.AudioError: the run cannot start or go on (one line;
            the last finished epoch stays on disk).
        TrainingInterrupted: Ctrl-C; the last finished epoch is saved.
    """
    error: Optional[BaseException] = None
    with _process_settings_kept():
        trainer = None
        try:
            trainer = Trainer(cfg)
            return trainer.run()
        except KeyboardInterrupt:
            error = TrainingInterrupted(
                f"interrupted: the last finished epoch is saved; resume with --checkpoint {cfg.output}",
                report=trainer is None or trainer.is_main)
        except ONE_LINE_ERRORS as err:
            # raised again below without its traceback, which holds the trainer (see finally)
            error = err.with_traceback(None)
            error.__context__ = error.__cause__ = None
        finally:
            # The DistributedDataParallel model (its reducer) holds the gloo process group.
            # Left alive until interpreter exit, its worker threads were torn down unjoined
            # and aborted the process ("terminate called without an active exception") in
            # about one torchrun run in four; free it before leaving the group.
            trainer = None
            gc.collect()
            dist_utils.cleanup()
    raise error
