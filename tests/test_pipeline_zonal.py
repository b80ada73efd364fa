"""The ``zonal:`` and ``settings:`` sections of a pipeline spec, through real runs of ``pipelines/ndvi.yaml``.

* the run writes one table per period next to the COGs, equal to ``eo zonal OUT_DIR`` and to numpy
  on the written COG files themselves (a field across the corner of four tiles is summarised once,
  from all its pixels); the output collection lists it as an asset (table extension) and the report
  shows it;
* incremental: a re-run keeps the table; a change of the zonal settings or of the zones' bytes
  recomputes the table only (no tile); an interrupted table commit is cleaned up;
* errors are spec errors with file:line before any work (zones file, id column, stats, variables);
* a GeoPackage as ``area.file``;
* ``settings:`` reach the run: the search deadline, and the read tasks' I/O pool size.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from click.testing import CliRunner
from rasterio.features import rasterize
from shapely.geometry import box

from eo.cli import main
from eo.errors import PipelineSpecError, RemoteError
from eo.pipeline import run
from eo.pipeline.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
UTM = "EPSG:32618"
PERIOD = "2015-06-23_2016-06-30"
#: Fields in the run's UTM grid (tiles are 10240 m: x edge 450560, y edge 4167680).
FIELDS = {
    "corner": box(449000, 4166000, 452000, 4169500),  # across the corner of four tiles
    "inside": box(445005, 4170003, 446507, 4171011),
    "edge": box(433000, 4160000, 437000, 4162000),  # partly west of the scene: fewer valid pixels
}


def _spec(tmp: Path, **sections: Any) -> Path:
    """``pipelines/ndvi.yaml`` with extra sections, written next to the fields file in ``tmp``."""
    spec = yaml.safe_load((ROOT / "pipelines" / "ndvi.yaml").read_text())
    spec["outputs"]["dir"] = str(tmp / "out")
    spec.update(sections)
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def fields(tmp_path: Path) -> Path:
    """The fields as a GeoPackage in UTM, id column ``field_id``."""
    path = tmp_path / "fields.gpkg"
    gdf = gpd.GeoDataFrame({"field_id": list(FIELDS)}, geometry=list(FIELDS.values()), crs=UTM)
    gdf.to_file(path, driver="GPKG")
    return path


def _numpy(out: Path, geom: Any) -> dict[str, float]:
    """mean/count/pixels of the NDVI pixels whose centre is in ``geom``, over every tile's COG."""
    values, pixels = [], 0
    for f in sorted(out.glob(f"*/{PERIOD}/*_NDVI.tif")):
        with rasterio.open(f) as src:
            inside = rasterize([(geom, 1)], out_shape=src.shape, transform=src.transform, fill=0).astype(bool)
            data = src.read(1).astype(np.float64)
        pixels += int(inside.sum())
        v = data[inside]
        values.append(v[np.isfinite(v)])
    allv = np.concatenate(values)
    return {"mean": float(allv.mean()), "count": int(allv.size), "pixels": pixels}


def test_run_writes_a_table_per_period_equal_to_eo_zonal_and_numpy(
    tmp_path: Path, fields: Path, local_eo_home: Path
) -> None:
    zonal = {"zones": fields.name, "id": "field_id", "stats": ["mean", "count", "pixels"]}
    report = run(_spec(tmp_path, zonal=zonal), cluster="threads")
    out = tmp_path / "out"
    assert report.exit_code == 0
    table_file = out / "zonal" / f"ndvi_{PERIOD}_zonal.parquet"
    assert [(z.period, z.status, z.file, z.rows, z.zones) for z in report.zonal] == [
        (PERIOD, "done", f"zonal/{table_file.name}", 3, 3)
    ]
    table = pd.read_parquet(table_file)
    assert list(table.columns) == ["zone", "time", "variable", "mean", "count", "pixels"]
    assert list(table["zone"]) == ["corner", "inside", "edge"]
    assert set(table["variable"]) == {"NDVI"}  # every written variable but count
    # numpy on the COG files themselves, tile by tile
    for name, geom in FIELDS.items():
        row = table.set_index("zone").loc[name]
        ref = _numpy(out, geom)
        assert row["pixels"] == ref["pixels"] and row["count"] == ref["count"]
        assert row["mean"] == pytest.approx(ref["mean"], rel=1e-9)
    edge = table.set_index("zone").loc["edge"]
    assert 0 < edge["count"] < edge["pixels"]  # nodata off the scene excluded, not counted as 0
    # the same table as `eo zonal OUT_DIR`
    cli = tmp_path / "cli.parquet"
    args = ["--id", "field_id", "--variables", "NDVI", "--stats", "mean,count,pixels", "--out", str(cli)]
    res = CliRunner().invoke(main, ["zonal", str(out), str(fields), *args])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(pd.read_parquet(cli), table)
    # the output STAC: a collection asset with the table extension's fields
    collection = json.loads((out / "collection.json").read_text())
    asset = collection["assets"][f"zonal_{PERIOD}"]
    assert asset["href"] == f"./zonal/{table_file.name}"
    assert asset["type"] == "application/vnd.apache.parquet"
    assert asset["table:row_count"] == 3
    assert [c["name"] for c in asset["table:columns"]] == list(table.columns)
    assert "https://stac-extensions.github.io/table/v1.2.0/schema.json" in collection["stac_extensions"]
    # the report
    rep = json.loads((out / "report.json").read_text())
    assert rep["zonal"][0]["file"] == f"zonal/{table_file.name}"
    html = (out / "report.html").read_text()
    assert "Zonal statistics" in html and f"href='zonal/{table_file.name}'" in html


