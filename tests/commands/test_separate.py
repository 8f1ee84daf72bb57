"""openunmix.commands.separate (test.py, umx): flags are checked before any work, in one line."""

import pytest

from conftest import write_tone

RATE = 16000


@pytest.mark.parametrize("flags, needle", [
    (["--alpha", "nan"], "--alpha"),
    (["--alpha", "0"], "--alpha"),
    (["--niter", "-1"], "--niter"),
    (["--niter", "1.5"], "--niter"),
    (["--segment", "inf"], "--segment"),
    (["--segment", "0"], "--segment"),
    (["--overlap", "-1"], "--overlap"),
    (["--segment", "2", "--overlap", "2"], "--segment"),
    (["--logit", "1.5"], "--logit"),
    (["--threads", "0"], "--threads"),
    (["--ext", ".xyz"], "it writes .aiff"),
])
def test_test_py_flags_are_checked_before_any_work(tmp_path, flags, needle, capsys):
    from openunmix.commands.separate import separate_command

    song = write_tone(tmp_path / "song.wav", seconds=0.2, rate=RATE)
    with pytest.raises(SystemExit) as exit_:
        separate_command(["nosuchmodel", "--input", str(song), "--outdir", str(tmp_path / "o"), *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert needle in err[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("variables", [
    {"SLURM_ARRAY_TASK_ID": "3"},  # the count nowhere: each task would separate the whole list
    {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1"},
])
def test_test_py_stops_when_the_array_variables_do_not_give_a_share(tmp_path, variables, monkeypatch, capsys):
    from openunmix.commands.separate import separate_command

    for name in ("ID", "COUNT", "MIN", "MAX", "STEP"):
        monkeypatch.delenv(f"SLURM_ARRAY_TASK_{name}", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    song = write_tone(tmp_path / "song.wav", seconds=0.2, rate=RATE)
    with pytest.raises(SystemExit) as exit_:
        separate_command(["nosuchmodel", "--input", str(song), "--outdir", str(tmp_path / "o")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: argument --shard: cannot tell this task's share"), err
    assert all(f"{k}={v}" in err[0] for k, v in variables.items()) and "--shard K/N" in err[0]
    assert not (tmp_path / "o").exists()
