"""The registry of architectures: registration, plug-ins, lookup, which architecture owns which files of a
model folder, and what callers may ask of a model (see :mod:`openunmix.architectures`)."""


from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .folder import ModelConfig
from ..utils import ModelError, PathLike
from .base import Architecture, ArchitectureError, Capabilities


ENV_PLUGINS = "OPENUNMIX_ARCHITECTURES"
ENTRY_POINT_GROUP = "openunmix.architectures"
DEFAULT = "umx"  # of the model table, of upstream folders and of --architecture's default
_BUILTIN = ("umx", "xumx", "bs_roformer", "mel_roformer")  # modules of this package, registered first and in this order

_registry: Dict[str, Architecture] = {}
_state = {"loaded": False, "error": None}


def register(arch: Architecture) -> Architecture:
    """Add an architecture (an instance of an :class:`Architecture` subclass); returns it.

    Registering the same architecture again does nothing; another one under a
    name already taken is an error.

    Raises:
        ArchitectureError: no name, a taken name, or a second architecture
            that claims the remaining files of model folders.
    """
    if isinstance(arch, type) and issubclass(arch, Architecture):
        arch = arch()
    if not isinstance(arch, Architecture) or not arch.name:
        raise ArchitectureError(f"cannot register {arch!r}: not a named Architecture")
    known = _registry.get(arch.name)
    if known is not None:
        if type(known) is type(arch):
            return known
        raise ArchitectureError(f"architecture {arch.name!r} is registered already (by {type(known).__module__})")
    if arch.claims_remaining and any(a.claims_remaining for a in _registry.values()):
        raise ArchitectureError(f"architecture {arch.name!r}: only one architecture may claim unmarked model files")
    _registry[arch.name] = arch
    return arch


def _import_plugin(spec: str, where: str) -> None:
    try:
        importlib.import_module(spec)
    except ArchitectureError:
        raise
    except Exception as err:  # one line, whatever the plug-in raised
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ArchitectureError(
            f"{where}: cannot import architecture plug-in {spec!r} ({type(err).__name__}: {first})") from None


def _entry_point_plugins() -> None:
    from importlib.metadata import entry_points

    found = entry_points()
    # Python 3.10+ selects by group; 3.9 returns a dict of groups
    group = found.select(group=ENTRY_POINT_GROUP) if hasattr(found, "select") else found.get(ENTRY_POINT_GROUP, [])
    for ep in group:
        try:
            obj = ep.load()
        except Exception as err:
            raise ArchitectureError(f"entry point {ep.name!r} of {ENTRY_POINT_GROUP}: cannot load ({err})") from None
        if isinstance(obj, Architecture) or (isinstance(obj, type) and issubclass(obj, Architecture)):
            register(obj)


def _ensure_loaded() -> None:
    """Import the built-in architectures and the plug-ins, once per process."""
    if not _state["loaded"]:
        _state["loaded"] = True
        try:
            for name in _BUILTIN:
                importlib.import_module(f"{__package__}.{name}")
            for spec in os.environ.get(ENV_PLUGINS, "").split(","):
                if spec.strip():
                    _import_plugin(spec.strip(), ENV_PLUGINS)
            _entry_point_plugins()
        except ArchitectureError as err:
            _state["error"] = str(err)
    if _state["error"]:
        raise ArchitectureError(_state["error"])


def _ordered() -> List[Architecture]:
    builtin = [_registry[n] for n in _BUILTIN if n in _registry]
    return builtin + [a for n, a in _registry.items() if n not in _BUILTIN]


def names() -> List[str]:
    """The registered architectures' names: the built-in ones first, then plug-ins in registration order."""
    _ensure_loaded()
    return [a.name for a in _ordered()]


def all_architectures() -> List[Architecture]:
    """The registered architectures, in the order of :func:`names`."""
    _ensure_loaded()
    return _ordered()


def get(name: str) -> Architecture:
    """The architecture registered as ``name``.

    Raises:
        ArchitectureError: an unknown name; the line lists the registered ones.
    """
    _ensure_loaded()
    if name not in _registry:
        raise ArchitectureError(f"unknown architecture {name!r}; registered: {', '.join(names())} "
                                f"(plug-ins: {ENV_PLUGINS}=module.path)")
    return _registry[name]


def default() -> Architecture:
    """The architecture of the model table's entries and of unmarked (upstream) model folders."""
    return get(DEFAULT)


# ---------------------------------------------------------------- model folders


class FolderModel(NamedTuple):
    """One model in a model folder: the architecture that owns its files, their stem and its targets."""

    architecture: Architecture
    stem: str
    targets: List[str]


