"""Analysis over places: zonal statistics and time series of rasters over fields and points.

* :func:`zonal_stats` (``eo.zonal_stats``): statistics of each variable over each zone and date;
* :func:`time_series` (``eo.time_series``): per point (nearest pixel or a buffer in metres) or per
  zone, a tidy table over time;
* :func:`read_zones`: zones from files, GeoDataFrames, GeoJSON or shapely geometries.

Zones are rasterised on the data's own grid chunk by chunk and reduced with flox, so memory is
bounded by the data's chunks.  Both table-returning calls compute (once); ``output="xarray"``
keeps the statistics lazy.
"""

from __future__ import annotations

from eo.analysis.timeseries import time_series
from eo.analysis.vector import read_zones
from eo.analysis.zonal import zonal_stats

__all__ = ["read_zones", "time_series", "zonal_stats"]
