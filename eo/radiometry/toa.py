"""DN -> radiance -> TOA reflectance -> brightness temperature: the formulas and the one-pass kernel.

Every conversion eo does is an affine map of the stored value per time slice, optionally followed
by the Planck inversion for thermal bands, so it runs as **one** ``xarray.apply_ufunc`` per variable
(one task per chunk: nodata test, multiply-add, optional log, in float32).  The per-time
coefficients are composed here in float64 (a few numbers per scene) and handed to the kernel as
float32.

Formulas (``Q`` stored value, ``e`` sun elevation, ``theta_s = 90 - e`` sun zenith, ``d`` earth-sun
distance in AU):

- radiance from gain/bias (USGS Landsat 8 Data Users Handbook, section 5.1): ``L = ML * Q + AL``;
- Landsat TOA reflectance (same handbook, 5.2): ``rho = (Mrho * Q + Arho) / sin(e)``; ``Mrho``/``Arho``
  already include ``d^2``;
- TOA reflectance from radiance with solar irradiance (Landsat 7 handbook 11.3.2; ESA Sentinel-2
  L1C ATBD ``rho = pi * L / (ESUN * cos(theta_s) * U)``, ``U = 1/d^2``):
  ``rho = pi * L * d^2 / (ESUN * cos(theta_s))``, and its inverse for radiance from Sentinel-2 L1C;
- brightness temperature (Landsat 8 handbook, 5.3): ``T = K2 / ln(K1 / L + 1)`` (kelvin).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import dask.array
import dask.base
import numpy as np
import numpy.typing as npt
import xarray as xr
from numba import njit

from eo.errors import MetadataWarning

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Conversion:
    """``y = gain * x + bias`` per time slice, then optionally ``T = k2 / ln(k1 / y + 1)``."""

    gain: FloatArray
    bias: FloatArray
    steps: tuple[str, ...] = ()
    k1: FloatArray | None = None
    k2: FloatArray | None = None
    sources: tuple[str, ...] = field(default=())

    @classmethod
    def identity(cls, n_time: int) -> Conversion:
        """Return the conversion that changes nothing."""
        return cls(np.ones(n_time), np.zeros(n_time))

    def then(self, gain: FloatArray, bias: FloatArray, step: str) -> Conversion:
        """Compose with a further affine map: ``y2 = gain * y + bias``."""
        if self.k1 is not None:
            raise ValueError("nothing can follow the brightness-temperature step")
        return Conversion(self.gain * gain, self.bias * gain + bias, (*self.steps, step))

    def then_planck(self, k1: FloatArray, k2: FloatArray, step: str) -> Conversion:
        """Compose with the inverse Planck function (radiance -> brightness temperature)."""
        return Conversion(self.gain, self.bias, (*self.steps, step), k1=k1, k2=k2)


# --- per-time factors (pure, float64) ---------------------------------------------


def _sin_elevation(elevation_deg: FloatArray) -> FloatArray:
    """``sin(e)``, NaN (with a warning) where the sun is at or below the horizon."""
    s = np.sin(np.radians(elevation_deg))
    if np.any(s <= 0):
        warnings.warn(
            f"sun elevation <= 0 for {int(np.sum(s <= 0))} time slice(s): reflectance is undefined there "
            "and set to NaN",
            MetadataWarning,
            stacklevel=4,
        )
    return np.where(s > 0, s, np.nan)


def sun_correction(elevation_deg: FloatArray) -> FloatArray:
    """Factor ``1 / sin(e)`` turning Landsat's ``Mrho*Q + Arho`` into TOA reflectance."""
    return 1.0 / _sin_elevation(elevation_deg)


def radiance_to_reflectance(esun: float, distance_au: FloatArray, elevation_deg: FloatArray) -> FloatArray:
    """Factor ``pi * d^2 / (ESUN * cos(theta_s))`` with ``cos(theta_s) = sin(e)``: ``rho = factor * L``."""
    return math.pi * distance_au**2 / (esun * _sin_elevation(elevation_deg))


def reflectance_to_radiance(esun: float, distance_au: FloatArray, elevation_deg: FloatArray) -> FloatArray:
    """Factor ``ESUN * cos(theta_s) / (pi * d^2)``: ``L = factor * rho`` (inverse of the above)."""
    return 1.0 / radiance_to_reflectance(esun, distance_au, elevation_deg)


# --- the kernel -------------------------------------------------------------------


