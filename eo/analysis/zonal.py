"""``eo.zonal_stats``: statistics of a raster over polygons, on the raster's own grid, with flox.

The pieces: zones are normalised and reprojected to the data's CRS (:mod:`eo.analysis.vector`),
split into non-overlapping layers and rasterised chunk by chunk (:mod:`eo.analysis.rasterize`),
their pixels gathered onto one zone-pixel axis (:mod:`eo.analysis.pixels`), reduced by zone
with flox (:mod:`eo.analysis.stats`; quantiles in :mod:`eo.analysis.quantiles`),
and the ``(variable, [time,] zone)`` result computed once and laid out as a tidy table
(:mod:`eo.analysis.tables`).
"""

from __future__ import annotations

import warnings
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from eo.analysis.stats import (
    DEFAULT_STATS,
    DEFAULT_WEIGHTED_STATS,
    UNWEIGHTED,
    WEIGHTED,
    ZONE_DIM,
    Reducer,
    check_stats,
    quantile_of,
)
from eo.errors import InputError, InvalidGeometryError, InvalidGridError, UnknownMethodError
from eo.errors import ZonesOutsideDataWarning as _Outside

#: Spatial chunk (pixels) given to NumPy-backed data, whose pixels are otherwise in one block.
NUMPY_CHUNK = 2048
OUTPUTS = ("pandas", "xarray", "xvec")


def as_dataset(data: xr.DataArray | xr.Dataset) -> tuple[xr.Dataset, Any, tuple[str, str]]:
    """(Dataset of the gridded variables, geobox, (y, x) dim names); Dask-backed, checked."""
    if isinstance(data, xr.DataArray):
        data = data.to_dataset(name=data.name if data.name is not None else "value")
    if not isinstance(data, xr.Dataset):
        raise InputError(f"expected an xarray DataArray or Dataset, got {type(data).__name__}")
    geobox = data.odc.geobox
    if geobox is None:
        raise InvalidGridError(
            "the data has no pixel grid (data.odc.geobox is None): expected the output of eo.load, "
            "or x/y coordinates with a CRS (spatial_ref)"
        )
    ydim, xdim = data.odc.spatial_dims
    names = [v for v in data.data_vars if {ydim, xdim} <= set(data[v].dims)]
    if not names:
        raise InputError(f"no variable of the data has the spatial dims ({ydim}, {xdim})")
    out = {}
    for v in names:
        var = data[v]
        extra = set(var.dims) - {"time", ydim, xdim}
        if extra:
            raise InputError(
                f"variable {v!r} has dims {var.dims}; expected (time, {ydim}, {xdim}) or ({ydim}, {xdim}). "
                f"Select or reduce {sorted(map(str, extra))} first"
            )
        order = [d for d in ("time", ydim, xdim) if d in var.dims]
        var = var.transpose(*order)
        if var.chunks is None:
            var = var.chunk(
                {ydim: NUMPY_CHUNK, xdim: NUMPY_CHUNK, **({"time": 1} if "time" in var.dims else {})}
            )
        out[v] = var
    grid_chunks = _spatial_chunks(out[names[0]])
    spatial = dict(zip((ydim, xdim), grid_chunks))
    out = {v: (a if _spatial_chunks(a) == grid_chunks else a.chunk(spatial)) for v, a in out.items()}
    return xr.Dataset(out), geobox, (ydim, xdim)


