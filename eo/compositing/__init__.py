"""Temporal composites: ``eo.composite(ds_or_da, method="median", period=None, **params)``.

Reduces the ``time`` dimension, per period when one is given (see :mod:`eo.compositing.periods`),
with a named strategy from :mod:`eo.compositing.methods` (or a user callable).  Lazy: builds a
Dask graph, computes nothing.  Memory is bounded by the chunk size: one task per spatial chunk
takes that chunk's time blocks as they are (no rechunk, no ``(time, y, x)`` copy) and runs a
numba kernel over ``(time, 65536)``-pixel slabs of them; spatial chunks are kept.

Inputs and outputs
------------------
* Inputs are float (NaN = invalid), as after ``eo.index(...).where(~mask)`` or ``eo.calibrate``.
  Integer variables are converted to float32 with their ``nodata`` attr (when present) as NaN.
* Outputs are float32 (NaN where a pixel has no valid observation); ``count`` is uint16.
* With ``period=None`` the ``time`` dimension is dropped and the scalar coords ``time`` (first
  observation) and ``period_end`` (last observation + 1 ns) remain.  With a period the result has a
  ``time`` dimension labelled by each period's **start** and a coordinate ``period_end`` (exclusive
  end); periods without observations are absent.
* Per-time coordinates of the input (``id``, ``platform``, ``<var>_scale``...) are dropped.
* The number of valid observations: ``eo.composite(da, "count")`` for a DataArray; a Dataset
  result always carries a variable ``count`` (uint16): observations where no data variable is
  NaN (for ``max-ndvi``/``bap``: observations with a finite score).

Methods
-------
``median``, ``mean``, ``min``, ``max``, ``count``, ``percentile`` (``q=`` in 0-100), per variable;
``max-ndvi`` (alias ``quality-mosaic``; ``index="NDVI"`` or a DataArray of scores) and ``bap``
(best-available-pixel, see :mod:`eo.compositing.bap`) take all variables of a Dataset from the
best-scoring observation.

Examples
--------
>>> monthly = eo.composite(ndvi, "median", period="monthly")
>>> monthly.dims, monthly.dtype
(('time', 'y', 'x'), dtype('float32'))
>>> n_valid = eo.composite(ndvi, "count")
>>> int(n_valid.max()) <= ndvi.sizes["time"]
True
>>> best = eo.composite(refl.where(~bad), "bap", target_doy=200)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from eo.compositing.methods import REDUCERS, SELECTORS, argmax_tn, gather_tn, methods
from eo.compositing.periods import PERIODS, PeriodBins, bin_times
from eo.errors import InputError, UnknownMethodError

__all__ = ["PERIODS", "REDUCERS", "SELECTORS", "composite", "methods"]


def _as_float32(da: xr.DataArray) -> xr.DataArray:
    if da.dtype == np.float32:
        return da
    if da.dtype.kind == "f":
        return da.astype(np.float32)
    nodata = da.attrs.get("nodata")
    out = da.where(da != nodata) if nodata is not None and np.isfinite(nodata) else da
    return out.astype(np.float32)


#: Pixels per slab when a time stack is assembled from per-date blocks: the kernels see
#: ``(t, SLAB)`` float32 stacks, so no ``(t, y, x)`` copy of a chunk is ever made.
SLAB = 1 << 16


def _slabs(blocks: list[np.ndarray]) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, stack)`` over the flattened pixels of time-first ``blocks``.

    ``stack`` is a C-contiguous float32 ``(t, stop - start)`` array: all times of those pixels.
    A single float32 block is used as it is (one slab, no copy).
    """
    flats = [np.asarray(b).reshape(b.shape[0], -1) for b in blocks]
    n = flats[0].shape[1]
    if len(flats) == 1 and flats[0].dtype == np.float32 and flats[0].flags.c_contiguous:
        yield 0, n, flats[0]
        return
    t = sum(f.shape[0] for f in flats)
    for s0 in range(0, n, SLAB):
        s1 = min(n, s0 + SLAB)
        stack = np.empty((t, s1 - s0), dtype=np.float32)
        row = 0
        for f in flats:
            stack[row : row + f.shape[0]] = f[:, s0:s1]
            row += f.shape[0]
        yield s0, s1, stack


def _reduce_block(
    blocks: list[np.ndarray],
    members: tuple[np.ndarray, ...],
    fn: Callable[..., np.ndarray],
    params: dict[str, Any],
    out_dtype: np.dtype,
) -> np.ndarray:
    spatial = blocks[0].shape[1:]
    n_time = sum(b.shape[0] for b in blocks)
    # a group holding every time step in order reads the stack itself (no copy; period=None)
    whole = [len(m) == n_time and bool(np.array_equal(m, np.arange(n_time))) for m in members]
    out = np.empty((len(members), int(np.prod(spatial))), dtype=out_dtype)
    for s0, s1, stack in _slabs(blocks):
        for g, m in enumerate(members):
            out[g, s0:s1] = fn(stack if whole[g] else np.ascontiguousarray(stack[m]), **params)
    return out.reshape((len(members), *spatial))


