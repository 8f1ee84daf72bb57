"""The learning rate over a run: linear warm-up, then plateau decay, cosine decay or one cycle.

Kinds (``TrainConfig.lr_schedule``):

* ``plateau``: the rate is multiplied by ``lr_decay_gamma`` after
  ``lr_decay_patience`` validations without improvement (cool-down 10), as
  :class:`torch.optim.lr_scheduler.ReduceLROnPlateau` does;
* ``cosine``: from ``lr`` down to ``lr * FINAL_FRACTION`` along half a cosine
  over ``horizon`` optimizer steps, held there afterwards;
* ``onecycle``: up from ``lr / 25`` to ``lr`` over the first 30 % of
  ``horizon`` steps, then down along half a cosine to ``lr * FINAL_FRACTION``.

Every kind can start with ``warmup`` steps of linear warm-up from
``lr / warmup`` to ``lr``; during warm-up the plateau decay waits. The rate
of step ``s`` (0-based) depends only on ``s`` and, for ``plateau``, on the
validation losses seen so far, so a resumed run (``state_dict``) goes on as
an uninterrupted one.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import torch

SCHEDULES: Tuple[str, ...] = ("plateau", "cosine", "onecycle")
FINAL_FRACTION = 1e-2  # where cosine and one-cycle decay end, relative to lr
ONECYCLE_RISE = 0.3  # share of the horizon spent rising in one-cycle
ONECYCLE_START = 1 / 25  # where one-cycle starts, relative to lr


def shape(kind: str, step: int, warmup: int, horizon: int) -> float:
    """The rate of optimizer step ``step`` (0-based) relative to the base rate, before plateau decay."""
    warm = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    if kind == "plateau":
        return warm
    span = max(1, horizon - warmup)
    t = min(1.0, max(0.0, (step - warmup) / span))
    if kind == "cosine":
        return warm * (FINAL_FRACTION + (1 - FINAL_FRACTION) * 0.5 * (1 + math.cos(math.pi * t)))
    if kind == "onecycle":
        if t < ONECYCLE_RISE:
            return warm * (ONECYCLE_START + (1 - ONECYCLE_START) * t / ONECYCLE_RISE)
        u = (t - ONECYCLE_RISE) / (1 - ONECYCLE_RISE)
        return warm * (FINAL_FRACTION + (1 - FINAL_FRACTION) * 0.5 * (1 + math.cos(math.pi * u)))
    raise ValueError(f"unknown learning-rate schedule {kind!r}; one of {', '.join(SCHEDULES)}")


class LRSchedule:
    """Sets the optimizer's rate before every step and decays it on plateaus.

    Args:
        optimizer: its param groups' ``lr`` is overwritten before each step.
        kind: one of :data:`SCHEDULES`.
        lr: the base rate.
        warmup: steps of linear warm-up (0: none).
        horizon: steps over which ``cosine`` and ``onecycle`` decay.
        gamma, patience: the plateau decay's factor and patience (in validations).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, kind: str, lr: float, warmup: int, horizon: int,
                 gamma: float, patience: int):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {kind!r}; one of {', '.join(SCHEDULES)}")
        self.optimizer = optimizer
        self.kind, self.lr, self.warmup, self.horizon = kind, lr, warmup, horizon
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=gamma, patience=patience, cooldown=10
        )
        self.decay = 1.0  # product of the plateau decays so far
        self.step_count = 0

    def before_step(self) -> None:
        """Set the rate of the next optimizer step."""
        rate = self.lr * self.decay * shape(self.kind, self.step_count, self.warmup, self.horizon)
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        self.step_count += 1

    def after_validation(self, loss: float) -> None:
        """Record a validation loss; a ``plateau`` schedule past its warm-up may decay."""
        if self.kind != "plateau" or self.step_count < self.warmup:
            return
        before = self.optimizer.param_groups[0]["lr"]
        self.plateau.step(loss)
        after = self.optimizer.param_groups[0]["lr"]
        if after < before:
            self.decay *= after / before

    @property
    def current(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "decay": self.decay, "step_count": self.step_count,
                "plateau": self.plateau.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if "step_count" not in state:  # a checkpoint of a run from before schedules: plateau only
            self.plateau.load_state_dict(state)
            self.decay = self.current / self.lr
            return
        self.decay, self.step_count = state["decay"], state["step_count"]
        self.plateau.load_state_dict(state["plateau"])
