"""The Dask graph of a load: one read task per (band, group of time chunks, y chunk, x chunk).

A task gets a :class:`ChunkRequest` (picklable: hrefs, grids, nodata; no open files), reads
every source that reaches its chunk with windowed reads (:func:`eo.loading.read.read_source`)
and mosaics them first-valid per time slice.  Sources that do not reach a chunk are left out
of its request at plan time, so the graph grows with chunks, not with items x chunks.

When a band's sources are remote (URLs), consecutive time chunks of one spatial chunk are read
by one task, as long as their output fits :data:`READ_GROUP_BYTES` (the array keeps its chunks:
each ``(time, y, x)`` chunk is a slice of its group's block).  The task reads the group's time
slices in parallel on the process's I/O pool (:mod:`eo.loading.io`): over HTTP a read mostly
waits on round trips, and with one slice per task only as many reads as Dask has threads
(cores) would be in flight.  Local files keep one task per chunk (reading them is decoding,
which Dask's threads already keep busy; the graph is the one local benchmarks measured).
"""

from __future__ import annotations

import operator
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from odc.geo.geobox import GeoBox

from eo.loading.io import is_remote, run_all
from eo.loading.mosaic import paste_first_valid
from eo.loading.plan import BandPlan, chunk_ranges, chunk_sources
from eo.loading.read import RESAMPLING, read_source
from eo.loading.types import ChunkRequest, ReadSettings, Source
from eo.malloc import ensure_tuned

#: Bytes of output one read task may cover (a group of consecutive time chunks of one spatial
#: chunk): 6 dates of a 2048 x 2048 uint16 chunk are 48 MiB.  What a temporal composite of the
#: chunk holds anyway; a time chunk larger than this is read alone.
READ_GROUP_BYTES = 64 * 2**20


def load_chunk(request: ChunkRequest) -> np.ndarray:
    """Read and mosaic one chunk: ``(time, y, x)`` array of ``request.dtype`` (runs in a Dask task).

    Time slices are read in parallel on the process's I/O pool (:func:`eo.loading.io.run_all`),
    each into its own slice of the output; within a slice the sources are read in mosaic order
    and reading stops once every pixel is filled, exactly as when read one after the other.
    """
    ensure_tuned()  # once per process: Dask workers' pinned malloc thresholds (see eo.malloc)

    ys, xs = request.window
    rows, cols = ys.stop - ys.start, xs.stop - xs.start
    out = np.full((len(request.slices), rows, cols), request.fill, dtype=request.dtype)
    resampling = RESAMPLING[request.resampling]
    calls = [
        (lambda t=t, sources=sources: _read_slice(request, sources, out[t], resampling))
        for t, sources in enumerate(request.slices)
        if sources
    ]
    run_all(calls, request.settings.io_threads)
    return out


def _read_slice(request: ChunkRequest, sources: tuple[Source, ...], out: np.ndarray, resampling: Any) -> None:
    """Mosaic ``sources`` first-valid into ``out`` (one time slice of the chunk, filled with ``fill``)."""
    from eo.config import gdal_env

    rows, cols = out.shape
    policy = request.settings.retry
    with gdal_env(request.settings.gdal_options()):  # per thread: the pool's threads set it too
        if len(sources) == 1:
            # one source: fast-path reads land straight in the output (nothing to mosaic)
            pieces = read_source(
                sources[0], request.grid, request.window, resampling, out, request.fill, policy
            )
            if pieces:
                todo = np.ones((rows, cols), dtype=bool)
                for roi, data, valid in pieces:
                    paste_first_valid(out, todo, data, valid, roi)
            return
        todo = np.ones((rows, cols), dtype=bool)
        for src in sources:
            pieces = read_source(src, request.grid, request.window, resampling, policy=policy)
            for roi, data, valid in pieces or ():
                paste_first_valid(out, todo, data, valid, roi)
            if not todo.any():
                break


def time_groups(
    t_ranges: list[tuple[int, int]], slice_bytes: int, budget: int = READ_GROUP_BYTES
) -> list[list[int]]:
    """Consecutive time-chunk indices read by one task: as many as fit ``budget`` bytes (at least one)."""
    groups: list[list[int]] = []
    size = 0
    for i, (t0, t1) in enumerate(t_ranges):
        need = (t1 - t0) * slice_bytes
        if groups and size + need <= budget:
            groups[-1].append(i)
            size += need
        else:
            groups.append([i])
            size = need
    return groups


def band_array(plan: BandPlan, geobox: GeoBox, chunks: tuple[int, int, int]) -> da.Array:
    """Build the lazy ``(time, y, x)`` Dask array of one variable on ``geobox``."""
    ct, cy, cx = chunks
    n_time = len(plan.sources)
    t_ranges = chunk_ranges(n_time, ct)
    y_ranges = chunk_ranges(geobox.shape[0], cy)
    x_ranges = chunk_ranges(geobox.shape[1], cx)
    per_chunk = chunk_sources(plan.sources, geobox, (cy, cx))
    settings = ReadSettings.current()  # the caller's eo.config scope travels with the tasks
    # once: hashing every source of a long time series is not free
    token = tokenize(plan, geobox, chunks, settings)
    name, read_name = f"eo-load-{plan.var}-{token}", f"eo-read-{plan.var}-{token}"
    remote = any(is_remote(src.href) for sources in plan.sources for src in sources)
    # local files: one slice per task (a read there is decoding, which Dask's threads already keep busy)
    groups = time_groups(t_ranges, cy * cx * plan.dtype.itemsize, READ_GROUP_BYTES if remote else 0)
    dsk: dict[Any, Any] = {}
    for ig, group in enumerate(groups):
        g0, g1 = t_ranges[group[0]][0], t_ranges[group[-1]][1]
        for iy, (y0, y1) in enumerate(y_ranges):
            for ix, (x0, x1) in enumerate(x_ranges):
                slices = tuple(per_chunk.get((t, iy, ix), ()) for t in range(g0, g1))
                window = (slice(y0, y1), slice(x0, x1))
                request = ChunkRequest(
                    geobox, window, slices, plan.dtype.str, plan.fill, plan.resampling, settings
                )
                if len(group) == 1:
                    dsk[(name, group[0], iy, ix)] = (load_chunk, request)
                    continue
                dsk[(read_name, ig, iy, ix)] = (load_chunk, request)
                for it in group:
                    t0, t1 = t_ranges[it]
                    part = (slice(t0 - g0, t1 - g0),)
                    dsk[(name, it, iy, ix)] = (operator.getitem, (read_name, ig, iy, ix), part)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
    dask_chunks = (
        tuple(b - a for a, b in t_ranges),
        tuple(b - a for a, b in y_ranges),
        tuple(b - a for a, b in x_ranges),
    )
    return da.Array(graph, name, dask_chunks, dtype=plan.dtype)
