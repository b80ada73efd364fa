"""Pure builders of the STAC 1.1.0 dicts of the local catalogue (no I/O).

:mod:`eo.catalog.build` measures the COGs it wrote (:class:`RasterInfo`) and calls these to form
one Item per scene, one Collection per product description and the root Catalog.  Extensions
written: projection v2.0.0 (item level for the main grid + every asset), eo v1.1.0
(``eo:bands`` per asset, ``eo:cloud_cover``) and raster v1.1.0 (``raster:bands`` per asset).
Layout (hrefs relative, the catalogue is self-contained)::

    catalog.json
    <collection>/collection.json
    <collection>/<item>.json
    <collection>/<item>/<asset key>.tif
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eo.catalog.cloud_cover import CLOUD_COVER_RULES
from eo.catalog.ingest import BandSpec, ProductDescription, SceneSpec

STAC_VERSION = "1.1.0"
PROJ_EXT = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
JSON = "application/json"
#: Id of the root catalogue.
CATALOG_ID = "eo-local"
#: Asset roles per band kind.
ROLES = {"measurement": ["data"], "qa": ["metadata", "qa"], "class": ["data", "classification"]}


@dataclass(frozen=True)
class RasterInfo:
    """What the written COG says about its grid (measured with rasterio, corner-based transform)."""

    proj_code: str | None
    wkt2: str | None
    shape: tuple[int, int]
    transform: tuple[float, float, float, float, float, float]
    bounds: tuple[float, float, float, float]
    dtype: str
    nodata: float | None
    resolution: float


@dataclass(frozen=True)
class SceneFacts:
    """Facts of one scene measured at build time."""

    rasters: Mapping[str, RasterInfo]
    """Asset key -> grid of its COG."""
    bbox: tuple[float, float, float, float]
    """Lon/lat bounds (EPSG:4326) of the union of the assets' footprints."""
    footprint: Mapping[str, Any]
    """GeoJSON polygon (EPSG:4326), densified edges."""
    cloud_cover: float | None = None


def _proj(info: RasterInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"proj:code": info.proj_code}
    if info.proj_code is None:
        out["proj:wkt2"] = info.wkt2
    return {**out, "proj:shape": list(info.shape), "proj:transform": list(info.transform)}


def eo_band(band: BandSpec) -> dict[str, Any]:
    """Return the ``eo:bands`` entry of a band (name, common name, wavelengths in micrometres)."""
    out: dict[str, Any] = {"name": band.name}
    for name in ("common_name", "center_wavelength", "full_width_half_max"):
        if getattr(band, name) is not None:
            out[name] = getattr(band, name)
    if band.title:
        out["description"] = band.title
    return out


def raster_band(band: BandSpec, info: RasterInfo | None = None) -> dict[str, Any]:
    """Return the ``raster:bands`` entry: data type, nodata, scale/offset when known, resolution."""
    out: dict[str, Any] = {"data_type": info.dtype} if info else {}
    nodata = info.nodata if info else band.nodata
    if nodata is not None:
        out["nodata"] = int(nodata) if float(nodata).is_integer() else nodata
    for name in ("scale", "offset", "unit"):
        if getattr(band, name) is not None:
            out[name] = getattr(band, name)
    if info:
        out["spatial_resolution"] = info.resolution
    return out


def asset(desc: ProductDescription, band: BandSpec, info: RasterInfo, item_id: str) -> dict[str, Any]:
    """Return the asset of one band COG (href relative to the item JSON)."""
    out: dict[str, Any] = {
        "href": f"./{item_id}/{band.key}.tif",
        "type": COG_MEDIA_TYPE,
        "title": band.title or band.name,
        "roles": ROLES[band.kind],
    }
    if band.gsd != desc.gsd:
        out["gsd"] = band.gsd
    return {**out, "eo:bands": [eo_band(band)], "raster:bands": [raster_band(band, info)], **_proj(info)}


def main_band(desc: ProductDescription, rasters: Mapping[str, RasterInfo]) -> BandSpec:
    """Return the band whose grid is the item's: first whose pixel size is the item gsd (else the first)."""
    for band in desc.bands:
        if abs(rasters[band.key].resolution - desc.gsd) < 1e-9:
            return band
    return desc.bands[0]


