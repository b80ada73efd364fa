"""Zones small relative to pixels: centre rule, all touched and area weights on real Sentinel-2 pixels.

The reference coverage of each pixel by a zone is computed here with shapely (pixel square ∩
polygon, area ratio): independent of exactextract, which eo uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

import eo
from eo.errors import InputError, InvalidGeometryError, UnknownMethodError


@pytest.fixture(scope="module")
def s2(local_catalog: Path) -> tuple[Any, np.ndarray]:
    import pystac

    item = next(
        i
        for i in pystac.Catalog.from_file(str(local_catalog)).get_items(recursive=True)
        if "sentinel2" in i.id
    )
    item.make_asset_hrefs_absolute()
    ds = eo.load([item], bands=["red"], chunks=256)
    return ds, ds["red"].isel(time=0).values.astype(np.float64)


def _coverage(geobox: Any, geom: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, fraction) of every pixel the polygon covers, from shapely areas."""
    a = geobox.affine
    inv = ~a
    x0, y0, x1, y1 = geom.bounds
    c0, r1 = inv * (x0, y0)
    c1, r0 = inv * (x1, y1)
    rows, cols = np.meshgrid(
        np.arange(int(r0) - 1, int(r1) + 2), np.arange(int(c0) - 1, int(c1) + 2), indexing="ij"
    )
    xs, ys = a.c + cols * a.a, a.f + rows * a.e
    boxes = shapely.box(xs, ys + a.e, xs + a.a, ys)
    frac = shapely.area(shapely.intersection(boxes, geom)) / abs(a.a * a.e)
    keep = frac > 0
    return rows[keep], cols[keep], frac[keep]


def _shapes(geobox: Any) -> dict[str, Any]:
    a = geobox.affine
    px, py = a.c + 900 * a.a, a.f + 700 * a.e  # a pixel corner well inside the scene
    return {
        "inside_one_pixel": shapely.box(
            px + 1.1, py - 3.9, px + 4.3, py - 1.3
        ),  # misses the centre (px+5, py-5)
        "over_a_centre": shapely.box(px + 3.0, py - 6.5, px + 7.2, py - 3.9),  # holds (px+5, py-5)
        "straddles_four": shapely.Polygon(
            [(px + 6.5, py - 6.1), (px + 14.2, py - 7.7), (px + 12.9, py - 13.8), (px + 7.3, py - 12.6)]
        ),
        "triangle": shapely.Polygon([(px + 31.7, py - 22.2), (px + 48.1, py - 25.9), (px + 37.3, py - 41.4)]),
        "field": shapely.Point(px + 203.3, py - 187.9).buffer(96.7),  # ~300 pixels, crosses a chunk edge?
    }


def test_area_weighted_stats_match_shapely_coverage(s2: tuple[Any, np.ndarray]) -> None:
    ds, red = s2
    gb = ds.odc.geobox
    shapes = _shapes(gb)
    table = eo.zonal_stats(
        ds,
        shapes,
        ["mean", "std", "min", "max", "count", "pixels", "valid_fraction", "sum"],
        weights="area",
        crs=gb.crs.to_wkt(),
    ).set_index("zone")
    for name, geom in shapes.items():
        rows, cols, f = _coverage(gb, geom)
        v = red[rows, cols]
        mean = (f * v).sum() / f.sum()
        row = table.loc[name]
        assert row["pixels"] == pytest.approx(geom.area / 100.0, rel=1e-6), name
        assert row["count"] == pytest.approx(f.sum(), rel=1e-6)
        assert row["valid_fraction"] == pytest.approx(1.0)
        assert row["mean"] == pytest.approx(mean, rel=1e-6), name
        assert row["sum"] == pytest.approx((f * v).sum(), rel=1e-6)
        assert row["std"] == pytest.approx(
            np.sqrt((f * (v - mean) ** 2).sum() / f.sum()), rel=1e-5, abs=1e-6
        ), name
        assert (row["min"], row["max"]) == (v.min(), v.max())


