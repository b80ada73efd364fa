"""The operator's contract of ``eo run``: commits and recovery, the report, ownership, checks, exit statuses.

* Each step of a commit interrupted (files without item, item without state record, state record
  not yet in the catalogue, stale temp files, files of a previous version): the next run cleans up
  exactly eo's own leftovers (an operator's own files stay) and converges to the finished run.
* A re-run with nothing to do keeps every row of the report (files, valid fraction, quicklook).
* A second pipeline is refused from another's output directory, naming both; the run lock names
  the run that holds it.
* A typo in a spec is one line with file, line and key, exit 2, before any cluster starts;
  ``--dry-run`` prints the plan and writes nothing.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from faults.faultkit import eo_cli, eo_env, eo_here, leftovers, snapshot, write_spec


def _rerun(finished: dict[str, Any], out: Path, *args: str, here: bool = False) -> Any:
    run = eo_here if here else eo_cli
    return run(["run", str(finished["spec_file"]), "--out", str(out), "--cluster", "threads", *args],
               eo_env(finished["home"]))  # fmt: skip


def _records(out: Path) -> dict[tuple[str, str], Path]:
    return {(p.parent.name, p.stem): p for p in (out / "_state").glob("*/*.json")}


def test_every_interrupted_commit_step_is_recovered(finished_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(finished_run["out"], out)
    records = sorted(_records(out).items())
    # (1) killed after the COGs, before the item: files without item or state record
    (_, p1) = records[0]
    rec1 = json.loads(p1.read_text())
    shutil.rmtree(out / rec1["item"]["id"])
    p1.unlink()
    # (2) killed after the item, before the state record
    (_, p2) = records[1]
    p2.unlink()
    # (3) killed after the state record, before the catalogue was rewritten
    rec3 = json.loads(records[2][1].read_text())
    col = json.loads((out / "collection.json").read_text())
    col["links"] = [lk for lk in col["links"] if rec3["item"]["id"] not in lk["href"]]
    (out / "collection.json").write_text(json.dumps(col))
    # (4) temp files of atomic writes in flight, and (5) a file of a previous version of a tile
    tif = next(f for f in rec3["files"] if f.endswith("_NDVI.tif"))
    temp = out / Path(tif).parent / f".{Path(tif).name}.0123456789ab.tmp.cog.tif"
    temp.write_bytes(b"half a COG")
    (out / ".collection.json.89abcdef0123.tmp").write_text("{")
    stale = out / Path(tif).parent / Path(tif).name.replace("_NDVI.tif", "_NDWI.tif")
    stale.write_bytes(b"an output the spec no longer makes")
    # an operator's own files are not eo's to remove
    (out / "NOTES.txt").write_text("mine")
    (out / Path(tif).parent / "notes.txt").write_text("mine too")
    res = _rerun(finished_run, out)
    assert res.returncode == 0, res.stderr
    assert "cleaned up" in res.stderr
    assert "2 done, 6 unchanged" in res.stdout
    assert (out / "NOTES.txt").exists() and (out / Path(tif).parent / "notes.txt").exists()
    assert not temp.exists() and not stale.exists()
    (out / "NOTES.txt").unlink()
    (out / Path(tif).parent / "notes.txt").unlink()
    assert leftovers(out) == []
    assert snapshot(out) == finished_run["snapshot"]
    report = json.loads((out / "report.json").read_text())
    assert set(report["recovered"]) == {"temp_files", "uncommitted"}


def test_a_no_op_rerun_keeps_the_report(finished_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(finished_run["out"], out)
    first = json.loads((out / "report.json").read_text())
    res = _rerun(finished_run, out)
    assert res.returncode == 0 and "0 done, 8 unchanged" in res.stdout
    again = json.loads((out / "report.json").read_text())
    assert again["counts"]["skipped"] == 8
    by_tile = {(r["tile"], r["period"]): r for r in first["results"]}
    for row in again["results"]:
        old = by_tile[(row["tile"], row["period"])]
        assert row["status"] == "skipped"
        for key in ("files", "valid_fraction", "inputs", "seconds"):
            assert row[key] == old[key], key
    assert again["styles"] == first["styles"] and again["overviews"] == first["overviews"]
    page = (out / "report.html").read_text()
    assert page.count(">unchanged<") == 8 and page.count('alt="quicklook"') == 8
    assert snapshot(out) == finished_run["snapshot"]


def test_an_output_directory_belongs_to_one_pipeline(finished_run: dict[str, Any], tmp_path: Path) -> None:
    spec = yaml.safe_load(Path(finished_run["spec_file"]).read_text())
    spec["name"] = "another"
    other = write_spec(tmp_path / "another.yaml", spec)
    before = snapshot(finished_run["out"])
    res = eo_here(["run", str(other), "--out", str(finished_run["out"]), "--cluster", "threads"],
                  eo_env(finished_run["home"]))  # fmt: skip
    assert res.returncode == 2
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert "belongs to pipeline 'faults'" in line and "'another'" in line
    assert snapshot(finished_run["out"]) == before


def _hold(out: str, ready: Any, release: Any) -> None:
    from eo.pipeline.state import RunLock

    with RunLock(Path(out), "faults"):
        ready.set()
        release.wait(60)


def test_the_lock_names_the_run_that_holds_it(finished_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "locked"
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(out), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        res = _rerun(finished_run, out)
    finally:
        release.set()
        holder.join(30)
    assert res.returncode == 2
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert f"pipeline 'faults' (pid {holder.pid}" in line and "already running" in line


TYPOS: list[tuple[str, Any, tuple[Any, ...] | None, str]] = [
    ("indices", ["NDVX"], ("indices", 0), "unknown spectral index 'NDVX'; did you mean NDVI"),
    ("bands", ["red", "nri", "qa"], ("bands", 1), "'nri' is not a band of sentinel-2-msi"),
    ("indices", ["NDVI", "NDWI"], ("indices",), "index 'NDWI' needs bands"),
    ("composite", {"method": "medain"}, ("composite", "method"), "unknown composite method 'medain'"),
    (
        "outputs",
        {"dir": "x", "variables": ["NDVI", "EVI"]},
        ("outputs", "variables"),
        "['EVI'] are not made",
    ),
    ("grid", {"crs": "EPSG:4326", "resolution": 10}, ("grid", "crs"), "tile grids need a projected CRS"),
    ("collections", ["sentinel-2-l3z"], None, "collection(s) sentinel-2-l3z not offered"),
]


@pytest.mark.parametrize("key,value,where,words", TYPOS)
def test_a_typo_is_one_line_before_any_cluster_starts(
    finished_run: dict[str, Any],
    tmp_path: Path,
    key: str,
    value: Any,
    where: tuple[Any, ...] | None,
    words: str,
) -> None:
    from eo.documents import json_path, parse_text

    spec = yaml.safe_load(Path(finished_run["spec_file"]).read_text())
    spec[key] = value
    path = write_spec(tmp_path / "typo.yaml", spec)
    t0 = time.monotonic()
    res = eo_cli(
        ["run", str(path), "--out", str(tmp_path / "out")], eo_env(finished_run["home"])
    )  # LocalCluster
    assert res.returncode == 2, res.stderr
    assert time.monotonic() - t0 < 15
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert words in line
    if where is not None:
        number = parse_text(path.read_text(), str(path)).line(where)
        assert f"typo.yaml:{number}: {json_path(where)}: " in line
    assert "dashboard" not in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(finished_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "planned"
    res = eo_cli(
        ["run", str(finished_run["spec_file"]), "--out", str(out), "--dry-run"], eo_env(finished_run["home"])
    )
    assert res.returncode == 0, res.stderr
    plan = res.stdout
    assert "items: 3" in plan and "4 tile(s)" in plan and "periods (monthly): 2025-06, 2025-07" in plan
    assert "8 to compute, 0 unchanged" in plan
    assert "outputs per tile: NDVI, count as cog" in plan and "to write" in plan and "memory: about" in plan
    assert not out.exists()
    done = _rerun(finished_run, finished_run["out"], "--dry-run", here=True)
    assert "0 to compute, 8 unchanged" in done.stdout
