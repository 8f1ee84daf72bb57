"""Evaluation: eval.py end to end on a tiny synthetic MUSDB, museval files, aggregation, resume, errors."""

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
from openunmix.commands.evaluate import evaluate_main
from openunmix.demo import generate_dataset
from openunmix.evaluation.aggregate import nanmedian, read_track_scores, summarize, track_medians
from openunmix.evaluation.report import format_table, plot_sdr, write_csv
from openunmix.evaluation.baseline import evaluate_mixture_baseline
from openunmix.evaluation.scoring import METRICS, global_sdr, score_track
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


def _read_csv(path):
    lines = Path(path).read_text().splitlines()
    header = lines[0].split(",")
    return header, {cells[0]: dict(zip(header[1:], map(float, cells[1:])))
                    for cells in (line.split(",") for line in lines[1:])}


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
    header, rows = _read_csv(evd / "results.csv")
    assert header == ["target", "SDR", "SIR", "ISR", "SAR", "global_SDR", "tracks"]
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
    _, rows = _read_csv(setup["ev"] / "results.csv")
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
    _, rows = _read_csv(setup["ev"] / "results.csv")
    for source in SOURCES:  # the csv's 6 decimals: 5e-7
        assert rows[source]["global_SDR"] == pytest.approx(np.mean(per_track[source]), abs=1e-5)


def test_score_only_in_parallel_needs_no_model_and_matches_serial(setup):
    other = setup["base"] / "ev-parallel"
    proc = run_script("eval.py", "--score-only", "--root", setup["root"], "--is-wav", "--outdir", setup["est"],
                      "--evaldir", other, "--cores", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    for name in setup["names"]:
        for rel in (Path("test") / f"{name}.json", Path("global_sdr") / "test" / f"{name}.json"):
            assert same_scores(other / rel, setup["ev"] / rel)
    header, parallel = _read_csv(other / "results.csv")
    assert (header, parallel.keys()) == (_read_csv(setup["ev"] / "results.csv")[0], _read_csv(setup["ev"] / "results.csv")[1].keys())
    for target, row in _read_csv(setup["ev"] / "results.csv")[1].items():
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
# aggregation on known values

NAN = math.nan
FRAMES = {  # {track: {target: {metric: values per frame}}}
    "a": {
        "vocals": {"SDR": [1, NAN, 3, 10], "SIR": [NAN] * 4, "ISR": [1, 2, NAN, 2], "SAR": [5, 5, 6, 4]},
        "drums": {"SDR": [0, 2, NAN, NAN], "SIR": [1] * 4, "ISR": [2] * 4, "SAR": [3] * 4},
    },
    "b": {
        "vocals": {"SDR": [NAN] * 4, "SIR": [4, NAN, NAN, NAN], "ISR": [3, 5, 4, NAN], "SAR": [7] * 4},
        "bass": {m: [NAN] * 4 for m in ("SDR", "SIR", "ISR", "SAR")},
    },
    "c": {
        "vocals": {"SDR": [2, 6, NAN, 4], "SIR": [8, 9, NAN, NAN], "ISR": [NAN] * 4, "SAR": [6, 8, 10, 12]},
    },
}
GLOBAL = {"a": {"vocals": 1.0, "drums": 4.0}, "b": {"vocals": 2.0}, "c": {"vocals": 6.0}}


def _same(a, b):
    # medians and means of a few small integers and halves: exact in float64 in any order (abs 1e-9 leaves
    # room for an ulp where pandas averages the two middle values otherwise)
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9)


def test_track_medians_ignore_nan_frames():
    assert track_medians(FRAMES["a"])["drums"] == {"SDR": 1.0, "SIR": 1.0, "ISR": 2.0, "SAR": 3.0}
    vocals = track_medians(FRAMES["a"])["vocals"]
    assert (vocals["SDR"], vocals["ISR"], vocals["SAR"]) == (3.0, 2.0, 5.0) and math.isnan(vocals["SIR"])
    assert math.isnan(nanmedian([])) and math.isnan(nanmedian([NAN, NAN]))


