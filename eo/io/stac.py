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
    atomically; items first, the collection last, so it never links a missing item.
"""

from __future__ import annotations

import datetime as dt
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


def _detached(item: pystac.Item) -> pystac.Item:
    """Copy ``item`` without links, its asset hrefs absolute."""
    for asset in item.assets.values():
        asset.href = asset.get_absolute_href() or asset.href
    clone = item.clone()
    clone.clear_links()
    return clone


def _existing_items(collection_file: Path) -> dict[str, pystac.Item]:
    if not collection_file.exists():
        return {}
    existing = pystac.Collection.from_file(str(collection_file))
    return {i.id: _detached(i) for i in existing.get_items(recursive=False)}


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
    The collection's spatial and temporal extents are recomputed from all its items.
    """
    out = Path(out_dir).absolute()
    collection_file = out / "collection.json"
    merged = _existing_items(collection_file)
    merged.update({i.id: _detached(i) for i in items})
    if not merged:
        raise InputError(f"write_catalog needs at least one item for collection {collection_id!r}; got none")
    ordered = [merged[k] for k in sorted(merged)]
    collection = pystac.Collection(
        id=collection_id,
        description=description or f"eo outputs ({collection_id})",
        title=title,
        extent=pystac.Extent.from_items(ordered),
        license="other",
        catalog_type=pystac.CatalogType.SELF_CONTAINED,
    )
    for item in ordered:
        collection.add_item(item)
    collection.normalize_hrefs(str(out))
    for item in ordered:
        for asset in item.assets.values():
            href = Path(asset.href)
            if href.is_absolute() and out in href.parents:
                asset.href = os.path.relpath(href, Path(item.get_self_href() or out).parent)
        write_json(
            item.get_self_href() or out / item.id / f"{item.id}.json",
            item.to_dict(include_self_link=False, transform_hrefs=True),
        )
    write_json(collection_file, collection.to_dict(include_self_link=False, transform_hrefs=True))
    return collection_file
