"""ONNX graphs of target models: mixture magnitude in, target magnitude out.

Export uses torch's TorchScript-based exporter: the ``torch.export`` one
fixes the number of frames of an LSTM to that of the example input, while
the TorchScript one maps ``nn.LSTM`` onto the ONNX ``LSTM`` operator with a
dynamic sequence length.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np
import torch
from torch import nn

from ..utils import PathLike
from .errors import ExportError, first_line

OPSET = 17
ONNX_INPUT = "mix_magnitude"
ONNX_OUTPUT = "target_magnitude"


def require_onnx() -> Any:
    """The ``onnx`` module.

    Raises:
        ExportError: it is not installed.
    """
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package (pip install onnx)") from None
    return onnx


def export_onnx(model: nn.Module, path: PathLike, nb_channels: int, nb_bins: int, fp16: bool = False,
                metadata: Optional[Dict[str, str]] = None) -> None:
    """Write one target model as an ONNX graph.

    The graph maps ``mix_magnitude`` ``(batch, channels, bins, frames)`` to
    ``target_magnitude`` of the same shape (float32, dynamic batch and frames).

    Args:
        model: a single-target model whose architecture says it is exportable (evaluation mode, on
            any device; exported on CPU).
        nb_channels, nb_bins: the channels and STFT bins (``n_fft // 2 + 1``) of its input.
        fp16: store the weights as float16 (inputs, outputs and arithmetic stay float32).
        metadata: strings stored as the graph's metadata properties.

    Raises:
        ExportError: the exporter failed (its first line says why).
    """
    onnx = require_onnx()
    model = model.cpu().eval()
    example = torch.rand(2, nb_channels, nb_bins, 9)
    axes = {0: "batch", 3: "frames"}
    try:
        with warnings.catch_warnings():  # the legacy exporter's deprecation and LSTM batch notes
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(path), input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                dynamic_axes={ONNX_INPUT: axes, ONNX_OUTPUT: axes}, opset_version=OPSET, dynamo=False,
                do_constant_folding=True,
            )
    except Exception as err:  # the exporter raises many kinds; the caller gets one line
        raise ExportError(f"ONNX export failed ({first_line(err)})") from None
    graph = onnx.load(str(path))
    if fp16:
        weights_to_fp16(graph)
    for key, value in (metadata or {}).items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


def weights_to_fp16(graph: Any) -> None:
    """Store an ONNX graph's float32 weights as float16, cast back to float32 by ``Cast`` nodes.

    Halves the file size; inputs, outputs and arithmetic stay float32.

    Raises:
        ExportError: a weight is too large for float16.
    """
    onnx = require_onnx()
    from onnx import helper, numpy_helper

    casts = []
    for init in graph.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        if values.size and np.abs(values).max() > np.finfo(np.float16).max:
            raise ExportError(f"weight '{init.name}' exceeds the float16 range; export without --fp16")
        name = init.name
        init.CopyFrom(numpy_helper.from_array(values.astype(np.float16), f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name], to=onnx.TensorProto.FLOAT,
                                      name=f"{name}__cast"))
    nodes = casts + list(graph.graph.node)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