def item(desc: ProductDescription, scene: SceneSpec, facts: SceneFacts) -> dict[str, Any]:
    """Return the STAC Item of one scene.

    ``datetime`` is null when the description says it is unknown; ``start_datetime`` /
    ``end_datetime`` then bound it and ``eotk:datetime_source`` says why.
    """
    time = dict(desc.time)
    if scene.datetime:  # the scene's own acquisition time
        time = {"datetime": scene.datetime}
    props: dict[str, Any] = {"datetime": time["datetime"]}
    for key, name in (("start", "start_datetime"), ("end", "end_datetime")):
        if time.get(key):
            props[name] = time[key]
    props |= {"platform": desc.platform, "instruments": list(desc.instruments)}
    if desc.constellation:
        props["constellation"] = desc.constellation
    props["gsd"] = desc.gsd
    props |= _proj(facts.rasters[main_band(desc, facts.rasters).key])
    if facts.cloud_cover is not None:
        props["eo:cloud_cover"] = round(facts.cloud_cover, 4)
    props["eotk:sensor"] = desc.sensor_id
    if desc.processing_level:
        props["eotk:processing_level"] = desc.processing_level
    if time.get("source"):
        props["eotk:datetime_source"] = time["source"]
    cc = desc.cloud_cover
    props["eotk:cloud_cover_source"] = cc.get("unknown") or CLOUD_COVER_RULES[cc["method"]]
    props |= {f"eotk:{name}_source": why for name, why in desc.unknown.items()}
    props |= dict(desc.properties)
    coll = desc.collection["id"]
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJ_EXT, EO_EXT, RASTER_EXT],
        "id": scene.id,
        "geometry": dict(facts.footprint),
        "bbox": list(facts.bbox),
        "properties": props,
        "links": [
            {"rel": "root", "href": "../catalog.json", "type": JSON},
            {"rel": "parent", "href": "./collection.json", "type": JSON},
            {"rel": "collection", "href": "./collection.json", "type": JSON},
        ],
        "assets": {b.key: asset(desc, b, facts.rasters[b.key], scene.id) for b in desc.bands},
        "collection": coll,
    }


def _interval(it: Mapping[str, Any]) -> tuple[str, str]:
    p = it["properties"]
    return (p["datetime"] or p["start_datetime"], p["datetime"] or p["end_datetime"])


def collection(desc: ProductDescription, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the Collection of a description: extent from its items, summaries, item_assets."""
    c = desc.collection
    boxes = [it["bbox"] for it in items]
    union = [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]
    spans = [_interval(it) for it in items]
    summaries: dict[str, Any] = {"platform": [desc.platform]}
    if desc.constellation:
        summaries["constellation"] = [desc.constellation]
    summaries |= {
        "instruments": list(desc.instruments),
        "gsd": sorted({desc.gsd, *(b.gsd for b in desc.bands)}),
        "eo:bands": [eo_band(b) for b in desc.bands],
        "eotk:sensor": [desc.sensor_id],
    }
    item_assets: dict[str, Any] = {}
    for b in desc.bands:
        entry = {
            "type": COG_MEDIA_TYPE,
            "title": b.title or b.name,
            "roles": ROLES[b.kind],
            "eo:bands": [eo_band(b)],
        }
        item_assets[b.key] = entry | ({"raster:bands": [raster_band(b)]} if raster_band(b) else {})
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [EO_EXT, RASTER_EXT],
        "id": c["id"],
        "title": c.get("title", c["id"]),
        "description": c["description"],
        "keywords": list(c.get("keywords", [])),
        "license": c["license"],
        "providers": list(c.get("providers", [])),
        "extent": {
            "spatial": {"bbox": [union]},
            "temporal": {"interval": [[min(s for s, _ in spans), max(e for _, e in spans)]]},
        },
        "summaries": summaries,
        "item_assets": item_assets,
        "links": [
            {"rel": "root", "href": "../catalog.json", "type": JSON},
            {"rel": "parent", "href": "../catalog.json", "type": JSON},
            *({"rel": "item", "href": f"./{it['id']}.json", "type": "application/geo+json"} for it in items),
            *c.get("links", []),
        ],
    }


def catalog(collections: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the root Catalog linking every collection."""
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": CATALOG_ID,
        "title": "eo local catalogue",
        "description": "Analysis-ready COGs and STAC metadata built by `eo catalog build` from raw scenes.",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": JSON},
            *(
                {"rel": "child", "href": f"./{c['id']}/collection.json", "type": JSON, "title": c["title"]}
                for c in collections
            ),
        ],
    }
