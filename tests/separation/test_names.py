"""openunmix.separation.names: output folders named after what tells colliding inputs apart, never like audio."""

import pytest

from openunmix.separation.names import AUDIO_SUFFIXES, output_names


@pytest.mark.parametrize("inputs, names", [
    (["a/x.wav", "b/y.wav"], ["x", "y"]),  # unique stems: the stem
    # MUSDB's layout: every track is mixture.wav; the track folder tells them apart
    (["musdb/test/Al James - Schoolboy Facination/mixture.wav", "musdb/test/AM Contra - Heart Peripheral/mixture.wav"],
     ["Al James - Schoolboy Facination", "AM Contra - Heart Peripheral"]),
    (["a/song.wav", "b/song.flac", "c/other.wav"], ["a", "b", "other"]),
    # the same track folder name in two subsets: one level up as well
    (["musdb/train/T/mixture.wav", "musdb/test/T/mixture.wav", "musdb/test/U/mixture.wav"],
     ["train_T", "test_T", "test_U"]),  # every input of a collision goes as far up as any needs
    # the same folder, other extensions: the extension without its dot
    (["a/song.wav", "a/song.flac"], ["song_wav", "song_flac"]),
    # neither alone: folders, stem and extension
    (["a/song.wav", "a/song.flac", "b/song.wav"], ["a_song_wav", "a_song_flac", "b_song_wav"]),
    # listed twice: a counter
    (["a/song.wav", "a/song.wav"], ["song_1", "song_2"]),
    (["a/song.wav", "./a/song.wav"], ["song_1", "song_2"]),
    # a stem that itself ends like an audio file
    (["take.flac.wav", "other.mp3"], ["take_flac", "other"]),
    # relative paths that climb out of the current folder
    (["../x/mixture.wav", "../y/mixture.wav"], ["x", "y"]),
])
def test_output_names_tell_colliding_inputs_apart(inputs, names):
    assert output_names(inputs) == names


def test_no_output_name_looks_like_an_audio_file():
    inputs = ["a/mixture.wav", "b/mixture.wav", "a/mixture.flac", "x/s.mp3.wav", "y/s.ogg", "y/s.ogg",
              "mixture.wav", "z.aiff"]
    names = output_names(inputs)
    assert len(set(names)) == len(names)
    for name in names:
        assert not any(name.lower().endswith(suffix) for suffix in AUDIO_SUFFIXES), name
