"""Quicklook PNGs: a small colour-mapped RGBA preview of one band, NaN transparent.

The image is read decimated: from a COG's overviews (a path) or by block-averaging a DataArray
(``coarsen(...).mean()``, NaN ignored) so at most ``max_size`` pixels span the longer side.
Colours come from :mod:`eo.plot.render` (matplotlib's colormap ``cmap`` when matplotlib is
installed, else a built-in red-yellow-green ramp), as in :mod:`eo.plot`'s figures.  Written with
rasterio's PNG driver, atomically.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from rasterio.enums import Resampling

from eo.errors import InputError
from eo.io.atomic import atomic_path
from eo.plot.render import colorize, colormap_lut, limits

__all__ = ["colormap_lut", "rgba", "write_quicklook"]


def _read_file(path: Path, max_size: int) -> np.ndarray:
    with rasterio.open(path) as src:
        f = max(1, math.ceil(max(src.width, src.height) / max_size))
        shape = (max(1, src.height // f), max(1, src.width // f))
        data = src.read(1, out_shape=shape, masked=True, resampling=Resampling.average)
        return np.ma.filled(data.astype(np.float32), np.nan)


def _read_array(da: xr.DataArray, max_size: int) -> np.ndarray:
    if da.ndim != 2:
        raise InputError(f"write_quicklook expects a 2-D (y, x) DataArray; got dims {da.dims}")
    f = max(1, math.ceil(max(da.shape) / max_size))
    small = da.astype(np.float32)
    if f > 1:
        small = small.coarsen({da.dims[0]: f, da.dims[1]: f}, boundary="trim").mean()
    return np.asarray(small.values, dtype=np.float32)


def rgba(values: np.ndarray, vmin: float | None, vmax: float | None, cmap: str) -> np.ndarray:
    """Colour-map a 2-D float array to ``(4, y, x)`` uint8 RGBA; NaN -> alpha 0.

    ``vmin``/``vmax`` default to the 2nd/98th percentiles of the finite values.  The colours
    are :func:`eo.plot.render.colorize`'s, the same as :func:`eo.plot.index` draws.
    """
    lo, hi = limits(values, vmin, vmax)
    return np.moveaxis(colorize(values, lo, hi, cmap), -1, 0)


def write_quicklook(
    da: xr.DataArray | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "RdYlGn",
    max_size: int = 512,
) -> Path:
    """Write a PNG preview of ``da`` (a 2-D DataArray or a raster file); **computes**.

    The longer side has at most ``max_size`` pixels; NaN/nodata pixels are transparent.
    Returns the PNG path.
    """
    source = (
        _read_file(Path(da), max_size) if isinstance(da, (str, os.PathLike)) else _read_array(da, max_size)
    )
    image = rgba(source, vmin, vmax, cmap)
    with atomic_path(path, ".png") as tmp, rasterio.Env(GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(
            tmp, "w", driver="PNG", width=image.shape[2], height=image.shape[1], count=4, dtype="uint8"
        ) as dst:
            dst.write(image)
    return Path(path)
