"""``eo.plot.time_series``: the tidy table of eo.time_series / eo.zonal_stats over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from eo.errors import InputError
from eo.plot._mpl import axes

#: Above this many lines the legend is left out (it would hide the plot).
MAX_LEGEND = 15


def _id_column(table: pd.DataFrame) -> str:
    for col in ("zone", "point"):
        if col in table.columns:
            return col
    raise InputError(
        f"expected the table of eo.time_series or eo.zonal_stats (a 'zone' or 'point' column); "
        f"got columns {list(table.columns)}"
    )


def time_series(
    table: pd.DataFrame,
    stat: str | None = None,
    *,
    variable: str | Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
    band: str | None = None,
    min_valid_fraction: float | None = None,
    ax: Any = None,
    legend: bool | None = None,
) -> Any:
    """One line per zone/point (and variable) of ``stat`` over time; returns the Axes.

    Parameters
    ----------
    table
        Output of :func:`eo.time_series` or :func:`eo.zonal_stats` (columns ``zone``/``point``,
        ``time``, ``variable`` and values).
    stat
        Column to draw: default ``value`` (points) or ``mean``.
    variable, ids
        Subset of variables and zone/point ids to draw (default all).
    band
        A column drawn as a shaded band ``stat -/+ band`` (e.g. ``"std"``).
    min_valid_fraction
        Drop dates whose ``valid_fraction`` is below this (mostly cloudy dates).
    ax, legend
        Axes to draw on (default: new figure); legend on/off (default: on up to 15 lines).
    """
    idc = _id_column(table)
    if "time" not in table.columns:
        raise InputError("the table has no 'time' column: it comes from data without dates")
    stat = stat or ("value" if "value" in table.columns else "mean")
    for col in (stat, band):
        if col is not None and col not in table.columns:
            raise InputError(f"column {col!r} is not in the table; columns are {list(table.columns)}")
    rows = table
    if variable is not None:
        rows = rows[rows["variable"].isin([variable] if isinstance(variable, str) else list(variable))]
    if ids is not None:
        rows = rows[rows[idc].isin(list(ids))]
    if min_valid_fraction is not None:
        if "valid_fraction" not in rows.columns:
            raise InputError("min_valid_fraction needs a 'valid_fraction' column in the table")
        rows = rows[rows["valid_fraction"] >= min_valid_fraction]
    ax = axes(ax, figsize=(9.0, 4.5))
    variables = list(dict.fromkeys(rows["variable"]))
    groups = list(rows.groupby([idc, "variable"], sort=False))
    for (zid, var), part in groups:
        part = part.sort_values("time")
        label = f"{zid}" if len(variables) == 1 else f"{zid} {var}"
        (line,) = ax.plot(part["time"], part[stat], marker="o", ms=3, label=label)
        if band is not None:
            ax.fill_between(
                part["time"],
                part[stat] - part[band],
                part[stat] + part[band],
                color=line.get_color(),
                alpha=0.2,
            )
    what = stat if len(variables) != 1 else f"{stat} of {variables[0]}"
    ax.set_ylabel(what)
    ax.set_xlabel("time")
    if legend or (legend is None and 0 < len(groups) <= MAX_LEGEND):
        ax.legend(title=idc, fontsize="small")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return ax