def _argmax_block(blocks: list[np.ndarray], members: tuple[np.ndarray, ...]) -> np.ndarray:
    spatial = blocks[0].shape[1:]
    out = np.empty((len(members), int(np.prod(spatial))), dtype=np.int32)
    for s0, s1, stack in _slabs(blocks):
        for g, m in enumerate(members):
            pos = argmax_tn(np.ascontiguousarray(stack[m]))
            out[g, s0:s1] = np.where(pos >= 0, m[np.maximum(pos, 0)], -1)
    return out.reshape((len(members), *spatial))


def _gather_block(blocks: list[np.ndarray], index: np.ndarray) -> np.ndarray:
    idx = index.reshape(index.shape[0], -1)
    out = np.empty(idx.shape, dtype=np.float32)
    for s0, s1, stack in _slabs(blocks):
        for g in range(idx.shape[0]):
            out[g, s0:s1] = gather_tn(stack, np.ascontiguousarray(idx[g, s0:s1]))
    return out.reshape(index.shape)


def _apply(
    func: Callable[..., np.ndarray], stack: Any, n: int, dtype: Any, extra: Any = None, **kw: Any
) -> Any:
    """``func(time_blocks, [extra], **kw)`` per spatial chunk; the output has ``n`` leading rows.

    ``stack`` is time-first ``(t, y, x)``; ``func`` gets the list of its time blocks of one spatial
    chunk (never concatenated: the kernels read them slab by slab, so a chunk's time stack is not
    copied whole).  ``extra`` (optional) is ``(n, y, x)``, passed as one block.  Dask-backed
    inputs give a lazy Dask array; NumPy inputs are computed now.
    """
    if isinstance(stack, dsa.Array) or isinstance(extra, dsa.Array):
        args: list[Any] = [dsa.asarray(stack), "tyx"]
        new_axes: dict[str, int] = {"g": n}
        if extra is not None:
            args += [dsa.asarray(extra).rechunk({0: -1}), "gyx"]
            new_axes = {}
        return dsa.blockwise(
            func,
            "gyx",
            *args,
            new_axes=new_axes,
            concatenate=False,
            dtype=dtype,
            meta=np.empty((0, 0, 0), dtype=dtype),
            **kw,
        )
    blocks = [np.asarray(stack)]
    return func(blocks, np.asarray(extra), **kw) if extra is not None else func(blocks, **kw)


def _wrap(data: Any, template: xr.DataArray, bins: PeriodBins, period: str | None) -> xr.DataArray:
    coords = {k: v for k, v in template.coords.items() if "time" not in v.dims}
    out = xr.DataArray(
        data, dims=template.dims, coords=coords, attrs=dict(template.attrs), name=template.name
    )
    out = out.assign_coords(time=("time", bins.starts), period_end=("time", bins.ends))
    if period is None:
        out = out.isel(time=0)
    return out


#: Built-in reducers without parameters: a call with none needs no trial run.
PARAMETERLESS = frozenset({"median", "mean", "min", "max", "count"})


def _reducer(method: str | Callable[..., np.ndarray], params: dict[str, Any]) -> Callable[..., np.ndarray]:
    fn = REDUCERS.get(method) if isinstance(method, str) else method
    if fn is None or not callable(fn):
        raise UnknownMethodError(
            f"unknown composite method {method!r}; expected one of {', '.join(methods())} or a callable "
            "fn(values[t, n] float32, **params) -> array[n]"
        )
    if isinstance(method, str) and method in PARAMETERLESS and not params:
        return fn  # nothing to validate (and no kernel to load on this thread before compute starts)
    try:  # validate parameters now rather than at compute time
        fn(np.full((1, 1), np.nan, dtype=np.float32), **params)
    except TypeError as err:
        raise InputError(
            f"composite method {method!r} does not accept parameters {sorted(params)}: {err}"
        ) from err
    return fn


def _reduce(
    da: xr.DataArray,
    fn: Callable[..., np.ndarray],
    bins: PeriodBins,
    period: str | None,
    params: dict[str, Any],
    label: str,
) -> xr.DataArray:
    da = _as_float32(da).transpose("time", ...)
    dtype = np.dtype(np.uint16) if fn is REDUCERS["count"] else np.dtype(np.float32)
    data = _apply(
        _reduce_block,
        da.data,
        len(bins),
        dtype,
        members=bins.members,
        fn=fn,
        params=params,
        out_dtype=dtype,
    )
    out = _wrap(data, da, bins, period)
    out.attrs.update(composite=label, nodata=np.nan)
    if dtype == np.uint16:  # a count is its own quantity: none of the input's attrs apply to it
        out.attrs = {
            "long_name": "number of valid observations",
            "units": "1",
            "kind": "count",
            "state": "physical",
            "composite": label,
            "nodata": 0,
        }
    return out


