"""eval.py end to end on a tiny synthetic MUSDB (one serial run shared by the module): museval files, the
report, resume, errors; evaluate_main and run_evaluation on the same run's files."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import musdb
import museval
import numpy as np
import pytest
import soundfile as sf

from conftest import make_model_folder, run_script, same_scores
from helpers.scores import read_csv
from openunmix.commands.evaluate import evaluate_main
from openunmix.demo import generate_dataset
from openunmix.evaluation.aggregate import read_track_scores
from openunmix.evaluation.baseline import evaluate_mixture_baseline
from openunmix.evaluation.scoring import METRICS, score_track
from openunmix.evaluation.tracks import EvaluationError, list_tracks
from openunmix.filtering import FilterSettings
from openunmix.separation.separate import SeparationSettings
from openunmix.utils import temporary_prefix

CPU = SeparationSettings(use_cuda=False)

DURATION = 3.0
SOURCES = ("vocals", "accompaniment")  # a lone vocals model adds the accompaniment


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 2-test-track dataset, a tiny vocals model and one full serial eval.py run over them."""
    base = tmp_path_factory.mktemp("eval")
    root = generate_dataset(base / "data", seed=3, nb_train=1, nb_valid=0, nb_test=2, duration=DURATION)
    model = make_model_folder(base / "model", targets=("vocals",), rate=44100.0, n_fft=512, n_hop=128)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # a tiny model: threads only add contention on small machines
        proc = run_script("eval.py", model, "--root", root, "--is-wav", "--subset", "test", "--outdir", base / "est",
                          "--evaldir", base / "ev", "--niter", "1", "--cores", "1", "--quiet")
    names = sorted(p.name for p in (root / "test").iterdir())
    return {"base": base, "root": root, "model": model, "est": base / "est", "ev": base / "ev",
            "proc": proc, "names": names}


def _mtimes(paths):
    return {str(p): os.stat(p).st_mtime_ns for p in paths}


def _stderr_lines(text):
    return [line for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# end to end


def test_eval_writes_estimates_scores_and_report(setup):
    proc, est, evd = setup["proc"], setup["est"], setup["ev"]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "vocals" in proc.stdout and "accompaniment" in proc.stdout
    for name in setup["names"]:
        mix = sf.info(str(setup["root"] / "test" / name / "mixture.wav"))
        for source in SOURCES:
            info = sf.info(str(est / "test" / name / f"{source}.wav"))
            assert info.subtype == "FLOAT"
            assert (info.samplerate, info.channels, info.frames) == (44100, 2, mix.frames)
        assert (evd / "test" / f"{name}.json").is_file()
        assert (evd / "global_sdr" / "test" / f"{name}.json").is_file()
    header, rows = read_csv(evd / "results.csv")
    assert header == ["target", "SDR", "SIR", "ISR", "SAR", "uSDR", "SI-SDR", "tracks"]
    assert list(rows) == list(SOURCES)
    assert all(row["tracks"] == 2 and all(math.isfinite(v) for v in row.values()) for row in rows.values())
    assert (evd / "sdr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(est.rglob(".*")) and not list(evd.rglob(".*"))  # no temporary files left


def test_track_json_is_museval_format(setup):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(museval.__file__).parent / "musdb.schema.json").read_text())
    for name in setup["names"]:
        path = setup["ev"] / "test" / f"{name}.json"
        data = json.loads(path.read_text())
        jsonschema.validate(data, schema)
        assert [t["name"] for t in data["targets"]] == list(SOURCES)
        assert len(data["targets"][0]["frames"]) == int(DURATION)  # 1 s windows and hops
        # museval's own TrackStore writes the same text from the same values
        store = museval.TrackStore(name, win=1.0, hop=1.0)
        for target in data["targets"]:
            store.add_target(target["name"], {m: [f["metrics"][m] for f in target["frames"]] for m in METRICS})
        assert store.json == path.read_text()


def test_report_matches_museval_evalstore(setup):
    store = museval.EvalStore(frames_agg="median", tracks_agg="median")
    store.add_eval_dir(setup["ev"])  # reads test/*.json only, not global_sdr/
    assert sorted(store.df["track"].unique()) == setup["names"]
    expected = store.agg_frames_tracks_scores()
    _, rows = read_csv(setup["ev"] / "results.csv")
    for target, row in rows.items():
        for metric in METRICS:
            # medians of the same stored values (ours and pandas' may differ by an ulp in how they average
            # the two middle ones), then our csv's 6 decimals: 5e-7 at most; abs 1e-5
            assert row[metric] == pytest.approx(expected[target][metric], abs=1e-5)


