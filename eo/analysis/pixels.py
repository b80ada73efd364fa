"""The zones' pixels as one Dask axis: what flox reduces.

For every chunk of the data's ``(y, x)`` grid and every layer of non-overlapping zones
(:func:`eo.analysis.rasterize.assign_layers`) that meets it, one task rasterises the layer's
zones on the chunk's geobox and keeps only the pixels that fall in a zone: their flat positions
in the chunk, their zone labels and, with area weights, their coverage fractions.  Those blocks,
laid end to end, form a 1-D **zone-pixel axis**; gathering the data's values at those positions
gives a ``([time,] pixel)`` array aligned with the labels.  flox then reduces along that axis by
label (map-reduce: per-block partials, combined in a tree).

Why not hand flox the ``(y, x)`` label raster directly?  Most of a scene usually lies in no zone,
and a grouped reduction over a ``(time, y, x)`` chunk broadcasts the labels over time and
factorises every pixel: on a 2048 x 2048 x 6 chunk that is 10-50x the work of the zones' own
pixels.  A pixel of two overlapping zones sits in two layers, so it appears once per zone: each
zone gets all its pixels.

Block lengths must be known when the graph is built, before any rasterisation: each block is
padded to an upper bound, the pixels of its zones' bounding boxes within the chunk (label ``-1``,
value NaN in the padding, which flox ignores).  Memory stays bounded by the chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from odc.geo.geobox import GeoBox

from eo.analysis.rasterize import burn, chunk_starts, chunk_zones, coverage


def _bound(geobox: GeoBox, geoms: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> int:
    """Upper bound of the pixels of ``geoms`` in rows ``y0:y1``, cols ``x0:x1``: their boxes' pixels."""
    import shapely

    b = shapely.bounds(geoms)
    inv = ~geobox.affine
    c0, r0 = inv * (b[:, 0], b[:, 3])
    c1, r1 = inv * (b[:, 2], b[:, 1])
    rows = np.clip(np.ceil(np.maximum(r0, r1)) + 1, y0, y1) - np.clip(
        np.floor(np.minimum(r0, r1)) - 1, y0, y1
    )
    cols = np.clip(np.ceil(np.maximum(c0, c1)) + 1, x0, x1) - np.clip(
        np.floor(np.minimum(c0, c1)) - 1, x0, x1
    )
    return int(min(float((rows * cols).sum()), (y1 - y0) * (x1 - x0)))


def _compress(
    shape: tuple[int, int], affine: Any, wkt: str, geoms: list[Any], labels: list[int], rule: str, bound: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat positions int64, labels int32, weights float64) of a chunk's zone pixels, padded to ``bound``."""
    if rule == "area":
        lab, cov = coverage(shape, affine, wkt, geoms, labels)
    else:
        lab, cov = burn(shape, affine, geoms, labels, rule == "touched"), None
    flat = np.flatnonzero(lab.reshape(-1) >= 0)
    if flat.size > bound:  # cannot happen: zones' pixels lie in their bounding boxes
        raise AssertionError(f"zone pixels {flat.size} exceed the block bound {bound}")
    pos = np.zeros(bound, dtype=np.int64)
    out_lab = np.full(bound, -1, dtype=np.int32)
    out_w = np.zeros(bound, dtype=np.float64)
    pos[: flat.size] = flat
    out_lab[: flat.size] = lab.reshape(-1)[flat]
    out_w[: flat.size] = 1.0 if cov is None else cov.reshape(-1)[flat]
    return pos, out_lab, out_w


def _part(triple: tuple[np.ndarray, np.ndarray, np.ndarray], k: int) -> np.ndarray:
    return triple[k]


def _gather(block: np.ndarray, triple: tuple[np.ndarray, np.ndarray, np.ndarray], nodata: Any) -> np.ndarray:
    """float64 values of a data block at the zone pixels (``[time,] pixel``); NaN where masked or padding."""
    pos, lab, _ = triple
    flat = block.reshape(*block.shape[:-2], -1)
    raw = flat[..., pos]
    out = raw.astype(np.float64)
    bad = ~np.isfinite(out)
    if nodata is not None and not np.isnan(nodata):
        bad |= raw == nodata
    bad |= lab < 0
    out[bad] = np.nan
    return out