@njit(nogil=True, cache=True)
def _affine_tn(
    q: np.ndarray, gain: np.ndarray, bias: np.ndarray, nodata: int, has_nodata: bool
) -> np.ndarray:  # pragma: no cover - numba
    """``float32(q) * gain[t] + bias[t]`` of an integer ``(t, n)`` array, nodata -> NaN, in one pass."""
    t, n = q.shape
    out = np.empty((t, n), dtype=np.float32)
    nan = np.float32(np.nan)
    for i in range(t):
        g, b = gain[i], bias[i]
        for j in range(n):
            v = q[i, j]
            out[i, j] = nan if has_nodata and v == nodata else np.float32(v) * g + b
    return out


def _per_time(c: Any, n_time: int) -> np.ndarray | None:
    """A float32 coefficient as a ``(n_time,)`` vector when it is a scalar or ``(n_time, 1, ...)``."""
    a = np.asarray(c)
    if a.dtype != np.float32:
        return None
    if a.ndim == 0:
        return np.full(n_time, a, dtype=np.float32)
    if a.shape[0] == n_time and a.size == n_time:
        return np.ascontiguousarray(a.reshape(n_time))
    return None


def _kernel(
    q: np.ndarray,
    gain: Any,
    bias: Any,
    k1: Any = None,
    k2: Any = None,
    *,
    nodata: float | None,
) -> np.ndarray:
    """One chunk: float32 multiply-add (and Planck inversion), nodata -> NaN.  No float64 temporaries.

    Integer chunks with time first (the loaded layout) take one numba pass (read, convert,
    multiply-add, nodata test, write: the output is the only array allocated), with the same
    float32 operations in the same order as the NumPy path, hence the same values.
    """
    nd = _nodata_like(q.dtype, nodata)
    if k1 is None and q.ndim >= 1 and q.size and q.dtype.kind in "iu" and q.dtype.itemsize <= 4:
        g, b = _per_time(gain, q.shape[0]), _per_time(bias, q.shape[0])
        if g is not None and b is not None:
            flat = np.ascontiguousarray(q).reshape(q.shape[0], -1)
            out = _affine_tn(flat, g, b, 0 if nd is None else int(nd), nd is not None)
            return out.reshape(q.shape)
    out = q.astype(np.float32)  # a copy; exact for integers < 2**24
    out *= gain
    out += bias
    if k1 is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = k2 / np.log(k1 / out + np.float32(1))
    if nd is not None:
        out[q == nd] = np.nan
    return out


def _nodata_like(dtype: np.dtype, nodata: float | None) -> Any:
    """Return ``nodata`` as a ``dtype`` scalar (no float64 comparison); ``None`` if no pixel can equal it."""
    if nodata is None or math.isnan(nodata):
        return None
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if nodata != int(nodata) or not info.min <= nodata <= info.max:
            return None
        return dtype.type(int(nodata))
    return dtype.type(nodata)


def _coefficient(values: FloatArray, data: Any, time_axis: int | None) -> Any:
    """Return a float32 scalar if constant over time, else float32 ``(n_time, 1, 1)`` chunked as ``data``."""
    v = np.asarray(values, dtype=np.float32)
    if time_axis is None or np.all((v == v[0]) | (np.isnan(v) & np.isnan(v[0]))):
        return np.float32(v[0])
    shape = tuple(-1 if i == time_axis else 1 for i in range(data.ndim))
    v = v.reshape(shape)
    if isinstance(data, dask.array.Array):
        chunks = tuple(data.chunks[i] if i == time_axis else (1,) for i in range(data.ndim))
        return dask.array.from_array(v, chunks=chunks)
    return v


def apply(da: xr.DataArray, conversion: Conversion, nodata: float | None) -> xr.DataArray:
    """Apply ``conversion`` to ``da``; returns a float32 DataArray (same dims and coords, no attrs).

    ``nodata`` values of the stored data become NaN (``None``/NaN: nothing is masked beyond the NaN
    already in float data).  Dask-backed input stays lazy with the same chunks: one ``map_blocks``
    layer (one task per chunk); per-time coefficients ride along as tiny arrays chunked like the
    time axis.  Numpy input is computed eagerly.
    """
    data = da.data
    time_axis = da.dims.index("time") if "time" in da.dims else None
    coefs = [conversion.gain, conversion.bias]
    if conversion.k1 is not None and conversion.k2 is not None:
        coefs += [conversion.k1, conversion.k2]
    args = [_coefficient(c, data, time_axis) for c in coefs]
    nd = None if nodata is None else float(nodata)
    if isinstance(data, dask.array.Array):
        token = dask.base.tokenize(data, *args, nd)
        out = dask.array.map_blocks(
            _kernel,
            data,
            *args,
            nodata=nd,
            dtype=np.float32,
            meta=np.empty((0,) * data.ndim, np.float32),
            name=f"eo-calibrate-{token}",
        )
    else:
        out = _kernel(np.asarray(data), *args, nodata=nd)
    return xr.DataArray(out, dims=da.dims, coords=da.coords, name=da.name)
