"""eo: satellite earth-observation processing on STAC, rasterio, xarray and Dask.

The public API is five calls that stay lazy until written::

    items = eo.search("local", collections=["landsat-8-l1"], max_cloud=40)
    ds = eo.load(items, bands=["red", "nir", "qa"], resolution=30)
    refl = eo.calibrate(ds)
    bad = eo.mask(ds)
    ndvi = eo.index(refl, "NDVI").where(~bad)

Names are imported on first use so ``import eo`` stays fast.  No submodule is named
like a public function (``eo.loading`` holds ``load``, ``eo.spectral`` holds ``index``).
Looking a name up has no other effect; settings live in :mod:`eo.config`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "search": "eo.catalog.search",
    "load": "eo.loading",
    "calibrate": "eo.radiometry",
    "mask": "eo.masking",
    "index": "eo.spectral",
    "indices": "eo.spectral",
    "list_indices": "eo.spectral",
    "composite": "eo.compositing",
    "write_cog": "eo.io.cog",
    "view": "eo.viewing",
    "zonal_stats": "eo.analysis",
    "time_series": "eo.analysis",
    "plot": "eo.plot",
    "errors": "eo.errors",
    "config": "eo.config",
}
#: Names that are modules (the rest are functions of their module).
_MODULES = frozenset({"errors", "config", "plot"})

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if name in _MODULES else getattr(module, name)
    raise AttributeError(f"module 'eo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
