"""Parse STAC items once into :class:`~eo.catalog.records.ParsedItem` (pure, no I/O).

Real catalogues disagree on where things live; this module is where eo copes with it, so
that nothing downstream reads raw STAC JSON:

- **Projection**: ``proj:code`` (``"EPSG:32618"``), ``proj:epsg`` (int), ``proj:wkt2`` or
  ``proj:projjson``; ``proj:transform`` with 6 or 9 elements; ``proj:shape`` ``[rows, cols]``
  (or ``proj:bbox`` + ``proj:shape`` when the transform is missing).  Each field is read from
  the asset first, then from the item properties (asset level wins).  A grid taken from the
  item level whose pixel size contradicts the band's nominal resolution (an item-level grid
  describes one band only, e.g. the 10 m bands) is not trusted: the asset's grid is then
  ``None`` and the loader reads it from the file header.
- **Band metadata**: STAC 1.0 ``raster:bands`` / ``eo:bands`` lists, STAC 1.1 ``bands`` with
  asset-level ``nodata`` / ``data_type`` / ``unit`` / ``raster:scale`` / ``raster:offset``, and
  0.x (beta) items with ``eo:bands`` on the item properties and integer band indices on assets.
- **Hrefs**: relative hrefs resolve against the item's self link (static catalogues), exactly
  like an API's absolute hrefs.
- **Time**: ``datetime`` null -> ``start_datetime``.

Band names resolve through the sensor profile (:meth:`SensorProfile.band`: name, common
name or alias, case-insensitive; ``"qa"`` is the product's QA band).  The asset of a band is
found by, in order: the ``eotk:assets`` property (band key -> asset key), an asset whose key is
one of the band's keys (case-insensitive; provider aliases first, then the band name, then the
common name), an asset whose ``eo:bands`` / ``bands`` entry names
the band (name or common name; single-band assets first, never ``visual``/thumbnail assets).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox

from eo.catalog.records import EOTK_PREFIX, AssetRecord, ParsedItem
from eo.errors import BandNotFoundError, MetadataError
from eo.sensors.model import Band, Product, SensorProfile

#: Item property mapping band keys (profile name, common name or alias) to asset keys.
ASSETS_PROPERTY = f"{EOTK_PREFIX}assets"
#: Asset roles that never carry measurement data.
_SKIP_ROLES = frozenset({"visual", "thumbnail", "overview"})
#: Media types that never carry measurement data.
_SKIP_MEDIA = ("image/jpeg", "image/png", "application/json", "text/", "application/xml")
#: Relative difference tolerated between an item-level grid's pixel size and a band's nominal one.
_RES_TOLERANCE = 0.25


def item_dict(item: Any) -> dict[str, Any]:
    """Return the item as a STAC JSON dict (pystac Items are converted, dicts returned as is).

    For pystac Items the self link is kept so relative asset hrefs can be resolved.
    """
    if isinstance(item, Mapping):
        return dict(item)
    to_dict = getattr(item, "to_dict", None)
    if to_dict is None:
        raise MetadataError(f"expected a STAC item (pystac.Item or dict), got {type(item).__name__}")
    d: dict[str, Any] = to_dict(include_self_link=True, transform_hrefs=False)
    self_href = item.get_self_href() if hasattr(item, "get_self_href") else None
    if self_href and not _self_link(d):
        d.setdefault("links", []).append({"rel": "self", "href": self_href})
    return d


def _self_link(d: Mapping[str, Any]) -> str | None:
    for link in d.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def resolve_href(href: str, self_href: str | None) -> str:
    """``href`` made absolute against the item's self link (unchanged when absolute or no link)."""
    if self_href is None or "://" in href or href.startswith("/"):
        return href
    from pystac.utils import make_absolute_href

    out = make_absolute_href(href, self_href)
    return out[len("file://") :] if out.startswith("file://") else out


# --- projection -------------------------------------------------------------------


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
        import json

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
    keys = ("proj:code", "proj:epsg", "proj:wkt2", "proj:projjson")
    crs_src = asset if any(asset.get(k) is not None for k in keys) else props
    meta: dict[str, Any] = {k: crs_src.get(k) for k in keys}
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
        if abs(res - nominal_resolution) > _RES_TOLERANCE * nominal_resolution:
            return None
    return GeoBox(shape, transform, crs)


