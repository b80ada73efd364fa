"""``python -m benchmarks zonal``: eo.zonal_stats of N fields over the stack, beside rasterstats etc.

Same harness as ``run`` (fresh process per run, whole-process wall time, the workload's own
peak RSS, job time from the items in hand to the table written), on the same cached data set.
Pairs compared: ``zonal_eo`` (centre rule) with ``zonal_rasterstats``; ``zonal_eo_area``
(``weights="area"``) with ``zonal_exactextract``.  Agreement: every (field, date) row's
statistics must match the reference's (``count`` exactly for the centre rule).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import data, report
from benchmarks.runner import import_error, run_workload
from benchmarks.workloads._zonal import FIELDS_ENV, write_fields

#: (subject, reference, statistics compared, relative tolerance, absolute tolerance).
PAIRS = {
    "eo/rasterstats": (
        "zonal_eo",
        "zonal_rasterstats",
        ["mean", "median", "std", "min", "max", "count"],
        1e-9,
        1e-9,
    ),
    "eo_area/exactextract": (
        "zonal_eo_area",
        "zonal_exactextract",
        ["mean", "std", "min", "max", "count"],
        1e-9,
        1e-6,
    ),
}
DEFAULT = "zonal_rasterstats,zonal_eo,zonal_exactextract,zonal_eo_area"


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    z = sub.add_parser("zonal", help="zonal statistics of N fields over the stack (see benchmarks/README.md)")
    z.add_argument("--size", type=int, default=5490, help="side in 10 m pixels (default 5490)")
    z.add_argument("--dates", type=int, default=6, help="number of acquisitions (default 6)")
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--data-dir", type=Path, default=data.DATA_DIR)
    z.add_argument("--fields", type=int, default=1000, help="number of fields (default 1000)")
    z.add_argument("--repeat", type=int, default=3, help="rounds; workloads alternate within a round")
    z.add_argument("--workloads", default=DEFAULT, help=f"comma-separated subset of {DEFAULT}")
    z.add_argument("--results-dir", type=Path, default=Path(__file__).resolve().parent / "results")
    z.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")


def agreement(subject: Path, reference: Path, stats: list[str], rtol: float, atol: float) -> dict[str, Any]:
    """Do two tables agree row by row (field, date) on ``stats``?"""
    import pandas as pd

    a = pd.read_csv(subject).set_index(["zone", "date"]).sort_index()
    b = pd.read_csv(reference).set_index(["zone", "date"]).sort_index()
    if not a.index.equals(b.index):
        return {"ok": False, "detail": f"rows differ: {len(a)} vs {len(b)}"}
    out: dict[str, Any] = {"rows": len(a), "ok": True}
    for s in stats:
        x, y = a[s].to_numpy(float), b[s].to_numpy(float)
        both = np.isfinite(x) & np.isfinite(y)
        nan_mismatch = int((np.isfinite(x) != np.isfinite(y)).sum())
        diff = np.abs(x[both] - y[both])
        bad = int((diff > atol + rtol * np.abs(y[both])).sum())
        out[s] = {
            "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "mismatches": bad,
            "nan_mismatch": nan_mismatch,
        }
        out["ok"] &= bad == 0 and nan_mismatch == 0
    return out


def _ratios(summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for key, (subject, ref, *_rest) in PAIRS.items():
        s, r = summary.get(subject, {}), summary.get(ref, {})
        if s.get("ok") and r.get("ok"):
            out[key] = {
                "time": round(s["median_wall_s"] / r["median_wall_s"], 3),
                "rss": round(s["peak_rss_mb"] / r["peak_rss_mb"], 3),
            }
            if s.get("median_job_s") and r.get("median_job_s"):
                out[key]["job"] = round(s["median_job_s"] / r["median_job_s"], 3)
    return out


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    skipped = {n: why for n in names if (why := import_error(n))}
    for n, why in skipped.items():
        print(f"skipping {n}: its import fails ({why})", flush=True)
    names = [n for n in names if n not in skipped]
    catalog = data.ensure_dataset(args.size, args.dates, args.seed, args.data_dir)
    fields = write_fields(
        catalog, catalog.parent / f"fields-{args.fields}-seed{args.seed}.gpkg", args.fields, args.seed
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = args.results_dir / f"{stamp}-zonal-{args.fields}f-{args.size}px-{args.dates}d"
    outdir = base / "outputs"
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ[FIELDS_ENV] = str(fields)
    runs = []
    try:
        for k in range(args.repeat):
            for name in names:
                r = run_workload(name, catalog, outdir / f"{name}.csv", args.timeout)
                status = f"{r.wall_s:7.2f} s {r.peak_rss_mb:7.0f} MiB" if r.ok else f"FAILED: {r.error}"
                print(f"[zonal round {k + 1}/{args.repeat}] {name:<20}{status}", flush=True)
                runs.append(r.as_dict())
    finally:
        os.environ.pop(FIELDS_ENV, None)
    summary = report.summarise(runs, args.size, args.dates)
    checks = {}
    for key, (subject, ref, stats, rtol, atol) in PAIRS.items():
        if (outdir / f"{subject}.csv").exists() and (outdir / f"{ref}.csv").exists():
            checks[key] = agreement(outdir / f"{subject}.csv", outdir / f"{ref}.csv", stats, rtol, atol)
    result = {
        "config": {
            **{k: getattr(args, k) for k in ("size", "dates", "seed", "fields", "repeat")},
            "workloads": names,
            "skipped": skipped,
        },
        "machine": report.machine(),
        "runs": runs,
        "summary": summary,
        "ratios": _ratios(summary),
        "agreement": checks,
    }
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    args.results_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(base.with_suffix(".json"), result)
    print(report.table(summary))
    for key, r in result["ratios"].items():
        job = f"{r['job']:>8.2f} (job)" if "job" in r else ""
        print(f"{key:<24}{r['time']:>8.2f} (time){r['rss']:>8.2f} (RSS){job}")
    for key, c in checks.items():
        print(f"{key}: {'agrees' if c['ok'] else 'DISAGREES'} {c}")
    print(f"results: {base.with_suffix('.json')}")
    ok = any(v["ok"] for v in summary.values()) and all(c["ok"] for c in checks.values())
    return 0 if ok else 1