def test_global_sdr_is_computed_over_the_whole_track(setup):
    tracks = musdb.DB(root=str(setup["root"]), is_wav=True, subsets="test").tracks
    per_track = {s: [] for s in SOURCES}
    for track in tracks:
        stored = json.loads((setup["ev"] / "global_sdr" / "test" / f"{track.name}.json").read_text())["global_sdr"]
        for source in SOURCES:
            ref = track.targets[source].audio.T
            est, _ = sf.read(str(setup["est"] / "test" / track.name / f"{source}.wav"), always_2d=True)
            hand = 10 * np.log10((np.sum(ref ** 2) + 1e-7) / (np.sum((ref - est.T) ** 2) + 1e-7))
            # the same float32 samples (the estimate is a float wav) summed in float64 over 264600 samples,
            # maybe in another order: 264600 eps64 = 6e-11 relative each, 2 * 4.3 * 6e-11 = 5e-10 dB at most
            assert stored[source] == pytest.approx(hand, abs=1e-6)
            per_track[source].append(hand)
    _, rows = read_csv(setup["ev"] / "results.csv")
    for source in SOURCES:  # the csv's 6 decimals: 5e-7
        assert rows[source]["uSDR"] == pytest.approx(np.mean(per_track[source]), abs=1e-5)


def test_score_only_in_parallel_needs_no_model_and_matches_serial(setup):
    other = setup["base"] / "ev-parallel"
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", other, "--cores", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    for name in setup["names"]:
        for rel in (Path("test") / f"{name}.json", Path("global_sdr") / "test" / f"{name}.json"):
            assert same_scores(other / rel, setup["ev"] / rel)
    header, parallel = read_csv(other / "results.csv")
    assert (header, parallel.keys()) == (read_csv(setup["ev"] / "results.csv")[0], read_csv(setup["ev"] / "results.csv")[1].keys())
    for target, row in read_csv(setup["ev"] / "results.csv")[1].items():
        # medians and means of frame scores at most one stored step (1e-5) apart, then 6 decimals (5e-7
        # each): 1.1e-5 at most; 1e-4
        assert all(math.isclose(row[k], parallel[target][k], rel_tol=1e-4, abs_tol=1e-4) for k in row)


def test_resume_skips_done_tracks_and_force_redoes(setup, capsys):
    evd = setup["base"] / "ev-resume"
    shutil.copytree(setup["ev"], evd)  # copy2 keeps the modification times
    first, second = (evd / "test" / f"{n}.json" for n in setup["names"])
    wavs = sorted(setup["est"].rglob("*.wav"))
    before = _mtimes(wavs + [first, second])
    second.unlink()  # an evaluation interrupted before its second track
    kwargs = dict(root=str(setup["root"]), is_wav=True, outdir=str(setup["est"]), evaldir=str(evd),
                  settings=SeparationSettings(filter=FilterSettings(niter=1), use_cuda=False), progress=False)
    assert evaluate_main(str(setup["model"]), **kwargs) == 0
    assert _mtimes(wavs + [first]) == {k: v for k, v in before.items() if k != str(second)}  # nothing redone
    assert same_scores(second, setup["ev"] / "test" / second.name)  # the missing one rescored
    rescored = _mtimes([second])
    assert evaluate_main(None, score_only=True, force=True, **kwargs) == 0  # --force: both again
    after = _mtimes([first, second])
    assert after[str(first)] > before[str(first)] and after[str(second)] > rescored[str(second)]
    assert same_scores(first, setup["ev"] / "test" / first.name)
    assert _mtimes(wavs) == {k: v for k, v in before.items() if k.endswith(".wav")}  # score-only separates nothing
    assert "vocals" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# public API: one track, the mixture baseline, the stem layout


