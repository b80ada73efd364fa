"""``python -m benchmarks net``: the benchmark job reading its COGs over HTTP through a shaped link.

nginx (:mod:`benchmarks.nginx`) serves the data directory on loopback; a link proxy
(:mod:`benchmarks.linkproxy`, its own process) in front of it adds the round trip to every
request and caps the bandwidth.  For each round trip asked for, the workloads run in fresh
processes, alternating within each round, on a catalogue whose asset hrefs are URLs through the
proxy (:mod:`benchmarks.netdata`).  For every run: whole-process wall time, job time, peak RSS
(the harness's own measure), the requests and bytes nginx logged, the connections and
in-flight requests the proxy saw.  The network floor of the job (:mod:`benchmarks.netfloor`) is
printed beside each setting, with eo's time as a multiple of it.  A catalogue-scale case plans
the job over many remote items (no compute) and counts the requests made while planning.
The decode floor workload runs once on local disk first: its output is the reference every
output must agree with.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import data, netfloor, report
from benchmarks.compare import agreement
from benchmarks.netdata import many_items_catalog, remote_catalog
from benchmarks.nginx import Nginx, nginx
from benchmarks.runner import run_workload

NET_WORKLOADS = ("eo_api", "odc_stac", "stackstac")
#: eo_api reading the local files, in the same rounds: what the job costs with no network at all.
LOCAL_REFERENCE = "eo_api_local"
PLANNERS = ("plan_eo", "plan_odc_stac", "plan_stackstac")
#: The workload whose time is compared with the floor and the peers.
SUBJECT = "eo_api"


class LinkProcess:
    """A running :mod:`benchmarks.linkproxy`."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self, reset: bool = False) -> dict[str, Any]:
        from benchmarks.linkproxy import STATS_PATH

        with urllib.request.urlopen(f"{self.url}{STATS_PATH}{'?reset=1' if reset else ''}", timeout=10) as r:
            return dict(json.loads(r.read()))


@contextlib.contextmanager
def shaped_link(
    upstream: int, rtt_ms: float, bandwidth_mbs: float, concurrency: int
) -> Iterator[LinkProcess]:
    """Start the link proxy in front of ``upstream`` (a port on 127.0.0.1) until the block ends."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.linkproxy",
        "--upstream",
        str(upstream),
        "--rtt-ms",
        str(rtt_ms),
        "--bandwidth-mbs",
        str(bandwidth_mbs),
        "--concurrency",
        str(concurrency),
    ]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the link proxy did not start (exit status {proc.poll()}): {line!r}")
        yield LinkProcess(proc, int(line.split()[1]))
    finally:
        proc.terminate()
        proc.wait(10)


def measured_run(
    name: str, catalog: Path, out: Path, server: Nginx, link: LinkProcess, timeout: float
) -> dict:
    """One workload run with what nginx logged and what the link saw during it."""
    link.stats(reset=True)
    mark = server.mark()
    run = run_workload(name, catalog, out, timeout).as_dict()
    run["traffic"] = server.since(mark).as_dict()
    run["link"] = link.stats()
    return run


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per workload: medians of wall time, job time, requests, bytes, connections; max peak RSS."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["workload"] for r in runs):
        ok = [r for r in runs if r["workload"] == name and r["ok"]]
        if not ok:
            out[name] = {"ok": False, "error": next(r["error"] for r in runs if r["workload"] == name)}
            continue
        walls = [r["wall_s"] for r in ok]
        out[name] = {
            "ok": True,
            "runs": len(ok),
            "median_wall_s": _median(walls),
            "spread_wall": round((max(walls) - min(walls)) / statistics.median(walls), 3),
            "median_job_s": _median([r["job_s"][0] for r in ok if r["job_s"]]),
            "requests": _median([r["traffic"]["requests"] for r in ok]),
            "bytes": _median([r["traffic"]["bytes"] for r in ok]),
            "status": ok[-1]["traffic"]["status"],
            "connections": _median([r["link"]["connections"] for r in ok]),
            "max_inflight": max(r["link"]["max_inflight"] for r in ok),
            "mean_inflight_busy": _median([r["link"]["mean_inflight_busy"] for r in ok]),
            "proxy_cpu_s": _median([r["link"]["proxy_cpu_s"] for r in ok]),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in ok), 1),
        }
    return out


def _ratio(a: Any, b: Any) -> float | None:
    return round(a / b, 3) if a and b else None


def compare(summary: dict[str, dict[str, Any]], floor: dict[str, float]) -> dict[str, Any]:
    """eo's time over the floor and over each peer's (whole process and job), requests beside the peers'."""
    s = summary.get(SUBJECT, {})
    res: dict[str, Any] = {}
    if not s.get("ok"):
        return res
    res["eo/floor_job"] = _ratio(s["median_job_s"], floor["floor_s"])
    res["eo/floor_time"] = _ratio(s["median_wall_s"], floor["floor_s"])
    local = summary.get(LOCAL_REFERENCE, {})
    if local.get("ok"):  # what the network costs eo: 1.0 means not a second more than local disk
        res["eo/eo_local_time"] = _ratio(s["median_wall_s"], local["median_wall_s"])
        res["eo/eo_local_job"] = _ratio(s["median_job_s"], local["median_job_s"])
    for peer in NET_WORKLOADS:
        p = summary.get(peer, {})
        if peer != SUBJECT and p.get("ok") and p.get("requests"):
            res[f"eo/{peer}_time"] = _ratio(s["median_wall_s"], p["median_wall_s"])
            res[f"eo/{peer}_job"] = _ratio(s["median_job_s"], p["median_job_s"])
            res[f"eo/{peer}_requests"] = _ratio(s["requests"], p["requests"])
    return res


