"""Binning of acquisition times into compositing periods (pure, pandas only).

Periods are half-open intervals ``[start, end)`` of naive UTC ``datetime64[ns]``.  A composite
with a period has a ``time`` dimension labelled by each period's **start**, and a coordinate
``period_end`` (dims ``time``) holding the exclusive end.  Only periods containing at least one
observation appear.

Period names
------------
``None``
    One period spanning all observations (start = first time, end = last time + 1 ns).
``"monthly"``, ``"1M"``, ``"M"``, ``"MS"``, ``"ME"``
    Calendar months.
``"seasonal"``, ``"QS-DEC"``
    Meteorological seasons DJF, MAM, JJA, SON.  **December belongs to the next year's DJF**:
    the DJF season of winter 2020/21 holds December 2020, January and February 2021; it is
    labelled by its start, ``2020-12-01``.
``"yearly"``, ``"1Y"``, ``"Y"``, ``"YS"``, ``"YE"``, ``"annual"``
    Calendar years.
any other pandas offset alias (``"16D"``, ``"W"``, ``"QS"``...)
    The bins of ``pandas.Series.resample(alias, closed="left", label="left")``; the end of a
    bin is its start plus the offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eo.errors import InputError


@dataclass(frozen=True)
class PeriodBins:
    """Periods with their member observations."""

    starts: np.ndarray
    """``datetime64[ns]`` period starts (inclusive), sorted."""
    ends: np.ndarray
    """``datetime64[ns]`` period ends (exclusive)."""
    members: tuple[np.ndarray, ...]
    """Per period, the integer positions (along ``time``) of its observations."""

    def __len__(self) -> int:
        return len(self.members)


def _calendar(freq: str) -> Callable[[pd.DatetimeIndex], tuple[pd.DatetimeIndex, pd.DatetimeIndex]]:
    def bins(times: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
        periods = times.to_period(freq)
        return periods.start_time, (periods + 1).start_time

    return bins


def _seasons(times: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    # Shift December into the next year's DJF: month index of season start = 12, 3, 6, 9.
    month = times.month.to_numpy()
    year = times.year.to_numpy()
    start_month = ((month // 3) * 3) % 12
    start_month = np.where(start_month == 0, 12, start_month)
    start_year = np.where(month <= 2, year - 1, year)
    starts = pd.to_datetime({"year": start_year, "month": start_month, "day": 1})
    starts_idx = pd.DatetimeIndex(starts)
    return starts_idx, starts_idx + pd.DateOffset(months=3)


#: Named periods -> function(times) -> (start per time, end per time).
PERIODS: dict[str, Callable[[pd.DatetimeIndex], tuple[pd.DatetimeIndex, pd.DatetimeIndex]]] = {
    **dict.fromkeys(("monthly", "1M", "M", "MS", "ME", "1MS", "1ME"), _calendar("M")),
    **dict.fromkeys(("seasonal", "QS-DEC"), _seasons),
    **dict.fromkeys(("yearly", "annual", "1Y", "Y", "YS", "YE", "1YS", "1YE"), _calendar("Y")),
}


def _resample(times: pd.DatetimeIndex, alias: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    try:
        offset = pd.tseries.frequencies.to_offset(alias)
        series = pd.Series(np.arange(len(times)), index=times)
        groups = series.resample(alias, closed="left", label="left")
    except (ValueError, TypeError) as err:
        raise InputError(
            f"period {alias!r} is neither a named period ({', '.join(sorted(PERIODS))}) nor a pandas "
            f"offset alias ({err}); pass e.g. period='monthly' or period='16D'"
        ) from err
    start = np.empty(len(times), dtype="datetime64[ns]")
    for label, grp in groups:
        start[grp.to_numpy()] = np.datetime64(pd.Timestamp(label).to_datetime64(), "ns")
    starts = pd.DatetimeIndex(start)
    return starts, starts + offset


def bin_times(times: np.ndarray, period: str | None) -> PeriodBins:
    """Group acquisition ``times`` (``datetime64``) into periods; see the module docstring."""
    index = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))
    if len(index) == 0:
        raise InputError("cannot composite an empty time axis: expected at least one observation")
    if period is None:
        start = index.min().to_datetime64()
        end = (index.max() + pd.Timedelta(1, "ns")).to_datetime64()
        return PeriodBins(np.array([start]), np.array([end]), (np.arange(len(index)),))
    fn = PERIODS.get(period)
    starts, ends = fn(index) if fn is not None else _resample(index, period)
    s = starts.to_numpy(dtype="datetime64[ns]")
    e = ends.to_numpy(dtype="datetime64[ns]")
    labels = np.unique(s)
    members = tuple(np.flatnonzero(s == lab) for lab in labels)
    end_of = np.array([e[m[0]] for m in members], dtype="datetime64[ns]")
    return PeriodBins(labels, end_of, members)
