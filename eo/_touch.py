"""A trivial numba kernel whose first call initialises numba in a process (see :mod:`eo.workers`).

Cached on disk like eo's real kernels; compiling it, when the cache is missing, takes about 0.1 s.
"""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def touch(x: int) -> int:  # pragma: no cover - numba
    """``x + 1``: calling it loads numba's CPU target (0.16-0.24 s once per process)."""
    return x + 1