def test_summarize_hand_computed():
    summary = summarize(FRAMES, GLOBAL)
    assert list(summary) == ["vocals", "drums", "bass"]  # musdb order
    # per-track medians over non-NaN frames, then the median over the tracks that have one
    expected = {
        "vocals": {"SDR": 3.5, "SIR": 6.25, "ISR": 3.0, "SAR": 7.0, "global_SDR": 3.0, "tracks": 3},
        "drums": {"SDR": 1.0, "SIR": 1.0, "ISR": 2.0, "SAR": 3.0, "global_SDR": 4.0, "tracks": 1},
        "bass": {"SDR": NAN, "SIR": NAN, "ISR": NAN, "SAR": NAN, "global_SDR": NAN, "tracks": 1},
    }
    for target, row in expected.items():
        assert set(summary[target]) == set(row)
        assert all(_same(summary[target][k], v) for k, v in row.items()), (target, summary[target])


@pytest.mark.numerics
def test_summarize_agrees_with_museval_evalstore():
    store = museval.EvalStore(frames_agg="median", tracks_agg="median")
    for track, targets in FRAMES.items():
        ts = museval.TrackStore(track, win=1.0, hop=1.0)
        for target, values in targets.items():
            ts.add_target(target, values)
        store.add_track(ts)
    theirs = store.agg_frames_tracks_scores()
    ours = summarize(FRAMES, GLOBAL)
    for target in ours:
        for metric in METRICS:
            assert _same(ours[target][metric], float(theirs[target][metric])), (target, metric)


def test_csv_and_table(tmp_path):
    summary = summarize(FRAMES, GLOBAL)
    write_csv(tmp_path / "results.csv", summary)
    header, rows = _read_csv(tmp_path / "results.csv")
    assert header == ["target", "SDR", "SIR", "ISR", "SAR", "global_SDR", "tracks"]
    for target, row in summary.items():
        assert all(_same(rows[target][k], float(v)) for k, v in row.items())
    table = format_table(summary).splitlines()
    assert len(table) == 4 and table[1].split()[:2] == ["vocals", "3.50"]
    plot_sdr(tmp_path / "sdr.png", FRAMES)
    assert (tmp_path / "sdr.png").read_bytes()[:4] == b"\x89PNG"


def test_global_sdr_formula():
    ref = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 0.0]])
    assert global_sdr(ref, ref) == pytest.approx(10 * np.log10((6.25 + 1e-7) / 1e-7))
    assert global_sdr(ref, 0.5 * ref) == pytest.approx(10 * np.log10(4.0), abs=1e-6)
    assert global_sdr(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0  # silent reference: no NaN


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
    model = _read_csv(setup["base"] / "ev-b" / "results.csv")[1]
    floor = _read_csv(setup["base"] / "ev-b" / "mixture-baseline" / "results.csv")[1]
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
# EvaluationSettings: every setting of a run in one value; run_evaluation takes it


def test_evaluation_settings_defaults_match_eval_py():
    from openunmix.commands.evaluate import build_parser
    from openunmix.evaluation import EvaluationSettings

    s = EvaluationSettings(root="musdb")
    a = build_parser().parse_args(["--root", "musdb"])
    assert (s.subset, s.is_wav, s.outdir, s.evaldir, s.cores) == (a.subset, a.is_wav, a.outdir, a.evaldir, a.cores)
    assert (s.model, s.targets, s.tracks, s.report, s.force, s.baseline, s.report_wav) == (
        None, None, None, None, False, False, False)
    assert not s.estimates_only and not s.score_only and s.progress
    assert s.separation == SeparationSettings() and s.shard.whole
    assert EvaluationSettings(root="r", tracks=["a", "b"]).tracks == ("a", "b")  # lists kept as tuples
    with pytest.raises(AttributeError):
        s.cores = 2  # frozen


@pytest.mark.parametrize("kwargs, message", [
    (dict(subset="valid"), "subset: 'valid' is not one of 'train', 'test'"),
    (dict(cores=0), "cores: needs a whole number of at least 1, got 0"),
    (dict(tracks="one"), "tracks: needs a list of names, got 'one'"),
    (dict(targets=[]), "targets: an empty list; leave it out (None) for all"),
    (dict(root=""), "root: needs a path, got ''"),
    (dict(estimates_only=True, report="page"), "report: the listening page needs scores; not with estimates_only"),
    (dict(report_wav=True), "report_wav: only with report DIR"),
    (dict(estimates_only=True, score_only=True), "score_only: not allowed with estimates_only"),
    (dict(separation="cpu"), "separation: needs a SeparationSettings, got str"),
])
def test_evaluation_settings_bad_value_is_one_line(kwargs, message):
    from openunmix.evaluation import EvaluationSettings, SettingError

    with pytest.raises(SettingError) as caught:
        EvaluationSettings(**{"root": "musdb", **kwargs})
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == message and "\n" not in str(caught.value)


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
