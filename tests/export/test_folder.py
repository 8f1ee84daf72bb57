"""openunmix.export.folder: the exported folder, ONNX target models against PyTorch (ONNX Runtime), the TorchScript
separator against Separator in a process without the package, export.json, output folder rules, atomic output,
models by name. The command's flags: tests/commands/test_export.py; end to end: tests/programs/test_export.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import fft_round_trip_atol, make_model_folder, sum_rtol
from openunmix.commands.export import main
from openunmix.export import ExportError, export_model
from openunmix.export import folder as export_folder
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator, load_target_models
from openunmix.utils import temporary_prefix

ort = pytest.importorskip("onnxruntime")

HOP = 128  # make_model_folder's n_hop
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models: threads only add contention


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _session(path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
LENGTHS = (40 * HOP, 40 * HOP + 77)  # a whole number of hops, and not


def _upstream_folder(tmp: Path) -> Path:
    """An upstream-format folder: hash-suffixed weights, settings under 'args', STFT in separator.json."""
    src = make_model_folder(tmp / "src-upstream", targets=("vocals",), seed=3)
    up = tmp / "upstream"
    up.mkdir()
    torch.save(torch.load(src / "vocals.pth", weights_only=True), up / "vocals-b62c91ce.pth")
    (up / "vocals.json").write_text(json.dumps({"args": {"nfft": 512, "nhop": 128, "hidden_size": 16,
                                                         "nb_channels": 2, "bandwidth": 16000}}))
    (up / "separator.json").write_text(json.dumps({"targets": ["vocals"], "sample_rate": 16000.0,
                                                   "nfft": 512, "nhop": 128, "nb_channels": 2}))
    return up


def _unidirectional_mono_folder(tmp: Path) -> Path:
    from openunmix.architectures.umx import OpenUnmix
    from openunmix.architectures.umx import save_target_model

    torch.manual_seed(5)
    m = OpenUnmix(nb_bins=257, nb_channels=1, hidden_size=12, nb_layers=2, unidirectional=True, max_bin=150)
    with torch.no_grad():
        m.input_mean.uniform_(-0.5, 0.0)
        m.output_scale.uniform_(0.5, 1.5)
    save_target_model(tmp / "mono", "bass", m, 16000.0, 512, 128)
    return tmp / "mono"


def _filter(settings: dict) -> FilterSettings:
    """The filter settings among a case's export settings."""
    return FilterSettings(**{k: v for k, v in settings.items() if k not in ("targets", "fp16")})


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Four exports: {name: (model folder, export folder, export settings)}."""
    tmp = tmp_path_factory.mktemp("export")
    cases = {
        # stereo, bidirectional, two targets, through the command
        "stereo": (make_model_folder(tmp / "stereo"), dict(niter=1)),
        "upstream": (_upstream_folder(tmp), dict(niter=0)),
        "mono": (_unidirectional_mono_folder(tmp), dict(niter=1, residual=True)),
        "stereo-fp16": (tmp / "stereo", dict(niter=0, softmask=False, targets=["drums"], fp16=True)),
    }
    out = {}
    for name, (folder, settings) in cases.items():
        dest = tmp / f"{name}-export"
        if name == "stereo":
            r = subprocess.run([sys.executable, "-m", "openunmix.export", str(folder), "--output", str(dest),
                                "--niter", "1", "--quiet"], capture_output=True, text=True, timeout=300, env=ONE_THREAD)
            assert r.returncode == 0, r.stderr
            assert r.stderr == ""
        else:
            export_model(str(folder), dest, settings.get("targets"), _filter(settings), fp16=settings.get("fp16", False),
                         progress=False)
        out[name] = (folder, dest, settings)
    return out


def _rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


# ONNX Runtime against PyTorch: other kernels (MLAS, with its own AVX2/AVX-512 dispatch, and its own LSTM),
# so every sum of the model may be taken in another order (conftest.sum_rtol). The largest models here
# (stereo, upstream, the named one): fc1 over 2 channels x 200 bins, 3 bidirectional LSTM layers of 16 + 8
# terms a gate, carried on over at most 1 / (1 - f) = 12.5 frames by their forget gates f <= 0.92, fc2
# (32) and fc3 (16 terms): 1.6e-4 of the output's size (measured at most 3.8e-7 on every kernel).
ONNX_RTOL = sum_rtol(400, round(3 * 24 * 12.5), 32, 16)
# fp16 weights: each is rounded by up to u = 2**-11 relative, which moves each reduction by up to u of the
# size of its terms whatever their number; fc1, the LSTM layers (each carried on over 12.5 frames), fc2
# and fc3: (3 + 3 * 12.5) u = 2.0e-2 (measured 2.4e-4)
ONNX_FP16_RTOL = (3 + 3 * 12.5) * 2**-11


def test_export_files_and_json(exports):
    _, dest, _ = exports["stereo"]
    assert sorted(p.name for p in dest.iterdir()) == ["drums.onnx", "export.json", "separator.pt", "vocals.onnx"]
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no temporary folders left
    info = json.loads((dest / "export.json").read_text())
    assert info["sample_rate"] == 16000.0
    assert info["stft"]["n_fft"] == 512 and info["stft"]["n_hop"] == 128 and info["stft"]["bins"] == 257
    assert info["targets"] == ["drums", "vocals"] and info["sources"] == ["drums", "vocals"]
    assert info["filter"]["niter"] == 1 and info["filter"]["softmask"] is True
    assert info["onnx"]["files"] == {"drums": "drums.onnx", "vocals": "vocals.onnx"}
    assert info["onnx"]["inputs"][0]["shape"] == ["batch", 2, 257, "frames"]
    assert info["torchscript"]["outputs"][0]["shape"] == ["batch", 2, 2, "samples"]
    assert info["versions"]["torch"] == torch.__version__
    mono = json.loads((exports["mono"][1] / "export.json").read_text())
    assert mono["sources"] == ["bass", "residual"] and mono["nb_channels"] == 1
    # the names and shapes in the json are those of the graph
    session = _session(dest / "vocals.onnx")
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert inp.name == info["onnx"]["inputs"][0]["name"] and outp.name == info["onnx"]["outputs"][0]["name"]
    assert inp.shape == info["onnx"]["inputs"][0]["shape"]
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["target"] == "vocals" and meta["sample_rate"] == "16000" and meta["n_hop"] == "128"


@pytest.mark.numerics
@pytest.mark.parametrize("name", ["stereo", "upstream", "mono", "stereo-fp16"])
def test_onnx_runtime_matches_pytorch(exports, name):
    folder, dest, settings = exports[name]
    models, config = load_target_models(str(folder), settings.get("targets"))
    tolerance = ONNX_FP16_RTOL if settings.get("fp16") else ONNX_RTOL
    rng = np.random.default_rng(0)
    for target, model in models.items():
        session = _session(dest / f"{target}.onnx")
        # 9 frames is the export's example; 1 and 23 frames, batch 1 and 3 were never seen
        for batch, frames in ((1, 1), (2, 9), (3, 23), (1, 57)):
            mag = rng.random((batch, config.nb_channels, 257, frames), dtype=np.float32) * 3
            got = session.run(None, {"mix_magnitude": mag})[0]
            with torch.no_grad():
                expected = model(torch.from_numpy(mag)).numpy()
            assert got.shape == expected.shape
            assert _rel_error(got, expected) < tolerance, (target, batch, frames)


def test_fp16_halves_the_onnx_files(exports):
    full = (exports["stereo"][1] / "drums.onnx").stat().st_size
    half = (exports["stereo-fp16"][1] / "drums.onnx").stat().st_size
    assert half < 0.6 * full
    assert sorted(p.name for p in exports["stereo-fp16"][1].iterdir()) == ["drums.onnx", "export.json", "separator.pt"]


_RUNNER = """
import importlib.util, sys
assert importlib.util.find_spec("openunmix") is None, "openunmix is importable"
import torch
torch.set_num_threads(1)
jobs = torch.load(sys.argv[1])
out = {}
for key, (path, audio) in jobs.items():
    sep = torch.jit.load(path)
    with torch.no_grad():
        out[key] = sep(audio)
    out[key + "/sources"] = list(sep.source_names)
