"""test.py and the umx command end to end: files in, sources out; bad input and interrupted runs; what the
separation path imports; --precision; published models by name (the model table, verified cached downloads,
test.py, the API, torch.hub and umx).

Every download here comes from an HTTP server on 127.0.0.1 started by the test, serving tiny models in the
published layout (tests/models/published.py).
"""

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, make_model_folder, run_script, write_tone
from helpers.published import RATE, _closed_port, _entry, _errors, _table, published, serve  # noqa: F401 (a fixture)
from openunmix.architectures import load_target_models
from openunmix.models.download import fetch
from openunmix.models.hub import load_separator, pretrained
from openunmix.separation.separate import separate_file
from openunmix.utils import ModelError


# ---------------------------------------------------------------- files


def test_test_py_end_to_end(tmp_path):
    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    a = write_tone(tmp_path / "song.wav", seconds=2.0, rate=16000)
    b = write_tone(tmp_path / "other.wav", seconds=0.01, rate=44100, channels=1)  # shorter than one STFT frame
    r = run_script("test.py", model, "--input", a, b, "--outdir", tmp_path / "sep", "--niter", "0", "--quiet")
    assert r.returncode == 0, r.stderr
    for name in ("song", "other"):
        for src in ("vocals", "accompaniment"):
            assert (tmp_path / "sep" / name / f"{src}.wav").is_file()
    vocals, rate = sf.read(str(tmp_path / "sep" / "song" / "vocals.wav"))
    acc, _ = sf.read(str(tmp_path / "sep" / "song" / "accompaniment.wav"))
    mix, _ = sf.read(str(a))
    assert rate == 16000 and vocals.shape == mix.shape
    # ratio mask: the sources add up to the mixture, in 16-bit files. In steps of 2**-15: libsndfile scales
    # by 32767 on writing and 1/32768 on reading (|mix| / 32768 <= 0.42 step) and rounds each source (< 1
    # step each); the float32 separation's error (1e-7, on any kernel) is 0.004 step: < 2.5, so at most 2
    # steps (measured 2)
    assert np.abs(vocals + acc - mix).max() < 3 * 2**-15
    for flags in (["--niter", "1"], ["--no-softmask", "--niter", "2"], ["--logit", "0.4", "--alpha", "2"]):
        r = run_script("test.py", model, "--input", a, "--outdir", tmp_path / "sep2", "--quiet", *flags)
        assert r.returncode == 0, r.stderr


def test_test_py_bad_input_one_line_and_others_done(tmp_path, model_dir):
    good = write_tone(tmp_path / "good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("this is not audio")
    r = run_script("test.py", model_dir, "--input", bad, good, tmp_path / "missing.wav",
                   "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "bad.wav: not a readable audio file" in r.stderr
    assert "missing.wav: no such file" in r.stderr
    assert (tmp_path / "sep" / "good" / "vocals.wav").is_file()
    assert not (tmp_path / "sep" / "bad").exists() or not any((tmp_path / "sep" / "bad").iterdir())


def test_inputs_with_the_same_name_get_their_track_folders_name(tmp_path):
    # MUSDB's layout, listed with comments and blank lines, and a folder listed by mistake
    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    for seed, track in enumerate(("Song A", "Song B"), 1):
        (tmp_path / "test" / track).mkdir(parents=True)
        write_tone(tmp_path / "test" / track / "mixture.wav", seed=seed)
    (tmp_path / "list.txt").write_text("# the test set\n\ntest/Song A/mixture.wav\n  # Song B next\n"
                                       "test/Song B/mixture.wav\n\ntest\n")
    r = run_script("test.py", model, "--input-list", "list.txt", "--outdir", "sep", "--quiet", cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # the folder failed, the songs are separated
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in (tmp_path / "sep").iterdir()) == ["Song A", "Song B", "manifest.jsonl"]
    assert (tmp_path / "sep" / "Song A" / "vocals.wav").is_file()
    records = [json.loads(line) for line in (tmp_path / "sep" / "manifest.jsonl").read_text().splitlines()]
    assert [r["input"] for r in records] == ["test/Song A/mixture.wav", "test/Song B/mixture.wav", "test"]
    folder = records[-1]
    assert folder["status"] == "failed" and folder["error"] == "test: is a folder, not an audio file"
    assert [line for line in r.stderr.splitlines() if "is a folder" in line] == [
        "error: test: is a folder, not an audio file"]


def test_a_manifest_torn_by_a_crash_loses_no_record_and_is_reported_once(tmp_path, capsys):
    from openunmix.commands.separate import separate_command

    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    songs = [str(write_tone(tmp_path / f"song{i}.wav", seconds=0.5, seed=i)) for i in range(3)]
    out = tmp_path / "sep"
    args = [str(model), "--outdir", str(out), "--quiet"]
    assert separate_command(args + ["--input", *songs[:2]]) == 0
    with open(out / "manifest.jsonl", "a") as f:  # a third record cut short by a power loss
        f.write('{"input": "' + songs[2] + '", "folder": "son')
    capsys.readouterr()
    assert separate_command(args + ["--input", *songs]) == 0
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.startswith("warning: ")]) == 1
    assert "cut short by a crash" in err and "manifest.torn" in err
    assert (out / "manifest.torn").read_text().startswith('{"input": "')
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["folder"] for r in records] == ["song0", "song1", "song2"]
    first = {r["folder"]: r["run"] for r in records}
    assert separate_command(args + ["--input", *songs]) == 0  # a third run: nothing to redo, nothing to report
    assert "warning" not in capsys.readouterr().err
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["folder"]: r["run"] for r in records} == first


