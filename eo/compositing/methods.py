"""Compositing strategies: registries of named reducers and selectors, with their numba kernels.

Two kinds of strategy, each a registry ``dict name -> callable``:

``REDUCERS``
    Per variable, per pixel: ``fn(values, **params) -> ndarray`` where ``values`` is a float32
    ``(t, n)`` C-contiguous array (time first, pixels flattened; NaN = invalid) and the result
    has shape ``(n,)`` (float32; ``count`` gives uint16).  A pixel with no valid observation
    gives NaN (``count``: 0).  A user may pass any callable with this signature as ``method``.
``SELECTORS``
    Quality mosaics on a Dataset: ``fn(ds, bins, **params) -> DataArray`` returns a per-observation
    score ``(time, y, x)`` (float32, NaN = not eligible).  Each output pixel takes **all**
    variables from the observation of its period with the highest score.

Kernels are ``@njit(nogil=True, cache=True)`` so Dask's threads run them in parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from eo.compositing.bap import bap_score, max_index_score
from eo.compositing.median import nanmedian_tn, nanpercentile_tn
from eo.errors import InputError

Reducer = Callable[..., np.ndarray]
Selector = Callable[..., Any]


@njit(nogil=True, cache=True)
def _count_tn(values: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    t, n = values.shape
    out = np.zeros(n, dtype=np.uint16)
    for j in range(n):
        c = 0
        for i in range(t):
            v = values[i, j]
            if v == v:
                c += 1
        out[j] = c
    return out


@njit(nogil=True, cache=True)
def _mean_tn(values: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    t, n = values.shape
    out = np.empty(n, dtype=np.float32)
    for j in range(n):
        s = 0.0
        c = 0
        for i in range(t):
            v = values[i, j]
            if v == v:
                s += v
                c += 1
        out[j] = s / c if c > 0 else np.nan
    return out


@njit(nogil=True, cache=True)
def _extreme_tn(values: np.ndarray, sign: float) -> np.ndarray:  # pragma: no cover - numba
    # sign=+1: max, sign=-1: min
    t, n = values.shape
    out = np.empty(n, dtype=np.float32)
    for j in range(n):
        best = np.nan
        for i in range(t):
            v = values[i, j]
            if v == v and (best != best or sign * (v - best) > 0):
                best = v
        out[j] = best
    return out


@njit(nogil=True, cache=True)
def argmax_tn(scores: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Index of the highest non-NaN score over axis 0 (first one on ties); -1 if none; int32 ``(n,)``."""
    t, n = scores.shape
    out = np.full(n, -1, dtype=np.int32)
    for j in range(n):
        best = -np.inf
        for i in range(t):
            v = scores[i, j]
            if v == v and (out[j] < 0 or v > best):
                best = v
                out[j] = i
    return out


@njit(nogil=True, cache=True)
def gather_tn(values: np.ndarray, index: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """``values[index[j], j]`` per pixel (NaN where ``index < 0``); float32 ``(n,)``."""
    n = values.shape[1]
    out = np.empty(n, dtype=np.float32)
    for j in range(n):
        out[j] = values[index[j], j] if index[j] >= 0 else np.nan
    return out


def median(values: np.ndarray) -> np.ndarray:
    """Median of the valid observations (equals ``np.nanmedian``)."""
    return nanmedian_tn(values)


def percentile(values: np.ndarray, q: float | None = None) -> np.ndarray:
    """Percentile ``q`` (0-100, linear interpolation, equals ``np.nanpercentile``)."""
    if q is None or not 0 <= float(q) <= 100:
        raise InputError(f"method='percentile' needs q in [0, 100] (got q={q!r}); pass e.g. q=25")
    return nanpercentile_tn(values, float(q))


def mean(values: np.ndarray) -> np.ndarray:
    """Arithmetic mean of the valid observations (float64 accumulation)."""
    return _mean_tn(values)


def minimum(values: np.ndarray) -> np.ndarray:
    """Smallest valid observation."""
    return _extreme_tn(values, -1.0)


def maximum(values: np.ndarray) -> np.ndarray:
    """Largest valid observation."""
    return _extreme_tn(values, 1.0)


def count(values: np.ndarray) -> np.ndarray:
    """Count the valid (non-NaN) observations; uint16."""
    return _count_tn(values)


#: Per-variable reducers, name -> fn(values (t, n) float32, **params) -> (n,).
REDUCERS: dict[str, Reducer] = {
    "median": median,
    "mean": mean,
    "min": minimum,
    "max": maximum,
    "percentile": percentile,
    "count": count,
}

#: Quality-mosaic selectors on a Dataset, name -> fn(ds, bins, **params) -> score (time, y, x).
SELECTORS: dict[str, Selector] = {
    "max-ndvi": max_index_score,
    "quality-mosaic": max_index_score,
    "bap": bap_score,
}


def methods() -> list[str]:
    """Names of every registered compositing method."""
    return sorted({*REDUCERS, *SELECTORS})
