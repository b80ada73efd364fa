"""Pure parts of pipelines: spec validation, periods, tile grid, state, lock, report."""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing as mp
from pathlib import Path

import pystac
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eo.errors import InvalidGridError, LockedError, PipelineSpecError
from eo.grid.tiles import TileGrid, bbox_geometry, utm_crs
from eo.pipeline.periods import periods
from eo.pipeline.report import RunReport, TileResult
from eo.pipeline.spec import load_spec, parse_spec
from eo.pipeline.state import RunLock, StateStore, fingerprint, item_fingerprint

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = {
    "name": "t",
    "catalog": "local",
    "collections": ["c"],
    "area": {"bbox": [1, 2, 3, 4]},
    "period": {"start": "2020-01-01", "end": "2020-03-01"},
    "bands": ["red"],
    "outputs": {"dir": "out"},
}


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_pipelines_validate(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name and spec.bands and len(spec.spec_hash) == 16


def test_spec_error_points_at_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        "name: x\ncatalog: local\ncollections: [a]\narea:\n  bbox: [1, 2, 3]\n"
        "period: {start: 2020-01-01, end: 2020-02-01}\nbands: [red]\noutputs: {dir: out}\n"
    )
    with pytest.raises(PipelineSpecError, match=r"bad\.yaml:5: area\.bbox: expected a list with at least 4"):
        load_spec(p)


def test_spec_unknown_key_and_reversed_period(tmp_path: Path) -> None:
    with pytest.raises(PipelineSpecError, match="colections"):
        parse_spec({**MINIMAL, "colections": ["x"]})
    with pytest.raises(PipelineSpecError, match="before start"):
        parse_spec({**MINIMAL, "period": {"start": "2020-03-01", "end": "2020-01-01"}})
    p = tmp_path / "date.yaml"
    p.write_text(
        "name: x\ncatalog: local\ncollections: [a]\narea: {bbox: [1, 2, 3, 4]}\n"
        "period:\n  start: 2015-02-30\n  end: 2015-03-05\nbands: [red]\noutputs: {dir: out}\n"
    )
    with pytest.raises(
        PipelineSpecError, match=r"date\.yaml:6: period\.start: expected an ISO date.*2015-02-30"
    ):
        load_spec(p)  # an impossible date is a spec error with its line, not a traceback
    with pytest.raises(PipelineSpecError, match=r"area\.bbox: .*lon/lat"):
        parse_spec({**MINIMAL, "area": {"bbox": [500000, 4000000, 510000, 4010000]}})
    p = tmp_path / "x.yaml"
    p.write_text("- not a mapping\n")
    with pytest.raises(PipelineSpecError, match="expected a mapping"):
        load_spec(p)
    with pytest.raises(PipelineSpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("catalog", "expected"),
    [
        ("local", "local"),  # a name
        ("https://earth-search.aws.element84.com/v1", "https://earth-search.aws.element84.com/v1"),
        ("../runs/ndvi", "{tmp}/runs/ndvi"),  # a path: relative to the spec, not to the working directory
        ("archive/catalog.json", "{tmp}/specs/archive/catalog.json"),
        ("/data/catalog.json", "/data/catalog.json"),
    ],
)
def test_catalog_paths_are_relative_to_the_spec(tmp_path: Path, catalog: str, expected: str) -> None:
    (tmp_path / "specs").mkdir()
    p = tmp_path / "specs" / "s.yaml"
    p.write_text(
        f"name: x\ncatalog: {catalog}\ncollections: [a]\narea: {{bbox: [1, 2, 3, 4]}}\n"
        "period: {start: 2020-01-01, end: 2020-02-01}\nbands: [red]\noutputs: {dir: out}\n"
    )
    assert load_spec(p).catalog == expected.format(tmp=tmp_path.resolve())


def test_spec_hash_ignores_output_dir_but_not_parameters() -> None:
    a = parse_spec(MINIMAL)
    b = parse_spec({**MINIMAL, "outputs": {"dir": "elsewhere"}, "description": "x"})
    c = parse_spec({**MINIMAL, "bands": ["nir"]})
    assert a.spec_hash == b.spec_hash != c.spec_hash
    assert a.with_out_dir("/tmp/x").spec_hash == a.spec_hash


def test_periods_monthly_and_seasonal_labels() -> None:
    m = periods(dt.date(2025, 1, 15), dt.date(2025, 3, 2), "monthly")
    assert [p.label for p in m] == ["2025-01", "2025-02", "2025-03"]
    assert m[0].start == dt.date(2025, 1, 15) and m[-1].end == dt.date(2025, 3, 2)
    s = periods(dt.date(2024, 12, 1), dt.date(2025, 8, 31), "seasonal")
    assert [p.label for p in s] == ["2025-DJF", "2025-MAM", "2025-JJA"]
    assert s[0].start == dt.date(2024, 12, 1) and s[0].end == dt.date(2025, 2, 28)


