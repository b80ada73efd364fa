"""Summaries, the machine record, the JSON file and the PNG chart of a benchmark run."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
from importlib import metadata
from pathlib import Path
from typing import Any

PEERS = ("odc_stac", "stackstac", "floor")
LIBRARIES = (
    "eo",
    "numpy",
    "rasterio",
    "dask",
    "distributed",
    "xarray",
    "odc-stac",
    "odc-geo",
    "stackstac",
    "numba",
    "pystac",
)


def machine() -> dict[str, Any]:
    """Cores, RAM, CPU model, load and library versions (the machine may be shared: see load)."""
    import psutil
    import rasterio

    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    versions: dict[str, str | None] = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "gdal": rasterio.__gdal_version__,
        "loadavg_start": list(os.getloadavg()),
        "versions": versions,
    }


def summarise(runs: list[dict[str, Any]], size: int, dates: int) -> dict[str, dict[str, Any]]:
    """Per workload: median wall time, throughput (output Mpixel x dates / s), peak RSS."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["workload"] for r in runs):
        ok = [r for r in runs if r["workload"] == name and r["ok"]]
        if not ok:
            err = next((r["error"] for r in runs if r["workload"] == name), "")
            out[name] = {"ok": False, "error": err}
            continue
        wall = statistics.median(r["wall_s"] for r in ok)
        out[name] = {
            "ok": True,
            "runs": len(ok),
            "median_wall_s": round(wall, 3),
            "min_wall_s": round(min(r["wall_s"] for r in ok), 3),
            "mpix_dates_per_s": round(size * size * dates / 1e6 / wall, 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in ok), 1),
            "median_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ok), 1),
        }
        first = [r["job_s"][0] for r in ok if r.get("job_s")]
        warm = [r["job_s"][-1] for r in ok if len(r.get("job_s") or []) > 1]
        if first:
            out[name]["median_job_s"] = round(statistics.median(first), 3)
        if warm:
            out[name]["median_warm_job_s"] = round(statistics.median(warm), 3)
    return out


def ratios(summary: dict[str, dict[str, Any]], subject: str = "eo_api") -> dict[str, float | None]:
    """``eo/<peer>`` ratios of median wall time, peak RSS and job time (None when either side is missing).

    The job is what each workload times itself: from the items in hand (imports done) to the COG written.
    """
    res: dict[str, float | None] = {}
    s = summary.get(subject, {})
    for peer in PEERS:
        p = summary.get(peer, {})
        for key, label in (("median_wall_s", "time"), ("peak_rss_mb", "rss"), ("median_job_s", "job")):
            ok = s.get("ok") and p.get("ok") and s.get(key) and p.get(key)
            res[f"eo/{peer}_{label}"] = round(s[key] / p[key], 3) if ok else None
    return res


def table(summary: dict[str, dict[str, Any]]) -> str:
    head = f"{'workload':<22}{'median s':>10}{'job s':>8}{'Mpx*dates/s':>13}{'peak RSS MB':>13}{'runs':>6}"
    lines = [head]
    for name, s in summary.items():
        if not s["ok"]:
            lines.append(f"{name:<22}  skipped/failed: {s['error']}")
            continue
        job = f"{s['median_job_s']:>8.2f}" if s.get("median_job_s") else f"{'':>8}"
        lines.append(
            f"{name:<22}{s['median_wall_s']:>10.2f}{job}{s['mpix_dates_per_s']:>13.1f}"
            f"{s['peak_rss_mb']:>13.0f}{s['runs']:>6}"
        )
    return "\n".join(lines)


def write_json(path: Path, result: dict[str, Any]) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(part, path)


def chart(path: Path, result: dict[str, Any]) -> None:
    """Bar chart: median wall time (dots: each run) and peak RSS per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = {k: v for k, v in result["summary"].items() if v["ok"]}
    names = list(summary)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.6 * len(names) + 1.8))
    ax1.barh(names, [summary[n]["median_wall_s"] for n in names], color="tab:blue")
    for i, n in enumerate(names):
        walls = [r["wall_s"] for r in result["runs"] if r["workload"] == n and r["ok"]]
        ax1.plot(walls, [i] * len(walls), "k.", ms=4)
    ax1.set_xlabel("whole-process wall time, s (median; dots = runs)")
    ax2.barh(names, [summary[n]["peak_rss_mb"] for n in names], color="tab:orange")
    ax2.set_xlabel("peak RSS, MiB")
    ax2.set_yticks([])
    cfg, m = result["config"], result["machine"]
    fig.suptitle(
        f"NDVI median, {cfg['dates']} dates x {cfg['size']}^2 px @10 m; "
        f"{m['cores']} cores, {m['ram_gb']} GB RAM",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
