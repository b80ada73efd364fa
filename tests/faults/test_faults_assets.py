"""Asset faults: pipeline runs whose COGs are read over HTTP through a misbehaving server.

The June 25 scene's red band is made unreadable in each way a remote archive fails (404, a 503 that
does not end, a truncated file, a corrupt one, a file replaced while it is read, a file without
georeferencing under an item without projection metadata).  With ``on_asset_error: skip`` (the
default) the scene is left out of the June tiles only, the run exits 1, the output STAC item and the
report say which scene and why, and the COGs are byte for byte those of a catalogue without that
scene.  When the file is fixed, the next run recomputes June only and converges to a clean run.
Transient faults change nothing.  A file whose CRS is missing (the item has it) or wrong, or
that is all nodata, is read by the documented rules.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

import eo
from eo.errors import GeoreferenceMismatchWarning
from eo.pipeline import run
from faults.faultkit import POLICY, FaultServer, pipeline_spec, snapshot, tile_area

JUNE5, JUNE25, JULY = "S2B_42UXB_20250605_0_L2A", "S2A_42UXB_20250625_0_L2A", "S2B_42UXB_20250715_0_L2A"


@pytest.fixture(scope="module")
def area(scene_catalog: Path) -> list[float]:
    """Two tiles of 128 px in the middle of the scenes, inside every footprint."""
    return tile_area(scene_catalog, 2, 1)


def _run(proxy: FaultServer, out: Path, area: list[float], **over: Any) -> Any:
    with eo.config.set(retry=POLICY):
        return run(pipeline_spec(proxy.url, area, **over), out=out, cluster="threads")


def _fresh(proxy: FaultServer) -> None:
    """New URLs for the files (GDAL and eo's handle cache remember what a URL answered)."""
    proxy.clear()
    proxy.namespace = uuid.uuid4().hex[:8]


def _red(scene: str) -> str:
    return f"/sentinel-2-l2a/{scene}/B04.tif"


@pytest.fixture(scope="module")
def clean(scene_server: Any, scene_catalog: Path, area: list[float], tmp_path_factory: Any) -> Path:
    proxy = FaultServer(scene_server.url, scene_catalog.parent, namespace="clean")
    try:
        out = tmp_path_factory.mktemp("clean")
        report = _run(proxy, out, area)
    finally:
        proxy.close()
    assert report.exit_code == 0 and report.counts["done"] == len(report.results) == 4, report.counts
    return out


@pytest.fixture(scope="module")
def without_june25(scene_server: Any, scene_catalog: Path, area: list[float], tmp_path_factory: Any) -> Path:
    """The same run on a catalogue that does not have the June 25 scene."""
    proxy = FaultServer(scene_server.url, scene_catalog.parent, namespace="without", hide={JUNE25})
    try:
        out = tmp_path_factory.mktemp("without")
        report = _run(proxy, out, area)
    finally:
        proxy.close()
    assert report.exit_code == 0
    return out


def _item(out: Path, tile: str, period: str) -> dict[str, Any]:
    rec = json.loads((out / "_state" / tile / f"{period}.json").read_text())
    item_id = rec["item"]["id"]
    return dict(json.loads((out / item_id / f"{item_id}.json").read_text()))


UNREADABLE = {
    "404": ("status", {"code": 404}),
    "503 that does not end": ("status", {"code": 503}),
    "truncated COG": ("short", {"fraction": 0.6}),
    "corrupt COG": ("corrupt", {"fraction": 0.35, "length": 60000}),
    "replaced while read": ("replace", {"after": 2, "with_file": JULY}),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_scene_is_left_out_recorded_and_retried_next_run(
    name: str,
    scene_proxy: FaultServer,
    scene_catalog: Path,
    area: list[float],
    clean: Path,
    without_june25: Path,
    tmp_path: Path,
) -> None:
    kind, params = UNREADABLE[name]
    params = dict(params)
    if "with_file" in params:
        params["with_file"] = str(scene_catalog.parent / "sentinel-2-l2a" / JULY / "B04.tif")
    scene_proxy.add(kind, f"/files/{scene_proxy.namespace}{_red(JUNE25)}", **params)
    report = _run(scene_proxy, tmp_path, area)
    assert report.exit_code == 1  # partial: a scene is missing from some tiles
    assert report.counts["done"] == len(report.results)
    for row in report.results:
        if row.period == "2025-06":
            assert list(row.left_out) == [JUNE25] and row.inputs == [JUNE5]
            assert "B04.tif" in row.left_out[JUNE25] or "red" in row.left_out[JUNE25]
        else:
            assert not row.left_out and row.inputs == [JULY]
    # the pixels are those of a catalogue without the scene, to the byte
    assert snapshot(tmp_path)["cogs"] == snapshot(without_june25)["cogs"]
    row = next(r for r in report.results if r.period == "2025-06")
    item = _item(tmp_path, row.tile, row.period)
    assert [i["id"] for i in item["properties"]["eotk:inputs"]] == [JUNE5]
    (failed,) = item["properties"]["eotk:failed_assets"]
    assert failed.startswith(f"{JUNE25}: ")
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["exit_code"] == 1 and JUNE25 in saved["results"][0]["left_out"]
    assert "left out" in (tmp_path / "report.html").read_text()
    # the archive is fixed: the next run tries the scene again, recomputes June only, and converges
    _fresh(scene_proxy)
    again = _run(scene_proxy, tmp_path, area)
    assert again.exit_code == 0
    assert {r.period for r in again.results if r.status == "done"} == {"2025-06"}
    assert {r.period for r in again.results if r.status == "skipped"} == {"2025-07"}
    assert snapshot(tmp_path) == snapshot(clean)


@pytest.mark.parametrize(
    "kind,params",
    [("status", {"code": 503, "times": 2}), ("reset", {"times": 2})],
)
def test_transient_asset_faults_change_nothing(
    kind: str,
    params: dict[str, Any],
    scene_proxy: FaultServer,
    area: list[float],
    clean: Path,
    tmp_path: Path,
) -> None:
    fault = scene_proxy.add(kind, f"/files/{scene_proxy.namespace}{_red(JUNE25)}", **params)
    report = _run(scene_proxy, tmp_path, area)
    assert fault.hits == params["times"]
    assert report.exit_code == 0 and report.left_out == 0
    assert snapshot(tmp_path) == snapshot(clean)


def test_fail_policy_fails_the_tiles_that_need_the_scene(
    scene_proxy: FaultServer, area: list[float], clean: Path, tmp_path: Path
) -> None:
    scene_proxy.add("status", f"/files/{scene_proxy.namespace}{_red(JUNE25)}", code=404)
    report = _run(scene_proxy, tmp_path, area, on_asset_error="fail")
    assert report.exit_code == 1
    june = [r for r in report.results if r.period == "2025-06"]
    assert all(r.status == "failed" and JUNE25 in (r.error or "") for r in june)
    assert all(r.status == "done" for r in report.results if r.period == "2025-07")
    assert not list(tmp_path.glob("*/2025-06/*")), "a failed tile writes nothing"
    july = {k: v for k, v in snapshot(clean)["cogs"].items() if "2025-07" in k}
    assert snapshot(tmp_path)["cogs"] == july


def _variant(src: Path, dst: Path, *, crs: Any = "keep", fill: int | None = None) -> Path:
    """A copy of a COG with another CRS (or none), or filled with one value."""
    with rasterio.open(src) as f:
        profile = f.profile.copy()
        data = f.read()
    profile.update(driver="GTiff", tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    if crs != "keep":
        profile["crs"] = crs
    if fill is not None:
        data = np.full_like(data, fill)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
    return dst


def test_missing_crs_is_taken_from_the_item(
    scene_proxy: FaultServer, scene_catalog: Path, area: list[float], clean: Path, tmp_path: Path
) -> None:
    red = scene_catalog.parent / "sentinel-2-l2a" / JUNE25 / "B04.tif"
    bare = _variant(red, tmp_path / "no-crs.tif", crs=None)
    with rasterio.open(bare) as f:
        assert f.crs is None
    scene_proxy.add("replace", f"/files/{scene_proxy.namespace}{_red(JUNE25)}", with_file=str(bare))
    report = _run(scene_proxy, tmp_path / "out", area)
    assert report.exit_code == 0
    assert snapshot(tmp_path / "out")["cogs"] == snapshot(clean)["cogs"]


def test_missing_crs_without_projection_metadata_leaves_the_scene_out(
    scene_server: Any, scene_catalog: Path, area: list[float], without_june25: Path, tmp_path: Path
) -> None:
    red = scene_catalog.parent / "sentinel-2-l2a" / JUNE25 / "B04.tif"
    bare = _variant(red, tmp_path / "no-crs.tif", crs=None)

    def no_projection(feat: dict[str, Any]) -> dict[str, Any]:
        if feat["id"] == JUNE25:
            for key in [k for k in feat["assets"]["red"] if k.startswith("proj:")]:
                del feat["assets"]["red"][key]
        return feat

    proxy = FaultServer(
        scene_server.url, scene_catalog.parent, namespace=uuid.uuid4().hex[:8], transform=no_projection
    )
    try:
        proxy.add("replace", f"/files/{proxy.namespace}{_red(JUNE25)}", with_file=str(bare))
        report = _run(proxy, tmp_path / "out", area)
    finally:
        proxy.close()
    assert report.exit_code == 1
    row = next(r for r in report.results if r.period == "2025-06")
    assert "georeferencing" in row.left_out[JUNE25]
    assert snapshot(tmp_path / "out")["cogs"] == snapshot(without_june25)["cogs"]


def test_wrong_crs_in_the_file_wins_with_a_warning(
    scene_proxy: FaultServer, scene_catalog: Path, area: list[float], without_june25: Path, tmp_path: Path
) -> None:
    """The file says another UTM zone: it is read where the file puts it (far away), with a warning."""
    red = scene_catalog.parent / "sentinel-2-l2a" / JUNE25 / "B04.tif"
    moved = _variant(red, tmp_path / "zone43.tif", crs="EPSG:32643")
    scene_proxy.add("replace", f"/files/{scene_proxy.namespace}{_red(JUNE25)}", with_file=str(moved))
    with pytest.warns(GeoreferenceMismatchWarning, match=JUNE25):
        report = _run(scene_proxy, tmp_path / "out", area)
    assert report.exit_code == 0
    # its red band lands 6 degrees east, outside every tile: June 25 gives no valid NDVI here
    assert snapshot(tmp_path / "out")["cogs"] == snapshot(without_june25)["cogs"]


def test_all_nodata_scene_contributes_nothing(
    scene_proxy: FaultServer, scene_catalog: Path, area: list[float], without_june25: Path, tmp_path: Path
) -> None:
    red = scene_catalog.parent / "sentinel-2-l2a" / JUNE25 / "B04.tif"
    empty = _variant(red, tmp_path / "nodata.tif", fill=0)  # 0 is the band's nodata
    scene_proxy.add("replace", f"/files/{scene_proxy.namespace}{_red(JUNE25)}", with_file=str(empty))
    report = _run(scene_proxy, tmp_path / "out", area)
    assert report.exit_code == 0
    assert snapshot(tmp_path / "out")["cogs"] == snapshot(without_june25)["cogs"]
