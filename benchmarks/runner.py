"""Run one workload in a fresh Python process; measure whole-process wall time and peak memory."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.workloads import WORKLOADS, ZONAL_WORKLOADS

#: Pseudo-workloads: name -> (real workload, extra arguments).
VARIANTS = {
    "eo_api_cluster": ("eo_api", ["--cluster"]),
    # the same with eo's malloc retuning of the workers switched off (EO_MALLOC_TUNE=0, eo.malloc)
    "eo_api_cluster_untuned": ("eo_api", ["--cluster", "--untuned"]),
    # two jobs in one process: the second shows the per-job cost once workers are warm
    "eo_api_warm": ("eo_api", ["--jobs", "2"]),
    "eo_api_cluster_warm": ("eo_api", ["--cluster", "--jobs", "2"]),
    # eo's area-weighted zonal statistics, next to exactextract
    "zonal_eo_area": ("zonal_eo", ["--weights", "area"]),
}
#: Workloads only the network benchmark runs (``benchmarks.netbench``): name -> (module, extra arguments).
NETWORK_ONLY = {
    f"plan_{lib}": ("benchmarks.workloads.planning", ["--library", lib])
    for lib in ("eo", "odc_stac", "stackstac")
}
# eo_api on the local files, run beside the network workloads: the job's time with no network
NETWORK_ONLY["eo_api_local"] = ("benchmarks.workloads.eo_api", [])


@dataclass
class Run:
    workload: str
    ok: bool
    wall_s: float
    peak_rss_mb: float  # max(maxrss_mb, tree_rss_mb)
    maxrss_mb: float  # VmHWM of the workload process itself, measured from its exec (benchmarks/child.py)
    tree_rss_mb: float  # peak of the sampled RSS sum over the process tree (LocalCluster workers included)
    error: str = ""
    job_s: list[float] = field(default_factory=list)  # per job, as the workload reported it (BENCH job_s=)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sample_tree(pid: int, stop: threading.Event, peak: list[float], interval: float = 0.05) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        while not stop.is_set():
            total = 0
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak[0] = max(peak[0], total / 2**20)
            stop.wait(interval)
    except psutil.Error:
        return


def module_for(workload: str) -> tuple[str, list[str]]:
    if workload in NETWORK_ONLY:
        module, extra = NETWORK_ONLY[workload]
        return module, list(extra)
    base, extra = VARIANTS.get(workload, (workload, []))
    modules = {**WORKLOADS, **ZONAL_WORKLOADS}
    if base not in modules:
        raise KeyError(f"unknown workload {workload!r}; expected one of {[*modules, *VARIANTS]}")
    return modules[base], extra


def import_error(workload: str) -> str | None:
    """Why the workload's module cannot be imported (checked in a subprocess), or None."""
    module, _ = module_for(workload)
    root = Path(__file__).resolve().parent.parent
    code = f"import importlib; importlib.import_module({module!r})"
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    if res.returncode == 0:
        return None
    lines = res.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {res.returncode}"


def run_workload(workload: str, catalog: Path, out: Path, timeout: float = 3600.0) -> Run:
    """Run ``python -m <workload module> catalog out`` and measure it (imports and the write included)."""
    module, extra = module_for(workload)
    out.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    root = Path(__file__).resolve().parent.parent
    stop, peak = threading.Event(), [0.0]
    with tempfile.TemporaryFile("w+") as log, tempfile.TemporaryDirectory() as tmp:
        hwm_file = Path(tmp) / "hwm"
        env["EO_BENCH_HWM_FILE"] = str(hwm_file)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.child", module, str(catalog), str(out), *extra],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        sampler = threading.Thread(target=_sample_tree, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        # not ru_maxrss from wait4: Linux carries the forking harness's RSS high-water mark over exec
        _, status, _usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
        log.seek(0)
        output = log.read()
        maxrss = int(hwm_file.read_text()) / 1024.0 if hwm_file.exists() else 0.0  # KiB
    ok = proc.returncode == 0 and out.exists()
    error = "" if ok else (output.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    jobs = [float(m) for m in re.findall(r"^BENCH job_s=([0-9.]+)$", output, flags=re.MULTILINE)]
    return Run(workload, ok, wall, max(maxrss, peak[0]), maxrss, peak[0], error, jobs)
