"""eo.load against odc-stac: the same items onto the same grid give the same values.

odc-stac reads the same STAC metadata (raster:bands nodata and dtype, proj:* grids) and warps
with GDAL through odc-geo's ROI machinery, so identical values are expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox

import eo

odc_stac = pytest.importorskip("odc.stac")


@pytest.fixture(scope="module")
def items(local_catalog: Path) -> dict[str, pystac.Item]:
    cat = pystac.Catalog.from_file(str(local_catalog))
    found = {i.id: i for i in cat.get_items(recursive=True)}
    return {
        "s2": next(i for k, i in found.items() if "sentinel2" in k),
        "l8": next(i for k, i in found.items() if "landsat8" in k),
    }


def _both(item: pystac.Item, bands: list[str], gbox: GeoBox, **kw: Any) -> tuple[Any, Any]:
    ours = eo.load([item], bands=bands, geobox=gbox, chunks=-1, **kw).isel(time=0)
    theirs = odc_stac.load([item], bands=bands, geobox=gbox, resampling=kw.get("resampling", "nearest")).isel(
        time=0
    )
    return ours, theirs


def test_s2_10m_bands_on_the_native_grid(items: dict[str, pystac.Item]) -> None:
    native = eo.load([items["s2"]], bands=["red"]).odc.geobox
    gbox = native[300:700, 500:1100]
    ours, theirs = _both(items["s2"], ["red", "nir", "blue"], gbox)
    for band in ("red", "nir", "blue"):
        assert ours[band].dtype == theirs[band].dtype
        np.testing.assert_array_equal(ours[band].values, theirs[band].values)


def test_s2_20m_band_upsampled_to_10m(items: dict[str, pystac.Item]) -> None:
    native = eo.load([items["s2"]], bands=["red"]).odc.geobox
    gbox = native[0:500, 0:700]  # includes the scene's north-west corner
    ours, theirs = _both(items["s2"], ["rededge1", "swir16"], gbox)
    for band in ("rededge1", "swir16"):
        np.testing.assert_array_equal(ours[band].values, theirs[band].values)
    assert (ours["rededge1"].values > 0).mean() > 0.99


def test_landsat_30m_and_qa_on_the_15m_pan_grid(items: dict[str, pystac.Item]) -> None:
    native = eo.load([items["l8"]], bands=["pan"]).odc.geobox
    gbox = native[0:400, 200:600]
    ours, theirs = _both(items["l8"], ["pan", "red", "bqa"], gbox)
    for band in ("pan", "red", "bqa"):
        np.testing.assert_array_equal(ours[band].values, theirs[band].values)


@pytest.mark.parametrize(
    ("crs", "resolution"),
    [("EPSG:32617", 10.0), ("EPSG:4326", 0.0001), ("EPSG:3857", 25.0)],
)
def test_reprojected(items: dict[str, pystac.Item], crs: str, resolution: float) -> None:
    area = BoundingBox(-75.68, 37.62, -75.64, 37.655, crs="EPSG:4326")  # inside the scene
    gbox = GeoBox.from_bbox(area.to_crs(crs), crs, resolution=resolution)
    assert max(gbox.shape) <= 512  # one warp block: the same GDAL warp window as odc-stac's
    ours, theirs = _both(items["s2"], ["red", "rededge1"], gbox)
    for band in ("red", "rededge1"):
        np.testing.assert_array_equal(ours[band].values, theirs[band].values)
        assert (ours[band].values > 0).all()


def test_reprojected_bilinear(items: dict[str, pystac.Item]) -> None:
    area = BoundingBox(-75.70, 37.60, -75.66, 37.64, crs="EPSG:4326")
    gbox = GeoBox.from_bbox(area.to_crs("EPSG:32617"), "EPSG:32617", resolution=15)
    ours, theirs = _both(items["s2"], ["red"], gbox, resampling="bilinear")
    np.testing.assert_array_equal(ours["red"].values, theirs["red"].values)
