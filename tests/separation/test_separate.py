"""openunmix.separation.separate: segments and their plan, blocks streamed through the plan, files with
background reading and writing. test.py end to end: tests/programs/test_separate.py."""

import threading

import numpy as np
import soundfile as sf
import torch

from conftest import write_tone
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.separation.plan import segment_plan
from openunmix.separation.separate import PipelineStats, separate, separate_blocks, separate_file


def test_segmented_equals_whole_when_one_segment(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    x = torch.rand(2, 16000 * 3) - 0.5
    whole = separate(sep, x, segment=None)
    one = separate(sep, x, segment=10.0)
    # one segment is the whole input through the same separator call: the same operations in one process,
    # equal bitwise (measured); allclose's tolerance is kept
    assert torch.allclose(whole, one, atol=1e-6)


def test_segmented_close_to_whole(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 16000 * 12)).astype(np.float32) * 0.2)
    whole = separate(sep, x, segment=None)
    parts = separate(sep, x, segment=4.0, overlap=1.0)
    assert parts.shape == whole.shape
    err = (parts - whole).pow(2).sum() / whole.pow(2).sum()
    # random tiny models: close, not equal (LSTM context and filter statistics). Not a rounding bound: the
    # segments' own context gives 5.3e-5 here, rounding on any kernel ~1e-12 of that energy
    assert err < 0.05


def test_separate_file_resamples_and_keeps_length(tmp_path, model_dir):
    sep = load_separator(model_dir)
    src = write_tone(tmp_path / "in.flac", seconds=1.3, rate=22050, channels=1)
    out = separate_file(sep, src, tmp_path / "out", segment=0.5, overlap=0.1)
    assert set(out) == {"drums", "vocals"}
    for path in out.values():
        info = sf.info(str(path))
        assert info.samplerate == 22050 and info.frames == int(1.3 * 22050) and info.channels == 2
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def _pipeline_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("openunmix-")]


def test_streamed_blocks_follow_the_plan_and_equal_in_memory_separation(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    rate = int(sep.sample_rate)
    x = (np.random.default_rng(1).standard_normal((2, int(5.3 * rate))) * 0.2).astype(np.float32)
    seg, ov = 2 * rate, rate // 4
    sizes = []
    blocks = [x[:, i : i + 7777] for i in range(0, x.shape[-1], 7777)]
    streamed = np.concatenate(list(separate_blocks(sep, blocks, seg, ov, on_segment=sizes.append,
                                                   length=x.shape[-1], batch=1)), axis=-1)
    plan = segment_plan(x.shape[-1], seg, ov)
    assert len(sizes) == len(plan) == 3 and sum(sizes) == x.shape[-1]
    sep.segment_batch = 1  # what separate() passes on
    whole = separate(sep, torch.from_numpy(x), segment=2.0, overlap=0.25).numpy()
    # the same segments through the same separator calls in one process, whatever the block sizes: equal
    np.testing.assert_array_equal(streamed, whole)
    # a stream longer than announced (a resampler's extra samples) still gives every sample
    longer = list(separate_blocks(sep, blocks, seg, ov, length=x.shape[-1] - 100))
    assert sum(b.shape[-1] for b in longer) == x.shape[-1]


def test_background_reading_and_writing_give_the_same_files(tmp_path, model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    song = write_tone(tmp_path / "song.flac", seconds=4.3, rate=22050)  # resampled in and out
    stats = PipelineStats()
    back = separate_file(sep, song, tmp_path / "bg", segment=1.0, overlap=0.2, background=True, stats=stats)
    fore = separate_file(sep, song, tmp_path / "fg", segment=1.0, overlap=0.2, background=False)
    for name, path in back.items():
        a, rate = sf.read(str(path), dtype="int16")
        b, _ = sf.read(str(fore[name]), dtype="int16")
        assert rate == 22050 and a.shape == (int(4.3 * 22050), 2)
        np.testing.assert_array_equal(a, b)  # the same computation, only in other threads
    assert stats.segments == len(segment_plan(int(round(4.3 * 16000)), 16000, 3200)) == 6
    assert stats.input_wait >= 0 and stats.read > 0 and stats.write > 0 and stats.total > 0
    assert not _pipeline_threads()
    assert sorted(p.name for p in (tmp_path / "bg").iterdir()) == ["drums.wav", "vocals.wav"]


def test_batched_segments_equal_one_at_a_time(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    rate = int(sep.sample_rate)
    seg, ov = rate, rate // 5
    # four segments of exactly 16000 samples: the same plan one at a time and two at a time
    x = (np.random.default_rng(2).standard_normal((2, 4 * seg - 3 * ov)) * 0.2).astype(np.float32)
    blocks = [x[:, i : i + 5000] for i in range(0, x.shape[-1], 5000)]
    assert segment_plan(x.shape[-1], seg, ov) == segment_plan(x.shape[-1], seg, ov, 2)
    one = np.concatenate(list(separate_blocks(sep, blocks, seg, ov, length=x.shape[-1], batch=1)), axis=-1)
    sizes = []
    two = np.concatenate(list(separate_blocks(sep, blocks, seg, ov, length=x.shape[-1], batch=2,
                                              on_segment=sizes.append)), axis=-1)
    assert one.shape == two.shape == (len(sep.source_names), 2, x.shape[-1]) and len(sizes) == 4 and sum(sizes) == x.shape[-1]
    # the same segments, batched: only the matrix products may round differently (bitwise equal here with
    # default and AVX2 kernels); 1e-4 of the peak leaves room for other kernels and is far below what a
    # change of segments or context gives (1e-2 and more, test_segmented_close_to_whole)
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-4 * np.abs(one).max())


def test_batched_segments_of_unequal_length_and_streams_longer_or_shorter_than_announced(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    rate = int(sep.sample_rate)
    seg, ov = rate, rate // 5
    x = (np.random.default_rng(3).standard_normal((2, int(4.37 * rate))) * 0.2).astype(np.float32)
    blocks = [x[:, i : i + 3333] for i in range(0, x.shape[-1], 3333)]
    for announced in (x.shape[-1], x.shape[-1] - 700, x.shape[-1] + 5):
        for batch in (2, 3):
            sizes = []
            out = list(separate_blocks(sep, blocks, seg, ov, length=announced, batch=batch, on_segment=sizes.append))
            assert sum(b.shape[-1] for b in out) == x.shape[-1] == sum(sizes)
            got = np.concatenate(out, axis=-1)
            sep.segment_batch = 1
            ref = separate(sep, torch.from_numpy(x), segment=seg / rate, overlap=ov / rate).numpy()
            sep.segment_batch = None
            # other segments than one at a time (a plan of a multiple of K): close as segmentations are
            # (test_segmented_close_to_whole's bound)
            assert ((got - ref) ** 2).sum() / (ref**2).sum() < 0.05
