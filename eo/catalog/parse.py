"""Parse STAC items once into :class:`~eo.catalog.records.ParsedItem` (pure, no I/O).

Real catalogues disagree on where things live; the STAC edge is where eo copes with it, so that
nothing downstream reads raw STAC JSON:

- **Identification** (:mod:`eo.sensors.identify`): the sensor profile and product from every clue
  the item gives; an item no profile fits is read from its own metadata
  (:mod:`eo.sensors.from_item`).  A profile that fits still answers for bands it does not define
  (an S2 ``AOT`` asset): those come from the item's metadata too.
- **Projection** (:mod:`eo.catalog.projection`), **band metadata and classification tables**
  (:mod:`eo.catalog.assets`), **facts of the properties** (:mod:`eo.catalog.facts`).
- **Hrefs**: relative hrefs resolve against the item's self link (static catalogues), exactly
  like an API's absolute hrefs.
- **Time**: ``datetime`` null -> ``start_datetime``.
- **Catalogue**: what the catalogue definition the items came from says (collection -> sensor,
  band -> asset key, offset policy) arrives as a :class:`~eo.catalog.records.CatalogContext`.

Band names resolve through the sensor profile (:meth:`SensorProfile.band`: name, common name or
alias, case-insensitive; ``"qa"`` is the product's QA band).  The asset of a band is found by, in
order: the catalogue's band -> asset mapping; an asset whose key is one of the band's keys
(case-insensitive; provider aliases first, then the band name, then the common name); an asset
whose key is such a key with a resolution suffix (``B02_10m``, ``SCL-20m``: the finest); an asset
whose ``eo:bands`` / ``bands`` entry names the band (name or common name; single-band assets first,
never ``visual``/thumbnail assets).  A requested name that is exactly an asset key reads that asset
(``B02_20m`` asks for the 20 m variant).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

from eo.catalog.assets import band_flags, band_names, is_data_asset, raster_band, resolution_variant
from eo.catalog.facts import item_facts
from eo.catalog.projection import parse_geobox
from eo.catalog.records import AssetRecord, CatalogContext, ParsedItem
from eo.errors import BandNotFoundError, MetadataError
from eo.sensors.model import Band, Product, SensorProfile


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


# --- finding a band's asset -----------------------------------------------------------


def _variants(assets: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Lower-case base key -> the finest resolution-suffixed data asset key (``b02`` -> ``B02_10m``)."""
    best: dict[str, tuple[float, str]] = {}
    for key, asset in assets.items():
        found = resolution_variant(key)
        if found is None or not is_data_asset(asset):
            continue
        base, res = found[0].lower(), found[1]
        if base not in best or res < best[base][0]:
            best[base] = (res, key)
    return {base: key for base, (_, key) in best.items()}


def find_asset(
    band: Band,
    assets: Mapping[str, Mapping[str, Any]],
    props: Mapping[str, Any],
    profile: SensorProfile,
    mapping: Mapping[str, str] | None = None,
) -> tuple[str, int] | None:
    """``(asset key, 1-based band index)`` of ``band`` in an item, or ``None`` (rules in the module doc)."""
    for key, asset_key in (mapping or {}).items():
        if asset_key in assets and _answers(profile, str(key), band):
            return str(asset_key), 1
    # the provider aliases first, then the band name, the common name last: on Planetary Computer's
    # Landsat items "qa" is the surface-temperature QA while the pixel QA is "qa_pixel" (an alias)
    by_lower = {key.lower(): key for key in assets}
    variants = _variants(assets)
    priority = [*band.aliases, band.name, *([band.common_name] if band.common_name else [])]
    for wanted in priority:
        exact = by_lower.get(wanted.lower())
        if exact is not None and is_data_asset(assets[exact]):
            return exact, 1
    for wanted in priority:
        variant = variants.get(wanted.lower())
        if variant is not None:
            return variant, 1
    names = {n.lower() for n in (band.name, band.common_name) if n}
    multi: tuple[str, int] | None = None
    for key, asset in assets.items():
        if not is_data_asset(asset):
            continue
        listed = band_names(asset, props)
        for i, found in enumerate(listed):
            if found.lower() & names:
                if len(listed) == 1:
                    return key, 1
                multi = multi or (key, i + 1)
    # "<key>.<n>": band n of a multi-band asset its metadata describes by raster:bands only (a
    # profile built from the item names such bands so; rio-stac items without eo:bands are like that)
    return multi or _numbered_band(band.name, assets)


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
    try:
        dt = value if isinstance(value, _dt.datetime) else str_to_datetime(str(value))
    except ValueError as err:
        raise MetadataError(f"item {item_id!r}: datetime {value!r} is not RFC 3339 ({err})") from None
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
    if not asset.get("href"):
        raise MetadataError(f"asset {key!r} has no href")
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
        flags=band_flags(asset, band_index),
    )


def _typed_errors(parse: Any) -> Any:
    """Make a parser of STAC JSON raise :class:`~eo.errors.MetadataError` for metadata it cannot read.

    Malformed JSON from a server (a ``null`` where a list belongs, a string for a number, a CRS
    that is not one) would otherwise surface as ``TypeError``/``KeyError``/``ValueError`` from
    deep inside; the item is named and the cause kept.
    """
    import functools

    from eo.errors import EOError, MetadataError

    @functools.wraps(parse)
    def wrapper(item: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parse(item, *args, **kwargs)
        except EOError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RuntimeError) as err:
            d = item if isinstance(item, Mapping) else {}
            raise MetadataError(
                f"item {str(d.get('id', getattr(item, 'id', '?')))!r}: its STAC metadata cannot be read "
                f"({type(err).__name__}: {err}); fix the item at its source or leave it out"
            ) from err

    return wrapper