def _valid_count(ds: xr.Dataset, bins: PeriodBins, period: str | None) -> xr.DataArray:
    timed = [var for var in ds.data_vars.values() if "time" in var.dims]
    if len(timed) == 1:  # count the variable's own valid values: no per-date array of ones
        return _reduce(timed[0].rename("count"), REDUCERS["count"], bins, period, {}, "count")
    valid: xr.DataArray | None = None
    for var in timed:
        ok = _as_float32(var).notnull()
        valid = ok if valid is None else valid & ok
    assert valid is not None
    ones = xr.ones_like(valid, dtype=np.float32).where(valid)
    return _reduce(ones.rename("count"), REDUCERS["count"], bins, period, {}, "count")


def _select(
    ds: xr.Dataset, method: str, bins: PeriodBins, period: str | None, params: dict[str, Any]
) -> xr.Dataset:
    timed = [k for k, v in ds.data_vars.items() if "time" in v.dims]
    if not timed:
        raise InputError(f"method {method!r} needs data variables with a time dimension; found none")
    fvars = {k: _as_float32(ds[k]).transpose("time", "y", "x") for k in timed}
    score = SELECTORS[method](xr.Dataset(fvars, attrs=ds.attrs), bins, **params)
    index = _apply(_argmax_block, score.data, len(bins), np.int32, members=bins.members)
    out = {}
    for name, var in fvars.items():
        data = _apply(_gather_block, var.data, len(bins), np.float32, extra=index)
        out[name] = _wrap(data, var, bins, period)
        out[name].attrs.update(composite=method, nodata=np.nan)
    out["count"] = _reduce(score.rename("count"), REDUCERS["count"], bins, period, {}, "count")
    result = xr.Dataset(out, attrs=dict(ds.attrs))
    return result.assign({k: v for k, v in ds.data_vars.items() if "time" not in v.dims})


def composite(
    obj: xr.DataArray | xr.Dataset,
    method: str | Callable[..., np.ndarray] = "median",
    period: str | None = None,
    **params: Any,
) -> xr.DataArray | xr.Dataset:
    """Composite ``obj`` over ``time`` (per ``period``) with ``method``; lazy.

    Parameters
    ----------
    obj
        DataArray or Dataset with a ``time`` dimension; float with NaN = invalid (integers are
        converted to float32, ``nodata`` attr -> NaN).
    method
        A name of :data:`REDUCERS` or :data:`SELECTORS` (see the module docstring), or a callable
        ``fn(values, **params) -> array`` taking a float32 ``(t, n)`` array and returning ``(n,)``.
    period
        ``None`` (all observations), ``"monthly"``, ``"seasonal"``, ``"yearly"`` or a pandas offset
        alias; see :mod:`eo.compositing.periods`.
    **params
        Method parameters: ``q`` (percentile), ``index`` (max-ndvi), ``target_doy``, ``mask``,
        ``max_distance``, ``doy_sigma``, ``w_doy``, ``w_cloud`` (bap).

    Returns
    -------
    DataArray or Dataset
        float32 (``count``: uint16), NaN where no valid observation; Dask-backed when the input is.
        A Dataset result has a ``count`` variable (number of valid observations per pixel).
    """
    if "time" not in obj.dims:
        raise InputError(f"composite needs a 'time' dimension; found dims {tuple(obj.dims)}")
    bins = bin_times(obj["time"].values, period)
    label = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    if isinstance(method, str) and method in SELECTORS:
        if not isinstance(obj, xr.Dataset):
            raise InputError(
                f"method {method!r} selects whole observations and needs a Dataset of bands; "
                "got a DataArray (use ds = da.to_dataset() or a reducer such as 'max')"
            )
        return _select(obj, method, bins, period, params)
    fn = _reducer(method, params)
    if isinstance(obj, xr.DataArray):
        return _reduce(obj, fn, bins, period, params, label)
    out = {
        k: _reduce(v, fn, bins, period, params, label) for k, v in obj.data_vars.items() if "time" in v.dims
    }
    if fn is not REDUCERS["count"]:
        out["count"] = _valid_count(obj, bins, period)
    result = xr.Dataset(out, attrs=dict(obj.attrs))
    return result.assign({k: v for k, v in obj.data_vars.items() if "time" not in v.dims})
