"""Exact zonal medians and percentiles: flox's quantile on blocks that hold whole zones.

A quantile does not decompose into per-chunk partials, so flox computes it only on blocks that
hold every member of a group (its ``method="blockwise"`` rule).  The zone-pixel axis
(:mod:`eo.analysis.pixels`) is cut by chunks, and a zone crossing a chunk edge has pixels in
several of its blocks, so the zones are gathered into **cohorts** instead: each zone joins the
cohort of the chunk that holds the centre of its bounding box, and one task per cohort (and
time block) concatenates the zone-pixel blocks of every chunk its zones reach, keeps the pixels
of its own zones and reduces them with ``flox.groupby_reduce(..., func="nanquantile")``.

The blocks are those the other statistics reduce (the same Dask keys: read and gathered once).
Memory: a task holds the zone pixels of a few chunks (a zone's own pixels, times dates, for a
zone larger than a chunk, which an exact quantile cannot avoid).
"""

from __future__ import annotations

from itertools import product
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from eo.analysis.pixels import ZonePixels


def _cohort_quantiles(
    values: list[np.ndarray], labels: list[np.ndarray], zones: np.ndarray, qs: list[float]
) -> np.ndarray:
    """``(..., q, zone)`` quantiles of ``zones`` (indices) from the zone-pixel blocks that hold them."""
    from flox import groupby_reduce

    lab = np.concatenate(labels)
    keep = np.isin(lab, zones)
    vals = np.concatenate(values, axis=-1)[..., keep]
    out = np.full((*vals.shape[:-1], len(qs), len(zones)), np.nan)
    if not keep.any():
        return out
    res, *_ = groupby_reduce(
        vals,
        lab[keep],
        func="nanquantile",
        expected_groups=zones,
        axis=-1,
        finalize_kwargs={"q": qs},
        engine="flox",
    )
    return np.moveaxis(np.asarray(res), 0, -2)  # flox puts the quantile axis first


def _cohorts(pixels: ZonePixels, nzones: int) -> list[tuple[np.ndarray, list[int]]]:
    """(zones, blocks of the zone-pixel axis holding them) per cohort; zones in no block are left out."""
    blocks_of: list[list[int]] = [[] for _ in range(nzones)]
    for b, members in enumerate(pixels.members):
        for z in members.tolist():
            blocks_of[z].append(b)
    home: dict[tuple[int, int], list[int]] = {}
    for z, bs in enumerate(blocks_of):
        if bs:
            chunks = sorted({pixels.blocks[b][1:] for b in bs})
            home.setdefault(chunks[len(chunks) // 2], []).append(z)
    return [(np.asarray(zs), sorted({b for z in zs for b in blocks_of[z]})) for _, zs in sorted(home.items())]


def zonal_quantiles(pixels: ZonePixels, values: da.Array, nzones: int, qs: list[float]) -> da.Array:
    """Lazy float64 ``([time,] quantile, zone)`` quantiles of each zone's valid values (NaN if none).

    ``values`` are the gathered ``([time,] pixel)`` values on ``pixels`` (:meth:`ZonePixels.gather`).
    """
    labels = pixels.labels
    name = "eo-zone-quantiles-" + tokenize(values.name, qs)
    cohorts = _cohorts(pixels, nzones)
    lead = values.chunks[:-1]
    dsk: dict[Any, Any] = {}
    order: list[np.ndarray] = []
    for c, (zones, blocks) in enumerate(cohorts):
        order.append(zones)
        for t in product(*(range(len(ch)) for ch in lead)):
            dsk[(name, *t, 0, c)] = (
                _cohort_quantiles,
                [(values.name, *t, b) for b in blocks],
                [(labels.name, b) for b in blocks],
                zones,
                qs,
            )
    covered = np.concatenate(order) if order else np.empty(0, dtype=np.int64)
    missing = np.setdiff1d(np.arange(nzones), covered)
    parts = []
    if cohorts:
        graph = HighLevelGraph.merge(
            values.dask, labels.dask, HighLevelGraph({name: dsk}, {name: {values.name, labels.name}})
        )
        sizes = tuple(len(z) for z, _ in cohorts)
        parts.append(da.Array(graph, name, (*lead, (len(qs),), sizes), dtype=np.float64))
    if missing.size:
        parts.append(da.full((*values.shape[:-1], len(qs), missing.size), np.nan, chunks=(*lead, -1, -1)))
        order.append(missing)
    stacked = da.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    return stacked[..., np.argsort(np.concatenate(order))]
