"""``python -m benchmarks generate|run|zonal``: the benchmark command line (see README.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import data, report
from benchmarks.compare import agreement
from benchmarks.runner import VARIANTS, import_error, run_workload
from benchmarks.workloads import WORKLOADS

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("generate", "run", "net"):
        s = sub.add_parser(name)
        s.add_argument("--size", type=int, default=5490, help="side in 10 m pixels (default 5490)")
        s.add_argument("--dates", type=int, default=6, help="number of acquisitions (default 6)")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--data-dir", type=Path, default=data.DATA_DIR)
    g = sub.choices["generate"]
    g.add_argument("--force", action="store_true", help="regenerate even if cached")
    r = sub.choices["run"]
    r.add_argument("--repeat", type=int, default=3, help="rounds; workloads alternate within a round")
    r.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of {[*WORKLOADS, *VARIANTS]}",
    )
    r.add_argument("--scaling", action="store_true", help="also run at 2 x dates; report time and RSS ratios")
    r.add_argument(
        "--cluster",
        action="store_true",
        help="also run eo on a LocalCluster of 2 single-thread worker processes: as Dask starts it "
        "(eo_api_cluster: eo retunes the workers' malloc thresholds) and with that switched off "
        "(eo_api_cluster_untuned: EO_MALLOC_TUNE=0)",
    )
    r.add_argument(
        "--warm",
        action="store_true",
        help="also run two jobs per process, threaded and on the cluster (eo_api_warm, eo_api_cluster_warm): "
        "the second job's time is the per-job cost on warm workers",
    )
    r.add_argument("--no-check", action="store_true", help="skip the output agreement check")
    r.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    r.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    n = sub.choices["net"]
    n.add_argument("--repeat", type=int, default=3, help="rounds; workloads alternate within a round")
    n.add_argument(
        "--workloads",
        default="eo_api,odc_stac,stackstac,eo_api_local",
        help="comma-separated workloads (eo_api_local: eo_api on the local files, the no-network reference)",
    )
    n.add_argument(
        "--latencies", default="5,20,60", help="round trips to add per request, ms (comma-separated)"
    )
    n.add_argument("--bandwidth", type=float, default=200.0, help="link capacity, MB/s (10^6 bytes)")
    n.add_argument("--concurrency", type=int, default=32, help="requests the server serves at once")
    n.add_argument(
        "--planning-items", type=int, default=500, help="items of the catalogue-scale planning case (0: skip)"
    )
    n.add_argument("--planning-rtt", type=float, default=20.0, help="round trip of the planning case, ms")
    n.add_argument("--no-check", action="store_true", help="skip the output agreement check")
    n.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    n.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    from benchmarks import zonal

    zonal.add_parser(sub, p)
    return p


def _rounds(
    names: list[str], catalog: Path, outdir: Path, repeat: int, timeout: float, label: str
) -> list[dict[str, Any]]:
    runs = []
    for k in range(repeat):
        for name in names:
            run = run_workload(name, catalog, outdir / f"{name}.tif", timeout)
            status = f"{run.wall_s:7.2f} s {run.peak_rss_mb:7.0f} MiB" if run.ok else f"FAILED: {run.error}"
            print(f"[{label} round {k + 1}/{repeat}] {name:<16}{status}", flush=True)
            runs.append(run.as_dict())
    return runs


def _check(names: list[str], outdir: Path) -> dict[str, Any]:
    present = [n for n in names if (outdir / f"{n}.tif").exists()]
    if len(present) < 2:
        return {"reference": present[0] if present else None, "results": {}, "ok": bool(present)}
    ref = "floor" if "floor" in present else present[0]
    res = {n: agreement(outdir / f"{ref}.tif", outdir / f"{n}.tif") for n in present if n != ref}
    return {"reference": ref, "results": res, "ok": all(r["ok"] for r in res.values())}


def _runnable(names: list[str]) -> tuple[list[str], dict[str, str]]:
    skipped = {}
    for n in names:
        why = import_error(n)
        if why:
            skipped[n] = why
            print(f"skipping {n}: its import fails ({why})", flush=True)
    return [n for n in names if n not in skipped], skipped


@contextlib.contextmanager
def _stac_api(catalog: Path, needed: bool) -> Iterator[None]:
    """Serve the catalogue as a STAC API and write the ``pipeline`` workload's spec (outside its timing)."""
    if not needed:
        yield
        return
    import tempfile

    from benchmarks.workloads.pipeline import SPEC_ENV, URL_ENV, write_spec
    from eo.catalog.serve import serve

    with serve(catalog.parent) as server, tempfile.TemporaryDirectory(prefix="eo-bench-spec-") as tmp:
        os.environ[URL_ENV] = server.url
        os.environ[SPEC_ENV] = str(write_spec(catalog, server.url, Path(tmp) / "bench-ndvi.yaml"))
        try:
            yield
        finally:
            os.environ.pop(URL_ENV, None)
            os.environ.pop(SPEC_ENV, None)