# --- band metadata ----------------------------------------------------------------


def _number(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def raster_band(asset: Mapping[str, Any], band_index: int = 1) -> dict[str, Any]:
    """``nodata``, ``data_type``, ``scale``, ``offset``, ``unit`` of one band of an asset.

    Reads STAC 1.0 ``raster:bands`` entries, STAC 1.1 ``bands`` entries and asset-level fields
    (entry fields win).  Absent values are left out of the result.
    """
    entries = asset.get("raster:bands") or asset.get("bands") or []
    entry: Mapping[str, Any] = {}
    if (
        isinstance(entries, Sequence)
        and 0 < band_index <= len(entries)
        and isinstance(entries[band_index - 1], Mapping)
    ):
        entry = entries[band_index - 1]
    out: dict[str, Any] = {}
    for name in ("nodata", "data_type", "scale", "offset", "unit"):
        value = _first(name, entry, asset)
        if value is None:
            value = _first(f"raster:{name}", entry, asset)
        if value is not None:
            out[name] = value
    for name in ("nodata", "scale", "offset"):
        if name in out:
            num = _number(out[name])
            if num is None:
                del out[name]
            else:
                out[name] = num
    return out


def eo_band_names(asset: Mapping[str, Any], props: Mapping[str, Any]) -> list[set[str]]:
    """Per band of the asset, the lower-cased ``name`` and ``common_name`` its metadata states.

    Reads asset ``eo:bands`` (dicts, or 0.x integer indices into the item's ``eo:bands``) and
    STAC 1.1 ``bands`` (``name``, ``eo:common_name``).
    """
    item_bands = props.get("eo:bands") or []
    entries = asset.get("eo:bands") or asset.get("bands") or []
    out: list[set[str]] = []
    for e in entries:
        if isinstance(e, int) and 0 <= e < len(item_bands):
            e = item_bands[e]
        if not isinstance(e, Mapping):
            continue
        names = {str(e[k]).lower() for k in ("name", "common_name", "eo:common_name") if e.get(k)}
        out.append(names)
    return out


def _is_data_asset(asset: Mapping[str, Any]) -> bool:
    roles = set(asset.get("roles") or ())
    media = str(asset.get("type") or "")
    return not (roles & _SKIP_ROLES) and not media.startswith(_SKIP_MEDIA)


def find_asset(
    band: Band, assets: Mapping[str, Mapping[str, Any]], props: Mapping[str, Any], profile: SensorProfile
) -> tuple[str, int] | None:
    """``(asset key, 1-based band index)`` of ``band`` in an item, or ``None`` (rules in the module doc)."""
    mapping = props.get(ASSETS_PROPERTY)
    if isinstance(mapping, Mapping):
        for key, asset_key in mapping.items():
            if asset_key in assets and _answers(profile, str(key), band):
                return str(asset_key), 1
    # the provider aliases first, then the band name, the common name last: on Planetary Computer's
    # Landsat items "qa" is the surface-temperature QA while the pixel QA is "qa_pixel" (an alias)
    by_lower = {key.lower(): key for key in assets}
    priority = [*band.aliases, band.name, *([band.common_name] if band.common_name else [])]
    for wanted in priority:
        key = by_lower.get(wanted.lower())
        if key is not None and _is_data_asset(assets[key]):
            return key, 1
    names = {n.lower() for n in (band.name, band.common_name) if n}
    multi: tuple[str, int] | None = None
    for key, asset in assets.items():
        if not _is_data_asset(asset):
            continue
        listed = eo_band_names(asset, props)
        for i, found in enumerate(listed):
            if found & names:
                if len(listed) == 1:
                    return key, 1
                multi = multi or (key, i + 1)
    return multi


def _answers(profile: SensorProfile, key: str, band: Band) -> bool:
    try:
        return profile.band(key).name == band.name
    except BandNotFoundError:
        return False


def resolve_band(profile: SensorProfile, product: Product, key: str) -> Band:
    """Return the profile band a user name means (``"qa"``: the product's QA band; else by name/alias)."""
    if key.lower() == "qa" and product.qa is not None:
        return profile.band(product.qa.band)
    return profile.band(key)


# --- items ------------------------------------------------------------------------


def parse_datetime(props: Mapping[str, Any], item_id: str = "?") -> _dt.datetime:
    """``datetime``, else ``start_datetime``, as a tz-aware UTC datetime."""
    from pystac.utils import str_to_datetime

    value = props.get("datetime") or props.get("start_datetime")
    if not value:
        raise MetadataError(
            f"item {item_id!r} has neither 'datetime' nor 'start_datetime'; set one of them in its properties"
        )
    dt = value if isinstance(value, _dt.datetime) else str_to_datetime(str(value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return dt.astimezone(_dt.UTC)


def _bbox(d: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    bbox = d.get("bbox")
    if bbox and len(bbox) >= 4:
        if len(bbox) == 6:
            return float(bbox[0]), float(bbox[1]), float(bbox[3]), float(bbox[4])
        return float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])
    geom = d.get("geometry")
    if geom:
        from shapely.geometry import shape

        b = shape(geom).bounds
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])
    return None


