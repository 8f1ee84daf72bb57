"""Validation by SDR: the model being trained separates the whole validation tracks as ``test.py`` would.

Each validation (``TrainConfig.valid_sdr``) builds a
:class:`~openunmix.separation.Separator` around the model being trained
(Wiener filter as ``test.py``'s defaults, the run's STFT, the residual as for
a lone target), separates every validation track with
:func:`openunmix.separation.separate.separate` (30 s segments, the real
path), and scores each target's estimate with the challenges' whole-track SDR
(:func:`openunmix.metrics.usdr`), averaged over the tracks. Under
``torchrun`` each process separates its share of the tracks and the sums are
combined.

What ``--select-by sdr`` follows is :func:`selection_value` (lower is better,
as early stopping expects).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch

from .. import distributed as dist_utils
from .config import TrainingError
from ..metrics import usdr
from ..separation.separate import separate
from ..separation.separator import Separator

SELECT_BY = ("loss", "sdr")


def check_selection(select_by: str, valid_sdr: bool) -> None:
    """Raise :class:`~.config.TrainingError` for an unknown ``select_by`` or ``sdr`` without the validation SDR."""
    if select_by not in SELECT_BY:
        raise TrainingError(f"--select-by {select_by}: one of {', '.join(SELECT_BY)}")
    if select_by == "sdr" and not valid_sdr:
        raise TrainingError("--select-by sdr needs the validation SDR (drop --no-valid-sdr)")


def part_targets(part: Any) -> List[str]:
    """The targets a training part's dataset items carry, in their order: a joint part's ``targets``, else its
    one ``target``."""
    joint = getattr(part, "targets", None)
    return list(joint) if joint else [part.target]


def training_separator(model: torch.nn.Module, part: Any, sample_rate: float) -> Separator:
    """A Separator around the model being trained (shared, not copied; put it in eval mode first), on the
    model's device."""
    device = next(model.parameters()).device
    key = part.stem if getattr(part, "targets", None) else part.target  # a lone target's model is named after it
    separator = Separator({key: model}, sample_rate=sample_rate, n_fft=part.n_fft, n_hop=part.n_hop,
                          nb_channels=part.nb_channels)
    return separator.to(device)


def separate_targets(separator: Separator, mixture: torch.Tensor, targets: List[str]) -> Dict[str, np.ndarray]:
    """``{target: (channels, samples)}`` estimates of a ``(channels, samples)`` mixture (float64 arrays)."""
    out = separate(separator, mixture)  # (sources, channels, samples)
    names = separator.source_names
    return {t: out[names.index(t)].double().numpy() for t in targets}


def references(item_targets: torch.Tensor, targets: List[str]) -> Dict[str, np.ndarray]:
    """``{target: (channels, samples)}`` of a dataset item's targets: ``(channels, samples)`` for one target,
    ``(targets, channels, samples)`` for several."""
    y = item_targets if item_targets.dim() == 3 else item_targets[None]
    return {t: y[k].double().cpu().numpy() for k, t in enumerate(targets)}


def validation_sdr(model: torch.nn.Module, part: Any, valid_ds: Any, sample_rate: float,
                   ctx: dist_utils.Context) -> Dict[str, float]:
    """Mean over the validation tracks of each target's uSDR, the model separating each whole track.

    Args:
        model: in eval mode (the caller's business), on its device.
        valid_ds: items ``(mixture (channels, samples), targets)`` (see :func:`references`).
        ctx: this process's place; every process must call this (the sums are combined).

    Returns:
        ``{target: dB}`` (NaN for a target when there are no tracks).
    """
    targets = part_targets(part)
    separator = training_separator(model, part, sample_rate)
    sums = torch.zeros(len(targets), 2, dtype=torch.float64)
    with torch.inference_mode():
        for i in range(ctx.rank, len(valid_ds), ctx.world_size):
            x, y = valid_ds[i]
            estimates = separate_targets(separator, x, targets)
            for k, (target, reference) in enumerate(references(y, targets).items()):
                sums[k, 0] += usdr(reference, estimates[target])
                sums[k, 1] += 1
    dist_utils.sum_over_processes(sums, ctx)
    return {t: float(sums[k, 0] / sums[k, 1]) if sums[k, 1] else math.nan for k, t in enumerate(targets)}


def validation_loss(model: torch.nn.Module, part: Any, valid_ds: Any, chunk: int, device: torch.device,
                    amp_dtype: Optional[torch.dtype], ctx: dist_utils.Context) -> float:
    """The validation loss over whole validation tracks, each processed in chunks of ``chunk`` samples.

    Args:
        model: in eval mode (the caller's business), on ``device``.
        valid_ds: items ``(mixture (channels, samples), targets)``; each process scores its share.
        amp_dtype: the autocast type of the forward pass (None: none).
        ctx: this process's place; every process must call this (the sums are combined).
    """
    sse = torch.zeros(2, dtype=torch.float64)
    with torch.inference_mode():
        for i in range(ctx.rank, len(valid_ds), ctx.world_size):
            x, y = valid_ds[i]
            for start in range(0, x.shape[-1], chunk):
                xc = x[None, ..., start : start + chunk].to(device)
                yc = y[None, ..., start : start + chunk].to(device)
                X, Y = part.prepare(xc, yc)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    Yhat = model(X)
                total, count = part.valid_sums(Yhat.float(), Y)
                sse[0] += total
                sse[1] += count
    dist_utils.sum_over_processes(sse, ctx)
    if sse[1] == 0:
        raise TrainingError("the validation set gave no frames to score (tracks too short?)")
    return float(sse[0] / sse[1])


def mean_sdr(sdr: Optional[Mapping[str, float]]) -> Optional[float]:
    """The mean over targets of one validation's SDR (None when there is none)."""
    if not sdr:
        return None
    return float(np.mean(list(sdr.values())))


def selection_value(select_by: str, valid_loss: float, sdr: Optional[Mapping[str, float]]) -> float:
    """What the best model and early stopping follow, lower being better: the validation loss, or the mean
    validation SDR over targets negated."""
    if select_by == "loss":
        return valid_loss
    value = mean_sdr(sdr)
    return math.inf if value is None or math.isnan(value) else -value
