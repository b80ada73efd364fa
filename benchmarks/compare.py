"""Do two output COGs agree?  Same grid, same valid (finite) mask, values within a tolerance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TOLERANCE = 1e-6


def agreement(reference: Path, other: Path, tolerance: float = TOLERANCE) -> dict[str, Any]:
    import rasterio

    with rasterio.open(reference) as a, rasterio.open(other) as b:
        same_grid = a.crs == b.crs and a.transform == b.transform and a.shape == b.shape
        result: dict[str, Any] = {"same_grid": bool(same_grid), "dtype": b.dtypes[0]}
        if not same_grid:
            result.update(
                ok=False,
                detail=f"grid {b.crs} {tuple(b.transform)[:6]} {b.shape} != "
                f"{a.crs} {tuple(a.transform)[:6]} {a.shape}",
            )
            return result
        x, y = a.read(1, masked=True).filled(np.nan), b.read(1, masked=True).filled(np.nan)
    vx, vy = np.isfinite(x), np.isfinite(y)
    both = vx & vy
    diff = float(np.abs(x[both].astype(np.float64) - y[both]).max()) if both.any() else 0.0
    mismatch = int((vx != vy).sum())
    result.update(
        valid_pixels=int(vy.sum()),
        mask_mismatch=mismatch,
        max_abs_diff=diff,
        ok=bool(mismatch == 0 and diff <= tolerance and result["dtype"] == "float32"),
    )
    return result
