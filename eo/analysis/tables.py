"""Result layouts of :mod:`eo.analysis`: the tidy table and the xvec vector data cube."""

from __future__ import annotations

from typing import Any

import pandas as pd
import xarray as xr

from eo.analysis.stats import ZONE_DIM
from eo.errors import DependencyError


def to_table(cube: xr.Dataset) -> pd.DataFrame:
    """Tidy DataFrame of a computed ``(variable, [time,] zone)`` Dataset of statistics.

    Columns ``zone``, ``time`` (if present), ``variable``, then one per statistic; rows by zone
    (the zones' order), time, variable; RangeIndex.
    """
    order = [ZONE_DIM, *(["time"] if "time" in cube.dims else []), "variable"]
    stats = list(cube.data_vars)
    keep = [c for c in cube.coords if c not in order]
    flat = cube.drop_vars(keep).transpose(*order)
    position = pd.RangeIndex(flat.sizes[ZONE_DIM])
    ids = flat[ZONE_DIM].to_numpy()
    frame = flat.assign_coords({ZONE_DIM: position}).to_dataframe(dim_order=order).reset_index()
    frame[ZONE_DIM] = ids[frame[ZONE_DIM].to_numpy()]
    frame["variable"] = frame["variable"].astype(str)
    return frame[[*order, *stats]]


def require_xvec() -> None:
    """Raise :class:`~eo.errors.DependencyError` unless xvec can be imported."""
    try:
        import xvec  # noqa: F401
    except ImportError as err:
        raise DependencyError(
            "output='xvec' needs the xvec package (vector data cubes for xarray): pip install xvec "
            "(or pip install 'eo[xvec]'); output='xarray' gives the same cube with the zone ids only"
        ) from err


def to_xvec(cube: xr.Dataset, zones: Any) -> xr.Dataset:
    """The cube with its ``zone`` coordinate replaced by the zones' geometries (xvec index), lazy.

    The ids move to the coordinate ``zone_id`` along the same dim; the geometries keep the zones'
    own CRS.
    """
    require_xvec()
    import xvec  # noqa: F401  (registers the .xvec accessor)

    ids = cube[ZONE_DIM].to_numpy()
    out = cube.assign_coords({ZONE_DIM: zones.geometry.to_numpy(), "zone_id": (ZONE_DIM, ids)})
    return out.xvec.set_geom_indexes(ZONE_DIM, crs=zones.crs)
