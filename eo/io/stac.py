"""Output STAC: one item per (tile, period) with provenance, and a static catalogue kept up to date.

Item layout (:func:`output_item`)
    ``id`` = ``"{tile_id}_{start:%Y%m%d}_{end:%Y%m%d}"`` (inclusive end day); ``datetime`` null with
    ``start_datetime``/``end_datetime`` of the period (the period is half-open ``[start, end)``; the
    item's ``end_datetime`` is its last second, ``end - 1 s``); geometry/bbox in EPSG:4326 from the
    grid; projection extension (``proj:code``, ``proj:shape``, ``proj:transform``) at item level;
    ``raster:bands`` (``data_type``, ``nodata``, ``unit``) per asset read from the written file.
Provenance properties
    ``eotk:inputs`` (list of ``{"id", "updated"}``: the input item's ``updated`` property, else its
    ``created``, else null), ``eotk:sensor``, ``eotk:product``, ``eotk:profile_version``,
    ``eotk:spec_hash``, ``eotk:version`` (``eo.__version__``), ``eotk:failed_assets``; the processing
    extension's ``processing:software`` and ``processing:lineage``.
Catalogue layout (:func:`write_catalog`)
    ``out_dir/collection.json`` and ``out_dir/<item id>/<item id>.json``, self-contained (relative
    links and, for files under ``out_dir``, relative asset hrefs).  Every file is written
    atomically; items first, the collection last, so it never links a missing item.  A pipeline
    writes each item as its tile is committed (:func:`write_item`) and rewrites the collection from
    the summaries of the committed items (:func:`write_collection`, :func:`summary`), without
    reading the items back.  Item ids must be plain file names (:func:`eo.io.paths.safe_name`): an
    id such as ``../x`` is refused, never written outside ``out_dir``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pystac
import rasterio
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension

from eo.errors import InputError
from eo.io.atomic import write_json
from eo.io.paths import inside, safe_name

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
EO_SCHEMA = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
EOTK = "eotk:"

#: Media type and roles of an asset by file suffix.
MEDIA: dict[str, tuple[str, list[str]]] = {
    ".tif": (pystac.MediaType.COG, ["data"]),
    ".tiff": (pystac.MediaType.COG, ["data"]),
    ".png": (pystac.MediaType.PNG, ["overview"]),
    ".zarr": ("application/vnd+zarr", ["data"]),
    ".json": (pystac.MediaType.JSON, ["metadata"]),
}


def _utc(value: Any) -> dt.datetime:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def period_bounds(period: Any) -> tuple[dt.datetime, dt.datetime]:
    """``(start, end)`` (tz-aware UTC, end exclusive) of a period given as a pair or ``pd.Interval``."""
    if isinstance(period, pd.Interval):
        period = (period.left, period.right)
    if isinstance(period, pd.Period):
        period = (period.start_time, period.end_time + pd.Timedelta(1, "ns"))
    try:
        start, end = (_utc(p) for p in period)
    except (TypeError, ValueError) as err:
        raise InputError(f"period must be a (start, end) pair of datetimes; got {period!r}") from err
    if end <= start:
        raise InputError(f"period end {end} is not after its start {start}")
    return start, end


def _input_record(item: pystac.Item) -> dict[str, Any]:
    props = item.properties
    return {"id": item.id, "updated": props.get("updated") or props.get("created")}


def _raster_bands(path: Path, unit_of_variable: str | None = None) -> list[RasterBand] | None:
    if path.suffix.lower() not in (".tif", ".tiff") or not path.exists():
        return None
    with rasterio.open(path) as src:
        bands = []
        for dtype, unit in zip(src.dtypes, src.units):
            unit = unit or unit_of_variable
            nodata = src.nodata
            value: Any = "nan" if nodata is not None and np.isnan(nodata) else nodata
            bands.append(RasterBand.create(nodata=value, data_type=DataType(dtype), unit=unit or None))
        return bands


def _asset(path: Path) -> pystac.Asset:
    media, roles = MEDIA.get(path.suffix.lower(), (None, ["data"]))
    return pystac.Asset(href=str(Path(path).absolute()), media_type=media, roles=list(roles))


def output_item(
    tile_id: str,
    period: Any,
    assets: Mapping[str, str | os.PathLike[str]],
    geobox: Any,
    *,
    inputs: Sequence[pystac.Item],
    sensor: str,
    product: str,
    profile_version: str,
    spec_hash: str,
    failed_assets: Iterable[str] = (),
    properties: Mapping[str, Any] | None = None,
    variables: Mapping[str, Mapping[str, Any]] | None = None,
) -> pystac.Item:
    """Build the STAC item of one output tile and period (reads the asset files' headers).

    ``period`` is ``(start, end)`` with an exclusive end (a ``pd.Interval`` or ``pd.Period`` also
    works); ``geobox`` is the output's :class:`odc.geo.geobox.GeoBox`.  Asset hrefs are absolute;
    :func:`write_catalog` makes them relative.  See the module docstring for the properties.

    ``variables`` (asset key -> the written variable's attrs) makes each asset say what it holds, so
    that ``eo.load`` reads the outputs back as written: ``eotk:kind`` (``index``, ``count``,
    ``measurement``), ``eotk:state`` (``physical``, ``surface_reflectance``...), ``eo:bands`` with the
    common name of a band composite, and the unit.
    """
    import eo

    start, end = period_bounds(period)
    last = end - dt.timedelta(seconds=1)
    footprint = geobox.extent.to_crs("EPSG:4326")
    geometry = footprint.json
    now = dt.datetime.now(dt.UTC)
    props: dict[str, Any] = {
        "start_datetime": pystac.utils.datetime_to_str(start),
        "end_datetime": pystac.utils.datetime_to_str(last),
        "created": pystac.utils.datetime_to_str(now),
        f"{EOTK}inputs": [_input_record(i) for i in inputs],
        f"{EOTK}sensor": sensor,
        f"{EOTK}product": product,
        f"{EOTK}profile_version": profile_version,
        f"{EOTK}spec_hash": spec_hash,
        f"{EOTK}version": eo.__version__,
        f"{EOTK}failed_assets": sorted(failed_assets),
        "processing:software": {"eo": eo.__version__},
        "processing:lineage": f"eo composite of {len(inputs)} {sensor}/{product} input items",
        **(properties or {}),
    }
    item = pystac.Item(
        id=f"{tile_id}_{start:%Y%m%d}_{last:%Y%m%d}",
        geometry=_plain(geometry),
        bbox=list(footprint.boundingbox),
        datetime=None,
        properties=props,
        stac_extensions=[PROCESSING_SCHEMA],
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    epsg = geobox.crs.epsg
    proj.apply(
        code=f"EPSG:{epsg}" if epsg is not None else None,
        wkt2=None if epsg is not None else geobox.crs.to_wkt(),
        shape=[int(geobox.shape.y), int(geobox.shape.x)],
        transform=[float(v) for v in list(geobox.affine)[:6]],
    )
    RasterExtension.add_to(item)
    for key, path in assets.items():
        asset = _asset(Path(path))
        item.add_asset(key, asset)
        attrs = (variables or {}).get(key)
        bands = _raster_bands(Path(path), attrs.get("units") if attrs else None)
        if bands:
            RasterExtension.ext(asset).apply(bands)
        if attrs:
            _describe(asset, key, attrs)
    return item


def _describe(asset: pystac.Asset, key: str, attrs: Mapping[str, Any]) -> None:
    """``eotk:kind``/``eotk:state`` and ``eo:bands`` of an output asset, from its variable's attrs."""
    kind = str(attrs.get("kind") or "measurement")
    asset.extra_fields[f"{EOTK}kind"] = kind
    if attrs.get("state"):
        asset.extra_fields[f"{EOTK}state"] = str(attrs["state"])
    band: dict[str, Any] = {"name": key}
    if attrs.get("common_name"):
        band["common_name"] = str(attrs["common_name"])
    if attrs.get("center_wavelength") is not None:
        band["center_wavelength"] = float(attrs["center_wavelength"])
    asset.extra_fields["eo:bands"] = [band]
    owner = asset.owner
    if isinstance(owner, pystac.Item) and EO_SCHEMA not in owner.stac_extensions:
        owner.stac_extensions.append(EO_SCHEMA)


def _plain(obj: Any) -> Any:
    """Tuples -> lists, recursively (GeoJSON from odc-geo uses tuples)."""
    if isinstance(obj, (list, tuple)):
        return [_plain(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


JSON = "application/json"


def summary(item: pystac.Item) -> dict[str, Any]:
    """What the collection needs of an item: ``id``, ``bbox``, ``start_datetime``, ``end_datetime``."""
    props = item.properties
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    return {"id": item.id, "bbox": list(item.bbox or []), "start_datetime": start, "end_datetime": end}


def item_path(out_dir: str | os.PathLike[str], item_id: str) -> Path:
    """``out_dir/<id>/<id>.json`` (the id must be a plain file name)."""
    safe_name(item_id, "item id")
    return Path(out_dir) / item_id / f"{item_id}.json"


def item_document(item: pystac.Item, out_dir: str | os.PathLike[str], collection_id: str) -> dict[str, Any]:
    """The JSON of an output item as stored under ``out_dir``: relative links and asset hrefs."""
    out = Path(out_dir).absolute()
    folder = item_path(out, item.id).parent
    d: dict[str, Any] = item.to_dict(include_self_link=False, transform_hrefs=False)
    for key, asset in item.assets.items():
        href = Path(asset.get_absolute_href() or asset.href)
        if href.is_absolute() and out in href.parents:
            d["assets"][key]["href"] = os.path.relpath(href, folder)
    d["links"] = [
        {"rel": rel, "href": "../collection.json", "type": JSON} for rel in ("root", "collection", "parent")
    ]
    d["collection"] = collection_id
    return d


def write_item(item: pystac.Item, out_dir: str | os.PathLike[str], collection_id: str) -> Path:
    """Write an output item to ``out_dir/<id>/<id>.json`` atomically; return the path."""
    path = inside(out_dir, item_path(out_dir, item.id))
    write_json(path, item_document(item, out_dir, collection_id))
    return path


def collection_document(
    summaries: Iterable[Mapping[str, Any]],
    collection_id: str,
    *,
    description: str | None = None,
    title: str | None = None,
    assets: Mapping[str, Mapping[str, Any]] | None = None,
    extensions: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``collection.json`` linking the items summarised (:func:`summary`), extents from them.

    ``assets`` are collection-level assets (hrefs relative to the collection), ``extensions`` the
    schema URLs of the extensions their fields use.
    """
    rows = sorted(summaries, key=lambda r: str(r["id"]))
    if not rows:
        raise InputError(f"a collection needs at least one item for {collection_id!r}; got none")
    boxes = [r["bbox"] for r in rows if r.get("bbox")] or [[-180.0, -90.0, 180.0, 90.0]]  # none: the globe
    west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
    east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
    starts = [_utc(r["start_datetime"]) for r in rows if r.get("start_datetime")]
    ends = [_utc(r["end_datetime"]) for r in rows if r.get("end_datetime")]
    interval = [
        pystac.utils.datetime_to_str(min(starts)) if starts else None,
        pystac.utils.datetime_to_str(max(ends)) if ends else None,
    ]
    links = [{"rel": "root", "href": "./collection.json", "type": JSON}]
    for r in rows:
        rid = safe_name(str(r["id"]), "item id")
        links.append({"rel": "item", "href": f"./{rid}/{rid}.json", "type": pystac.MediaType.GEOJSON})
    doc: dict[str, Any] = {
        "type": "Collection",
        "id": collection_id,
        "stac_version": pystac.get_stac_version(),
        "description": description or f"eo outputs ({collection_id})",
        "links": links,
        "extent": {"spatial": {"bbox": [[west, south, east, north]]}, "temporal": {"interval": [interval]}},
        "license": "other",
    }
    if title:
        doc["title"] = title
    if extensions:
        doc["stac_extensions"] = list(extensions)
    if assets:
        doc["assets"] = {k: dict(v) for k, v in assets.items()}
    return doc


def write_collection(
    out_dir: str | os.PathLike[str],
    summaries: Iterable[Mapping[str, Any]],
    collection_id: str,
    *,
    description: str | None = None,
    title: str | None = None,
) -> Path:
    """Write ``out_dir/collection.json`` linking the items summarised, atomically; return its path."""
    path = Path(out_dir) / "collection.json"
    write_json(path, collection_document(summaries, collection_id, description=description, title=title))
    return path


def _existing_summaries(collection_file: Path) -> dict[str, dict[str, Any]]:
    if not collection_file.exists():
        return {}
    out = {}
    for link in json.loads(collection_file.read_text()).get("links", []):
        if link.get("rel") != "item":
            continue
        path = (collection_file.parent / link["href"]).resolve()
        try:
            item = pystac.Item.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError):
            continue  # a missing or broken item is dropped from the collection, not kept linked
        out[item.id] = summary(item)
    return out


def write_catalog(
    items: Iterable[pystac.Item],
    out_dir: str | os.PathLike[str],
    collection_id: str,
    *,
    description: str | None = None,
    title: str | None = None,
) -> Path:
    """Write (or update) a static STAC Collection of ``items`` under ``out_dir``; return its path.

    Items already in ``out_dir/collection.json`` are kept; an item with the same id is replaced.
    The collection's spatial and temporal extents are recomputed from all its items.  Items are
    written before the collection, so it never links a missing item.
    """
    out = Path(out_dir).absolute()
    collection_file = out / "collection.json"
    merged = _existing_summaries(collection_file)
    items = list(items)
    for item in items:
        write_item(item, out, collection_id)
        merged[item.id] = summary(item)
    if not merged:
        raise InputError(f"write_catalog needs at least one item for collection {collection_id!r}; got none")
    return write_collection(out, merged.values(), collection_id, description=description, title=title)
