"""Model folders: ``<target>.pth`` (state dict) + ``<target>.json`` (settings) per target.

This is the layout ``train.py`` writes and the layout of upstream open-unmix
model folders (whose ``.pth`` files may carry a hash suffix,
``vocals-b62c91ce.pth``, and whose STFT settings may live in
``separator.json``). Everything read here is validated before use and state
dicts are loaded without unpickling code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from .model import OpenUnmix
from .utils import ModelError, PathLike, load_torch, setting_number
from .xumx import CrossNetOpenUnmix

# file stem of an X-UMX model: xumx.pth, xumx.json (see read_xumx_config)
XUMX_STEM = "xumx"
# keys of upstream v1.0 state dicts that are not parameters of the model
_LEGACY_KEYS = ("sample_rate", "stft.window", "transform.0.window")


@dataclass(frozen=True)
class ModelConfig:
    """Settings of one target model, checked against its state dict."""

    target: str
    sample_rate: float
    n_fft: int
    n_hop: int
    nb_channels: int
    hidden_size: int
    nb_layers: int
    unidirectional: bool
    max_bin: int


def list_targets(model_dir: PathLike) -> List[str]:
    """Targets that have a ``<target>.json`` and a ``<target>*.pth`` in ``model_dir``,
    and those of an X-UMX model (``xumx.json`` + ``xumx.pth``), each once."""
    model_dir = Path(model_dir)
    found = []
    for js in sorted(model_dir.glob("*.json")):
        if js.stem == "separator":
            continue
        if js.stem == XUMX_STEM:
            found.extend(xumx_targets(model_dir))
        elif _find_pth(model_dir, js.stem) is not None:
            found.append(js.stem)
    return list(dict.fromkeys(found))


def _find_pth(model_dir: Path, target: str) -> Optional[Path]:
    exact = model_dir / f"{target}.pth"
    if exact.is_file():
        return exact
    hashed = sorted(model_dir.glob(f"{target}-*.pth"))
    return hashed[0] if hashed else None


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ModelError(f"{path}: missing model settings file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: malformed json ({err})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: malformed model settings (expected a json object)")
    return data


def _flatten(path: Path, data: Mapping[str, Any]) -> Dict[str, Any]:
    """Top-level settings over those in ``args`` (upstream keeps most in ``args``)."""
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise ModelError(f"{path}: malformed model settings ('args' is not an object)")
    return {**args, **data}


def state_dict_from_file(path: PathLike) -> Dict[str, torch.Tensor]:
    """The state dict of a ``.pth`` file, loaded safely, without upstream's non-parameter extras.

    Raises:
        ModelError: unreadable file, pickled code, or not a state dict.
    """
    state = load_torch(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: not a model state dict")
    return {k: v for k, v in state.items() if k not in _LEGACY_KEYS}


def _shared_settings(js: Path, settings: Dict[str, Any]) -> Tuple[float, int, int, int, int]:
    """``(sample_rate, nfft, nhop, nb_channels, hidden_size)`` of flattened settings, checked."""
    if "sample_rate" not in settings and "rate" in settings:
        settings["sample_rate"] = settings["rate"]
    sample_rate = setting_number(js, settings, "sample_rate", float, 1000, 768000, default=44100.0)
    n_fft = setting_number(js, settings, "nfft", int, 16, 65536)
    n_hop = setting_number(js, settings, "nhop", int, 1, n_fft)
    nb_channels = setting_number(js, settings, "nb_channels", int, 1, 16)
    hidden_size = setting_number(js, settings, "hidden_size", int, 2, 65536, default=512)
    return sample_rate, n_fft, n_hop, nb_channels, hidden_size


def read_config(model_dir: PathLike, target: str) -> Tuple[ModelConfig, Dict[str, torch.Tensor]]:
    """Read and validate ``<target>.json`` and ``<target>.pth`` of a model folder.

    Returns:
        the validated settings and the state dict.

    Raises:
        ModelError: missing or malformed files, or a state dict whose shapes
            do not match its json.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: model folder does not exist")
    js = model_dir / f"{target}.json"
    pth = _find_pth(model_dir, target)
    if not js.is_file() and pth is None:
        available = list_targets(model_dir)
        raise ModelError(
            f"{model_dir}: no model for target '{target}' (available: {', '.join(available) or 'none'})"
        )
    data = _read_json(js)
    if pth is None:
        raise ModelError(f"{model_dir / (target + '.pth')}: missing model weights file")
    sep_json = model_dir / "separator.json"
    sep = _read_json(sep_json) if sep_json.is_file() else {}

    # the target's own json first, then separator.json (upstream keeps STFT settings there)
    settings = {**_flatten(sep_json, sep), **_flatten(js, data)}
    sample_rate, n_fft, n_hop, nb_channels, hidden_size = _shared_settings(js, settings)

    state = state_dict_from_file(pth)
    config = config_from_state(state, target, sample_rate, n_fft, n_hop, nb_channels, hidden_size,
                               path=pth, settings=js.name)
    return config, state