torch.save(out, sys.argv[2])
"""


@pytest.mark.numerics
def test_torchscript_separator_runs_without_the_package(exports, tmp_path):
    """separator.pt in `python -I -S` with only torch's site-packages on the path reproduces Separator."""
    gen = torch.Generator().manual_seed(1)
    jobs, expected = {}, {}
    for name in ("stereo", "upstream", "mono", "stereo-fp16"):
        folder, dest, settings = exports[name]
        separator = load_separator(str(folder), settings.get("targets"), _filter(settings))
        for length in LENGTHS:
            audio = 0.3 * torch.randn(2, separator.nb_channels, length, generator=gen)
            jobs[f"{name}/{length}"] = (str(dest / "separator.pt"), audio)
            with torch.no_grad():
                expected[f"{name}/{length}"] = (separator(audio), separator.source_names)
    torch.save(jobs, tmp_path / "jobs.pt")
    site_packages = str(Path(torch.__file__).resolve().parents[1])
    code = f"import sys; sys.path.append({site_packages!r})\n" + _RUNNER
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code, "jobs.pt", "out.pt"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = torch.load(tmp_path / "out.pt")
    for key, (ref, sources) in expected.items():
        assert got[key].shape == ref.shape, key
        # the same ATen kernels (TorchScript fuses nothing on the CPU), in a process with the same kernels
        # and one thread; Separator inverts the filtered spectrum window by window (OverlapAdd), the script
        # at once: the round trip's bound (conftest.fft_round_trip_atol) of the output's size, 2.6e-6
        # (measured at most 2.9e-7 on every kernel)
        assert _rel_error(got[key], ref) < fft_round_trip_atol(512, HOP, 1.0), key
        assert got[key + "/sources"] == sources


