"""A bounded pool of I/O threads per process: reads of different time slices in flight together.

A chunk task that covers several time slices (:func:`eo.loading.graph.band_array` groups them)
hands each slice's read to this pool, so that the number of reads in flight is set by the
``io_threads`` setting (captured with the graph, :class:`eo.loading.types.ReadSettings`), not by
the number of cores or of Dask's worker threads: on 2 cores, 16 reads wait on the network while
two decode.  The pool is one per process (created on first
use, after a fork too), shared by every task of the process, so a worker never runs more than
``IO_THREADS`` reads at once whatever the number of its Dask threads: each read is one GDAL
windowed read (GDAL merges adjacent blocks into one range request and fetches the ranges of one
read in parallel), so the requests in flight stay bounded.  Each I/O thread keeps its own open
datasets (:mod:`eo.loading.handles`).  GDAL releases the GIL while it reads and decodes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, size, pool)


def is_remote(href: str) -> bool:
    """Whether ``href`` is read over a network (a URL or a GDAL virtual network path)."""
    return "://" in href or href.startswith(("/vsicurl", "/vsis3", "/vsigs", "/vsiaz", "/vsiadls", "/vsioss"))


def io_threads() -> int:
    """Size of the I/O pool: :data:`eo.config.IO_THREADS` (``EO_IO_THREADS`` overrides it)."""
    from eo.config import io_threads as configured

    return configured()


def io_pool(size: int | None = None) -> ThreadPoolExecutor:
    """This process's I/O pool of ``size`` threads (default :func:`io_threads`).

    Created on first use, again when another size is asked for (the old pool finishes its
    reads), and in a forked child.
    """
    global _pool
    size, pid = size or io_threads(), os.getpid()
    with _lock:
        if _pool is None or _pool[0] != pid or _pool[1] != size:
            _pool = (pid, size, ThreadPoolExecutor(size, thread_name_prefix="eo-io"))
        return _pool[2]


def run_all(calls: Sequence[Callable[[], Any]], size: int | None = None) -> list[Any]:
    """Run ``calls`` on the I/O pool (of ``size`` threads, see :func:`io_pool`); results in order.

    Waits for every call (none is left writing into a buffer the caller may drop) and then
    raises the first error, if any.  Must not be called from an I/O thread (it would wait on
    the pool it occupies).
    """
    if len(calls) <= 1 or threading.current_thread().name.startswith("eo-io"):
        return [c() for c in calls]
    pool = io_pool(size)
    futures: list[Future[Any]] = [pool.submit(c) for c in calls]
    errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
    return [f.result() for f in futures]
