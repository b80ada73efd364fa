"""Zones onto the data's own pixel grid, one chunk at a time: labels and coverage fractions.

A chunk's task rasterises only the zones whose bounds meet that chunk (``rasterio.features.
rasterize`` on the chunk's geobox, :func:`burn`), so memory is bounded by the chunk, never by
the raster.  Zone ``k`` (its position in the zone table) burns label ``k``; ``-1`` is "no zone".
:mod:`eo.analysis.pixels` builds the Dask graph from these pieces.

One label array cannot hold overlapping zones, so zones are split into **layers** in which no
two zones can claim the same pixel (:func:`assign_layers`, a greedy colouring of the conflict
graph); the label array is ``(layer, y, x)``.  Two zones conflict when, under the pixel rule in
force, a pixel could belong to both:

* centre rule (default, as rasterio and rasterstats): their interiors intersect (GDAL's scan-line
  fill gives a pixel whose centre lies on a shared edge to one side only);
* ``all_touched`` and area weights: they come within one pixel diagonal of each other (both
  may touch the same pixel).

A partition of fields is one layer under the centre rule and a handful under the other rules.

Area weights (:func:`coverage_layers`) are exact coverage fractions of each pixel by each zone
(0..1, float64), computed with exactextract (its exact polygon/pixel-square intersection, a
well-kept C++ library) on each chunk's grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any

import numpy as np
from odc.geo.geobox import GeoBox

Rule = str  # "centre", "touched", "area"

_POLYGONAL = ("Polygon", "MultiPolygon")


def assign_layers(geoms: Any, rule: Rule, pixel_diagonal: float) -> np.ndarray:
    """Layer (0, 1, ...) of each zone such that zones of one layer never share a pixel.

    ``geoms`` is an array of shapely geometries in the grid's CRS.  Greedy colouring in zone
    order: each zone takes the smallest layer none of its conflicting neighbours has.
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    if rule == "centre":
        a, b = tree.query(geoms, predicate="intersects")
        keep = a < b
        a, b = a[keep], b[keep]
        areal = np.isin(shapely.get_type_id(geoms), [3, 6])  # Polygon, MultiPolygon
        both = areal[a] & areal[b]
        # polygons that only touch along edges never share a pixel centre; anything else might
        conflict = ~both | ~shapely.touches(geoms[a], geoms[b])
        a, b = a[conflict], b[conflict]
    else:
        a, b = tree.query(geoms, predicate="dwithin", distance=pixel_diagonal)
        keep = a < b
        a, b = a[keep], b[keep]
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for i, j in zip(a.tolist(), b.tolist()):
        neighbours[j].append(i)  # colour in order: only earlier zones are already coloured
    layer = np.zeros(n, dtype=np.int32)
    for j in range(n):
        if neighbours[j]:
            taken = set(layer[neighbours[j]].tolist())
            layer[j] = next(k for k in range(len(taken) + 1) if k not in taken)
    return layer


def chunk_starts(chunks: Sequence[int]) -> list[int]:
    return [0, *np.cumsum(chunks).tolist()]


def chunk_zones(
    geobox: GeoBox, chunks: tuple[Sequence[int], Sequence[int]], geoms: Any, margin: float
) -> dict[tuple[int, int], np.ndarray]:
    """Zones (indices) whose bounds, grown by ``margin`` (CRS units), meet each ``(i, j)`` chunk."""
    import shapely

    tree = shapely.STRtree(np.asarray(geoms, dtype=object))
    ys, xs = chunk_starts(chunks[0]), chunk_starts(chunks[1])
    out = {}
    for i, j in product(range(len(chunks[0])), range(len(chunks[1]))):
        sub = geobox[ys[i] : ys[i + 1], xs[j] : xs[j + 1]]
        box = shapely.box(*sub.extent.boundingbox).buffer(margin, join_style="mitre")
        hits = tree.query(box, predicate="intersects")
        if hits.size:
            out[(i, j)] = np.sort(hits)
    return out


def burn(
    shape: tuple[int, int], affine: Any, geoms: Sequence[Any], labels: Sequence[int], all_touched: bool
) -> np.ndarray:
    if not len(geoms):
        return np.full(shape, -1, dtype=np.int32)
    from rasterio.features import rasterize

    return rasterize(
        zip(geoms, labels),
        out_shape=shape,
        transform=affine,
        fill=-1,
        all_touched=all_touched,
        dtype="int32",
    )


def coverage(
    shape: tuple[int, int], affine: Any, wkt: str, geoms: Sequence[Any], labels: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    lab = np.full(shape, -1, dtype=np.int32)
    cov = np.zeros(shape, dtype=np.float64)
    if not len(geoms):
        return lab, cov
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource
    from exactextract.raster import NumPyRasterSource
    from shapely.geometry import mapping

    h, w = shape
    x0, y1 = affine.c, affine.f
    x1, y0 = x0 + affine.a * w, y1 + affine.e * h
    grid = NumPyRasterSource(np.zeros(shape, dtype=np.uint8), x0, y0, x1, y1, srs_wkt=wkt)
    feats = [
        {"type": "Feature", "properties": {"label": int(k)}, "geometry": mapping(g)}
        for g, k in zip(geoms, labels)
    ]
    res = exact_extract(
        grid,
        JSONFeatureSource(feats, srs_wkt=wkt),
        ["cell_id", "coverage"],
        output="geojson",
        include_cols=["label"],
    )
    flat_lab, flat_cov = lab.reshape(-1), cov.reshape(-1)
    for f in res:
        props = f["properties"]
        cells, frac = np.asarray(props["cell_id"], dtype=np.int64), np.asarray(props["coverage"])
        hit = frac > 0
        flat_lab[cells[hit]] = props["label"]
        flat_cov[cells[hit]] = frac[hit]
    return lab, cov
