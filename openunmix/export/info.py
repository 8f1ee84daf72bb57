"""What an export folder holds, and ``export.json``: how to feed the exported graphs."""

from __future__ import annotations

import platform
from typing import Any, Dict

import torch

from ..separation.separator import Separator
from .errors import ExportError
from .onnx_graph import OPSET, io_spec, output_shape, require_onnx

SEPARATOR_FILE = "separator.pt"
INFO_FILE = "export.json"


def export_info(separator: Separator, model: str, fp16: bool, onnx_files: Dict[str, str]) -> Dict[str, Any]:
    """The contents of ``export.json``: how to feed the exported graphs."""
    channels = separator.nb_channels
    bins = separator.n_fft // 2 + 1 if separator.n_fft else None
    first = next(iter(separator.target_models.values()))
    name_in, name_out, shape, meaning = io_spec(separator.output, channels, bins)
    joint = getattr(first, "targets", None) if len(separator.target_models) == 1 else None
    out_shape = output_shape(shape, len(joint) if joint is not None else 0)
    win = separator.stft.win_length if separator.stft is not None else None
    versions = {"openunmix": package_version(), "torch": torch.__version__,
                "python": platform.python_version(), "onnx_opset": OPSET}
    try:
        versions["onnx"] = require_onnx().__version__
    except ExportError:
        pass
    settings = separator.filter
    return {
        "model": model,
        "sample_rate": separator.sample_rate,
        "nb_channels": channels,
        "stft": {
            "n_fft": separator.n_fft, "n_hop": separator.n_hop, "bins": bins,
            "window": "hann, periodic (torch.hann_window(win_length)), centred in n_fft", "win_length": win,
            "center": True,
            "pad_mode": "reflect (constant when the signal has at most n_fft // 2 samples)",
            "onesided": True, "normalized": bool(separator.stft is not None and separator.stft.normalized),
            "frames": "samples // n_hop + 1",
        },
        "output": separator.output,
        "chunks": {"chunk_size": separator.chunk_size, "num_overlap": separator.num_overlap,
                   "how": "overlapping chunks of chunk_size samples, linear fades, as openunmix.separation.steps."
                          "chunked"} if separator.chunk_size else None,
        "magnitude": "abs of the complex STFT" + (", averaged over channels" if channels == 1 else ""),
        "max_bin": int(first.nb_bins) if hasattr(first, "nb_bins") else None,
        "targets": separator.targets,
        "sources": separator.source_names,
        "filter": {
            "niter": settings.niter, "softmask": settings.softmask, "alpha": settings.alpha,
            "logit": settings.logit, "residual": settings.residual, "wiener_win_len": settings.wiener_win_len,
        } if separator.filtered else {"residual": settings.residual},
        "onnx": {
            "files": onnx_files,
            "weights": "float16, cast to float32 in the graph" if fp16 else "float32",
            "inputs": [{"name": name_in, "dtype": "float32", "shape": shape, "meaning": f"mixture {meaning}"}],
            "outputs": [{"name": name_out, "dtype": "float32", "shape": out_shape,
                         "meaning": f"target {meaning}" + (f", targets {', '.join(joint)} second" if joint else "")}],
        },
        "torchscript": {
            "file": SEPARATOR_FILE,
            "inputs": [{"name": "audio", "dtype": "float32", "shape": ["batch", channels, "samples"],
                        "meaning": f"waveform at {separator.sample_rate:g} Hz"}],
            "outputs": [{"name": "estimates", "dtype": "float32",
                         "shape": ["batch", len(separator.source_names), channels, "samples"],
                         "meaning": "one waveform per source, in the order of 'sources'"}],
        },
        "versions": versions,
    }


def package_version() -> str:
    """This package's installed version (``unknown`` when run from a checkout without installing)."""
    try:
        from importlib.metadata import version

        return version("openunmix")
    except Exception:  # not installed (run from a checkout)
        return "unknown"
