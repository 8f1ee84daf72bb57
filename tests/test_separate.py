"""Separation of files: the package API and test.py end to end."""

import numpy as np
import soundfile as sf
import torch

from conftest import make_model_folder, run_script, write_tone
from openunmix.filtering import FilterSettings
from openunmix.models.hub import load_separator
from openunmix.separation.separate import separate, separate_file


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


def test_inputs_with_the_same_name_get_their_own_folders(tmp_path):
    from openunmix.separation.separate import output_names

    assert output_names(["a/x.wav", "b/y.wav"]) == ["x", "y"]
    assert output_names(["a/song.wav", "b/song.flac", "c/other.wav"]) == ["song.wav", "song.flac", "other"]
    assert output_names(["a/song.wav", "b/song.wav"]) == ["a_song.wav", "b_song.wav"]
    assert output_names(["a/song.wav", "a/song.wav"]) == ["a_song.wav_1", "a_song.wav_2"]
    model = make_model_folder(tmp_path / "model", targets=("vocals",))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_tone(tmp_path / "a" / "song.wav", seed=1)
    two = write_tone(tmp_path / "b" / "song.wav", seed=2)
    r = run_script("test.py", model, "--input", one, two, "--outdir", tmp_path / "sep", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "sep").iterdir()) == ["a_song.wav", "b_song.wav", "manifest.jsonl"]
