"""Tests of openunmix.data on tiny generated wav folders."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from openunmix import audio, data
from openunmix.data import (
    AlignedDataset,
    DatasetError,
    FixedSourcesTrackFolderDataset,
    MUSDBDataset,
    ShortFileWarning,
    UnalignedDataset,
    VariableSourcesTrackFolderDataset,
    load_datasets,
    read_valid_tracks,
)

SR = 8000
SOURCES = ("vocals", "drums", "bass", "other")

# Float comparisons in this file.
# - torch.equal / assert_array_equal: the same files read with the same seeds, epoch and index in one
#   process, the same operations on the same values: equal bitwise by construction.
# - Mixtures against sums of sources (atol 1e-6): float32 sums of n <= 4 sources of size <= 0.25 each
#   (noise of +-0.2, gains up to 1.25), which the dataset and the test may take in another order or in
#   float64: within n eps32 of the sum of their sizes (conftest.sum_rtol), 4 * 1.2e-7 * 1.0 = 4.8e-7
#   (measured 1.2e-7). They are elementwise additions, correctly rounded on every CPU: no kernel,
#   instruction set or thread count changes them.


def write(path: Path, x: np.ndarray, rate: float = SR) -> Path:
    """Write ``(channels, samples)`` audio as float wav (exact round trip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(x, dtype=np.float32).T, int(rate), subtype="FLOAT")
    return path


def noise(seed: int, seconds: float = 3.0, channels: int = 2, rate: float = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.2, 0.2, (channels, int(seconds * rate))).astype(np.float32)


def read(path: Path) -> np.ndarray:
    x, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return x.T


def make_musdb(root: Path, names=("A - one", "B - two", "C - three"), seconds=3.0, mixture=True):
    for k, name in enumerate(names):
        folder = root / "train" / name
        srcs = [
            write(folder / f"{s}.wav", noise(10 * k + j, seconds)) for j, s in enumerate(SOURCES)
        ]
        if mixture:
            write(folder / "mixture.wav", sum(read(p) for p in srcs))
    return root


def make_trackfolders(
    root: Path, split="train", n=3, files=("vocals.wav", "bass.wav", "drums.wav"), seconds=3.0
):
    for k in range(n):
        for j, f in enumerate(files):
            write(root / split / f"track{k}" / f, noise(100 * k + j, seconds))
    return root


def make_unaligned(root: Path, split="train", seconds=3.0):
    for k in range(2):
        write(root / split / "vocals" / f"v{k}.wav", noise(k, seconds))
    for k in range(3):
        write(root / split / "noise" / f"n{k}.wav", np.full((2, int(seconds * SR)), 0.1))
    write(root / split / "music" / "m0.wav", np.full((2, int(seconds * SR)), 0.2, np.float32))
    return root


def musdb_ds(root, **kw):
    kw.setdefault("sample_rate", SR)
    kw.setdefault("seq_duration", 1.0)
    kw.setdefault("samples_per_track", 4)
    kw.setdefault("is_wav", True)
    return MUSDBDataset(root, **kw)


def assert_item(item, channels, samples):
    mix, target = item
    for t in (mix, target):
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
        assert tuple(t.shape) == (channels, samples)


@pytest.fixture(scope="module")
def musdb_root(tmp_path_factory):
    return make_musdb(tmp_path_factory.mktemp("musdb"))


# --------------------------------------------------------------------------- musdb


def test_musdb_train_shapes_len_determinism(musdb_root):
    ds = musdb_ds(musdb_root, valid_tracks=[])
    assert len(ds) == 3 * 4
    assert ds.sample_rate == SR and ds.nb_channels == 2
    assert_item(ds[5], 2, SR)
    a, b = ds[5], ds[5]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # out of order / fresh object: same item
    ds2 = musdb_ds(musdb_root, valid_tracks=[])
    _ = ds2[0]
    assert torch.equal(ds2[5][0], a[0])
    ds.set_epoch(1)
    assert not torch.equal(ds[5][0], a[0])
    other_seed = musdb_ds(musdb_root, valid_tracks=[], seed=7)
    assert not torch.equal(other_seed[5][0], a[0])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_musdb_mixture_is_sum_of_augmented_sources(musdb_root):
    # same seed/epoch/index draw the same excerpt and augmentations for every
    # target, so the four targets must add up to the mixture.
    items = {
        t: musdb_ds(musdb_root, valid_tracks=[], target=t, random_track_mix=True)[3]
        for t in SOURCES + ("accompaniment",)
    }
    mix = items["vocals"][0]
    for t in SOURCES:
        assert torch.equal(items[t][0], mix)
    total = sum(items[t][1] for t in SOURCES)
    assert torch.allclose(total, mix, atol=1e-6)
    assert torch.allclose(items["vocals"][1] + items["accompaniment"][1], mix, atol=1e-6)