def test_score_track_and_mixture_baseline(setup):
    name = setup["names"][0]
    evd = setup["base"] / "ev-mixture"
    summary = evaluate_mixture_baseline(setup["root"], "test", SOURCES, is_wav=True, evaldir=evd, tracks=[name])
    assert list(summary) == list(SOURCES) and summary["vocals"]["tracks"] == 1
    assert (evd / "results.csv").is_file() and (evd / "sdr.png").is_file()
    # the same numbers from score_track on the mixture; a residual is not scored
    (track,) = list_tracks(setup["root"], "test", is_wav=True, names=[name])
    mix = track.audio.T  # (channels, samples)
    scores = score_track(track, {"vocals": mix, "accompaniment": mix, "residual": 0 * mix})
    assert set(scores.frames) == set(SOURCES) == set(scores.global_sdr)
    stored = read_track_scores(evd / "test" / f"{name}.json")
    for target in SOURCES:
        for metric in METRICS:
            # stored rounded to 5 decimals (half a step: 5e-6) from a float64 computation of the same scores,
            # whose rounding may differ (far below a step; other BLAS threads): within a step, 1e-5
            np.testing.assert_allclose(scores.frames[target][metric], stored[target][metric], atol=1e-5)
    # with the mixture as both estimates the two whole-track SDRs are opposite, but for the eps 1e-7 in
    # their sums (not rounding)
    assert scores.global_sdr["vocals"] == pytest.approx(-scores.global_sdr["accompaniment"], abs=1e-3)
    with pytest.raises(EvaluationError, match="at least two"):
        score_track(track, {"vocals": mix, "residual": mix})


def test_stem_mp4_layout(setup, tmp_path):
    stempeg = pytest.importorskip("stempeg")
    name = setup["names"][0]
    folder = setup["root"] / "test" / name
    stems = np.stack([sf.read(str(folder / f"{s}.wav"))[0] for s in ("mixture", "drums", "bass", "other", "vocals")])
    (tmp_path / "stems" / "test").mkdir(parents=True)
    stempeg.write_stems(str(tmp_path / "stems" / "test" / f"{name}.stem.mp4"), stems, sample_rate=44100)
    code = evaluate_main(str(setup["model"]), str(tmp_path / "stems"), outdir=str(tmp_path / "est"),
                            evaldir=str(tmp_path / "ev"), settings=CPU, progress=False)
    assert code == 0
    (track,) = list_tracks(tmp_path / "stems", "test")
    info = sf.info(str(tmp_path / "est" / "test" / name / "vocals.wav"))
    assert info.subtype == "FLOAT" and info.frames == track.audio.shape[0]  # the decoded length
    assert (tmp_path / "ev" / "test" / f"{name}.json").is_file()


# ---------------------------------------------------------------------------
# errors: one line on stderr, non-zero exit


def test_bad_root_is_one_line_error(tmp_path, setup):
    proc = run_script("eval.py", setup["model"], "--root", tmp_path / "missing", "--is-wav", "--quiet",
                      "--outdir", tmp_path / "est", "--evaldir", tmp_path / "ev")
    assert proc.returncode != 0
    assert _stderr_lines(proc.stderr) == [f"error: {tmp_path / 'missing'}: MUSDB root folder does not exist"]
    assert not (tmp_path / "est").exists() and not (tmp_path / "ev").exists()


def _error_case(case, setup, tmp_path):
    """Arguments of evaluate_main for one broken setup."""
    kwargs = dict(model_dir=str(setup["model"]), root=str(setup["root"]), is_wav=True, outdir=str(tmp_path / "est"),
                  evaldir=str(tmp_path / "ev"), settings=CPU, progress=False, tracks=[setup["names"][0]])
    if case == "no model":
        (tmp_path / "empty").mkdir()
        kwargs["model_dir"] = str(tmp_path / "empty")
    elif case == "unscorable model":
        kwargs["model_dir"] = str(make_model_folder(tmp_path / "drums", targets=("drums",), rate=44100.0))
    elif case == "no tracks":
        kwargs["is_wav"] = False
    elif case == "unknown track":
        kwargs["tracks"] = ["nope"]
    elif case == "evaldir under a file":
        (tmp_path / "file").write_text("x")
        kwargs["evaldir"] = str(tmp_path / "file" / "ev")
    elif case == "no estimates":
        kwargs.update(model_dir=None, score_only=True)
    elif case == "unknown score target":
        kwargs.update(model_dir=None, score_only=True, outdir=str(setup["est"]), targets=["vocals", "kazoo"])
    elif case == "unreadable estimate":
        target = tmp_path / "est" / "test" / setup["names"][0]
        shutil.copytree(setup["est"] / "test" / setup["names"][0], target)
        (target / "vocals.wav").write_bytes(b"RIFF not really a wav file")
        kwargs.update(model_dir=None, score_only=True)
    return kwargs