def asset_record(
    band: Band,
    key: str,
    band_index: int,
    asset: Mapping[str, Any],
    props: Mapping[str, Any],
    self_href: str | None,
) -> AssetRecord:
    """Build the :class:`AssetRecord` of one band found in asset ``key``."""
    rb = raster_band(asset, band_index)
    nodata = rb.get("nodata")
    return AssetRecord(
        band=band.name,
        key=key,
        href=resolve_href(str(asset["href"]), self_href),
        geobox=parse_geobox(asset, props, band.resolution),
        band_index=band_index,
        dtype=str(rb["data_type"]) if rb.get("data_type") else None,
        nodata=None if nodata is None else (math.nan if math.isnan(nodata) else nodata),
        scale=rb.get("scale"),
        offset=rb.get("offset"),
        unit=str(rb["unit"]) if rb.get("unit") else None,
    )


def parse_item(
    item: Any,
    bands: Iterable[str] | None = None,
    *,
    sensor: tuple[SensorProfile, Product] | None = None,
) -> ParsedItem:
    """Parse one STAC item (pystac Item or dict) into a :class:`ParsedItem` (pure).

    Parameters
    ----------
    item
        A ``pystac.Item`` or a STAC item dict (any STAC version from 0.9 to 1.1).
    bands
        Band names the caller needs (common names, profile names, aliases, asset keys or
        ``"qa"``); each must be found or :class:`BandNotFoundError` names the item, the band
        and the item's asset keys.  ``None`` parses every band of the profile that is present.
    sensor
        ``(profile, product)`` to use; identified from the properties
        (:func:`eo.sensors.identify`) when ``None``.

    Returns
    -------
    ParsedItem
        ``assets`` maps profile band names to :class:`AssetRecord` (absolute hrefs; grid,
        dtype, nodata, scale/offset when the item states them, ``None`` otherwise).
    """
    d = item_dict(item)
    props: Mapping[str, Any] = d.get("properties") or {}
    item_id = str(d.get("id", "?"))
    collection = d.get("collection") or props.get("collection")
    if sensor is None:
        from eo.sensors import identify

        sensor = identify(props, collection)
    profile, product = sensor
    raw_assets: Mapping[str, Mapping[str, Any]] = d.get("assets") or {}
    self_href = _self_link(d)

    records: dict[str, AssetRecord] = {}
    for band in profile.bands:
        found = find_asset(band, raw_assets, props, profile)
        if found is not None:
            key, bidx = found
            records[band.name] = asset_record(band, key, bidx, raw_assets[key], props, self_href)

    for name in bands or ():
        try:
            band = resolve_band(profile, product, name)
        except BandNotFoundError as err:
            raise BandNotFoundError(f"item {item_id!r}: {err}") from None
        if band.name not in records:
            raise BandNotFoundError(
                f"item {item_id!r} has no asset for band {name!r} ({profile.id} band {band.name}, "
                f"keys {', '.join(band.keys)}); its assets are: {', '.join(raw_assets) or 'none'}. "
                f"Request another band, or map it with the {ASSETS_PROPERTY!r} property"
            )

    return ParsedItem(
        id=item_id,
        collection=str(collection) if collection else None,
        datetime=parse_datetime(props, item_id),
        sensor=profile.id,
        product=product.id,
        assets=records,
        properties=dict(props),
        bbox=_bbox(d),
    )
