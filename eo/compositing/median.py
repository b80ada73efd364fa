"""Order-statistic kernels (median, percentile) over a short time axis, in numba.

The inputs are float32 blocks of shape ``(t, n)`` (time first, pixels flattened) with NaN
marking invalid observations; ``t`` is small (tens), ``n`` is a chunk's pixel count.  The
median sorts tiles of pixels with a branch-free odd-even transposition network (``min``/``max``
of whole rows, vectorised across pixels; up to :data:`NETWORK_MAX_T` dates): measured on 4 M
pixels x 6 dates, 30 % NaN, 0.05 s against 0.4 s for a per-pixel insertion sort, whose
data-dependent branches mispredict (the percentile and longer series still gather the valid
values of a pixel into a small buffer, insertion-sorted).  Both beat ``np.nanmedian`` (copies,
partitions along the slow axis, masked-array code paths for NaN).  Results equal ``np.nanmedian`` /
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


#: Pixels per tile of :func:`_nanmedian_network` (a ``(t, TILE)`` float32 working copy stays in cache).
TILE = 256
#: Longest time axis sorted with the branch-free network; longer ones use insertion sort.
NETWORK_MAX_T = 128


@njit(nogil=True, parallel=False, cache=True)
def _nanmedian_network(values: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - numba
    """:func:`nanmedian_tn` for short time axes, vectorised across pixels.

    Per tile of pixels: NaN -> +inf in a working copy (and count the valid values), an
    odd-even transposition sort over time made of ``min``/``max`` rows (branch-free, SIMD
    across pixels), then the middle of the ``k`` valid values, which are the first ``k`` sorted
    (a genuine +inf sorts with the NaN stand-ins, and they are equal).
    """
    t, n = values.shape
    buf = np.empty((t, TILE), dtype=np.float32)
    cnt = np.empty(TILE, dtype=np.int64)
    inf = np.float32(np.inf)
    two = np.float32(2.0)
    for j0 in range(0, n, TILE):
        m = min(TILE, n - j0)
        for jj in range(m):
            cnt[jj] = 0
        for i in range(t):
            for jj in range(m):
                v = values[i, j0 + jj]
                valid = v == v
                buf[i, jj] = v if valid else inf
                cnt[jj] += 1 if valid else 0
        for r in range(t):
            for i in range(r % 2, t - 1, 2):
                for jj in range(m):
                    a = buf[i, jj]
                    b = buf[i + 1, jj]
                    buf[i, jj] = a if a < b else b
                    buf[i + 1, jj] = b if a < b else a
        for jj in range(m):
            k = cnt[jj]
            if k == 0:
                out[j0 + jj] = np.nan
            elif k % 2 == 1:
                out[j0 + jj] = buf[k // 2, jj]
            else:
                out[j0 + jj] = (buf[k // 2 - 1, jj] + buf[k // 2, jj]) / two


@njit(nogil=True, parallel=False, cache=True)
def nanmedian_tn(values: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Median over axis 0 of a float32 ``(t, n)`` array ignoring NaN; float32 ``(n,)`` (NaN if none)."""
    t, n = values.shape
    out = np.empty(n, dtype=np.float32)
    if 1 <= t <= NETWORK_MAX_T:
        _nanmedian_network(values, out)
        return out
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
