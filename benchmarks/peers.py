"""The separators users pick instead of ours, for `separation.py --peers`: a registry of peers.

Each peer is one :class:`Peer`: how to make its environment (once), the
command that separates one song in a fresh process (as its users run it),
and its published MUSDB18 SDR with the source of that figure. The
benchmark times every registered peer beside ours and upstream's on the
same songs (wall time and peak RSS of the process).

Registered here:

* ``htdemucs``: Demucs v4 (Hybrid Transformer Demucs) from the package
  registry's ``demucs==4.0.1``, in its own environment (default
  /tmp/peers-venv): a venv that reuses this project's torch (and the
  packages torch imports) through symlinks named by a ``.pth`` file
  (``--system-site-packages`` would expose the base interpreter's packages,
  not this project's venv, where torch lives), plus ``demucs`` without its
  dependencies and only the few that its model and ``apply_model`` import
  (einops, julius, omegaconf, PyYAML, tqdm). ``dora`` (its experiment
  manager, imported only for an error helper of its checkpoint code) and
  upstream ``openunmix.filtering`` (imported by its model for the Wiener
  post-filter that ``htdemucs`` does not use, ``wiener_iters=0``) are
  replaced by small stand-ins. The model is built from its class with
  random weights and the class defaults, which are the ``htdemucs``
  section of the package's training configuration (conf/config.yaml);
  nothing is downloaded. The release's own hyper-parameters are stored in
  its checkpoint, which is not fetched: the compute is that of the
  architecture at its training configuration. The song is separated as
  the ``demucs`` command does: normalised by the mixture's mean and
  standard deviation, ``apply_model`` with 25 % overlapping segments and
  one shift, float32 on the CPU.

Adding a peer (e.g. the RoFormer of the RoFormer issue): write a
``Peer(...)`` with its environment, its command and its published SDR and
``register()`` it below; ``separation.py --peers`` then has a row for it.
Nothing of the peers' code is part of this repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List

import upstream


@dataclass
class Peer:
    """A separator to compare with.

    Attributes:
        name: its row in the table.
        published_sdr: its published MUSDB18 test SDR in dB (average of the four targets), None if unknown.
        source: where that figure is published.
        ensure_env: ``venv folder -> python`` of its environment (created on first use).
        command: ``(python, song, outdir) -> argv`` separating one song in a fresh process.
        environment: ``venv folder -> env`` of that process.
        note: what differs from the published model (shown under the table).
    """

    name: str
    published_sdr: float
    source: str
    ensure_env: Callable[[Path], Path]
    command: Callable[[Path, Path, Path], List[str]]
    environment: Callable[[Path], Dict[str, str]] = field(default=lambda venv: dict(os.environ))
    note: str = ""


PEERS: Dict[str, Peer] = {}


def register(peer: Peer) -> Peer:
    PEERS[peer.name] = peer
    return peer


# ------------------------------------------------------------------ ours and upstream (same model, same SDR)

UMX_SDR = 5.41
UMX_SOURCE = "Open-Unmix (UMX), average of 4 targets on MUSDB18 as reported in Sawata et al., ICASSP 2021 (X-UMX paper)"

# ------------------------------------------------------------------ Demucs v4

DEMUCS = "demucs==4.0.1"
DEMUCS_DEPS = ["einops", "julius", "omegaconf", "antlr4-python3-runtime==4.9.*", "PyYAML", "tqdm"]
# what `import torch` (and numpy for the runner) needs, linked from this project's environment
TORCH_PACKAGES = ["torch", "torchgen", "numpy", "numpy.libs", "sympy", "mpmath", "networkx", "jinja2", "markupsafe",
                  "filelock", "fsspec", "typing_extensions.py"]

_DEMUCS_RUNNER = '''"""Separate one song with Demucs v4 (htdemucs) of random weights, as the demucs command does."""
import json
import sys
import types
import wave

import numpy as np
import torch


def _stand_ins():
    dora, log = types.ModuleType("dora"), types.ModuleType("dora.log")

    def fatal(*args):
        raise SystemExit(" ".join(map(str, args)))

    log.fatal, dora.log = fatal, log
    unmix, filtering = types.ModuleType("openunmix"), types.ModuleType("openunmix.filtering")

    def wiener(*args, **kwargs):
        raise NotImplementedError("htdemucs runs without the Wiener post-filter")

    filtering.wiener, unmix.filtering = wiener, filtering
    for name, module in (("dora", dora), ("dora.log", log), ("openunmix", unmix), ("openunmix.filtering", filtering)):
        sys.modules.setdefault(name, module)


def main():
    song, outdir, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    _stand_ins()
    from demucs.apply import apply_model
    from demucs.htdemucs import HTDemucs

    with wave.open(song) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, channels)
    mix = torch.from_numpy(pcm.T.astype(np.float32) / 32768.0)
    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], audio_channels=channels, samplerate=rate, **kwargs)
    model.eval()
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std()
    with torch.inference_mode():
        out = apply_model(model, ((mix - mean) / std)[None], shifts=1, split=True, overlap=0.25)[0] * std + mean
    import os
    os.makedirs(outdir, exist_ok=True)
    for name, source in zip(model.sources, out):
        data = (source.clamp(-1, 1).numpy().T * 32767).astype("<i2")
        with wave.open(os.path.join(outdir, name + ".wav"), "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(data.tobytes())


main()
'''


def _demucs_env(venv: Path) -> Path:
    python = venv / "bin" / "python"
    stamp = venv / ".demucs-installed"
    if not stamp.exists():
        print(f"creating the peers' environment in {venv} (once)", flush=True)
        subprocess.run([upstream._system_python() or sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
        import torch

        ours = Path(torch.__file__).resolve().parent.parent  # this project's site-packages
        linked = venv / "ours"
        linked.mkdir(exist_ok=True)
        for name in os.listdir(ours):  # the packages and their metadata (so that pip sees torch installed)
            base = name.split("-")[0]
            if name in TORCH_PACKAGES or (name.endswith(".dist-info") and any(
                    base.lower() == p.split(".")[0].lower() for p in TORCH_PACKAGES)):
                target = linked / name
                if not target.exists():
                    target.symlink_to(ours / name)
        (site / "zz-ours-torch.pth").write_text(str(linked) + "\n")  # after the venv's own packages
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
        subprocess.run(pip + [DEMUCS] + DEMUCS_DEPS, check=True)
        stamp.touch()
    (venv / "demucs_runner.py").write_text(_DEMUCS_RUNNER)
    return python


DEMUCS_KWARGS: Dict[str, object] = {}  # the class defaults; separation.py --demucs-kwargs JSON changes them


def _demucs_command(python: Path, song: Path, outdir: Path) -> List[str]:
    return [str(python), "-P", str(python.parent.parent / "demucs_runner.py"), str(song), str(outdir),
            json.dumps(DEMUCS_KWARGS)]


def _demucs_environment(venv: Path) -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MALLOC_MMAP_THRESHOLD_")}


register(Peer(
    name="htdemucs (Demucs v4)",
    published_sdr=9.00,
    source="Demucs v4 README and Rouard et al., ICASSP 2023: 9.00 dB on the MUSDB18-HQ test set (trained with 800 "
           "extra songs)",
    ensure_env=_demucs_env,
    command=_demucs_command,
    environment=_demucs_environment,
    note="random weights, class defaults (= the htdemucs section of demucs' conf/config.yaml); the release's own "
         "hyper-parameters are in its checkpoint, not fetched",
))

# ------------------------------------------------------------------ the RoFormers (this package, random weights)

# the community's published configurations (MSST's configs/): viperx's BS-RoFormer ep 317 and Kimberley Jensen's
# Mel-RoFormer, both vocals-only models at hop 441 with 8 s chunks that overlap by half
ROFORMERS = {
    "BS-RoFormer": ("bs_roformer", {"dim": 512, "depth": 12, "nhop": 441, "chunk_size": 352800, "num_overlap": 2}),
    "Mel-RoFormer": ("mel_roformer", {"dim": 384, "depth": 6, "num_bands": 60, "nhop": 441, "chunk_size": 352800,
                                      "num_overlap": 2}),
}
_ROFORMER_FOLDER = """
import sys, torch
from pathlib import Path
from openunmix import architectures
arch = architectures.get(sys.argv[2])
options = arch.check_options(dict(eval(sys.argv[3]), targets="vocals"))
part = arch.training_part("vocals", 2, options)
torch.manual_seed(0)
part.save(Path(sys.argv[1]), part.new_model(44100.0, None), 44100.0, {})
"""


def _roformer_env(name: str) -> Callable[[Path], Path]:
    def ensure(venv: Path) -> Path:
        folder = venv / "roformers" / name
        if not (folder / "separator.json").is_file():
            arch, options = ROFORMERS[name]
            subprocess.run([sys.executable, "-c", _ROFORMER_FOLDER, str(folder), arch, repr(options)], check=True,
                           cwd=str(REPO))
        return Path(sys.executable)
    return ensure


def _roformer_command(name: str) -> Callable[[Path, Path, Path], List[str]]:
    def command(python: Path, song: Path, outdir: Path) -> List[str]:
        folder = Path(PEERS_VENV[0]) / "roformers" / name
        return [str(python), str(REPO / "test.py"), str(folder), "--input", str(song), "--outdir", str(outdir),
                "--quiet", "--no-cuda", "--force"]
    return command


REPO = Path(__file__).resolve().parent.parent
PEERS_VENV = ["/tmp/peers-venv"]  # separation.py --peers-venv sets it


def _ours_environment(venv: Path) -> Dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


register(Peer(
    name="BS-RoFormer (dim 512, depth 12)",
    published_sdr=9.80,
    source="BS-RoFormer, Lu et al. 2023 (arXiv 2309.02612): 9.80 dB average on MUSDB18-HQ without extra data, "
           "for the paper's smaller model; the configuration timed is viperx's community vocals model (MSST "
           "configs/viperx/model_bs_roformer_ep_317_sdr_12.9755.yaml)",
    ensure_env=_roformer_env("BS-RoFormer"),
    command=_roformer_command("BS-RoFormer"),
    environment=_ours_environment,
    note="this package's bs_roformer, random weights, one target (vocals); 8 s chunks overlapping by half",
))
register(Peer(
    name="Mel-RoFormer (dim 384, depth 6)",
    published_sdr=float("nan"),
    source="Mel-RoFormer, Wang et al. 2023 (arXiv 2310.01809): no four-target average checked here; the "
           "configuration timed is Kimberley Jensen's vocals model (MSST configs/KimberleyJensen/)",
    ensure_env=_roformer_env("Mel-RoFormer"),
    command=_roformer_command("Mel-RoFormer"),
    environment=_ours_environment,
    note="this package's mel_roformer, random weights, one target (vocals), 60 bands; 8 s chunks overlapping by half",
))