def config_from_state(
    state: Mapping[str, torch.Tensor],
    target: str,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    nb_channels: int,
    hidden_size: int,
    path: PathLike,
    settings: str,
) -> ModelConfig:
    """Complete the settings from a state dict (bandwidth, layers, direction) and check they fit.

    Args:
        path: the weights file (named in errors).
        settings: where the settings come from (named in errors).

    Raises:
        ModelError: a state dict that is not Open-Unmix's or does not fit the settings.
    """
    try:
        max_bin = int(state["input_mean"].shape[0])
        fc1 = state["fc1.weight"].shape
        nb_bins = int(state["output_mean"].shape[0])
        lstm_layers = {k.split("_l")[-1].split("_")[0] for k in state if k.startswith("lstm.weight_ih_l")}
        unidirectional = not any(k.endswith("_reverse") for k in state if k.startswith("lstm."))
    except (KeyError, IndexError, AttributeError):
        raise ModelError(f"{path}: not an Open-Unmix state dict (missing or malformed parameters)") from None
    problems = []
    if nb_bins != n_fft // 2 + 1:
        problems.append(f"{nb_bins} output bins but nfft={n_fft} gives {n_fft // 2 + 1}")
    if fc1[0] != hidden_size:
        problems.append(f"hidden size {fc1[0]} but the settings say {hidden_size}")
    if fc1[1] != max_bin * nb_channels:
        problems.append(f"input width {fc1[1]} but the settings say {nb_channels} channels x {max_bin} bins")
    if problems or not lstm_layers:
        raise ModelError(f"{path}: shapes do not match {settings}: " + "; ".join(problems or ["no LSTM weights"]))
    return ModelConfig(
        target=target,
        sample_rate=sample_rate,
        n_fft=n_fft,
        n_hop=n_hop,
        nb_channels=nb_channels,
        hidden_size=hidden_size,
        nb_layers=len(lstm_layers),
        unidirectional=unidirectional,
        max_bin=max_bin,
    )


def build_model(config: ModelConfig) -> OpenUnmix:
    """An untrained :class:`OpenUnmix` of the given settings."""
    return OpenUnmix(
        nb_bins=config.n_fft // 2 + 1,
        nb_channels=config.nb_channels,
        hidden_size=config.hidden_size,
        nb_layers=config.nb_layers,
        unidirectional=config.unidirectional,
        max_bin=config.max_bin,
    )


