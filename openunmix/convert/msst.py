"""MSST's configurations and checkpoints read for conversion (see :mod:`openunmix.convert`).

An MSST (Music-Source-Separation-Training) model is a YAML configuration
(sections ``audio``, ``model``, ``training``, ``inference``) and a state dict.
This module reads the YAML safely, turns its ``model`` section into a
:class:`~openunmix.architectures.roformer.RoFormerSettings`, and maps the
state dict's names onto this package's model.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import yaml

from ..architectures.roformer import RoFormerSettings, contiguous_bands, mel_bands
from ..architectures.roformer_layers import rotary_frequencies
from ..utils import ModelError, PathLike

# MSST's model types -> this package's architectures
MODEL_TYPES = {"bs_roformer": "bs_roformer", "mel_band_roformer": "mel_roformer"}
# settings of MSST's model section that do not change what the model computes (training, kernels)
IGNORED = {"flash_attn", "use_torch_checkpoint", "multi_stft_resolution_loss_weight", "sage_attention",
           "multi_stft_resolutions_window_sizes", "multi_stft_hop_size", "multi_stft_normalized",
           "match_input_audio_length", "stereo", "num_stems", "dim_freqs_in", "sample_rate"}
# model settings read here -> RoFormerSettings fields, with MSST's defaults
READ = {"dim": ("dim", None), "depth": ("depth", None), "heads": ("heads", 8), "dim_head": ("dim_head", 64),
        "time_transformer_depth": ("time_transformer_depth", 2), "freq_transformer_depth": ("freq_transformer_depth", 2),
        "mask_estimator_depth": ("mask_estimator_depth", None), "mlp_expansion_factor": ("mlp_expansion_factor", 4),
        "attn_dropout": ("attn_dropout", 0.0), "ff_dropout": ("ff_dropout", 0.0), "stft_n_fft": ("n_fft", 2048),
        "stft_hop_length": ("hop_length", 512), "stft_win_length": ("win_length", 2048),
        "stft_normalized": ("normalized", False), "zero_dc": ("zero_dc", True)}
# settings that must hold a given value (features this package does not implement)
FIXED = {"linear_transformer_depth": 0, "skip_connection": False, "use_pope": False}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads ``!!python/tuple`` (as MSST's files use it) as a list."""


_Loader.add_constructor("tag:yaml.org,2002:python/tuple", lambda loader, node: list(loader.construct_sequence(node)))


