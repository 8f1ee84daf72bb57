"""Reduced-precision target models for faster separation (opt in).

Only the target models change; the STFT, the Wiener filter and the inverse
STFT stay in float32, and every model still takes and returns float32
magnitudes ``(batch, channels, bins, frames)``.

* ``float32``: unchanged.
* ``bfloat16``: weights and activations in bfloat16 (CPUs with AVX-512 or
  AMX, and GPUs). Its cost in SDR and its speed are measured in the README.
* ``int8``: dynamically quantised int8 weights of the linear and LSTM layers
  (activations quantised per batch on the fly), CPU only.
"""

from __future__ import annotations

import copy
import warnings
from typing import Optional, Tuple

import torch
from torch import nn

from .utils import known_warnings_hidden

PRECISIONS: Tuple[str, ...] = ("float32", "bfloat16", "int8")


class PrecisionError(ValueError):
    """A precision that is unknown or not available on the chosen device."""


class CastModel(nn.Module):
    """A target model run in another precision, float32 in and out.

    ``model`` keeps its own name inside (``self.model``), so the wrapped
    model's parameters stay reachable; the wrapper is for inference only.
    """

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model = model
        self.dtype = dtype
        if getattr(model, "targets", None) is not None:  # a joint model keeps saying which targets it returns
            self.targets = model.targets

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """magnitude ``(batch, channels, bins, frames)`` -> target magnitude, same shape and dtype."""
        return self.model(x.to(self.dtype)).to(x.dtype)


def check_precision(precision: str, device: torch.device) -> None:
    """Raise :class:`PrecisionError` when ``precision`` cannot run on ``device``."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if precision == "int8":
        if device.type != "cpu":
            raise PrecisionError("precision int8 runs on the CPU only (use bfloat16 on a GPU, or --no-cuda)")
        if not torch.backends.quantized.supported_engines or torch.backends.quantized.engine == "none":
            raise PrecisionError("precision int8: this torch build has no quantized CPU engine")
    if precision == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("precision bfloat16: this GPU does not support bfloat16")


def cpu_has_native_bfloat16() -> Optional[bool]:
    """Whether the CPU has bfloat16 arithmetic instructions (``avx512_bf16`` or ``amx_bf16``);
    None where it cannot be told (no ``/proc/cpuinfo``)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return None


def _quantize(model: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    # torch's notes that the eager API is deprecated in favour of torchao (still present in 2.13) and on
    # quantized tensors, hidden for the call only: other warnings (a model's own) are shown
    with known_warnings_hidden((DeprecationWarning, r"torch\.ao\.quantization is deprecated"),
                               (UserWarning, r"torch\.quantize_per_tensor, torch\.quantize_per_channel")):
        return quantize_dynamic(copy.deepcopy(model), {nn.Linear, nn.LSTM}, dtype=torch.qint8)


def reduce_precision(model: nn.Module, precision: str, device: torch.device = torch.device("cpu")) -> nn.Module:
    """``model`` (a frozen target model on ``device``) in ``precision``, float32 in and out.

    ``float32`` returns ``model`` itself; the others return a new module and
    leave ``model`` untouched.

    Raises:
        PrecisionError: unknown precision, or one the device cannot run.
    """
    check_precision(precision, device)
    if precision == "float32":
        return model
    if precision == "bfloat16":
        if torch.device(device).type == "cpu" and cpu_has_native_bfloat16() is False:
            warnings.warn("this CPU has no bfloat16 instructions (avx512_bf16/amx_bf16): bfloat16 is emulated "
                          "and slower than float32 here", stacklevel=2)
        return CastModel(copy.deepcopy(model).to(torch.bfloat16), torch.bfloat16).eval()
    return _quantize(model).eval()


def apply_precision(separator: nn.Module, precision: str) -> nn.Module:
    """Put every target model of a frozen :class:`~openunmix.separation.separator.Separator` in ``precision``.

    The separator is changed in place and returned; its filter and transforms
    stay float32.

    Raises:
        PrecisionError: unknown precision, or one the separator's device cannot run.
    """
    device = next(separator.parameters()).device
    check_precision(precision, device)
    if precision == "float32":
        return separator
    for name in list(separator.target_models.keys()):
        separator.target_models[name] = reduce_precision(separator.target_models[name], precision, device)
    separator.precision = precision
    return separator.freeze()
