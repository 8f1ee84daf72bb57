"""A comparison of several methods: their SiSEC table and their paired tests, computed in memory.

:func:`compare_folders` reads the score folders and computes everything;
:mod:`.results` prints and writes it, :mod:`.report` turns it into the
listening page. Nothing is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..utils import PathLike
from .bootstrap import BootstrapSettings
from .paired import PairedResult, PairedSettings, compare_pairs
from .scores import CompareError, MethodScores, load_methods, shared_tracks
from .table import Row, TrackTable, aggregate, method_order, resolve_metric, track_table


@dataclass(frozen=True)
class CompareSettings:
    """What a comparison reads and how it concludes.

    Attributes:
        subset: the subset folder read from each score folder (``test`` or ``train``).
        bootstrap: the confidence intervals of the medians.
        paired: the significance level and the test the verdicts use.
        metric: the metric the methods are ranked by and whose paired tests,
            heat maps and per-track table are shown (``SDR``, ``SIR``, ``ISR``,
            ``SAR``, ``uSDR``, ``SI-SDR``; ``usdr``/``sisdr`` too); None: the
            SDR (the first metric the scores have when they have no SDR).
    """

    subset: str = "test"
    bootstrap: BootstrapSettings = field(default_factory=BootstrapSettings)
    paired: PairedSettings = field(default_factory=PairedSettings)
    metric: Optional[str] = None


@dataclass(frozen=True)
class Comparison:
    """Everything a comparison found.

    Attributes:
        methods: the methods' scores, in the order given.
        table: the per-track scores (see :data:`.table.TrackTable`).
        rows: the SiSEC table (see :func:`.table.aggregate`).
        order: the method names sorted by median vocals SDR, best first.
        common: the tracks every method has; the paired tests use these.
        partial: ``{track: methods that have it}`` for the tracks only some
            methods have: in the table, not in the paired tests.
        paired: the paired comparisons on ``common`` (every metric).
        settings: how it was computed.
        metric: the metric shown first (``settings.metric`` resolved against the scores).
    """

    methods: List[MethodScores]
    table: TrackTable
    rows: List[Row]
    order: List[str]
    common: List[str]
    partial: Dict[str, List[str]]
    paired: PairedResult
    settings: CompareSettings
    metric: str = "SDR"

    def method(self, name: str) -> MethodScores:
        """The scores of the method called ``name``."""
        return next(m for m in self.methods if m.name == name)


def compare(methods: Sequence[MethodScores], settings: CompareSettings = CompareSettings()) -> Comparison:
    """Aggregate each method as SiSEC did and compare every pair on the tracks they share.

    One method gives its table and no pairs.

    Raises:
        CompareError: ``settings.metric`` is not a metric of the scores.
    """
    table = track_table(methods)
    try:
        metric = resolve_metric(settings.metric, table)
    except ValueError as err:
        raise CompareError(str(err)) from None
    common, partial = shared_tracks(methods)
    names = [m.name for m in methods]
    paired = compare_pairs(table, names, common, settings.paired)
    return Comparison(list(methods), table, aggregate(table, settings.bootstrap), method_order(table, metric=metric),
                      common, partial, paired, settings, metric)


def compare_folders(folders: Sequence[Tuple[str, PathLike]], settings: CompareSettings = CompareSettings(),
                    minimum: int = 2) -> Comparison:
    """Read the named score folders (see :mod:`.scores`) and :func:`compare` them.

    Raises:
        CompareError: bad names, unusable folders or files, fewer than
            ``minimum`` methods, or no track in common.
    """
    return compare(load_methods(folders, settings.subset, minimum), settings)
