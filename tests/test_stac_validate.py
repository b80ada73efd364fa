"""Offline STAC validation against the vendored schemas (eo.catalog.validate)."""

from __future__ import annotations

import copy
import json
import socket
import urllib.request
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing.exceptions import Unretrievable

from eo.catalog import validate as v
from eo.catalog.validate import (
    SCHEMA_DIR,
    SchemaNotVendoredError,
    StacValidationError,
    schema_registry,
    stac_errors,
    validate_collection,
    validate_item,
    vendored_schemas,
)
from eo.errors import DataError

EXT = {
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
}

ITEM: dict[str, Any] = {
    "type": "Feature",
    "stac_version": "1.1.0",
    "stac_extensions": list(EXT.values()),
    "id": "scene-1",
    "geometry": {"type": "Polygon", "coordinates": [[[69, 51], [70, 51], [70, 52], [69, 52], [69, 51]]]},
    "bbox": [69, 51, 70, 52],
    "properties": {
        "datetime": None,
        "start_datetime": "2013-02-11T00:00:00Z",
        "end_datetime": "2016-06-30T23:59:59Z",
        "proj:code": "EPSG:32642",
        "proj:shape": [10, 20],
        "proj:transform": [30, 0, 500000, 0, -30, 5700000],
        "eo:cloud_cover": 12.5,
    },
    "links": [],
    "assets": {
        "red": {
            "href": "./scene-1/red.tif",
            "proj:code": "EPSG:32642",
            "proj:shape": [10, 20],
            "proj:transform": [30, 0, 500000, 0, -30, 5700000, 0, 0, 1],
            "eo:bands": [{"name": "B4", "common_name": "red", "center_wavelength": 0.65}],
            "raster:bands": [{"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": 0}],
        }
    },
}

COLLECTION: dict[str, Any] = {
    "type": "Collection",
    "stac_version": "1.1.0",
    "stac_extensions": [EXT["eo"], EXT["raster"]],
    "id": "made-up",
    "description": "d",
    "license": "other",
    "extent": {
        "spatial": {"bbox": [[69, 51, 70, 52]]},
        "temporal": {"interval": [["2013-02-11T00:00:00Z", "2016-06-30T23:59:59Z"]]},
    },
    "item_assets": {"red": {"roles": ["data"], "eo:bands": [{"name": "B4", "common_name": "red"}]}},
    "links": [],
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection (a schema fetch) fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def _with(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    *parents, last = path.split("/")
    node: Any = out
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is ...:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return out


def test_vendored_files_carry_their_ids() -> None:
    urls = vendored_schemas()
    assert {
        "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json",
        "https://schemas.stacspec.org/v1.1.0/collection-spec/json-schema/collection.json",
        "https://schemas.stacspec.org/v1.1.0/catalog-spec/json-schema/catalog.json",
        "https://geojson.org/schema/Feature.json",
        *EXT.values(),
    } <= set(urls)
    for url in urls:
        contents = json.loads((SCHEMA_DIR / url.removeprefix("https://")).read_text())
        # upstream STAC 1.1.0 common.json really says ".../commonjson"; everything else matches its URL
        assert contents["$id"].rstrip("#") in (url, url.replace("common.json", "commonjson"))


def test_valid_objects_validate_without_network(no_network: None) -> None:
    v._resources.cache_clear()
    schema_registry.cache_clear()
    validate_item(ITEM)
    validate_collection(COLLECTION)
    assert stac_errors(ITEM) == []


def test_registry_refuses_to_fetch(no_network: None) -> None:
    with pytest.raises(Unretrievable) as info:
        schema_registry().get_or_retrieve("https://stac-extensions.github.io/sat/v1.0.0/schema.json")
    assert isinstance(info.value.__cause__, SchemaNotVendoredError)
    item = _with(
        ITEM, "stac_extensions", [*ITEM["stac_extensions"], "https://example.invalid/x/v1/schema.json"]
    )
    with pytest.raises(SchemaNotVendoredError, match=r"example\.invalid"):
        validate_item(item)


def test_unresolvable_ref_inside_a_schema_is_not_fetched(no_network: None) -> None:
    # proj:projjson refers to the PROJJSON schema on proj.org, which is not vendored
    item = _with(ITEM, "properties/proj:projjson", {"type": "GeographicCRS"})
    with pytest.raises(SchemaNotVendoredError, match=r"proj\.org"):
        stac_errors(item)


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("properties/proj:code", 32642, "/properties/proj:code"),
        ("assets/red/proj:shape", [1, 2, 3], "/assets/red/proj:shape"),
        ("assets/red/proj:transform", [1, 2, 3, 4], "/assets/red/proj:transform"),
        ("assets/red/eo:bands/0/common_name", "infrared", "/assets/red/eo:bands/0/common_name"),
        ("assets/red/raster:bands/0/data_type", "uint17", "/assets/red/raster:bands/0/data_type"),
        ("properties/eo:cloud_cover", 101, "/properties/eo:cloud_cover"),
        ("properties/start_datetime", ..., "/properties"),
        ("properties/datetime", "2016-06-30", "/properties/datetime"),
        ("bbox", [1, 2, 3], "/bbox"),
        ("stac_version", "1.0.0", "/stac_version"),
    ],
)
def test_invalid_items_are_reported_with_their_path(path: str, value: Any, where: str) -> None:
    bad = _with(ITEM, path, value)
    with pytest.raises(StacValidationError) as info:
        validate_item(bad)
    assert isinstance(info.value, DataError)
    assert any(e.startswith(f"{where}:") for e in info.value.errors) or where in str(info.value), (
        info.value.errors
    )


def test_collection_needs_license_and_extent() -> None:
    errors = stac_errors(_with(COLLECTION, "license", ...))
    assert any("'license' is a required property" in e for e in errors)
    with pytest.raises(StacValidationError, match="expected a STAC Collection"):
        validate_collection(ITEM)


@settings(max_examples=40, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_cloud_cover_is_a_percentage(value: float) -> None:
    errors = stac_errors(_with(ITEM, "properties/eo:cloud_cover", value))
    assert (errors == []) == (0 <= value <= 100)
