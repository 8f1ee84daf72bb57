"""Tiny models published as upstream's are, served from an HTTP server on 127.0.0.1 that a test starts: the
``published`` fixture (``<target>-<sha8>.pth`` state dicts with upstream's extra entries), model tables in the
published format. Used by tests/models/test_download.py and tests/programs/test_separate.py, which import the
fixture to use it."""

import contextlib
import hashlib
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import torch

from openunmix.architectures.umx import OpenUnmix


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
