"""openunmix.commands.export (python -m openunmix.export): flags and targets are checked before any work, in one
line, and nothing is written."""

import pytest

from conftest import make_model_folder

# as every export test, skipped without ONNX Runtime
ort = pytest.importorskip("onnxruntime")
from openunmix.commands.export import main


def _one_error_line(err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err



@pytest.mark.parametrize("flag,value", [("--niter", "-1"), ("--alpha", "nan"), ("--alpha", "0"),
                                        ("--wiener-win-len", "inf"), ("--logit", "1.5")])
def test_bad_flags_rejected_before_work(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope"), "--output", str(tmp_path / "out"), flag, value])
    assert exit_info.value.code == 2
    _one_error_line(capsys.readouterr().err, flag)
    assert not (tmp_path / "out").exists()



def test_unknown_target_is_refused_listing_the_model_targets(tmp_path, capsys):
    folder = make_model_folder(tmp_path / "m", targets=("vocals", "drums"))
    assert main([str(folder), "--output", str(tmp_path / "out"), "--targets", "kazoo", "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "no model for target 'kazoo' (available: drums, vocals)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