def test_a_manifest_that_is_a_folder_stops_test_py_in_one_line(tmp_path, capsys):
    from openunmix.commands.separate import separate_command

    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    song = write_tone(tmp_path / "song.wav", seconds=0.5)
    (tmp_path / "sep" / "manifest.jsonl").mkdir(parents=True)
    assert separate_command([str(model), "--input", str(song), "--outdir", str(tmp_path / "sep"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'sep' / 'manifest.jsonl'}: is a folder, not a manifest; move it away or "
                   "choose another --outdir"]
    assert sorted(p.name for p in (tmp_path / "sep").iterdir()) == ["manifest.jsonl"]


def test_upstream_style_folder_loads(tmp_path):
    """Hash-suffixed .pth names, settings under args, STFT settings in separator.json."""
    make_model_folder(tmp_path / "m", targets=("vocals",), n_fft=512, n_hop=128)
    src = tmp_path / "m"
    up = tmp_path / "upstream"
    up.mkdir()
    state = torch.load(src / "vocals.pth", weights_only=True)
    torch.save(state, up / "vocals-b62c91ce.pth")
    (up / "vocals.json").write_text(json.dumps({"args": {"nfft": 512, "nhop": 128, "hidden_size": 16, "nb_channels": 2,
                                                         "bandwidth": 16000}, "best_epoch": 3}))
    (up / "separator.json").write_text(json.dumps({"targets": ["vocals"], "sample_rate": 16000.0,
                                                   "nfft": 512, "nhop": 128, "nb_channels": 2}))
    models, config = load_target_models(up)
    assert list(models) == ["vocals"] and config.sample_rate == 16000.0
    ref, _ = load_target_models(src)
    x = torch.rand(1, 2, 257, 7)
    # the same weights, module and input in one process: the same operations in the same order, equal bitwise
    assert torch.equal(models["vocals"](x), ref["vocals"](x))
    # and test.py separates with it
    song = write_tone(tmp_path / "song.wav", seconds=1.0, rate=16000)
    r = run_script("test.py", up, "--input", song, "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sep" / "song" / "accompaniment.wav").is_file()


# ---------------------------------------------------------------- background reading and writing, Ctrl-C


def _pipeline_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("openunmix-")]


