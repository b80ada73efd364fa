"""glibc's allocator in processes whose malloc thresholds were pinned (Dask's worker processes).

Dask's nanny starts every worker process with ``MALLOC_TRIM_THRESHOLD_=65536`` so that freed
memory goes back to the OS at once.  Setting any malloc threshold also switches off glibc's
*dynamic* mmap threshold, which stays at 128 KiB: every chunk-sized array (and every slab
temporary of a kernel) is then a fresh ``mmap`` whose pages fault in, zero-filled, again.  On
the hot-path benchmark (6 dates x 5490^2 px, 2 single-thread workers) the first job took
11.5 s with Dask's setting and 7.3 s without it (threaded: 5.2 s).

:func:`tune` restores what the dynamic threshold converges to for chunk-sized arrays:
allocations up to :data:`MMAP_THRESHOLD` come from the heap and are reused, and free memory
above :data:`TRIM_THRESHOLD` at the top of a heap is still returned to the OS.  Each worker
then keeps up to about 200 MiB more resident.  eo's chunk tasks call :func:`ensure_tuned` once per
process; it does nothing unless the ``malloc_tune`` setting is on in that process
(``EO_MALLOC_TUNE=1``: ``eo run`` sets it for its own cluster's workers; elsewhere it is opt-in, since
it changes the allocator of the whole process) and ``MALLOC_TRIM_THRESHOLD_`` or
``MALLOC_MMAP_THRESHOLD_`` is set below these values.
"""

from __future__ import annotations

import ctypes
import os
import sys

from eo import config

#: Allocations up to this size (bytes) are served from the heap, not a fresh mmap (glibc's maximum
#: for the dynamic threshold on 64-bit: 32 MiB; a 2048 x 2048 float32 chunk is 16 MiB).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of a heap above this size (bytes) is returned to the OS (glibc's dynamic
#: rule: twice the mmap threshold).
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
#: Environment variable of the ``malloc_tune`` setting (``1`` turns the tuning on).
ENV_SWITCH = config.SETTINGS["malloc_tune"].env

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_tuned = False


def _pinned_low(env: dict[str, str]) -> bool:
    """Whether the environment pins a malloc threshold below the tuned values."""
    for name, ours in (
        ("MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD),
        ("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD),
    ):
        value = env.get(name)
        if value is None:
            continue
        try:
            if int(value) < ours:
                return True
        except ValueError:
            continue
    return False


def _enabled(env: dict[str, str]) -> bool:
    return bool(config.get("malloc_tune", env))


def tune() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`MMAP_THRESHOLD` / :data:`TRIM_THRESHOLD`.

    Returns whether both were set (False off glibc Linux).  Process-wide; safe at any time.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def ensure_tuned() -> None:
    """Call :func:`tune` once per process when the environment pinned the thresholds low (cheap after)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    env = dict(os.environ)
    if _enabled(env) and _pinned_low(env):
        tune()
