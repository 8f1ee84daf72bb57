"""ONNX graphs of target models: what the model takes in, what it returns out.

A graph's input and output are those of the model's kind
(:attr:`openunmix.architectures.Capabilities.output`, :func:`io_spec`):
magnitudes ``(batch, channels, bins, frames)``, STFTs as real and imaginary
parts ``(batch, channels, bins, frames, 2)``, or waveforms ``(batch,
channels, samples)``; batch and frames (samples) are dynamic.

Export uses torch's TorchScript-based exporter: the ``torch.export`` one
fixes the number of frames of an LSTM to that of the example input, while
the TorchScript one maps ``nn.LSTM`` onto the ONNX ``LSTM`` operator with a
dynamic sequence length.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..architectures import MAGNITUDE, SPECTROGRAM, WAVEFORM
from ..utils import PathLike
from .errors import ExportError, first_line

OPSET = 17
ONNX_INPUT = "mix_magnitude"  # the names of a magnitude model's graph
ONNX_OUTPUT = "target_magnitude"

# per kind of model: input name, output name, what they hold
_IO: Dict[str, Tuple[str, str, str]] = {
    MAGNITUDE: (ONNX_INPUT, ONNX_OUTPUT, "magnitude spectrogram"),
    SPECTROGRAM: ("mix_spectrogram", "target_spectrogram", "STFT, real and imaginary parts last"),
    WAVEFORM: ("mix", "target", "waveform"),
}


def io_spec(output: str, nb_channels: int, nb_bins: Optional[int]) -> Tuple[str, str, List[Any], str]:
    """``(input name, output name, shape, meaning)`` of the graph of a model of kind ``output``.

    The shape is that of input and output alike (a joint model's output has
    its targets second: :func:`output_shape`), with ``"batch"`` and
    ``"frames"`` (``"samples"``) for the dynamic axes.
    """
    inp, out, meaning = _IO[output]
    if output == WAVEFORM:
        return inp, out, ["batch", nb_channels, "samples"], meaning
    shape: List[Any] = ["batch", nb_channels, nb_bins, "frames"] + ([2] if output == SPECTROGRAM else [])
    return inp, out, shape, meaning


def output_shape(shape: List[Any], targets: int) -> List[Any]:
    """The output shape of a graph whose input is ``shape``: the same, or for a joint model of ``targets``
    targets (> 0) with them second."""
    return shape[:1] + [targets] + shape[1:] if targets else list(shape)


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


def export_onnx(model: nn.Module, path: PathLike, nb_channels: int, nb_bins: Optional[int], fp16: bool = False,
                metadata: Optional[Dict[str, str]] = None, output: str = MAGNITUDE, targets: int = 0) -> None:
    """Write one target model as an ONNX graph.

    The graph maps the model's input to its output as :func:`io_spec` names
    and shapes them (float32, dynamic batch and frames); for a magnitude
    model ``mix_magnitude`` ``(batch, channels, bins, frames)`` to
    ``target_magnitude`` of the same shape.

    Args:
        model: a single-target model whose architecture says it is exportable (evaluation mode, on
            any device; exported on CPU).
        nb_channels, nb_bins: the channels and STFT bins (``n_fft // 2 + 1``; None for waveforms) of its input.
        output: the model's kind (its capabilities' ``output``).
        targets: a joint model's number of targets (its output stacks them second), else 0.
        fp16: store the weights as float16 (inputs, outputs and arithmetic stay float32).
        metadata: strings stored as the graph's metadata properties.

    Raises:
        ExportError: the exporter failed (its first line says why).
    """
    onnx = require_onnx()
    model = model.cpu().eval()
    name_in, name_out, shape, _ = io_spec(output, nb_channels, nb_bins)
    example = torch.rand(*[2 if d == "batch" else 9 if d == "frames" else 4096 if d == "samples" else d
                           for d in shape])
    axes = {i: d for i, d in enumerate(shape) if isinstance(d, str)}
    out_axes = {i: d for i, d in enumerate(output_shape(shape, targets)) if isinstance(d, str)}
    try:
        with warnings.catch_warnings():  # the legacy exporter's deprecation and LSTM batch notes
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(path), input_names=[name_in], output_names=[name_out],
                dynamic_axes={name_in: axes, name_out: out_axes}, opset_version=OPSET, dynamo=False,
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
