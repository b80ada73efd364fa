"""Quicklook PNGs: a small colour-mapped RGBA preview of one band, NaN transparent.

The image is read decimated: from a COG's overviews (a path) or by block-averaging a DataArray
(``coarsen(...).mean()``, NaN ignored) so at most ``max_size`` pixels span the longer side.
Colours come from rio-tiler's colour maps (:func:`eo.io.style.colormap_lut`); a
:class:`~eo.io.style.Style` gives the colour map and stretch shared by all tiles of a variable.
:func:`write_overview` mosaics many COGs (the tiles of one variable and period) into one image
of the whole area, read from their overviews with rio-tiler.  Written with rasterio's PNG
driver, atomically.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.warp
import xarray as xr
from rasterio.enums import Resampling

from eo.errors import InputError
from eo.io.atomic import atomic_path
from eo.io.style import Style, colormap_lut

__all__ = ["colormap_lut", "rgba", "write_overview", "write_png", "write_quicklook"]


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

    ``vmin``/``vmax`` default to the 2nd/98th percentiles of the finite values.  A value maps to
    colour ``round((value - vmin) * 255 / (vmax - vmin))`` of the colour map, clipped (as map tiles).
    """
    finite = np.isfinite(values)
    if finite.any():
        lo, hi = np.percentile(values[finite], [2, 98])
    else:
        lo, hi = 0.0, 1.0
    lo = float(lo if vmin is None else vmin)
    hi = float(hi if vmax is None else vmax)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    index = np.clip(np.round(np.nan_to_num((values - lo) * scale, nan=0.0)), 0, 255).astype(np.uint8)
    out = colormap_lut(cmap)[index]
    out[..., 3] = np.where(finite, out[..., 3], 0)
    return np.moveaxis(out, -1, 0)


def write_quicklook(
    da: xr.DataArray | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "RdYlGn",
    max_size: int = 512,
    style: Style | None = None,
) -> Path:
    """Write a PNG preview of ``da`` (a 2-D DataArray or a raster file); **computes**.

    The longer side has at most ``max_size`` pixels; NaN/nodata pixels are transparent.
    ``style`` (a run's shared stretch) overrides ``vmin``, ``vmax`` and ``cmap``; without any,
    the image is stretched to its own 2-98 % range.  Returns the PNG path.
    """
    source = (
        _read_file(Path(da), max_size) if isinstance(da, (str, os.PathLike)) else _read_array(da, max_size)
    )
    if style is not None:
        vmin, vmax, cmap = style.vmin, style.vmax, style.cmap
    return write_png(rgba(source, vmin, vmax, cmap), path)


def write_overview(
    paths: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    style: Style,
    *,
    max_size: int = 1024,
) -> Path:
    """Mosaic the single-band rasters ``paths`` into one colour-mapped PNG of their whole extent; reads.

    The files (the tiles of one variable and period) are read with rio-tiler from their overviews
    onto one grid in the CRS of the first file, at most ``max_size`` pixels on the longer side
    (nearest neighbour; the first valid value wins where files overlap).  Nodata is transparent.
    Returns the PNG path.
    """
    from rio_tiler.io import Reader
    from rio_tiler.mosaic import mosaic_reader

    if not paths:
        raise InputError("write_overview needs at least one raster file; got none")
    bounds = []
    crs = None
    for p in paths:
        with rasterio.open(p) as src:
            crs = crs or src.crs
            b = src.bounds if src.crs == crs else rasterio.warp.transform_bounds(src.crs, crs, *src.bounds)
            bounds.append(tuple(b))
    w, s = min(b[0] for b in bounds), min(b[1] for b in bounds)
    e, n = max(b[2] for b in bounds), max(b[3] for b in bounds)
    scale = max(e - w, n - s) / max_size
    width, height = max(1, round((e - w) / scale)), max(1, round((n - s) / scale))

    def part(src_path: str, *args: Any, **kwargs: Any) -> Any:
        with Reader(src_path) as reader:
            return reader.part(
                (w, s, e, n), dst_crs=crs, bounds_crs=crs, width=width, height=height, indexes=1
            )

    image, _ = mosaic_reader([str(p) for p in paths], part, threads=0)
    values = np.ma.filled(image.array[0].astype(np.float32), np.nan)
    return write_png(rgba(values, style.vmin, style.vmax, style.cmap), path)


def write_png(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write a ``(4, y, x)`` uint8 RGBA array as a PNG, atomically; return the path."""
    with atomic_path(path, ".png") as tmp, rasterio.Env(GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(
            tmp,
            "w",
            driver="PNG",
            width=image.shape[2],
            height=image.shape[1],
            count=4,
            dtype="uint8",
            ZLEVEL=3,  # 2x faster than GDAL's 6 for a 1024 px picture, ~10 % larger
        ) as dst:
            dst.write(image)
    return Path(path)
