"""The benchmark harness end to end on a tiny data set, plus its agreement check and skip logic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from benchmarks import cli, runner
from benchmarks.compare import agreement
from benchmarks.workloads import WORKLOADS


def test_harness_runs_floor_odc_stac_and_eo_run_and_they_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = cli.main(
        [
            "run",
            "--size",
            "256",
            "--dates",
            "2",
            "--repeat",
            "1",
            "--workloads",
            "floor,odc_stac,pipeline",
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    [result_json] = (tmp_path / "results").glob("*.json")
    result = json.loads(result_json.read_text())
    assert result_json.with_suffix(".png").stat().st_size > 1000
    assert result["machine"]["cores"] >= 1 and result["machine"]["ram_gb"] > 0
    for name in ("floor", "odc_stac", "pipeline"):
        s = result["summary"][name]
        assert s["ok"] and s["median_wall_s"] > 0 and s["peak_rss_mb"] > 20
        assert s["mpix_dates_per_s"] == pytest.approx(256 * 256 * 2 / 1e6 / s["median_wall_s"], abs=2e-3)
    agree = result["agreement"]
    assert agree["reference"] == "floor" and agree["ok"]
    check = agree["results"]["odc_stac"]
    assert check["same_grid"] and check["mask_mismatch"] == 0 and check["max_abs_diff"] <= 1e-6
    assert 0 < check["valid_pixels"] <= 256 * 256
    by_eo_run = agree["results"]["pipeline"]  # `eo run SPEC` through the eo script's entry point
    assert by_eo_run["same_grid"] and by_eo_run["mask_mismatch"] == 0 and by_eo_run["max_abs_diff"] <= 1e-6
    assert result["ratios"]["eo/floor_time"] is None  # eo did not run
    assert "agrees with floor" in out


def test_a_workload_that_cannot_be_imported_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(WORKLOADS, "bogus", "benchmarks.workloads.does_not_exist")
    assert "ModuleNotFoundError" in runner.import_error("bogus")
    assert runner.import_error("floor") is None
    names, skipped = cli._runnable(["floor", "bogus"])
    assert names == ["floor"] and "bogus" in skipped


def _cog(path: Path, data: np.ndarray, transform: Affine) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs="EPSG:32642",
        transform=transform,
        nodata=np.nan,
    ) as dst:
        dst.write(data, 1)
    return path


def test_agreement_detects_values_masks_and_grids(tmp_path: Path) -> None:
    t = Affine(10, 0, 654900, 0, -10, 5709800)
    a = np.random.default_rng(0).uniform(-0.5, 0.9, (32, 32)).astype(np.float32)
    ref = _cog(tmp_path / "ref.tif", a, t)
    assert agreement(ref, _cog(tmp_path / "same.tif", a + np.float32(5e-7), t))["ok"]
    assert not agreement(ref, _cog(tmp_path / "off.tif", a + np.float32(1e-3), t))["ok"]
    holes = a.copy()
    holes[3, 4] = np.nan
    res = agreement(ref, _cog(tmp_path / "holes.tif", holes, t))
    assert not res["ok"] and res["mask_mismatch"] == 1
    shifted = agreement(ref, _cog(tmp_path / "shift.tif", a, Affine(10, 0, 654905, 0, -10, 5709800)))
    assert not shifted["ok"] and not shifted["same_grid"]
    assert not agreement(ref, _cog(tmp_path / "f64.tif", a.astype(np.float64), t))["ok"]


def test_peak_rss_is_the_workloads_own_not_the_harness_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tiny "workload" that reports a job time and writes its output; run from a harness process
    # that holds ~300 MiB.  ru_maxrss from wait4 would report at least that (Linux carries the
    # forking process's high-water mark over exec); the workload's own VmHWM is far smaller.
    pkg = tmp_path / "tinybench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "work.py").write_text(
        "import sys\nfrom pathlib import Path\nPath(sys.argv[2]).write_text('x')\nprint('BENCH job_s=0.25')\n"
        "print('BENCH job_s=0.125')\n"
    )
    monkeypatch.setitem(WORKLOADS, "tiny", "tinybench.work")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    ballast = np.ones(300 * 2**20 // 8)  # touched: resident in this process
    run = runner.run_workload("tiny", tmp_path / "catalog.json", tmp_path / "out.txt")
    assert ballast.sum() > 0
    assert run.ok, run.error
    assert 1 < run.maxrss_mb < 150, run
    assert run.job_s == [0.25, 0.125]


def test_zonal_benchmark_runs_eo_next_to_rasterstats_and_exactextract_and_they_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = cli.main(
        [
            "zonal",
            "--size",
            "256",
            "--dates",
            "2",
            "--fields",
            "40",
            "--repeat",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    [result_json] = (tmp_path / "results").glob("*zonal*.json")
    result = json.loads(result_json.read_text())
    for name in ("zonal_eo", "zonal_rasterstats", "zonal_eo_area", "zonal_exactextract"):
        s = result["summary"][name]
        assert s["ok"] and s["median_wall_s"] > 0 and s["peak_rss_mb"] > 20 and s["median_job_s"] > 0
    for pair in ("eo/rasterstats", "eo_area/exactextract"):
        check = result["agreement"][pair]
        assert check["ok"] and check["rows"] == 40 * 2, check
        assert check["count"]["mismatches"] == 0 and check["mean"]["nan_mismatch"] == 0
        assert set(result["ratios"][pair]) == {"time", "rss", "job"}
    assert "eo/rasterstats" in out and "agrees" in out
