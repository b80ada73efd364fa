"""The reference: rasterstats over each date's red COG (centre rule, nodata 0), one date at a time."""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd
from rasterstats import zonal_stats

from benchmarks.workloads._common import load_items, report_job
from benchmarks.workloads._zonal import STATS, fields_path, parse_args, write_table


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    items = load_items(args.catalog)
    fields = gpd.read_file(fields_path(), engine="pyogrio")
    t0 = time.perf_counter()
    parts = []
    for k, item in enumerate(items):
        rows = zonal_stats(fields, item.assets["red"].get_absolute_href(), stats=STATS, nodata=0)
        parts.append(pd.DataFrame(rows).assign(zone=fields["id"].to_numpy(), date=k))
    write_table(pd.concat(parts, ignore_index=True), args.out)
    report_job(time.perf_counter() - t0)


if __name__ == "__main__":
    main()
