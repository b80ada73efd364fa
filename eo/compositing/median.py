"""Order-statistic kernels (median, percentile) over a short time axis, in numba.

The inputs are float32 blocks of shape ``(t, n)`` (time first, pixels flattened) with NaN
marking invalid observations; ``t`` is small (tens), ``n`` is a chunk's pixel count.  Per
pixel the valid values are gathered into a small buffer and insertion-sorted, which beats
sorting whole arrays (``np.nanmedian`` copies, partitions along the slow axis and goes
through masked-array code paths for NaN).  Results equal ``np.nanmedian`` /
``np.nanpercentile(..., method="linear")``: for an even count the two middle values are
averaged in float32 as numpy does; a pixel with no valid value gives NaN.  Pure functions:
nothing here touches Dask.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, parallel=False, cache=True)
def _gather_sorted(values: np.ndarray, j: int, buf: np.ndarray) -> int:  # pragma: no cover - numba
    """Copy the valid (non-NaN) values of pixel ``j`` into ``buf``, sorted; return their count."""
    k = 0
    for i in range(values.shape[0]):
        v = values[i, j]
        if v == v:  # not NaN
            # insertion sort while gathering
            p = k
            while p > 0 and buf[p - 1] > v:
                buf[p] = buf[p - 1]
                p -= 1
            buf[p] = v
            k += 1
    return k


@njit(nogil=True, parallel=False, cache=True)
def nanmedian_tn(values: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Median over axis 0 of a float32 ``(t, n)`` array ignoring NaN; float32 ``(n,)`` (NaN if none)."""
    t, n = values.shape
    out = np.empty(n, dtype=np.float32)
    buf = np.empty(max(t, 1), dtype=np.float32)
    two = np.float32(2.0)
    for j in range(n):
        k = _gather_sorted(values, j, buf)
        if k == 0:
            out[j] = np.nan
        elif k % 2 == 1:
            out[j] = buf[k // 2]
        else:
            out[j] = (buf[k // 2 - 1] + buf[k // 2]) / two
    return out


@njit(nogil=True, parallel=False, cache=True)
def nanpercentile_tn(values: np.ndarray, q: float) -> np.ndarray:  # pragma: no cover - numba
    """Percentile ``q`` (0-100, linear interpolation as numpy's default) over axis 0 ignoring NaN."""
    t, n = values.shape
    out = np.empty(n, dtype=np.float32)
    buf = np.empty(max(t, 1), dtype=np.float32)
    for j in range(n):
        k = _gather_sorted(values, j, buf)
        if k == 0:
            out[j] = np.nan
            continue
        pos = q / 100.0 * (k - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, k - 1)
        frac = pos - lo
        a = np.float64(buf[lo])
        b = np.float64(buf[hi])
        # numpy's _lerp: symmetric form for accuracy
        if frac >= 0.5:
            out[j] = np.float32(b - (b - a) * (1.0 - frac))
        else:
            out[j] = np.float32(a + (b - a) * frac)
    return out


def nanmedian(values: np.ndarray) -> np.ndarray:
    """Median over the first axis of ``values`` (any shape ``(t, ...)``), NaN = invalid; float32."""
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(values.shape[0], -1)
    return nanmedian_tn(flat).reshape(values.shape[1:])


def nanpercentile(values: np.ndarray, q: float) -> np.ndarray:
    """Percentile ``q`` in [0, 100] over the first axis of ``values``, NaN = invalid; float32."""
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(values.shape[0], -1)
    return nanpercentile_tn(flat, float(q)).reshape(values.shape[1:])
