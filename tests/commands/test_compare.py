"""openunmix.commands.compare (python -m openunmix.compare) in this process: the tables and files it writes, bad
input in one line with nothing written, an unreadable estimate. The comparison itself: tests/compare/; the page
in a real browser: tests/compare/test_page.py; the module run as a program: tests/programs/test_compare.py."""

import csv
import json
import shutil

import pytest

from helpers.studies import write_method
from openunmix.commands.compare import main as compare_main


def _error_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_command_prints_the_tables_and_writes_the_files(study, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert compare_main([f"{n}={study[n]}" for n in "ABC"] + ["--outdir", str(out), "--resamples", "999"]) == 0
    captured = capsys.readouterr()
    assert "SDR [95% CI]" in captured.out and "paired tests on SDR" in captured.out
    assert "'Gamma - Three' (only A, B)" in captured.err  # the partial track is named, never dropped silently
    with open(out / "results.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["method", "target", "metric", "median", "ci_low", "ci_high", "tracks"]
    assert len(rows) == 1 + 3 * 2 * 4 + 2 * 2  # methods x targets x metrics, and A's and B's global SDR
    with open(out / "pairwise.csv") as f:
        pairs = list(csv.DictReader(f))
    assert len(pairs) == 3 * 2 * 4 + 1 * 2  # 3 pairs x 2 targets x 4 metrics, and A-B on the global SDR
    assert {"median_diff", "wins_a", "wins_b", "wilcoxon_p", "conover_p_holm", "verdict"} <= set(pairs[0])
    for name in ("boxplots.png", "pairwise.png", "tracks.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "results.json").read_text())["order"] == ["A", "B", "C"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def _bad_cases(study, base):
    empty = base / "empty"
    (empty / "test").mkdir(parents=True)
    broken = write_method(base / "broken", ["x"], 1.0, 0)
    (broken / "test" / "y.json").write_text('{"targets": [{"name": "vocals", "frames": [')
    alien = write_method(base / "alien", ["x"], 1.0, 0)
    (alien / "test" / "x.json").write_text('{"something": "else"}')
    other = write_method(base / "other", ["elsewhere"], 1.0, 0)
    plain = base / "plain"
    plain.mkdir()
    (plain / "keep.txt").write_text("mine")
    a, b = f"A={study['A']}", f"B={study['B']}"
    return [
        ([a, f"E={empty}"], "no museval json"),
        ([a, f"X={broken}"], "y.json: not readable json"),
        ([a, f"X={alien}"], "x.json: not museval track scores"),
        ([a, f"O={other}"], "no track in common"),
        ([a], "at least 2 methods are needed"),
        ([a, f"M={base / 'missing'}"], "missing: no such folder"),
        ([a, f"A={study['B']}"], "method name 'A' given twice"),
        ([a, "=x"], "expected NAME=DIR"),
        ([a, b, "--root", str(study["root"])], "only serve the listening page: add --report DIR"),
        ([a, b, "--report", str(plain)], "a folder that is not a report"),
        ([a, b, "--report", str(base / "r"), "--estimates", f"Z={study['est_A']}"], "not one of the methods compared"),
        ([a, b, "--report", str(base / "r"), "--estimates", f"A={base / 'nope'}"], "no such estimates folder"),
        ([a, b, "--report", str(base / "r"), "--root", str(base / "nope")], "MUSDB root folder does not exist"),
        ([a, b, "--report", str(base / "r"), "--report-tracks", "Nope"], "no scores for track 'Nope'"),
        ([a, b, "--confidence", "1.5"], "argument --confidence"),
    ]


def test_bad_input_is_one_line_and_nothing_is_written(study, tmp_path, capsys):
    for argv, message in _bad_cases(study, tmp_path):
        out = tmp_path / "out"
        with pytest.raises(SystemExit) if _parser_error(message) else _nothing():
            status = compare_main(argv + ["--outdir", str(out)])
            assert status == 2, argv
        err = capsys.readouterr().err
        lines = _error_lines(err)
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (argv, err)
        assert not out.exists() and not (tmp_path / "r").exists(), argv
    assert (tmp_path / "plain" / "keep.txt").read_text() == "mine"


def _parser_error(message):
    return message.startswith(("expected NAME=DIR", "only serve", "argument"))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_unreadable_estimate_keeps_the_results_and_writes_no_page(study, tmp_path, capsys):
    est = tmp_path / "est"
    shutil.copytree(study["est_A"], est)
    bad = est / "test" / "Alpha - One" / "vocals.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    status = compare_main([f"A={study['A']}", f"B={study['B']}", "--outdir", str(tmp_path / "out"), "--quiet",
                           "--report", str(tmp_path / "page"), "--root", str(study["root"]), "--is-wav",
                           "--estimates", f"A={est}", "--resamples", "99"])
    err = _error_lines(capsys.readouterr().err)
    assert status == 1 and (tmp_path / "out" / "results.csv").is_file() and not (tmp_path / "page").exists()
    assert err[-1].startswith("error: ") and "vocals.wav" in err[-1] and "listening page was not written" in err[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["est", "out"]  # no temporary folder left behind


def test_missing_estimates_warn_per_track_and_strict_makes_them_an_error(study, tmp_path, capsys):
    est = tmp_path / "est"
    shutil.copytree(study["est_A"], est)
    (est / "test" / "Alpha - One" / "vocals.wav").unlink()
    args = [f"A={study['A']}", f"B={study['B']}", "--outdir", str(tmp_path / "out"), "--quiet",
            "--report", str(tmp_path / "page"), "--estimates", f"A={est}", "--resamples", "99",
            "--report-tracks", "Alpha - One"]
    assert compare_main(args) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: track 'Alpha - One': no estimate of vocals from 'A' (in {est}); its page says so"]
    assert compare_main(args + ["--strict"]) == 1  # the results are written, the page is not replaced
    err = _error_lines(capsys.readouterr().err)
    assert err[-1].startswith("error: track 'Alpha - One': no estimate of vocals") and "--strict" in err[-1]
    assert "listening page was not written" in err[-1]
    with pytest.raises(SystemExit) as exit_:
        compare_main([f"A={study['A']}", f"B={study['B']}", "--strict"])
    assert exit_.value.code == 2 and "--strict only serve the listening page" in capsys.readouterr().err