@dataclass(frozen=True)
class ZonePixels:
    """The zone-pixel axis of one grid: labels, weights, and how to gather values onto it."""

    name: str
    graph: HighLevelGraph
    blocks: list[tuple[int, int, int]]  # (layer, i, j) of each block along the axis
    sizes: tuple[int, ...]
    members: list[np.ndarray]  # the zones (indices) each block may hold

    @property
    def labels(self) -> da.Array:
        """int32 zone label of each zone pixel (``-1``: padding)."""
        return self._array("labels", 1, np.int32)

    @property
    def weights(self) -> da.Array:
        """float64 coverage fraction of each zone pixel (1 without area weights, 0 in padding)."""
        return self._array("weights", 2, np.float64)

    def _array(self, what: str, k: int, dtype: Any) -> da.Array:
        name = f"{self.name}-{what}"
        layer: dict[Any, Any] = {(name, b): (_part, (self.name, b), k) for b in range(len(self.blocks))}
        graph = HighLevelGraph.merge(self.graph, HighLevelGraph({name: layer}, {name: {self.name}}))
        return da.Array(graph, name, (self.sizes,), dtype=dtype)

    def gather(self, data: da.Array, nodata: Any = None) -> da.Array:
        """float64 ``([time,] pixel)`` values of ``data`` (``([time,] y, x)``, Dask) at the zone pixels.

        NaN where the data is masked (non-finite or equal to ``nodata``) and in the padding.
        """
        name = "eo-zone-values-" + tokenize(self.name, data.name, nodata)
        keys = data.__dask_keys__()
        lead = data.chunks[:-2]
        dsk: dict[Any, Any] = {}
        for t in product(*(range(len(c)) for c in lead)):
            for b, (_, i, j) in enumerate(self.blocks):
                src: Any = keys
                for k in (*t, i, j):
                    src = src[k]
                dsk[(name, *t, b)] = (_gather, src, (self.name, b), nodata)
        graph = HighLevelGraph.merge(
            self.graph, data.dask, HighLevelGraph({name: dsk}, {name: {self.name, *data.dask.layers}})
        )
        return da.Array(graph, name, (*lead, self.sizes), dtype=np.float64)


def zone_pixels(
    geobox: GeoBox, chunks: tuple[Sequence[int], Sequence[int]], geoms: Any, layer: np.ndarray, rule: str
) -> ZonePixels:
    """Plan the zone-pixel axis of ``geoms`` (grid CRS) on ``geobox`` cut in ``chunks``; lazy.

    ``rule``: ``"centre"``, ``"touched"`` (all touched) or ``"area"`` (coverage fractions).
    """
    geoms = np.asarray(geoms, dtype=object)
    name = "eo-zone-pixels-" + tokenize(geobox, chunks, [g.wkb for g in geoms], layer, rule)
    res = float(max(abs(geobox.resolution.x), abs(geobox.resolution.y)))
    hits = chunk_zones(geobox, chunks, geoms, res)
    ys, xs = chunk_starts(chunks[0]), chunk_starts(chunks[1])
    wkt = geobox.crs.to_wkt() if geobox.crs is not None else ""
    dsk: dict[Any, Any] = {}
    blocks: list[tuple[int, int, int]] = []
    sizes: list[int] = []
    members: list[np.ndarray] = []
    nlayers = int(layer.max()) + 1 if len(layer) else 1
    for lay, i, j in product(range(nlayers), range(len(chunks[0])), range(len(chunks[1]))):
        idx = hits.get((i, j), np.empty(0, dtype=np.int64))
        idx = idx[layer[idx] == lay]
        if not idx.size:
            continue
        sub = geobox[ys[i] : ys[i + 1], xs[j] : xs[j + 1]]
        bound = _bound(geobox, geoms[idx], ys[i], ys[i + 1], xs[j], xs[j + 1])
        if bound == 0:
            continue
        dsk[(name, len(blocks))] = (
            _compress,
            sub.shape.yx,
            sub.affine,
            wkt,
            list(geoms[idx]),
            idx.tolist(),
            rule,
            bound,
        )
        blocks.append((lay, i, j))
        sizes.append(bound)
        members.append(idx)
    if not blocks:  # no zone meets the raster: one empty block keeps the arrays well-formed
        dsk[(name, 0)] = (_compress, (1, 1), geobox.affine, wkt, [], [], "centre", 1)
        blocks, sizes, members = [(0, 0, 0)], [1], [np.empty(0, dtype=np.int64)]
    return ZonePixels(name, HighLevelGraph({name: dsk}, {name: set()}), blocks, tuple(sizes), members)
