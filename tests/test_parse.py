"""Parsing STAC items once into ParsedItem records (pure; no files are read)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pyproj
import pystac
import pytest
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox

from eo.catalog.assets import band_names, raster_band
from eo.catalog.parse import find_asset, parse_item, resolve_band, resolve_href
from eo.catalog.projection import parse_crs, parse_geobox
from eo.catalog.records import CatalogContext
from eo.errors import BandNotFoundError, MetadataError
from eo.sensors.model import Band, Product, QADecoding, SensorProfile

# A stand-in profile (independent of the packaged YAML profiles).
PROFILE = SensorProfile(
    id="toy-msi",
    name="Toy MSI",
    version="1",
    bands=(
        Band("B04", "red", ("B4", "red_10m"), asi="R", resolution=10),
        Band("B08", "nir", ("B8",), asi="N", resolution=10),
        Band("B05", "rededge071", ("rededge1",), resolution=20),
        Band("SCL", "qa", ("scl",), kind="qa", resolution=20),
    ),
    products={
        "l2a": Product("l2a", "surface_reflectance", scale=1e-4, nodata=0, qa=QADecoding("SCL", "classes")),
        "l1c": Product("l1c", "toa_reflectance", scale=1e-4, nodata=0),
    },
)
SENSOR = (PROFILE, PROFILE.products["l2a"])
T10 = [10.0, 0.0, 435730.0, 0.0, -10.0, 4179460.0]
T20 = [20.0, 0.0, 435720.0, 0.0, -20.0, 4179460.0]


def _item(**over: Any) -> dict[str, Any]:
    """A STAC 1.0 item in the Earth Search style: proj:epsg on the item, grids on assets."""
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2A_TEST",
        "collection": "toy",
        "bbox": [-75.73, 37.58, -75.51, 37.76],
        "geometry": None,
        "links": [{"rel": "self", "href": "https://example.com/stac/toy/items/S2A_TEST.json"}],
        "properties": {"datetime": "2016-06-01T15:40:00Z", "proj:epsg": 32618, "platform": "sentinel-2a"},
        "assets": {
            "red": {
                "href": "https://example.com/data/red.tif",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "proj:shape": [1947, 1933],
                "proj:transform": T10,
                "eo:bands": [{"name": "B04", "common_name": "red"}],
                "raster:bands": [
                    {"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": -0.1, "unit": "1"}
                ],
            },
            "rededge1": {
                "href": "rededge1.tif",
                "roles": ["data"],
                "proj:shape": [973, 967],
                "proj:transform": T20,
            },
            "visual": {
                "href": "https://example.com/data/tci.tif",
                "roles": ["visual"],
                "eo:bands": [{"common_name": "red"}, {"common_name": "green"}, {"common_name": "blue"}],
            },
            "thumbnail": {
                "href": "https://example.com/data/thumb.jpg",
                "type": "image/jpeg",
                "roles": ["thumbnail"],
            },
        },
    }
    item.update(over)
    return item


# --- projection -------------------------------------------------------------------


@pytest.mark.parametrize(
    "meta",
    [
        {"proj:epsg": 32618},
        {"proj:code": "EPSG:32618"},
        {"proj:epsg": None, "proj:code": "EPSG:32618"},
        {"proj:wkt2": pyproj.CRS.from_epsg(32618).to_wkt()},
        {"proj:projjson": pyproj.CRS.from_epsg(32618).to_json_dict()},
    ],
)
def test_crs_from_any_projection_field(meta: dict[str, Any]) -> None:
    crs = parse_crs(meta)
    assert crs is not None and crs.epsg == 32618


def test_crs_absent_is_none() -> None:
    assert parse_crs({}) is None
    assert parse_crs({"proj:epsg": None}) is None


def test_transform_with_6_or_9_elements_gives_the_same_grid() -> None:
    a = parse_geobox({"proj:shape": [5, 7], "proj:transform": T10}, {"proj:code": "EPSG:32618"})
    b = parse_geobox(
        {"proj:shape": [5, 7], "proj:transform": [*T10, 0.0, 0.0, 1.0]}, {"proj:code": "EPSG:32618"}
    )
    assert a is not None and a == b
    assert a.transform == Affine(*T10) and a.shape == (5, 7)


def test_transform_of_wrong_length_is_a_metadata_error() -> None:
    with pytest.raises(MetadataError, match="6 or 9"):
        parse_geobox({"proj:shape": [5, 7], "proj:transform": T10[:4]}, {"proj:epsg": 32618})


@given(
    res=st.sampled_from([10.0, 15.0, 20.0, 30.0, 60.0]),
    x0=st.integers(100_000, 800_000),
    y0=st.integers(1_000_000, 9_000_000),
    rows=st.integers(1, 5000),
    cols=st.integers(1, 5000),
    nine=st.booleans(),
)
def test_geobox_roundtrips_any_transform(
    res: float, x0: int, y0: int, rows: int, cols: int, nine: bool
) -> None:
    t = [res, 0.0, float(x0), 0.0, -res, float(y0)] + ([0.0, 0.0, 1.0] if nine else [])
    g = parse_geobox({"proj:shape": [rows, cols], "proj:transform": t, "proj:code": "EPSG:32633"}, {})
    assert g == GeoBox((rows, cols), Affine(*t[:6]), "EPSG:32633")


def test_asset_level_grid_wins_over_item_level() -> None:
    props = {"proj:epsg": 32618, "proj:shape": [1947, 1933], "proj:transform": T10}
    asset = {"proj:shape": [973, 967], "proj:transform": T20, "proj:code": "EPSG:32617"}
    g = parse_geobox(asset, props, 20)
    assert g is not None and g.crs is not None
    assert g.crs.epsg == 32617 and g.shape == (973, 967) and g.transform == Affine(*T20)


def test_item_level_grid_is_used_when_assets_have_none() -> None:
    props = {"proj:epsg": 32618, "proj:shape": [1947, 1933], "proj:transform": T10}
    g = parse_geobox({}, props, 10)
    assert g == GeoBox((1947, 1933), Affine(*T10), "EPSG:32618")


def test_item_level_grid_contradicting_the_band_resolution_is_not_trusted() -> None:
    # an item-level grid describes the 10 m bands; a 20 m band without its own grid is read from its file
    props = {"proj:epsg": 32618, "proj:shape": [1947, 1933], "proj:transform": T10}
    assert parse_geobox({}, props, 20) is None
    # an asset-level grid is trusted whatever its resolution
    assert parse_geobox({"proj:shape": [1947, 1933], "proj:transform": T10}, props, 20) is not None


def test_grid_from_proj_bbox_when_transform_is_missing() -> None:
    meta = {
        "proj:code": "EPSG:32618",
        "proj:shape": [10, 20],
        "proj:bbox": [435720, 4179260, 436120, 4179460],
    }
    g = parse_geobox(meta, {})
    assert g is not None and g.transform == Affine(20, 0, 435720, 0, -20, 4179460)


def test_grid_unknown_without_shape_or_crs() -> None:
    assert parse_geobox({"proj:transform": T10}, {"proj:epsg": 32618}) is None
    assert parse_geobox({"proj:transform": T10, "proj:shape": [1, 1]}, {}) is None


# --- band metadata ----------------------------------------------------------------


def test_raster_bands_stac_1_0() -> None:
    asset = {
        "raster:bands": [{"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": -0.1, "unit": "1"}]
    }
    assert raster_band(asset) == {
        "nodata": 0.0,
        "data_type": "uint16",
        "scale": 0.0001,
        "offset": -0.1,
        "unit": "1",
    }


def test_bands_stac_1_1_with_asset_level_fields() -> None:
    asset = {
        "nodata": "nan",
        "data_type": "float32",
        "bands": [{"name": "B04", "eo:common_name": "red", "raster:scale": 2.0, "raster:offset": 1.0}],
    }
    rb = raster_band(asset)
    assert rb["data_type"] == "float32" and rb["scale"] == 2.0 and rb["offset"] == 1.0
    assert math.isnan(rb["nodata"])
    assert [b.lower() for b in band_names(asset, {})] == [{"b04", "red"}]


def test_missing_raster_bands_leaves_dtype_and_nodata_unknown() -> None:
    item = parse_item(_item(), sensor=SENSOR)
    rec = item.assets["B05"]
    assert rec.dtype is None and rec.nodata is None and rec.scale is None and rec.offset is None
    red = item.assets["B04"]
    assert (red.dtype, red.nodata, red.scale, red.offset, red.unit) == ("uint16", 0.0, 0.0001, -0.1, "1")


def test_beta_item_with_band_indices_and_item_level_eo_bands() -> None:
    # STAC 0.9: eo:bands on the item, assets point into it by index; proj:epsg in properties
    beta = {
        "stac_version": "0.9.0",
        "id": "beta",
        "bbox": [0, 0, 1, 1],
        "properties": {
            "datetime": "2018-01-01T10:00:00Z",
            "proj:epsg": 32633,
            "eo:bands": [{"name": "B4", "common_name": "red"}, {"name": "B8", "common_name": "nir"}],
        },
        "assets": {
            "b_four": {"href": "/data/b4.tif", "eo:bands": [0]},
            "b_eight": {"href": "/data/b8.tif", "eo:bands": [1]},
        },
    }
    item = parse_item(beta, ["red", "nir"], sensor=SENSOR)
    assert item.assets["B04"].key == "b_four" and item.assets["B08"].key == "b_eight"
    assert item.assets["B04"].geobox is None  # no shape anywhere: read from the file


# --- hrefs ------------------------------------------------------------------------


def test_relative_href_resolves_against_the_self_link() -> None:
    item = parse_item(_item(), sensor=SENSOR)
    assert item.assets["B05"].href == "https://example.com/stac/toy/items/rededge1.tif"
    assert item.assets["B04"].href == "https://example.com/data/red.tif"


def test_relative_href_of_a_static_catalogue_item(tmp_path: Path) -> None:
    d = _item(links=[])
    d["assets"]["rededge1"]["href"] = "./scene/rededge1.tif"
    d["assets"]["red"]["href"] = "../shared/red.tif"
    path = tmp_path / "col" / "S2A_TEST.json"
    path.parent.mkdir()
    path.write_text(json.dumps(d))
    item = pystac.Item.from_file(str(path))
    parsed = parse_item(item, sensor=SENSOR)
    assert parsed.assets["B05"].href == str(tmp_path / "col" / "scene" / "rededge1.tif")
    assert parsed.assets["B04"].href == str(tmp_path / "shared" / "red.tif")
    # the same item as a dict with a file:// self link resolves identically
    d["links"] = [{"rel": "self", "href": path.as_uri()}]
    assert parse_item(d, sensor=SENSOR).assets["B05"].href == parsed.assets["B05"].href


@pytest.mark.parametrize(
    ("href", "self_href", "expected"),
    [
        ("a.tif", None, "a.tif"),
        ("/abs/a.tif", "https://x/y/item.json", "/abs/a.tif"),
        ("s3://b/a.tif", "https://x/y/item.json", "s3://b/a.tif"),
        ("./a.tif", "https://x/y/item.json", "https://x/y/a.tif"),
        ("../a.tif", "/cat/col/item.json", "/cat/a.tif"),
    ],
)
def test_resolve_href(href: str, self_href: str | None, expected: str) -> None:
    assert resolve_href(href, self_href) == expected


# --- band resolution --------------------------------------------------------------


def test_band_resolution_through_aliases_common_names_and_keys() -> None:
    d = _item()
    d["assets"]["B8"] = {"href": "b8.tif"}  # alias of B08, no eo:bands
    d["assets"]["SCL"] = {"href": "scl.tif"}  # name of the QA band, case differs from alias "scl"
    item = parse_item(d, ["red", "B04", "b4", "nir", "rededge071", "qa", "SCL"], sensor=SENSOR)
    assert item.assets["B04"].key == "red"
    assert item.assets["B08"].key == "B8"
    assert item.assets["SCL"].key == "SCL"
    assert resolve_band(PROFILE, PROFILE.products["l2a"], "QA").name == "SCL"


def test_catalogue_asset_mapping_wins() -> None:
    d = _item()
    d["assets"]["odd_name"] = {"href": "x.tif"}
    catalog = CatalogContext("toy-catalogue", assets={"red": "odd_name"})
    item = parse_item(d, ["red"], sensor=SENSOR, catalog=catalog)
    assert item.assets["B04"].key == "odd_name"


def test_band_found_by_eo_bands_common_name_never_in_visual_assets() -> None:
    d = _item()
    d["assets"]["band_x"] = {"href": "x.tif", "eo:bands": [{"name": "whatever", "common_name": "nir"}]}
    item = parse_item(d, sensor=SENSOR)
    assert item.assets["B08"].key == "band_x"
    del d["assets"]["red"]
    with pytest.raises(BandNotFoundError):
        parse_item(d, ["red"], sensor=SENSOR)  # only the visual (TCI) asset has red: not data


def test_missing_band_names_item_band_and_asset_keys() -> None:
    with pytest.raises(BandNotFoundError) as err:
        parse_item(_item(), ["nir"], sensor=SENSOR)
    text = str(err.value)
    assert "S2A_TEST" in text and "'nir'" in text and "B08" in text
    for key in ("red", "rededge1", "visual", "thumbnail"):
        assert key in text


def test_unknown_band_name_names_the_item() -> None:
    with pytest.raises(BandNotFoundError, match=r"S2A_TEST.*swir99"):
        parse_item(_item(), ["swir99"], sensor=SENSOR)


def test_find_asset_prefers_single_band_assets() -> None:
    assets = {
        "stack": {"href": "s.tif", "eo:bands": [{"common_name": "red"}, {"common_name": "nir"}]},
        "n": {"href": "n.tif", "eo:bands": [{"common_name": "nir"}]},
    }
    assert find_asset(PROFILE.band("nir"), assets, {}, PROFILE) == ("n", 1)
    assert find_asset(PROFILE.band("red"), assets, {}, PROFILE) == ("stack", 1)
    del assets["n"]
    assert find_asset(PROFILE.band("nir"), assets, {}, PROFILE) == ("stack", 2)


# --- items ------------------------------------------------------------------------


def test_null_datetime_falls_back_to_start_datetime() -> None:
    d = _item()
    d["properties"].update(
        datetime=None, start_datetime="2015-06-23T00:00:00Z", end_datetime="2016-06-30T23:59:59Z"
    )
    item = parse_item(d, sensor=SENSOR)
    assert item.datetime.isoformat() == "2015-06-23T00:00:00+00:00"


def test_no_datetime_at_all_is_a_metadata_error() -> None:
    d = _item()
    d["properties"]["datetime"] = None
    with pytest.raises(MetadataError, match="S2A_TEST"):
        parse_item(d, sensor=SENSOR)


def test_parsed_item_facts() -> None:
    d = _item()
    item = parse_item(d, sensor=SENSOR)
    assert (item.id, item.collection, item.sensor, item.product) == ("S2A_TEST", "toy", "toy-msi", "l2a")
    assert item.bbox == (-75.73, 37.58, -75.51, 37.76)
    assert item.facts.platform == "sentinel-2a"
    assert item.assets["B04"].geobox == GeoBox((1947, 1933), Affine(*T10), "EPSG:32618")
    assert item.assets["B05"].geobox == GeoBox((973, 967), Affine(*T20), "EPSG:32618")
    assert set(item.assets) == {"B04", "B05"}  # no visual-only bands, no QA asset


def test_parse_is_pure_and_accepts_pystac_items() -> None:
    d = _item()
    before = copy.deepcopy(d)
    from_dict = parse_item(d, sensor=SENSOR)
    from_pystac = parse_item(pystac.Item.from_dict(copy.deepcopy(d)), sensor=SENSOR)
    assert d == before
    assert from_dict.assets == from_pystac.assets


def test_identification_through_the_packaged_profiles() -> None:
    d = _item()
    d["properties"]["eotk:sensor"] = "sentinel-2-msi:l1c"
    item = parse_item(d, ["red", "rededge1"])
    assert (item.sensor, item.product) == ("sentinel-2-msi", "l1c")
    assert item.assets["B05"].key == "rededge1"


def test_provider_alias_wins_over_the_common_name_qa() -> None:
    """Planetary Computer Landsat C2 L2: asset "qa" is ST_QA, the pixel QA is "qa_pixel"."""
    from eo.catalog.parse import find_asset
    from eo.sensors import get_product

    profile, product = get_product("landsat-8-oli-tirs:c2-l2")
    assert product.qa is not None
    band = profile.band(product.qa.band)
    assets = {
        "qa": {"href": "st_qa.tif", "roles": ["data"]},
        "qa_pixel": {"href": "qa_pixel.tif", "roles": ["cloud", "cloud-shadow", "data"]},
    }
    assert find_asset(band, assets, {}, profile) == ("qa_pixel", 1)