def folder_models(model_dir: PathLike) -> List[FolderModel]:
    """Which architecture owns which files of a model folder, in the order of the folder's json files.

    Every ``<stem>.json`` (``separator.json`` aside) is offered to the
    architectures that mark their files first, then to the one that claims the
    remaining (unmarked) files; what no architecture claims is left out.
    """
    _ensure_loaded()
    model_dir = Path(model_dir)
    stems = [p.stem for p in sorted(model_dir.glob("*.json")) if p.stem != "separator"]
    claimed: Dict[str, FolderModel] = {}
    for arch in sorted(_ordered(), key=lambda a: a.claims_remaining):
        free = [s for s in stems if s not in claimed]
        for stem, targets in arch.folder_models(model_dir, free).items():
            if stem in free:
                claimed[stem] = FolderModel(arch, stem, list(targets))
    return [claimed[s] for s in stems if s in claimed]


def remaining_files_owner() -> Optional[Architecture]:
    """The architecture that owns unmarked ``<stem>.json`` + ``<stem>.pth`` files (upstream's layout)."""
    _ensure_loaded()
    return next((a for a in _ordered() if a.claims_remaining), None)


def list_targets(model_dir: PathLike) -> List[str]:
    """The targets of every model of a folder that a registered architecture claims, each once."""
    found = [t for fm in folder_models(model_dir) for t in fm.targets]
    return list(dict.fromkeys(found))


def load_target_models(
    model_dir: PathLike,
    targets: Optional[Sequence[str]] = None,
    device: Union[str, torch.device] = "cpu",
) -> Tuple[Dict[str, nn.Module], ModelConfig]:
    """Load the models of a folder for ``targets`` (all of the folder's when None), frozen, on ``device``.

    Each target is loaded by the architecture that owns its files; a model of
    several targets (a joint model) comes once, under its stem, returning the
    requested ones.

    Returns:
        ``({key: model}, config)`` as a Separator takes them; ``config`` is
        the first model's settings, which all must share (rate, STFT,
        channels).

    Raises:
        ModelError: a missing folder or target, unusable files, models that
            differ in rate, STFT or channels (one line).
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: model folder does not exist")
    found = folder_models(model_dir)
    targets = list(dict.fromkeys(targets)) if targets else [t for fm in found for t in fm.targets]
    if not targets:
        raise ModelError(f"{model_dir}: no model found (expected <target>.json and <target>.pth files)")
    groups: Dict[str, Tuple[FolderModel, List[str]]] = {}
    for target in targets:
        owner = next((fm for fm in found if target in fm.targets), None)
        if owner is None:  # the owner of unmarked files says what is missing
            fallback = remaining_files_owner()
            if fallback is None:
                available = ", ".join(t for fm in found for t in fm.targets) or "none"
                raise ModelError(f"{model_dir}: no model for target '{target}' (available: {available})")
            owner = FolderModel(fallback, target, [target])
        groups.setdefault(owner.stem, (owner, []))[1].append(target)
    models: Dict[str, nn.Module] = {}
    first: Optional[ModelConfig] = None
    for owner, wanted in groups.values():
        loaded, config = owner.architecture.load(model_dir, owner.stem, wanted, device)
        if first is None:
            first = config
        elif config.shared() != first.shared():
            raise ModelError(
                f"{model_dir}: targets '{first.target}' and '{config.target}' differ in sample rate, STFT or channels"
            )
        models.update(loaded)
    assert first is not None
    return models, first


# ---------------------------------------------------------------- capabilities


def of_model(model: nn.Module) -> Optional[Architecture]:
    """The architecture whose models ``model`` is one of (its exact class first, then subclasses), or None."""
    _ensure_loaded()
    archs = _ordered()
    exact = next((a for a in archs if type(model) in a.model_types), None)
    if exact is not None:
        return exact
    return next((a for a in sorted(archs, key=lambda a: a.claims_remaining)
                 if a.model_types and isinstance(model, a.model_types)), None)


def capabilities(model: nn.Module) -> Capabilities:
    """What callers may ask of a model (see :class:`Capabilities`).

    A module of no registered architecture (a wrapper, a user's own module)
    can do nothing beyond being run by a Separator: only ``joint`` is read
    from its ``targets`` attribute.
    """
    arch = of_model(model)
    if arch is None:
        return Capabilities(joint=getattr(model, "targets", None) is not None)
    return arch.capabilities(model)


def describe(model: nn.Module) -> str:
    """What ``model`` is, for messages: ``'<title> model'`` of its architecture, else its class name."""
    arch = of_model(model)
    return f"{arch.title or arch.name} model" if arch is not None else type(model).__name__
