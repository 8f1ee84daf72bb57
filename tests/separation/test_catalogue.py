"""openunmix.separation.catalogue: what the settings key holds (the manifest's skips follow it). Catalogues
end to end: tests/programs/test_separate.py and tests/programs/test_shards.py."""

from openunmix.separation.catalogue import settings_key
from openunmix.separation.separate import SeparationSettings


def test_settings_key_names_an_explicit_batch_and_keeps_the_keys_of_runs_without_one(tmp_path):
    model = str(tmp_path)
    default = settings_key(model, None, SeparationSettings(), ".wav")
    # --batch left out: the key of the runs before the setting existed, so that they are not redone
    assert default == settings_key(model, None, SeparationSettings(batch=None), ".wav")
    one = settings_key(model, None, SeparationSettings(batch=1), ".wav")
    two = settings_key(model, None, SeparationSettings(batch=2), ".wav")
    assert len({default, one, two}) == 3
