"""Period bins of a pipeline: the time windows composites are computed for.

Pure functions over dates.  Each :class:`Period` has a stable label used in output names:
``all`` -> ``"2025-06-01_2025-08-31"``, ``monthly`` -> ``"2025-06"``, ``seasonal`` -> ``"2025-JJA"``
(meteorological seasons; December belongs to the *next* year's DJF, so ``"2026-DJF"`` is
Dec 2025 - Feb 2026), ``yearly`` -> ``"2025"``.  Bins are clipped to the spec's start/end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from eo.errors import UnknownMethodError


@dataclass(frozen=True)
class Period:
    """A closed date interval ``[start, end]`` with a label."""

    label: str
    start: dt.date
    end: dt.date

    @property
    def datetime_range(self) -> str:
        """RFC 3339 interval for a STAC search covering whole days (UTC)."""
        return f"{self.start.isoformat()}T00:00:00Z/{self.end.isoformat()}T23:59:59Z"

    def contains(self, when: dt.datetime) -> bool:
        """True if ``when`` (UTC) falls on a day of this period."""
        return self.start <= when.date() <= self.end


_SEASONS = {1: "DJF", 2: "MAM", 3: "JJA", 4: "SON"}


def _bins(freq: str, label: Callable[[pd.Period], str]) -> Callable[[dt.date, dt.date], list[Period]]:
    def make(start: dt.date, end: dt.date) -> list[Period]:
        out = []
        for p in pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq=freq):
            s = max(p.start_time.date(), start)
            e = min(p.end_time.date(), end)
            out.append(Period(label(p), s, e))
        return out

    return make


def _all(start: dt.date, end: dt.date) -> list[Period]:
    return [Period(f"{start.isoformat()}_{end.isoformat()}", start, end)]


#: Binning strategies by name (``period.bin`` in a spec).
BINNERS: dict[str, Callable[[dt.date, dt.date], list[Period]]] = {
    "all": _all,
    "monthly": _bins("M", lambda p: f"{p.year:04d}-{p.month:02d}"),
    # Q-NOV: quarters ending Nov/Feb/May/Aug = SON, DJF, MAM, JJA; fiscal year = year of the quarter's end
    "seasonal": _bins("Q-NOV", lambda p: f"{p.qyear:04d}-{_SEASONS[p.quarter]}"),
    "yearly": _bins("Y", lambda p: f"{p.year:04d}"),
}


def periods(start: dt.date, end: dt.date, bin: str = "all") -> list[Period]:
    """The periods of ``[start, end]`` binned by ``bin`` (a key of :data:`BINNERS`)."""
    try:
        return BINNERS[bin](start, end)
    except KeyError:
        raise UnknownMethodError(f"unknown period bin {bin!r}; use one of {sorted(BINNERS)}") from None
