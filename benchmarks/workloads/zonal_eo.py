"""eo's zonal statistics as a user writes them: eo.load the stack, eo.zonal_stats over the fields file."""

from __future__ import annotations

import time

import eo
from benchmarks.workloads._common import load_items, report_job
from benchmarks.workloads._zonal import STATS, WEIGHTED_STATS, fields_path, parse_args, write_table

_API = (eo.load, eo.zonal_stats)  # the harness skips this workload (saying why) if they are missing


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    items = load_items(args.catalog)
    fields = fields_path()
    t0 = time.perf_counter()
    ds = eo.load(items, bands=["red"], resolution=10)
    stats = WEIGHTED_STATS if args.weights else STATS
    table = eo.zonal_stats(ds, fields, stats, weights=args.weights, id="id")
    dates = {t: k for k, t in enumerate(sorted(table["time"].unique()))}
    table["date"] = table["time"].map(dates)
    write_table(table, args.out)
    report_job(time.perf_counter() - t0)


if __name__ == "__main__":
    main()
