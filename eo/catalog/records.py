"""Frozen records of parsed STAC items: what every stage after the STAC edge reads.

STAC JSON is parsed once (:func:`eo.catalog.parse.parse_item`) into these records; nothing
downstream reads raw dicts.  Geometry uses ``odc.geo`` types: a :class:`odc.geo.geobox.GeoBox`
is a pixel grid (CRS + affine + shape) whose affine maps pixel *corners* (GDAL convention,
``AREA_OR_POINT=Area``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from odc.geo.geobox import GeoBox

#: Property prefix of facts eo adds to items (``eotk:sensor``, ``eotk:assets``, ``eotk:datetime_source``...).
EOTK_PREFIX = "eotk:"


@dataclass(frozen=True)
class AssetRecord:
    """One band of one item, resolved to a readable file."""

    band: str
    """Profile band name (``"B04"``)."""
    key: str
    """Asset key in the item (``"red"``, ``"B04"``...)."""
    href: str
    """Absolute href (relative hrefs resolved against the item's self link)."""
    geobox: GeoBox | None
    """Pixel grid of the asset; ``None`` when the item does not say (read from the file)."""
    band_index: int = 1
    """1-based band index inside the file."""
    dtype: str | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    """``raster:bands`` scale/offset when the item gives them (``None`` otherwise)."""
    unit: str | None = None


@dataclass(frozen=True)
class ParsedItem:
    """A STAC item reduced to what loading and calibration need."""

    id: str
    collection: str | None
    datetime: _dt.datetime
    """Acquisition time (UTC, tz-aware); ``start_datetime`` when ``datetime`` is null."""
    sensor: str
    """Sensor profile id."""
    product: str
    """Product id within the sensor profile."""
    assets: Mapping[str, AssetRecord]
    """Profile band name -> asset."""
    properties: Mapping[str, Any] = field(default_factory=dict)
    """The item's properties (read-only use: sun angles, processing baseline, cloud cover)."""
    bbox: tuple[float, float, float, float] | None = None
    """Lon/lat bounds (EPSG:4326)."""