def table(summary: dict[str, dict[str, Any]], floor: dict[str, float]) -> str:
    head = (
        f"{'workload':<16}{'wall s':>8}{'job s':>8}{'requests':>10}{'MB':>8}{'conns':>7}"
        f"{'in flight':>11}{'RSS MiB':>9}{'x floor':>9}"
    )
    lines = [head]
    for name, s in summary.items():
        if not s["ok"]:
            lines.append(f"{name:<16}  failed: {s['error']}")
            continue
        job = s["median_job_s"] or 0.0
        lines.append(
            f"{name:<16}{s['median_wall_s']:>8.2f}{job:>8.2f}{s['requests']:>10.0f}{s['bytes'] / 1e6:>8.1f}"
            f"{s['connections']:>7.0f}{s['mean_inflight_busy']:>6.1f}/{s['max_inflight']:<4d}"
            f"{s['peak_rss_mb']:>9.0f}{job / floor['floor_s']:>9.2f}"
        )
    lines.append(
        f"{'network floor':<16}{floor['floor_s']:>8.2f}{'':>8}{floor['requests']:>10d}"
        f"{floor['bytes'] / 1e6:>8.1f}"
        f"   (transfer {floor['transfer_s']:.2f} s + latency {floor['latency_s']:.2f} s)"
    )
    return "\n".join(lines)


def _check(outputs: dict[str, Path], reference: Path) -> dict[str, Any]:
    res = {n: agreement(reference, p) for n, p in outputs.items() if p.exists()}
    return {"reference": str(reference), "results": res, "ok": all(r["ok"] for r in res.values())}


def _setting(
    args: Any, names: list[str], catalog: Path, need: dict[str, Any], server: Nginx, rtt: float, outdir: Path
) -> dict[str, Any]:
    runs = []
    floor = {
        **netfloor.floor_s(need, rtt / 1e3, args.bandwidth * 1e6, args.concurrency),
        "requests": need["requests"],
        "bytes": need["bytes"],
    }
    with (
        shaped_link(server.port, rtt, args.bandwidth, args.concurrency) as link,
        tempfile.TemporaryDirectory(prefix="eo-bench-remote-") as tmp,
    ):
        remote = remote_catalog(catalog, link.url, Path(tmp))
        for k in range(args.repeat):
            for name in names:
                source = catalog if name == LOCAL_REFERENCE else remote
                run = measured_run(name, source, outdir / f"{name}-{rtt:g}ms.tif", server, link, args.timeout)
                t = run["traffic"]
                status = (
                    f"{run['wall_s']:7.2f} s {run['peak_rss_mb']:6.0f} MiB {t['requests']:5d} req "
                    f"{t['bytes'] / 1e6:7.1f} MB {run['link']['connections']:4d} conn"
                    if run["ok"]
                    else f"FAILED: {run['error']}"
                )
                print(f"[{rtt:g} ms round {k + 1}/{args.repeat}] {name:<12}{status}", flush=True)
                runs.append(run)
    summary = summarise(runs)
    return {
        "rtt_ms": rtt,
        "floor": floor,
        "runs": runs,
        "summary": summary,
        "ratios": compare(summary, floor),
    }


