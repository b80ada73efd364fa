"""Frozen records of parsed STAC items: what every stage after the STAC edge reads.

STAC JSON is parsed once (:func:`eo.catalog.parse.parse_item`) into these records; nothing
downstream reads raw dicts or raw item properties.  Geometry uses ``odc.geo`` types: a
:class:`odc.geo.geobox.GeoBox` is a pixel grid (CRS + affine + shape) whose affine maps pixel
*corners* (GDAL convention, ``AREA_OR_POINT=Area``).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odc.geo.geobox import GeoBox

if TYPE_CHECKING:
    from eo.sensors.identify import Identification
    from eo.sensors.model import Band

#: Prefix of the STAC fields eo writes (``eotk:sensor``, ``eotk:inputs``, ``eotk:datetime_source``...).
#: The one spelling of it: every module imports this constant.
EOTK = "eotk:"


@dataclass(frozen=True)
class Flag:
    """One meaning of a quality/classification band, in the CF ``flag_*`` form.

    A pixel value ``v`` has the meaning when ``v & mask == value`` (``mask`` None: ``v == value``,
    an exclusive class such as a land-cover or Sentinel-2 SCL value).  Built from the STAC
    classification extension (``classification:classes`` / ``classification:bitfields``) or from a
    sensor profile's QA table.
    """

    value: int
    meaning: str
    """The provider's name (``"cloud"``, ``"cloud_confidence.high"``, ``"snow_ice"``...)."""
    mask: int | None = None


@dataclass(frozen=True)
class AssetRecord:
    """One band of one item, resolved to a readable file, with what the item's metadata says of it."""

    band: str
    """Band name (profile band name, or for items without a profile the name eo gave the band)."""
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
    flags: tuple[Flag, ...] = ()
    """Classification-extension table of the band (empty when the item gives none)."""


@dataclass(frozen=True)
class ItemFacts:
    """Facts of an item's properties that later stages need, read once across provider conventions.

    Numbers are NaN and the rest ``None`` where the item says nothing.
    """

    platform: str | None = None
    constellation: str | None = None
    instruments: tuple[str, ...] = ()
    sun_elevation: float = math.nan
    """Degrees above the horizon (``view:sun_elevation``, else 90 - a sun zenith)."""
    sun_azimuth: float = math.nan
    """Degrees clockwise from north."""
    cloud_cover: float = math.nan
    """Percent."""
    processing_baseline: str | None = None
    """As the provider writes it (``"05.09"``), from ``s2:processing_baseline``,
    ``sentinel:processing_baseline``, ``processing:version``... or the ``_Nxxyy_`` of a product id."""
    boa_offset_applied: bool | None = None
    """Whether the provider already removed the Sentinel-2 -1000 DN offset from the stored values
    (``earthsearch:boa_offset_applied``, ``sentinel:boa_offset_applied``)."""
    datetime_source: str | None = None
    """Why the datetime is what it is, when it is not the acquisition time (``eotk:datetime_source``)."""
    processing_level: str | None = None
    collection_number: int | None = None
    """Landsat collection (1, 2) as a number, whether the item writes ``1``, ``"01"`` or ``"02"``."""


@dataclass(frozen=True)
class CatalogContext:
    """What a catalogue definition says about the items it returns (passed to parsing explicitly)."""

    name: str
    sensor: str | None = None
    """``"sensor:product"`` the definition maps the item's collection to, if any."""
    assets: Mapping[str, str] = field(default_factory=dict)
    """Band key (common name or band name) -> asset key, from the definition."""
    boa_offset_policy: str | None = None


@dataclass(frozen=True)
class ParsedItem:
    """A STAC item reduced to what loading and calibration need."""

    id: str
    collection: str | None
    datetime: _dt.datetime
    """Acquisition time (UTC, tz-aware); ``start_datetime`` when ``datetime`` is null."""
    sensor: str
    """Sensor profile id (for an item without a profile: the id of the profile built from its metadata)."""
    product: str
    """Product id within the sensor profile."""
    assets: Mapping[str, AssetRecord]
    """Band name -> asset (or, when the caller asked for bands, requested name -> asset)."""
    facts: ItemFacts = field(default_factory=ItemFacts)
    bbox: tuple[float, float, float, float] | None = None
    """Lon/lat bounds (EPSG:4326)."""
    geometry: Mapping[str, Any] | None = None
    """The item's footprint (GeoJSON geometry, lon/lat), for the georeferencing check."""
    boa_offset_policy: str | None = None
    """The offset policy of the catalogue the item came from, if it was given."""
    identification: Identification | None = field(default=None, compare=False, repr=False)
    """Why the item was taken for its sensor and product (see :mod:`eo.sensors.identify`)."""
    extra_bands: Mapping[str, Band] = field(default_factory=dict)
    """Requested name -> band the profile lacks, read from the item's own metadata (an S2 ``AOT``)."""
