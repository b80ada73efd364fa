"""What every workload shares: the items, the target grid, the mask classes, the scale/offset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: SCL classes masked out, those of ``eo.mask``'s defaults (nodata, saturated, shadow, cloud, cirrus):
#: no data 0, saturated/defective 1, cloud shadow 3, cloud medium/high probability 8/9, thin cirrus 10.
MASK_CLASSES = [0, 1, 3, 8, 9, 10]
EPSG = 32642


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("catalog", type=Path, help="static STAC catalog.json")
    p.add_argument("out", type=Path, help="output COG")
    p.add_argument("--cluster", action="store_true", help="run on a LocalCluster of 2 single-thread workers")
    p.add_argument(
        "--untuned",
        action="store_true",
        help="with --cluster: EO_MALLOC_TUNE=0, the workers keep Dask's pinned malloc thresholds (eo.malloc)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="run the job this many times in one process (same cluster); each prints 'BENCH job_s=<s>'",
    )
    return p.parse_args(argv)


def report_job(seconds: float) -> None:
    """Tell the harness how long one job took (from the first eo call to the COG written)."""
    print(f"BENCH job_s={seconds:.4f}", flush=True)


def load_items(catalog: Path) -> list[Any]:
    """The catalogue's items sorted by datetime, asset hrefs made absolute (as stackstac needs)."""
    import pystac

    items = list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    for item in items:
        item.make_asset_hrefs_absolute()
    return sorted(items, key=lambda it: it.datetime)


def scale_offset(item: Any, asset: str) -> tuple[float, float]:
    """``raster:bands`` scale and offset of an asset (1, 0 when absent), as eo's default policy reads them.

    Earth Search's ``earthsearch:boa_offset_applied: true`` says the stored DNs were already
    harmonised, so no offset is added (Element84: the flag wins over ``raster:bands``; eo's
    default ``boa_offset_policy="flag"``).  Every workload uses this, so all compute the same.
    """
    rb = item.assets[asset].extra_fields.get("raster:bands", [{}])[0]
    offset = 0.0 if item.properties.get("earthsearch:boa_offset_applied") is True else rb.get("offset", 0.0)
    return float(rb.get("scale", 1.0)), float(offset)


def first_grid(item: Any, asset: str = "red") -> tuple[str, tuple[int, int], list[float]]:
    """(CRS, shape, transform) of an asset of the first item: the common output grid."""
    a = item.assets[asset].extra_fields
    return a["proj:code"], tuple(a["proj:shape"]), list(a["proj:transform"])
