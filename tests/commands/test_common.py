"""openunmix.commands.common: the filter's flags become FilterSettings."""

from openunmix.filtering import FilterSettings


def test_filter_flags_become_filter_settings():
    from openunmix.commands.argtypes import ArgumentParser
    from openunmix.commands.common import add_filter_arguments, filter_settings

    p = ArgumentParser(prog="x")
    add_filter_arguments(p, wiener_win_len=True)
    assert filter_settings(p, p.parse_args([])) == FilterSettings()
    args = p.parse_args(["--niter", "2", "--no-softmask", "--alpha", "2", "--logit", "0.3", "--residual",
                         "--wiener-win-len", "0"])
    assert filter_settings(p, args) == FilterSettings(niter=2, softmask=False, alpha=2.0, logit=0.3, residual=True,
                                                      wiener_win_len=None)
