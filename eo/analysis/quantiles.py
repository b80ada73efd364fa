"""Exact zonal medians and percentiles: flox's blockwise quantile on windows that hold whole zones.

A quantile does not decompose into per-chunk partials, so flox computes it only on blocks that
hold every member of a group (``method="blockwise"``).  The data's chunks cut zones, so the
zones are gathered into **windows** instead: each zone joins the cohort of the data chunk that
holds the centre of its pixel window, a cohort's window is the union of its zones' windows (a
chunk, grown by at most the zones reaching out of it), and the window is sliced out of the data
as one spatial block (time blocks stay as they are: a quantile is taken per date).  Inside a
window the zones are rasterised again on the window's grid (same pixels as the chunk labels:
the window's grid is the data grid, shifted by whole pixels), layer by layer for overlapping
zones, and ``flox.groupby_reduce(..., func="nanquantile")`` reduces it.

Memory: a task holds one window (about a chunk for zones smaller than a chunk; a zone's whole
bounding box for larger zones, which an exact quantile cannot avoid).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from eo.analysis.rasterize import burn, chunk_starts
from eo.analysis.stats import ZONE_DIM


def pixel_windows(geobox: GeoBox, geoms: Sequence[Any]) -> np.ndarray:
    """``(n, 4)`` int rows ``(row0, row1, col0, col1)`` of each zone's bounds on the grid, clipped.

    Grown by one pixel on each side (a centre or touched pixel always lies inside); an empty
    window (``row0 >= row1`` or ``col0 >= col1``) means the zone misses the raster.
    """
    import shapely

    bounds = shapely.bounds(np.asarray(geoms, dtype=object))
    inv = ~geobox.affine
    ny, nx = geobox.shape.yx
    corners = [inv * (bounds[:, i], bounds[:, j]) for i, j in ((0, 1), (0, 3), (2, 1), (2, 3))]
    cols = np.stack([c[0] for c in corners])
    rows = np.stack([c[1] for c in corners])
    r0 = np.clip(np.floor(rows.min(axis=0)) - 1, 0, ny).astype(np.int64)
    r1 = np.clip(np.ceil(rows.max(axis=0)) + 1, 0, ny).astype(np.int64)
    c0 = np.clip(np.floor(cols.min(axis=0)) - 1, 0, nx).astype(np.int64)
    c1 = np.clip(np.ceil(cols.max(axis=0)) + 1, 0, nx).astype(np.int64)
    return np.stack([r0, r1, c0, c1], axis=1)


def _cohorts(
    windows: np.ndarray, chunks: tuple[Sequence[int], Sequence[int]]
) -> dict[tuple[int, int], np.ndarray]:
    inside = (windows[:, 0] < windows[:, 1]) & (windows[:, 2] < windows[:, 3])
    ys, xs = np.asarray(chunk_starts(chunks[0])), np.asarray(chunk_starts(chunks[1]))
    cy = (windows[:, 0] + windows[:, 1]) // 2
    cx = (windows[:, 2] + windows[:, 3]) // 2
    ci = np.searchsorted(ys, cy, side="right") - 1
    cj = np.searchsorted(xs, cx, side="right") - 1
    out: dict[tuple[int, int], list[int]] = {}
    for k in np.flatnonzero(inside).tolist():
        out.setdefault((int(ci[k]), int(cj[k])), []).append(k)
    return {key: np.asarray(v) for key, v in out.items()}


def _window_quantiles(
    block: np.ndarray,
    affine: Any,
    geoms: list[Any],
    layers: np.ndarray,
    qs: list[float],
    all_touched: bool,
) -> np.ndarray:
    """``(..., q, zone)`` quantiles of one window's zones (all of them inside the window)."""
    from flox import groupby_reduce

    n = len(geoms)
    shape = block.shape[-2:]
    out = np.full((*block.shape[:-2], len(qs), n), np.nan)
    for lay in np.unique(layers).tolist():
        idx = np.flatnonzero(layers == lay)
        labels = burn(shape, affine, [geoms[i] for i in idx], idx.tolist(), all_touched)
        if not (labels >= 0).any():
            continue
        res, *_ = groupby_reduce(
            block,
            labels,
            func="nanquantile",
            expected_groups=np.arange(n),
            axis=(-2, -1),
            finalize_kwargs={"q": qs},
            engine="flox",
        )
        res = np.moveaxis(np.asarray(res), 0, -2)  # flox puts the quantile axis first
        out[..., idx] = res[..., idx]
    return out


def zonal_quantiles(
    values: xr.DataArray,
    geobox: GeoBox,
    geoms: Any,
    layer: np.ndarray,
    qs: list[float],
    *,
    all_touched: bool = False,
) -> xr.DataArray:
    """Lazy float64 quantiles ``(quantile, [time,] zone)`` of each zone's valid values (NaN if none).

    ``values`` is a Dask-backed ``([time,] y, x)`` DataArray (NaN = masked) on ``geobox``.
    """
    geoms = np.asarray(geoms, dtype=object)
    arr = values.data
    lead = arr.shape[:-2]
    chunks = (arr.chunks[-2], arr.chunks[-1])
    windows = pixel_windows(geobox, geoms)
    parts, order = [], []
    for members in _cohorts(windows, chunks).values():
        w = windows[members]
        r0, r1, c0, c1 = int(w[:, 0].min()), int(w[:, 1].max()), int(w[:, 2].min()), int(w[:, 3].max())
        block = arr[..., r0:r1, c0:c1].rechunk({arr.ndim - 2: -1, arr.ndim - 1: -1})
        affine = geobox[r0:r1, c0:c1].affine
        parts.append(
            block.map_blocks(
                _window_quantiles,
                affine,
                list(geoms[members]),
                layer[members],
                qs,
                all_touched,
                chunks=(*block.chunks[:-2], (len(qs),), (len(members),)),
                dtype=np.float64,
                meta=np.empty((0,) * arr.ndim, dtype=np.float64),
            )
        )
        order.append(members)
    n = len(geoms)
    missing = np.setdiff1d(np.arange(n), np.concatenate(order) if order else [])
    if missing.size:
        parts.append(da.full((*lead, len(qs), missing.size), np.nan, chunks=(*arr.chunks[:-2], -1, -1)))
        order.append(missing)
    stacked = da.concatenate(parts, axis=-1)
    result = stacked[..., np.argsort(np.concatenate(order))]
    dims = (*values.dims[:-2], "quantile", ZONE_DIM)
    coords = {d: values.coords[d] for d in values.dims[:-2] if d in values.coords}
    out = xr.DataArray(result, dims=dims, coords={**coords, "quantile": qs})
    return out.transpose("quantile", ...)
