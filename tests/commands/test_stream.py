"""openunmix.commands.stream: names on the command line are checked against the model's before stdin is read."""

import pytest
import torch

from helpers.causal import RATE, make_causal_folder


@pytest.fixture(autouse=True)
def one_thread():
    """Frame-sized work runs best on one thread (and the suite shares its cores); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)



@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory):
    return make_causal_folder(tmp_path_factory.mktemp("causal") / "model")



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