def _session(
    args: argparse.Namespace, names: list[str], dates: int, outdir: Path, label: str
) -> dict[str, Any]:
    catalog = data.ensure_dataset(args.size, dates, args.seed, args.data_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    with _stac_api(catalog, "pipeline" in names):
        runs = _rounds(names, catalog, outdir, args.repeat, args.timeout, label)
    summary = report.summarise(runs, args.size, dates)
    return {
        "dates": dates,
        "catalog": str(catalog),
        "runs": runs,
        "summary": summary,
        "agreement": None if args.no_check else _check(names, outdir),
    }


#: Result key -> (workload, reference): time and RSS of a variant of eo relative to the API chain.
VARIANT_RATIOS = {
    "cluster_vs_threaded": ("eo_api_cluster", "eo_api"),
    "untuned_cluster_vs_threaded": ("eo_api_cluster_untuned", "eo_api"),
    "pipeline_vs_api": ("pipeline", "eo_api"),
}


def _variant_ratios(summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for key, (name, ref) in VARIANT_RATIOS.items():
        a, b = summary.get(name, {}), summary.get(ref, {})
        if a.get("ok") and b.get("ok"):
            out[key] = {
                "time": round(a["median_wall_s"] / b["median_wall_s"], 3),
                "rss": round(a["peak_rss_mb"] / b["peak_rss_mb"], 3),
            }
            if a.get("median_job_s") and b.get("median_job_s"):
                out[key]["first_job"] = round(a["median_job_s"] / b["median_job_s"], 3)
    a, b = summary.get("eo_api_cluster_warm", {}), summary.get("eo_api_warm", {})
    if a.get("median_warm_job_s") and b.get("median_warm_job_s"):
        out["cluster_vs_threaded_warm_job"] = {
            "time": round(a["median_warm_job_s"] / b["median_warm_job_s"], 3),
            "cluster_s": a["median_warm_job_s"],
            "threaded_s": b["median_warm_job_s"],
        }
    return out


def _print_variants(result: dict[str, Any]) -> None:
    for key in VARIANT_RATIOS:
        if key in result:
            r = result[key]
            job = f"{r['first_job']:>8.2f} (first job)" if "first_job" in r else ""
            print(f"{key:<26}{r['time']:>8.2f} (time){r['rss']:>8.2f} (RSS){job}")
    if "cluster_vs_threaded_warm_job" in result:
        r = result["cluster_vs_threaded_warm_job"]
        print(
            f"cluster_vs_threaded, second job on warm workers: {r['time']:.2f} "
            f"({r['cluster_s']:.2f} s vs {r['threaded_s']:.2f} s)"
        )


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    if args.cluster:
        names += [n for n in ("eo_api_cluster", "eo_api_cluster_untuned") if n not in names]
    if args.warm:
        names += [n for n in ("eo_api_warm", "eo_api_cluster_warm") if n not in names]
    names, skipped = _runnable(names)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = args.results_dir / f"{stamp}-{args.size}px-{args.dates}d"
    result: dict[str, Any] = {
        "config": {
            "size": args.size,
            "dates": args.dates,
            "seed": args.seed,
            "repeat": args.repeat,
            "workloads": names,
            "skipped": skipped,
            "pid": os.getpid(),
        },
        "machine": report.machine(),
        "note": "whole-process wall time (imports and the COG write included); the machine may be shared, "
        "see machine.loadavg_start/loadavg_end",
    }
    main = _session(args, names, args.dates, base / "outputs", "main")
    result |= {k: main[k] for k in ("runs", "summary", "agreement")}
    result["ratios"] = report.ratios(main["summary"])
    s = main["summary"]
    result |= _variant_ratios(s)
    print(report.table(s))
    _print_variants(result)
    for k, v in result["ratios"].items():
        if v is not None:
            print(f"{k:<22}{v:>8.2f}")
    if args.scaling:
        big = _session(args, names, 2 * args.dates, base / f"outputs-{2 * args.dates}d", "scaling")
        ratios = {}
        for n, b in big["summary"].items():
            a = s.get(n, {})
            if a.get("ok") and b.get("ok"):
                ratios[n] = {
                    "time": round(b["median_wall_s"] / a["median_wall_s"], 3),
                    "rss": round(b["peak_rss_mb"] / a["peak_rss_mb"], 3),
                }
        result["scaling"] = {
            "dates": [args.dates, 2 * args.dates],
            "summary": big["summary"],
            "runs": big["runs"],
            "ratios": ratios,
            "agreement": big["agreement"],
        }
        print(f"scaling {args.dates} -> {2 * args.dates} dates (time ratio, RSS ratio):")
        for n, r in ratios.items():
            print(f"  {n:<16}{r['time']:>7.2f}{r['rss']:>7.2f}")
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    args.results_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(base.with_suffix(".json"), result)
    if any(v["ok"] for v in s.values()):
        report.chart(base.with_suffix(".png"), result)
    agree = [main["agreement"], result.get("scaling", {}).get("agreement")]
    for a in filter(None, agree):
        for n, r in a["results"].items():
            verdict = "agrees" if r["ok"] else "DISAGREES"
            print(f"{n} {verdict} with {a['reference']}: {r}")
    print(f"results: {base.with_suffix('.json')}")
    ok_runs = any(v["ok"] for v in s.values())
    return 0 if ok_runs and all(a["ok"] for a in filter(None, agree)) else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "generate":
        path = data.ensure_dataset(args.size, args.dates, args.seed, args.data_dir, force=args.force)
        print(path)
        return 0
    if args.command == "net":
        from benchmarks import netbench

        return netbench.run(args)
    if args.command == "zonal":
        from benchmarks import zonal

        return zonal.run(args)
    return run(args)
