"""eo: satellite earth-observation processing on STAC, rasterio, xarray and Dask.

The public API is five calls that stay lazy until written::

    items = eo.search("local", collections=["landsat-8-l1"], max_cloud=40)
    ds = eo.load(items, bands=["red", "nir", "qa"], resolution=30)
    refl = eo.calibrate(ds)
    bad = eo.mask(ds)
    ndvi = eo.index(refl, "NDVI").where(~bad)

Names are imported on first use so ``import eo`` stays fast.  No submodule is named
like a public function (``eo.loading`` holds ``load``, ``eo.spectral`` holds ``index``).
When a ``distributed`` Client is active, the first use of a name (and every ``eo.load``) also
primes its workers without waiting: they import eo's task modules while this process builds
its graph (:mod:`eo.workers`; ``EO_PRIME_WORKERS=0`` turns it off).
"""

from __future__ import annotations

import importlib
import sys
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
    "zonal_stats": "eo.analysis",
    "time_series": "eo.analysis",
    "plot": "eo.plot",
    "errors": "eo.errors",
}
#: Lazy names that are modules, not functions of a module.
_MODULES = {"errors", "plot"}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        if name not in _MODULES and _LAZY[name] not in sys.modules:
            # first use of the processing API: a distributed Client's workers import the same
            # modules meanwhile (eo.workers)
            from eo.workers import prime_active

            prime_active()
        module = importlib.import_module(_LAZY[name])
        return module if name in _MODULES else getattr(module, name)
    raise AttributeError(f"module 'eo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
