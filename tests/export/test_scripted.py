"""openunmix.export.scripted: joint models are refused in one line."""

import pytest

from openunmix import export as export_module
from openunmix.export import ExportError


def test_joint_models_are_refused_in_one_line(tmp_path):
    """X-UMX folders cannot be exported yet: the error says so instead of failing inside TorchScript."""
    from openunmix.separation.separator import Separator
    from openunmix.architectures.xumx import CrossNetOpenUnmix

    joint = CrossNetOpenUnmix(["vocals", "drums"], nb_bins=257, nb_channels=2, hidden_size=8, nb_layers=1,
                              max_bin=100).eval()
    separator = Separator({"xumx": joint}, n_fft=512, n_hop=128, sample_rate=16000)
    with pytest.raises(ExportError, match="X-UMX") as info:
        export_module.export_separator(separator, tmp_path / "separator.pt")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "separator.pt").exists()
