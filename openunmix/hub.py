"""Models by name or by folder: the one entry point that every script and the API use.

``model`` is either a model folder (``<target>.pth`` + ``<target>.json``, as
``train.py`` writes and upstream publishes) or the name of a model in the
model table (:mod:`openunmix.catalog`), whose files are downloaded once,
checked and cached (:mod:`openunmix.download`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from .model import OpenUnmix, Separator
from .modelfolder import ModelConfig
from . import modelfolder
from .utils import ModelError, PathLike

DEFAULT_MODEL = "umxhq"


def load_target_models(
    model: Union[str, PathLike],
    targets: Optional[Sequence[str]] = None,
    device: Union[str, torch.device] = "cpu",
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> Tuple[Dict[str, OpenUnmix], ModelConfig]:
    """Load the target models of a model folder or of a named model.

    Returns:
        ``({target: model}, config)`` as :func:`openunmix.modelfolder.load_target_models`.

    Raises:
        ModelError: unknown name, failed download, unusable files.
    """
    if Path(model).is_dir():
        return modelfolder.load_target_models(model, targets, device)
    raise ModelError(f"{model}: no such model folder or model name")


def load_separator(
    model: Union[str, PathLike],
    targets: Optional[Sequence[str]] = None,
    niter: int = 0,
    softmask: bool = True,
    alpha: float = 1.0,
    logit: Optional[float] = None,
    residual: bool = False,
    wiener_win_len: Optional[int] = 300,
    device: Union[str, torch.device] = "cpu",
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> Separator:
    """A frozen :class:`Separator` over the target models of a folder or named model."""
    models, config = load_target_models(model, targets, device, models_file, cache_dir, progress)
    return Separator(
        models, niter=niter, softmask=softmask, alpha=alpha, logit=logit, residual=residual,
        sample_rate=config.sample_rate, n_fft=config.n_fft, n_hop=config.n_hop,
        nb_channels=config.nb_channels, wiener_win_len=wiener_win_len,
    ).to(device).freeze()