def instantiate(config: ModelConfig, state: Mapping[str, torch.Tensor], path: PathLike, settings: str,
                device: Union[str, torch.device] = "cpu") -> OpenUnmix:
    """A frozen :class:`OpenUnmix` of ``config`` holding ``state`` (all names must match), on ``device``.

    Raises:
        ModelError: naming ``path`` and the first mismatch with ``settings``.
    """
    # built without storage and given the file's tensors: the random initialisation of
    # millions of weights that the state dict then overwrites is never computed
    with torch.device("meta"):
        model = build_model(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        detail = str(err).strip().splitlines()
        raise ModelError(f"{path}: does not fit {settings} ({detail[1].strip() if len(detail) > 1 else detail[0]})") from None
    return model.to(device).freeze()


def load_target_models(
    model_dir: PathLike,
    targets: Optional[Sequence[str]] = None,
    device: Union[str, torch.device] = "cpu",
) -> Tuple[Dict[str, OpenUnmix], ModelConfig]:
    """Load target models of a folder (all of them when ``targets`` is None).

    Returns:
        ``({target: model}, config)``; ``config`` is the first target's settings,
        which all targets must share (rate, STFT, channels). The targets of an
        X-UMX model come as one joint model, ``{'xumx': CrossNetOpenUnmix}``,
        whose ``targets`` are those requested (see :func:`load_xumx_model`).
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: model folder does not exist")
    targets = list(targets) if targets else list_targets(model_dir)
    if not targets:
        raise ModelError(f"{model_dir}: no model found (expected <target>.json and <target>.pth files)")
    models: Dict[str, OpenUnmix] = {}
    first: Optional[ModelConfig] = None
    joint = [t for t in targets if t in xumx_targets(model_dir)]
    if joint:  # one joint model for its targets, under the key 'xumx'
        first, models[XUMX_STEM] = load_xumx_model(model_dir, joint, device)
    for target in targets:
        if target in joint:
            continue
        config, state = read_config(model_dir, target)
        if first is None:
            first = config
        elif (config.sample_rate, config.n_fft, config.n_hop, config.nb_channels) != (
            first.sample_rate, first.n_fft, first.n_hop, first.nb_channels
        ):
            raise ModelError(
                f"{model_dir}: targets '{first.target}' and '{target}' differ in sample rate, STFT or channels"
            )
        models[target] = instantiate(config, state, f"{model_dir}/{target}.pth", "its json", device)
    assert first is not None
    return models, first


def save_target_model(
    model_dir: PathLike,
    target: str,
    model: OpenUnmix,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write ``<target>.pth`` (state dict, upstream names) and ``<target>.json`` atomically.

    The json holds the settings :func:`read_config` needs, at the top level and
    under ``args`` (where upstream keeps them), merged over ``extra``
    (training arguments and history). ``separator.json`` is updated too.
    """
    _save_model_files(model_dir, target, model, sample_rate, n_fft, n_hop, {"target": target}, [target], extra)


def _save_model_files(
    model_dir: PathLike,
    stem: str,
    model: torch.nn.Module,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    identity: Mapping[str, Any],
    targets: Sequence[str],
    extra: Optional[Mapping[str, Any]],
) -> None:
    """Write ``<stem>.pth``, ``<stem>.json`` (settings at the top level and under ``args``, over
    ``extra``, plus ``identity``) and add ``targets`` to ``separator.json``, each atomically."""
    from .utils import save_json, save_torch

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "nfft": int(n_fft),
        "nhop": int(n_hop),
        "nb_channels": int(model.nb_channels),
        "hidden_size": int(model.hidden_size),
        "nb_layers": int(model.nb_layers),
        "unidirectional": bool(model.unidirectional),
        "max_bin": int(model.nb_bins),
    }
    info = dict(extra or {})
    info["args"] = {**dict(info.get("args", {})), **settings}
    info.update(settings)
    info["sample_rate"] = float(sample_rate)
    info.update(identity)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch(model_dir / f"{stem}.pth", state)
    save_json(model_dir / f"{stem}.json", info)
    sep_path = model_dir / "separator.json"
    sep = _read_json(sep_path) if sep_path.is_file() else {}
    old = sep.get("targets") if isinstance(sep.get("targets"), list) else []
    save_json(sep_path, {"targets": old + [t for t in targets if t not in old], "sample_rate": float(sample_rate),
                         "nfft": int(n_fft), "nhop": int(n_hop), "nb_channels": int(model.nb_channels)})


# ---------------------------------------------------------------- X-UMX
#
# An X-UMX model is one pair of files beside (or instead of) the per-target ones:
#   xumx.pth   state dict of CrossNetOpenUnmix: branches.<target>.<OpenUnmix name>
#   xumx.json  "architecture": "xumx", "targets": [...] (branch order), the
#              settings of save_target_model (nfft, nhop, nb_channels,
#              hidden_size, nb_layers, unidirectional, max_bin, sample_rate)
#              and the training arguments and history.
# Its targets are listed by list_targets and loaded as one joint model.