def _planning(args: Any, catalog: Path, server: Nginx, outdir: Path) -> dict[str, Any]:
    runs = []
    with (
        shaped_link(server.port, args.planning_rtt, args.bandwidth, args.concurrency) as link,
        tempfile.TemporaryDirectory(prefix="eo-bench-many-") as tmp,
    ):
        many = many_items_catalog(catalog, link.url, args.planning_items, Path(tmp))
        for k in range(args.repeat):
            for name in PLANNERS:
                out = outdir / f"{name}.json"
                run = measured_run(name, many, out, server, link, args.timeout)
                if run["ok"]:
                    run["tasks"] = json.loads(out.read_text())["tasks"]
                    status = (
                        f"{run['job_s'][0]:6.2f} s to a ready graph ({run['tasks']} tasks), "
                        f"{run['traffic']['requests']} requests"
                    )
                else:
                    status = f"FAILED: {run['error']}"
                print(
                    f"[planning {args.planning_items} items round {k + 1}/{args.repeat}] {name:<15}{status}"
                )
                runs.append(run)
    summary = {}
    for name in PLANNERS:
        ok = [r for r in runs if r["workload"] == name and r["ok"]]
        summary[name] = (
            {
                "ok": True,
                "plan_s": _median([r["job_s"][0] for r in ok]),
                "median_wall_s": _median([r["wall_s"] for r in ok]),
                "requests": max(r["traffic"]["requests"] for r in ok),
                "tasks": ok[0]["tasks"],
                "peak_rss_mb": round(max(r["peak_rss_mb"] for r in ok), 1),
            }
            if ok
            else {"ok": False, "error": next(r["error"] for r in runs if r["workload"] == name)}
        )
    return {"items": args.planning_items, "rtt_ms": args.planning_rtt, "runs": runs, "summary": summary}


def run(args: Any) -> int:
    """The whole network benchmark (see the module docstring); exit status 0 when every output agrees."""
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    latencies = [float(x) for x in args.latencies.split(",") if x.strip()]
    catalog = data.ensure_dataset(args.size, args.dates, args.seed, args.data_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = args.results_dir / f"{stamp}-net-{args.size}px-{args.dates}d"
    outdir = base / "outputs"
    outdir.mkdir(parents=True, exist_ok=True)
    need = netfloor.job_need(catalog)
    result: dict[str, Any] = {
        "config": {
            "size": args.size,
            "dates": args.dates,
            "seed": args.seed,
            "repeat": args.repeat,
            "workloads": names,
            "latencies_ms": latencies,
            "bandwidth_mb_s": args.bandwidth,
            "server_concurrency": args.concurrency,
        },
        "machine": report.machine(),
        "need": {k: v for k, v in need.items() if k != "per_file"},
    }
    reference = outdir / "floor-local.tif"
    ref_run = run_workload("floor", catalog, reference, args.timeout)
    result["reference_run"] = ref_run.as_dict()
    if not ref_run.ok:
        print(f"the local decode floor failed: {ref_run.error}")
    print(
        f"the job needs {need['blocks']} COG blocks, {need['bytes'] / 1e6:.1f} MB "
        f"({need['files']} files; at least {need['requests']} requests)",
        flush=True,
    )
    settings = []
    with nginx(catalog.parent) as server:
        for rtt in latencies:
            settings.append(_setting(args, names, catalog, need, server, rtt, outdir))
        if args.planning_items:
            result["planning"] = _planning(args, catalog, server, outdir)
    result["settings"] = settings
    ok = True
    if not args.no_check and ref_run.ok:
        for s in settings:
            outs = {n: outdir / f"{n}-{s['rtt_ms']:g}ms.tif" for n in names}
            s["agreement"] = _check(outs, reference)
            ok = ok and s["agreement"]["ok"]
    result["machine"]["loadavg_end"] = list(__import__("os").getloadavg())
    args.results_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(base.with_suffix(".json"), result)
    print_report(result)
    print(f"results: {base.with_suffix('.json')}")
    ran = any(v["ok"] for s in settings for v in s["summary"].values())
    return 0 if ran and ok else 1


def print_report(result: dict[str, Any]) -> None:
    cfg = result["config"]
    for s in result["settings"]:
        print(
            f"\n== {s['rtt_ms']:g} ms per request, {cfg['bandwidth_mb_s']:g} MB/s, "
            f"server concurrency {cfg['server_concurrency']}"
        )
        print(table(s["summary"], s["floor"]))
        for k, v in s["ratios"].items():
            if v is not None:
                print(f"  {k:<22}{v:>7.2f}")
        for n, r in (s.get("agreement") or {}).get("results", {}).items():
            verdict = "agrees" if r["ok"] else "DISAGREES"
            print(f"  {n} {verdict} with the local floor (max abs diff {r.get('max_abs_diff')})")
    plan = result.get("planning")
    if plan:
        print(f"\n== planning {plan['items']} remote items ({plan['rtt_ms']:g} ms per request)")
        for name, s in plan["summary"].items():
            if s["ok"]:
                print(
                    f"  {name:<16}{s['plan_s']:>7.2f} s to a ready graph  {s['requests']:>4} requests  "
                    f"{s['tasks']:>6} tasks  {s['peak_rss_mb']:>6.0f} MiB"
                )
            else:
                print(f"  {name:<16}failed: {s['error']}")
