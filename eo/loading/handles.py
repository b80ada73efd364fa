"""Open rasterio datasets kept per thread, so chunk tasks do not re-open a file per window.

Opening a COG parses its header and IFDs (about 1-5 ms locally, a round trip or more
remotely); a load opens each asset once per chunk and band.  Chunk tasks run on Dask's
worker threads, which persist across tasks, so each thread keeps its most recently used
datasets open (a handle is never shared between threads: GDAL dataset handles are not
thread-safe).

A cached handle is reused only while the file is unchanged: local paths are keyed on
``(path, inode, size, mtime)``, so a file replaced in place (an atomic rename) is opened
afresh; remote hrefs (``http(s)://``, ``s3://``, ``/vsi...``) are reused for at most
:data:`REMOTE_TTL` seconds.  At most :data:`MAX_OPEN` datasets stay open per thread; the
least recently used is closed first (fewer when many threads share the process's file-descriptor
limit, see :data:`FD_SHARE`).  :func:`clear` closes the calling thread's handles;
:func:`invalidate` makes every thread close its handles at its next use (each thread closes its own:
a handle is never touched by another thread).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import rasterio

#: Datasets kept open per thread at most (each holds a file descriptor and its parsed header).
MAX_OPEN = 48
#: Share of the process's file-descriptor limit the caches of all threads may use together: with
#: many threads each keeps fewer handles (never fewer than 4), so a 64-thread worker stays far
#: from the default limit of 1024.
FD_SHARE = 0.25
#: Seconds a remote dataset handle may be reused before it is re-opened.
REMOTE_TTL = 60.0

_local = threading.local()
#: Bumped by :func:`invalidate`; a thread whose cache is older closes its handles before reuse.
_generation = 0


def _cache() -> OrderedDict[Any, tuple[Any, float]]:
    cache: OrderedDict[Any, tuple[Any, float]] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = OrderedDict()
        _local.generation = _generation
    elif _local.generation != _generation:
        while cache:
            _close(cache.popitem()[1][0])
        _local.generation = _generation
    return cache


def invalidate() -> None:
    """Make every thread re-open its datasets: each closes its cached handles at its next use."""
    global _generation
    _generation += 1


def _key(href: str) -> tuple[Any, ...] | None:
    """Identity of the file behind ``href`` now: ``None`` when it is local and missing."""
    if "://" in href or href.startswith("/vsi"):
        return ("remote", href)
    try:
        st = os.stat(href)
    except OSError:
        return None
    return ("local", href, st.st_ino, st.st_size, st.st_mtime_ns)


def with_dataset(href: str, action: Callable[[Any], Any], **open_options: str) -> Any:
    """Run ``action(dataset)`` on an open rasterio dataset of ``href`` (opened or reused).

    ``open_options`` are GDAL open options used when the dataset is opened here (a cached
    handle keeps those it was opened with; a caller passes the same options for an href).

    Must run under :func:`eo.config.gdal_env` (the options a dataset is opened with are the
    ones in force at its first use).  An error inside ``action`` closes and forgets the
    handle, so a retry opens the file afresh.
    """
    key = _key(href)
    if key is None:  # let rasterio raise its usual "No such file" error
        with rasterio.open(href, **open_options) as rdr:
            return action(rdr)
    cache = _cache()
    now = time.monotonic()
    entry = cache.get(key)
    if entry is not None and key[0] == "remote" and now - entry[1] > REMOTE_TTL:
        _close(cache.pop(key)[0])
        entry = None
    if entry is None:
        entry = (rasterio.open(href, **open_options), now)
        cache[key] = entry
        while len(cache) > _per_thread_cap():
            _close(cache.popitem(last=False)[1][0])
    else:
        cache.move_to_end(key)
    try:
        return action(entry[0])
    except BaseException:
        stale = cache.pop(key, None)
        if stale is not None:
            _close(stale[0])
        raise


def _fd_limit() -> int:
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 512
    return 1 << 20 if soft == resource.RLIM_INFINITY else int(soft)


def _per_thread_cap() -> int:
    budget = int(_fd_limit() * FD_SHARE)
    return max(4, min(MAX_OPEN, budget // max(1, threading.active_count())))


def _close(rdr: Any) -> None:
    with contextlib.suppress(Exception):  # closing a broken handle
        rdr.close()


def clear() -> None:
    """Close every dataset the calling thread keeps open."""
    cache = _cache()
    while cache:
        _close(cache.popitem()[1][0])


def open_count() -> int:
    """Number of datasets the calling thread keeps open (for tests)."""
    return len(_cache())