def test_tables_are_incremental(tmp_path: Path, fields: Path, local_eo_home: Path) -> None:
    zonal: dict[str, Any] = {"zones": fields.name, "id": "field_id", "stats": ["mean"]}
    spec = _spec(tmp_path, zonal=zonal)
    out = tmp_path / "out"
    assert run(spec, cluster="threads").exit_code == 0
    table = out / "zonal" / f"ndvi_{PERIOD}_zonal.parquet"
    cogs = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.tif")}
    first = table.stat().st_mtime_ns
    # nothing changed: nothing recomputed, the report keeps the row
    again = run(spec, cluster="threads")
    assert [z.status for z in again.zonal] == ["skipped"] and table.stat().st_mtime_ns == first
    assert again.zonal[0].rows == 3
    # other statistics: the table only
    zonal["stats"] = ["mean", "max"]
    spec = _spec(tmp_path, zonal=zonal)
    changed = run(spec, cluster="threads")
    assert [z.status for z in changed.zonal] == ["done"]
    assert {r.status for r in changed.results} == {"skipped"}
    assert "max" in pd.read_parquet(table).columns
    # the zones' bytes changed (one field dropped): the table only
    gdf = gpd.read_file(fields)
    gdf[gdf["field_id"] != "edge"].to_file(fields, driver="GPKG")
    moved = run(spec, cluster="threads")
    assert [z.status for z in moved.zonal] == ["done"] and moved.zonal[0].zones == 2
    assert list(pd.read_parquet(table)["zone"]) == ["corner", "inside"]
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.tif")} == cogs


def test_an_uncommitted_table_is_removed_and_made_again(
    tmp_path: Path, fields: Path, local_eo_home: Path
) -> None:
    spec = _spec(tmp_path, zonal={"zones": fields.name, "id": "field_id"})
    out = tmp_path / "out"
    assert run(spec, cluster="threads").exit_code == 0
    table = out / "zonal" / f"ndvi_{PERIOD}_zonal.parquet"
    good = pd.read_parquet(table)
    # a run killed between the table and its record: the table exists, its record does not
    (out / "_state" / "_zonal" / f"{PERIOD}.json").unlink()
    stray = out / "zonal" / "ndvi_2099-01-01_2099-12-31_zonal.parquet"
    shutil.copy(table, stray)
    report = run(spec, cluster="threads")
    assert "zonal/" + stray.name in report.recovered["uncommitted"] and not stray.exists()
    assert [z.status for z in report.zonal] == ["done"]
    pd.testing.assert_frame_equal(pd.read_parquet(table), good)


def _spec_error(path: Path) -> str:
    with pytest.raises(PipelineSpecError) as err:
        run(path, cluster="threads")
    return str(err.value)


@pytest.mark.parametrize(
    ("zonal", "needle"),
    [
        ({"zones": "missing.gpkg"}, "zonal.zones: zones file"),
        ({"zones": "fields.gpkg", "id": "name"}, "zonal.id"),
        ({"zones": "fields.gpkg", "id": "field_id", "stats": ["mean", "meen"]}, "zonal.stats"),
        ({"zones": "fields.gpkg", "id": "field_id", "variables": ["NDWI"]}, "zonal.variables[0]: 'NDWI'"),
        ({"zones": "fields.gpkg", "weights": "area", "all_touched": True}, "zonal.all_touched"),
        ({"zones": "fields.gpkg", "format": "xlsx"}, "zonal.format"),
    ],
)
def test_zonal_mistakes_are_spec_errors_before_any_work(
    tmp_path: Path, fields: Path, local_eo_home: Path, zonal: dict[str, Any], needle: str
) -> None:
    message = _spec_error(_spec(tmp_path, zonal=zonal))
    assert str(tmp_path / "spec.yaml") in message and needle in message, message
    assert not (tmp_path / "out").exists()


def test_a_geopackage_area(tmp_path: Path, local_eo_home: Path) -> None:
    area = tmp_path / "area.gpkg"
    gpd.GeoDataFrame({"id": [1, 1]}, geometry=[FIELDS["corner"], FIELDS["inside"]], crs=UTM).to_file(area)
    spec = yaml.safe_load(_spec(tmp_path).read_text())
    spec["area"] = {"file": "area.gpkg"}  # duplicate ids do not matter for an area
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    report = run(tmp_path / "spec.yaml", cluster="threads")
    assert report.exit_code == 0
    # the two fields touch four tiles of the corner and the tile of the inner field
    assert sorted(r.tile for r in report.results) == [
        "32618_43_406", "32618_43_407", "32618_44_406", "32618_44_407"
    ]  # fmt: skip


def test_settings_are_checked_with_file_and_line(tmp_path: Path) -> None:
    path = _spec(tmp_path, settings={"retry": {"max_retrys": 2}})
    with pytest.raises(PipelineSpecError, match=r"spec\.yaml:\d+: settings\.retry: unknown retry policy"):
        load_spec(path)
    path = _spec(tmp_path, settings={"io_threads": 0})
    with pytest.raises(PipelineSpecError, match=r"settings\.io_threads"):
        load_spec(path)


def test_settings_reach_the_search(tmp_path: Path, local_eo_home: Path) -> None:
    """A deadline too short for any search: the run's search gives up, so the setting was in force."""
    path = _spec(tmp_path, settings={"retry": {"deadline": 1e-6, "max_retries": 0}})
    with pytest.raises(RemoteError, match="deadline"):
        run(path, cluster="threads")
    assert os.environ.get("EO_RETRY") is None  # scoped to the run, nothing left in the environment