def test_mono_separator_refuses_stereo(exports):
    sep = torch.jit.load(str(exports["mono"][1] / "separator.pt"))
    with pytest.raises(Exception, match="mono model needs mono input"):
        sep(torch.zeros(1, 2, 2000))


def _one_error_line(err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err


def test_output_folder_rules(tmp_path, capsys):
    folder = make_model_folder(tmp_path / "m", targets=("vocals",))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main([str(folder), "--output", str(busy), "--quiet"]) == 1
    _one_error_line(capsys.readouterr().err, "holds other files")
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    # an empty folder is filled, a previous export is replaced as a whole
    empty = tmp_path / "empty"
    empty.mkdir()
    export_model(str(folder), empty, progress=False)
    assert (empty / "vocals.onnx").is_file()
    make_model_folder(tmp_path / "m2", targets=("bass",))
    export_model(str(tmp_path / "m2"), empty, progress=False)
    assert sorted(p.name for p in empty.iterdir()) == ["bass.onnx", "export.json", "separator.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "empty", "m", "m2"]


def test_failed_export_leaves_no_partial_folder(tmp_path, monkeypatch):
    """A failure after the ONNX files are written leaves neither a new folder nor a changed old one."""
    folder = make_model_folder(tmp_path / "m", targets=("vocals",))
    previous = tmp_path / "previous"
    export_model(str(folder), previous, progress=False)
    before = {p.name: p.read_bytes() for p in previous.iterdir()}

    def fail(separator, path):
        raise ExportError("injected failure after the ONNX files")

    monkeypatch.setattr(export_folder, "export_separator", fail)
    for dest in (tmp_path / "new", previous):
        with pytest.raises(ExportError, match="injected"):
            export_model(str(folder), dest, progress=False, fp16=True)
    assert not (tmp_path / "new").exists()
    assert {p.name: p.read_bytes() for p in previous.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "previous"]


def test_export_by_model_name(tmp_path):
    """A named model from a model table (files at file:// URLs, hash-checked and cached) exports too."""
    import hashlib

    src = make_model_folder(tmp_path / "src", targets=("vocals",), seed=7)
    www = tmp_path / "www"
    www.mkdir()
    state = torch.load(src / "vocals.pth", weights_only=True)
    torch.save(state, www / "vocals.tmp")
    digest = hashlib.sha256((www / "vocals.tmp").read_bytes()).hexdigest()
    (www / "vocals.tmp").rename(www / f"vocals-{digest[:8]}.pth")
    table = tmp_path / "models.json"
    table.write_text(json.dumps({"models": {"tiny": {
        "sample_rate": 16000, "nfft": 512, "nhop": 128, "nb_channels": 2, "hidden_size": 16, "nb_layers": 3,
        "unidirectional": False, "bandwidth": 6220,  # 200 bins of 31.25 Hz "description": "tiny", "license": "MIT",
        "targets": {"vocals": {"url": f"{www.as_uri()}/vocals-{digest[:8]}.pth", "sha256": digest[:8]}}}}}))
    written = export_model("tiny", tmp_path / "out", models_file=table, cache_dir=tmp_path / "cache", progress=False)
    assert written == ["export.json", "separator.pt", "vocals.onnx"]
    info = json.loads((tmp_path / "out" / "export.json").read_text())
    assert info["model"] == "tiny" and info["sources"] == ["vocals", "accompaniment"]
    models, _ = load_target_models(str(src))
    mag = np.random.default_rng(1).random((1, 2, 257, 5), dtype=np.float32)
    got = _session(tmp_path / "out" / "vocals.onnx").run(None, {"mix_magnitude": mag})[0]
    with torch.no_grad():
        assert _rel_error(got, models["vocals"](torch.from_numpy(mag)).numpy()) < ONNX_RTOL


def test_killed_export_leaves_temporaries_that_the_next_export_removes(tmp_path):
    """A SIGKILLed export leaves its hidden folder beside the output, named by utils.temporary_prefix;
    the next export into that place removes it (and leaves a live process's temporaries alone)."""
    import signal

    folder = make_model_folder(tmp_path / "m", targets=("vocals",))
    code = ("import os, signal, sys\n"
            "from openunmix.export import folder\n"
            "folder.export_separator = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
            "folder.export_model(sys.argv[1], sys.argv[2], progress=False)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(folder), str(tmp_path / "out")], env=ONE_THREAD,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL, err.decode()
    left = [q.name for q in tmp_path.iterdir() if q.name.startswith(".")]
    killed = temporary_prefix("out").replace(f"-{os.getpid()}-", f"-{p.pid}-")
    assert len(left) == 1 and left[0].startswith(killed + "export-"), left
    assert (tmp_path / left[0] / "vocals.onnx").is_file()  # killed after the ONNX files
    live = tmp_path / (temporary_prefix("other") + "export-live")  # this process's: running
    live.mkdir()
    export_model(str(folder), tmp_path / "out", progress=False)
    assert sorted(q.name for q in tmp_path.iterdir()) == sorted(["m", "out", live.name])
    assert sorted(q.name for q in (tmp_path / "out").iterdir()) == ["export.json", "separator.pt", "vocals.onnx"]