@pytest.mark.parametrize("case, code, message", [
    ("no model", 2, "no model found"),
    ("unscorable model", 2, "museval needs estimates of at least two musdb targets"),
    ("no tracks", 2, "add --is-wav"),
    ("unknown track", 2, "no track named 'nope'"),
    ("evaldir under a file", 2, "cannot create the evaluation folder"),
    ("no estimates", 2, "no estimates folder"),
    ("unknown score target", 2, "cannot score 'kazoo': not a musdb target (musdb targets: vocals, drums, bass, other, accompaniment)"),
    ("unreadable estimate", 1, "vocals.wav: not a readable audio file"),
])
def test_errors_are_one_line(case, code, message, setup, tmp_path, capsys):
    assert evaluate_main(**_error_case(case, setup, tmp_path)) == code
    err = _stderr_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_baseline_flag_compares_with_the_mixture(setup):
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", setup["base"] / "ev-b", "--baseline", "--quiet", "--tracks", setup["names"][0])
    assert proc.returncode == 0, proc.stderr
    assert "mixture SDR" in proc.stdout
    model = read_csv(setup["base"] / "ev-b" / "results.csv")[1]
    floor = read_csv(setup["base"] / "ev-b" / "mixture-baseline" / "results.csv")[1]
    # the comparison row: target, model SDR, mixture SDR, gain (the results row has more cells)
    row = next(cells for cells in map(str.split, proc.stdout.splitlines()) if cells[:1] == ["vocals"] and len(cells) == 4)
    gain = float(row[3])
    # the table prints 2 decimals (0.005) from the same values as the csv's 6 decimals (2 * 5e-7)
    assert gain == pytest.approx(model["vocals"]["SDR"] - floor["vocals"]["SDR"], abs=0.01)


# ---------------------------------------------------------------------------
# names checked before any work; leftovers of killed runs removed


def test_unknown_track_is_one_line_listing_the_tracks_before_any_work(setup, tmp_path):
    proc = run_script("eval.py", setup["model"], "--root", setup["root"], "--is-wav", "--tracks", setup["names"][0],
                      "nope", "--outdir", tmp_path / "est", "--evaldir", tmp_path / "ev", "--quiet")
    assert proc.returncode == 2
    (line,) = _stderr_lines(proc.stderr)
    assert line.startswith("error: no track named 'nope' in ")
    assert all(repr(name) in line for name in setup["names"]), line  # every track of the subset, in one line
    assert not (tmp_path / "est").exists() and not (tmp_path / "ev").exists()  # nothing separated


def _dead_pid():
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_rerun_removes_temporaries_of_killed_runs_only(setup, tmp_path):
    est, evd = tmp_path / "est", tmp_path / "ev"
    shutil.copytree(setup["est"], est)
    shutil.copytree(setup["ev"], evd)
    name = setup["names"][0]
    dead_pid = _dead_pid()
    folders = [est / "test" / name, evd, evd / "test", evd / "global_sdr" / "test"]
    planted = []
    for folder in folders:
        live = temporary_prefix("vocals.wav")  # this process: a run still writing there
        dead = live.replace(f"-{os.getpid()}-", f"-{dead_pid}-")  # a run that was killed
        (folder / f"{dead}x.tmp").write_bytes(b"left by a killed run")
        (folder / f"{live}y.tmp").write_bytes(b"being written")
        planted.append((folder / f"{dead}x.tmp", folder / f"{live}y.tmp"))
    # everything is done already: nothing is separated or scored again, the leftovers go all the same
    code = evaluate_main(str(setup["model"]), str(setup["root"]), is_wav=True, outdir=str(est), evaldir=str(evd),
                         settings=CPU, progress=False, tracks=[name])
    assert code == 0
    for dead, live in planted:
        assert not dead.exists(), dead
        assert live.exists(), live


# ---------------------------------------------------------------------------
# EvaluationSettings: a bad one is one line from evaluate_main; run_evaluation takes it


def test_evaluate_main_turns_a_bad_setting_into_one_line(capsys):
    assert evaluate_main(None, "musdb", subset="valid") == 2
    assert _stderr_lines(capsys.readouterr().err) == ["error: subset: 'valid' is not one of 'train', 'test'"]


def test_run_evaluation_takes_the_settings(setup, tmp_path):
    from openunmix.evaluation import EvaluationSettings, run_evaluation

    name = setup["names"][0]
    settings = EvaluationSettings(
        root=setup["root"], model=setup["model"], is_wav=True, tracks=[name], outdir=tmp_path / "est",
        evaldir=tmp_path / "ev", separation=SeparationSettings(filter=FilterSettings(niter=1), use_cuda=False),
        progress=False, baseline=True,
    )
    result = run_evaluation(settings)
    assert result.tracks == (name,) and not result.failed and result.aggregated == 1
    assert list(result.summary) == list(SOURCES) and list(result.baseline) == list(SOURCES)
    assert (tmp_path / "est" / "test" / name / "vocals.wav").is_file()
    # the same scores as the serial eval.py run of the fixture, and the baseline in its own folder
    assert same_scores(tmp_path / "ev" / "test" / f"{name}.json", setup["ev"] / "test" / f"{name}.json")
    assert (tmp_path / "ev" / "mixture-baseline" / "results.csv").is_file()