@_typed_errors
def identify_dict(
    d: Mapping[str, Any], catalog: CatalogContext | None = None
) -> tuple[SensorProfile, Product, Any]:
    """``(profile, product, identification)`` of an item: the profile that fits, else one from metadata."""
    from eo.sensors.from_item import profile_from_item
    from eo.sensors.identify import identify_item

    assets: Mapping[str, Mapping[str, Any]] = d.get("assets") or {}
    props: Mapping[str, Any] = d.get("properties") or {}

    def fits(profile: SensorProfile) -> bool:
        return any(
            find_asset(band, assets, props, profile) is not None
            for band in profile.bands
            if band.kind == "measurement"
        )

    found = identify_item(d, catalog.sensor if catalog else None, fits)
    if found.profile is None or found.product is None:
        profile, product = profile_from_item(d)
        return profile, product, found
    return found.profile, found.product, found


@_typed_errors
def parse_item(
    item: Any,
    bands: Iterable[str] | None = None,
    *,
    sensor: tuple[SensorProfile, Product] | None = None,
    catalog: CatalogContext | None = None,
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
        ``(profile, product)`` to use; identified from the whole item when ``None``
        (:func:`eo.sensors.identify.identify_item`; no profile fits: built from the item's metadata).
    catalog
        What the catalogue the item came from says of it (see :class:`CatalogContext`).

    Returns
    -------
    ParsedItem
        ``assets`` maps band names (and requested names that are asset keys) to
        :class:`AssetRecord` (absolute hrefs; grid, dtype, nodata, scale/offset when the item states
        them, ``None`` otherwise).
    """
    d = item_dict(item)
    props: Mapping[str, Any] = d.get("properties") or {}
    item_id = str(d.get("id", "?"))
    collection = d.get("collection") or props.get("collection")
    identification = None
    if sensor is None:
        profile, product, identification = identify_dict(d, catalog)
    else:
        profile, product = sensor
    raw_assets: Mapping[str, Mapping[str, Any]] = d.get("assets") or {}
    self_href = _self_link(d)
    mapping = catalog.assets if catalog else None

    records: dict[str, AssetRecord] = {}
    extra: dict[str, Band] = {}
    for band in profile.bands:
        found = find_asset(band, raw_assets, props, profile, mapping)
        if found is not None:
            key, bidx = found
            records[band.name] = asset_record(band, key, bidx, raw_assets[key], props, self_href)

    for name in bands or ():
        band = resolve_request(profile, product, name, d, item_id)
        if band not in profile.bands:
            extra[name] = band
        # a resolution variant asked for by its key (B04_20m) reads that variant, not the finest
        exact = next(
            (k for k in raw_assets if k.lower() == name.lower() and is_data_asset(raw_assets[k])), None
        )
        variant = exact is not None and resolution_variant(exact) is not None
        if variant and (band.name not in records or records[band.name].key != exact):
            records[name] = asset_record(band, str(exact), 1, raw_assets[str(exact)], props, self_href)
            continue
        numbered = _numbered_band(name, raw_assets)
        if numbered is not None and band.name not in records:
            records[band.name] = asset_record(
                band, numbered[0], numbered[1], raw_assets[numbered[0]], props, self_href
            )
            continue
        if band.name not in records:
            found = find_asset(band, raw_assets, props, profile, mapping)
            if found is None:
                raise BandNotFoundError(
                    f"item {item_id!r} has no asset for band {name!r} ({profile.id} band {band.name}, "
                    f"keys {', '.join(band.keys)}); its assets are: {', '.join(raw_assets) or 'none'}. "
                    "Request another band, or pass bands= with one of those asset keys"
                )
            records[band.name] = asset_record(
                band, found[0], found[1], raw_assets[found[0]], props, self_href
            )

    return ParsedItem(
        id=item_id,
        collection=str(collection) if collection else None,
        datetime=parse_datetime(props, item_id),
        sensor=profile.id,
        product=product.id,
        assets=records,
        facts=item_facts(props, item_id),
        bbox=_bbox(d),
        geometry=d.get("geometry") or None,
        boa_offset_policy=catalog.boa_offset_policy if catalog else None,
        identification=identification,
        extra_bands=extra,
    )


def _numbered_band(name: str, assets: Mapping[str, Mapping[str, Any]]) -> tuple[str, int] | None:
    """``("analytic", 3)`` for ``"analytic.3"`` when ``analytic`` is a data asset (band 3 of its file)."""
    key, sep, index = name.rpartition(".")
    if not sep or not index.isdigit() or int(index) < 1:
        return None
    found = next((k for k in assets if k.lower() == key.lower() and is_data_asset(assets[k])), None)
    return (found, int(index)) if found is not None else None


def resolve_request(
    profile: SensorProfile,
    product: Product,
    name: str,
    item: Mapping[str, Any] | None = None,
    item_id: str = "?",
) -> Band:
    """The band a requested name means: the profile's, else (a band the profile lacks) the item's own."""
    try:
        return resolve_band(profile, product, name)
    except BandNotFoundError as err:
        if item is not None and _numbered_band(name, item.get("assets") or {}) is not None:
            # "<asset>.<n>": band n of a multi-band file its metadata does not describe band by band
            return Band(name=name, aliases=(name,), encodes="unknown")
        if item is not None:
            from eo.sensors.from_item import profile_from_item

            own, own_product = profile_from_item(item)
            if own is not profile:
                try:
                    return resolve_band(own, own_product, name)
                except BandNotFoundError:
                    pass
        raise BandNotFoundError(f"item {item_id!r}: {err}") from None
