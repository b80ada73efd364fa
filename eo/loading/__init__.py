"""Loading STAC items into lazy xarray Datasets: :func:`load` (``eo.load``).

Modules: :mod:`~eo.loading.loader` (the public call), :mod:`~eo.loading.plan` (pure
decisions), :mod:`~eo.loading.mosaic` (time slices, first-valid fusing),
:mod:`~eo.loading.read` (rasterio reads, retries), :mod:`~eo.loading.graph` (Dask graph),
:mod:`~eo.loading.dataset` (coordinates and attributes).
"""

from __future__ import annotations

from eo.errors import MixedSensorsError
from eo.loading.loader import load
from eo.loading.plan import DEFAULT_CHUNKS

__all__ = ["DEFAULT_CHUNKS", "MixedSensorsError", "load"]
