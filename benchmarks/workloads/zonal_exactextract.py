"""The area-weighted reference: exactextract over each date's red COG (coverage-weighted, nodata 0)."""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd
from exactextract import exact_extract

from benchmarks.workloads._common import load_items, report_job
from benchmarks.workloads._zonal import fields_path, parse_args, write_table

#: exactextract's names of eo's weighted statistics.
OPS = {"mean": "mean", "stdev": "std", "min": "min", "max": "max", "count": "count"}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    items = load_items(args.catalog)
    fields = gpd.read_file(fields_path(), engine="pyogrio")
    t0 = time.perf_counter()
    parts = []
    for k, item in enumerate(items):
        rows = exact_extract(
            item.assets["red"].get_absolute_href(), fields, list(OPS), output="pandas", include_cols=["id"]
        )
        parts.append(rows.rename(columns={**OPS, "id": "zone"}).assign(date=k))
    write_table(pd.concat(parts, ignore_index=True), args.out)
    report_job(time.perf_counter() - t0)


if __name__ == "__main__":
    main()
