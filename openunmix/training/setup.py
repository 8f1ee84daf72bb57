"""Building a run: checks of the datasets, the optimizer and its schedule, the run's state and resuming it.

Small functions of :class:`~openunmix.training.Trainer`'s setup and
bookkeeping, each independent of the trainer.
"""

from __future__ import annotations

import contextlib
import functools
import math
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Sized, Tuple, TypeVar

import torch

from .. import data as data_mod
from ..distributed import device_scope
from ..utils import make_output_folder, remove_stale_temporaries
from .averaging import WeightAverage, clip_gradients
from .callbacks import EpochRecord
from .config import EarlyStopping, TrainConfig, TrainingError
from .schedule import LRSchedule


def local_batch_size(batch_size: int, world_size: int) -> int:
    """Each process's share of the global batch; TrainingError when it does not split evenly."""
    if batch_size % world_size:
        raise TrainingError(f"--batch-size {batch_size} does not split evenly over {world_size} processes")
    return batch_size // world_size


def open_datasets(cfg: TrainConfig, part_options: Dict[str, Any], world_size: int,
                  local_batch: int) -> Tuple[Any, Any]:
    """The training and validation datasets of ``cfg`` (``part_options``: the architecture's dataset
    options), checked (:func:`check_datasets`)."""
    train_ds, valid_ds = data_mod.load_datasets(
        cfg.dataset, root=cfg.root, target=cfg.target, seq_duration=cfg.seq_dur,
        samples_per_track=cfg.samples_per_track, sample_rate=cfg.sample_rate, nb_channels=cfg.nb_channels,
        seed=cfg.seed, **cfg.dataset_options, **part_options,
    )
    check_datasets(cfg, train_ds, valid_ds, world_size, local_batch)
    return train_ds, valid_ds


def prepare_output(out: Path, is_main: bool) -> None:
    """Make the output folder (every process checks, so that none waits for a rank 0 that gave up); rank 0
    removes the temporary files that runs killed while writing there left behind."""
    try:
        make_output_folder(out)
    except OSError as err:
        raise TrainingError(str(err)) from None
    if is_main:
        remove_stale_temporaries(out)


def check_datasets(cfg: TrainConfig, train_ds: Sized, valid_ds: Sized, world_size: int, local_batch: int) -> None:
    """Raise TrainingError when a dataset is empty or the training set gives no whole batch per process."""
    if len(train_ds) == 0:
        raise TrainingError(f"{cfg.root}: no training items")
    if len(valid_ds) == 0:
        raise TrainingError(f"{cfg.root}: no validation tracks")
    if len(train_ds) // world_size < local_batch:  # batches are never partial
        raise TrainingError(
            f"{cfg.root}: the training set gives {len(train_ds)} excerpts per epoch, fewer than one "
            f"batch of {cfg.batch_size}; lower --batch-size or raise --samples-per-track"
        )


def schedule_horizon(cfg: TrainConfig, nb_items: int, world_size: int, local_batch: int) -> int:
    """Steps over which a cosine or one-cycle schedule decays: ``lr_horizon``, or all epochs' steps."""
    if cfg.lr_horizon is not None:
        return cfg.lr_horizon
    per_epoch = nb_items // world_size // local_batch
    return max(1, cfg.epochs * per_epoch)


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module, horizon: int) -> Tuple[torch.optim.Optimizer,
                                                                                       LRSchedule]:
    """Adam over ``model``'s parameters and its learning-rate schedule."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = LRSchedule(optimizer, cfg.lr_schedule, cfg.lr, cfg.warmup_steps, horizon, cfg.lr_decay_gamma,
                           cfg.lr_decay_patience)
    return optimizer, scheduler


def copy_state(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """A copy of ``model``'s weights on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def new_state() -> Dict[str, Any]:
    """The state of a run before its first epoch (epoch 0, empty histories)."""
    return {
        "epoch": 0, "train_loss_history": [], "valid_loss_history": [],
        "train_time_history": [], "best_epoch": 0, "lr_history": [],
    }


def restore(chk: Dict[str, Any], optimizer: torch.optim.Optimizer, scheduler: LRSchedule,
            average: Optional[WeightAverage] = None) -> Tuple[EarlyStopping, Dict[str, Any], Dict[str, torch.Tensor]]:
    """Load a checkpoint's optimizer and schedule, and its weight average into ``average`` (when both have one:
    an average of a checkpoint without one starts from the checkpoint's weights); returns its ``(early
    stopping, state, best weights)``."""
    optimizer.load_state_dict(chk["optimizer"])
    scheduler.load_state_dict(chk["scheduler"])
    if average is not None and chk.get("ema") is not None:
        average.load_state_dict(chk["ema"])
    return EarlyStopping(**chk["early_stopping"]), chk["state"], chk["best_model"]


