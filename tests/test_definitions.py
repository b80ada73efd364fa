"""Catalogue definitions: the shipped YAML files are valid and agree with the sensor profiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from eo.catalog import definitions as defs
from eo.errors import CatalogDefinitionError, DependencyError, UnknownCatalogError
from eo.sensors import registry

SHIPPED = Path(__file__).resolve().parents[1] / "catalogs"


def test_shipped_definitions_load() -> None:
    names = {d.name for d in defs.list_catalogs([SHIPPED])}
    assert names == {"local", "earth-search", "planetary-computer", "cdse"}
    assert defs.default_catalog([SHIPPED]) == "local"


@pytest.mark.parametrize("name", ["local", "earth-search", "planetary-computer", "cdse"])
def test_collections_map_to_existing_profiles_products_and_bands(name: str) -> None:
    d = defs.get_catalog(name, [SHIPPED])
    assert d.collections, name
    for mapping in d.collections.values():
        platforms = [{}] if mapping.sensor else []
        platforms += [{"platform": p} for p in mapping.platforms]
        for props in platforms:
            sensor_product, assets = mapping.for_item(props)  # type: ignore[misc]
            sensor, product = sensor_product.split(":")
            profile = registry.get(sensor)
            assert product in profile.products, (name, mapping.id, sensor)
            for band in assets:
                profile.band(band)  # raises BandNotFoundError when the key means nothing to the profile


def test_example_asset_keys_from_the_brief() -> None:
    es = defs.get_catalog("earth-search", [SHIPPED]).collections["sentinel-2-l2a"]
    assert es.for_item({"platform": "sentinel-2a"}) is not None
    sensor, assets = es.for_item({"platform": "sentinel-2b"})  # type: ignore[misc]
    assert sensor == "sentinel-2-msi:l2a"
    assert (assets["red"], assets["nir"], assets["qa"]) == ("red", "nir", "scl")
    pc = defs.get_catalog("planetary-computer", [SHIPPED])
    _, s2 = pc.collections["sentinel-2-l2a"].for_item({})  # type: ignore[misc]
    assert (s2["red"], s2["qa"]) == ("B04", "SCL")
    _, ls = pc.collections["landsat-c2-l2"].for_item({"platform": "landsat-8"})  # type: ignore[misc]
    assert (ls["red"], ls["qa"]) == ("red", "qa_pixel")
    assert defs.get_catalog("earth-search", [SHIPPED]).policy["boa_offset_policy"] == "from-item"


def test_platform_picks_sensor_in_mixed_collections() -> None:
    ls = defs.get_catalog("planetary-computer", [SHIPPED]).collections["landsat-c2-l2"]
    assert ls.for_item({"platform": "landsat-9"})[0] == "landsat-9-oli-tirs:c2-l2"  # type: ignore[index]
    sensor, assets = ls.for_item({"platform": "LANDSAT_7"})  # type: ignore[misc]
    assert sensor == "landsat-7-etm:c2-l2"
    assert "coastal" not in assets and assets["lwir11"] == "lwir"
    assert ls.for_item({"platform": "landsat-5"}) is None  # no profile: not stamped
    assert ls.for_item({}) is None


def test_get_catalog_by_url_and_unknown_names() -> None:
    es = defs.get_catalog("https://earth-search.aws.element84.com/v1/", [SHIPPED])
    assert es.name == "earth-search" and es.collections
    bare = defs.get_catalog("http://127.0.0.1:9/stac", [SHIPPED])
    assert bare.kind == "api" and bare.url == "http://127.0.0.1:9/stac" and not bare.collections
    with pytest.raises(UnknownCatalogError) as err:
        defs.get_catalog("earthsearch", [SHIPPED])
    for name in ("cdse", "earth-search", "local", "planetary-computer"):
        assert name in str(err.value)


def _write(directory: Path, name: str, doc: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


GOOD = {
    "name": "mine",
    "kind": "api",
    "url": "https://example.test/stac",
    "collections": {"s2": {"sensor": "sentinel-2-msi", "product": "l2a", "assets": {"red": "B04"}}},
}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"url": None}, "url"),  # removed below: api without url
        ({"kind": "ftp"}, "kind"),
        (
            {"collections": {"s2": {"sensor": "sentinel-2-msi", "product": "l2a", "assets": {"red": 4}}}},
            "collections.s2.assets.red",
        ),
        ({"collections": {"s2": {"product": "l2a", "assets": {}}}}, "collections.s2"),
        ({"policy": {"boa_offset_policy": "maybe"}}, "policy.boa_offset_policy"),
        ({"surprise": 1}, "surprise: unknown key 'surprise'"),
        ({"modifier": "not a dotted name"}, "modifier"),
    ],
)
def test_invalid_definitions_name_file_and_key(tmp_path: Path, change: dict, key: str) -> None:
    doc = {**GOOD, **change}
    doc = {k: v for k, v in doc.items() if v is not None}
    path = _write(tmp_path, "mine", doc)
    with pytest.raises(CatalogDefinitionError) as err:
        defs.load_definition(path)
    assert str(path) in str(err.value)
    assert key in str(err.value) or (key == "url" and "missing required key 'url'" in str(err.value))
    assert re.search(rf"{re.escape(str(path))}:\d+: ", str(err.value))  # file:line: key


def test_name_must_match_file_and_yaml_must_parse(tmp_path: Path) -> None:
    with pytest.raises(CatalogDefinitionError, match="differs from the file name"):
        defs.load_definition(_write(tmp_path, "other", GOOD))
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(CatalogDefinitionError, match="not valid YAML"):
        defs.load_definition(bad)


def test_eo_catalog_path_has_priority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(
        tmp_path / "user", "earth-search", {**GOOD, "name": "earth-search", "url": "https://mirror.test/v1"}
    )
    _write(tmp_path / "user", "mine", GOOD)
    monkeypatch.setenv("EO_CATALOG_PATH", str(tmp_path / "user"))
    assert defs.get_catalog("earth-search").url == "https://mirror.test/v1"
    assert defs.get_catalog("mine").collections["s2"].sensor == "sentinel-2-msi"
    assert "local" in {d.name for d in defs.list_catalogs()}  # the shipped ones are still found


def test_modifier_is_imported_only_when_used() -> None:
    pc = defs.get_catalog("planetary-computer", [SHIPPED])
    try:
        import planetary_computer  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="pip install planetary-computer"):
            pc.load_modifier()
    else:
        assert callable(pc.load_modifier())
    ok = defs.parse_definition({**GOOD, "modifier": "json.dumps"})
    assert ok.load_modifier() is __import__("json").dumps
    assert defs.parse_definition(GOOD).load_modifier() is None


def test_local_definition_path_defaults_to_eo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EO_HOME", str(tmp_path))
    assert defs.get_catalog("local", [SHIPPED]).local_dir() == tmp_path / "catalog"
    custom = defs.parse_definition({"name": "mine", "kind": "local", "path": "cat"}, tmp_path / "mine.yaml")
    assert custom.local_dir() == tmp_path / "cat"


def test_context_maps_sensor_and_present_assets_and_carries_the_policy() -> None:
    d = defs.parse_definition({**GOOD, "policy": {"boa_offset_policy": "from-baseline"}})
    geom = {"type": "Point", "coordinates": [0, 0]}
    base = {"type": "Feature", "geometry": geom, "properties": {"datetime": "2020-01-01T00:00:00Z"}}
    fresh = {**base, "id": "a", "collection": "s2", "assets": {"B04": {"href": "/x/B04.tif"}}}
    empty = {**base, "id": "b", "collection": "s2", "assets": {}}
    other = {**base, "id": "c", "collection": "unmapped", "assets": {"B04": {"href": "/x/B04.tif"}}}
    ctx = d.context(fresh)
    assert (ctx.name, ctx.sensor, dict(ctx.assets)) == (d.name, "sentinel-2-msi:l2a", {"red": "B04"})
    assert ctx.boa_offset_policy == "from-baseline"
    assert dict(d.context(empty).assets) == {}  # the item has no B04 asset
    assert d.context(other).sensor is None and d.context(other).boa_offset_policy == "from-baseline"
    assert "eotk:sensor" not in fresh["properties"]  # nothing is written into the item
