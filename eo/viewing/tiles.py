"""Map tiles and pixel values from COGs with rio-tiler: never a whole raster in memory.

A tile ``z/x/y`` (Web Mercator, 256 px) of a layer is the mosaic of the layer's files that
intersect it (rio-tiler's ``mosaic_reader``, first valid pixel wins), each read with
``Reader.tile`` from the overview level that fits the zoom (nearest neighbour, so a zoomed-in
pixel is the stored value), stretched with the variable's shared :class:`~eo.io.style.Style`
and coloured with its colour map; nodata is transparent.  RGB layers stretch each band by its
own range.  Pixel values come from ``Reader.point`` (the stored value, in the file's dtype).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from eo.io.style import colormap_lut
from eo.viewing.model import MapModel, Raster

TILE_SIZE = 256


@functools.cache
def empty_png() -> bytes:
    """A fully transparent 256 x 256 PNG (a tile where the layer has no file)."""
    return encode_png(np.zeros((4, TILE_SIZE, TILE_SIZE), np.uint8))


def encode_png(rgba: np.ndarray) -> bytes:
    """Encode a ``(4, y, x)`` uint8 array as PNG bytes (rasterio's PNG driver in memory).

    A placeholder pixel grid (not the identity) is given so GDAL raises no NotGeoreferencedWarning:
    a ``warnings.catch_warnings`` block is not thread-safe in a threaded server.
    """
    from affine import Affine
    from rasterio.io import MemoryFile

    h, w = rgba.shape[1:]
    profile = {"driver": "PNG", "width": w, "height": h, "count": 4, "dtype": "uint8"}
    with MemoryFile() as mem:
        with mem.open(**profile, transform=Affine(1, 0, 0, 0, -1, h)) as dst:
            dst.write(rgba)
        return bytes(mem.read())


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(W, S, E, N)`` in degrees of Web Mercator tile ``z/x/y``."""
    n = 2.0**z

    def lat(t: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * t / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _intersecting(rasters: list[Raster], box: tuple[float, float, float, float]) -> list[str]:
    w, s, e, n = box
    return [
        r.path for r in rasters if r.bounds[0] < e and r.bounds[2] > w and r.bounds[1] < n and r.bounds[3] > s
    ]


def _read(path: str, x: int, y: int, z: int, **kwargs: Any) -> Any:
    from rio_tiler.io import Reader

    with Reader(path) as reader:
        return reader.tile(x, y, z, tilesize=TILE_SIZE, indexes=1)


def mosaic(paths: list[str], z: int, x: int, y: int) -> np.ma.MaskedArray | None:
    """The masked float32 ``(256, 256)`` values of tile ``z/x/y`` mosaicked from ``paths`` (None: no data)."""
    from rio_tiler.errors import EmptyMosaicError
    from rio_tiler.mosaic import mosaic_reader

    if not paths:
        return None
    try:
        image, _ = mosaic_reader(paths, _read, x, y, z, threads=0)
    except EmptyMosaicError:
        return None
    band = image.array[0]
    values = np.ma.masked_invalid(band.astype(np.float32))
    return np.ma.masked_where(np.ma.getmaskarray(band) | np.ma.getmaskarray(values), values)


def _colour(values: np.ma.MaskedArray, vmin: float, vmax: float, cmap: str) -> np.ndarray:
    scale = 255.0 / (vmax - vmin) if vmax > vmin else 0.0
    index = np.clip(np.round((values.filled(vmin) - vmin) * scale), 0, 255).astype(np.uint8)
    out = colormap_lut(cmap)[index]
    out[..., 3] = np.where(np.ma.getmaskarray(values), 0, 255)
    return np.moveaxis(out, -1, 0)


def render(model: MapModel, variable: str, period: int, z: int, x: int, y: int) -> bytes:
    """PNG bytes of tile ``z/x/y`` of ``variable`` in ``period`` (transparent where there is no data)."""
    var = model.variables[variable]
    box = tile_bounds(z, x, y)
    if var.bands is None:
        values = mosaic(_intersecting(model.rasters(variable, period), box), z, x, y)
        if values is None:
            return empty_png()
        return encode_png(_colour(values, var.style.vmin, var.style.vmax, var.style.cmap))
    planes = [mosaic(_intersecting(model.rasters(b, period), box), z, x, y) for b in var.bands]
    if any(p is None for p in planes):
        return empty_png()
    ranges = var.ranges or [(0.0, 1.0)] * 3
    rgba = np.zeros((4, TILE_SIZE, TILE_SIZE), np.uint8)
    invalid = np.zeros((TILE_SIZE, TILE_SIZE), bool)
    for i, (plane, (lo, hi)) in enumerate(zip(planes, ranges)):
        assert plane is not None
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        rgba[i] = np.clip(np.round((plane.filled(lo) - lo) * scale), 0, 255).astype(np.uint8)
        invalid |= np.ma.getmaskarray(plane)
    rgba[3] = np.where(invalid, 0, 255)
    return encode_png(rgba)


def point_value(paths: list[str], lon: float, lat: float) -> float | None:
    """The stored value at ``(lon, lat)`` (degrees) of the first file holding valid data there."""
    from rio_tiler.errors import PointOutsideBounds
    from rio_tiler.io import Reader

    for path in paths:
        try:
            with Reader(path) as reader:
                pt = reader.point(lon, lat, indexes=1)
        except PointOutsideBounds:
            continue
        arr = pt.array
        if np.ma.getmaskarray(arr)[0]:
            continue
        value = float(arr.data[0])
        if math.isfinite(value):
            return value
    return None


def point(model: MapModel, lon: float, lat: float) -> dict[str, Any]:
    """Values of every variable at ``(lon, lat)``, per period (``None`` where there is no data)."""
    out: dict[str, Any] = {"lon": lon, "lat": lat, "variables": {}}
    box = (lon - 1e-9, lat - 1e-9, lon + 1e-9, lat + 1e-9)
    for name, var in model.variables.items():
        names = var.bands or (name,)
        series = []
        for i, period in enumerate(model.periods):
            vals = [point_value(_intersecting(model.rasters(n, i), box), lon, lat) for n in names]
            series.append({"period": period.label, "value": vals if var.bands else vals[0]})
        out["variables"][name] = {"units": var.style.units, "series": series}
    return out
