"""openunmix.export.onnx_graph: the exporter's own notes are hidden during the export only; a model's own
warnings reach the caller, whose warning filters are the same afterwards."""

import warnings

import pytest
from torch import nn

from helpers.process_state import kept
from openunmix.export.onnx_graph import export_onnx

pytest.importorskip("onnx")


class Warns(nn.Module):
    """A magnitude model ``(batch, channels, bins, frames)`` -> same shape, whose forward warns."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 4, batch_first=True)

    def forward(self, x):
        warnings.warn("a plug-in's own warning", UserWarning)
        b, c, f, t = x.shape
        y, _ = self.lstm(x.reshape(b, c * f, t).transpose(1, 2))
        return y.transpose(1, 2).reshape(b, c, f, t)


def test_the_exporters_notes_are_hidden_and_a_models_own_warnings_are_not(tmp_path):
    model = Warns()
    with kept():  # warning filters, and the caller's random numbers: the example input has its own generator
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            export_onnx(model, tmp_path / "m.onnx", nb_channels=2, nb_bins=2)
    messages = [str(w.message) for w in seen]
    assert "a plug-in's own warning" in messages  # the model's code: the caller sees it
    assert not [m for m in messages if "legacy TorchScript-based ONNX export" in m or "batch_size other" in m]
    assert (tmp_path / "m.onnx").is_file()
