"""openunmix.training.config: the early-stopping rule."""

from openunmix.training import EarlyStopping


def test_early_stopping_rule():
    es = EarlyStopping(patience=2)
    assert [es.step(v) for v in (3.0, 2.0, 2.5, 1.0, 1.5, 1.2)] == [False, False, False, False, False, True]
    assert es.best == 1.0 and es.num_bad_epochs == 2
