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
from benchmarks.nginx import nginx_binary
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


# --- the network benchmark: nginx on loopback behind the shaped link ---------------------------

needs_nginx = pytest.mark.skipif(
    nginx_binary() is None,
    reason="nginx is not installed (Debian: apt-get install -y nginx; .ci/run installs it)",
)


@needs_nginx
def test_network_harness_counts_requests_and_eo_agrees_with_the_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = cli.main(
        [
            "net",
            "--size",
            "512",
            "--dates",
            "2",
            "--repeat",
            "1",
            "--latencies",
            "5",
            "--workloads",
            "eo_api,odc_stac",
            "--planning-items",
            "12",
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    [result_json] = (tmp_path / "results").glob("*-net-*.json")
    result = json.loads(result_json.read_text())
    need = result["need"]
    # 2 dates x (red, nir, SCL), one 512-px block each: 6 blocks, one range and one header per file
    assert need["files"] == 6 and need["blocks"] == 6 and need["requests"] == 12
    [setting] = result["settings"]
    assert setting["rtt_ms"] == 5 and setting["floor"]["floor_s"] > 0
    for name in ("eo_api", "odc_stac"):
        s = setting["summary"][name]
        assert s["ok"], s
        [run] = [r for r in setting["runs"] if r["workload"] == name]
        # nginx's log and the proxy count the same requests, independently
        assert run["traffic"]["requests"] == run["link"]["requests"] > 0
        assert set(run["traffic"]["status"]) <= {"200", "206"}
        # every needed block crossed the link, and not much more
        assert need["block_bytes"] <= run["traffic"]["bytes"] <= 2 * need["bytes"] + 200_000
        assert run["link"]["bytes_down"] >= run["traffic"]["bytes"]
    eo_run = setting["summary"]["eo_api"]
    assert eo_run["requests"] <= setting["summary"]["odc_stac"]["requests"]
    assert setting["ratios"]["eo/floor_job"] > 0
    agree = setting["agreement"]
    assert agree["ok"] and agree["results"]["eo_api"]["max_abs_diff"] == 0
    assert agree["results"]["eo_api"]["mask_mismatch"] == 0
    plan = result["planning"]["summary"]["plan_eo"]
    assert plan["ok"] and plan["requests"] == 0 and plan["tasks"] > 12
    assert "eo_api agrees with the local floor" in out


@needs_nginx
def test_link_proxy_delays_each_request_and_caps_the_bandwidth(tmp_path: Path) -> None:
    import http.client
    import time

    from benchmarks.netbench import shaped_link
    from benchmarks.nginx import nginx

    (tmp_path / "blob.bin").write_bytes(np.random.default_rng(1).bytes(3_000_000))
    rtt, rate = 0.05, 10.0  # 50 ms, 10 MB/s
    with nginx(tmp_path) as server, shaped_link(server.port, rtt * 1e3, rate, 4) as link:
        mark = server.mark()
        conn = http.client.HTTPConnection("127.0.0.1", link.port, timeout=30)
        t0 = time.perf_counter()
        conn.request("GET", "/blob.bin", headers={"Range": "bytes=0-999"})
        first = conn.getresponse()
        assert first.status == 206 and len(first.read()) == 1000
        t1 = time.perf_counter()
        conn.request("GET", "/blob.bin", headers={"Range": "bytes=1000-1999"})  # same connection
        assert len(conn.getresponse().read()) == 1000
        t2 = time.perf_counter()
        conn.request("GET", "/blob.bin")
        assert len(conn.getresponse().read()) == 3_000_000
        t3 = time.perf_counter()
        conn.close()
        stats = link.stats()
        traffic = server.since(mark)
    assert 2 * rtt <= t1 - t0 < 2 * rtt + 0.5  # handshake + request on a new connection
    assert rtt <= t2 - t1 < rtt + 0.5  # keep-alive: the request's round trip only
    assert t3 - t2 >= rtt + 3_000_000 / (rate * 1e6) * 0.9  # 0.3 s at 10 MB/s
    assert stats["connections"] == 1 and stats["requests"] == 3
    assert traffic.requests == 3 and traffic.ranged == 2 and traffic.full == 1
    assert traffic.connections == 1 and traffic.bytes_sent >= 3_002_000


@needs_nginx
def test_eo_reads_over_http_exactly_as_from_disk_whatever_the_chunks(tmp_path: Path) -> None:
    import eo
    from benchmarks import data
    from benchmarks.netdata import remote_catalog
    from benchmarks.nginx import nginx
    from benchmarks.workloads._common import load_items

    catalog = data.ensure_dataset(600, 3, 0, tmp_path / "data")
    local = eo.load(load_items(catalog), bands=["red", "qa"], resolution=10, chunks=-1).compute()
    with nginx(catalog.parent) as server:
        mark = server.mark()
        remote_items = load_items(remote_catalog(catalog, server.url, tmp_path / "remote"))
        for chunks in ({"time": 1, "y": 256, "x": 256}, {"time": 2, "y": 600, "x": 200}, -1):
            ds = eo.load(remote_items, bands=["red", "qa"], resolution=10, chunks=chunks)
            if chunks != -1:  # time slices of a spatial chunk are read by one task, in parallel
                assert any(str(k[0]).startswith("eo-read-") for k in dict(ds.red.data.__dask_graph__()))
            got = ds.compute()
            for var in ("red", "qa"):
                assert got[var].dtype == local[var].dtype
                np.testing.assert_array_equal(got[var].values, local[var].values)
        traffic = server.since(mark)
    assert traffic.requests > 0 and set(traffic.status) <= {"200", "206"}


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
