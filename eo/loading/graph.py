"""The Dask graph of a load: one task per (band, time chunk, y chunk, x chunk).

A task gets a :class:`ChunkRequest` (picklable: hrefs, grids, nodata; no open files), reads
every source that reaches its chunk with windowed reads (:func:`eo.loading.read.read_source`)
and mosaics them first-valid per time slice.  Sources that do not reach a chunk are left out
of its request at plan time, so the graph grows with chunks, not with items x chunks.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from odc.geo.geobox import GeoBox

from eo.loading.mosaic import paste_first_valid
from eo.loading.plan import BandPlan, chunk_ranges, chunk_sources
from eo.loading.read import RESAMPLING, read_source
from eo.loading.types import ChunkRequest, ReadSettings
from eo.malloc import ensure_tuned


def load_chunk(request: ChunkRequest) -> np.ndarray:
    """Read and mosaic one chunk: ``(time, y, x)`` array of ``request.dtype`` (runs in a Dask task)."""
    from eo.config import gdal_env

    ensure_tuned()  # once per process: Dask workers' pinned malloc thresholds (see eo.malloc)

    ys, xs = request.window
    rows, cols = ys.stop - ys.start, xs.stop - xs.start
    out = np.full((len(request.slices), rows, cols), request.fill, dtype=request.dtype)
    resampling = RESAMPLING[request.resampling]
    if not any(request.slices):
        return out
    policy = request.settings.retry
    with gdal_env(request.settings.gdal_options()):
        for t, sources in enumerate(request.slices):
            if len(sources) == 1:
                # one source: fast-path reads land straight in the output (nothing to mosaic)
                pieces = read_source(
                    sources[0], request.grid, request.window, resampling, out[t], request.fill, policy
                )
                if pieces:
                    todo = np.ones((rows, cols), dtype=bool)
                    for roi, data, valid in pieces:
                        paste_first_valid(out[t], todo, data, valid, roi)
                continue
            todo = np.ones((rows, cols), dtype=bool)
            for src in sources:
                pieces = read_source(src, request.grid, request.window, resampling, policy=policy)
                for roi, data, valid in pieces or ():
                    paste_first_valid(out[t], todo, data, valid, roi)
                if not todo.any():
                    break
    return out


def band_array(plan: BandPlan, geobox: GeoBox, chunks: tuple[int, int, int]) -> da.Array:
    """Build the lazy ``(time, y, x)`` Dask array of one variable on ``geobox``."""
    ct, cy, cx = chunks
    n_time = len(plan.sources)
    t_ranges = chunk_ranges(n_time, ct)
    y_ranges = chunk_ranges(geobox.shape[0], cy)
    x_ranges = chunk_ranges(geobox.shape[1], cx)
    per_chunk = chunk_sources(plan.sources, geobox, (cy, cx))
    settings = ReadSettings.current()  # the caller's eo.config scope travels with the tasks
    name = f"eo-load-{plan.var}-" + tokenize(plan, geobox, chunks, settings)
    dsk: dict[Any, Any] = {}
    for it, (t0, t1) in enumerate(t_ranges):
        for iy, (y0, y1) in enumerate(y_ranges):
            for ix, (x0, x1) in enumerate(x_ranges):
                slices = tuple(per_chunk.get((t, iy, ix), ()) for t in range(t0, t1))
                window = (slice(y0, y1), slice(x0, x1))
                request = ChunkRequest(
                    geobox, window, slices, plan.dtype.str, plan.fill, plan.resampling, settings
                )
                dsk[(name, it, iy, ix)] = (load_chunk, request)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
    dask_chunks = (
        tuple(b - a for a, b in t_ranges),
        tuple(b - a for a, b in y_ranges),
        tuple(b - a for a, b in x_ranges),
    )
    return da.Array(graph, name, dask_chunks, dtype=plan.dtype)