# ---------------------------------------------------------------------------
# the metrics of modern papers: --metrics


def test_metrics_without_bsseval_skip_museval_and_match_the_full_run(setup, tmp_path):
    ev = tmp_path / "ev"
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", ev, "--metrics", "usdr,sisdr", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert not (ev / "test").exists() and not (ev / "sdr.png").exists()  # museval never ran
    header, rows = read_csv(ev / "results.csv")
    assert header == ["target", "uSDR", "SI-SDR", "tracks"]
    _, full = read_csv(setup["ev"] / "results.csv")
    for source in SOURCES:
        # the same estimates and the same float64 arithmetic: equal to the csv's 6 decimals
        assert rows[source]["uSDR"] == pytest.approx(full[source]["uSDR"], abs=1e-6)
        assert rows[source]["SI-SDR"] == pytest.approx(full[source]["SI-SDR"], abs=1e-6)
    assert "uSDR" in proc.stdout and "SI-SDR" in proc.stdout and "SIR" not in proc.stdout
    stored = json.loads((ev / "global_sdr" / "test" / f"{setup['names'][0]}.json").read_text())
    assert set(stored) == {"track", "eps", "usdr", "global_sdr", "sisdr"} and stored["eps"] == 1e-7
    # asking again for BSSEval scores the tracks again (their files lack it); the whole-track values stay
    again = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                       "--evaldir", ev, "--metrics", "bsseval,usdr", "--quiet")
    assert again.returncode == 0, again.stderr
    header, _ = read_csv(ev / "results.csv")
    assert header == ["target", "SDR", "SIR", "ISR", "SAR", "uSDR", "tracks"]
    assert (ev / "test" / f"{setup['names'][0]}.json").is_file()


def test_whole_track_metrics_score_a_single_target(setup, tmp_path):
    ev = tmp_path / "ev"
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", ev, "--metrics", "sisdr", "--targets", "vocals", "--quiet")
    assert proc.returncode == 0, proc.stderr
    header, rows = read_csv(ev / "results.csv")
    assert header == ["target", "SI-SDR", "tracks"] and list(rows) == ["vocals"]


def test_unknown_metric_lists_the_known_ones(setup, tmp_path):
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", tmp_path / "ev", "--metrics", "usdr,pesq")
    assert proc.returncode == 2
    assert _stderr_lines(proc.stderr) == ["error: argument --metrics: unknown metric 'pesq'; the metrics are "
                                          "bsseval, usdr, sisdr (see 'eval.py --help')"]
    assert not (tmp_path / "ev").exists()


def test_compare_ranks_and_tests_any_metric(setup, tmp_path, capsys):
    from openunmix.commands.compare import main as compare_main

    ev = tmp_path / "ev"
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", ev, "--metrics", "usdr,sisdr", "--quiet", "--baseline", "--report", tmp_path / "page")
    assert proc.returncode == 0, proc.stderr
    assert "model uSDR" in proc.stdout and "mixture uSDR" in proc.stdout
    # the listening page of whole-track scores: the table leads with the uSDR, each estimate shows both metrics
    index = (tmp_path / "page" / "index.html").read_text()
    assert "uSDR [95% CI]" in index and "SI-SDR" in index
    page = next((tmp_path / "page" / "tracks").glob("*.html")).read_text()
    assert page.count(" dB · SI-SDR ") == 2 * len(SOURCES)  # the model and the mixture, each target
    out = tmp_path / "cmp"
    capsys.readouterr()
    assert compare_main([f"model={ev}", f"mixture={ev / 'mixture-baseline'}", "--outdir", str(out),
                         "--metric", "sisdr", "--resamples", "99", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "SI-SDR [95% CI]" in printed and "paired tests on SI-SDR" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["metric"] == "SI-SDR" and results["order"] == ["model", "mixture"]
    assert {r["metric"] for r in results["results"]} == {"uSDR", "SI-SDR"}
    assert compare_main([f"model={ev}", f"mixture={ev / 'mixture-baseline'}", "--outdir", str(tmp_path / "cmp2"),
                         "--metric", "SIR"]) == 2
    assert _stderr_lines(capsys.readouterr().err) == [
        "error: --metric SIR: not a metric of these scores (they have: uSDR, SI-SDR)"]
    assert not (tmp_path / "cmp2").exists()