class Recorder:
    """An augmentation that records the (already augmented) sources it sees."""

    def __init__(self):
        self.seen = []

    def __call__(self, x, rng):
        self.seen.append(x.copy())
        return x


def test_musdb_augmented_mixture_recorded(musdb_root):
    rec = Recorder()
    ds = musdb_ds(musdb_root, valid_tracks=[], random_track_mix=True,
                  source_augmentations=["gain", "channelswap", rec])
    mix, target = ds[2]
    assert len(rec.seen) == 4
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), rec.seen[0])  # vocals come first


def test_musdb_unaugmented_excerpt_matches_files(musdb_root):
    ds = musdb_ds(musdb_root, valid_tracks=[], random_chunks=False, source_augmentations=None)
    mix, target = ds[4 + 1]  # track 1, second consecutive chunk
    folder = musdb_root / "train" / "B - two"
    span = slice(SR, 2 * SR)
    expected = sum(read(folder / f"{s}.wav")[:, span] for s in SOURCES)
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), read(folder / "vocals.wav")[:, span])


def test_musdb_valid_whole_tracks_accompaniment(musdb_root):
    ds = musdb_ds(musdb_root, valid_tracks=["B - two"], split="valid", target="accompaniment")
    assert len(ds) == 1
    mix, target = ds[0]
    folder = musdb_root / "train" / "B - two"
    assert tuple(mix.shape) == (2, 3 * SR)
    acc = sum(read(folder / f"{s}.wav") for s in ("drums", "bass", "other"))
    np.testing.assert_allclose(target.numpy(), acc, atol=1e-6)
    np.testing.assert_allclose(mix.numpy(), acc + read(folder / "vocals.wav"), atol=1e-6)
    ds.set_epoch(3)  # validation ignores the epoch
    assert torch.equal(ds[0][0], mix)


def test_musdb_valid_tracks_split(musdb_root, tmp_path):
    train = musdb_ds(musdb_root, valid_tracks=["B - two"], split="train")
    valid = musdb_ds(musdb_root, valid_tracks=["B - two"], split="valid")
    assert [t.name for t in train.tracks] == ["A - one", "C - three"]
    assert [t.name for t in valid.tracks] == ["B - two"]
    with pytest.raises(DatasetError, match="Nope"):
        musdb_ds(musdb_root, valid_tracks=["Nope"], split="valid")
    # musdb's own split: none of its validation names exist here
    assert len(musdb_ds(musdb_root, split="train").tracks) == 3
    with pytest.raises(DatasetError, match="no MUSDB track folders"):
        musdb_ds(musdb_root, split="valid")
    # valid_tracks.txt
    assert read_valid_tracks(tmp_path) is None
    (tmp_path / "valid_tracks.txt").write_text("B - two\n\n C - three \n")
    assert read_valid_tracks(tmp_path) == ["B - two", "C - three"]


def test_musdb_stats_sources(musdb_root, tmp_path):
    ds = musdb_ds(musdb_root, valid_tracks=[])
    assert ds.stats_sources() == [
        [musdb_root / "train" / n / "mixture.wav"] for n in ("A - one", "B - two", "C - three")
    ]
    root = make_musdb(tmp_path, names=("X - y",), mixture=False)
    files = musdb_ds(root, valid_tracks=[]).stats_sources()
    assert files == [[root / "train" / "X - y" / f"{s}.wav" for s in SOURCES]]


