"""What the zonal-statistics workloads share: the fields, the arguments, the table they write.

The work: statistics of the red band (uint16 DN, nodata 0) of every date of the benchmark stack
over a set of fields (a GeoPackage written by the harness, :func:`write_fields`), one row per
(field, date).  Every workload writes the same CSV columns ``zone, date, mean, std, min, max,
count`` (plus ``median`` where the tool has it), dates numbered 0.. in time order.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

#: Environment variable through which the harness passes the fields file (written outside the timing).
FIELDS_ENV = "EO_BENCH_FIELDS"
#: Statistics of the centre-rule workloads (eo, rasterstats).
STATS = ["mean", "median", "std", "min", "max", "count"]
#: Statistics of the area-weighted workloads (eo weights="area", exactextract).
WEIGHTED_STATS = ["mean", "std", "min", "max", "count"]
COLUMNS = ["zone", "date", *STATS]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("catalog", type=Path, help="static STAC catalog.json")
    p.add_argument("out", type=Path, help="output CSV")
    p.add_argument("--weights", choices=["area"], default=None, help="area-weighted statistics")
    return p.parse_args(argv)


def fields_path() -> Path:
    import os

    path = os.environ.get(FIELDS_ENV)
    if not path:
        raise SystemExit(f"set {FIELDS_ENV} to the fields GeoPackage (the harness writes it)")
    return Path(path)


def write_fields(catalog: Path, path: Path, n: int, seed: int = 0) -> Path:
    """``n`` field-like quadrilaterals (2-25 ha, EPSG of the data) over the first item's grid."""
    import geopandas as gpd
    import shapely

    from benchmarks.workloads._common import first_grid, load_items

    crs, (rows, cols), t = first_grid(load_items(catalog)[0])
    x0, y1 = t[2], t[5]
    x1, y0 = x0 + t[0] * cols, y1 + t[4] * rows
    rng = np.random.default_rng(seed)
    side = min(x1 - x0, y1 - y0)
    geoms = []
    for _ in range(n):
        w, h = rng.uniform(0.003, 0.01, 2) * max(side, 15000.0)  # 150-500 m sides on the full set
        w, h = min(w, side / 4), min(h, side / 4)
        cx, cy = rng.uniform(x0 + w, x1 - w), rng.uniform(y0 + h, y1 - h)
        a = rng.uniform(0, np.pi)
        corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
        jitter = rng.uniform(-0.1, 0.1, (4, 2)) * [w, h]
        pts = [
            (
                cx + (u + du) * np.cos(a) - (v + dv) * np.sin(a),
                cy + (u + du) * np.sin(a) + (v + dv) * np.cos(a),
            )
            for (u, v), (du, dv) in zip(corners, jitter)
        ]
        geoms.append(shapely.Polygon(pts))
    gdf = gpd.GeoDataFrame({"id": np.arange(n)}, geometry=geoms, crs=crs)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part.gpkg")
    part.unlink(missing_ok=True)
    gdf.to_file(part, engine="pyogrio")
    part.replace(path)
    return path


def write_table(rows: Any, out: Path) -> None:
    """Write a DataFrame with (some of) :data:`COLUMNS` as CSV, atomically."""
    frame = rows[[c for c in COLUMNS if c in rows.columns]].sort_values(["zone", "date"])
    part = out.with_name(out.name + ".part")
    frame.to_csv(part, index=False)
    part.replace(out)
