"""Pixel grids from the STAC projection extension, and a check that they agree with the footprint (pure).

- **CRS**: ``proj:code`` (``"EPSG:32618"``), ``proj:epsg`` (int), ``proj:wkt2`` or ``proj:projjson``.
- **Grid**: ``proj:transform`` with 6 or 9 elements and ``proj:shape`` ``[rows, cols]`` (or
  ``proj:bbox`` + ``proj:shape`` when the transform is missing).  Each field is read from the asset
  first, then from the item properties (asset level wins).  A grid taken from the item level whose
  pixel size contradicts the band's nominal resolution (an item-level grid describes one band only,
  e.g. the 10 m bands) is not trusted: the asset's grid is then ``None`` and the loader reads it
  from the file header.
- **Agreement** (:func:`footprint_agrees`): the item's footprint (``geometry``, lon/lat) projected
  into the grid's CRS must lie mostly inside the grid.  A real Planetary Computer Landsat item says
  ``proj:epsg: 3271`` while its files are in EPSG:32601: its footprint, projected into 3271, misses
  the grid entirely, so the loader reads that file's own georeferencing instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry

from eo.errors import MetadataError

#: Relative difference tolerated between an item-level grid's pixel size and a band's nominal one.
RES_TOLERANCE = 0.25
#: Share of the footprint's area that must fall inside the grid for the two to agree.
FOOTPRINT_INSIDE = 0.5

_CRS_KEYS = ("proj:code", "proj:epsg", "proj:wkt2", "proj:projjson")


def parse_crs(meta: Mapping[str, Any]) -> CRS | None:
    """CRS from ``proj:code`` / ``proj:epsg`` / ``proj:wkt2`` / ``proj:projjson`` (``None`` if absent)."""
    code = meta.get("proj:code")
    if code:
        return CRS(str(code))
    epsg = meta.get("proj:epsg")
    if epsg is not None:
        return CRS(f"EPSG:{int(epsg)}")
    if meta.get("proj:wkt2"):
        return CRS(str(meta["proj:wkt2"]))
    if meta.get("proj:projjson"):
        return CRS(json.dumps(meta["proj:projjson"]))
    return None


def parse_transform(meta: Mapping[str, Any]) -> Affine | None:
    """Affine from a 6- or 9-element ``proj:transform`` (``None`` if absent)."""
    t = meta.get("proj:transform")
    if t is None:
        return None
    if len(t) not in (6, 9):
        raise MetadataError(f"proj:transform must have 6 or 9 elements, found {len(t)}: {t!r}")
    return Affine(*(float(v) for v in t[:6]))


def parse_shape(meta: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(rows, cols)`` from ``proj:shape`` (``None`` if absent)."""
    s = meta.get("proj:shape")
    if s is None:
        return None
    if len(s) != 2:
        raise MetadataError(f"proj:shape must be [rows, cols], found {s!r}")
    return int(s[0]), int(s[1])


def _first(key: str, *sources: Mapping[str, Any]) -> Any:
    for s in sources:
        if s.get(key) is not None:
            return s[key]
    return None


def _grid_meta(asset: Mapping[str, Any], props: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Projection fields merged asset-over-item, and whether the pixel grid came from the item level."""
    crs_src = asset if any(asset.get(k) is not None for k in _CRS_KEYS) else props
    meta: dict[str, Any] = {k: crs_src.get(k) for k in _CRS_KEYS}
    for k in ("proj:transform", "proj:shape", "proj:bbox"):
        meta[k] = _first(k, asset, props)
    from_item = asset.get("proj:transform") is None and asset.get("proj:shape") is None
    return meta, from_item


def parse_geobox(
    asset: Mapping[str, Any], props: Mapping[str, Any], nominal_resolution: float | None = None
) -> GeoBox | None:
    """Pixel grid of an asset from ``proj:*`` fields (asset level wins over item level).

    Returns ``None`` when the CRS or the shape is unknown, or when only an item-level grid is
    given and its pixel size differs from ``nominal_resolution`` (metres) by more than 25 %.
    """
    meta, from_item = _grid_meta(asset, props)
    crs = parse_crs(meta)
    shape = parse_shape(meta)
    if crs is None or shape is None:
        return None
    transform = parse_transform(meta)
    if transform is None:
        bbox = meta.get("proj:bbox")
        if bbox is None or len(bbox) != 4:
            return None
        x0, y0, x1, y1 = (float(v) for v in bbox)
        transform = Affine((x1 - x0) / shape[1], 0.0, x0, 0.0, -(y1 - y0) / shape[0], y1)
    if from_item and nominal_resolution and crs.units[0] in ("metre", "meter", "m"):
        res = abs(transform.a)
        if abs(res - nominal_resolution) > RES_TOLERANCE * nominal_resolution:
            return None
    return GeoBox(shape, transform, crs)


def footprint_agrees(geometry: Mapping[str, Any] | None, geobox: GeoBox) -> bool:
    """Whether an item's lon/lat footprint lies mostly (:data:`FOOTPRINT_INSIDE`) inside ``geobox``.

    True when there is no footprint to compare.  A footprint that cannot be projected into the
    grid's CRS (outside the projection's domain) does not agree.
    """
    if not geometry:
        return True
    try:
        footprint = Geometry(dict(geometry), "EPSG:4326")
        if footprint.is_empty or footprint.area == 0:
            return True
        if geobox.crs is None:
            return True
        projected = footprint.to_crs(geobox.crs)
        area = projected.area
        if not math.isfinite(area) or area <= 0:
            return False
        inside = projected.intersection(geobox.extent).area
    except Exception:  # any projection failure: the claimed CRS cannot hold the footprint
        return False
    return bool(math.isfinite(inside) and inside >= FOOTPRINT_INSIDE * area)
