"""The run index (openunmix.runs): the runs under folders, damaged ones listed with their error."""

import csv
import io
import json

from conftest import copy_tree
from openunmix.commands.runs import main
from openunmix.runs import find_runs, runs_csv


def test_the_table_says_what_each_run_s_json_says(trained_umx, tmp_path, capsys):
    out, _ = trained_umx
    models = tmp_path / "models"
    copy_tree(out, models / "a")
    copy_tree(out, models / "nested" / "b")
    info = json.loads((out / "vocals.json").read_text())
    rows = find_runs([models])
    assert [r.run for r in rows] == ["models/a/vocals", "models/nested/b/vocals"]
    row = rows[0]
    assert (row.architecture, row.recipe, row.steps, row.epochs, row.best_epoch) == (
        "umx", "default", info["steps"], 2, info["best_epoch"])
    assert row.best_loss == info["best_loss"] and row.error is None
    assert row.best_sdr == info["best_sdr"]["vocals"]  # one target: the mean is its SDR
    assert row.seconds == sum(info["train_time_history"])
    assert main([str(models), "--csv", str(tmp_path / "runs.csv")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:3] == ["run", "architecture", "recipe"] and len(printed) == 3
    table = list(csv.DictReader(io.StringIO((tmp_path / "runs.csv").read_text())))
    assert [r["run"] for r in table] == ["models/a/vocals", "models/nested/b/vocals"]
    assert int(table[0]["steps"]) == info["steps"] and float(table[0]["best_valid_loss"]) == float(f"{info['best_loss']:.6g}")


def test_a_damaged_json_is_listed_with_its_error(trained_umx, tmp_path, capsys):
    out, _ = trained_umx
    broken = copy_tree(out, tmp_path / "models" / "broken")
    copy_tree(out, tmp_path / "models" / "good")
    (broken / "vocals.json").write_text('{"args": {"recipe": ')
    rows = find_runs([tmp_path / "models"])
    assert [r.run for r in rows] == ["models/broken/vocals", "models/good/vocals"]
    assert rows[0].error.startswith("not readable json (") and rows[1].error is None
    assert "not readable json" in runs_csv(rows).splitlines()[1]
    assert main([str(tmp_path / "models")]) == 1
    captured = capsys.readouterr()
    assert "models/broken/vocals  error: not readable json" in captured.out
    assert captured.err.splitlines() == [f"error: {broken / 'vocals.json'}: {rows[0].error}"]


def test_a_missing_folder_is_one_line_and_nothing_is_written(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--csv", str(tmp_path / "runs.csv")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {tmp_path / 'nope'}: no such folder"]
    assert not (tmp_path / "runs.csv").exists()
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err.splitlines() == [f"error: no training runs under {tmp_path / 'empty'}"]
