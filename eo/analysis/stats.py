"""The zonal statistics, as a registry of named reductions over (values, zone labels[, weights]).

Every decomposable statistic is a grouped reduction by flox (``flox.groupby_reduce``,
``method="map-reduce"``) along the zone-pixel axis of :mod:`eo.analysis.pixels`: each block
reduces to a ``(time, zone)`` partial result, partials are combined in a tree, so memory is
bounded by chunks.  Values are float64 with NaN where the data is masked.

Unweighted (a pixel belongs to a zone or not):

========================  ====================================================================
``count``                 valid (unmasked, finite) pixels of the zone, int64
``pixels``                pixels of the zone within the raster, valid or not, int64
``valid_fraction``        ``count / pixels`` (NaN for a zone with no pixel on the raster)
``mean``, ``sum``         of the valid pixels (NaN when ``count`` is 0)
``std``                   population standard deviation (``ddof=0``, as numpy and rasterstats)
``min``, ``max``          of the valid pixels
``median``, ``percentile_<q>``  exact, linear interpolation (numpy's default); see
                          :mod:`eo.analysis.quantiles` for how they are computed
========================  ====================================================================

Area-weighted (``weights="area"``: each pixel counts by the fraction ``w`` of its area inside
the zone, exactextract's definitions): ``mean = sum(w v) / sum(w)`` and ``std`` (weighted,
population) over valid pixels; ``sum = sum(w v)``; ``count = sum(w)`` over valid pixels and
``pixels = sum(w)`` over all pixels (float64, in pixel units: a zone of a quarter pixel counts
0.25); ``valid_fraction = count / pixels``; ``min``/``max`` over the valid pixels the zone
covers at all.  Weighted quantiles are not offered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np

from eo.errors import UnknownMethodError

#: The default statistics of :func:`eo.zonal_stats`.
DEFAULT_STATS = ("mean", "median", "std", "min", "max", "count", "valid_fraction")
#: The defaults with area weights (no weighted median).
DEFAULT_WEIGHTED_STATS = ("mean", "std", "min", "max", "count", "valid_fraction")
_PERCENTILE = re.compile(r"^percentile_(\d+(?:\.\d+)?)$")
ZONE_DIM = "zone"


def quantile_of(stat: str) -> float | None:
    """The quantile (0..1) a stat name asks for (``median`` -> 0.5, ``percentile_90`` -> 0.9), else None."""
    if stat == "median":
        return 0.5
    m = _PERCENTILE.match(stat)
    if m and 0 <= float(m.group(1)) <= 100:
        return float(m.group(1)) / 100.0
    return None


class Reducer:
    """Grouped reductions of one variable's zone-pixel values by zone, each primitive built once (lazy).

    ``values`` is ``([time,] pixel)`` float64 (NaN: masked or padding), ``labels`` ``(pixel,)``
    int32 (``-1``: padding), ``weights`` ``(pixel,)`` float64 coverage fractions or None; see
    :mod:`eo.analysis.pixels`.  Results are Dask arrays ``([time,] zone)``; those that do not
    depend on the values (``pixels``) are ``(zone,)``.
    """

    def __init__(self, values: da.Array, labels: da.Array, weights: da.Array | None, nzones: int) -> None:
        self.values, self.labels, self.weights = values, labels, weights
        self.groups = np.arange(nzones)
        self._cache: dict[str, da.Array] = {}

    def reduce(self, array: da.Array, func: str, fill_value: Any = np.nan) -> da.Array:
        from flox import groupby_reduce

        out, *_ = groupby_reduce(
            array,
            self.labels,
            func=func,
            expected_groups=self.groups,
            axis=-1,
            fill_value=fill_value,
            method="map-reduce",
        )
        return out

    def primitive(self, key: str) -> da.Array:
        if key not in self._cache:
            self._cache[key] = PRIMITIVES[key](self)
        return self._cache[key]

    @property
    def w(self) -> da.Array:
        if self.weights is None:
            raise AssertionError("weighted statistic without weights")
        return self.weights


def _valid(r: Reducer) -> da.Array:
    return ~da.isnan(r.values)


PRIMITIVES: dict[str, Callable[[Reducer], da.Array]] = {
    "count": lambda r: r.reduce(r.values, "count", 0),
    "pixels": lambda r: r.reduce((r.labels >= 0).astype(np.int64), "sum", 0),
    "sum": lambda r: r.reduce(r.values, "nansum", 0.0),
    "mean": lambda r: r.reduce(r.values, "nanmean"),
    "std": lambda r: r.reduce(r.values, "nanstd"),
    "min": lambda r: r.reduce(r.values, "nanmin"),
    "max": lambda r: r.reduce(r.values, "nanmax"),
    # weighted: sums of w, w*v, w*v^2 over valid pixels, and of w over all pixels
    "w_count": lambda r: r.reduce(da.where(_valid(r), r.w, 0.0), "sum", 0.0),
    "w_pixels": lambda r: r.reduce(r.w.astype(np.float64), "sum", 0.0),
    "w_sum": lambda r: r.reduce(r.values * r.w, "nansum", 0.0),
    "w_sum2": lambda r: r.reduce(r.values * r.values * r.w, "nansum", 0.0),
    "w_min": lambda r: r.reduce(da.where(r.w > 0, r.values, np.nan), "nanmin"),
    "w_max": lambda r: r.reduce(da.where(r.w > 0, r.values, np.nan), "nanmax"),
}


def _ratio(num: da.Array, den: da.Array) -> da.Array:
    return da.where(den > 0, num / da.where(den > 0, den, 1), np.nan).astype(np.float64)


def _w_mean(r: Reducer) -> da.Array:
    return _ratio(r.primitive("w_sum"), r.primitive("w_count"))


def _w_std(r: Reducer) -> da.Array:
    mean = _w_mean(r)
    var = _ratio(r.primitive("w_sum2"), r.primitive("w_count")) - mean**2
    return da.sqrt(da.clip(var, 0.0, None))


def _nan_unless(x: da.Array, n: da.Array) -> da.Array:
    return da.where(n > 0, x, np.nan)


UNWEIGHTED: dict[str, Callable[[Reducer], da.Array]] = {
    "count": lambda r: r.primitive("count").astype(np.int64),
    "pixels": lambda r: r.primitive("pixels").astype(np.int64),
    "valid_fraction": lambda r: _ratio(r.primitive("count"), r.primitive("pixels")),
    "sum": lambda r: _nan_unless(r.primitive("sum"), r.primitive("count")),
    "mean": lambda r: r.primitive("mean"),
    "std": lambda r: r.primitive("std"),
    "min": lambda r: r.primitive("min"),
    "max": lambda r: r.primitive("max"),
}

WEIGHTED: dict[str, Callable[[Reducer], da.Array]] = {
    "count": lambda r: r.primitive("w_count").astype(np.float64),
    "pixels": lambda r: r.primitive("w_pixels").astype(np.float64),
    "valid_fraction": lambda r: _ratio(r.primitive("w_count"), r.primitive("w_pixels")),
    "sum": lambda r: _nan_unless(r.primitive("w_sum"), r.primitive("w_count")),
    "mean": _w_mean,
    "std": _w_std,
    "min": lambda r: r.primitive("w_min"),
    "max": lambda r: r.primitive("w_max"),
}


def check_stats(stats: Any, weighted: bool) -> tuple[str, ...]:
    """Validate stat names (a name or a sequence); return them as a tuple without repeats."""
    names = (stats,) if isinstance(stats, str) else tuple(stats)
    if not names:
        raise UnknownMethodError("stats is empty; ask for at least one of " + ", ".join(DEFAULT_STATS))
    table = WEIGHTED if weighted else UNWEIGHTED
    for s in names:
        if s in table:
            continue
        if quantile_of(s) is not None and not weighted:
            continue
        if quantile_of(s) is not None:
            raise UnknownMethodError(
                f"stat {s!r} is not available with weights='area' (no weighted quantiles); "
                f"use one of {sorted(table)} or drop weights="
            )
        raise UnknownMethodError(
            f"unknown zonal statistic {s!r}; expected one of {sorted(UNWEIGHTED)}, 'median' or "
            "'percentile_<q>' (0 <= q <= 100, e.g. 'percentile_90')"
        )
    return tuple(dict.fromkeys(names))
