"""Build a :class:`~eo.viewing.model.MapModel` from what a user has: a run's outputs, STAC items, xarray.

``from_path``
    an ``eo run`` output directory (or its ``catalog.json``/``collection.json``): one raster layer
    per variable and period from the output items' COGs, styles shared with the run report
    (``report.json``'s ``styles``), vector layers from the report: input scene footprints, the
    tile grid with each tile's status per period, the pipeline's area.  Any other static STAC
    catalogue is read like search results.
``from_items``
    STAC items (search results, an ``ItemCollection``): footprints (id, date, cloud cover), and a
    raster layer per asset key and date for assets that are local files or reachable URLs.
``from_xarray``
    a ``DataArray``/``Dataset`` (lazy or not): each variable and time step is written to a
    temporary COG with :func:`eo.write_cog` (computed chunk by chunk, never whole in memory).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pystac

from eo.errors import InputError, NotFoundError
from eo.io.style import Style, rgb_ranges, style_for_files
from eo.pipeline.report import scene_record
from eo.viewing.model import MapModel, Period, Raster, Variable

log = logging.getLogger("eo.view")

#: Asset media types and suffixes tiled as rasters.
RASTER_SUFFIXES = (".tif", ".tiff")

#: Files sampled per variable for the stretch of search results (each read decimated, maybe remote).
SAMPLED_FILES = 16

#: Variables combined into a true-colour layer when all three are present.
RGB = ("red", "green", "blue")


def _href(asset: pystac.Asset) -> str:
    """An asset's href as a local path or URL: absolute hrefs as given, relative ones resolved."""
    href = asset.href
    if href.startswith(("/", "http://", "https://", "file://", "s3://", "/vsi")):
        return href
    return asset.get_absolute_href() or href


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def footprints(scenes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Scene footprints as GeoJSON: id, collection, date, cloud cover (from :func:`scene_record`)."""
    feats = [
        _feature(s["geometry"], **{k: v for k, v in s.items() if k != "geometry"})
        for s in scenes
        if s.get("geometry")
    ]
    return _collection(feats)


def _spread(paths: list[str], n: int | None) -> list[str]:
    """At most ``n`` of ``paths``, evenly spread (all when ``n`` is None)."""
    if n is None or len(paths) <= n:
        return paths
    return [paths[round(i * (len(paths) - 1) / (n - 1))] for i in range(n)]


def _styles(model: MapModel, known: dict[str, dict[str, Any]], max_files: int | None = None) -> None:
    def files(name: str) -> list[str]:
        return _spread([r.path for (v, _), rs in model.layers.items() if v == name for r in rs], max_files)

    for name in sorted({v for v, _ in model.layers}):
        style = Style.from_dict(known[name]) if name in known else style_for_files(name, files(name))
        model.variables[name] = Variable(name, style)
    if all(b in model.variables for b in RGB):
        bands = [files(b) for b in RGB]
        rgb = Style("RGB", "", 0.0, 1.0, model.variables["red"].style.units, "rgb", "true colour")
        model.variables = {"RGB": Variable("RGB", rgb, RGB, rgb_ranges(bands)), **model.variables}


# --- a run's output directory --------------------------------------------------------------


def _tile_grid(report: dict[str, Any], periods: list[Period]) -> dict[str, Any]:
    from eo.grid.tiles import TileGrid

    g = report["grid"]
    grid = TileGrid(g["crs"], float(g["resolution"]), int(g["tile_size"]), tuple(g["origin"]))
    index = {p.label: i for i, p in enumerate(periods)}
    status: dict[str, dict[str, Any]] = {}
    for r in report.get("results", []):
        entry = status.setdefault(r["tile"], {})
        key = str(index.get(r["period"], r["period"]))
        entry[key] = {"status": r["status"], "error": r.get("error")}
    feats = []
    for tile, by_period in sorted(status.items()):
        extent = grid.geobox(tile).extent.to_crs("EPSG:4326")
        feats.append(_feature(json.loads(json.dumps(extent.json)), tile=tile, status=by_period))
    return _collection(feats)


def _item_tiles(collection: pystac.Collection) -> dict[str, Any]:
    """The written tiles from the output items' footprints (reports of earlier eo versions have no grid)."""
    feats = {}
    for item in collection.get_items(recursive=True):
        tile = item.id.rsplit("_", 2)[0]
        if item.geometry and tile not in feats:
            feats[tile] = _feature(item.geometry, tile=tile, status={})
    return _collection(list(feats.values()))


def _period_of(item: pystac.Item, href: str) -> Period:
    props = item.properties
    start = str(props.get("start_datetime") or props.get("datetime") or "")
    end = str(props.get("end_datetime") or start)
    folder = Path(href).parent
    tile = item.id.rsplit("_", 2)[0]
    label = folder.name if folder.parent.name == tile else f"{start[:10]}/{end[:10]}"
    return Period(label, start, end)


def from_output_dir(out: Path) -> MapModel:
    """The map of an ``eo run`` output directory (``collection.json``, ``report.json``, COGs)."""
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    # a run whose every tile failed wrote no collection: its map still shows the grid and the causes
    has_items = (out / "collection.json").exists()
    collection = pystac.Collection.from_file(str(out / "collection.json")) if has_items else None
    model = MapModel(title=f"eo run: {report.get('pipeline') or (collection and collection.id)}", root=out)
    entries: list[tuple[Period, str, Raster]] = []
    for item in collection.get_items(recursive=True) if collection else []:
        for key, asset in item.assets.items():
            href = _href(asset)
            if not href.lower().endswith(RASTER_SUFFIXES) or not Path(href).exists():
                continue
            w, s, e, n = item.bbox or _bbox_of(href)
            entries.append((_period_of(item, href), key, Raster(href, (w, s, e, n))))
    periods = {p for p, _, _ in entries}
    known = {p.label for p in periods}
    periods |= {Period(r["period"]) for r in report.get("results", []) if r["period"] not in known}
    model.periods = sorted(periods, key=lambda p: (p.start or p.label, p.end, p.label))
    index = {p: i for i, p in enumerate(model.periods)}
    for period, key, raster in entries:
        model.layers.setdefault((key, index[period]), []).append(raster)
    _styles(model, report.get("styles", {}))
    if report.get("grid"):
        model.vectors["tiles"] = _tile_grid(report, model.periods)
    elif collection is not None:
        model.vectors["tiles"] = _item_tiles(collection)
    model.vectors["footprints"] = footprints(report.get("scenes", []))
    if report.get("area"):
        model.vectors["area"] = _collection([_feature(report["area"], name="area")])
    model.report = "report.html" if (out / "report.html").exists() else None
    return model


# --- STAC items ----------------------------------------------------------------------------


def _bbox_of(path: str) -> tuple[float, float, float, float]:
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as src:
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
    return w, s, e, n


def reachable(href: str, timeout: float = 5.0) -> bool:
    """Whether a raster asset can be tiled: an existing local file, or a URL answering a HEAD request."""
    if href.startswith(("http://", "https://")):
        import urllib.request

        try:
            req = urllib.request.Request(href, method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return int(resp.status) < 400
        except (OSError, ValueError):
            return False
    path = href[7:] if href.startswith("file://") else href
    return Path(path).is_file()


def _item_date(item: pystac.Item) -> Period:
    props = item.properties
    start = str(props.get("datetime") or props.get("start_datetime") or "")
    end = str(props.get("end_datetime") or start)
    return Period(start[:10] or item.id, start, end)


def from_items(items: Iterable[pystac.Item], title: str = "STAC items") -> MapModel:
    """The map of STAC items: footprints, and raster layers for local or reachable GeoTIFF assets."""
    items = list(items)
    model = MapModel(title=title)
    model.vectors["footprints"] = footprints(scene_record(i) for i in items)
    collections = {i.collection_id for i in items}
    checked: dict[str, bool] = {}
    entries: list[tuple[Period, str, Raster]] = []
    for item in items:
        for key, asset in item.assets.items():
            href = _href(asset)
            roles = asset.roles or ["data"]
            if "data" not in roles or not href.split("?")[0].lower().endswith(RASTER_SUFFIXES):
                continue
            name = key if len(collections) == 1 else f"{item.collection_id}:{key}"
            if name not in checked:  # one probe per asset key: a whole collection is reachable or not
                checked[name] = reachable(href)
                if not checked[name]:
                    log.info("asset %s of %s is not reachable: no raster layer", key, item.id)
            remote = href.startswith(("http://", "https://"))
            if not checked[name] or (not remote and not reachable(href)):
                continue
            path = f"/vsicurl/{href}" if remote else (href[7:] if href.startswith("file://") else href)
            entries.append((_item_date(item), name, Raster(path, tuple(item.bbox or _bbox_of(path)))))  # type: ignore[arg-type]
    model.periods = sorted({p for p, _, _ in entries}, key=lambda p: (p.start, p.label))
    index = {p: i for i, p in enumerate(model.periods)}
    for period, name, raster in entries:
        model.layers.setdefault((name, index[period]), []).append(raster)
    _styles(model, {}, max_files=SAMPLED_FILES)  # remote assets: a sample of the files, not every one
    return model


def from_path(path: str | os.PathLike[str]) -> MapModel:
    """The map of a run's output directory, its ``catalog.json``, or any static STAC catalogue file."""
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise NotFoundError(f"eo view: {p} does not exist; give an eo run output directory or a catalog.json")
    folder = p if p.is_dir() else p.parent
    run_dir = (folder / "report.json").exists() or (folder / "collection.json").exists()
    if run_dir and (p.is_dir() or p.name in ("catalog.json", "collection.json", "report.json")):
        return from_output_dir(folder)
    if p.is_file() and p.suffix == ".json":
        cat = pystac.read_file(str(p))
        if isinstance(cat, pystac.Catalog):
            return _rooted(from_items(cat.get_items(recursive=True), title=cat.title or cat.id), folder)
        if isinstance(cat, pystac.Item):
            return _rooted(from_items([cat], title=cat.id), folder)
    if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES:
        model = MapModel(title=p.name, root=folder, periods=[Period(p.stem)])
        model.layers[(p.stem, 0)] = [Raster(str(p), _bbox_of(str(p)))]
        _styles(model, {})
        return model
    raise InputError(
        f"eo view: {p} is neither an eo run output directory (collection.json), a STAC catalogue/item "
        "JSON file nor a GeoTIFF; give one of those"
    )


def _rooted(model: MapModel, folder: Path) -> MapModel:
    model.root = folder
    return model


# --- xarray --------------------------------------------------------------------------------


def from_xarray(obj: Any, title: str | None = None) -> MapModel:
    """The map of a DataArray/Dataset of dims ``(y, x)`` or ``(time, y, x)``: temporary COGs (computes)."""
    import numpy as np
    import xarray as xr

    from eo.io.cog import write_cog

    ds = obj.to_dataset(name=str(obj.name or "value")) if isinstance(obj, xr.DataArray) else obj
    tmp = tempfile.TemporaryDirectory(prefix="eo-view-")
    model = MapModel(title=title or "xarray", root=None, tempdir=tmp)
    times = [str(t)[:19] for t in ds["time"].values] if "time" in ds.dims else [""]
    model.periods = [Period(t[:10] if t.endswith("T00:00:00") else (t or "data"), t, t) for t in times]
    for name in ds.data_vars:
        da = ds[name]
        extra = set(da.dims) - {"time", "y", "x", "latitude", "longitude"}
        if extra:
            raise InputError(
                f"eo.view: variable {name!r} has dims {da.dims}; expected (time, y, x) or (y, x)"
            )
        if da.dtype == bool:
            da = da.astype(np.uint8)
        for i in range(len(times)):
            layer = da.isel(time=i) if "time" in da.dims else da
            path = Path(tmp.name) / f"{name}_{i}.tif"
            write_cog(layer, path)
            model.layers[(str(name), i)] = [Raster(str(path), _bbox_of(str(path)))]
    _styles(model, {})
    return model
