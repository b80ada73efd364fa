"""What every workload shares: the items, the target grid, the mask classes, the scale/offset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: SCL classes masked out: no data, saturated/defective, cloud shadow, cloud medium/high, thin cirrus.
MASK_CLASSES = [0, 1, 3, 8, 9, 10]
EPSG = 32642


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("catalog", type=Path, help="static STAC catalog.json")
    p.add_argument("out", type=Path, help="output COG")
    p.add_argument("--cluster", action="store_true", help="run on a LocalCluster of 2 single-thread workers")
    return p.parse_args(argv)


def load_items(catalog: Path) -> list[Any]:
    """The catalogue's items sorted by datetime, asset hrefs made absolute (as stackstac needs)."""
    import pystac

    items = list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    for item in items:
        item.make_asset_hrefs_absolute()
    return sorted(items, key=lambda it: it.datetime)


def scale_offset(item: Any, asset: str) -> tuple[float, float]:
    """``raster:bands`` scale and offset of an asset (1, 0 when absent)."""
    rb = item.assets[asset].extra_fields.get("raster:bands", [{}])[0]
    return float(rb.get("scale", 1.0)), float(rb.get("offset", 0.0))


def first_grid(item: Any, asset: str = "red") -> tuple[str, tuple[int, int], list[float]]:
    """(CRS, shape, transform) of an asset of the first item: the common output grid."""
    a = item.assets[asset].extra_fields
    return a["proj:code"], tuple(a["proj:shape"]), list(a["proj:transform"])