def test_centre_rule_all_touched_and_area_on_subpixel_zones(s2: tuple[Any, np.ndarray]) -> None:
    ds, red = s2
    gb = ds.odc.geobox
    shapes = _shapes(gb)
    crs = gb.crs.to_wkt()
    centre = eo.zonal_stats(ds, shapes, ["mean", "count"], crs=crs).set_index("zone")
    touched = eo.zonal_stats(ds, shapes, ["mean", "count"], all_touched=True, crs=crs).set_index("zone")
    area = eo.zonal_stats(ds, shapes, ["mean", "count"], weights="area", crs=crs).set_index("zone")
    # a zone inside one pixel holds no pixel centre: nothing under the centre rule
    assert centre.loc["inside_one_pixel", "count"] == 0 and np.isnan(centre.loc["inside_one_pixel", "mean"])
    rows, cols, _ = _coverage(gb, shapes["inside_one_pixel"])
    assert touched.loc["inside_one_pixel", "count"] == 1
    assert (
        touched.loc["inside_one_pixel", "mean"]
        == area.loc["inside_one_pixel", "mean"]
        == red[rows[0], cols[0]]
    )
    # a zone over one pixel centre gets exactly that pixel under the centre rule
    assert centre.loc["over_a_centre", "count"] == 1
    # all touched: the unweighted mean of every pixel the zone covers
    for name in ("straddles_four", "triangle", "field"):
        rows, cols, f = _coverage(gb, shapes[name])
        assert touched.loc[name, "count"] == len(f)
        assert touched.loc[name, "mean"] == pytest.approx(red[rows, cols].mean(), rel=1e-12)
        assert area.loc[name, "mean"] != pytest.approx(touched.loc[name, "mean"], rel=1e-9)


def test_overlapping_and_adjacent_small_zones_keep_their_shares(s2: tuple[Any, np.ndarray]) -> None:
    ds, red = s2
    gb = ds.odc.geobox
    a = gb.affine
    px, py = a.c + 300 * a.a, a.f + 1200 * a.e
    # two zones sharing an edge through a pixel row, and one overlapping both
    west = shapely.box(px + 1.5, py - 18.5, px + 13.3, py - 2.5)
    east = shapely.box(px + 13.3, py - 18.5, px + 27.7, py - 2.5)
    over = shapely.box(px + 8.0, py - 12.0, px + 19.0, py - 5.0)
    zones = {"west": west, "east": east, "over": over}
    table = eo.zonal_stats(ds, zones, ["mean", "count"], weights="area", crs=gb.crs.to_wkt()).set_index(
        "zone"
    )
    for name, geom in zones.items():
        rows, cols, f = _coverage(gb, geom)
        assert table.loc[name, "count"] == pytest.approx(f.sum(), rel=1e-6)
        assert table.loc[name, "mean"] == pytest.approx((f * red[rows, cols]).sum() / f.sum(), rel=1e-6)


def test_weights_refuse_what_they_cannot_do(s2: tuple[Any, np.ndarray]) -> None:
    ds, _ = s2
    gb = ds.odc.geobox
    crs = gb.crs.to_wkt()
    zone = {"a": shapely.box(*gb.extent.boundingbox).centroid.buffer(100)}
    with pytest.raises(UnknownMethodError, match="weighted quantiles"):
        eo.zonal_stats(ds, zone, ["median"], weights="area", crs=crs)
    with pytest.raises(UnknownMethodError, match="weights='volume'"):
        eo.zonal_stats(ds, zone, weights="volume", crs=crs)
    with pytest.raises(InputError, match="exclude each other"):
        eo.zonal_stats(ds, zone, all_touched=True, weights="area", crs=crs)
    with pytest.raises(InvalidGeometryError, match="needs polygons"):
        eo.zonal_stats(ds, {"p": shapely.box(*gb.extent.boundingbox).centroid}, weights="area", crs=crs)
    # the defaults drop the median under area weights
    table = eo.zonal_stats(ds, zone, weights="area", crs=crs)
    assert "median" not in table.columns and "mean" in table.columns
