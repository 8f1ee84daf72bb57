"""openunmix.commands.evaluate: eval.py --report writes the listening page."""

import json

import pytest

from helpers.studies import write_estimates, write_root


def test_eval_report_scores_and_writes_the_page(tmp_path, capsys):
    """eval.py --score-only --baseline --report: the model and the mixture baseline, with the estimates' audio."""
    from openunmix.commands.evaluate import evaluate_command, evaluate_main

    tracks = ["One - Song"]  # museval decodes every source through ffmpeg: one short track keeps this quick
    root = write_root(tmp_path / "musdb", tracks, seconds=2.0)
    est = write_estimates(tmp_path / "mine", root, tracks, 0.02)
    status = evaluate_main(None, str(root), is_wav=True, outdir=str(est), evaldir=str(tmp_path / "ev"),
                           score_only=True, progress=False, baseline=True, report=str(tmp_path / "page"))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"listening page: {tmp_path / 'page' / 'index.html'}" in captured.out
    info = json.loads((tmp_path / "page" / "report.json").read_text())
    assert info["methods"] == ["mine", "mixture"] and len(info["tracks"]) == 1
    page = (tmp_path / "page" / "tracks" / "000-One_-_Song.html").read_text()
    assert page.count("<audio") == 1 + 2 + 2  # mixture, 2 references, the model's 2 estimates
    assert page.count("its estimate is the mixture") == 2  # the baseline's curves follow the mixture's player
    assert page.count('class="cursor"') == 2 * 2  # an SDR curve per method and target
    with pytest.raises(SystemExit) as stop:
        evaluate_command(["--root", str(root), "--estimates-only", "--report", str(tmp_path / "p2")])
    assert stop.value.code == 2 and "not with --estimates-only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        evaluate_command(["--root", str(root), "--strict"])
    assert stop.value.code == 2 and "argument --strict: only with --report DIR" in capsys.readouterr().err

    # an estimate gone after scoring: the page is built without it, says so, and --strict refuses it
    (est / "test" / "One - Song" / "vocals.wav").unlink()
    again = ["--score-only", "--root", str(root), "--is-wav", "--outdir", str(est), "--evaldir", str(tmp_path / "ev"),
             "--report", str(tmp_path / "page"), "--quiet"]
    assert evaluate_command(again) == 0
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("warning: ")] == [
        f"warning: track 'One - Song': no estimate of vocals from 'mine' (in {est}); its page says so"]
    page = (tmp_path / "page" / "tracks" / "000-One_-_Song.html").read_text()
    assert "missing: no estimate of vocals from &#x27;mine&#x27;" in page and page.count("<audio") == 1 + 2 + 1
    assert evaluate_command(again + ["--strict"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: track 'One - Song': no estimate of vocals from 'mine'")
    assert err[-1].endswith("(the listening page was not written)")
