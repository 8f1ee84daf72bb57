"""openunmix.evaluation.scoring: the whole-track SDR formula."""

import numpy as np
import pytest

from openunmix.evaluation.scoring import global_sdr


def test_global_sdr_formula():
    ref = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 0.0]])
    assert global_sdr(ref, ref) == pytest.approx(10 * np.log10((6.25 + 1e-7) / 1e-7))
    assert global_sdr(ref, 0.5 * ref) == pytest.approx(10 * np.log10(4.0), abs=1e-6)
    assert global_sdr(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0  # silent reference: no NaN


def test_wav_sources_read_directly_are_what_musdb_decodes(musdb_root):
    """The direct wav reading of cached_sources gives musdb's (ffmpeg's 16-bit) values exactly, so BSSEval and
    the whole-track metrics score the same references either way."""
    import numpy as np

    from openunmix.evaluation.scoring import wav_as_musdb_reads_it
    from openunmix.evaluation.tracks import list_tracks

    track = list_tracks(musdb_root, "test", is_wav=True)[0]
    for source in track.sources.values():
        direct = wav_as_musdb_reads_it(source.path, track.rate)
        assert direct is not None and np.array_equal(direct, source.audio)  # exact: the same 16-bit values
        source.audio = None
    assert wav_as_musdb_reads_it(musdb_root / "dataset.json", None) is None
