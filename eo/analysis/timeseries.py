"""``eo.time_series``: a tidy table over time per point (nearest pixel or a buffer) or per zone."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from eo.analysis.zonal import as_dataset, masked_values, zonal_stats
from eo.errors import InputError, ZonesOutsideDataWarning

#: Default statistics of a zone's (or buffered point's) time series.
DEFAULT_SERIES_STATS = ("mean", "count", "valid_fraction")
POINT = "point"


def _buffered(points: Any, metres: float, data_crs: Any) -> Any:
    """Buffer geometries by ``metres`` on the ground: in the data's CRS if it is in metres, else in UTM."""
    if metres <= 0:
        raise InputError(f"buffer must be a positive distance in metres, got {metres}")
    from pyproj import CRS

    grid = CRS.from_wkt(data_crs.to_wkt())
    in_metres = grid.is_projected and all(a.unit_name in ("metre", "meter") for a in grid.axis_info)
    local = points.to_crs(grid if in_metres else points.estimate_utm_crs())
    return local.set_geometry(local.geometry.buffer(metres))


def _nearest(ds: xr.Dataset, geobox: Any, dims: tuple[str, str], points: Any) -> pd.DataFrame:
    """Value of the pixel holding each point (the nearest pixel centre), per date and variable."""
    ydim, xdim = dims
    geoms = points.to_crs(geobox.crs.to_wkt()).geometry
    cols, rows = ~geobox.affine * (geoms.x.to_numpy(), geoms.y.to_numpy())
    rows, cols = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    ny, nx = geobox.shape.yx
    inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    if not inside.all():
        warnings.warn(
            f"{int((~inside).sum())} of {len(inside)} points lie outside the raster "
            f"(e.g. {list(points['zone'][~inside][:5])}); their values are NaN",
            ZonesOutsideDataWarning,
            stacklevel=3,
        )
    index = {
        ydim: xr.DataArray(np.clip(rows, 0, ny - 1), dims=POINT),
        xdim: xr.DataArray(np.clip(cols, 0, nx - 1), dims=POINT),
    }
    keep = xr.DataArray(inside, dims=POINT)
    picked = xr.Dataset({v: masked_values(ds[v].isel(index)).where(keep) for v in ds.data_vars})
    values = picked.to_array("variable").compute()  # the single compute
    values = values.assign_coords({POINT: np.arange(len(inside))}).transpose(POINT, "time", "variable")
    frame = values.to_dataframe(name="value", dim_order=[POINT, "time", "variable"]).reset_index()
    frame[POINT] = points["zone"].to_numpy()[frame[POINT].to_numpy()]
    frame["variable"] = frame["variable"].astype(str)
    return frame[[POINT, "time", "variable", "value"]]


def time_series(
    data: xr.DataArray | xr.Dataset,
    points_or_zones: Any,
    stats: Any = DEFAULT_SERIES_STATS,
    *,
    buffer: float | None = None,
    all_touched: bool = False,
    weights: str | None = None,
    id: str | None = None,
    ids: Any = None,
    crs: Any = None,
    layer: str | int | None = None,
    fix_invalid: bool = True,
) -> pd.DataFrame:
    """Time series of each variable per point or zone, as a tidy table; **computes** (once).

    Parameters
    ----------
    data
        ``(time, y, x)`` DataArray or Dataset on an odc-geo grid (lazy or not), masked pixels NaN
        or equal to the ``nodata`` attribute.
    points_or_zones
        Points or polygons, in any of the forms :func:`eo.analysis.read_zones` accepts, any CRS.
    stats
        For zones and buffered points: the statistics of :func:`eo.zonal_stats` (default
        ``mean, count, valid_fraction``).  Ignored for points sampled at their nearest pixel.
    buffer
        Distance in metres: each point (or zone) is grown by it on the ground (in the data's CRS
        when it is in metres, else in the local UTM zone) and summarised like a zone.  Without
        it, points take the value of the pixel that holds them (the nearest pixel centre).
    all_touched, weights, id, ids, crs, layer, fix_invalid
        As for :func:`eo.zonal_stats` and :func:`eo.analysis.read_zones`.

    Returns
    -------
    pandas.DataFrame
        Points at their nearest pixel: columns ``point``, ``time``, ``variable``, ``value``
        (float64, NaN where masked or outside the raster).  Buffered points: ``point``, ``time``,
        ``variable`` and the stats.  Zones: ``zone``, ``time``, ``variable`` and the stats.
        Rows by id (input order), time, variable.
    """
    from eo.analysis.vector import read_zones

    ds, geobox, dims = as_dataset(data)
    if "time" not in ds.dims:
        raise InputError("time_series needs data with a time dim; for one date use eo.zonal_stats")
    zones = read_zones(points_or_zones, id=id, ids=ids, crs=crs, layer=layer, fix_invalid=fix_invalid)
    kinds = set(zones.geometry.geom_type)
    points = kinds <= {"Point"}
    if not points and "Point" in kinds and buffer is None:
        raise InputError(
            f"got a mix of geometry types {sorted(kinds)}: pass buffer= (metres) to summarise points "
            "around them, or give points and zones in separate calls"
        )
    if points and buffer is None:
        return _nearest(ds, geobox, dims, zones)
    if buffer is not None:
        zones = _buffered(zones, float(buffer), geobox.crs)
    table = zonal_stats(ds, zones, stats, all_touched=all_touched, weights=weights, id="zone")
    return table.rename(columns={"zone": POINT}) if points else table
