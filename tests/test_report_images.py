"""The run report's pictures and rows: one shared stretch per variable, overviews with colour bars, links.

Two hand-made NDVI tiles of a run: an "ocean" tile at -0.4 and a "field" tile at 0.7.  Stretched
each on its own (the old behaviour) both would get the same colour; with the run's shared stretch
the ocean is red and the field green, in the colours a hand computation gives.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
from eo.io.style import Sample, colormap_lut, decide, nice_ceil
from eo.pipeline.report import RunReport, TileResult

PERIOD = "2025-06"


def _tile(out: Path, tile: str, x0: float, value: float, nodata_cols: int = 0) -> list[str]:
    import xarray as xr

    gbox = GeoBox.from_bbox((x0, 5700000, x0 + 1280, 5701280), "EPSG:32642", resolution=10)
    ndvi = np.full((128, 128), value, np.float32)
    ndvi[:, :nodata_cols] = np.nan
    count = np.where(np.isnan(ndvi), 0, 3).astype(np.uint16)
    folder = out / tile / PERIOD
    folder.mkdir(parents=True)
    files = []
    for var, arr in (("NDVI", ndvi), ("count", count)):
        da = xr.DataArray(arr, dims=("y", "x"), coords=xr_coords(gbox), attrs={"nodata": 0})
        path = folder / f"run_{tile}_{PERIOD}_{var}.tif"
        eo.write_cog(da, path)
        files.append(str(path.relative_to(out)))
    png = folder / f"run_{tile}_{PERIOD}_NDVI.png"
    from eo.io.quicklook import write_quicklook

    write_quicklook(folder / f"run_{tile}_{PERIOD}_NDVI.tif", png)  # the runner's own, stretched alone
    return [*files, str(png.relative_to(out))]


@pytest.fixture
def report(tmp_path: Path) -> RunReport:
    r = RunReport("run", "abc", str(tmp_path))
    r.scenes = [{"id": "scene-1", "datetime": "2025-06-03T10:00:00Z", "cloud_cover": 12.5, "geometry": None}]
    r.results = [
        TileResult(
            "32642_400_4453", PERIOD, "done", ["scene-1"], _tile(tmp_path, "32642_400_4453", 512000, -0.4)
        ),
        TileResult(
            "32642_401_4453", PERIOD, "done", ["scene-1"], _tile(tmp_path, "32642_401_4453", 513280, 0.7, 32)
        ),
        TileResult(
            "32642_402_4453",
            PERIOD,
            "failed",
            ["scene-1"],
            error="AssetReadError: red of scene-1 could not be read\nTraceback: ...",
        ),
        TileResult("32642_403_4453", PERIOD, "empty"),
    ]
    return r


def _rgba(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read()


def test_quicklooks_share_one_stretch_per_variable(report: RunReport, tmp_path: Path) -> None:
    ocean_png = tmp_path / "32642_400_4453" / PERIOD / f"run_32642_400_4453_{PERIOD}_NDVI.png"
    field_png = tmp_path / "32642_401_4453" / PERIOD / f"run_32642_401_4453_{PERIOD}_NDVI.png"
    # stretched alone, a constant tile takes the bottom colour whatever its value
    assert (_rgba(ocean_png)[:3] == _rgba(field_png)[:3]).all()
    report.write(tmp_path)
    style = report.styles["NDVI"]
    # |2nd|, |98th| percentiles: 0.4 and 0.7 -> symmetric limit 0.7, diverging red-yellow-green
    assert (style["vmin"], style["vmax"], style["cmap"], style["kind"]) == (-0.7, 0.7, "rdylgn", "diverging")
    lut = colormap_lut("rdylgn")
    for png, value in ((ocean_png, -0.4), (field_png, 0.7)):
        rgba = _rgba(png)
        index = round((np.float32(value) + 0.7) * 255 / 1.4)
        opaque = rgba[3] == 255
        assert (lut[index, :3] == rgba[:3][:, opaque].T).all(), png
    ocean, field = _rgba(ocean_png)[:3, 0, -1], _rgba(field_png)[:3, 0, -1]
    assert ocean[0] > ocean[1] and field[1] > field[0]  # red ocean, green field
    assert report.styles["count"]["vmax"] == 3 and report.styles["count"]["units"] == "observations"
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["styles"] == report.styles


def test_one_overview_per_variable_and_period(report: RunReport, tmp_path: Path) -> None:
    report.write(tmp_path)
    assert [(o["variable"], o["period"]) for o in report.overviews] == [("NDVI", PERIOD), ("count", PERIOD)]
    rgba = _rgba(tmp_path / report.overviews[0]["file"])
    # two tiles side by side: 256 x 128 pixels at most 1024 wide -> 1024 x 512 image
    assert rgba.shape == (4, 512, 1024)
    lut = colormap_lut("rdylgn")
    assert tuple(rgba[:3, 256, 100]) == tuple(lut[round((np.float32(-0.4) + 0.7) * 255 / 1.4), :3])
    assert tuple(rgba[:3, 256, 900]) == tuple(lut[round((np.float32(0.7) + 0.7) * 255 / 1.4), :3])
    assert (rgba[3, :, 512:640] == 0).all() and (rgba[3, :, 640:] == 255).all()  # the field's nodata columns


def test_html_rows_links_colour_bar_and_causes(report: RunReport, tmp_path: Path) -> None:
    _, html_path = report.write(tmp_path)
    page = html_path.read_text()
    assert page.count("<tr class='done'>") == 2 and page.count("<tr class='failed'>") == 1
    assert "<script" not in page and "http" not in page  # self-contained
    # input scenes with their dates, links to each COG (relative, they exist)
    assert "scene-1 <span class='date'>2025-06-03</span>" in page
    for href in re.findall(r"href='([^']+\.tif)'", page):
        assert (tmp_path / href).exists()
    assert len(re.findall(r"href='[^']+\.tif'", page)) == 4
    # the failure cell leads with the cause, the rest folded
    failed = page[page.index("<tr class='failed'>") :].split("</tr>")[0]
    assert re.search(r"<td>failed</td><td colspan='3' class='cause'><strong>AssetReadError: red of", failed)
    assert "<details>" in failed
    # overview images and colour bars in physical units, a way to the map
    assert page.count("class='colorbar'") == 2 and "<span>-0.7</span>" in page and "observations" in page
    assert "overviews/run_2025-06_NDVI.png" in page
    assert f"eo view {tmp_path}" in page and 'id="map-link"' in page


def test_a_damaged_cog_does_not_stop_the_report(report: RunReport, tmp_path: Path) -> None:
    (tmp_path / "32642_400_4453" / PERIOD / f"run_32642_400_4453_{PERIOD}_NDVI.tif").write_bytes(
        b"not a tiff"
    )
    json_path, html_path = report.write(tmp_path)
    assert json_path.exists() and "<tr class='failed'>" in html_path.read_text()


@pytest.mark.parametrize(
    "name,values,expected",
    [
        ("NDVI", [-0.4, 0.7], ("rdylgn", -0.7, 0.7, "diverging")),
        ("NDWI", [0.05, 0.1], ("rdylgn", -0.1, 0.1, "diverging")),
        ("count", [1, 5], ("viridis", 0.0, 5.0, "count")),
        ("red", [0.0, 1.0], ("gray", 0.02, 0.98, "sequential")),
        ("slope", [10.0, 20.0], ("viridis", 10.2, 19.8, "sequential")),
    ],
)
def test_style_rules(name: str, values: list[float], expected: tuple[str, float, float, str]) -> None:
    sample = Sample(np.linspace(values[0], values[1], 1001, dtype=np.float32))
    s = decide(name, sample)
    assert (s.cmap, s.kind) == (expected[0], expected[3])
    assert (s.vmin, s.vmax) == pytest.approx(expected[1:3], abs=1e-5)


@pytest.mark.parametrize(
    "x,want", [(0.73, 0.75), (0.4, 0.4), (0.41, 0.45), (3.2, 3.5), (0.0, 1.0), (120, 150)]
)
def test_nice_ceil(x: float, want: float) -> None:
    assert nice_ceil(x) == pytest.approx(want)
