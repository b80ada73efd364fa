"""Optional Zarr output (needs the ``zarr`` package): ``write_zarr(obj, path)``, atomic per store.

The store is written to a temp directory next to the target, then swapped in (the previous
store, if any, is removed only after the new one is in place).  **Computes** the Dask graph.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import xarray as xr

from eo.errors import DependencyError
from eo.io.atomic import temp_path


def _require_zarr() -> None:
    if importlib.util.find_spec("zarr") is None:
        raise DependencyError(
            "Zarr output needs the optional package 'zarr', which is not installed; "
            "install it with `pip install zarr` or write COGs with eo.write_cog"
        )


def write_zarr(obj: xr.Dataset | xr.DataArray, path: str | os.PathLike[str], **to_zarr_kwargs: Any) -> Path:
    """Write ``obj`` to a Zarr store at ``path`` atomically; **computes**; returns the path.

    Raises :class:`eo.errors.DependencyError` when ``zarr`` is not installed.
    """
    _require_zarr()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ds = obj.to_dataset(name=obj.name or "data") if isinstance(obj, xr.DataArray) else obj
    tmp = temp_path(target, ".zarr")
    old = temp_path(target, ".old")
    try:
        ds.to_zarr(tmp, mode="w", **to_zarr_kwargs)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target
