"""Weight averaging and gradient clipping of a training run (``--ema DECAY``, ``--clip-grad NORM``).

:class:`WeightAverage` keeps an exponential moving average (EMA) of a
model's weights: after every optimizer step, each floating parameter and
floating buffer ``a`` of the average moves towards the model's ``w``::

    a = d * a + (1 - d) * w,    d = min(DECAY, (1 + n) / (10 + n))

where ``n`` is the number of updates made before this one. The warm-up
``(1 + n) / (10 + n)`` (0.1, 0.18, 0.25, ... rising towards 1) keeps early
averages from being dominated by the weights the average started from (the
random initialisation): after ``k`` updates their share is the product of
the first ``k`` factors (0.1 after one update, under 0.01 after three), and
the average settles to ``DECAY`` once ``(1 + n) / (10 + n)`` exceeds it
(after about ``9 / (1 - DECAY)`` updates). Integer buffers (batch norm's
``num_batches_tracked``) are copied. The average lives in a copy of the model
(float32, on the model's device, always in eval mode), which is what
validation runs and what is saved; training goes on with the model's own
weights.

:func:`clip_gradients` scales the gradients down to a total L2 norm of at
most ``NORM``.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, Optional

import torch

from .config import TrainingError

WARMUP = 10  # the warm-up's constant: d = (1 + n) / (WARMUP + n) while that is below DECAY


def check_averaging(ema: Optional[float], clip_grad: Optional[float]) -> None:
    """Raise :class:`~.config.TrainingError` (one line) for a decay outside (0, 1) or a clipping norm not above 0
    (None: off)."""
    if ema is not None and not 0.0 < ema < 1.0:
        raise TrainingError(f"--ema {ema}: the decay must be strictly between 0 and 1")
    if clip_grad is not None and not clip_grad > 0.0:
        raise TrainingError(f"--clip-grad {clip_grad}: the norm must be above 0")


def averaging_note(ema: Optional[float], clip_grad: Optional[float]) -> str:
    """The log's line at the start of a run with ``--ema`` or ``--clip-grad``."""
    parts = []
    if ema is not None:
        parts.append(f"weight averaging: EMA decay {ema:g} (validated and saved: the average)")
    if clip_grad is not None:
        parts.append(f"gradient clipping: total norm {clip_grad:g}")
    return "; ".join(parts)


def effective_decay(decay: float, updates: int) -> float:
    """The factor of update number ``updates`` (0 for the first): ``min(decay, (1 + n) / (WARMUP + n))``."""
    return min(decay, (1.0 + updates) / (WARMUP + updates))


class WeightAverage:
    """An exponential moving average of ``model``'s weights (see the module's docs), starting from its current
    weights.

    Args:
        model: the module being trained (its parameters' and buffers' names are the average's).
        decay: ``DECAY``, strictly between 0 and 1.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        check_averaging(decay, None)
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).float()  # float32 whatever the model's floating type
        self.module.eval()
        self.module.requires_grad_(False)
        self._pairs(model)  # the names must match

    def _pairs(self, model: torch.nn.Module) -> Any:
        """``(floating averages, floating weights, integer averages, integer weights)``, matched by name."""
        ours = self.module.state_dict(keep_vars=True)
        theirs = model.state_dict(keep_vars=True)
        if ours.keys() != theirs.keys():
            raise TrainingError("weight averaging: the model's weights are not those the average started from")
        floats = [k for k, v in ours.items() if v.is_floating_point()]
        others = [k for k, v in ours.items() if not v.is_floating_point()]
        return ([ours[k].data for k in floats], [theirs[k].detach() for k in floats],
                [ours[k].data for k in others], [theirs[k].detach() for k in others])

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """One step of the average towards ``model``'s weights (after each optimizer step)."""
        averages, weights, counters, counts = self._pairs(model)
        d = effective_decay(self.decay, self.updates)
        if averages:
            torch._foreach_lerp_(averages, [w.float() for w in weights], 1.0 - d)
        for a, w in zip(counters, counts):
            a.copy_(w)
        self.updates += 1

    def state_dict(self) -> Dict[str, Any]:
        """What a checkpoint keeps: ``decay``, ``updates`` and the averaged ``weights`` (on the CPU)."""
        return {"decay": self.decay, "updates": self.updates,
                "weights": {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state_dict` (the update count too; the decay stays this one's)."""
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])


def clip_gradients(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale the gradients of ``parameters`` so that their total L2 norm is at most ``max_norm``; returns the norm
    before clipping (a 0-dim tensor on the gradients' device)."""
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)


__all__ = ["WeightAverage", "averaging_note", "check_averaging", "clip_gradients", "effective_decay", "WARMUP"]
