"""Time stacks with masked dates (eo.testing's synthetic Sentinel-2 L2A), eo.time_series, and invariants.

References are numpy on the computed NDVI stack with zone masks rasterised independently
(``rasterio.features.geometry_mask`` on the whole grid), and direct pixel lookups for points.
"""

from __future__ import annotations

import warnings
from typing import Any

import dask.array as da
import numpy as np
import pytest
import shapely
import xarray as xr
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
from eo.errors import EOWarning, InputError, InvalidGridError, UnknownMethodError, ZonesOutsideDataWarning
from eo.testing import raise_if_dask_computes
from eo.testing.synthetic import make_s2_l2a_catalog


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[xr.DataArray, np.ndarray]:
    """(lazy cloud-masked NDVI, 5 dates x 320 px in 96 px chunks; the same computed)."""
    import pystac

    cat = make_s2_l2a_catalog(tmp_path_factory.mktemp("s2"), dates=5, size=320, tile=64, seed=4)
    items = sorted(pystac.Catalog.from_file(str(cat)).get_items(recursive=True), key=lambda i: i.datetime)
    for item in items:
        item.make_asset_hrefs_absolute()
    ds = eo.load(items, bands=["red", "nir", "qa"], chunks=96)
    ndvi = eo.index(eo.calibrate(ds), "NDVI").where(~eo.mask(ds))
    return ndvi, ndvi.values.astype(np.float64)


def _zones(geobox: GeoBox) -> dict[str, Any]:
    x0, y0, x1, y1 = geobox.extent.boundingbox
    w = x1 - x0
    return {
        f"f{k}": shapely.Polygon(
            [
                (x0 + w * a, y0 + w * b)
                for a, b in (
                    (0.1 + 0.17 * k, 0.1),
                    (0.3 + 0.17 * k, 0.13 + 0.05 * k),
                    (0.22 + 0.15 * k, 0.5 + 0.08 * k),
                )
            ]
        )
        for k in range(5)
    } | {"edge": shapely.box(x1 - 0.2 * w, y1 - 0.2 * w, x1 + 0.2 * w, y1 + 0.2 * w)}


def _mask(geobox: GeoBox, geom: Any) -> np.ndarray:
    from rasterio.features import geometry_mask

    return geometry_mask([geom], out_shape=geobox.shape.yx, transform=geobox.affine, invert=True)


def test_time_stack_with_masked_dates_matches_numpy(stack: tuple[xr.DataArray, np.ndarray]) -> None:
    ndvi, values = stack
    gb = ndvi.odc.geobox
    zones = _zones(gb)
    with raise_if_dask_computes(max_computes=1):
        table = eo.zonal_stats(
            ndvi,
            zones,
            ["mean", "median", "std", "min", "max", "count", "valid_fraction"],
            crs=gb.crs.to_wkt(),
        )
    assert list(table.columns[:3]) == ["zone", "time", "variable"] and len(table) == len(zones) * 5
    empty_dates = 0
    for name, geom in zones.items():
        m = _mask(gb, geom)
        for t in range(values.shape[0]):
            v = values[t][m]
            ok = v[~np.isnan(v)]
            row = table[(table["zone"] == name) & (table["time"] == ndvi["time"].values[t])].iloc[0]
            assert row["count"] == ok.size and row["valid_fraction"] == pytest.approx(ok.size / m.sum())
            if ok.size == 0:
                empty_dates += 1
                assert all(np.isnan(row[s]) for s in ("mean", "median", "std", "min", "max"))
                continue
            expected = {
                "mean": ok.mean(),
                "median": np.median(ok),
                "std": ok.std(),
                "min": ok.min(),
                "max": ok.max(),
            }
            for stat, value in expected.items():
                assert row[stat] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, t, stat)
    assert empty_dates >= 1  # a zone/date wholly masked (clouds, the no-data wedge) is in the test
    assert ((table["valid_fraction"] > 0) & (table["valid_fraction"] < 1)).sum() >= 5


def test_time_series_of_zones_points_and_buffers(stack: tuple[xr.DataArray, np.ndarray]) -> None:
    ndvi, _ = stack
    gb = ndvi.odc.geobox
    crs = gb.crs.to_wkt()
    x0, y0, _, y1 = gb.extent.boundingbox
    # zones: the default stats, one compute
    with raise_if_dask_computes(max_computes=1):
        series = eo.time_series(ndvi, _zones(gb), crs=crs)
    assert list(series.columns) == ["zone", "time", "variable", "mean", "count", "valid_fraction"]
    # points: the pixel that holds each point, NaN outside the raster (with a warning)
    pts = {
        "a": shapely.Point(x0 + 1234.5, y1 - 777.7),
        "b": shapely.Point(x0 + 13.0, y0 + 21.0),
        "out": shapely.Point(x0 - 50, y0),
    }
    with pytest.warns(ZonesOutsideDataWarning, match="out"):
        table = eo.time_series(ndvi, pts, crs=crs)
    assert list(table.columns) == ["point", "time", "variable", "value"]
    for name in ("a", "b"):
        p = pts[name]
        expected = ndvi.sel(x=p.x, y=p.y, method="nearest").values
        np.testing.assert_array_equal(
            table[table["point"] == name]["value"].to_numpy(), expected.astype(np.float64)
        )
    assert table[table["point"] == "out"]["value"].isna().all()
    # buffered points: the zone statistics of the buffer polygon, in metres on the ground
    buffered = eo.time_series(ndvi, {"a": pts["a"]}, ["mean", "count"], buffer=55, crs=crs)
    by_hand = eo.zonal_stats(ndvi, {"a": pts["a"].buffer(55)}, ["mean", "count"], crs=crs)
    assert list(buffered.columns[:3]) == ["point", "time", "variable"]
    np.testing.assert_allclose(buffered["mean"], by_hand["mean"], equal_nan=True)
    np.testing.assert_array_equal(buffered["count"], by_hand["count"])
    m = _mask(gb, pts["a"].buffer(55))
    assert buffered["count"].max() <= m.sum() and 90 <= m.sum() <= 100  # ~ pi 55^2 / 100 m2 pixels
    # lon/lat points are reprojected
    lonlat = eo.analysis.read_zones({"a": pts["a"]}, crs=crs).to_crs("EPSG:4326")
    np.testing.assert_allclose(
        eo.time_series(ndvi, lonlat)["value"], table[table["point"] == "a"]["value"], equal_nan=True
    )