@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.integers(0, 800),
    st.sampled_from(["all", "monthly", "seasonal", "yearly"]),
)
def test_periods_partition_the_interval(start: dt.date, days: int, how: str) -> None:
    end = start + dt.timedelta(days=days)
    ps = periods(start, end, how)
    assert ps[0].start == start and ps[-1].end == end
    for a, b in itertools.pairwise(ps):
        assert b.start == a.end + dt.timedelta(days=1)
    assert len({p.label for p in ps}) == len(ps)


def test_tile_grid_ids_are_stable_and_aligned() -> None:
    area = bbox_geometry((-75.68, 37.62, -75.56, 37.72))
    grid = TileGrid("utm", 10, 1024).for_area(area)
    assert grid.crs == "EPSG:32618"
    tiles = dict(grid.tiles(area))
    assert "32618_43_406" in tiles
    gb = tiles["32618_43_406"]
    assert (gb.affine.c, gb.affine.f, gb.shape.x) == (43 * 10240.0, 407 * 10240.0, 1024)
    assert grid.geobox("32618_43_406") == gb
    with pytest.raises(InvalidGridError):
        grid.parse_id("32642_1_1")
    with pytest.raises(InvalidGridError):
        TileGrid("EPSG:4326", 10)


def test_utm_zone() -> None:
    assert str(utm_crs(71.4, 51.1)) == "EPSG:32642"
    assert str(utm_crs(-75.6, -10)) == "EPSG:32718"


def _item(iid: str, **props: object) -> pystac.Item:
    return pystac.Item(iid, None, None, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dict(props))


def test_state_skips_only_unchanged_inputs(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    inputs = [item_fingerprint(_item("a", updated="2025-01-02T00:00:00Z")), item_fingerprint(_item("b"))]
    digest = fingerprint("spec1", inputs)
    out = tmp_path / "t" / "p" / "x.tif"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"x")
    store.record("t", "p", digest, inputs=inputs, files=[out], spec_hash="spec1")
    assert store.is_current("t", "p", digest)
    assert not store.is_current("t", "p", fingerprint("spec2", inputs))
    changed = [item_fingerprint(_item("a", updated="2025-02-01T00:00:00Z")), inputs[1]]
    assert not store.is_current("t", "p", fingerprint("spec1", changed))
    assert fingerprint("spec1", inputs[::-1]) == digest
    out.unlink()
    assert not store.is_current("t", "p", digest)


def _hold_lock(path: str, ready: object, release: object) -> None:
    with RunLock(Path(path), "p"):
        ready.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]


def test_lock_stops_a_second_run(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(LockedError, match="already running"), RunLock(tmp_path, "p"):
            pass
    finally:
        release.set()
        proc.join(10)
    with RunLock(tmp_path, "p"):
        pass


def test_report_exit_codes_and_files(tmp_path: Path) -> None:
    r = RunReport("p", "h", str(tmp_path))
    assert r.exit_code == 0
    r.results = [TileResult("a", "x", "done"), TileResult("b", "x", "failed", error="boom")]
    assert r.exit_code == 1
    r.results = [TileResult("b", "x", "failed", error="<boom>")]
    assert r.exit_code == 2
    j, h = r.write(tmp_path)
    assert '"exit_code": 2' in j.read_text()
    assert "&lt;boom&gt;" in h.read_text()


def test_zarr_output_without_zarr_fails_before_any_work(tmp_path: Path) -> None:
    import importlib.util

    from eo.errors import DependencyError
    from eo.pipeline import run

    if importlib.util.find_spec("zarr") is not None:
        pytest.skip("zarr is installed")
    spec = parse_spec({**MINIMAL, "outputs": {"dir": str(tmp_path / "o"), "formats": ["zarr"]}})
    with pytest.raises(DependencyError, match="pip install zarr"):
        run(spec, cluster="threads")
    assert not (tmp_path / "o").exists()


def test_json_log_lines_carry_the_event_fields() -> None:
    import json
    import logging

    from eo.cli import JsonFormatter

    rec = logging.LogRecord("eo.pipeline", logging.INFO, __file__, 1, "tile %s: %s", ("t1", "done"), None)
    rec.eo = {"tile": "t1", "status": "done"}
    doc = json.loads(JsonFormatter().format(rec))
    assert doc["message"] == "tile t1: done" and doc["tile"] == "t1" and doc["level"] == "info"
    assert doc["time"].endswith("+00:00")
