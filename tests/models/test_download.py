"""openunmix.models.download: verified, cached downloads (corrupted or dropped ones leave nothing, two processes
at once, torch's cache and file:// URLs), from an HTTP server on 127.0.0.1 started by the test
(tests/models/published.py). test.py and umx downloading by name: tests/programs/test_separate.py."""

import hashlib
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from helpers.published import RATE, _closed_port, _entry, _table, published, serve  # noqa: F401 (published: a fixture)
from openunmix.models.download import fetch
from openunmix.models.hub import load_target_models
from openunmix.utils import ModelError


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
