"""openunmix.architectures.registry: the registered architectures, their options and capabilities. A third
architecture as a plug-in, end to end: tests/programs/test_plugins.py."""

import pytest
import torch

from openunmix import architectures


def test_registry_lists_and_refuses_in_one_line():
    assert architectures.names()[:2] == ["umx", "xumx"]
    assert architectures.default().name == "umx"
    with pytest.raises(architectures.ArchitectureError, match="unknown architecture 'kazoo'; registered: umx, xumx"):
        architectures.get("kazoo")
    # training options are data, checked against their declaration
    joint = architectures.get("xumx")
    # the branches' settings are Open-Unmix's, declared once; then the loss's own
    model_flags = [("nfft", "--nfft"), ("nhop", "--nhop"), ("bandwidth", "--bandwidth"),
                   ("hidden_size", "--hidden-size"), ("nb_layers", "--nb-layers"), ("unidirectional", "--unidirectional")]
    assert [(o.name, o.flag_name) for o in architectures.default().options] == model_flags
    assert [(o.name, o.flag_name) for o in joint.options] == model_flags + [("mcoef", "--mcoef"),
                                                                            ("combination", "--no-combination")]
    assert joint.check_options({}) == {"nfft": 4096, "nhop": 1024, "bandwidth": 16000.0, "hidden_size": 512,
                                       "nb_layers": 3, "unidirectional": False, "mcoef": 10.0, "combination": True}
    with pytest.raises(architectures.ArchitectureError, match="no option 'depth'.*mcoef, combination"):
        joint.check_options({"depth": 3})
    with pytest.raises(architectures.ArchitectureError, match="mcoef"):
        joint.check_options({"mcoef": -1.0})
    # what depends on two options is the architecture's to check, in the flags' words
    with pytest.raises(architectures.ArchitectureError, match="argument --nhop: 2048 is larger than --nfft 1024"):
        architectures.default().check_options({"nfft": 1024, "nhop": 2048})
    with pytest.raises(architectures.ArchitectureError, match="bidirectional model needs an even size, got 7"):
        architectures.default().check_options({"hidden_size": 7})
    assert architectures.default().check_options({"hidden_size": 7, "unidirectional": True})["hidden_size"] == 7
    # callers ask capabilities, not classes
    from openunmix.architectures.xumx import CrossNetOpenUnmix
    from openunmix.architectures.umx import OpenUnmix

    single = architectures.capabilities(OpenUnmix(nb_bins=129, hidden_size=8, unidirectional=True))
    assert (single.output, single.joint, single.streamable, single.causal, single.exportable) == \
        ("magnitude", False, True, True, True)
    both = architectures.capabilities(CrossNetOpenUnmix(["vocals", "drums"], nb_bins=129, hidden_size=8))
    assert (both.joint, both.streamable, both.causal, both.exportable) == (True, False, False, False)
    assert architectures.capabilities(torch.nn.Identity()) == architectures.Capabilities()