def append_record(state: Dict[str, Any], record: EpochRecord) -> None:
    """Append one finished epoch to the run's state (the histories of older checkpoints are extended)."""
    state["epoch"] = record.epoch
    state["train_loss_history"].append(record.train_loss)
    state["valid_loss_history"].append(record.valid_loss)
    state["train_time_history"].append(record.seconds)
    state.setdefault("data_wait_history", []).append(record.data_wait)
    state.setdefault("valid_time_history", []).append(record.valid_seconds)
    sdr = state.setdefault("valid_sdr_history", [])
    sdr.extend([None] * (record.epoch - 1 - len(sdr)))  # a checkpoint of before validation SDRs
    sdr.append(None if record.valid_sdr is None else dict(record.valid_sdr))
    state["lr_history"].append(record.lr)
    state["step"] = record.step


def amp_note(amp_dtype: Optional[torch.dtype]) -> str:
    """The log's note on ``--amp``: the autocast type, or why it has no effect."""
    if amp_dtype is None:
        return "--amp has no effect on this CPU (no bfloat16 units): training in float32"
    return f"mixed precision: {str(amp_dtype).replace('torch.', '')} autocast, STFT in float32"


def check_finite(value: float, name: str, epoch: int, out: Path) -> None:
    """Raise TrainingError when a loss is not finite (the last finished epoch stays in ``out``)."""
    if not math.isfinite(value):
        raise TrainingError(
            f"{name} became {value} in epoch {epoch}; stopped, the last good checkpoint is kept in {out}"
        )


def backward_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: Optional[Any],
                  clip: Optional[float] = None) -> Optional[torch.Tensor]:
    """Back-propagate ``loss`` and take one optimizer step (through the gradient scaler when there is one).

    With ``clip``, the gradients of the optimizer's parameters are first scaled down to a total L2 norm of at
    most ``clip`` (unscaled first when there is a scaler); returns their norm before clipping (a 0-dim tensor),
    None without ``clip``.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]] if clip is not None else []
    norm = None
    if scaler is not None:
        scaler.scale(loss).backward()
        if clip is not None:
            scaler.unscale_(optimizer)
            norm = clip_gradients(params, clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if clip is not None:
            norm = clip_gradients(params, clip)
        optimizer.step()
    return norm


def progress_bar(shown: bool, total: int, desc: str) -> Any:
    """A tqdm bar of one epoch's batches on stderr (a disabled one, which shows nothing, unless ``shown``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, disable=not shown)


@contextlib.contextmanager
def seeded_generators(seed: int, device: torch.device) -> Iterator[None]:
    """For the block only: torch's global generators of the CPU and of ``device`` (a GPU) seeded with
    ``seed``; the caller's generator states are restored afterwards.

    What draws from the global generators and takes no generator of its own
    (the architectures' weight initialisation, dropout masks) is then decided
    by ``seed`` alone, and a program that trains and goes on finds its own
    random numbers unchanged.
    """
    device = torch.device(device)
    index = None
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
    with torch.random.fork_rng(devices=[] if index is None else [index]):
        torch.random.default_generator.manual_seed(seed)
        if index is not None:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


F = TypeVar("F", bound=Callable[..., Any])


def seeded(seed_of: Callable[..., int]) -> Callable[[F], F]:
    """A trainer method decorated so that each call draws from generators seeded with
    ``seed_of(trainer, *args)`` (:func:`seeded_generators` on the trainer's device)."""
    def decorate(method: F) -> F:
        @functools.wraps(method)
        def call(trainer: Any, *args: Any, **kwargs: Any) -> Any:
            with seeded_generators(seed_of(trainer, *args, **kwargs), trainer.device):
                return method(trainer, *args, **kwargs)
        return call  # type: ignore[return-value]
    return decorate


def on_device(method: F) -> F:
    """A trainer method decorated so that, during each call only, the trainer's GPU is the current CUDA
    device and cuDNN autotunes (:func:`openunmix.distributed.device_scope`); nothing changes on CPUs."""
    @functools.wraps(method)
    def call(trainer: Any, *args: Any, **kwargs: Any) -> Any:
        with device_scope(trainer.device):
            return method(trainer, *args, **kwargs)
    return call  # type: ignore[return-value]
