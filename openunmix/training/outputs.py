"""What a run writes and reads back: the checkpoint, the loss plot, and saving without a torn set of files.

Everything is written atomically (:func:`openunmix.utils.atomic_path`), once
per finished epoch; the model files themselves are the architecture's
(:meth:`~openunmix.architectures.TrainingPart.save`).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

import numpy as np

from ..utils import ModelError, atomic_path, load_torch, save_torch
from .config import EarlyStopping, TrainConfig, TrainingError

# what a checkpoint holds
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "early_stopping", "state", "best_model", "arch")


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block is done (in the main thread), then raise it.

    Saving an epoch writes several files; an interrupt in the middle would
    leave a checkpoint without its json. Each file is atomic anyway, so a
    SIGKILL still leaves a consistent (older) set.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def run_info(cfg: TrainConfig, options: Mapping[str, Any], state: Mapping[str, Any], es: EarlyStopping,
             sample_rate: float, world_size: int) -> Dict[str, Any]:
    """What a run adds to its model's json: the arguments (dataset and architecture options among
    them), the sample rate, and the histories so far."""
    args = asdict(cfg)
    args.update(args.pop("dataset_options"))
    args.pop("architecture_options")
    args.update(options)
    best_epoch = state["best_epoch"]
    valid = state["valid_loss_history"]
    sdrs = state.get("valid_sdr_history", [])
    best_loss = es.best if cfg.select_by == "loss" else (valid[best_epoch - 1] if 0 < best_epoch <= len(valid) else None)
    best_sdr = sdrs[best_epoch - 1] if 0 < best_epoch <= len(sdrs) else None
    return {
        "args": args,
        "sample_rate": sample_rate,
        "epochs_trained": state["epoch"],
        "best_epoch": best_epoch,
        "best_loss": best_loss if best_loss is not None and math.isfinite(best_loss) else None,
        "best_sdr": best_sdr,
        "select_by": cfg.select_by,
        "num_bad_epochs": es.num_bad_epochs,
        "train_loss_history": state["train_loss_history"],
        "valid_loss_history": state["valid_loss_history"],
        "train_time_history": state["train_time_history"],
        "data_wait_history": state.get("data_wait_history", []),
        "valid_time_history": state.get("valid_time_history", []),
        "valid_sdr_history": sdrs,
        "lr_history": state["lr_history"],
        "steps": state.get("step", 0),
        "world_size": world_size,
    }


def save_checkpoint(path: Path, checkpoint: Dict[str, Any]) -> None:
    """Write a checkpoint (every key of :data:`CHECKPOINT_KEYS`) atomically."""
    save_torch(path, checkpoint)


def read_checkpoint(path: Path) -> Dict[str, Any]:
    """A checkpoint this program wrote, loaded without running code.

    Raises:
        TrainingError: an unreadable file or not a checkpoint of this program.
    """
    try:
        chk = load_torch(path)
    except ModelError as err:
        raise TrainingError(str(err)) from None
    if not isinstance(chk, dict) or any(k not in chk for k in CHECKPOINT_KEYS):
        raise TrainingError(f"{path}: not a training checkpoint of this program")
    return chk


def plot_losses(path: Path, train: List[float], valid: List[Optional[float]], best_epoch: int, target: str,
                ylabel: str = "MSE", log_scale: bool = True) -> None:
    """Save the loss curves as a png, atomically (log-scaled y axis: for positive losses only).

    ``valid`` holds None for epochs that were not validated (``valid_every`` > 1).
    """
    # a Figure without pyplot: no global figure state and no switch of the caller's matplotlib backend
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, label="train")
    checked = [i for i, v in enumerate(valid) if v is not None]
    ax.plot(epochs[checked], [valid[i] for i in checked], label="valid", marker="." if len(checked) < len(valid) else None)
    if best_epoch:
        ax.axvline(best_epoch, color="gray", linestyle=":", label=f"best ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(f"{target} training")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
