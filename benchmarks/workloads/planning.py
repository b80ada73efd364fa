"""Catalogue-scale planning: the benchmark job's lazy graph over many remote items, nothing computed.

``python -m benchmarks.workloads.planning CATALOG OUT.json --library eo|odc_stac|stackstac``
builds the NDVI-median graph of the job (load red, nir, SCL on the first item's 10 m grid, mask,
NDVI, temporal median) as the library's user writes it and materialises every task of it
(``dict(graph)``): the time from the items in hand to a ready graph is the job time
(``BENCH job_s``).  Items with complete metadata (``proj:*``, ``raster:bands``) need no file
open; the harness counts the requests nginx saw meanwhile.  OUT.json gets the task count.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.workloads._common import EPSG, MASK_CLASSES, first_grid, load_items, report_job


def eo_graph(items: list[Any]) -> Any:
    import eo

    ds = eo.load(items, bands=["red", "nir", "qa"], resolution=10)
    ndvi = eo.index(eo.calibrate(ds), "NDVI").where(~eo.mask(ds))
    return eo.composite(ndvi, method="median")


def odc_stac_graph(items: list[Any]) -> Any:
    import odc.stac
    from affine import Affine
    from odc.geo.geobox import GeoBox

    crs, shape, transform = first_grid(items[0])
    ds = odc.stac.load(
        items,
        bands=["red", "nir", "scl"],
        geobox=GeoBox(shape, Affine(*transform[:6]), crs),
        chunks={"x": 2048, "y": 2048},
        resampling="nearest",
        groupby="solar_day",
    )
    red, nir = ds.red.astype("float32"), ds.nir.astype("float32")
    return ((nir - red) / (nir + red)).where(~ds.scl.isin(MASK_CLASSES)).median("time")


def stackstac_graph(items: list[Any]) -> Any:
    import numpy as np
    import stackstac
    from rasterio.enums import Resampling

    _, shape, t = first_grid(items[0])
    da = stackstac.stack(
        items,
        assets=["red", "nir", "scl"],
        epsg=EPSG,
        resolution=t[0],
        bounds=(t[2], t[5] + t[4] * shape[0], t[2] + t[0] * shape[1], t[5]),
        resampling=Resampling.nearest,
        dtype="float32",
        fill_value=np.float32(np.nan),
        rescale=False,
    )
    red, nir = da.sel(band="red"), da.sel(band="nir")
    return ((nir - red) / (nir + red)).where(~da.sel(band="scl").isin(MASK_CLASSES)).median("time")


GRAPHS = {"eo": eo_graph, "odc_stac": odc_stac_graph, "stackstac": stackstac_graph}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("catalog", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--library", choices=sorted(GRAPHS), default="eo")
    args = p.parse_args(argv)
    items = load_items(args.catalog)
    t0 = time.perf_counter()
    result = GRAPHS[args.library](items)
    tasks = len(dict(result.__dask_graph__()))
    elapsed = time.perf_counter() - t0
    report_job(elapsed)
    args.out.write_text(json.dumps({"library": args.library, "items": len(items), "tasks": tasks}))


if __name__ == "__main__":
    main()
