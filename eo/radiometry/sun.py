"""Sun geometry of a dataset's time slices: sun elevation and earth-sun distance, with their sources.

Sun elevation of a time slice, first that applies:

1. the ``sun_elevation`` coordinate (the item's ``view:sun_elevation``), when not NaN: source ``item``;
2. computed from the slice's time and the dataset's centre (``ds.odc.geobox`` centroid in
   EPSG:4326) with :func:`eo.radiometry.solar.sun_elevation`: source ``computed``;
3. the ``sun_elevation=`` argument of :func:`eo.calibrate` (degrees; a number, or one per time
   slice): source ``argument``.

A slice's time is *unknown* when the item had no acquisition date and the loader used a stand-in
(the ``datetime_source`` / ``eotk:datetime_source`` coordinate or attribute, from the item's
``eotk:datetime_source``, is one of :data:`UNKNOWN_DATETIME_SOURCES`), or when it is NaT.  Then the
sun cannot be computed: rule 2 is skipped and, unless the item gives the elevation, the caller must
pass ``sun_elevation=``; otherwise :class:`eo.errors.CalibrationError` says so.  The earth-sun
distance (only needed by the ESUN formulas) likewise requires a known date.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from eo.errors import CalibrationError
from eo.radiometry.solar import earth_sun_distance, sun_elevation

FloatArray = npt.NDArray[np.float64]

#: ``eotk:datetime_source`` values meaning the time coordinate is not the acquisition time.
UNKNOWN_DATETIME_SOURCES = frozenset(
    {"start_datetime", "end_datetime", "interval", "unknown", "none", "placeholder"}
)

_DATETIME_SOURCE_NAMES = ("datetime_source", "eotk:datetime_source")


def _marks_unknown(source: str) -> bool:
    """True if a datetime source says the date is unknown (``"unknown"`` or ``"unknown: why..."``)."""
    head = source.strip().lower().split(":", 1)[0].strip()
    return head in UNKNOWN_DATETIME_SOURCES


SunElevationArg = float | Sequence[float] | npt.ArrayLike | None


def per_time(ds: xr.Dataset, name: str, fill: Any, dtype: Any = np.float64) -> np.ndarray:
    """Values of the per-time coordinate ``name`` as a numpy array of length ``n_time`` (``fill`` if absent).

    Scalar coordinates (a dataset after ``isel(time=0)``) are broadcast.  Reads only numpy-backed
    coordinates (never computes Dask data).
    """
    n = ds.sizes.get("time", 1)
    if name not in ds.coords:
        return np.full(n, fill, dtype=dtype)
    values = np.asarray(ds.coords[name].values)
    if dtype is not object:
        values = values.astype(dtype)
    return np.broadcast_to(values, (n,)).copy()


class SunGeometry:
    """Per-time sun facts of a dataset, resolved on first use (pure numpy on coordinates)."""

    def __init__(self, ds: xr.Dataset, sun_elevation_arg: SunElevationArg = None):
        self.n_time = int(ds.sizes.get("time", 1))
        self.times = per_time(ds, "time", np.datetime64("NaT"), "datetime64[ns]")
        self._ds = ds
        self._arg = sun_elevation_arg

    @cached_property
    def datetime_sources(self) -> np.ndarray:
        """``eotk:datetime_source`` per slice (str; ``""`` when not recorded)."""
        for name in _DATETIME_SOURCE_NAMES:
            if name in self._ds.coords:
                return per_time(self._ds, name, "", object).astype(str)
            if name in self._ds.attrs:
                return np.full(self.n_time, str(self._ds.attrs[name]))
        return np.full(self.n_time, "")

    @cached_property
    def time_known(self) -> np.ndarray:
        """Boolean per slice: the time coordinate is the acquisition time."""
        marked = np.array([_marks_unknown(s) for s in self.datetime_sources])
        return ~np.isnat(self.times) & ~marked

    @cached_property
    def centre(self) -> tuple[float, float] | None:
        """``(lon, lat)`` of the dataset's centre in degrees, or ``None`` without a geobox."""
        try:
            import odc.geo.xr  # noqa: F401  (registers the .odc accessor)

            geobox = self._ds.odc.geobox
            if geobox is None:
                return None
            lon, lat = geobox.extent.centroid.to_crs("EPSG:4326").coords[0]
        except Exception:  # no spatial_ref / no CRS: the centre is simply unknown
            return None
        return float(lon), float(lat)

    def _argument(self) -> FloatArray:
        if self._arg is None:
            return np.full(self.n_time, np.nan)
        arr = np.asarray(self._arg, dtype=np.float64)
        try:
            return np.broadcast_to(arr, (self.n_time,)).copy()
        except ValueError:
            raise CalibrationError(
                f"sun_elevation= must be one number or one per time slice ({self.n_time}); "
                f"got shape {arr.shape}"
            ) from None

    @cached_property
    def elevation(self) -> tuple[FloatArray, tuple[str, ...]]:
        """Sun elevation per slice in degrees (float64) and the source of each value.

        Raises :class:`eo.errors.CalibrationError` naming the slices none of the rules resolves.
        """
        item = per_time(self._ds, "sun_elevation", np.nan)
        computed = np.full(self.n_time, np.nan)
        if self.centre is not None and self.time_known.any():
            lon, lat = self.centre
            times = np.where(self.time_known, self.times, np.datetime64("NaT"))
            computed = sun_elevation(times, lon, lat)
        argument = self._argument()
        values = np.full(self.n_time, np.nan)
        sources: list[str] = []
        missing: list[str] = []
        for i in range(self.n_time):
            for value, source in ((item[i], "item"), (computed[i], "computed"), (argument[i], "argument")):
                if math.isfinite(value):
                    values[i] = value
                    sources.append(source)
                    break
            else:
                sources.append("")
                missing.append(self._why_missing(i))
        if missing:
            raise CalibrationError(
                "reflectance needs the sun elevation, which is unknown for "
                + "; ".join(missing)
                + ": pass sun_elevation=<degrees> (one number or one per time slice) to eo.calibrate"
            )
        return values, tuple(sources)

    def _why_missing(self, i: int) -> str:
        when = str(self.times[i])[:19]
        if not self.time_known[i]:
            src = self.datetime_sources[i] or "NaT"
            return f"time slice {i} ({when}: acquisition date unknown, eotk:datetime_source={str(src)!r})"
        return f"time slice {i} ({when}: the item gives no view:sun_elevation and the dataset has no geobox)"

    @cached_property
    def distance(self) -> FloatArray:
        """Earth-sun distance per slice in AU (float64), from the acquisition date.

        Raises :class:`eo.errors.CalibrationError` when a slice's date is unknown.
        """
        if not self.time_known.all():
            bad = [self._why_missing(i) for i in np.flatnonzero(~self.time_known).tolist()]
            raise CalibrationError(
                "the ESUN conversion needs the earth-sun distance, i.e. the acquisition date, "
                "which is unknown for "
                + "; ".join(bad)
                + ": load items with a real datetime, or use a product with reflectance coefficients"
            )
        return earth_sun_distance(self.times)
