"""openunmix.commands.demo in this process: bad arguments exit 2 in one line, --variety."""

import json

import pytest

from openunmix.commands.demo import main as demo_main


@pytest.mark.parametrize(
    "argv",
    [
        [],  # --root is required
        ["--root", "x", "--nb-train", "-1"],
        ["--root", "x", "--nb-test", "two"],
        ["--root", "x", "--duration", "0"],
        ["--root", "x", "--seed", "-5"],
    ],
)
def test_cli_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        demo_main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err



def test_cli_variety(tmp_path, capsys):
    assert demo_main(["--root", str(tmp_path / "w"), "--nb-train", "0", "--nb-valid", "0", "--nb-test", "1",
                      "--duration", "0.5", "--variety", "wide"]) == 0
    assert "variety wide" in capsys.readouterr().out
    assert json.loads((tmp_path / "w" / "dataset.json").read_text())["variety"] == "wide"
    with pytest.raises(SystemExit) as info:
        demo_main(["--root", str(tmp_path / "x"), "--variety", "hard"])
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--variety" in err[0]
    assert not (tmp_path / "x").exists()