def test_error_in_the_reading_thread_is_one_line_and_leaves_no_files(tmp_path, model_dir):
    rate = 16000
    x = write_tone(tmp_path / "tone.wav", seconds=12.0, rate=rate)
    audio, _ = sf.read(str(x), dtype="float32")
    audio[11 * rate] = np.nan  # in the second 10 s block: read after the first segments are written
    sf.write(str(tmp_path / "nan.wav"), audio, rate, subtype="FLOAT")
    sep = load_separator(model_dir)
    from openunmix.audio import AudioError

    with pytest.raises(AudioError, match="audio holds NaN or Inf samples"):
        separate_file(sep, tmp_path / "nan.wav", tmp_path / "api", segment=2.0, overlap=0.5)
    assert not list((tmp_path / "api").iterdir()) and not _pipeline_threads()
    r = subprocess.run([sys.executable, str(ROOT / "test.py"), str(model_dir), "--input", str(tmp_path / "nan.wav"),
                        "--outdir", str(tmp_path / "sep"), "--segment", "2", "--overlap", "0.5", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert any("nan.wav: audio holds NaN or Inf samples" in line for line in errors), r.stderr
    assert not list((tmp_path / "sep" / "nan").iterdir())


def test_error_in_the_writing_thread_is_one_line_and_leaves_no_files(tmp_path, model_dir):
    song = write_tone(tmp_path / "song.wav", seconds=12.0)  # 768 kB per 16-bit stereo output

    def limit_file_size():  # writes past 300 kB fail (EFBIG; Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    r = subprocess.run([sys.executable, str(ROOT / "test.py"), str(model_dir), "--input", str(song),
                        "--outdir", str(tmp_path / "sep"), "--segment", "2", "--overlap", "0.5", "--quiet"],
                       capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert any("cannot write" in line and "song" in line for line in errors), r.stderr
    assert not list((tmp_path / "sep" / "song").iterdir())


def test_ctrl_c_during_separation_joins_the_threads_and_leaves_no_files(tmp_path, model_dir):
    import signal
    import time

    song = write_tone(tmp_path / "long.wav", seconds=300.0)  # long enough to be caught while separating
    out, folder = tmp_path / "sep", tmp_path / "sep" / "long"
    # two threads: the target models side by side, besides the reading and writing threads
    proc = subprocess.Popen([sys.executable, str(ROOT / "test.py"), str(model_dir), "--input", str(song),
                             "--outdir", str(out), "--segment", "1", "--overlap", "0.1", "--threads", "2",
                             # 10 EM iterations: about 10 s of work, so that the signal comes long before
                             # the end even when the writer's first file appears late (a loaded machine)
                             "--niter", "10", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a shell that starts the suite as a background job ignores SIGINT, and the child
                            # would inherit that: give it the default disposition, as a terminal does
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not list(folder.glob(".*.tmp-*")):
        time.sleep(0.01)
    time.sleep(0.1)  # some segments in flight
    assert proc.poll() is None, "the separation ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)  # no hang: every thread ends
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "error: interrupted" in err
    assert not list(folder.iterdir())


# ---------------------------------------------------------------- start-up


def test_ctrl_c_while_test_py_starts_is_one_line_without_traceback(tmp_path, model_dir):
    import signal

    song = write_tone(tmp_path / "song.wav", seconds=1.0)
    proc = subprocess.Popen([sys.executable, str(ROOT / "test.py"), str(model_dir), "--input", str(song),
                             "--outdir", str(tmp_path / "sep"), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal does
    # torch's libraries mapped: test.py (re-executed for the allocator) is importing torch
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            if "libtorch" in maps.read_text():
                break
        except OSError:  # between the re-execution's images
            pass
        time.sleep(0.002)
    assert proc.poll() is None, "test.py ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: interrupted"), err
    assert not (tmp_path / "sep" / "song").exists() or not list((tmp_path / "sep" / "song").iterdir())
# the separation path imports only what it uses (issue 20, item 5): start-up time is paid by every test.py run

# imported by evaluation, training, plots and export, never needed to separate a file
HEAVY = ("matplotlib", "musdb", "museval", "scipy", "onnx", "onnxruntime", "pandas", "sklearn", "scikit_posthocs",
         "selenium")


_RUN = """
import json, sys
from openunmix.commands.separate import separate_command
status = separate_command(sys.argv[1:] + ["--quiet"])
print(json.dumps({"status": status, "modules": sorted({m.split('.')[0] for m in sys.modules})}))
"""


def test_separating_a_file_imports_no_evaluation_training_or_export_library(tmp_path):
    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    song = write_tone(tmp_path / "song.wav", seconds=0.5, rate=16000)
    r = subprocess.run([sys.executable, "-c", _RUN, str(model), "--input", str(song), "--outdir", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["status"] == 0 and (tmp_path / "o" / "song" / "vocals.wav").is_file()
    loaded = sorted(set(HEAVY) & set(result["modules"]))
    assert not loaded, f"the separation path imported {loaded}"


# ---------------------------------------------------------------- reduced precision


def test_precision_flag_end_to_end(tmp_path):
    folder = make_model_folder(tmp_path / "model")
    mix = write_tone(tmp_path / "song.wav", seconds=2.0)
    outs = {}
    for precision in ("float32", "int8"):
        r = run_script("test.py", folder, "--input", mix, "--outdir", tmp_path / precision, "--niter", "1",
                       "--precision", precision, "--no-cuda", "--quiet")
        assert r.returncode == 0, r.stderr
        outs[precision] = sf.read(str(tmp_path / precision / "song" / "vocals.wav"))[0]
    assert outs["int8"].shape == outs["float32"].shape
    # int8's quantization (see test_reduced_precision_close_to_float32), not rounding: a quality bound
    assert np.abs(outs["int8"] - outs["float32"]).max() < 0.05 * np.abs(outs["float32"]).max()
    r = run_script("test.py", folder, "--input", mix, "--precision", "fp16")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: ") and "--precision" in r.stderr


# ---------------------------------------------------------------- published models by name


def test_first_use_downloads_then_works_offline_from_the_cache(tmp_path, published):
    www, files = published
    song = write_tone(tmp_path / "song.wav", seconds=1.0, rate=RATE)
    cache = tmp_path / "cache"
    with serve(www) as base:
        table = _table(tmp_path / "models.json", {"tiny": _entry(base, files)})
        r = run_script("test.py", "tiny", "--models", table, "--cache-dir", cache, "--input", song,
                       "--outdir", tmp_path / "sep", "--quiet")
        assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in cache.iterdir()) == sorted([files["vocals"], files["drums"]])  # nothing else
    assert {p.name for p in (tmp_path / "sep" / "song").iterdir()} == {"vocals.wav", "drums.wav"}
    first = sf.read(str(tmp_path / "sep" / "song" / "vocals.wav"))[0]
    # the server is gone: the cache alone is used (OPENUNMIX_MODELS instead of --models)
    env = {**os.environ, "OPENUNMIX_MODELS": str(table)}
    r = subprocess.run([sys.executable, str(ROOT / "test.py"), "tiny", "--cache-dir", str(cache), "--input", str(song),
                        "--outdir", str(tmp_path / "sep2"), "--quiet"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    # two test.py runs on this machine with the same kernels, thread count, weights (the cached file is the
    # downloaded one) and input: the same operations on the same values, the same samples
    assert np.array_equal(sf.read(str(tmp_path / "sep2" / "song" / "vocals.wav"))[0], first)


def test_cached_file_that_does_not_match_is_refused_not_loaded(tmp_path, published):
    www, files = published
    cache = tmp_path / "cache"
    cache.mkdir()
    # a valid state dict of other weights under the expected name: loading it would "work"
    (cache / files["vocals"]).write_bytes((www / files["drums"]).read_bytes())
    table = _table(tmp_path / "models.json", {"tiny": _entry(f"http://127.0.0.1:{_closed_port()}", files)})
    song = write_tone(tmp_path / "song.wav", seconds=0.5, rate=RATE)
    r = run_script("test.py", "tiny", "--models", table, "--cache-dir", cache, "--input", song,
                   "--outdir", tmp_path / "sep", "--quiet", "--targets", "vocals")
    assert r.returncode == 2
    errors = _errors(r)
    assert len(errors) == 1 and str(cache / files["vocals"]) in errors[0] and "does not match its sha256" in errors[0]
    assert not (tmp_path / "sep").exists()


def test_unreachable_and_stalled_servers_give_one_line_quickly(tmp_path, published):
    www, files = published
    song = write_tone(tmp_path / "song.wav", seconds=0.5, rate=RATE)
    url = f"http://127.0.0.1:{_closed_port()}/{files['vocals']}"
    table = _table(tmp_path / "models.json", {"tiny": {**_entry("x", files, ("vocals",)),
                                                       "targets": {"vocals": {"url": url, "sha256": "0" * 8}}}})
    start = time.monotonic()
    r = run_script("test.py", "tiny", "--models", table, "--cache-dir", tmp_path / "cache", "--input", song, "--quiet")
    assert r.returncode == 2 and time.monotonic() - start < 60
    errors = _errors(r)
    assert len(errors) == 1 and url in errors[0] and "put the file at" in errors[0], r.stderr
    assert str(tmp_path / "cache" / files["vocals"]) in errors[0]

    # a server that accepts the connection and never answers: the timeout ends it
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        os.environ["OPENUNMIX_DOWNLOAD_TIMEOUT"] = "1"
        try:
            start = time.monotonic()
            with pytest.raises(ModelError, match="timed out"):
                fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/x.pth", "0" * 8, cache_dir=tmp_path / "c2",
                      progress=False)
            assert time.monotonic() - start < 10
        finally:
            del os.environ["OPENUNMIX_DOWNLOAD_TIMEOUT"]
    assert list((tmp_path / "c2").iterdir()) == []


def test_api_hub_and_umx_command(tmp_path, published, monkeypatch):
    www, files = published
    cache = tmp_path / "cache"
    with serve(www) as base:
        table = _table(tmp_path / "models.json", {
            "umxhq": _entry(base, files),  # the user's names take precedence over the built-in ones
            "speech": _entry(base, files, ("speech",), nb_channels=1, max_bin=257),
        })
        sep = pretrained("umxhq", models_file=table, cache_dir=cache, device="cpu", progress=False)
        assert sep.targets == ["vocals", "drums"] and sep.filter.niter == 1 and sep.sample_rate == RATE
        x = torch.rand(1, 2, RATE) - 0.5
        assert sep(x).shape == (1, 2, 2, RATE)
        monkeypatch.setenv("OPENUNMIX_MODELS", str(table))
        hub_sep = torch.hub.load(str(ROOT), "umxhq", source="local", targets=["drums"], cache_dir=str(cache),
                                 device="cpu", progress=False)
        assert hub_sep.targets == ["drums"] and hub_sep.filter.residual  # one target: residual added
        untrained = torch.hub.load(str(ROOT), "umxse", source="local", pretrained=False, device="cpu")
        assert untrained.targets == ["speech", "noise"] and untrained.nb_channels == 1
        # a mono model given a stereo file downmixes; outputs keep the input's rate and length
        stereo = write_tone(tmp_path / "stereo.wav", seconds=0.7, rate=22050, channels=2)
        umx = Path(sys.executable).with_name("umx")
        assert umx.is_file(), "pip install . installs a umx command"
        r = subprocess.run([str(umx), "speech", "--cache-dir", str(cache), "--input", str(stereo),
                            "--outdir", str(tmp_path / "sep"), "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    info = sf.info(str(tmp_path / "sep" / "stereo" / "speech.wav"))
    assert (info.samplerate, info.frames, info.channels) == (22050, int(0.7 * 22050), 1)
    with pytest.raises(ModelError, match="no model for target 'bass'"):
        pretrained("umxhq", targets=["bass"], models_file=table, cache_dir=cache)


def test_names_tables_and_licence_notice(tmp_path, published):
    www, files = published
    song = write_tone(tmp_path / "song.wav", seconds=0.5, rate=RATE)
    r = run_script("test.py", "nosuchmodel", "--input", song, "--quiet")
    assert r.returncode == 2
    errors = _errors(r)
    assert len(errors) == 1 and "neither a model folder nor a known model name" in errors[0] and "umxhq" in errors[0]
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"x": {"nfft": 512}}}')
    r = run_script("test.py", "x", "--models", bad, "--input", song, "--quiet")
    assert r.returncode == 2 and len(_errors(r)) == 1 and "bad.json: model 'x'" in r.stderr
    with serve(www) as base:
        table = _table(tmp_path / "nc.json", {"nc": _entry(base, files, ("vocals",),
                                                           license="CC BY-NC-SA 4.0")})
        r = run_script("test.py", "nc", "--models", table, "--cache-dir", tmp_path / "c", "--input", song,
                       "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "note: the nc weights are licensed CC BY-NC-SA 4.0" in r.stderr
