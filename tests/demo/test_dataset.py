"""openunmix.demo.dataset: the synthetic MUSDB18-layout demo dataset (its layout and format, determinism, stems
that sound like instruments, musdb reading it, bad arguments, reruns, dataset.json). The command:
tests/commands/test_demo.py, tests/programs/test_demo.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from openunmix import demo
from openunmix.utils import temporary_prefix

RATE = 44100
DURATION = 6.0
SEED = 7
COUNTS = {"train": 2, "valid": 1, "test": 1}
FILES = ("mixture", "vocals", "drums", "bass", "other")


def _folder(root: Path, split: str, index: int) -> Path:
    subset = "test" if split == "test" else "train"
    return root / subset / demo.track_name(split, index)


def _read(folder: Path) -> dict:
    """Read the five files of a track as float64 arrays ``(channels, samples)``."""
    out = {}
    for name in FILES:
        audio, rate = sf.read(str(folder / f"{name}.wav"), dtype="float64", always_2d=True)
        assert rate == RATE
        out[name] = audio.T
    return out


def _all_tracks():
    return [(split, i) for split, count in COUNTS.items() for i in range(count)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "musdb"
    returned = demo.generate_dataset(
        root,
        seed=SEED,
        nb_train=COUNTS["train"],
        nb_valid=COUNTS["valid"],
        nb_test=COUNTS["test"],
        duration=DURATION,
    )
    assert returned == root and isinstance(returned, Path)
    return root


@pytest.fixture(scope="module")
def tracks(dataset) -> dict:
    return {key: _read(_folder(dataset, *key)) for key in _all_tracks()}


def _window_rms(x: np.ndarray, width: int) -> np.ndarray:
    x = x[: x.size // width * width].reshape(-1, width)
    return np.sqrt(np.mean(x**2, axis=1))


def _flatness(x: np.ndarray, low: float, high: float, nfft: int = 4096) -> float:
    """Spectral flatness of the frame-averaged power spectrum between low and high Hz (noise: ~1)."""
    frames = x[: x.size // nfft * nfft].reshape(-1, nfft) * np.hanning(nfft)
    power = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    f = np.fft.rfftfreq(nfft, 1.0 / RATE)
    power = power[(f >= low) & (f <= high)] + 1e-20
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


# ---------------------------------------------------------------------------
# layout and format


def test_layout(dataset):
    train = sorted(p.name for p in (dataset / "train").iterdir())
    test = sorted(p.name for p in (dataset / "test").iterdir())
    assert train == ["demo-train-000 - Synth", "demo-train-001 - Synth", "demo-valid-000 - Synth"]
    assert test == ["demo-test-000 - Synth"]
    for split, index in _all_tracks():
        folder = _folder(dataset, split, index)
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.wav" for n in FILES)
    assert (dataset / "valid_tracks.txt").read_text() == "demo-valid-000 - Synth\n"
    assert all(name.isascii() and " - " in name for name in train + test)


def test_files_are_stereo_float_44k(dataset):
    for split, index in _all_tracks():
        for name in FILES:
            info = sf.info(str(_folder(dataset, split, index) / f"{name}.wav"))
            assert info.samplerate == RATE
            assert info.channels == 2
            assert info.frames == int(DURATION * RATE)
            assert info.subtype == "FLOAT"


def test_mixture_is_sum_of_stems_and_does_not_clip(tracks):
    for audio in tracks.values():
        total = sum(audio[name] for name in demo.SOURCES)
        # the file holds the float64 sum rounded once, the test adds in float32: 4 roundings of at most
        # eps32 / 2 of the sum of the stems' sizes (<= 3.6): 8.6e-7; elementwise, so the same on every CPU
        assert np.max(np.abs(audio["mixture"] - total)) < 1e-5
        assert 0.3 < np.max(np.abs(audio["mixture"])) < 0.9
        for name in demo.SOURCES:
            assert np.max(np.abs(audio[name])) < 0.9


# ---------------------------------------------------------------------------
# determinism


def test_same_seed_is_bit_identical_and_independent_of_track_count(dataset, tmp_path):
    # a single track generated on its own must equal the same track of the bigger set
    other = demo.generate_dataset(tmp_path / "again", seed=SEED, nb_train=1, nb_valid=0, nb_test=0, duration=DURATION)
    for name in FILES:
        a = _folder(dataset, "train", 0) / f"{name}.wav"
        b = _folder(other, "train", 0) / f"{name}.wav"
        # both generated in this process from the same seed: the same numpy operations on the same values,
        # so the same bytes (another CPU may round numpy's sin/exp differently, but does so in both)
        assert a.read_bytes() == b.read_bytes()
    assert (other / "valid_tracks.txt").read_text() == ""


# ---------------------------------------------------------------------------
# the stems sound like instruments, not noise


def test_vocals_have_phrases_and_pauses(tracks):
    for audio in tracks.values():
        np.testing.assert_array_equal(audio["vocals"][0], audio["vocals"][1])  # centred
        rms = _window_rms(audio["vocals"][0], RATE // 2)
        assert np.sum(rms <= 1e-3 * rms.max()) >= 1  # silent half-second windows
        assert np.sum(rms >= 0.3 * rms.max()) >= 2  # and sung ones
        voiced = audio["vocals"][0][np.abs(audio["vocals"][0]) > 0]
        assert _flatness(voiced, 100.0, 5000.0) < 0.1  # harmonic, not noise


def test_bass_energy_is_low(tracks):
    for audio in tracks.values():
        spec = np.abs(np.fft.rfft(audio["bass"].mean(axis=0))) ** 2
        f = np.fft.rfftfreq(audio["bass"].shape[1], 1.0 / RATE)
        assert spec[f < 300].sum() > 0.9 * spec.sum()
        assert spec[f < 35].sum() < 0.05 * spec.sum()


def test_drums_are_transient(tracks):
    for audio in tracks.values():
        mono = audio["drums"].mean(axis=0)
        env = _window_rms(mono, RATE // 100)  # 10 ms frames
        assert env.std() / env.mean() > 0.4  # stationary noise: ~0.03
        assert env.max() > 2.0 * np.median(env)
        spec = np.abs(np.fft.rfft(mono)) ** 2
        f = np.fft.rfftfreq(mono.size, 1.0 / RATE)
        assert spec[f < 150].sum() > 0.2 * spec.sum()  # kick
        assert spec[f > 5000].sum() > 0.005 * spec.sum()  # hats
        assert not np.array_equal(audio["drums"][0], audio["drums"][1])  # some stereo placement


def test_other_is_harmonic(tracks):
    for audio in tracks.values():
        assert _flatness(audio["other"].mean(axis=0), 100.0, 4000.0) < 0.05
        assert np.std(audio["other"]) > 0


def test_vocals_about_as_loud_as_accompaniment(tracks):
    for audio in tracks.values():
        accompaniment = audio["drums"] + audio["bass"] + audio["other"]
        ratio_db = 10 * np.log10(np.sum(audio["vocals"] ** 2) / np.sum(accompaniment**2))
        assert -3.0 < ratio_db < 2.0
        for name in ("drums", "bass", "other"):
            share = np.sum(audio[name] ** 2) / np.sum(accompaniment**2)
            assert 0.05 < share < 0.9


# ---------------------------------------------------------------------------
# musdb, arguments, reruns


def test_musdb_lists_tracks(dataset):
    musdb = pytest.importorskip("musdb")
    if shutil.which("ffprobe") is None:
        pytest.skip("musdb needs ffprobe to read track metadata")
    train = musdb.DB(root=str(dataset), is_wav=True, subsets="train")
    assert [t.name for t in train.tracks] == [
        "demo-train-000 - Synth",
        "demo-train-001 - Synth",
        "demo-valid-000 - Synth",
    ]
    assert train.tracks[0].artist == "demo-train-000" and train.tracks[0].title == "Synth"
    assert train.tracks[0].rate == RATE and train.tracks[0].samples == int(DURATION * RATE)
    assert set(train.tracks[0].sources) == set(demo.SOURCES)
    test = musdb.DB(root=str(dataset), is_wav=True, subsets="test")
    assert [t.name for t in test.tracks] == ["demo-test-000 - Synth"]
    valid = (dataset / "valid_tracks.txt").read_text().split("\n")[:-1]
    assert train.get_track_indices_by_names(valid) == [2]


def test_generate_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        demo.generate_dataset(tmp_path, nb_train=-1)
    with pytest.raises(ValueError):
        demo.generate_dataset(tmp_path, duration=0)
    assert not (tmp_path / "train").exists()


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_rerun_removes_what_a_killed_run_left(tmp_path):
    args = dict(seed=SEED, nb_train=1, nb_valid=0, nb_test=0, duration=0.5)
    root = demo.generate_dataset(tmp_path / "d", **args)
    folder = _folder(root, "train", 0)
    live = temporary_prefix("vocals.wav")  # this process: a run still writing
    dead = live.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")  # a run that was killed
    (folder / f"{dead}x.tmp").write_bytes(b"half a wav")
    (folder / f"{live}y.tmp").write_bytes(b"being written")
    before = (folder / "mixture.wav").read_bytes()
    demo.generate_dataset(tmp_path / "d", **args)
    assert not (folder / f"{dead}x.tmp").exists()
    assert (folder / f"{live}y.tmp").exists()
    assert (folder / "mixture.wav").read_bytes() == before


def test_dataset_json(tmp_path):
    root = demo.generate_dataset(tmp_path / "d", seed=3, nb_train=1, nb_valid=0, nb_test=1, duration=0.5,
                                 variety="wide")
    settings = json.loads((root / "dataset.json").read_text())
    assert settings["variety"] == "wide" and settings["seed"] == 3
    assert (settings["nb_train"], settings["nb_valid"], settings["nb_test"]) == (1, 0, 1)
    assert settings["duration"] == 0.5 and settings["rate"] == RATE
