"""Models by name or by folder: the one entry point that every script and the API use.

``model`` is either a model folder (as ``train.py`` writes and upstream
publishes; :mod:`openunmix.architectures.folder`) or the name of a model in the model
table (:mod:`openunmix.models.table`), whose files are downloaded once, checked and
cached (:mod:`openunmix.models.download`) and loaded by the entry's
architecture (Open-Unmix unless the entry names another).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .. import architectures
from ..filtering import FilterSettings
from ..separation.separate import SeparationSettings
from ..separation.separator import Separator
from ..utils import ModelError, PathLike
from . import table
from .download import fetch
from ..architectures.folder import ModelConfig

DEFAULT_MODEL = "umxhq"
_FILTER = FilterSettings()  # the filter defaults of pretrained() and untrained()


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _looks_like_path(model: str) -> bool:
    return os.sep in model or (os.altsep is not None and os.altsep in model) or model.startswith(".") \
        or model.startswith("~")


def select_targets(available: Sequence[str], targets: Optional[Sequence[str]], where: str) -> List[str]:
    """``targets`` checked against ``available`` (all of them when ``targets`` is None or empty)."""
    if not targets:
        return list(available)
    unknown = [t for t in targets if t not in available]
    if unknown:
        raise ModelError(f"{where}: no model for target '{unknown[0]}' (available: {', '.join(available)})")
    return list(dict.fromkeys(targets))


def find_entry(model: str, models_file: Optional[PathLike] = None) -> Optional[table.ModelEntry]:
    """The table entry of a model name, or ``None`` when ``model`` is a folder or unknown."""
    if Path(model).is_dir() or _looks_like_path(str(model)):
        return None
    return table.find_model(str(model), models_file)


def load_entry(
    entry: table.ModelEntry,
    targets: Optional[Sequence[str]] = None,
    device: Union[str, torch.device] = "cpu",
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> Tuple[Dict[str, nn.Module], ModelConfig]:
    """Download (or find in the cache), verify and load the target models of a table entry."""
    chosen = select_targets(list(entry.targets), targets, f"model '{entry.name}'")
    arch = architectures.get(entry.architecture)
    models: Dict[str, nn.Module] = {}
    first: Optional[ModelConfig] = None
    for target in chosen:
        spec = entry.targets[target]
        path = fetch(spec.url, spec.sha256, cache_dir=cache_dir, progress=progress)
        wanted = ModelConfig(target=target, sample_rate=entry.sample_rate, nb_channels=entry.nb_channels,
                             architecture=entry.architecture, options=entry.options)
        models[target], config = arch.load_published(wanted, f"model '{entry.name}' of {entry.source}", path, device)
        first = first or config
    assert first is not None
    return models, first


def load_target_models(
    model: Union[str, PathLike],
    targets: Optional[Sequence[str]] = None,
    device: Union[str, torch.device] = "cpu",
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> Tuple[Dict[str, nn.Module], ModelConfig]:
    """Load the target models of a model folder or of a named model.

    Args:
        model: a model folder, or a name of the model table (``umxhq``, ``umxl``, ...).
        targets: targets to load (default: all of the model's).
        models_file: the user's model table (default: ``$OPENUNMIX_MODELS``, if set).
        cache_dir: where downloaded files are kept (default: torch's hub cache).
        progress: progress bars for downloads.

    Returns:
        ``({target: model}, config)`` as :func:`openunmix.architectures.load_target_models`.

    Raises:
        ModelError: unknown name, failed download, unusable files (one line).
    """
    model = str(model)
    if Path(model).is_dir():
        return architectures.load_target_models(model, targets, device)
    entry = find_entry(model, models_file)
    if entry is None:
        if _looks_like_path(model) or Path(model).exists():
            raise ModelError(f"{model}: model folder does not exist")
        known = ", ".join(table.names(models_file))
        raise ModelError(f"{model}: neither a model folder nor a known model name (known: {known})")
    return load_entry(entry, targets, device, cache_dir, progress)


def load_separator(
    model: Union[str, PathLike],
    targets: Optional[Sequence[str]] = None,
    filter: Optional[FilterSettings] = None,  # noqa: A002 (the settings' name across the package)
    device: Union[str, torch.device] = "cpu",
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
    precision: str = "float32",
) -> Separator:
    """A frozen :class:`Separator` over the target models of a folder or named model.

    ``filter`` holds the Wiener filter's settings
    (:class:`~openunmix.filtering.FilterSettings`; None: the defaults); a
    model that is not Wiener-filtered refuses settings other than ``residual``
    (:class:`~openunmix.utils.ModelError` naming the setting). ``precision`` (``float32``, ``bfloat16``, ``int8``) is that of the target
    models (:mod:`openunmix.precision`); a precision the device cannot run
    raises :class:`~openunmix.precision.PrecisionError` (a ``ValueError``).
    """
    from ..precision import apply_precision, check_precision

    check_precision(precision, torch.device(device))
    models, config = load_target_models(model, targets, device, models_file, cache_dir, progress)
    try:
        separator = Separator(
            models, filter=filter, sample_rate=config.sample_rate, n_fft=config.n_fft, n_hop=config.n_hop,
            nb_channels=config.nb_channels,
        )
    except ValueError as err:
        raise ModelError(f"{model}: {err}") from None
    separator = separator.to(device).freeze()
    return apply_precision(separator, precision)


def load_with(
    settings: SeparationSettings,
    model: Union[str, PathLike],
    targets: Optional[Sequence[str]] = None,
    progress: bool = True,
) -> Separator:
    """The :class:`Separator` of a model folder or named model with the filter, device, model table, cache and
    precision of ``settings`` (what ``test.py`` and ``eval.py`` separate with).

    Raises:
        ModelError: unknown model, failed download, unusable model files.
    """
    separator = load_separator(model, targets, settings.filter, device=settings.device,
                               models_file=settings.models_file, cache_dir=settings.cache_dir, progress=progress,
                               precision=settings.precision)
    separator.segment_batch = settings.batch
    if settings.chunk_size is not None:
        separator.chunk_size = settings.chunk_size
    if settings.num_overlap is not None:
        separator.num_overlap = settings.num_overlap
    return separator


def licence_notice(model: Union[str, PathLike], models_file: Optional[PathLike] = None) -> Optional[str]:
    """A line to show users of a named model whose weights' licence restricts use, else ``None``."""
    try:
        entry = find_entry(str(model), models_file)
    except ModelError:  # a broken table is reported when the model is loaded
        return None
    if entry is None or not entry.restricted:
        return None
    return f"the {entry.name} weights are licensed {entry.license}"


def pretrained(
    name_or_folder: Union[str, PathLike] = DEFAULT_MODEL,
    targets: Optional[Sequence[str]] = None,
    niter: int = _FILTER.niter,
    device: Optional[Union[str, torch.device]] = None,
    residual: bool = _FILTER.residual,
    softmask: bool = _FILTER.softmask,
    alpha: float = _FILTER.alpha,
    models_file: Optional[PathLike] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
    precision: str = "float32",
) -> Separator:
    """A ready :class:`Separator` of a published model (downloaded on first use) or of a model folder.

    Example::

        import openunmix
        separator = openunmix.pretrained("umxhq")        # vocals, drums, bass, other
        estimates = separator(audio)                     # (batch, channels, samples) at 44.1 kHz
                                                         # -> (batch, sources, channels, samples)

    Args:
        name_or_folder: ``umx``, ``umxhq`` (default), ``umxl``, ``umxse``, a name of the
            user's table, or a model folder.
        targets: targets to load (default: all).
        niter: EM iterations of the Wiener filter (default: that of
            :class:`~openunmix.filtering.FilterSettings`, 1, as upstream's scores).
        device: default: CUDA when available, else the CPU.
        precision: of the target models, ``float32``, ``bfloat16`` or ``int8``
            (CPU only); see :mod:`openunmix.precision`.
    """
    if device is None:
        device = _default_device()
    notice = licence_notice(name_or_folder, models_file)
    if notice:
        warnings.warn(notice, stacklevel=2)
    return load_separator(name_or_folder, targets,
                          FilterSettings(niter=niter, softmask=softmask, alpha=alpha, residual=residual),
                          device=device, models_file=models_file, cache_dir=cache_dir,
                          progress=progress, precision=precision)


def untrained(
    name: str,
    targets: Optional[Sequence[str]] = None,
    niter: int = _FILTER.niter,
    device: Optional[Union[str, torch.device]] = None,
    residual: bool = _FILTER.residual,
    models_file: Optional[PathLike] = None,
    **_: object,
) -> Separator:
    """A :class:`Separator` with the architecture of a named model and untrained weights (nothing is downloaded)."""
    entry = table.find_model(name, models_file)
    if entry is None:
        raise ModelError(f"{name}: not a known model name (known: {', '.join(table.names(models_file))})")
    config = ModelConfig(target="", sample_rate=entry.sample_rate, nb_channels=entry.nb_channels,
                         architecture=entry.architecture, options=entry.options)
    chosen = select_targets(list(entry.targets), targets, f"model '{name}'")
    models = architectures.get(entry.architecture).build(config, chosen)
    device = device or _default_device()
    return Separator(models, filter=FilterSettings(niter=niter, residual=residual), sample_rate=entry.sample_rate,
                     n_fft=entry.n_fft, n_hop=entry.n_hop, nb_channels=entry.nb_channels).to(device).freeze()