def test_time_series_refuses_what_it_cannot_do(stack: tuple[xr.DataArray, np.ndarray]) -> None:
    ndvi, _ = stack
    gb = ndvi.odc.geobox
    crs = gb.crs.to_wkt()
    c = shapely.box(*gb.extent.boundingbox).centroid
    with pytest.raises(InputError, match="mix of geometry types"):
        eo.time_series(ndvi, {"p": c, "z": c.buffer(100)}, crs=crs)
    with pytest.raises(InputError, match="needs data with a time dim"):
        eo.time_series(ndvi.isel(time=0), {"p": c}, crs=crs)
    with pytest.raises(InputError, match="positive distance"):
        eo.time_series(ndvi, {"p": c}, buffer=-3, crs=crs)
    with pytest.raises(UnknownMethodError, match="unknown zonal statistic 'avg'"):
        eo.zonal_stats(ndvi, {"z": c.buffer(100)}, ["avg"], crs=crs)
    with pytest.raises(UnknownMethodError, match="output='csv'"):
        eo.zonal_stats(ndvi, {"z": c.buffer(100)}, output="csv", crs=crs)
    with pytest.raises(InvalidGridError, match="no pixel grid"):
        eo.zonal_stats(xr.DataArray(np.zeros((3, 4)), dims=("a", "b")), {"z": c.buffer(100)}, crs=crs)
    with pytest.raises(InputError, match="Select or reduce"):
        eo.zonal_stats(ndvi.expand_dims(band=2), {"z": c.buffer(100)}, crs=crs)


def test_two_dimensional_data_has_no_time_column(stack: tuple[xr.DataArray, np.ndarray]) -> None:
    ndvi, values = stack
    gb = ndvi.odc.geobox
    zone = _zones(gb)["f1"]
    table = eo.zonal_stats(ndvi.isel(time=0), {"f1": zone}, ["mean", "count"], crs=gb.crs.to_wkt())
    assert list(table.columns) == ["zone", "variable", "mean", "count"]
    v = values[0][_mask(gb, zone)]
    assert table["count"][0] == np.isfinite(v).sum()


@st.composite
def _partitions(draw: Any) -> tuple[np.ndarray, list[float], list[float], int, int]:
    ny, nx = draw(st.integers(8, 60)), draw(st.integers(8, 60))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    data = rng.uniform(-1, 1, (2, ny, nx))
    data[rng.uniform(size=data.shape) < draw(st.floats(0, 0.9))] = np.nan
    # cuts a quarter pixel off the pixel edges: no pixel centre lies on a cut
    xs = sorted(set(draw(st.lists(st.integers(1, nx - 1), max_size=4))))
    ys = sorted(set(draw(st.lists(st.integers(1, ny - 1), max_size=4))))
    return (
        data,
        [0.0, *(x + 0.25 for x in xs), float(nx)],
        [0.0, *(y + 0.25 for y in ys), float(ny)],
        draw(st.integers(3, 40)),
        draw(st.integers(3, 40)),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_partitions())
def test_counts_over_a_partition_add_up_to_the_valid_pixels(
    case: tuple[np.ndarray, list[float], list[float], int, int],
) -> None:
    data, xcuts, ycuts, cy, cx = case
    _, ny, nx = data.shape
    gb = GeoBox((ny, nx), Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 6000000.0), "EPSG:32642")
    coords = xr_coords(gb)
    da_ = xr.DataArray(
        da.from_array(data, chunks=(1, cy, cx)),
        dims=("time", "y", "x"),
        coords={"time": [0, 1], **coords},
        name="v",
    )
    cells = {
        f"{i}-{j}": shapely.box(
            500000 + 10 * xcuts[j],
            6000000 - 10 * ycuts[i + 1],
            500000 + 10 * xcuts[j + 1],
            6000000 - 10 * ycuts[i],
        )
        for i in range(len(ycuts) - 1)
        for j in range(len(xcuts) - 1)
    }
    # the whole raster, overlapping every cell: a second layer
    cells["all"] = shapely.box(500000, 6000000 - 10 * ny, 500000 + 10 * nx, 6000000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EOWarning)  # every cell meets the raster, every geometry is valid
        table = eo.zonal_stats(da_, cells, ["count", "pixels", "sum"], crs="EPSG:32642")
    parts = table[table["zone"] != "all"].groupby("time")
    whole = table[table["zone"] == "all"].set_index("time")
    valid = np.isfinite(data).sum(axis=(1, 2))
    np.testing.assert_array_equal(parts["count"].sum().to_numpy(), valid)
    np.testing.assert_array_equal(whole["count"].to_numpy(), valid)
    assert (parts["pixels"].sum() == ny * nx).all() and (whole["pixels"] == ny * nx).all()
    np.testing.assert_allclose(parts["sum"].sum().to_numpy(), np.nansum(data, axis=(1, 2)), atol=1e-9)
