"""eo.zonal_stats on the REAL Sentinel-2 and Landsat-8 scenes of the local catalogue, against rasterstats.

rasterstats reads the COG itself and rasterises each zone on its own window, one zone at a time:
an independent computation of the same definition (centre rule, or all touched).  Zones are
drawn across the scenes: crossing chunk boundaries (chunks of 512 px), partly outside the raster,
overlapping, in another CRS, and over the no-data border of the Landsat scene.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import eo
from eo.errors import ZonesOutsideDataWarning
from eo.testing import raise_if_dask_computes

rasterstats = pytest.importorskip("rasterstats", reason="rasterstats is the test reference (dev extra)")

CHUNK = 256
STATS = ["mean", "median", "std", "min", "max", "count", "percentile_90"]


def _item(catalog: Path, which: str) -> Any:
    import pystac

    for item in pystac.Catalog.from_file(str(catalog)).get_items(recursive=True):
        if which in item.id:
            item.make_asset_hrefs_absolute()
            return item
    raise LookupError(which)


@pytest.fixture(scope="module", params=["sentinel2", "landsat8"])
def scene(request: pytest.FixtureRequest, local_catalog: Path) -> tuple[Any, str]:
    """(lazy red band of one real scene in 256 px chunks, path of its COG)."""
    item = _item(local_catalog, request.param)
    ds = eo.load([item], bands=["red"], chunks=CHUNK)
    return ds, item.assets["red"].get_absolute_href()


def _fields(geobox: Any, n: int = 40, seed: int = 3) -> gpd.GeoDataFrame:
    """Random quadrilaterals over the scene (some reaching outside it), plus special cases."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = geobox.extent.boundingbox
    w, h = x1 - x0, y1 - y0
    geoms = []
    for _ in range(n):
        cx, cy = rng.uniform(x0 - 0.05 * w, x1), rng.uniform(y0, y1 + 0.05 * h)
        size = rng.uniform(0.01, 0.15) * w
        pts = [
            (cx + size * np.cos(a), cy + size * 0.7 * np.sin(a))
            for a in np.sort(rng.uniform(0, 2 * np.pi, 4))
        ]
        geoms.append(shapely.Polygon(pts))
    centre = ((x0 + x1) / 2 + 3.3, (y0 + y1) / 2 + 7.1)
    geoms.append(shapely.Point(centre).buffer(0.3 * w))  # a big zone over many chunks
    geoms.append(shapely.Point(centre).buffer(0.1 * w))  # inside the big one: overlap
    geoms.append(shapely.box(x0 - 500, y0 - 500, x0 + 0.2 * w, y0 + 0.2 * h))  # corner, partly outside
    return gpd.GeoDataFrame(
        {"id": [f"z{k}" for k in range(len(geoms))]}, geometry=geoms, crs=geobox.crs.to_wkt()
    )


def _reference(zones: gpd.GeoDataFrame, href: str, all_touched: bool) -> pd.DataFrame:
    rows = rasterstats.zonal_stats(
        zones, href, stats=[*STATS, "nodata"], nodata=0, all_touched=all_touched, boundless=True
    )
    return pd.DataFrame(rows)


def _compare(ours: pd.DataFrame, ref: pd.DataFrame, stats: list[str] = STATS) -> None:
    for s in stats:
        a, b = ours[s].to_numpy(dtype=float), ref[s].to_numpy(dtype=float)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-8, equal_nan=True, err_msg=s)


