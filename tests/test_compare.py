"""python -m openunmix.compare: reading score folders, the SiSEC table, paired tests, files, bad input, the
listening page's folder, and eval.py --report. The page in a real browser: test_compare_browser.py."""

import csv
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from compare_data import ROOT, SISEC, museval_json, small_study, write_estimates, write_method, write_root
from openunmix.commands.compare import main as compare_main
from openunmix.compare import (
    BootstrapSettings, CompareError, CompareSettings, PairedSettings, ReportSettings, compare_folders, conover_holm,
    conover_iman, holm, is_report, median_ci, read_museval_json, results_json, wilcoxon_p, write_report,
)
from openunmix.compare.media import AudioSources
from openunmix.compare.table import GLOBAL, row_lookup
from openunmix.evaluation import summarize

FAST = CompareSettings(bootstrap=BootstrapSettings(resamples=999))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return small_study(tmp_path_factory.mktemp("study"))


def _folders(study, names=("A", "B", "C")):
    return [(n, study[n]) for n in names]


def _error_lines(text):
    return [line for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# reading


def test_reads_bare_nan_tokens_and_frame_times(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(museval_json({"vocals": {m: [math.nan, 1.0, 2.0] for m in ("SDR", "SIR", "ISR", "SAR")}}))
    assert "NaN" in path.read_text()  # the bare token, as museval and SiSEC's files have it
    scores = read_museval_json(path)
    assert np.isnan(scores.frames["vocals"]["SDR"][0]) and scores.frames["vocals"]["SDR"][2] == 2.0
    assert scores.times["vocals"].tolist() == [0.0, 1.0, 2.0] and scores.end() == 3.0


@pytest.mark.skipif(not SISEC.is_dir(), reason=f"no SiSEC 2018 scores at {SISEC} (../shared/sisec18)")
def test_sisec18_table_agrees_with_museval_and_scikit_posthocs(tmp_path):
    """The published SiSEC 2018 json (bare NaN tokens, STL2 without accompaniment): our table equals museval's
    MethodStore aggregate, and our Conover test equals scikit-posthocs' on the real per-track SDR."""
    museval = pytest.importorskip("museval")
    sp = pytest.importorskip("scikit_posthocs")
    methods = ("TAK1", "UHL2", "STL2", "IRM1")
    tracks = sorted(p.name for p in (SISEC / "TAK1" / "test").glob("*.json"))[:8]
    store = museval.MethodStore()
    for m in methods:  # museval reads whole folders: a folder of 8 links per method keeps it quick
        (tmp_path / m / "test").mkdir(parents=True)
        for t in tracks:
            os.symlink(SISEC / m / "test" / t, tmp_path / m / "test" / t)
        store.add_eval_dir(tmp_path / m)
    theirs = store.agg_frames_tracks_scores()
    ours = compare_folders([(m, tmp_path / m) for m in methods], FAST)
    compared = 0
    for r in ours.rows:
        if r.metric != GLOBAL:
            assert r.median == pytest.approx(theirs[(r.method, r.target, r.metric)], abs=1e-9)
            compared += 1
    assert compared == len(theirs) == 4 * 4 * 4 + 3 * 4  # STL2 has no accompaniment
    # the full set: 50 shared tracks, the paired tests on all of them
    full = compare_folders([(m, SISEC / m) for m in methods], FAST)
    assert len(full.common) == 50 and not full.partial
    names, p = full.paired.conover["vocals"]["SDR"]
    scores = [[full.table[m]["vocals"]["SDR"][t] for t in full.common] for m in names]
    expected = sp.posthoc_conover(scores, p_adjust="holm").to_numpy()
    off = ~np.eye(len(names), dtype=bool)
    np.testing.assert_allclose(p[off], expected[off], rtol=1e-9)
    assert {(q.a, q.b) for q in full.paired.pairs if q.target == "accompaniment" and q.metric == "SDR"} == {
        ("TAK1", "UHL2"), ("TAK1", "IRM1"), ("UHL2", "IRM1")}
    assert full.order[0] == "IRM1"  # the oracle leads on median vocals SDR


# ---------------------------------------------------------------------------
# aggregation and statistics


def test_table_agrees_with_eval_aggregation_and_museval(study):
    """Per method the same medians as eval.py's summarize() and museval's own EvalStore; global SDR mean as eval.py."""
    museval = pytest.importorskip("museval")
    from openunmix.compare.scores import load_method

    comparison = compare_folders(_folders(study), FAST)
    rows = row_lookup(comparison.rows)
    for name in ("A", "B", "C"):
        method = load_method(name, study[name])
        summary = summarize({t: f.frames for t, f in method.tracks.items()}, method.global_sdr)
        store = museval.EvalStore()
        store.add_eval_dir(study[name])
        theirs = store.agg_frames_tracks_scores()
        for target, row in summary.items():
            for metric in ("SDR", "SIR", "ISR", "SAR"):
                assert rows[(name, target, metric)].median == pytest.approx(row[metric], abs=1e-12)
                assert rows[(name, target, metric)].median == pytest.approx(theirs[(target, metric)], abs=1e-9)
            if method.global_sdr:
                assert rows[(name, target, GLOBAL)].mean == pytest.approx(row["global_SDR"], abs=1e-12)
            else:
                assert (name, target, GLOBAL) not in rows
    assert comparison.order == ["A", "B", "C"]  # by median vocals SDR


def test_bootstrap_interval():
    x = np.random.default_rng(0).normal(3.0, 1.0, 40)
    settings = BootstrapSettings(resamples=1999, seed=1)
    low, high = median_ci(x, settings)
    assert low < np.median(x) < high and high - low < 1.5
    assert median_ci(x, settings) == (low, high)  # seeded: the same scores, the same interval
    assert median_ci(np.append(x, np.nan), settings) == (low, high)  # NaN tracks are left out
    assert all(math.isnan(v) for v in median_ci(np.array([1.0]), settings))
    wide = median_ci(x, BootstrapSettings(confidence=0.99, resamples=1999, seed=1))
    assert wide[0] <= low and wide[1] >= high


def test_conover_and_holm_agree_with_scikit_posthocs():
    sp = pytest.importorskip("scikit_posthocs")
    rng = np.random.default_rng(4)
    groups = [np.round(rng.normal(0.4 * i, 1.0, 15), 1) for i in range(4)]  # rounded: ties
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(conover_iman(groups)[off], sp.posthoc_conover(groups).to_numpy()[off], rtol=1e-10)
    np.testing.assert_allclose(conover_holm(groups)[off], sp.posthoc_conover(groups, p_adjust="holm").to_numpy()[off],
                               rtol=1e-10)
    # Holm by hand: sorted 0.01, 0.02, 0.04 times 3, 2, 1, made monotone
    np.testing.assert_allclose(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    assert np.isnan(holm([np.nan, 0.01])[0]) and holm([np.nan, 0.01])[1] == 0.01
    assert np.isnan(conover_iman([np.ones(3), np.ones(3)])).all()  # all equal: undefined, not an error


def test_pairs_wins_wilcoxon_and_verdicts(tmp_path):
    from scipy import stats

    tracks = [f"t{i}" for i in range(8)]
    for name, level in (("good", 8.0), ("bad", 2.0)):
        write_method(tmp_path / name, tracks, level, 0, nan_frames=0)
    comparison = compare_folders([("bad", tmp_path / "bad"), ("good", tmp_path / "good")], FAST)
    pair = next(p for p in comparison.paired.pairs if p.target == "vocals" and p.metric == "SDR")
    d = np.array([comparison.table["bad"]["vocals"]["SDR"][t] - comparison.table["good"]["vocals"]["SDR"][t]
                  for t in tracks])
    assert (pair.a, pair.b, pair.tracks, pair.wins_a, pair.wins_b, pair.ties) == ("bad", "good", 8, 0, 8, 0)
    assert pair.median_diff == pytest.approx(np.median(d))
    assert pair.wilcoxon_p == pytest.approx(stats.wilcoxon(d).pvalue) == wilcoxon_p(d)
    assert pair.better == "good" and pair.verdict() == "good > bad"
    strict = compare_folders([("bad", tmp_path / "bad"), ("good", tmp_path / "good")],
                             CompareSettings(paired=PairedSettings(alpha=0.001)))
    assert all(not p.better for p in strict.paired.pairs)  # 8 tracks cannot reach p < 0.001
    assert math.isnan(wilcoxon_p(np.zeros(5)))


def test_partial_tracks_are_named_and_left_out_of_the_paired_tests(study):
    comparison = compare_folders(_folders(study), FAST)
    assert comparison.common == ["Alpha - One", "Beta & Co - Two 'live'"]
    assert comparison.partial == {"Gamma - Three": ["A", "B"]}
    assert {p.tracks for p in comparison.paired.pairs} == {2}
    assert row_lookup(comparison.rows)[("A", "vocals", "SDR")].tracks == 3  # the table keeps every track
    data = results_json(comparison)
    assert data["tracks"]["partial"] == {"Gamma - Three": ["A", "B"]}
    json.dumps(data, allow_nan=False)  # strict json: NaN written as null


# ---------------------------------------------------------------------------
# the command


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


def test_module_shim_runs_with_the_worktree(study, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "openunmix.compare", f"A={study['A']}", str(study["B"]),
                           "--outdir", str(tmp_path / "o"), "--resamples", "99"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "  A " in proc.stdout and "  B " in proc.stdout  # DIR alone is named after its folder
    assert (tmp_path / "o" / "results.csv").is_file()


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


# ---------------------------------------------------------------------------
# the listening page's folder


def test_report_folder_appears_complete_or_not_at_all(study, tmp_path, monkeypatch):
    from openunmix.compare import media

    comparison = compare_folders(_folders(study), FAST)
    sources = AudioSources(study["root"], True, "test", {"A": study["est_A"], "B": study["est_B"]})
    dest = tmp_path / "page"
    index = write_report(comparison, dest, sources, ReportSettings(wav=True, tracks=("Alpha - One",)))
    assert index == dest / "index.html" and is_report(dest)
    pages = list((dest / "tracks").glob("*.html"))
    assert len(pages) == 1
    media_files = {p.name for p in (dest / "media").rglob("*") if p.is_file()}
    assert {"mixture.ogg", "mixture.png", "mixture.wav", "reference.vocals.ogg", "0-A.vocals.ogg", "1-B.vocals.ogg"} \
        <= media_files
    assert not any(n.startswith("2-C") for n in media_files)  # C has no estimates: curves, no players

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(media, "encode", fail)
    monkeypatch.setattr("openunmix.compare.report.encode", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(comparison, tmp_path / "never", sources)
    assert not (tmp_path / "never").exists()
    with pytest.raises(OSError):
        write_report(comparison, dest, sources)  # an earlier report stays as it was
    assert is_report(dest) and len(list((dest / "tracks").glob("*.html"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page"]  # no temporary folders left behind
    monkeypatch.undo()
    write_report(comparison, dest, None, ReportSettings(spectrograms=False))  # replaced, now without audio
    assert len(list((dest / "tracks").glob("*.html"))) == 3 and not (dest / "media").exists()
    page = next((dest / "tracks").glob("000-*.html")).read_text()
    assert "<audio" not in page and page.count("class=\"cursor\"") == 6  # 3 methods x 2 targets, curves only
    with pytest.raises(CompareError, match="not a report"):
        write_report(comparison, study["A"], None)


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
