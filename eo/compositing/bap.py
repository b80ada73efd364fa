"""Per-observation scores for quality mosaics: max-index and best-available-pixel (BAP).

Best-available-pixel follows Griffiths et al. (2013) and FORCE's Level-3 BAP compositing
(Frantz 2019; https://force-eo.readthedocs.io, "Level 3 Processing System"), simplified to the
two scores that need no extra inputs.  For an observation at day-of-year ``doy`` of a pixel at
distance ``d`` metres from the nearest masked pixel of the same date::

    S_doy   = exp(-0.5 * (Δdoy / doy_sigma) ** 2)      Δdoy: circular distance to target_doy (days)
    S_cloud = 1 / (1 + exp(-10 / max_distance * (min(d, max_distance) - max_distance / 2)))
    score   = w_doy * S_doy + w_cloud * S_cloud         NaN where the observation is invalid

Defaults are FORCE's: ``w_doy=1.0`` (SCORE_DOY_WEIGHT), ``w_cloud=0.4`` (SCORE_CLOUD_WEIGHT),
``max_distance=3000`` m (DREQ, the cloud distance at which the score saturates); the Gaussian DOY
score has ``doy_sigma=30`` days (FORCE fits a Gaussian through DOY_SCORE/DOY_STATIC; we take the
width directly).  FORCE's haze, year, correlation and view-zenith scores are not computed.

An observation is valid where no data variable is NaN.  "Masked" pixels (the cloud-distance
targets) are the invalid ones, or ``mask`` (bool, True = cloud/shadow) when given; the distance is
exact Euclidean (Felzenszwalb & Huttenlocher 2012) in metres from the pixel spacing, computed per
chunk with an overlap of ``ceil(max_distance / pixel size)`` pixels so chunk edges are exact.

References
----------
Griffiths, P., van der Linden, S., Kuemmerle, T., Hostert, P. (2013). A pixel-based Landsat
compositing algorithm for large area land cover mapping. IEEE JSTARS 6(5), 2088-2101.
Frantz, D. (2019). FORCE - Landsat + Sentinel-2 analysis ready data and beyond. Remote Sensing
11(9), 1124.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from eo.errors import InputError, MissingBandsError

if TYPE_CHECKING:
    from eo.compositing.periods import PeriodBins

_BIG = 1e20


@njit(nogil=True, cache=True)
def _edt_1d(
    f: np.ndarray, spacing: float, d: np.ndarray, v: np.ndarray, z: np.ndarray
) -> None:  # pragma: no cover
    n = f.shape[0]
    k = 0
    v[0] = 0
    z[0] = -np.inf
    z[1] = np.inf
    for q in range(1, n):
        pq = q * spacing
        while True:
            p = v[k]
            pp = p * spacing
            s = ((f[q] + pq * pq) - (f[p] + pp * pp)) / (2.0 * (pq - pp))
            if s <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = s
        z[k + 1] = np.inf
    k = 0
    for q in range(n):
        pq = q * spacing
        while z[k + 1] < pq:
            k += 1
        dp = pq - v[k] * spacing
        d[q] = dp * dp + f[v[k]]


@njit(nogil=True, cache=True)
def distance_to_mask(mask: np.ndarray, sy: float, sx: float, cap: float) -> np.ndarray:  # pragma: no cover
    """Euclidean distance (metres, float32) of each pixel of a 2-D bool ``mask`` to the nearest True.

    ``sy``/``sx`` are the pixel sizes in metres; distances are capped at ``cap`` (also where the
    mask has no True pixel at all).
    """
    ny, nx = mask.shape
    n = max(ny, nx)
    tmp = np.empty((ny, nx), dtype=np.float64)
    f = np.empty(n, dtype=np.float64)
    d = np.empty(n, dtype=np.float64)
    v = np.empty(n, dtype=np.int64)
    z = np.empty(n + 1, dtype=np.float64)
    for x in range(nx):
        for y in range(ny):
            f[y] = 0.0 if mask[y, x] else _BIG
        _edt_1d(f[:ny], sy, d[:ny], v, z)
        for y in range(ny):
            tmp[y, x] = d[y]
    out = np.empty((ny, nx), dtype=np.float32)
    for y in range(ny):
        for x in range(nx):
            f[x] = tmp[y, x]
        _edt_1d(f[:nx], sx, d[:nx], v, z)
        for x in range(nx):
            out[y, x] = min(math.sqrt(d[x]), cap)
    return out


def _distance_block(block: np.ndarray, sy: float, sx: float, cap: float) -> np.ndarray:
    out = np.empty(block.shape, dtype=np.float32)
    for t in range(block.shape[0]):
        out[t] = distance_to_mask(np.ascontiguousarray(block[t]), sy, sx, cap)
    return out


def _pixel_size(ds: xr.Dataset) -> tuple[float, float]:
    try:
        return abs(float(ds["y"][1] - ds["y"][0])), abs(float(ds["x"][1] - ds["x"][0]))
    except (KeyError, IndexError) as err:
        raise InputError(
            "bap needs y/x coordinates with at least two pixels each to know the pixel size in metres"
        ) from err


def cloud_distance(masked: xr.DataArray, max_distance: float) -> xr.DataArray:
    """Distance (metres, float32, capped at ``max_distance``) to the nearest True of ``masked``.

    ``masked`` is bool ``(time, y, x)``; lazy (Dask ``map_overlap``) when it is Dask-backed.
    """
    masked = masked.transpose("time", "y", "x")
    sy, sx = _pixel_size(masked.to_dataset(name="m"))
    data = masked.data
    if isinstance(data, dsa.Array):
        depth = {0: 0, 1: math.ceil(max_distance / sy), 2: math.ceil(max_distance / sx)}
        depth = {k: min(v, data.shape[k] - 1) for k, v in depth.items()}
        dist = dsa.map_overlap(
            _distance_block,
            data,
            depth=depth,
            boundary="none",
            dtype=np.float32,
            sy=sy,
            sx=sx,
            cap=float(max_distance),
        )
    else:
        dist = _distance_block(np.asarray(data), sy, sx, float(max_distance))
    return xr.DataArray(dist, coords=masked.coords, dims=masked.dims, name="cloud_distance")


def valid_observations(ds: xr.Dataset) -> xr.DataArray:
    """Return True where no data variable of ``ds`` is NaN (lazy)."""
    valid: xr.DataArray | None = None
    for var in ds.data_vars.values():
        ok = var.notnull()
        valid = ok if valid is None else valid & ok
    if valid is None:
        raise InputError("a quality mosaic needs a Dataset with at least one data variable")
    return valid.transpose("time", "y", "x")


def _doy_score(times: np.ndarray, targets: np.ndarray, sigma: float) -> np.ndarray:
    doy = (times.astype("datetime64[D]") - times.astype("datetime64[Y]")).astype(float) + 1
    diff = np.abs(doy - targets)
    diff = np.minimum(diff, 365.25 - diff)
    return np.exp(-0.5 * (diff / sigma) ** 2)


def _target_doys(times: np.ndarray, bins: PeriodBins, target_doy: float | None) -> np.ndarray:
    if target_doy is not None:
        return np.full(len(times), float(target_doy))
    targets = np.empty(len(times))
    for start, end, members in zip(bins.starts, bins.ends, bins.members):
        centre = start + (end - start) // 2
        targets[members] = float(
            (centre.astype("datetime64[D]") - centre.astype("datetime64[Y]")).astype(int) + 1
        )
    return targets


def bap_score(
    ds: xr.Dataset,
    bins: PeriodBins,
    *,
    target_doy: float | None = None,
    mask: xr.DataArray | None = None,
    max_distance: float = 3000.0,
    doy_sigma: float = 30.0,
    w_doy: float = 1.0,
    w_cloud: float = 0.4,
) -> xr.DataArray:
    """Best-available-pixel score per observation (float32 ``(time, y, x)``, NaN = invalid; lazy).

    ``target_doy`` defaults to the day-of-year of the middle of each observation's period.
    See the module docstring for the formula, defaults and references.
    """
    valid = valid_observations(ds)
    masked = ~valid if mask is None else (mask.astype(bool) | ~valid).transpose("time", "y", "x")
    dist = cloud_distance(masked, max_distance)
    s_cloud = 1.0 / (1.0 + np.exp(-10.0 / max_distance * (dist - max_distance / 2.0)))
    times = ds["time"].values
    s_doy = xr.DataArray(_doy_score(times, _target_doys(times, bins, target_doy), doy_sigma), dims=("time",))
    score = (w_doy * s_doy + w_cloud * s_cloud).where(valid)
    return score.astype(np.float32).transpose("time", "y", "x")


def max_index_score(ds: xr.Dataset, bins: PeriodBins, *, index: Any = "NDVI") -> xr.DataArray:
    """Score = a spectral index (highest wins), NaN where any variable is invalid (lazy).

    ``index`` is a DataArray of scores ``(time, y, x)``, the name of a data variable of ``ds``,
    or an index name computed with ``eo.index(ds, index)``.
    """
    if isinstance(index, xr.DataArray):
        score = index
    elif isinstance(index, str) and index in ds.data_vars:
        score = ds[index]
    elif isinstance(index, str):
        try:
            from eo.spectral import index as compute_index
        except ImportError as err:
            raise MissingBandsError(
                f"max-ndvi: {index!r} is not a variable of the dataset and eo.spectral is unavailable; "
                "pass index=<DataArray of scores>"
            ) from err
        score = compute_index(ds, index)
    else:
        raise InputError(f"max-ndvi: index must be a name or a DataArray, got {type(index).__name__}")
    return score.where(valid_observations(ds)).astype(np.float32).transpose("time", "y", "x")
