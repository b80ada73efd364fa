"""Deterministic synthetic Sentinel-2 L2A data as a static STAC catalogue of COGs.

:func:`make_s2_l2a_catalog` writes N acquisitions of a square area near Astana
(Kazakhstan, UTM 42N) laid out exactly like Earth Search's ``sentinel-2-l2a``: one item per
date with COG assets ``blue, green, red, nir`` (10 m, uint16), ``swir16, swir22`` (20 m,
uint16) and ``scl`` (20 m, uint8).  Reflectance bands store ``DN = reflectance * 10000 + 1000``
(the BOA offset of processing baseline 04.00+) with nodata 0; items advertise it as
``raster:bands`` scale 0.0001, offset -0.1.  The scene (see :mod:`eo.testing._s2scene`) has
spatially coherent fields, parcels with a summer phenology (plausible NDVI), clouds with
displaced shadows, cirrus, an orbit-edge no-data wedge on every third date and a few
saturated pixels, all consistent with the SCL band and ``eo:cloud_cover``.

The same ``seed`` (and arguments) gives byte-identical files.  Generation is streamed in
strips of ``tile`` rows, so memory stays bounded for any ``size``.  This function does I/O
(it is eager) and is meant for tests and benchmarks, not for users' data.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from eo.errors import InputError
from eo.testing import _s2stac as stac
from eo.testing._s2scene import SPECTRA, Scene

DEFAULT_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")
#: Upper-left corner (EPSG:32642) of the default area: the NE part of MGRS tile 42UXB, Astana inside.
DEFAULT_ORIGIN = (654900.0, 5709800.0)
ASTANA_LONLAT = (71.4491, 51.1694)
DEFAULT_START = datetime(2025, 6, 5, 5, 56, 41)
SCL_NAME = "scl"
_NOISE_SALT = 2


def _check(dates: int, size: int, tile: int, bands: tuple[str, ...]) -> None:
    if dates < 1:
        raise InputError(f"dates must be >= 1, got {dates}")
    if size < 2 or size % 2:
        raise InputError(
            f"size must be an even number of 10 m pixels >= 2 (20 m bands are size/2), got {size}"
        )
    if tile < 16 or tile % 16:
        raise InputError(f"tile must be a multiple of 16 (a COG block size such as 256 or 512), got {tile}")
    unknown = sorted(set(bands) - set(stac.ASSETS))
    if unknown:
        raise InputError(f"unknown band(s) {unknown}; expected a subset of {list(stac.ASSETS)}")


def _to_lonlat(crs: str, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    from rasterio.warp import transform

    lon, lat = transform(crs, "EPSG:4326", xs, ys)
    return list(lon), list(lat)


def _to_uint16(refl: np.ndarray, nodata: np.ndarray, sat: np.ndarray) -> np.ndarray:
    dn = np.clip(np.rint(refl * np.float32(10000.0) + np.float32(1000.0)), 1, 65534).astype(np.uint16)
    dn[sat] = 65535
    dn[nodata] = 0
    return dn


class _Writer:
    """Temporary striped GTiffs, one per (date, band), converted to COGs at the end."""

    def __init__(self, stack: ExitStack, tmp: Path, size: int, crs: str, origin: tuple[float, float]):
        self.stack, self.tmp, self.size, self.crs, self.origin = stack, tmp, size, crs, origin
        self.handles: dict[tuple[int, str], Any] = {}

    def grid(self, band: str) -> tuple[tuple[int, int], list[float]]:
        res = 20 if band in (SCL_NAME, "swir16", "swir22") else 10
        n = self.size * 10 // res
        return (n, n), [float(res), 0.0, self.origin[0], 0.0, -float(res), self.origin[1]]

    def open(self, i: int, band: str) -> None:
        import rasterio
        from affine import Affine

        shape, t = self.grid(band)
        self.handles[(i, band)] = self.stack.enter_context(
            rasterio.open(
                self.tmp / f"{i}_{band}.tif",
                "w",
                driver="GTiff",
                width=shape[1],
                height=shape[0],
                count=1,
                dtype="uint8" if band == SCL_NAME else "uint16",
                crs=self.crs,
                transform=Affine(*t[:6]),
                nodata=0,
                BIGTIFF="IF_SAFER",
            )
        )

    def write(self, i: int, band: str, row0: int, data: np.ndarray) -> None:
        from rasterio.windows import Window

        self.handles[(i, band)].write(data, 1, window=Window(0, row0, data.shape[1], data.shape[0]))

    def to_cog(self, i: int, band: str, dst: Path, tile: int, threads: int | str) -> None:
        from rasterio.shutil import copy

        part = dst.with_name(dst.name + ".part")
        copy(
            self.tmp / f"{i}_{band}.tif",
            part,
            driver="COG",
            BLOCKSIZE=tile,
            COMPRESS="DEFLATE",
            PREDICTOR="YES",
            OVERVIEW_RESAMPLING="NEAREST" if band == SCL_NAME else "AVERAGE",
            NUM_THREADS=str(threads),
            BIGTIFF="IF_SAFER",
        )
        os.replace(part, dst)


def _render(
    scene: Scene, writer: _Writer, bands: tuple[str, ...], seed: int, tile: int
) -> list[dict[int, int]]:
    """Stream every strip of every date into the writer; return the SCL histogram per date."""
    size, half = scene.size, scene.size // 2
    counts = [dict.fromkeys(range(12), 0) for _ in scene.dates]
    b10 = [b for b in bands if b in SPECTRA and SPECTRA[b][0] == 10]
    b20 = [b for b in bands if b in SPECTRA and SPECTRA[b][0] == 20]
    cols10, cols20 = np.arange(size) + 0.5, 2.0 * np.arange(half) + 1.0
    for k, r0 in enumerate(range(0, size, tile)):
        rows10 = np.arange(r0, min(r0 + tile, size)) + 0.5
        rows20 = 2.0 * np.arange(r0 // 2, min(r0 + tile, size) // 2) + 1.0
        st10 = scene.static(rows10, cols10) if b10 else {}
        st20 = scene.static(rows20, cols20)
        for i, ds in enumerate(scene.dates):
            for grid, (rows, cols, st, names) in {
                10: (rows10, cols10, st10, b10),
                20: (rows20, cols20, st20, b20),
            }.items():
                if not names and grid == 10:
                    continue
                veg = scene.vegetation(st, ds.when)
                atm = scene.atmosphere(i, rows, cols)
                nodata, sat = scene.invalid_cells(i, rows, cols)
                for b in names:
                    rng = np.random.default_rng([seed, _NOISE_SALT, i, list(stac.ASSETS).index(b), k])
                    noise = rng.standard_normal((rows.size, cols.size), dtype=np.float32)
                    dn = _to_uint16(scene.reflectance(b, st, veg, atm, noise), nodata, sat)
                    writer.write(i, b, r0 * 10 // grid, dn)
                if grid == 20:
                    scl = scene.scl(st, veg, atm, nodata, sat)
                    for code, n in enumerate(np.bincount(scl.ravel(), minlength=12)):
                        counts[i][code] += int(n)
                    if SCL_NAME in bands:
                        writer.write(i, SCL_NAME, r0 // 2, scl)
    return counts


def _dump(path: Path, obj: dict[str, Any]) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(part, path)


def _footprint(scene: Scene, i: int, crs: str, origin: tuple[float, float]) -> dict[str, Any]:
    """Valid-data polygon (lon/lat) of date ``i``: the square minus the no-data wedge."""
    half = scene.size // 2
    line = scene.dates[i].nodata_line
    a, b = line if line is not None else (0.0, 0.0)
    cols = [min(a, half), half, half, min(a + b * half, half)]
    rows = [0, 0, half, half]
    xs = [origin[0] + 20.0 * c for c in cols]
    ys = [origin[1] - 20.0 * r for r in rows]
    lon, lat = _to_lonlat(crs, xs, ys)
    ring = [[round(x, 8), round(y, 8)] for x, y in zip(lon, lat, strict=True)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def make_s2_l2a_catalog(
    out_dir: str | os.PathLike[str],
    *,
    dates: int = 6,
    size: int = 5490,
    tile: int = 512,
    seed: int = 0,
    bands: tuple[str, ...] = DEFAULT_BANDS,
    crs: str = "EPSG:32642",
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    start: datetime = DEFAULT_START,
    interval_days: int = 5,
    mgrs_tile: str = "42UXB",
    absolute_hrefs: bool = False,
    threads: int | str = "ALL_CPUS",
) -> Path:
    """Write a synthetic Sentinel-2 L2A static STAC catalogue; return the path of ``catalog.json``.

    Parameters
    ----------
    out_dir
        Directory to write into (created); holds ``catalog.json``,
        ``sentinel-2-l2a/collection.json`` and ``sentinel-2-l2a/<item id>/{<id>.json, B04.tif, ...}``.
    dates
        Number of acquisitions, ``interval_days`` apart from ``start`` (UTC), alternating
        Sentinel-2B / 2A.  Item ids look like ``S2B_42UXB_20250605_0_L2A``.
    size
        Side of the area in 10 m pixels (even; 20 m assets are ``size // 2``).
    tile
        COG block size in pixels (multiple of 16); also the height of the generation strips.
    seed
        Everything random derives from it: same arguments, same bytes.
    bands
        Asset keys to write (subset of ``blue, green, red, nir, swir16, swir22, scl``).
    crs, origin
        CRS of the grid and the (x, y) of its upper-left corner, metres.
    start, interval_days
        Time (UTC, naive) of the first acquisition and the days between acquisitions.
    mgrs_tile
        MGRS tile written into ids and ``mgrs:*``/``grid:code`` (42UXB holds Astana).
    absolute_hrefs
        Write absolute paths (and ``self`` links) instead of relative hrefs.
    threads
        GDAL ``NUM_THREADS`` for DEFLATE compression of the COGs.

    Returns
    -------
    Path
        The root ``catalog.json``.  Assets are COGs: DEFLATE, predictor 2, ``tile`` x ``tile``
        blocks, internal overviews (average; nearest for SCL) while larger than one block.
    """
    bands = tuple(bands)
    _check(dates, size, tile, bands)
    out = Path(out_dir).resolve()
    coll_dir = out / stac.COLLECTION_ID
    coll_dir.mkdir(parents=True, exist_ok=True)
    whens = [start + timedelta(days=interval_days * i, seconds=7 * i) for i in range(dates)]
    cx, cy = origin[0] + 5.0 * size, origin[1] - 5.0 * size
    (clon,), (clat,) = _to_lonlat(crs, [cx], [cy])
    suns = [stac.sun_angles(clat, clon, w) for w in whens]
    from rasterio.warp import transform as warp

    (tx,), (ty,) = warp("EPSG:4326", crs, [ASTANA_LONLAT[0]], [ASTANA_LONLAT[1]])
    scene = Scene(seed, size, whens, suns, ((origin[1] - ty) / 10.0, (tx - origin[0]) / 10.0))
    tmp = out / f".tmp-synthetic-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    try:
        with ExitStack() as es:
            writer = _Writer(es, tmp, size, crs, origin)
            for i in range(dates):
                for b in bands:
                    writer.open(i, b)
            counts = _render(scene, writer, bands, seed, tile)
        item_links = []
        for i, when in enumerate(whens):
            platform = "sentinel-2b" if i % 2 == 0 else "sentinel-2a"
            item_id = f"S2{platform[-1].upper()}_{mgrs_tile}_{when:%Y%m%d}_0_L2A"
            item_dir = coll_dir / item_id
            item_dir.mkdir(exist_ok=True)
            assets = {}
            for b in bands:
                fname = f"{stac.ASSETS[b][0]}.tif"
                writer.to_cog(i, b, item_dir / fname, tile, threads)
                shape, t = writer.grid(b)
                href = str(item_dir / fname) if absolute_hrefs else f"./{fname}"
                assets[b] = stac.asset_dict(b, href, crs, shape, t)
            geom = _footprint(scene, i, crs, origin)
            ring = geom["coordinates"][0]
            bbox = [
                min(p[0] for p in ring),
                min(p[1] for p in ring),
                max(p[0] for p in ring),
                max(p[1] for p in ring),
            ]
            links = _links(
                out,
                item_dir / f"{item_id}.json",
                absolute_hrefs,
                {
                    "root": out / "catalog.json",
                    "parent": coll_dir / "collection.json",
                    "collection": coll_dir / "collection.json",
                },
            )
            item = stac.item_dict(
                item_id=item_id,
                when=when,
                platform=platform,
                mgrs_tile=mgrs_tile,
                geometry=geom,
                bbox=bbox,
                sun=suns[i],
                scl_counts=counts[i],
                assets=assets,
                crs=crs,
                links=links,
            )
            _dump(item_dir / f"{item_id}.json", item)
            item_links.append((item_dir / f"{item_id}.json", bbox))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    full = [
        min(b[0] for _, b in item_links),
        min(b[1] for _, b in item_links),
        max(b[2] for _, b in item_links),
        max(b[3] for _, b in item_links),
    ]
    coll_links = _links(
        out,
        coll_dir / "collection.json",
        absolute_hrefs,
        {"root": out / "catalog.json", "parent": out / "catalog.json"},
    )
    coll_links += [_link("item", p, coll_dir, absolute_hrefs) for p, _ in item_links]
    _dump(coll_dir / "collection.json", stac.collection_dict(full, whens[0], whens[-1], coll_links))
    cat_links = _links(out, out / "catalog.json", absolute_hrefs, {"root": out / "catalog.json"})
    cat_links.append(_link("child", coll_dir / "collection.json", out, absolute_hrefs))
    _dump(out / "catalog.json", stac.catalog_dict(cat_links))
    return out / "catalog.json"


def _link(rel: str, target: Path, base: Path, absolute: bool) -> dict[str, Any]:
    if absolute:
        href = str(target)
    else:
        rel_path = os.path.relpath(target, base)
        href = rel_path if rel_path.startswith("..") else "./" + rel_path
    return {"rel": rel, "href": href, "type": "application/geo+json" if rel == "item" else "application/json"}


def _links(out: Path, self_path: Path, absolute: bool, rels: dict[str, Path]) -> list[dict[str, Any]]:
    base = self_path.parent
    links = [_link(rel, p, base, absolute) for rel, p in rels.items()]
    if absolute:
        links.insert(0, _link("self", self_path, base, True))
    return links
