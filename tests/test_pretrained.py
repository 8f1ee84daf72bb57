"""Published models by name: the model table, verified cached downloads, test.py/eval.py/API/hub/umx.

Every download here comes from an HTTP server on 127.0.0.1 started by the test,
serving tiny models in the published layout (``<target>-<sha8>.pth`` state
dicts with upstream's extra entries) and a model table in the published format.
"""

import contextlib
import hashlib
import http.server
import json
import os
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

from conftest import ROOT, run_script, write_tone
from openunmix.models import table as catalog
from openunmix.models.download import fetch
from openunmix.models.hub import load_target_models, pretrained
from openunmix.architectures.umx import OpenUnmix
from openunmix.utils import ModelError

RATE = 16000
SETTINGS = {"sample_rate": RATE, "nfft": 512, "nhop": 128, "nb_channels": 2, "hidden_size": 16, "nb_layers": 1,
            "unidirectional": False, "bandwidth": 4000}


def _publish(folder: Path, target: str, seed: int, nb_channels: int = 2, max_bin: int = 129) -> str:
    """Write a tiny model as ``<target>-<sha8>.pth`` (with upstream's old extras); return the file name."""
    torch.manual_seed(seed)
    m = OpenUnmix(nb_bins=257, nb_channels=nb_channels, hidden_size=16, nb_layers=1, max_bin=max_bin)
    with torch.no_grad():
        m.output_scale.uniform_(0.5, 1.5)
    state = dict(m.state_dict())
    state["sample_rate"] = torch.tensor(RATE)  # as the 2019 files carry
    tmp = folder / f"{target}.tmp"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    name = f"{target}-{digest[:8]}.pth"
    tmp.rename(folder / name)
    return name


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; ``/drop/F`` announces F's full length but closes halfway; ``/slow/F`` trickles."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        for mode in ("drop", "slow"):
            if self.path.startswith(f"/{mode}/"):
                data = (Path(self.directory) / self.path.split("/", 2)[2]).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "drop":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    for i in range(0, len(data), len(data) // 8 + 1):
                        self.wfile.write(data[i : i + len(data) // 8 + 1])
                        self.wfile.flush()
                        time.sleep(0.1)
                return
        super().do_GET()


@contextlib.contextmanager
def serve(folder: Path):
    handler = lambda *a, **k: _Handler(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _table(path: Path, models: dict) -> Path:
    path.write_text(json.dumps({"models": models}))
    return path


@pytest.fixture
def published(tmp_path):
    """A served folder with a two-target stereo model and a one-target mono model."""
    www = tmp_path / "www"
    www.mkdir()
    files = {t: _publish(www, t, seed) for t, seed in (("vocals", 1), ("drums", 2))}
    files["speech"] = _publish(www, "speech", 3, nb_channels=1, max_bin=257)
    return www, files


def _entry(base: str, files: dict, targets=("vocals", "drums"), prefix="", **over):
    digests = {t: files[t].split("-")[1][:8] for t in targets}
    entry = {**SETTINGS, "description": "tiny test model", "license": "MIT",
             "targets": {t: {"url": f"{base}/{prefix}{files[t]}", "sha256": digests[t]} for t in targets}}
    entry.update(over)
    return entry


def _errors(r):
    assert "Traceback" not in r.stderr, r.stderr
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


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


def test_corrupted_download_is_refused_and_leaves_nothing(tmp_path, published):
    www, files = published
    (www / files["vocals"]).write_bytes((www / files["vocals"]).read_bytes()[:-10] + b"0123456789")
    with serve(www) as base:
        url = f"{base}/{files['vocals']}"
        with pytest.raises(ModelError, match="does not match its sha256"):
            fetch(url, files["vocals"].split("-")[1][:8], cache_dir=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_dropped_connection_leaves_nothing(tmp_path, published):
    www, files = published
    with serve(www) as base:
        with pytest.raises(ModelError, match=r"cannot download .*drop/vocals.*put the file at"):
            fetch(f"{base}/drop/{files['vocals']}", files["vocals"].split("-")[1][:8],
                  cache_dir=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


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


def test_two_processes_downloading_at_once(tmp_path, published):
    www, files = published
    code = ("import sys; from openunmix.models.download import fetch; "
            "print(fetch(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3], progress=False))")
    digest = hashlib.sha256((www / files["vocals"]).read_bytes()).hexdigest()
    with serve(www) as base:
        url = f"{base}/slow/{files['vocals']}"
        procs = [subprocess.Popen([sys.executable, "-c", code, url, digest, str(tmp_path / "cache")], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {o[0].strip() for o in outs} == {str(tmp_path / "cache" / files["vocals"])}
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [files["vocals"]]
    assert hashlib.sha256((tmp_path / "cache" / files["vocals"]).read_bytes()).hexdigest() == digest


def test_torch_cache_and_file_urls(tmp_path, published, monkeypatch):
    www, files = published
    # a file that upstream (torch.hub) downloaded earlier is used without any network
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub_cache = tmp_path / "torch" / "hub" / "checkpoints"
    hub_cache.mkdir(parents=True)
    (hub_cache / files["vocals"]).write_bytes((www / files["vocals"]).read_bytes())
    table = _table(tmp_path / "t.json", {"tiny": _entry(f"http://127.0.0.1:{_closed_port()}", files, ("vocals",))})
    models, config = load_target_models("tiny", models_file=table, progress=False)
    assert list(models) == ["vocals"] and config.options["max_bin"] == 129 and config.sample_rate == RATE
    # file:// URLs download like http ones
    table = _table(tmp_path / "f.json", {"tiny": _entry(www.as_uri(), files, ("drums",))})
    models, _ = load_target_models("tiny", models_file=table, cache_dir=tmp_path / "c", progress=False)
    assert (tmp_path / "c" / files["drums"]).is_file()
    served = torch.load(www / files["drums"], weights_only=True)
    assert torch.equal(models["drums"].fc1.weight, served["fc1.weight"])


def test_builtin_table_lists_the_published_models():
    table = catalog.read_table(catalog.BUILTIN_TABLE)
    records = {"umx": "3370486", "umxhq": "3370489", "umxl": "5069601", "umxse": "3786908"}
    files = {
        "umx": ["bass-646024d3.pth", "drums-5a48008b.pth", "other-f8e132cc.pth", "vocals-c8df74a5.pth"],
        "umxhq": ["bass-8d85a5bd.pth", "drums-9619578f.pth", "other-b52fbbf7.pth", "vocals-b62c91ce.pth"],
        "umxl": ["bass-2ca1ce51.pth", "drums-69e0ebd4.pth", "other-c8c5b3e6.pth", "vocals-bccbd9aa.pth"],
        "umxse": ["noise_04a6fc2d.pth", "speech_f5e0d9f9.pth"],
    }
    assert sorted(table) == sorted(records)
    for name, entry in table.items():
        assert sorted(f.filename for f in entry.targets.values()) == files[name]
        for target, f in entry.targets.items():
            assert f.url == f"https://zenodo.org/records/{records[name]}/files/{f.filename}"
            assert f.filename.startswith(target) and f.filename[len(target) + 1 : -4].startswith(f.sha256[:8])
    for name in ("umx", "umxhq", "umxl"):
        e = table[name]
        o = e.options
        assert e.architecture == "umx"
        assert (e.sample_rate, e.n_fft, e.n_hop, e.nb_channels, o["nb_layers"], o["unidirectional"], o["max_bin"]) == \
            (44100, 4096, 1024, 2, 3, False, 1487)
        assert o["hidden_size"] == (1024 if name == "umxl" else 512)
        assert list(e.targets) == ["vocals", "drums", "bass", "other"]
    assert table["umxl"].restricted and "CC BY-NC-SA 4.0" in table["umxl"].license
    assert not table["umxhq"].restricted
    se = table["umxse"]
    assert (se.sample_rate, se.n_fft, se.n_hop, se.nb_channels, se.options["hidden_size"], se.options["max_bin"]) == \
        (16000, 1024, 512, 1, 256, 513)
    assert list(se.targets) == ["speech", "noise"]
    assert table["umxhq"].targets["vocals"].sha256 == "b62c91cedbc7a066f1778ead5b5cecb377aa3a46a31af1cce7c5c8769339d083"
    assert table["umxhq"].targets["drums"].sha256 == "9619578f885c54737cb0234f9f9a4a679ee4f31438fd77fd1dbe02bb16c2da0a"


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


def test_other_scripts_check_flags_in_one_line(tmp_path):
    for script, args, needle in [
        ("eval.py", ["--root", tmp_path, "--cores", "0"], "--cores"),
        ("eval.py", ["--root", tmp_path, "--niter", "nan"], "--niter"),
        ("train.py", ["--root", tmp_path, "--lr", "inf"], "--lr"),
        ("train.py", ["--root", tmp_path, "--nhop", "8192"], "--nhop"),
        ("train.py", ["--root", tmp_path, "--nb-workers", "-2"], "--nb-workers"),
        ("train.py", ["--root", tmp_path, "--lr-decay-gamma", "1.5"], "--lr-decay-gamma"),
    ]:
        r = run_script(script, *args)
        assert r.returncode == 2, (script, args, r.stderr)
        errors = _errors(r)
        assert len(r.stderr.strip().splitlines()) == 1 and len(errors) == 1 and needle in errors[0], r.stderr


def test_training_set_smaller_than_a_batch_is_an_error_not_a_zero_loss(tmp_path):
    from openunmix.demo import generate_dataset

    root = generate_dataset(tmp_path / "data", seed=3, nb_train=1, nb_valid=1, nb_test=0, duration=2.0)
    out = tmp_path / "model"
    r = run_script("train.py", "--root", root, "--is-wav", "--output", out, "--epochs", "1", "--hidden-size", "16",
                   "--nfft", "512", "--nhop", "128", "--seq-dur", "1.0", "--samples-per-track", "3",
                   "--batch-size", "4", "--quiet")
    assert r.returncode != 0
    errors = _errors(r)
    assert len(errors) == 1 and "fewer than one batch of 4" in errors[0], r.stderr
    assert not (out / "vocals.pth").exists()