def _spatial_chunks(da: xr.DataArray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    chunks = da.chunks
    if chunks is None:
        raise AssertionError("expected a Dask-backed variable")
    return chunks[-2], chunks[-1]


def masked_values(da: xr.DataArray, dtype: Any = np.float64) -> xr.DataArray:
    """Float values (float64) with NaN where masked (non-finite, or equal to the ``nodata`` attr); lazy."""
    nodata = da.attrs.get("nodata")
    out = da.reset_coords(drop=True).astype(dtype)
    if nodata is not None and not np.isnan(float(nodata)):
        out = out.where(da.reset_coords(drop=True) != nodata)
    return out.where(np.isfinite(out))


def _rule(all_touched: bool, weights: str | None) -> str:
    if weights is None:
        return "touched" if all_touched else "centre"
    if weights != "area":
        raise UnknownMethodError(f"weights={weights!r} is not known; expected None or 'area'")
    if all_touched:
        raise InputError(
            "all_touched=True and weights='area' exclude each other: area weights already count "
            "every pixel a zone touches, by its covered fraction"
        )
    return "area"


def _warn_outside(geobox: Any, zones: Any, geoms: np.ndarray) -> None:
    import shapely

    extent = shapely.box(*geobox.extent.boundingbox)
    outside = ~shapely.intersects(geoms, extent)
    if outside.any():
        ids = zones["zone"].to_numpy()[outside]
        warnings.warn(
            f"{int(outside.sum())} of {len(geoms)} zones do not overlap the raster (e.g. {list(ids[:5])}); "
            "their count is 0 and their statistics NaN",
            _Outside,
            stacklevel=3,
        )


def zonal_cube(
    data: xr.DataArray | xr.Dataset,
    zones: Any,
    stats: Any = None,
    *,
    all_touched: bool = False,
    weights: str | None = None,
    **read: Any,
) -> tuple[xr.Dataset, Any]:
    """The lazy ``(variable, [time,] zone)`` Dataset of statistics, and the zones (read, in their CRS)."""
    from eo.analysis.pixels import zone_pixels
    from eo.analysis.quantiles import zonal_quantiles
    from eo.analysis.rasterize import assign_layers
    from eo.analysis.vector import read_zones

    rule = _rule(all_touched, weights)
    names = check_stats(
        stats if stats is not None else (DEFAULT_WEIGHTED_STATS if weights else DEFAULT_STATS),
        weights is not None,
    )
    ds, geobox, (ydim, xdim) = as_dataset(data)
    zones = read_zones(zones, **read)
    geoms = np.asarray(zones.to_crs(geobox.crs.to_wkt()).geometry.to_numpy(), dtype=object)
    if rule == "area":
        import shapely

        areal = np.isin(shapely.get_type_id(geoms), [3, 6])
        if not areal.all():
            raise InvalidGeometryError(
                f"weights='area' needs polygons; zone(s) {list(zones['zone'][~areal][:5])} are "
                "points or lines (use the default centre rule, or buffer them)"
            )
    _warn_outside(geobox, zones, geoms)
    first = ds[next(iter(ds.data_vars))]
    res = geobox.resolution
    layer = assign_layers(geoms, rule, float(np.hypot(res.x, res.y)))
    pixels = zone_pixels(geobox, _spatial_chunks(first), geoms, layer, rule)
    labels, cover = pixels.labels, (pixels.weights if rule == "area" else None)
    table = WEIGHTED if rule == "area" else UNWEIGHTED
    qstats = [s for s in names if s not in table]
    per_var = []
    for name in ds.data_vars:
        var = ds[name]
        lead = [d for d in var.dims if d not in (ydim, xdim)]
        coords = {d: var.coords[d] for d in lead}
        nodata = None if var.attrs.get("nodata") is None else float(var.attrs["nodata"])
        values = pixels.gather(var.data, nodata)
        r = Reducer(values, labels, cover, len(geoms))
        arrays = {s: table[s](r) for s in names if s in table}
        if qstats:
            q = zonal_quantiles(pixels, values, len(geoms), [float(quantile_of(s) or 0) for s in qstats])
            arrays |= {s: q[..., i, :] for i, s in enumerate(qstats)}
        out = {
            s: xr.DataArray(
                da.broadcast_to(a, (*var.shape[: len(lead)], len(geoms))),
                dims=(*lead, ZONE_DIM),
                coords=coords,
            )
            for s, a in arrays.items()
        }
        per_var.append(xr.Dataset({s: out[s] for s in names}))
    cube = xr.concat(per_var, dim=xr.Variable("variable", list(ds.data_vars)), coords="minimal")
    cube = cube.assign_coords({ZONE_DIM: zones["zone"].to_numpy()})
    order = ["variable", *(["time"] if "time" in cube.dims else []), ZONE_DIM]
    return cube.transpose(*order), zones


def zonal_stats(
    data: xr.DataArray | xr.Dataset,
    zones: Any,
    stats: Any = None,
    *,
    all_touched: bool = False,
    weights: str | None = None,
    output: str = "pandas",
    id: str | None = None,
    ids: Any = None,
    crs: Any = None,
    layer: str | int | None = None,
    fix_invalid: bool = True,
) -> Any:
    """Statistics of each variable of ``data`` over each zone (and date); **computes** for a table.

    Pixels are assigned to zones by rasterising the zones on the data's own grid, chunk by
    chunk; overlapping zones each get all their pixels.  Reductions are flox grouped reductions,
    so memory is bounded by the data's chunks (medians/percentiles: by the window of whole
    zones around a chunk, see :mod:`eo.analysis.quantiles`).

    Parameters
    ----------
    data
        ``DataArray`` or ``Dataset`` with dims ``(time, y, x)`` or ``(y, x)`` on an odc-geo grid
        (``data.odc.geobox``), e.g. from :func:`eo.load` / :func:`eo.index`.  Lazy (Dask) or not.
        Masked pixels are NaN, non-finite, or equal to a variable's ``nodata`` attribute (the
        source dtype is fine: uint16 DN with ``nodata=0`` are read as such).
    zones
        Polygons (or points/lines with the pixel rules): a GeoDataFrame, a vector file path
        (GeoJSON, GeoPackage, (Geo)Parquet...), a GeoJSON mapping, or shapely geometries (a
        mapping ``id -> geometry``, or a sequence with ``ids=``), in any CRS: reprojected to
        the data's CRS.
    stats
        Names (see :mod:`eo.analysis.stats`): ``mean``, ``median``, ``std`` (population),
        ``min``, ``max``, ``sum``, ``count`` (valid pixels), ``pixels`` (pixels in the zone on
        the raster), ``valid_fraction`` (count / pixels), ``percentile_<q>``.  Default
        ``mean, median, std, min, max, count, valid_fraction`` (without ``median`` when
        ``weights="area"``).
    all_touched
        Every pixel the zone touches belongs to it (rasterio's ``all_touched``); default: a pixel
        belongs when its centre is inside the zone (rasterio's and rasterstats' default).
    weights
        ``"area"``: every pixel the zone touches counts by the fraction of its area inside the
        zone (exact coverage from exactextract): area-weighted mean/std/sum, fractional
        count/pixels.  For zones small relative to pixels, where the centre rule may select
        no pixel at all.
    id, ids, crs, layer, fix_invalid
        How to read the zones: the id column, the ids of a sequence of geometries, the CRS of
        zones without one, the layer of a GeoPackage, repair (default) or refuse invalid
        geometries; see :func:`eo.analysis.read_zones`.
    output
        ``"pandas"`` (default, computes): a tidy DataFrame with columns ``zone``, ``time`` (when
        the data has time), ``variable`` and one column per stat; rows ordered by zone (input
        order), time, variable.  ``"xarray"`` (lazy): a Dataset, one variable per stat, dims
        ``(variable, [time,] zone)`` with the ids as ``zone`` coordinate.  ``"xvec"`` (lazy):
        the same as an xvec vector data cube whose ``zone`` coordinate holds the zones'
        geometries (in their own CRS), the ids in coordinate ``zone_id``; needs ``xvec``.

    Returns
    -------
    pandas.DataFrame or xarray.Dataset
        float64 statistics (NaN for a zone/date without valid pixel); ``count``/``pixels`` int64
        (float64 with area weights).  Pixels outside the raster's extent do not count.

    Raises
    ------
    eo.errors.ZonesError, eo.errors.VectorFileError
        Unusable zones (see :func:`eo.analysis.read_zones`).
    eo.errors.UnknownMethodError
        An unknown stat or weights, or a quantile with area weights.
    eo.errors.InvalidGridError, eo.errors.InputError
        Data without a pixel grid, or with dims other than ``(time, y, x)``.

    Examples
    --------
    Two fields, the west and east halves of the scene, as a GeoDataFrame in lon/lat:

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> w, s, e, n = ndvi.odc.geobox.geographic_extent.boundingbox
    >>> halves = [box(w, s, (w + e) / 2, n), box((w + e) / 2, s, e, n)]
    >>> fields = gpd.GeoDataFrame({"field_id": ["west", "east"]}, geometry=halves, crs="EPSG:4326")
    >>> table = eo.zonal_stats(ndvi, fields, id="field_id", stats=("mean", "count", "valid_fraction"))
    >>> sorted(table["zone"].unique()), len(table) == 2 * ndvi.sizes["time"]
    (['east', 'west'], True)
    >>> bool(table["valid_fraction"].between(0, 1).all())
    True
    """
    if output not in OUTPUTS:
        raise UnknownMethodError(f"output={output!r} is not known; expected one of {list(OUTPUTS)}")
    if output == "xvec":
        from eo.analysis.tables import require_xvec

        require_xvec()
    cube, zones_read = zonal_cube(
        data,
        zones,
        stats,
        all_touched=all_touched,
        weights=weights,
        id=id,
        ids=ids,
        crs=crs,
        layer=layer,
        fix_invalid=fix_invalid,
    )
    from eo.analysis.tables import to_table, to_xvec

    if output == "xarray":
        return cube
    if output == "xvec":
        return to_xvec(cube, zones_read)
    return to_table(cube.compute())
