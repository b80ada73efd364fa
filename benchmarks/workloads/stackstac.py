"""stackstac + xarray with stackstac's default chunking.

stackstac refuses ``rescale=True`` with ``dtype="float32"`` (a Python float scale cannot be cast
"safely" to float32), so, like most users, we read float32 unscaled and apply the
``raster:bands`` scale/offset ourselves.  Nodata pixels already come back as NaN.
"""

from __future__ import annotations

import time

import numpy as np
import stackstac
from odc.geo.xr import assign_crs
from rasterio.enums import Resampling

from benchmarks.workloads._common import (
    EPSG,
    MASK_CLASSES,
    first_grid,
    load_items,
    parse_args,
    report_job,
    scale_offset,
)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    items = load_items(args.catalog)
    t0 = time.perf_counter()
    _, shape, t = first_grid(items[0])
    bounds = (t[2], t[5] + t[4] * shape[0], t[2] + t[0] * shape[1], t[5])
    da = stackstac.stack(
        items,
        assets=["red", "nir", "scl"],
        epsg=EPSG,  # stackstac reads only proj:epsg, these STAC 1.1 items carry proj:code
        resolution=t[0],
        bounds=bounds,
        resampling=Resampling.nearest,
        dtype="float32",
        fill_value=np.float32(np.nan),
        rescale=False,
        xy_coords="center",
    )

    def reflectance(band: str):
        scale, offset = scale_offset(items[0], band)
        return da.sel(band=band) * scale + offset

    red, nir = reflectance("red"), reflectance("nir")
    clear = ~da.sel(band="scl").isin(MASK_CLASSES)
    ndvi = ((nir - red) / (nir + red)).where(clear)
    median = ndvi.median("time").compute()
    median = assign_crs(median.drop_vars([c for c in median.coords if c not in ("x", "y")]), f"EPSG:{EPSG}")
    median.odc.write_cog(args.out, overwrite=True)
    report_job(time.perf_counter() - t0)


if __name__ == "__main__":
    main()
