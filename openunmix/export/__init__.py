"""Export for deployment: ONNX target models and a self-contained TorchScript separator.

``python -m openunmix.export MODEL --output DIR`` (the program is
:mod:`openunmix.commands.export`) and :func:`export_model` write

- ``DIR/<target>.onnx``: one graph per target model, mixture magnitude
  ``(batch, channels, bins, frames)`` in, target magnitude of the same shape
  out, dynamic batch and frames (float32; ``--fp16`` stores the weights in
  half precision and casts them back to float32 inside the graph);
- ``DIR/separator.pt``: the whole separator (STFT, target models, Wiener
  filter with the chosen settings, inverse STFT) compiled by TorchScript
  (:mod:`.scripted`), waveform ``(batch, channels, samples)`` in,
  ``(batch, sources, channels, samples)`` out; ``torch.jit.load`` runs it
  without this package;
- ``DIR/export.json``: what a user of the graphs needs to feed them (sample
  rate, STFT, targets, filter settings, input/output names and shapes,
  versions).

The folder appears complete or not at all: everything is written to a
hidden folder beside ``DIR`` and renamed onto it at the end.

Modules, one job each:
    errors      -- ExportError
    onnx_graph  -- ONNX graphs of the target models (export_onnx, weights_to_fp16)
    scripted    -- the TorchScript separator (ScriptableSeparator, script_separator, export_separator)
    info        -- the folder's file names and export.json (export_info)
    folder      -- export_model: the whole folder, atomically
"""

from .errors import ExportError
from .folder import export_model
from .info import INFO_FILE, SEPARATOR_FILE, export_info
from .onnx_graph import ONNX_INPUT, ONNX_OUTPUT, OPSET, export_onnx, weights_to_fp16
from .scripted import PARITY_TOLERANCE, ScriptableSeparator, export_separator, script_separator

__all__ = [
    "ExportError", "export_model", "export_info", "export_onnx", "weights_to_fp16", "export_separator",
    "script_separator", "ScriptableSeparator", "INFO_FILE", "SEPARATOR_FILE", "ONNX_INPUT", "ONNX_OUTPUT",
    "OPSET", "PARITY_TOLERANCE",
]