def xumx_targets(model_dir: PathLike) -> List[str]:
    """The targets of the folder's X-UMX model (``[]`` without ``xumx.json`` and ``xumx.pth``)."""
    model_dir = Path(model_dir)
    js, pth = model_dir / f"{XUMX_STEM}.json", model_dir / f"{XUMX_STEM}.pth"
    if not (js.is_file() and pth.is_file()):
        return []
    targets = _read_json(js).get("targets")
    if (not isinstance(targets, list) or len(targets) < 2 or not all(isinstance(t, str) and t for t in targets)
            or len(set(targets)) != len(targets)):
        raise ModelError(f"{js}: 'targets' must list two or more distinct target names")
    return targets


def read_xumx_config(model_dir: PathLike) -> Tuple[ModelConfig, List[str], Dict[str, torch.Tensor]]:
    """Read and validate ``xumx.json`` and ``xumx.pth``.

    Returns:
        the settings (shared by every branch; ``target`` is ``'xumx'``), the
        branch names in order, and the state dict.

    Raises:
        ModelError: missing or malformed files, or branches whose shapes do not
            match the json.
    """
    model_dir = Path(model_dir)
    js, pth = model_dir / f"{XUMX_STEM}.json", model_dir / f"{XUMX_STEM}.pth"
    if not js.is_file() or not pth.is_file():
        raise ModelError(f"{model_dir}: no X-UMX model (expected {js.name} and {pth.name})")
    targets = xumx_targets(model_dir)
    data = _read_json(js)
    sample_rate, n_fft, n_hop, nb_channels, hidden_size = _shared_settings(js, _flatten(js, data))
    state = state_dict_from_file(pth)
    config = None
    for target in targets:
        prefix = f"branches.{target}."
        branch = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        found = config_from_state(branch, XUMX_STEM, sample_rate, n_fft, n_hop, nb_channels, hidden_size,
                                  path=f"{pth} (branch {target})", settings=js.name)
        if config is not None and found != config:
            raise ModelError(f"{pth}: branch '{target}' differs in shape from branch '{targets[0]}'")
        config = found
    assert config is not None
    return config, targets, state


def load_xumx_model(
    model_dir: PathLike, targets: Optional[Sequence[str]] = None, device: Union[str, torch.device] = "cpu"
) -> Tuple[ModelConfig, CrossNetOpenUnmix]:
    """The folder's X-UMX model, frozen, returning ``targets`` (default: all branches).

    Returns:
        ``(config, model)``.
    """
    config, branches, state = read_xumx_config(model_dir)
    model = CrossNetOpenUnmix(branches, nb_bins=config.n_fft // 2 + 1, nb_channels=config.nb_channels,
                              hidden_size=config.hidden_size, nb_layers=config.nb_layers,
                              unidirectional=config.unidirectional, max_bin=config.max_bin)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = str(err).strip().splitlines()
        raise ModelError(f"{Path(model_dir) / (XUMX_STEM + '.pth')}: does not fit its json "
                         f"({detail[1].strip() if len(detail) > 1 else detail[0]})") from None
    try:
        model.select_targets(list(targets) if targets else branches)
    except ValueError as err:
        raise ModelError(f"{model_dir}: {err}") from None
    return config, model.to(device).freeze()


def save_xumx_model(
    model_dir: PathLike,
    model: CrossNetOpenUnmix,
    sample_rate: float,
    n_fft: int,
    n_hop: int,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write ``xumx.pth`` and ``xumx.json`` atomically, like :func:`save_target_model`.

    ``separator.json`` lists the X-UMX targets beside any others of the folder.
    """
    _save_model_files(model_dir, XUMX_STEM, model, sample_rate, n_fft, n_hop,
                      {"architecture": XUMX_STEM, "targets": list(model.branch_names)}, model.branch_names, extra)
