"""Issue 20: the segment plan, background reading and writing, and target models side by side."""

import itertools
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, make_model_folder, sum_rtol, write_tone
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.separation.separate import PipelineStats, segment_plan, separate, separate_blocks, separate_file


def _pipeline_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("openunmix-")]


def test_segment_plan_one_segment_when_it_fits_else_equal_segments_overlapping_by_the_cross_fade():
    for length, segment, overlap in itertools.product(range(0, 60), range(1, 13), range(0, 12)):
        if overlap >= segment:
            continue
        plan = segment_plan(length, segment, overlap)
        if length <= segment:
            assert plan == [(0, length)]
            continue
        sizes = [end - start for start, end in plan]
        assert plan[0][0] == 0 and plan[-1][1] == length  # covers the signal
        assert max(sizes) <= segment and max(sizes) - min(sizes) <= 1  # equal to a sample, none too long
        assert all(a[1] - b[0] == overlap for a, b in zip(plan, plan[1:]))  # overlaps are the cross-fade
        assert all(b[0] > a[0] for a, b in zip(plan, plan[1:]))
        # the fewest segments: one fewer could not cover the signal with segments of at most `segment`
        assert (len(plan) - 1) * segment - (len(plan) - 2) * overlap < length
    # 60 s at 44.1 kHz in 30 s segments with 4 s cross-fades: three segments of 22.67 s, not 30 + 30 + 8 s
    plan = segment_plan(60 * 44100, 30 * 44100, 4 * 44100)
    assert [e - s for s, e in plan] == [999600] * 3
    with pytest.raises(ValueError):
        segment_plan(10, 4, 4)


def test_streamed_blocks_follow_the_plan_and_equal_in_memory_separation(model_dir):
    sep = load_separator(model_dir, filter=FilterSettings(niter=1))
    rate = int(sep.sample_rate)
    x = (np.random.default_rng(1).standard_normal((2, int(5.3 * rate))) * 0.2).astype(np.float32)
    seg, ov = 2 * rate, rate // 4
    sizes = []
    blocks = [x[:, i : i + 7777] for i in range(0, x.shape[-1], 7777)]
    streamed = np.concatenate(list(separate_blocks(sep, blocks, seg, ov, on_segment=sizes.append,
                                                   length=x.shape[-1])), axis=-1)
    plan = segment_plan(x.shape[-1], seg, ov)
    assert len(sizes) == len(plan) == 3 and sum(sizes) == x.shape[-1]
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


@pytest.mark.numerics
def test_target_models_side_by_side_equal_one_after_the_other(tmp_path):
    model = make_model_folder(tmp_path / "model", targets=("vocals", "drums", "bass"))
    sep = load_separator(model, filter=FilterSettings(niter=1, wiener_win_len=50))  # 6 filter windows
    x = torch.from_numpy((np.random.default_rng(2).standard_normal((1, 2, 16000 * 2)) * 0.2).astype(np.float32))
    mag = sep.complexnorm(sep.stft(x))
    threads = torch.get_num_threads()
    results = {}
    for parallel in (False, True):
        sep.parallel_targets = sep.parallel_filter = parallel
        with torch.inference_mode():
            results[parallel] = (sep.estimate_magnitudes(mag), sep(x))
        assert torch.get_num_threads() == threads  # the caller's thread count is kept
        assert not _pipeline_threads()
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == [threads]  # and so is the count that threads started later take
    # the same models on the same input; only the thread count of each model's kernels may differ (the
    # caller's against one per worker), which reorders sums: fc1 (2 channels x 200 bins), the LSTM gates
    # (16 inputs + 8 recurrent), fc2 (32), fc3 (16), and the filter's sums over a window's 50 frames (the
    # statistics) and 5 sources (the mixture covariance); the inverse STFT runs alike in both
    rtol = sum_rtol(400, 24, 32, 16, 50, 5)
    for a, b in zip(results[True], results[False]):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * float(b.abs().max()))
    # an error in a worker is raised in the caller, after every worker is joined
    sep.parallel_targets = sep.parallel_filter = True
    with pytest.raises(RuntimeError), torch.inference_mode():
        sep.estimate_magnitudes(mag[:, :, :100])
    assert not _pipeline_threads()


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
