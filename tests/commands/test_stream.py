"""openunmix.commands.stream: names on the command line are checked against the model's before stdin is read."""

import pytest

from helpers.causal import RATE


# frame-sized work runs best on one thread (conftest.one_thread), and the suite shares its cores
pytestmark = pytest.mark.usefixtures("one_thread")


def test_unknown_source_or_target_is_refused_before_reading(tmp_path, causal_dir, capsys):
    """Names on the command line are checked against the model's before stdin is read, in one line listing them."""
    from openunmix.commands.stream import main

    base = [str(causal_dir), "--rate", str(RATE), "--channels", "2"]
    assert main(base + ["--source", "kazoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --source kazoo: not one of this model's sources (drums, vocals)"]
    assert main(base + ["--targets", "kazoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no model for target 'kazoo' (available: drums, vocals)" in err[0]