@pytest.mark.parametrize("all_touched", [False, True], ids=["centre", "all_touched"])
def test_matches_rasterstats_on_real_scenes(scene: tuple[Any, str], all_touched: bool) -> None:
    ds, href = scene
    zones = _fields(ds.odc.geobox)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZonesOutsideDataWarning)  # a random zone may miss the scene
        ours = eo.zonal_stats(ds, zones, [*STATS, "pixels", "valid_fraction"], all_touched=all_touched)
    assert list(ours["zone"]) == list(zones["id"])
    ref = _reference(zones, href, all_touched)
    _compare(ours, ref)
    # zones that cross chunk boundaries are among those compared
    inv = ~ds.odc.geobox.affine
    blocks = [
        {tuple(int(v) // CHUNK for v in inv * xy) for xy in shapely.get_coordinates(g)}
        for g in zones.geometry
    ]
    assert sum(len(b) > 1 for b in blocks) >= 10
    # pixels counts every pixel of the zone on the raster; nodata ones are valid_fraction's complement
    inside = np.array(
        [ds.odc.geobox.extent.geom.contains(shapely.box(*g.bounds).buffer(60)) for g in zones.geometry]
    )
    np.testing.assert_array_equal(ours["pixels"][inside], (ref["count"] + ref["nodata"])[inside])
    frac = ours["count"] / ours["pixels"].where(ours["pixels"] > 0)
    np.testing.assert_allclose(ours["valid_fraction"], frac, equal_nan=True)


def test_cloud_masked_pixels_are_excluded_and_counted(local_catalog: Path) -> None:
    # the real cloudy Landsat-8 scene, its clouds masked from its own BQA band (eo.mask)
    item = _item(local_catalog, "landsat8")
    ds = eo.load([item], bands=["red", "qa"], chunks=CHUNK)
    red = ds["red"].where(~eo.mask(ds)).astype("float32")
    zones = _fields(ds.odc.geobox, n=30, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZonesOutsideDataWarning)
        ours = eo.zonal_stats(red, zones, [*STATS, "pixels", "valid_fraction"])
    # reference: rasterstats on the same masked pixels, NaN written as an explicit nodata value
    values = red.isel(time=0).values.astype(np.float64)  # the same float32 values, summed in float64
    assert 0.05 < np.isnan(values).mean() < 0.9  # clouds cover part of the scene
    rows = rasterstats.zonal_stats(
        zones,
        np.where(np.isnan(values), -9999.0, values),
        affine=ds.odc.geobox.affine,
        nodata=-9999.0,
        stats=[*STATS, "nodata"],
        boundless=True,
    )
    ref = pd.DataFrame(rows)
    _compare(ours, ref)
    partly = (ours["valid_fraction"] > 0) & (ours["valid_fraction"] < 1)
    assert partly.sum() >= 5
    inside = np.array([ds.odc.geobox.extent.geom.contains(g) for g in zones.geometry])
    np.testing.assert_array_equal(ours["pixels"][inside], (ref["count"] + ref["nodata"])[inside])


def test_zones_in_another_crs_are_reprojected(scene: tuple[Any, str]) -> None:
    ds, href = scene
    zones = _fields(ds.odc.geobox, n=12, seed=11)
    lonlat = zones.to_crs("EPSG:4326")
    ours = eo.zonal_stats(ds, lonlat, STATS)
    # the reference gets the same polygons brought back to the scene's CRS
    ref = _reference(lonlat.to_crs(ds.odc.geobox.crs.to_wkt()), href, False)
    _compare(ours, ref)
    assert not np.allclose(lonlat.geometry.iloc[0].bounds, zones.geometry.iloc[0].bounds)


def test_overlapping_zones_each_get_all_their_pixels(scene: tuple[Any, str]) -> None:
    ds, _ = scene
    zones = _fields(ds.odc.geobox, n=8, seed=5)
    # every zone overlaps the next: a chain that needs several layers
    chain = gpd.GeoDataFrame(
        {"id": range(8)}, geometry=[g.buffer(g.length / 4) for g in zones.geometry[:8]], crs=zones.crs
    )
    together = eo.zonal_stats(ds, chain, ["mean", "count", "median"])
    alone = pd.concat([eo.zonal_stats(ds, chain.iloc[[k]], ["mean", "count", "median"]) for k in range(8)])
    _compare(together, alone.reset_index(drop=True), ["mean", "count", "median"])
    assert chain.geometry.iloc[0].intersects(chain.geometry.iloc[1]) or any(
        chain.geometry.iloc[i].intersects(chain.geometry.iloc[j]) for i in range(8) for j in range(i + 1, 8)
    )


def test_computes_once_and_xarray_output_stays_lazy(scene: tuple[Any, str]) -> None:
    ds, _ = scene
    zones = _fields(ds.odc.geobox, n=10)
    with raise_if_dask_computes(max_computes=0):
        cube = eo.zonal_stats(ds, zones, output="xarray")
    assert cube["mean"].chunks is not None and set(cube["mean"].dims) == {"variable", "time", "zone"}
    with raise_if_dask_computes(max_computes=1):
        table = eo.zonal_stats(ds, zones)
    assert list(table.columns) == [
        "zone",
        "time",
        "variable",
        "mean",
        "median",
        "std",
        "min",
        "max",
        "count",
        "valid_fraction",
    ]
    assert table["count"].dtype == np.int64 and table["variable"].unique().tolist() == ["red"]
    np.testing.assert_allclose(
        cube["mean"].sel(variable="red").isel(time=0).values, table["mean"], equal_nan=True
    )


def test_zone_outside_the_raster_is_reported_and_empty(scene: tuple[Any, str]) -> None:
    ds, _ = scene
    x0, y0, _, _ = ds.odc.geobox.extent.boundingbox
    far = {
        "far": shapely.box(x0 - 5000, y0 - 5000, x0 - 4000, y0 - 4000),
        "in": shapely.box(x0 + 100, y0 + 100, x0 + 900, y0 + 900),
    }
    with pytest.warns(ZonesOutsideDataWarning, match="far"):
        table = eo.zonal_stats(ds, far, crs=ds.odc.geobox.crs.to_wkt())
    row = table.set_index("zone").loc["far"]
    assert (
        row["count"] == 0
        and np.isnan(row["mean"])
        and np.isnan(row["median"])
        and np.isnan(row["valid_fraction"])
    )


def test_xvec_output_is_a_vector_cube(scene: tuple[Any, str]) -> None:
    pytest.importorskip("xvec")
    ds, _ = scene
    zones = _fields(ds.odc.geobox, n=5).to_crs("EPSG:4326")
    cube = eo.zonal_stats(ds, zones, ["mean", "count"], output="xvec")
    assert "zone" in cube.xvec.geom_coords and cube.xvec.geom_coords["zone"].crs.to_epsg() == 4326
    assert list(cube["zone_id"].values) == list(zones["id"])
    table = eo.zonal_stats(ds, zones, ["mean", "count"])
    np.testing.assert_allclose(cube["mean"].isel(variable=0, time=0).values, table["mean"], equal_nan=True)


def test_same_table_on_a_cluster_of_worker_processes(local_catalog: Path) -> None:
    from dask.distributed import Client, LocalCluster

    item = _item(local_catalog, "landsat8")
    ds = eo.load([item], bands=["red"], chunks=CHUNK)
    zones = _fields(ds.odc.geobox, n=15, seed=21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZonesOutsideDataWarning)
        threaded = eo.zonal_stats(ds, zones, [*STATS, "valid_fraction"])
        area = eo.zonal_stats(ds, zones, ["mean", "count"], weights="area")
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster),
        ):
            on_cluster = eo.zonal_stats(ds, zones, [*STATS, "valid_fraction"])
            area_cluster = eo.zonal_stats(ds, zones, ["mean", "count"], weights="area")
    pd.testing.assert_frame_equal(threaded, on_cluster)
    pd.testing.assert_frame_equal(area, area_cluster)
