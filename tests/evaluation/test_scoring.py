"""openunmix.evaluation.scoring: the whole-track SDR formula."""

import numpy as np
import pytest

from openunmix.evaluation.scoring import global_sdr


def test_global_sdr_formula():
    ref = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 0.0]])
    assert global_sdr(ref, ref) == pytest.approx(10 * np.log10((6.25 + 1e-7) / 1e-7))
    assert global_sdr(ref, 0.5 * ref) == pytest.approx(10 * np.log10(4.0), abs=1e-6)
    assert global_sdr(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0  # silent reference: no NaN
