"""Formulas computed independently of the package, for the tests to check it against."""

import numpy as np

from openunmix import losses


def np_wsdr(est, ref, mix, eps=losses.EPS):
    """Weighted SDR loss of one signal pair, from the formula."""
    n, n_hat = mix - ref, mix - est

    def cos(a, b):
        return np.dot(a, b) / (np.sqrt(np.dot(a, a) + eps) * np.sqrt(np.dot(b, b) + eps))

    alpha = np.dot(ref, ref) / (np.dot(ref, ref) + np.dot(n, n) + eps)
    return -(alpha * cos(ref, est) + (1 - alpha) * cos(n, n_hat))
