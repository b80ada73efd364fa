"""Recorded real STAC items (``tests/data/stac``, provenance in its SOURCES.md) and local files for them.

:func:`localise` writes, for chosen assets of a real item, GeoTIFFs that match what the item says
(grid from ``proj:*``, dtype and nodata from ``raster:bands``; where the item does not say, the
values a test passes) and returns the item with those assets pointing at them.  The files are
tiled and sparse: only a small window (a lon/lat box inside the footprint) holds pixels, so a
10980 x 10980 grid costs a few kilobytes.  The pixel values are known to the test (returned), so
what eo reads can be compared with them independently.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox, Geometry

from eo.catalog.assets import band_count, band_flags, raster_band
from eo.catalog.projection import parse_crs, parse_geobox

DATA = Path(__file__).resolve().parent / "data" / "stac"


def fixture(path: str) -> dict[str, Any]:
    """The recorded item ``tests/data/stac/<path>`` (a fresh copy)."""
    return json.loads((DATA / path).read_text())


def all_fixtures() -> list[str]:
    """Every recorded item, as paths relative to ``tests/data/stac``."""
    return sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*.json") if p.name != "index.json")


@dataclass
class Written:
    """What :func:`localise` wrote for one asset."""

    path: Path
    geobox: GeoBox
    """The file's grid."""
    window: tuple[slice, slice]
    """Rows and columns of the file that hold pixels."""
    data: np.ndarray
    """``(bands, rows, cols)`` values of that window."""
    nodata: float | None

    @property
    def box(self) -> GeoBox:
        """The grid of the written window."""
        return self.geobox[self.window]


def _grid_of(item: Mapping[str, Any], asset: Mapping[str, Any], gsd: float | None) -> GeoBox:
    props = item.get("properties") or {}
    found = parse_geobox(asset, props)
    if found is not None:
        return found
    crs = parse_crs(asset) or parse_crs(props) or CRS("EPSG:4326")
    footprint = Geometry(item["geometry"], "EPSG:4326").to_crs(crs)
    res = gsd or asset.get("gsd") or props.get("gsd") or (30.0 if not crs.geographic else 0.0003)
    return GeoBox.from_bbox(footprint.boundingbox, crs, resolution=float(res))


def inner_box(item: Mapping[str, Any], metres: float = 1500.0) -> BoundingBox:
    """A lon/lat box of about ``metres`` around a point well inside the item's footprint."""
    from shapely.geometry import shape

    footprint = shape(item["geometry"])
    parts = getattr(footprint, "geoms", [footprint])
    x, y = max(parts, key=lambda g: g.area).representative_point().coords[0]
    dy = metres / 111_320.0
    dx = dy / max(math.cos(math.radians(y)), 0.05)
    return BoundingBox(x - dx, y - dy, x + dx, y + dy, crs="EPSG:4326")


def _values(
    shape: tuple[int, ...], dtype: np.dtype, nodata: float | None, flags: Sequence[Any], seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if flags:
        choices = np.array(sorted({int(f.value) for f in flags}), dtype=np.int64)
        out = rng.choice(choices, size=shape).astype(dtype)
    elif dtype.kind == "f":
        out = rng.uniform(-0.5, 2000.0, size=shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        lo, hi = max(info.min, 1), min(info.max, 12000)
        out = rng.integers(lo, hi, size=shape).astype(dtype)
    if nodata is not None and shape[-1] > 8 and shape[-2] > 8:
        out[..., 2:6, 3:8] = nodata  # a patch of nodata the loader must honour
    return out


def localise(
    item: Mapping[str, Any],
    out: Path,
    keys: Sequence[str],
    box: BoundingBox,
    *,
    dtype: str = "uint16",
    nodata: float | None = None,
    crs: str | None = None,
    seed: int = 0,
    count: int | None = None,
) -> tuple[dict[str, Any], dict[str, Written]]:
    """Write GeoTIFFs for ``keys`` of ``item`` matching its metadata; return the item pointing at them.

    ``dtype``/``nodata`` are used where ``raster:bands`` does not state them (what the real file
    holds); ``crs`` overrides the grid's CRS (the file's truth when the item's metadata is wrong);
    ``count`` the number of bands where the metadata does not list them.
    """
    item = copy.deepcopy(dict(item))
    item["links"] = [link for link in item.get("links", []) if link.get("rel") != "self"]
    written: dict[str, Written] = {}
    out.mkdir(parents=True, exist_ok=True)
    for i, key in enumerate(keys):
        asset = item["assets"][key]
        n = count if count is not None else band_count(asset)
        rb = raster_band(asset, 1)
        dt = np.dtype(rb.get("data_type") or dtype)
        nd = rb.get("nodata", nodata)
        if nd is not None and isinstance(nd, float) and math.isnan(nd) and dt.kind != "f":
            nd = None
        grid = _grid_of(item, asset, None)
        if crs is not None:
            grid = GeoBox(grid.shape, grid.transform, crs)
        area = box.to_crs(grid.crs)
        inv = ~grid.transform
        cols, rows = zip(*(inv * (x, y) for x, y in area.polygon.exterior.coords), strict=True)
        r0, r1 = max(0, math.floor(min(rows))), min(grid.shape[0], math.ceil(max(rows)))
        c0, c1 = max(0, math.floor(min(cols))), min(grid.shape[1], math.ceil(max(cols)))
        assert r0 < r1 and c0 < c1, f"{key}: the box misses the grid"
        window = (slice(r0, r1), slice(c0, c1))
        flags = band_flags(asset, 1)
        data = _values((n, r1 - r0, c1 - c0), dt, nd, flags, seed + i)
        path = out / f"{key.replace('/', '_')}.tif"
        profile = {
            "driver": "GTiff", "width": grid.shape[1], "height": grid.shape[0], "count": n, "dtype": dt.name,
            "crs": str(grid.crs), "transform": Affine(*grid.transform[:6]), "tiled": True, "blockxsize": 256,
            "blockysize": 256, "compress": "deflate", "sparse_ok": True,
        }  # fmt: skip
        if nd is not None:
            profile["nodata"] = nd
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, window=rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0))
        asset["href"] = str(path)
        written[key] = Written(path, grid, window, data, None if nd is None else float(nd))
    return item, written