def read_config(path: PathLike) -> Dict[str, Any]:
    """The YAML file, safely: ``!!python/tuple`` is read as a list, every other python tag refused.

    Raises:
        ModelError: unreadable, not YAML, a refused tag, or not a mapping (one line).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None
    except yaml.constructor.ConstructorError as err:
        mark = f" (line {err.problem_mark.line + 1})" if err.problem_mark else ""
        tag = str(err.problem).split("'")[1] if "'" in str(err.problem) else str(err.problem)
        raise ModelError(f"{path}{mark}: the tag {tag} is refused (only !!python/tuple is read)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ModelError(f"{path}{where}: not a YAML file ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a YAML mapping with sections audio, model, training")
    return data


def _get(config: Mapping[str, Any], path: PathLike, dotted: str, default: Any = ..., kind: Any = None) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is ...:
                raise ModelError(f"{path}: missing key {dotted}")
            return default
        node = node[part]
    if kind is not None and node is not None:
        ok = isinstance(node, kind) and not (isinstance(node, bool) and kind in (int, float, (int, float)))
        if not ok:
            raise ModelError(f"{path}: {dotted} must be {getattr(kind, '__name__', 'a number')}, got {node!r}")
    return node


def model_type(config: Mapping[str, Any], path: PathLike, given: Optional[str]) -> str:
    """MSST's model type: ``given`` (``--model-type``), else from the model section (``freqs_per_bands``:
    bs_roformer; ``num_bands``: mel_band_roformer).

    Raises:
        ModelError: a type this package does not convert (the line lists those it does).
    """
    supported = ", ".join(MODEL_TYPES)
    if given is not None:
        if given not in MODEL_TYPES:
            raise ModelError(f"model type {given!r} is not supported (supported: {supported})")
        return given
    model = _get(config, path, "model", kind=dict)
    if "freqs_per_bands" in model:
        return "bs_roformer"
    if "num_bands" in model:
        return "mel_band_roformer"
    raise ModelError(f"{path}: its model section is none of the supported types ({supported}: it has neither "
                     "freqs_per_bands nor num_bands); give --model-type if it is one")


def settings_of(config: Mapping[str, Any], path: PathLike, kind: str) -> Tuple[RoFormerSettings, float]:
    """``(settings, sample_rate)`` of an MSST configuration of ``kind`` (a key of :data:`MODEL_TYPES`).

    Raises:
        ModelError: a missing key (named), a bad value, or a setting this package does not implement.
    """
    model = _get(config, path, "model", kind=dict)
    sample_rate = float(_get(config, path, "audio.sample_rate", 44100, (int, float)))
    chunk_size = int(_get(config, path, "audio.chunk_size", kind=int))
    num_overlap = int(_get(config, path, "inference.num_overlap", 4, int))
    instruments = _get(config, path, "training.instruments", kind=list)
    target = _get(config, path, "training.target_instrument", None)
    if not instruments or not all(isinstance(t, str) and t for t in instruments):
        raise ModelError(f"{path}: training.instruments must be a list of names")
    if target is not None and target not in instruments:
        raise ModelError(f"{path}: training.target_instrument {target!r} is not one of training.instruments")
    targets = [target] if target else list(instruments)
    stems = int(_get(config, path, "model.num_stems", 1, int))
    if stems != len(targets):
        raise ModelError(f"{path}: model.num_stems is {stems}, but the config names {len(targets)} target(s) "
                         f"({', '.join(targets)})")
    for key, value in FIXED.items():
        if model.get(key, value) != value:
            raise ModelError(f"{path}: model.{key}: {model[key]!r} is not supported (only {value!r})")
    known = set(READ) | set(FIXED) | IGNORED | {"freqs_per_bands", "num_bands"}
    unknown = sorted(k for k in model if k not in known)
    if unknown:
        raise ModelError(f"{path}: model.{unknown[0]} is not a setting this converter knows (it may change the "
                         "model; known: " + ", ".join(sorted(known)) + ")")
    values: Dict[str, Any] = {}
    for key, (field, default) in READ.items():
        if key == "mask_estimator_depth" and default is None:
            default = 2 if kind == "bs_roformer" else 1
        value = _get(config, path, f"model.{key}") if default is None else _get(config, path, f"model.{key}", default)
        if field in ("normalized", "zero_dc"):
            if not isinstance(value, bool):
                raise ModelError(f"{path}: model.{key} must be true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ModelError(f"{path}: model.{key} must be a non-negative number, got {value!r}")
        values[field] = value
    n_fft = int(values["n_fft"])
    if kind == "bs_roformer":
        widths = _get(config, path, "model.freqs_per_bands", kind=list)
        if not all(isinstance(w, int) and w > 0 for w in widths) or sum(widths) != n_fft // 2 + 1:
            raise ModelError(f"{path}: model.freqs_per_bands must be positive widths adding up to "
                             f"{n_fft // 2 + 1} bins (stft_n_fft {n_fft})")
        bands = contiguous_bands(widths)
    else:
        num_bands = int(_get(config, path, "model.num_bands", kind=int))
        rate = float(_get(config, path, "model.sample_rate", sample_rate, (int, float)))
        try:
            bands = mel_bands(num_bands, n_fft, rate)
        except ValueError as err:
            raise ModelError(f"{path}: model.num_bands: {err}") from None
    nb_channels = 2 if _get(config, path, "model.stereo", False) else 1
    ints = {k: int(v) for k, v in values.items() if k not in ("attn_dropout", "ff_dropout", "normalized", "zero_dc")}
    settings = RoFormerSettings(
        targets=tuple(targets), nb_channels=nb_channels, bands=bands, attn_dropout=float(values["attn_dropout"]),
        ff_dropout=float(values["ff_dropout"]), normalized=values["normalized"], zero_dc=values["zero_dc"],
        layout="bs" if kind == "bs_roformer" else "mel", chunk_size=chunk_size, num_overlap=num_overlap, **ints)
    return settings, sample_rate


def load_checkpoint(path: PathLike) -> Dict[str, torch.Tensor]:
    """The state dict of an MSST checkpoint, loaded with ``weights_only=True`` (wrappers ``state_dict``/
    ``model`` opened, ``module.`` and ``_orig_mod.`` prefixes removed)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file") from None
    except Exception as err:  # noqa: BLE001 (torch raises many kinds for a file it cannot read)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"{path}: not a checkpoint that loads with weights_only=True ({first[:200]})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: not a state dict of tensors")
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def _shape(t: torch.Tensor) -> str:
    return "x".join(str(d) for d in t.shape) or "scalar"


def map_state(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], path: PathLike,
              config: PathLike) -> Dict[str, torch.Tensor]:
    """The checkpoint's tensors under this package's names, every one explained by the config.

    * ``...rotary_embed.freqs`` (the rotary frequencies stored by the reference
      layers) are checked to be the standard ones and dropped;
    * the block layout ``layers.N.1``/``layers.N.2`` (a linear transformer slot
      left empty) is read as ``layers.N.0``/``layers.N.1``.

    Raises:
        ModelError: the first key that the config does not explain (with both shapes), or one it lacks.
    """
    out: Dict[str, torch.Tensor] = {}
    shifted = any(k.startswith("layers.") and k.split(".")[2] == "2" for k in state if k.count(".") > 2)
    for key, value in state.items():
        if key.endswith("rotary_embed.freqs"):
            want = rotary_frequencies(2 * value.numel())
            if value.shape != want.shape or not torch.allclose(value.float(), want, rtol=1e-5, atol=0):
                raise ModelError(f"{path}: {key} holds learned rotary frequencies, which are not supported")
            continue
        name = key
        parts = key.split(".")
        if shifted and parts[0] == "layers" and len(parts) > 2 and parts[2] in ("1", "2"):
            name = ".".join(parts[:2] + [str(int(parts[2]) - 1)] + parts[3:])
        if name not in expected:
            raise ModelError(f"{path}: key {key} ({_shape(value)}) is not explained by {config}")
        if value.shape != expected[name].shape:
            raise ModelError(f"{path}: key {key} is {_shape(value)} in the checkpoint but {_shape(expected[name])} "
                             f"from {config}")
        out[name] = value.to(expected[name].dtype)
    missing = [k for k in expected if k not in out]
    if missing:
        raise ModelError(f"{path}: lacks key {missing[0]} ({_shape(expected[missing[0]])}) of the model "
                         f"{config} describes")
    return out


def gated_in(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the checkpoint's attention layers have the per-head gates (``to_gates``)."""
    return any(".to_gates." in k for k in state)


__all__ = ["MODEL_TYPES", "read_config", "model_type", "settings_of", "load_checkpoint", "map_state", "gated_in"]
