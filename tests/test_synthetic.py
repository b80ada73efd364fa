"""The synthetic Sentinel-2 L2A generator: determinism, COG layout, STAC shape, physical plausibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rio_cogeo.cogeo import cog_validate

from eo.errors import InputError
from eo.testing._noise import make_field
from eo.testing.synthetic import make_s2_l2a_catalog

SIZE, DATES, TILE = 256, 3, 128
MASKED = [0, 1, 3, 8, 9, 10]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_s2_l2a_catalog(tmp_path_factory.mktemp("s2"), dates=DATES, size=SIZE, tile=TILE, seed=0)


@pytest.fixture(scope="module")
def items(catalog: Path) -> list[pystac.Item]:
    found = list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    return sorted(found, key=lambda it: it.datetime)


def read(item: pystac.Item, key: str) -> np.ndarray:
    with rasterio.open(item.assets[key].get_absolute_href()) as src:
        return src.read(1)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = make_s2_l2a_catalog(tmp_path / "a", dates=2, size=64, tile=32, seed=7).parent
    b = make_s2_l2a_catalog(tmp_path / "b", dates=2, size=64, tile=32, seed=7).parent
    c = make_s2_l2a_catalog(tmp_path / "c", dates=2, size=64, tile=32, seed=8).parent
    ta, tb, tc = tree(a), tree(b), tree(c)
    assert len(ta) == 2 * 8 + 2  # 7 COGs + 1 item per date, collection, catalog
    assert ta == tb
    assert ta.keys() == tc.keys()
    assert (
        ta["sentinel-2-l2a/S2B_42UXB_20250605_0_L2A/B04.tif"]
        != tc["sentinel-2-l2a/S2B_42UXB_20250605_0_L2A/B04.tif"]
    )


def test_assets_are_valid_cogs_with_the_promised_layout(items: list[pystac.Item]) -> None:
    for key, res, dtype in [("red", 10, "uint16"), ("swir16", 20, "uint16"), ("scl", 20, "uint8")]:
        path = items[0].assets[key].get_absolute_href()
        valid, errors, _ = cog_validate(path)
        assert valid, errors
        with rasterio.open(path) as src:
            assert src.dtypes[0] == dtype and src.nodata == 0
            assert src.res == (res, res) and src.shape == (SIZE * 10 // res,) * 2
            assert src.block_shapes[0] == (TILE, TILE)
            assert src.compression.name == "deflate"
            assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
            if src.shape[0] > TILE:
                assert src.overviews(1) == [2]


def test_items_look_like_earth_search(items: list[pystac.Item]) -> None:
    assert len(items) == DATES
    assert [it.id for it in items] == [
        "S2B_42UXB_20250605_0_L2A",
        "S2A_42UXB_20250610_0_L2A",
        "S2B_42UXB_20250615_0_L2A",
    ]
    for it in items:
        d = it.to_dict()
        assert d["stac_version"] == "1.1.0" and it.collection_id == "sentinel-2-l2a"
        p = it.properties
        assert p["constellation"] == "sentinel-2" and p["instruments"] == ["msi"]
        assert p["platform"] == ("sentinel-2b" if it.id.startswith("S2B") else "sentinel-2a")
        assert p["s2:processing_baseline"] == "05.10" and p["eotk:sensor"] == "sentinel-2-msi:l2a"
        assert 40 < p["view:sun_elevation"] < 65 and 100 < p["view:sun_azimuth"] < 180
        assert it.datetime.year == 2025 and it.datetime.month in (6, 7, 8)
        assert set(it.assets) == {"blue", "green", "red", "nir", "swir16", "swir22", "scl"}
        for key, asset in it.assets.items():
            f = asset.extra_fields
            rb = f["raster:bands"][0]
            assert rb["nodata"] == 0
            with rasterio.open(asset.get_absolute_href()) as src:
                assert f["proj:code"] == f"EPSG:{src.crs.to_epsg()}" == "EPSG:32642"
                assert tuple(f["proj:shape"]) == src.shape
                assert tuple(f["proj:transform"]) == tuple(src.transform)[:6]
                assert rb["spatial_resolution"] == src.res[0]
            if key == "scl":
                assert rb["data_type"] == "uint8" and "scale" not in rb
            else:
                assert rb["data_type"] == "uint16" and rb["scale"] == 0.0001 and rb["offset"] == -0.1
                assert f["eo:bands"][0]["common_name"] == key
    # odc-stac (an independent reader) understands the projection v2 fields
    import odc.stac

    ds = odc.stac.load(items[:1], bands=["red"], resolution=10)
    assert ds.red.shape == (1, SIZE, SIZE)
    np.testing.assert_array_equal(ds.red.values[0], read(items[0], "red"))


def test_cloud_cover_and_percentages_come_from_scl(items: list[pystac.Item]) -> None:
    for it in items:
        scl = read(it, "scl")
        counts = np.bincount(scl.ravel(), minlength=12)
        valid = counts[1:].sum()
        assert it.properties["eo:cloud_cover"] == pytest.approx(
            100 * counts[[8, 9, 10]].sum() / valid, abs=1e-4
        )
        assert it.properties["s2:water_percentage"] == pytest.approx(100 * counts[6] / valid, abs=1e-4)
        assert it.properties["s2:nodata_pixel_percentage"] == pytest.approx(
            100 * counts[0] / scl.size, abs=1e-4
        )
        assert set(np.unique(scl)) <= {0, 1, 3, 4, 5, 6, 8, 9, 10}
        assert 0 < counts[1] < 20  # a few saturated pixels
    assert read(items[2], "scl")[:, 0].tolist() == [0] * (SIZE // 2)  # orbit-edge wedge on the third date
    assert (read(items[0], "scl") != 0).all()
    assert sum(it.properties["eo:cloud_cover"] > 1 for it in items) >= 2


def test_bands_agree_with_scl(items: list[pystac.Item]) -> None:
    for it in items:
        scl10 = read(it, "scl").repeat(2, 0).repeat(2, 1)
        red, nir, blue = read(it, "red"), read(it, "nir"), read(it, "blue")
        np.testing.assert_array_equal(red == 0, scl10 == 0)  # no data at the same places
        assert (red[scl10 == 1] == 65535).all() and (nir[scl10 == 1] == 65535).all()
        ok = ~np.isin(scl10, [0, 1])
        assert red[ok].min() >= 1000 + 50  # BOA offset +1000 and reflectance >= 0.005
        refl = blue[ok] * 1e-4 - 0.1
        assert np.median(refl[scl10[ok] == 9]) > 0.3 if (scl10 == 9).any() else True
        swir = read(it, "swir16")
        np.testing.assert_array_equal(swir == 0, read(it, "scl") == 0)


def test_ndvi_is_plausible(items: list[pystac.Item]) -> None:
    for it in items:
        scl10 = read(it, "scl").repeat(2, 0).repeat(2, 1)
        red = read(it, "red") * 1e-4 - 0.1
        nir = read(it, "nir") * 1e-4 - 0.1
        clear = ~np.isin(scl10, MASKED)
        ndvi = (nir - red) / (nir + red)
        assert ndvi[clear].min() > -0.8 and ndvi[clear].max() < 0.95
        assert np.median(ndvi[scl10 == 4]) > 0.3
        if (scl10 == 6).any():
            assert np.median(ndvi[scl10 == 6]) < 0
        assert 0.05 < np.median(ndvi[clear]) < 0.7


def test_absolute_hrefs(tmp_path: Path) -> None:
    cat = make_s2_l2a_catalog(
        tmp_path / "abs", dates=1, size=32, tile=16, bands=("red", "scl"), absolute_hrefs=True
    )
    item_json = next(cat.parent.rglob("S2*_L2A.json"))
    d = json.loads(item_json.read_text())
    assert set(d["assets"]) == {"red", "scl"}
    assert Path(d["assets"]["red"]["href"]).is_absolute() and Path(d["assets"]["red"]["href"]).exists()
    assert all(Path(link["href"]).is_absolute() for link in d["links"])
    assert {link["rel"] for link in d["links"]} >= {"self", "root", "parent", "collection"}
    items = list(pystac.Catalog.from_file(str(cat)).get_items(recursive=True))
    assert len(items) == 1 and "swir16" not in items[0].assets


@pytest.mark.parametrize("kwargs", [{"size": 255}, {"dates": 0}, {"tile": 100}, {"bands": ("red", "B04")}])
def test_bad_arguments_raise_input_error(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(InputError):
        make_s2_l2a_catalog(tmp_path, **{"size": 64, "tile": 32, **kwargs})


@settings(max_examples=25, deadline=None)
@given(r0=st.integers(0, 150), c0=st.integers(0, 150), h=st.integers(1, 50), w=st.integers(1, 50))
def test_fields_are_independent_of_the_window(r0: int, c0: int, h: int, w: int) -> None:
    field = make_field(np.random.default_rng(3), 200, (50, 9, 3), (1.0, 0.5, 0.25))
    full = field.sample(np.arange(200) + 0.5, np.arange(200) + 0.5)
    part = field.sample(np.arange(r0, r0 + h) + 0.5, np.arange(c0, c0 + w) + 0.5)
    np.testing.assert_array_equal(part, full[r0 : r0 + h, c0 : c0 + w])
