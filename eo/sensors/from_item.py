"""A sensor profile built from an item's own metadata, for items no packaged profile fits (pure).

Real catalogues publish many collections eo has no profile for (NAIP, Sentinel-1, DEMs, MODIS,
HLS, Planet, WorldView, land-cover maps), and the domestic satellites' archive will publish its
own.  Their items usually say what each asset is; :func:`profile_from_item` reads that into a
:class:`~eo.sensors.model.SensorProfile` with one product, :data:`PRODUCT`, so the loader treats
them like any other:

- **bands**: one per band of every data asset (:func:`eo.catalog.assets.is_data_asset`).  A
  single-band asset's band is named by its key (resolution suffix dropped: ``B02`` for ``B02_10m``,
  the finest variant used, the coarser ones answering to their own keys); a band of a multi-band
  asset by its ``eo:bands`` name, else ``<key>.<n>``.  Each answers to its asset key, its
  ``eo:bands`` name and its common name (from ``eo:bands``/``bands``, or the key when the key is a
  STAC common name such as ``red`` or ``nir08``);
- **kind**: ``qa`` for a band with a classification table that decodes clouds, shadows or cirrus
  (or an asset whose roles say ``cloud``/``data-mask``), ``class`` for other classification bands,
  else ``measurement``;
- **what the values encode** (``Band.encodes``): bands stored as floats without scale/offset are
  already ``physical``; a scale/offset in ``raster:bands`` makes optical bands ``surface_reflectance``
  or ``toa_reflectance`` when the processing level says which (``processing:level``, or ``l2a``/
  ``l2``/``sr`` versus ``l1c``/``l1``/``toa`` tokens in the collection and item ids), else
  ``physical`` (units from ``raster:bands``), or ``radiance`` when the unit is a spectral radiance; an
  integer band with no scale/offset anywhere encodes
  ``unknown``: :func:`eo.calibrate` passes it through unscaled (state ``uncalibrated``) and indices
  on it warn;
- **QA decoding**: from the first ``qa`` band's classification table (:mod:`eo.masking.flags`);
- **eo's own outputs** declare each asset's ``eotk:kind`` (``index``, ``count``, ``measurement``) and
  ``eotk:state`` (what the stored values are: a float32 NDVI is ``physical``, a composite band keeps
  ``surface_reflectance``), so last night's outputs load as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from eo.catalog.assets import (
    band_count,
    band_flags,
    band_names,
    is_data_asset,
    raster_band,
    resolution_variant,
)
from eo.catalog.facts import item_facts
from eo.catalog.projection import parse_geobox
from eo.catalog.records import EOTK
from eo.sensors.identify import tokens
from eo.sensors.model import Band, Product, SensorProfile

#: Product id of every profile built from item metadata.
PRODUCT = "from-metadata"
#: Asset roles that make a band without a classification table a QA band.
QA_ROLES = frozenset({"cloud", "cloud-shadow", "data-mask", "saturation", "snow-ice", "water-mask"})
#: Mask classes whose presence makes a classification band a QA band.
_QA_CLASSES = frozenset({"cloud", "shadow", "cirrus"})
#: Tokens of collection / item ids (and processing levels) that name the processing level.
SURFACE_TOKENS = frozenset({"l2a", "l2", "l2sp", "l2sr", "sr", "boa", "l3"})
TOA_TOKENS = frozenset({"l1c", "l1", "l1tp", "l1gt", "l1gs", "l1t", "toa"})
#: Centre wavelengths (micrometres) below which a band reflects sunlight.
OPTICAL_UNTIL_UM = 3.0
#: STAC common names of reflective optical bands.
OPTICAL_NAMES = frozenset(
    {
        "coastal", "blue", "green", "green05", "yellow", "red", "rededge", "rededge071", "rededge075",
        "rededge078", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22", "pan",
    }
)  # fmt: skip


@dataclass(frozen=True)
class _Found:
    key: str
    index: int
    asset: Mapping[str, Any]
    resolution: float | None


def _known_common_names() -> frozenset[str]:
    from eo.spectral.bands import COMMON_NAME_TO_ASI

    return frozenset(COMMON_NAME_TO_ASI) | OPTICAL_NAMES | {"lwir", "lwir11", "lwir12"}


def _level(item: Mapping[str, Any]) -> str | None:
    facts = item_facts(item.get("properties") or {}, str(item.get("id", "")))
    seen = tokens(facts.processing_level) | tokens(item.get("collection")) | tokens(item.get("id"))
    if seen & SURFACE_TOKENS:
        return "surface_reflectance"
    if seen & TOA_TOKENS:
        return "toa_reflectance"
    return None


def _resolution(asset: Mapping[str, Any], props: Mapping[str, Any], gsd: float | None) -> float | None:
    try:
        box = parse_geobox(asset, props)
    except Exception:  # malformed proj fields: the loader reports them with the item's name
        box = None
    if box is not None and box.crs is not None and box.crs.units[0] in ("metre", "meter", "m"):
        return abs(float(box.transform.a))
    value = gsd if gsd is not None else (asset.get("gsd") or props.get("gsd"))
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


#: Unit spellings of spectral radiance in ``raster:bands`` (W m-2 sr-1 um-1, ``watt/steradian/...``).
RADIANCE_UNIT = ("sr", "steradian")


#: ``eotk:kind`` values an asset may declare (eo's output items).
DECLARED_KINDS = ("measurement", "qa", "class", "index", "count")


def _encodes(
    kind: str, rb: Mapping[str, Any], common: str | None, wavelength: float | None, level: str | None
) -> str:
    if kind in ("index", "count"):
        return "physical"
    if kind != "measurement":
        return "class"
    scaled = rb.get("scale", 1.0) != 1.0 or rb.get("offset", 0.0) != 0.0
    if str(rb.get("data_type", "")).startswith(("float", "cfloat")) and not scaled:
        return "physical"
    if not scaled:
        return "unknown"
    unit = str(rb.get("unit") or "").lower().replace("-", " ").replace("/", " ").replace("_", " ")
    if any(word in unit.split() for word in RADIANCE_UNIT):
        return "radiance"
    optical = (common in OPTICAL_NAMES) or (wavelength is not None and wavelength < OPTICAL_UNTIL_UM)
    return level if (optical and level is not None) else "physical"


def _band(
    found: _Found, names: list[str], item: Mapping[str, Any], level: str | None, common_names: frozenset[str]
) -> Band:
    from eo.masking.flags import decoding
    from eo.spectral.bands import COMMON_NAME_TO_ASI

    props = item.get("properties") or {}
    meta = band_names(found.asset, props)
    entry = meta[found.index - 1] if found.index <= len(meta) else None
    common = entry.common_name.lower() if entry and entry.common_name else None
    base = names[0]
    if common is None and base.lower() in common_names and band_count(found.asset) == 1:
        common = base.lower()
    flags = band_flags(found.asset, found.index)
    qa = decoding(flags, base) if flags else None
    roles = {str(r).lower() for r in found.asset.get("roles") or ()}
    kind: Literal["measurement", "qa", "class", "index", "count"]
    declared = found.asset.get(f"{EOTK}kind")
    if declared in DECLARED_KINDS:  # eo's own outputs say what each asset is
        kind = declared
    elif flags:
        decodes = set(qa.classes if qa and qa.kind == "classes" else (qa.bits if qa else {}))
        kind = "qa" if decodes & _QA_CLASSES else "class"
    else:
        kind = "qa" if roles & QA_ROLES else "measurement"
    wavelength = entry.center_wavelength if entry else None
    return Band(
        name=base,
        common_name=common,
        aliases=tuple(dict.fromkeys(n for n in names[1:] if n.lower() != base.lower())),
        asi=COMMON_NAME_TO_ASI.get(common) if common else None,
        center_wavelength=wavelength,
        full_width_half_max=entry.full_width_half_max if entry else None,
        resolution=found.resolution,
        kind=kind,
        encodes=_encodes(kind, raster_band(found.asset, found.index), common, wavelength, level),
        stored=str(found.asset[f"{EOTK}state"]) if found.asset.get(f"{EOTK}state") else None,
    )


def _data_assets(item: Mapping[str, Any]) -> dict[str, list[_Found]]:
    """Band base name -> the asset bands answering to it, finest first."""
    props = item.get("properties") or {}
    groups: dict[str, list[_Found]] = {}
    for key, asset in (item.get("assets") or {}).items():
        if not isinstance(asset, Mapping) or not is_data_asset(asset):
            continue
        n = band_count(asset)
        meta = band_names(asset, props)
        for i in range(1, n + 1):
            entry = meta[i - 1] if i <= len(meta) else None
            if n == 1:
                variant = resolution_variant(str(key))
                base = variant[0] if variant else str(key)
            else:
                base = entry.name if entry and entry.name else f"{key}.{i}"
            res = _resolution(asset, props, entry.gsd if entry else None)
            groups.setdefault(base, []).append(_Found(str(key), i, asset, res))
    for found in groups.values():
        found.sort(key=lambda f: (f.resolution is None, f.resolution or 0.0))
    return groups


def profile_from_item(item: Mapping[str, Any]) -> tuple[SensorProfile, Product]:
    """Build the profile and product of an item from its own metadata (see the module docstring).

    The profile's id is the item's collection (else its ``odc:product``, else ``"unknown"``); its product is
    :data:`PRODUCT`.  Items of one collection give profiles with the same ids, so they load together.
    """
    from eo.masking.flags import decoding

    level = _level(item)
    common_names = _known_common_names()
    bands: list[Band] = []
    seen: set[str] = set()
    for base, found in _data_assets(item).items():
        first = found[0]
        names = [base, first.key, *(f.key for f in found[1:])]
        meta = band_names(first.asset, item.get("properties") or {})
        entry = meta[first.index - 1] if first.index <= len(meta) else None
        if entry is not None and entry.name:
            names.append(entry.name)
        if band_count(first.asset) > 1:
            names.append(f"{first.key}.{first.index}")
        band = _band(first, names, item, level, common_names)
        if band.name.lower() in seen:  # an earlier asset answers to this name: its band is kept
            continue
        common = band.common_name if band.common_name and band.common_name.lower() not in seen else None
        band = replace(
            band,
            common_name=common,
            asi=band.asi if common else None,
            aliases=tuple(a for a in band.aliases if a.lower() not in seen),
        )
        seen |= {k.lower() for k in band.keys}
        bands.append(band)
    qa_band = next((b for b in bands if b.kind == "qa"), None)
    qa = None
    if qa_band is not None:
        source = _data_assets(item)[qa_band.name][0]
        qa = decoding(band_flags(source.asset, source.index), qa_band.name)
    props = item.get("properties") or {}
    named = item.get("collection") or props.get("collection") or props.get("odc:product")
    profile_id = str(named) if named else "unknown"
    product = Product(id=PRODUCT, state="physical", qa=qa, notes="built from the item's STAC metadata")
    profile = SensorProfile(
        id=profile_id,
        name=f"{profile_id} (from item metadata)",
        version="item",
        bands=tuple(bands),
        products={PRODUCT: product},
        source="item metadata",
    )
    return profile, product
