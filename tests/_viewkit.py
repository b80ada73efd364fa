"""Helpers shared by the ``eo view`` tests: a real pipeline run, raw HTTP, direct COG reads, Chromium."""

from __future__ import annotations

import http.client
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.warp import transform

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HALF = 20037508.342789244  # half the Web Mercator world, metres


def run_ndvi(out: Path, local_catalog: Path) -> Any:
    """Run the README's main job (``pipelines/ndvi.yaml``) into ``out`` on the threaded scheduler."""
    from eo.pipeline import run

    old = os.environ.get("EO_HOME")
    os.environ["EO_HOME"] = str(local_catalog.parent.parent)
    try:
        return run(ROOT / "pipelines" / "ndvi.yaml", out=out, cluster="threads")
    finally:
        if old is None:
            os.environ.pop("EO_HOME", None)
        else:
            os.environ["EO_HOME"] = old


def get(url: str, path: str, host: str | None = None) -> tuple[int, bytes]:
    """GET ``path`` sent as is (no client-side normalisation of ``..``); return status and body."""
    netloc = url.split("//", 1)[1].rstrip("/")
    h, port = netloc.split(":")
    conn = http.client.HTTPConnection(h, int(port), timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or netloc)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def tile_pixel_centres(z: int, x: int, y: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator (EPSG:3857) coordinates of the pixel centres of tile ``z/x/y``, as 2-D arrays."""
    res = 2 * HALF / (size * 2**z)
    cols = np.arange(size) + 0.5
    xs = -HALF + (x * size + cols) * res
    ys = HALF - (y * size + cols) * res
    return np.meshgrid(xs, ys)


def direct_tile(path: Path, z: int, x: int, y: int) -> np.ndarray:
    """The values of tile ``z/x/y`` read straight from the COG: each tile pixel centre's source pixel.

    NaN where the centre falls outside the file or on nodata.  Full-resolution read, no GDAL warp.
    """
    mx, my = tile_pixel_centres(z, x, y)
    with rasterio.open(path) as src:
        ux, uy = transform("EPSG:3857", src.crs, mx.ravel().tolist(), my.ravel().tolist())
        rows, cols = rasterio.transform.rowcol(src.transform, ux, uy)
        rows, cols = np.asarray(rows), np.asarray(cols)
        data = src.read(1, masked=True).astype(np.float32).filled(np.nan)
    inside = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
    out = np.full(rows.shape, np.nan, np.float32)
    out[inside] = data[rows[inside], cols[inside]]
    return out.reshape(mx.shape)


def value_at(path: Path, lon: float, lat: float) -> float:
    """The COG's stored value at ``(lon, lat)`` (degrees), read with rasterio."""
    with rasterio.open(path) as src:
        (ux,), (uy,) = transform("EPSG:4326", src.crs, [lon], [lat])
        row, col = src.index(ux, uy)
        return float(src.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"Chromium is not installed ({CHROMIUM}); Debian: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed; pip install playwright (it drives the system Chromium)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless system Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
