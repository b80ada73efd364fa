"""Quicklook PNGs: a small colour-mapped RGBA preview of one band, NaN transparent.

The image is read decimated: from a COG's overviews (a path) or by block-averaging a DataArray
(``coarsen(...).mean()``, NaN ignored) so at most ``max_size`` pixels span the longer side.
Colours come from matplotlib's colormap ``cmap`` when matplotlib is installed, else from a
built-in red-yellow-green ramp.  Written with rasterio's PNG driver, atomically.
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

#: Anchor colours (RGB) of the built-in ramp: ColorBrewer RdYlGn ends and middle.
_RAMP = np.array([[215, 48, 39], [255, 255, 191], [26, 152, 80]], dtype=float)


def colormap_lut(cmap: str = "RdYlGn") -> np.ndarray:
    """Return a ``(256, 4)`` uint8 RGBA lookup table for ``cmap`` (matplotlib's, else the built-in ramp)."""
    try:
        import matplotlib

        colors = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))
        return np.round(colors * 255).astype(np.uint8)
    except ImportError:
        pass
    except KeyError as err:
        raise InputError(
            f"unknown colormap {cmap!r}; pass a matplotlib colormap name such as 'viridis'"
        ) from err
    pos = np.linspace(0.0, 1.0, 256) * (len(_RAMP) - 1)
    rgb = np.stack([np.interp(pos, np.arange(len(_RAMP)), _RAMP[:, c]) for c in range(3)], axis=1)
    return np.concatenate([np.round(rgb), np.full((256, 1), 255.0)], axis=1).astype(np.uint8)


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

    ``vmin``/``vmax`` default to the 2nd/98th percentiles of the finite values.
    """
    finite = np.isfinite(values)
    if finite.any():
        lo, hi = np.percentile(values[finite], [2, 98])
    else:
        lo, hi = 0.0, 1.0
    lo = float(lo if vmin is None else vmin)
    hi = float(hi if vmax is None else vmax)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    index = np.clip(np.nan_to_num((values - lo) * scale, nan=0.0), 0, 255).astype(np.uint8)
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
