"""eo.analysis.read_zones: real vector files written by GDAL (pyogrio) and pyarrow, ids, CRS, bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from eo.analysis import read_zones
from eo.errors import (
    EmptyZonesError,
    InvalidGeometryError,
    InvalidGeometryWarning,
    MissingCRSError,
    VectorFileError,
    VectorFileNotFoundError,
    ZonesError,
)

FIELDS = gpd.GeoDataFrame(
    {"field_id": ["wheat-1", "barley-7", "fallow-3"], "area_ha": [12.5, 8.0, 3.1]},
    geometry=[
        shapely.box(71.40, 51.10, 71.41, 51.11),
        shapely.box(71.42, 51.10, 71.43, 51.12),
        shapely.Point(71.45, 51.15).buffer(0.004),
    ],
    crs="EPSG:4326",
)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_reads_vector_files_with_an_id_column(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"fields{suffix}"
    if suffix == ".parquet":
        FIELDS.to_parquet(path)
    else:
        FIELDS.to_file(path, engine="pyogrio")
    zones = read_zones(path, id="field_id")
    assert list(zones.columns) == ["zone", "geometry"]
    assert list(zones["zone"]) == ["wheat-1", "barley-7", "fallow-3"]
    assert zones.crs.to_epsg() == 4326
    assert zones.geometry.iloc[1].equals_exact(FIELDS.geometry.iloc[1], 1e-9)
    # without id=: numbered in file order
    assert list(read_zones(path)["zone"]) == [0, 1, 2]


def test_geopackage_layers_and_an_id_named_id(tmp_path: Path) -> None:
    path = tmp_path / "many.gpkg"
    FIELDS.rename(columns={"field_id": "id"}).to_file(path, layer="fields", engine="pyogrio")
    FIELDS.iloc[:1].to_file(path, layer="one", engine="pyogrio")
    assert list(read_zones(path, layer="fields")["zone"]) == ["wheat-1", "barley-7", "fallow-3"]
    assert len(read_zones(path, layer="one")) == 1


def test_geojson_mapping_shapely_geometries_and_crs(tmp_path: Path) -> None:
    fc = json.loads(FIELDS.to_json())
    assert list(read_zones(fc, id="field_id")["zone"]) == ["wheat-1", "barley-7", "fallow-3"]
    assert read_zones(fc).crs.to_epsg() == 4326  # RFC 7946: lon/lat
    utm = FIELDS.to_crs(32642)
    by_id = read_zones(dict(zip(utm["field_id"], utm.geometry)), crs="EPSG:32642")
    assert list(by_id["zone"]) == ["wheat-1", "barley-7", "fallow-3"] and by_id.crs.to_epsg() == 32642
    seq = read_zones(list(utm.geometry), ids=[10, 20, 30], crs=32642)
    assert list(seq["zone"]) == [10, 20, 30]
    assert list(read_zones(utm.geometry.iloc[0], crs=32642)["zone"]) == [0]
    assert (
        read_zones({"a": shapely.geometry.mapping(utm.geometry.iloc[0])}, crs=32642).geometry.iloc[0].area > 0
    )


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(VectorFileNotFoundError, match="does not exist") as err:
        read_zones(tmp_path / "nope.gpkg")
    assert isinstance(err.value, FileNotFoundError)
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ this is not json")
    with pytest.raises(VectorFileError, match="cannot read zones"):
        read_zones(bad)


def test_empty_layer_and_no_crs(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    FIELDS.iloc[:0].to_file(path, engine="pyogrio")
    with pytest.raises(EmptyZonesError, match="no features"):
        read_zones(path)
    with pytest.raises(EmptyZonesError):
        read_zones({"type": "FeatureCollection", "features": []})
    with pytest.raises(MissingCRSError, match="pass crs="):
        read_zones({"a": shapely.box(0, 0, 1, 1)})
    with pytest.raises(MissingCRSError):
        read_zones(FIELDS.set_crs(None, allow_override=True))
    with pytest.raises(ZonesError, match="contradicts"):
        read_zones(FIELDS, crs="EPSG:32642")


def test_ids_must_exist_be_unique_and_match(tmp_path: Path) -> None:
    with pytest.raises(ZonesError, match="'crop' not in the zones"):
        read_zones(FIELDS, id="crop")
    dup = FIELDS.assign(field_id=["a", "b", "a"])
    with pytest.raises(ZonesError, match=r"unique.*'a'"):
        read_zones(dup, id="field_id")
    with pytest.raises(ZonesError, match="3 geometries but 2 ids"):
        read_zones(list(FIELDS.geometry), ids=[1, 2], crs=4326)
    with pytest.raises(ZonesError, match="null"):
        read_zones(FIELDS.assign(field_id=["a", None, "c"]), id="field_id")


def test_invalid_geometries_are_repaired_or_refused() -> None:
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    assert not bowtie.is_valid
    zones = {"ok": shapely.box(20, 0, 30, 10), "bowtie": bowtie}
    with pytest.warns(InvalidGeometryWarning, match="bowtie"):
        fixed = read_zones(zones, crs=32642)
    geom = fixed.set_index("zone").geometry["bowtie"]
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and geom.area == pytest.approx(50.0)
    with pytest.raises(InvalidGeometryError, match=r"bowtie.*Self-intersection"):
        read_zones(zones, crs=32642, fix_invalid=False)
    with pytest.raises(InvalidGeometryError, match="no geometry"):
        read_zones({"a": shapely.box(0, 0, 1, 1), "b": None}, crs=32642)
    with pytest.raises(InvalidGeometryError, match="no geometry"):
        read_zones({"a": shapely.Polygon()}, crs=32642)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_zones({"ok": shapely.box(0, 0, 1, 1)}, crs=32642)  # valid zones: no warning