def test_musdb_errors(tmp_path):
    with pytest.raises(DatasetError, match="no MUSDB"):
        musdb_ds(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        musdb_ds(tmp_path / "missing")
    root = make_musdb(tmp_path, names=("A - one", "B - two"), seconds=1.0)
    os.remove(root / "train" / "B - two" / "bass.wav")
    with pytest.raises(DatasetError, match=r"B - two.bass\.wav"):
        musdb_ds(root, valid_tracks=[])
    with pytest.raises(ValueError):
        musdb_ds(root, target="piano")


def test_musdb_short_tracks(tmp_path):
    root = make_musdb(tmp_path, names=("A - long", "B - short"), mixture=False)
    for s in SOURCES:
        write(root / "train" / "B - short" / f"{s}.wav", noise(1, 0.5))
    with pytest.warns(ShortFileWarning, match="zero-padded"):
        ds = musdb_ds(root, valid_tracks=[], source_augmentations=None)
    mix, target = ds[4]  # first item of the short track
    assert tuple(mix.shape) == (2, SR)
    assert torch.all(mix[:, SR // 2 :] == 0) and torch.any(mix[:, : SR // 2] != 0)
    with pytest.warns(ShortFileWarning, match="skipping 1"):
        ds = musdb_ds(root, valid_tracks=[], short_tracks="skip")
    assert [t.name for t in ds.tracks] == ["A - long"] and len(ds) == 4


def test_musdb_stem_cache(tmp_path, monkeypatch):
    stempeg = pytest.importorskip("stempeg")
    stems = noise(3, 1.0, rate=44100)[None].repeat(5, axis=0).transpose(0, 2, 1) * 0.5
    (tmp_path / "train").mkdir()
    stem = tmp_path / "train" / "S - stem.stem.mp4"
    stempeg.write_stems(str(stem), stems, sample_rate=44100)
    ds = MUSDBDataset(tmp_path, seq_duration=0.25, samples_per_track=2, valid_tracks=[],
                      sample_rate=22050)
    cache = tmp_path / ".wav-cache" / "train" / "S - stem"
    assert not cache.exists()  # decoded on first use only
    mix, target = ds[1]
    assert tuple(mix.shape) == (2, 22050 // 4)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["mixture.wav"] + [f"{s}.wav" for s in SOURCES])
    assert ds.stats_sources() == [[cache / "mixture.wav"]]
    # a second dataset reuses the cache without decoding
    monkeypatch.setattr(data, "write_wav_cache", lambda *a, **k: pytest.fail("decoded twice"))
    ds2 = MUSDBDataset(tmp_path, seq_duration=None, split="valid", valid_tracks=["S - stem"],
                       sample_rate=44100)
    mix, target = ds2[0]
    # read from the same float wav at its own rate: equal bitwise (the tolerance is kept)
    np.testing.assert_allclose(target.numpy(), read(cache / "vocals.wav"), atol=1e-6)


# --------------------------------------------------------------------------- aligned


def test_aligned_shapes_alignment_determinism(tmp_path):
    for k in range(3):
        x = noise(k)
        write(tmp_path / "train" / f"t{k}" / "mixture.wav", x)
        write(tmp_path / "train" / f"t{k}" / "vocals.wav", 0.5 * x)
    ds = AlignedDataset(tmp_path, seq_duration=0.5, random_chunks=True, sample_rate=SR,
                        samples_per_track=2)
    assert len(ds) == 6
    mix, target = ds[3]
    assert_item((mix, target), 2, SR // 2)
    np.testing.assert_allclose(target.numpy(), 0.5 * mix.numpy(), atol=1e-7)  # halving is exact in float
    assert torch.equal(ds[3][0], mix)
    ds.set_epoch(1)
    assert not torch.equal(ds[3][0], mix)
    whole = AlignedDataset(tmp_path, sample_rate=SR)
    assert len(whole) == 3 and tuple(whole[0][0].shape) == (2, 3 * SR)
    assert whole.stats_sources()[0] == [tmp_path / "train" / "t0" / "mixture.wav"]


def test_resampling_preserves_frequency_and_mono_to_stereo(tmp_path):
    t = np.arange(3 * 22050) / 22050
    sine = (0.5 * np.sin(2 * np.pi * 440 * t))[None]  # mono, 22050 Hz
    write(tmp_path / "train" / "t" / "mixture.wav", sine, rate=22050)
    write(tmp_path / "train" / "t" / "vocals.wav", np.repeat(sine, 2, 0), rate=22050)
    ds = AlignedDataset(tmp_path, seq_duration=2.0, random_chunks=True, sample_rate=44100)
    mix, target = ds[0]
    assert_item((mix, target), 2, 88200)
    assert torch.equal(mix[0], mix[1])
    spec = np.abs(np.fft.rfft(mix[0].numpy()))
    freqs = np.fft.rfftfreq(mix.shape[-1], 1 / 44100)
    assert abs(freqs[spec.argmax()] - 440) < 1.0
    assert 0.45 < mix.abs().max() < 0.55
    whole = AlignedDataset(tmp_path, sample_rate=44100)
    assert whole[0][0].shape[-1] == 3 * 44100
    mono = AlignedDataset(tmp_path, seq_duration=1.0, sample_rate=22050, nb_channels=1)
    assert_item(mono[0], 1, 22050)


@pytest.mark.numerics
@pytest.mark.parametrize("file_rate", [22050, 48000])
def test_resampled_excerpt_equals_span_of_whole_resampled_file(tmp_path, file_rate):
    x = noise(0, 1.0, rate=file_rate)
    path = write(tmp_path / "x.wav", x, rate=file_rate)
    f = data.probe_file(path, 2)
    whole = data.read_excerpt(f, 0, None, 44100, 2)
    assert whole.shape == (2, 44100)
    for start in (0, 1234, 30000):
        part = data.read_excerpt(f, start, 10000, 44100, 2)
        ref = whole[:, start:start + 10000]
        # soxr's HQ resampler is specified to 20 bits: two runs over the same samples with other context
        # (processed in other blocks, by soxr's own SSE/AVX code) agree to ~2**-20 = 1e-6 of full scale
        # (1.0); 1e-5 (measured 1.2e-7)
        np.testing.assert_allclose(part[:, :ref.shape[1]], ref, atol=1e-5)
        assert np.all(part[:, ref.shape[1]:] == 0)


def test_aligned_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        AlignedDataset(tmp_path)
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="no track folders"):
        AlignedDataset(tmp_path)
    write(tmp_path / "train" / "t0" / "mixture.wav", noise(0))
    with pytest.raises(DatasetError, match=r"t0.vocals\.wav: missing"):
        AlignedDataset(tmp_path)


# --------------------------------------------------------------------------- unaligned


def test_unaligned(tmp_path, monkeypatch):
    root = make_unaligned(tmp_path)
    monkeypatch.setattr(audio, "load", lambda *a, **k: pytest.fail("loaded audio"))
    ds = UnalignedDataset(root, seq_duration=0.5, samples_per_track=5, sample_rate=SR,
                          source_augmentations=None)
    monkeypatch.undo()
    assert len(ds) == 2 * 5
    mix, target = ds[7]
    assert_item((mix, target), 2, SR // 2)
    # 0.1 + 0.2 + target - target in float32: 4 eps32 of sizes <= 0.5, 2.4e-7 (and 0.1f + 0.2f = 0.3 + 4e-9)
    np.testing.assert_allclose((mix - target).numpy(), 0.3, atol=1e-6)
    assert torch.equal(ds[7][1], target)
    ds.set_epoch(2)
    assert not torch.equal(ds[7][1], target)
    assert len(ds.stats_sources()) == 2 + 3 + 1
    assert all(len(group) == 1 for group in ds.stats_sources())
    aug = UnalignedDataset(root, seq_duration=0.5, sample_rate=SR)
    mix, target = aug[0]
    assert not torch.allclose(mix - target, torch.tensor(0.3))
    valid = UnalignedDataset(root, split="train", seq_duration=None, sample_rate=SR)
    assert len(valid) == 2 and tuple(valid[0][0].shape) == (2, 3 * SR)


def test_unaligned_errors_and_short(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        UnalignedDataset(tmp_path)
    root = make_unaligned(tmp_path)
    for f in (root / "train" / "music").iterdir():
        f.unlink()
    with pytest.raises(DatasetError, match=r"music: no \*\.wav files"):
        UnalignedDataset(root)
    write(root / "train" / "music" / "m.wav", noise(5, 0.25))
    with pytest.warns(ShortFileWarning):
        ds = UnalignedDataset(root, seq_duration=0.5, sample_rate=SR)
    assert_item(ds[0], 2, SR // 2)
    write(root / "train" / "music" / "long.wav", noise(6, 1.0))
    with pytest.warns(ShortFileWarning, match="skipping 1"):
        ds = UnalignedDataset(root, seq_duration=0.5, sample_rate=SR, short_tracks="skip")
    assert [f.path.name for f in ds.interference_files["music"]] == ["long.wav"]


# --------------------------------------------------------------------------- track folders


def test_fixed_sources(tmp_path):
    root = make_trackfolders(tmp_path)
    ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, random_chunks=True,
                                        random_track_mix=True, sample_rate=SR,
                                        samples_per_track=3)
    assert len(ds) == 9
    assert_item(ds[4], 2, SR // 2)
    assert torch.equal(ds[4][0], ds[4][0])
    ds.set_epoch(1)
    a = ds[4]
    ds.set_epoch(0)
    assert not torch.equal(ds[4][0], a[0])
    # mixture = sum of target and interferers: a dataset with the bass as target
    # draws identical excerpts, so the target difference is the other sources
    plain = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                           source_augmentations=None, random_chunks=False)
    mix, target = plain[1]
    folder = root / "train" / "track1"
    expected = sum(read(folder / f)[:, : SR // 2] for f in ("vocals.wav", "bass.wav", "drums.wav"))
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), read(folder / "vocals.wav")[:, : SR // 2])
    whole = FixedSourcesTrackFolderDataset(root, sample_rate=SR)
    assert len(whole) == 3 and tuple(whole[0][0].shape) == (2, 3 * SR)
    assert whole.stats_sources()[2] == [folder.parent / "track2" / f
                                        for f in ("vocals.wav", "bass.wav", "drums.wav")]
    os.remove(folder / "drums.wav")
    with pytest.raises(DatasetError, match=r"track1.drums\.wav: missing"):
        FixedSourcesTrackFolderDataset(root, sample_rate=SR)


def test_augmented_mixture_is_sum_of_sources(tmp_path):
    root = make_trackfolders(tmp_path)
    rec = Recorder()
    ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, random_chunks=True,
                                        random_track_mix=True, sample_rate=SR,
                                        source_augmentations=["gain", "channelswap", rec])
    mix, target = ds[2]
    assert len(rec.seen) == 3
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), rec.seen[0])
    rec.seen.clear()
    var = VariableSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                            source_augmentations=["gain", rec])
    mix, target = var[1]
    assert len(rec.seen) == 3
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    un_root = make_unaligned(tmp_path / "un")
    rec.seen.clear()
    un = UnalignedDataset(un_root, seq_duration=0.5, sample_rate=SR,
                          source_augmentations=["gain", "channelswap", rec])
    mix, target = un[3]
    assert len(rec.seen) == 3
    np.testing.assert_allclose(mix.numpy(), sum(rec.seen), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), rec.seen[0])


def test_variable_sources(tmp_path):
    make_trackfolders(tmp_path, n=2, files=("vocals.wav", "bass.wav"))
    write(tmp_path / "train" / "track2" / "piano.wav", noise(7))
    write(tmp_path / "train" / "track2" / "guitar.wav", noise(8))
    with pytest.warns(UserWarning, match="without vocals.wav"):
        ds = VariableSourcesTrackFolderDataset(tmp_path, sample_rate=SR)
    assert len(ds) == 2
    mix, target = ds[1]
    folder = tmp_path / "train" / "track1"
    expected = read(folder / "vocals.wav") + read(folder / "bass.wav")
    np.testing.assert_allclose(mix.numpy(), expected, atol=1e-6)
    silent = VariableSourcesTrackFolderDataset(tmp_path, sample_rate=SR, seq_duration=0.5,
                                               silence_missing_targets=True, samples_per_track=2,
                                               source_augmentations=None, random_chunks=False)
    assert len(silent) == 6
    mix, target = silent[4]
    assert_item((mix, target), 2, SR // 2)
    assert torch.all(target == 0)
    folder = tmp_path / "train" / "track2"
    np.testing.assert_allclose(
        mix.numpy(), (read(folder / "piano.wav") + read(folder / "guitar.wav"))[:, : SR // 2],
        atol=1e-6)
    aug = VariableSourcesTrackFolderDataset(tmp_path, sample_rate=SR, seq_duration=0.5,
                                            silence_missing_targets=True, random_chunks=True)
    assert torch.equal(aug[0][0], aug[0][0])
    assert len(silent.stats_sources()[2]) == 2
    (tmp_path / "empty" / "t").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no \\*\\.wav source files"):
        VariableSourcesTrackFolderDataset(tmp_path, split="empty")


def test_trackfolder_short_tracks(tmp_path):
    root = make_trackfolders(tmp_path, n=2, seconds=1.0)
    write(root / "train" / "track1" / "bass.wav", noise(0, 0.25, channels=1))
    with pytest.warns(ShortFileWarning, match="bass.wav"):
        ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                            source_augmentations=None)
    mix, target = ds[1]
    assert_item((mix, target), 2, SR // 2)
    with pytest.warns(ShortFileWarning, match="skipping 1"):
        ds = FixedSourcesTrackFolderDataset(root, seq_duration=0.5, sample_rate=SR,
                                            short_tracks="skip")
    assert len(ds) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FixedSourcesTrackFolderDataset(root, sample_rate=SR)  # whole tracks: never short


# --------------------------------------------------------------------------- load_datasets


def test_load_datasets_all_layouts(tmp_path):
    common = dict(seq_duration=0.5, samples_per_track=2, sample_rate=SR, nb_channels=2, seed=1)

    musdb_root = make_musdb(tmp_path / "musdb", seconds=1.0)
    (musdb_root / "valid_tracks.txt").write_text("C - three\n")
    train, valid = load_datasets("musdb", musdb_root, target="accompaniment", is_wav=True,
                                 subset="train", **common)
    assert (len(train), len(valid)) == (4, 1)
    assert_item(train[0], 2, SR // 2)
    assert_item(valid[0], 2, SR)

    for split in ("train", "valid"):
        for k in range(2):
            write(tmp_path / "aligned" / split / f"t{k}" / "mixture.wav", noise(k, 1.0))
            write(tmp_path / "aligned" / split / f"t{k}" / "drums.wav", noise(k + 5, 1.0))
        make_unaligned(tmp_path / "unaligned", split, seconds=1.0)
        make_trackfolders(tmp_path / "fix", split, n=2, seconds=1.0)
        make_trackfolders(tmp_path / "var", split, n=2, files=("vocals.wav", "x.wav"), seconds=1.0)

    train, valid = load_datasets("aligned", tmp_path / "aligned", target="drums", **common)
    assert (len(train), len(valid)) == (4, 2) and valid[0][0].shape[-1] == SR
    train, valid = load_datasets("unaligned", tmp_path / "unaligned", interferences=["noise"],
                                 is_wav=None, **common)
    assert (len(train), len(valid)) == (4, 2)
    assert_item(valid[1], 2, SR // 2)
    assert torch.equal(valid[1][0], valid[1][0])
    train, valid = load_datasets("trackfolder_fix", tmp_path / "fix",
                                 interferer_files=["bass.wav"], **common)
    assert (len(train), len(valid)) == (4, 2)
    train, valid = load_datasets("trackfolder_var", tmp_path / "var", **common)
    assert (len(train), len(valid)) == (4, 2)
    folder = tmp_path / "var" / "valid" / "track0"
    expected = read(folder / "vocals.wav") + read(folder / "x.wav")
    np.testing.assert_allclose(valid[0][0].numpy(), expected, atol=1e-6)

    with pytest.raises(DatasetError, match="unknown dataset"):
        load_datasets("nope", tmp_path)
    with pytest.raises(TypeError):
        load_datasets("aligned", tmp_path / "aligned", bogus=1)


def test_items_do_not_depend_on_dataloader_workers(musdb_root):
    import multiprocessing

    from torch.utils.data import DataLoader

    ds = musdb_ds(musdb_root, valid_tracks=[], seq_duration=0.25, random_track_mix=True)
    ds.set_epoch(3)
    ctx = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    serial = torch.cat([m for m, _ in DataLoader(ds, batch_size=3, num_workers=0)])
    parallel = torch.cat([m for m, _ in DataLoader(ds, batch_size=3, num_workers=2,
                                                   multiprocessing_context=ctx)])
    assert torch.equal(serial, parallel)


# --------------------------------------------------------------------------- names checked against the data


def one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_dataset_names_registry_order():
    assert data.dataset_names() == ["musdb", "aligned", "unaligned", "trackfolder_fix", "trackfolder_var"]
    assert "joint_targets" in data.layout_options("musdb")
    with pytest.raises(DatasetError) as err:
        data.layout_options("kazoo")
    assert one_line(err) == (
        "unknown dataset 'kazoo'; choose one of musdb, aligned, unaligned, trackfolder_fix, trackfolder_var"
    )


def test_register_layout_rejects_a_second_builder():
    with pytest.raises(ValueError, match="already registered"):
        data.register_layout("musdb", lambda *a, **k: None, ())


def test_layouts_declare_their_options_as_data():
    options = {opt.name: (opt, layouts) for opt, layouts in data.dataset_options()}
    assert len(options) == len(data.dataset_options())  # each name once
    ext, users = options["ext"]
    assert ext.flag == "--ext" and users == ("unaligned", "trackfolder_var")
    assert options["silence_missing_targets"][0].flag == "--silence-missing"
    assert options["short_tracks"][0].choices == ("pad", "skip") and len(options["short_tracks"][1]) == 5
    assert options["joint_targets"][0].flag is None  # for load_datasets callers only
    # a shared option is one declaration, named by each layout that takes it
    assert data.layout_declarations("unaligned")[1] is data.layout_declarations("trackfolder_var")[1] is ext
    with pytest.raises(ValueError, match="kind must be"):
        data.DatasetOption("level", kind=list)
    with pytest.raises(ValueError, match="must start with --"):
        data.DatasetOption("level", flag="-l")


@pytest.fixture
def scratch_registry(monkeypatch):
    """Layouts registered by a test go when it ends."""
    from openunmix.data import registry

    monkeypatch.setattr(registry, "_LAYOUTS", dict(registry._LAYOUTS))


def test_an_option_declared_otherwise_is_refused(scratch_registry):
    other = data.DatasetOption("ext", "extension", flag="--extension")
    with pytest.raises(ValueError, match="dataset layout 'mine': option 'ext' is declared otherwise by layout"):
        data.register_layout("mine", lambda *a, **k: None, (other,))


def test_a_registered_layout_gets_train_flags_for_its_options(scratch_registry, tmp_path):
    from openunmix.commands.train import build_parser, parse_args

    seen = {}

    def build(root, target, settings, **options):
        seen.update(options)
        return [], []

    gain = data.DatasetOption("gain_db", "gain of every excerpt in dB", flag="--gain-db", kind=float, metavar="DB")
    loud = data.DatasetOption("loud", "louder excerpts", flag="--loud", kind=bool, switch=True)
    data.register_layout("test_layout", build, (gain, loud, "short_tracks"))
    text = " ".join(build_parser().format_help().split())
    assert "--gain-db DB test_layout: gain of every excerpt in dB" in text
    assert "--loud test_layout: louder excerpts" in text
    assert "--short-tracks {pad,skip} every layout: tracks shorter" in text  # it takes short_tracks too
    assert "--ext EXT unaligned, trackfolder_var: audio file extension" in text
    cfg = parse_args(["--root", str(tmp_path), "--dataset", "test_layout", "--gain-db", "-3.5", "--loud",
                      "--short-tracks", "skip"])
    assert cfg.dataset == "test_layout"
    assert {k: cfg.dataset_options[k] for k in ("gain_db", "loud", "short_tracks")} == {
        "gain_db": -3.5, "loud": True, "short_tracks": "skip"}
    data.load_datasets(cfg.dataset, cfg.root, **cfg.dataset_options)
    assert seen == {"gain_db": -3.5, "loud": True, "short_tracks": "skip"}  # only its own options
    with pytest.raises(SystemExit):
        parse_args(["--root", str(tmp_path), "--gain-db", "loud"])
    assert parse_args(["--root", str(tmp_path), "--dataset", "test_layout"]).dataset_options.get("gain_db") is None


def test_unknown_musdb_target_lists_targets(musdb_root, tmp_path):
    expected = "unknown MUSDB target 'kazoo'; choose one of vocals, drums, bass, other, accompaniment"
    with pytest.raises(DatasetError) as err:
        load_datasets("musdb", musdb_root, target="kazoo", is_wav=True, sample_rate=SR)
    assert one_line(err) == expected
    # checked before the tracks are listed: a root without tracks gives the same error
    with pytest.raises(DatasetError) as err:
        load_datasets("musdb", tmp_path / "missing", target="kazoo", is_wav=True)
    assert one_line(err) == expected
    with pytest.raises(DatasetError, match="^unknown MUSDB target 'piano'; choose one of vocals,"):
        musdb_ds(musdb_root, joint_targets=["vocals", "piano"])


def test_unknown_augmentation_lists_known_ones(musdb_root):
    with pytest.raises(DatasetError) as err:
        load_datasets("musdb", musdb_root, is_wav=True, sample_rate=SR,
                      source_augmentations=["gain", "reverb"])
    assert one_line(err) == "unknown source augmentation 'reverb'; known: gain, channelswap (or a callable)"
    assert data.augmentation_names() == ("gain", "channelswap")


def test_missing_target_file_names_file_and_track(tmp_path):
    for split in ("train", "valid"):
        for k in range(2):
            write(tmp_path / "aligned" / split / f"t{k}" / "mixture.wav", noise(k, 1.0))
            write(tmp_path / "aligned" / split / f"t{k}" / "drums.wav", noise(k + 5, 1.0))
        make_trackfolders(tmp_path / "fix", split, n=2, seconds=1.0)
        make_trackfolders(tmp_path / "var", split, n=2, seconds=1.0)
        make_unaligned(tmp_path / "unaligned", split, seconds=1.0)
    common = dict(target="kazoo", seq_duration=0.5, sample_rate=SR)

    with pytest.raises(DatasetError) as err:
        load_datasets("aligned", tmp_path / "aligned", **common)
    assert one_line(err) == (
        f"{tmp_path / 'aligned' / 'train' / 't0' / 'kazoo.wav'}: missing output file; "
        "t0 holds drums.wav, mixture.wav"
    )
    with pytest.raises(DatasetError) as err:
        load_datasets("trackfolder_fix", tmp_path / "fix", **common)
    assert one_line(err) == (
        f"{tmp_path / 'fix' / 'train' / 'track0' / 'kazoo.wav'}: missing source file; "
        "track0 holds bass.wav, drums.wav, vocals.wav"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error alone, no warning about each track first
        with pytest.raises(DatasetError) as err:
            load_datasets("trackfolder_var", tmp_path / "var", **common)
    assert one_line(err) == (
        f"{tmp_path / 'var' / 'train'}: no track folder holds kazoo.wav "
        "(track0 holds bass.wav, drums.wav, vocals.wav)"
    )
    with pytest.raises(DatasetError) as err:
        load_datasets("unaligned", tmp_path / "unaligned", **common)
    where = tmp_path / "unaligned" / "train"
    assert one_line(err) == (
        f"{where / 'kazoo'}: no such folder for the target; {where} holds music, noise, vocals"
    )
    with pytest.raises(DatasetError) as err:
        load_datasets("unaligned", tmp_path / "unaligned", interferences=["noise", "drums"],
                      seq_duration=0.5, sample_rate=SR)
    assert one_line(err).startswith(f"{where / 'drums'}: no such folder for the interference;")


def test_many_names_are_cut_short(tmp_path):
    for k in range(20):
        write(tmp_path / "train" / "t0" / f"s{k:02d}.wav", noise(k, 0.1))
    with pytest.raises(DatasetError) as err:
        AlignedDataset(tmp_path, sample_rate=SR)
    assert one_line(err).endswith("t0 holds s00.wav, s01.wav, s02.wav, s03.wav, s04.wav, s05.wav, "
                                  "s06.wav, s07.wav, s08.wav, s09.wav, s10.wav, s11.wav, and 8 more")


def test_train_with_an_unknown_target_ends_in_one_line(tmp_path):
    from conftest import run_script

    root = make_musdb(tmp_path / "musdb", names=("A - one", "B - two"), seconds=0.5, mixture=False)
    (root / "valid_tracks.txt").write_text("B - two\n")
    proc = run_script("train.py", "--root", root, "--is-wav", "--target", "kazoo",
                      "--output", tmp_path / "out", "--epochs", "1")
    assert proc.returncode == 1
    assert proc.stderr == (
        "error: unknown MUSDB target 'kazoo'; choose one of vocals, drums, bass, other, accompaniment\n"
    )


def test_import_is_light_and_sources_are_plain_names():
    import ast
    import subprocess
    import sys

    code = ("import sys, openunmix.data; "
            "print(sorted(m for m in ('musdb', 'museval', 'matplotlib', 'scipy') if m in sys.modules))")
    from conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    from openunmix.data import sources

    tree = ast.parse(Path(sources.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"typing"}
    assert sources.MUSDB_SOURCES == ("vocals", "drums", "bass", "other")
    assert sources.MUSDB_TARGETS == sources.MUSDB_SOURCES + ("accompaniment",)
    assert data.MUSDB_TARGETS is sources.MUSDB_TARGETS
