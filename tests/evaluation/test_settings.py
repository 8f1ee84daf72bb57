"""openunmix.evaluation.settings: EvaluationSettings holds every setting of a run in one value; its defaults
are eval.py's, a bad value is one line."""

import pytest

from openunmix.separation.separate import SeparationSettings


def test_evaluation_settings_defaults_match_eval_py():
    from openunmix.commands.evaluate import build_parser
    from openunmix.evaluation import EvaluationSettings

    s = EvaluationSettings(root="musdb")
    a = build_parser().parse_args(["--root", "musdb"])
    assert (s.subset, s.is_wav, s.outdir, s.evaldir, s.cores) == (a.subset, a.is_wav, a.outdir, a.evaldir, a.cores)
    assert (s.model, s.targets, s.tracks, s.report, s.force, s.baseline, s.report_wav) == (
        None, None, None, None, False, False, False)
    assert not s.estimates_only and not s.score_only and s.progress
    assert s.separation == SeparationSettings() and s.shard.whole
    assert EvaluationSettings(root="r", tracks=["a", "b"]).tracks == ("a", "b")  # lists kept as tuples
    with pytest.raises(AttributeError):
        s.cores = 2  # frozen


@pytest.mark.parametrize("kwargs, message", [
    (dict(subset="valid"), "subset: 'valid' is not one of 'train', 'test'"),
    (dict(cores=0), "cores: needs a whole number of at least 1, got 0"),
    (dict(tracks="one"), "tracks: needs a list of names, got 'one'"),
    (dict(targets=[]), "targets: an empty list; leave it out (None) for all"),
    (dict(root=""), "root: needs a path, got ''"),
    (dict(estimates_only=True, report="page"), "report: the listening page needs scores; not with estimates_only"),
    (dict(report_wav=True), "report_wav: only with report DIR"),
    (dict(estimates_only=True, score_only=True), "score_only: not allowed with estimates_only"),
    (dict(separation="cpu"), "separation: needs a SeparationSettings, got str"),
])
def test_evaluation_settings_bad_value_is_one_line(kwargs, message):
    from openunmix.evaluation import EvaluationSettings, SettingError

    with pytest.raises(SettingError) as caught:
        EvaluationSettings(**{"root": "musdb", **kwargs})
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == message and "\n" not in str(caught.value)
