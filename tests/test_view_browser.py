"""``eo view`` in a real headless Chromium (Debian's ``chromium``, driven by Playwright), as a person uses it.

``eo run pipelines/ndvi.yaml`` on the real Sentinel-2 scene, then the map of its output: the page
loads without console errors, tiles arrive, a screenshot is opaque on data and transparent on
nodata (in the colours of the shared stretch), a click shows the value the COG holds there; on a
two-period run the period slider changes the layer and the click shows the time series.
``EO_VIEW_SCREENSHOT=path.png`` also saves the README's screenshot of the NDVI map.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from _viewkit import browser_missing, chromium, run_ndvi, value_at

from eo.io.style import colormap_lut
from eo.viewing import ViewServer, model_of

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def ndvi_out(tmp_path_factory: pytest.TempPathFactory, local_catalog: Path) -> Path:
    out = tmp_path_factory.mktemp("view-ndvi-browser")
    assert run_ndvi(out, local_catalog).exit_code == 0
    return out


@pytest.fixture(scope="module")
def ndvi_server(ndvi_out: Path) -> Iterator[ViewServer]:
    with ViewServer(model_of(ndvi_out)).serve_in_thread() as srv:
        yield srv


class Page:
    """A browser page on the map with its console messages and page errors collected."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1000, "height": 700})
        self.messages: list[tuple[str, str]] = []
        self.page.on("console", lambda m: self.messages.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))
        self.page.on("requestfailed", lambda r: self.messages.append(("requestfailed", r.url)))
        self.page.goto(url)
        self.wait_loaded()

    def wait_loaded(self) -> None:
        self.page.wait_for_function(
            "window.eoView && window.eoView.ready && window.eoView.layerLoaded === window.eoView.layerUrl",
            timeout=60_000,
        )

    def errors(self) -> list[tuple[str, str]]:
        return [m for m in self.messages if m[0] in ("error", "pageerror", "requestfailed")]

    def go(self, lon: float, lat: float, zoom: int) -> None:
        self.page.evaluate(f"window.eoView.map.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
        self.page.wait_for_timeout(100)
        self.page.wait_for_function("window.eoView.state.layer && !window.eoView.state.layer.isLoading()")
        # Leaflet fades tiles in (200 ms): wait until every tile is fully opaque before looking at it
        self.page.wait_for_function(
            "[...document.querySelectorAll('.leaflet-tile')]"
            ".every((t) => getComputedStyle(t).opacity === '1')"
        )

    def screen_point(self, lon: float, lat: float) -> tuple[float, float]:
        js = "(([lat, lon]) => { const p = window.eoView.map.latLngToContainerPoint([lat, lon]);"
        js += " return [p.x, p.y]; })"
        p = self.page.evaluate(js, [lat, lon])
        return float(p[0]), float(p[1])

    def raster_only_screenshot(self) -> np.ndarray:
        """RGBA screenshot of the raster layer alone on a transparent page."""
        self.page.evaluate(
            """(() => {
              const m = window.eoView.map;
              m.eachLayer((l) => { if (l !== window.eoView.state.layer) m.removeLayer(l); });
              for (const el of [document.documentElement, document.body, document.getElementById('map')])
                el.style.background = 'transparent';
              for (const el of document.querySelectorAll('#panel, .leaflet-control-container'))
                el.style.display = 'none';
            })()"""
        )
        png = self.page.screenshot(omit_background=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.MemoryFile(png) as mem, mem.open() as src:
                assert src.count == 4
                return np.moveaxis(src.read(), 0, -1)

    def click_value(self, lon: float, lat: float) -> dict[str, Any]:
        x, y = self.screen_point(lon, lat)
        self.page.mouse.click(round(x), round(y))
        popup = self.page.wait_for_selector(".eo-popup")
        assert popup is not None
        return {
            "lon": float(popup.get_attribute("data-lon")),
            "lat": float(popup.get_attribute("data-lat")),
            "value": json.loads(popup.get_attribute("data-value") or "null"),
            "text": popup.inner_text(),
        }

    def close(self) -> None:
        self.page.close()


def _cog(out: Path, tile: str, var: str = "NDVI") -> Path:
    (path,) = out.glob(f"{tile}/*/*_{tile}_*_{var}.tif")
    return path


def _lonlat(path: Path, row: int, col: int) -> tuple[float, float]:
    with rasterio.open(path) as src:
        x, y = src.xy(row, col)
        (lon,), (lat,) = rasterio.warp.transform(src.crs, "EPSG:4326", [x], [y])
    return lon, lat


def _save_small_png(png: bytes, path: Path) -> None:
    """Save a screenshot as a 128-colour PNG (about 200 KB) when Pillow is there, else as it is."""
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(png)
        return
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def test_ndvi_map_loads_without_errors_and_tiles_arrive(browser: Any, ndvi_server: ViewServer) -> None:
    page = Page(browser, ndvi_server.url)
    try:
        events = page.page.evaluate("window.eoView.tileEvents")
        assert events["loaded"] > 0 and events["errors"] == 0
        assert page.errors() == []
        bar = page.page.wait_for_selector(".colorbar[data-variable='NDVI']")
        assert bar is not None
        style = ndvi_server.model.variables["NDVI"].style
        assert float(bar.get_attribute("data-vmin")) == style.vmin == -style.vmax
        assert page.page.inner_text(".colorbar .ticks").split() == [f"{style.vmin:g}", "0", f"{style.vmax:g}"]
        assert page.page.inner_text("#title") == "eo run: ndvi"
        layers = page.page.inner_text(".leaflet-control-layers")
        assert all(name in layers for name in ("Scene footprints", "Tile grid", "Area", "Graticule"))
        assert "NDVI (dimensionless)" in page.page.inner_text(".colorbar")
        assert page.page.inner_text("#period-label") == "2015-06-23_2016-06-30"
        if os.environ.get("EO_VIEW_SCREENSHOT"):  # the README's picture
            _save_small_png(page.page.screenshot(), Path(os.environ["EO_VIEW_SCREENSHOT"]))
    finally:
        page.close()


def test_screenshot_opaque_on_data_transparent_on_nodata(
    browser: Any, ndvi_server: ViewServer, ndvi_out: Path
) -> None:
    cog = _cog(ndvi_out, "32618_42_406")
    page = Page(browser, ndvi_server.url)
    try:
        # tile 32618_42_406: the scene covers columns 565.. and rows ..768; left of it is nodata
        data_pt = _lonlat(cog, 300, 620)
        nodata_pt = _lonlat(cog, 300, 500)
        page.go((data_pt[0] + nodata_pt[0]) / 2, data_pt[1], 15)  # 3.8 m screen pixels on 10 m data
        rgba = page.raster_only_screenshot()
        x, y = (round(v) for v in page.screen_point(*data_pt))
        value = value_at(cog, *data_pt)
        style = ndvi_server.model.variables["NDVI"].style
        index = int(np.clip(np.round((value - style.vmin) * 255 / (style.vmax - style.vmin)), 0, 255))
        assert rgba[y, x, 3] == 255
        assert tuple(rgba[y, x, :3]) == tuple(colormap_lut(style.cmap)[index, :3])
        nx, ny = (round(v) for v in page.screen_point(*nodata_pt))
        assert rgba[ny, nx, 3] == 0
        assert 0.1 < (rgba[..., 3] == 255).mean() < 0.9  # the edge of the scene crosses the view
        assert page.errors() == []
    finally:
        page.close()


@pytest.mark.parametrize("tile,row,col", [("32618_43_406", 512, 512), ("32618_42_407", 900, 1000)])
def test_click_shows_the_value_the_cog_holds(
    browser: Any, ndvi_server: ViewServer, ndvi_out: Path, tile: str, row: int, col: int
) -> None:
    cog = _cog(ndvi_out, tile)
    lon, lat = _lonlat(cog, row, col)
    page = Page(browser, ndvi_server.url)
    try:
        page.go(lon, lat, 16)
        shown = page.click_value(lon, lat)
        with rasterio.open(cog) as src:
            expected = float(src.read(1)[row, col])
        assert value_at(cog, shown["lon"], shown["lat"]) == expected  # the click landed in that pixel
        assert shown["value"] == pytest.approx(expected, rel=1e-6, abs=1e-7)  # float32 round trip
        assert f"NDVI{float(f'{expected:.6g}'):g}" in shown["text"].replace("\t", "").replace(" ", "")
        assert page.errors() == []
    finally:
        page.close()


# --- two periods: the slider --------------------------------------------------------------------


@pytest.fixture(scope="module")
def monthly_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eo.catalog.serve import serve
    from eo.pipeline import run
    from eo.testing.synthetic import make_s2_l2a_catalog

    catalog = make_s2_l2a_catalog(
        tmp_path_factory.mktemp("synthetic-view"), dates=3, size=256, tile=256, interval_days=20
    )
    import pystac

    w, s, e, n = next(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True)).bbox
    spec = {
        "name": "synth",
        "collections": ["sentinel-2-l2a"],
        "area": {"bbox": [w + 1e-3, s + 1e-3, e - 1e-3, n - 1e-3]},
        "period": {"start": "2025-06-01", "end": "2025-07-31", "bin": "monthly"},
        "grid": {"crs": "EPSG:32642", "resolution": 10, "tile_size": 128},
        "bands": ["red", "nir", "qa"],
        "mask": {"classes": ["nodata", "cloud", "shadow", "cirrus"]},
        "indices": ["NDVI"],
        "composite": {"method": "median"},
        "outputs": {"dir": "unused"},
    }
    out = tmp_path_factory.mktemp("monthly-out")
    with serve(catalog.parent) as server:
        report = run({**spec, "catalog": server.url}, out=out, cluster="threads")
    assert report.exit_code == 0
    return out


def test_period_slider_changes_the_layer_and_click_shows_the_series(browser: Any, monthly_out: Path) -> None:
    june = {p.parent.parent.name: p for p in monthly_out.glob("*/2025-06/*_NDVI.tif")}
    july = {p.parent.parent.name: p for p in monthly_out.glob("*/2025-07/*_NDVI.tif")}

    def overlap(tile: str) -> np.ndarray:
        with rasterio.open(june[tile]) as a, rasterio.open(july[tile]) as b:
            va, vb = a.read(1), b.read(1)
        return np.isfinite(va) & np.isfinite(vb) & (va != vb)

    tile = max(sorted(set(june) & set(july)), key=lambda t: int(overlap(t).sum()))
    with rasterio.open(june[tile]) as a, rasterio.open(july[tile]) as b:
        va, vb = a.read(1), b.read(1)
    both = np.argwhere(overlap(tile))
    row, col = (int(v) for v in both[len(both) // 2])
    lon, lat = _lonlat(june[tile], row, col)
    with ViewServer(model_of(monthly_out)).serve_in_thread() as server:
        page = Page(browser, server.url)
        try:
            assert page.page.inner_text("#period-label") == "2025-06"
            page.go(lon, lat, 16)
            before = page.page.screenshot()
            url_june = page.page.evaluate("window.eoView.layerUrl")
            page.page.evaluate(
                "(() => { const s = document.getElementById('period'); s.value = '1';"
                " s.dispatchEvent(new Event('input')); })()"
            )
            page.wait_loaded()
            assert page.page.inner_text("#period-label") == "2025-07"
            url_july = page.page.evaluate("window.eoView.layerUrl")
            assert url_june.startswith("/_eo/tiles/NDVI/0/") and url_july.startswith("/_eo/tiles/NDVI/1/")
            assert page.page.screenshot() != before
            shown = page.click_value(lon, lat)
            assert shown["value"] == pytest.approx(float(vb[row, col]), rel=1e-6)
            series = page.page.evaluate("window.eoView.lastPoint.variables.NDVI.series")
            assert [s["period"] for s in series] == ["2025-06", "2025-07"]
            assert [s["value"] for s in series] == pytest.approx(
                [float(va[row, col]), float(vb[row, col])], rel=1e-6
            )
            assert page.page.query_selector(".eo-popup svg.series") is not None
            assert page.errors() == []
        finally:
            page.close()
