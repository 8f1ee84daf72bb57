"""The MUSDB18 source names, defined once for the whole package.

Only names live here (no imports beyond ``typing``), so that every part of
the toolkit (datasets, the demo, evaluation, the architectures, separation) can import
them without pulling in audio or dataset code.
"""

from typing import Dict, Tuple

__all__ = ["MUSDB_SOURCES", "MUSDB_TARGETS", "ACCOMPANIMENT", "ACCOMPANIMENT_SOURCES", "MUSDB_ROLES"]

#: The four sources of every MUSDB18 track, in the order of its stem file.
MUSDB_SOURCES: Tuple[str, ...] = ("vocals", "drums", "bass", "other")

#: The sum of every source but the vocals.
ACCOMPANIMENT = "accompaniment"

#: The sources summed into the accompaniment.
ACCOMPANIMENT_SOURCES: Tuple[str, ...] = ("drums", "bass", "other")

#: What a model can be trained to separate from a MUSDB18 mixture.
MUSDB_TARGETS: Tuple[str, ...] = MUSDB_SOURCES + (ACCOMPANIMENT,)

#: For each target, the sources summed into it.
MUSDB_ROLES: Dict[str, Tuple[str, ...]] = {
    **{source: (source,) for source in MUSDB_SOURCES},
    ACCOMPANIMENT: ACCOMPANIMENT_SOURCES,
}
