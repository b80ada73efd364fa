"""Figures for notebooks: true colour, an index with its colour bar, time series of a table.

* :func:`rgb` draws three bands as a true- (or false-) colour image, each band stretched to its
  own 2nd-98th percentiles by default, masked pixels transparent;
* :func:`index` draws one variable (an index, a band) with a colour bar labelled with its name and
  units: a diverging colormap centred at 0 for normalised-difference indices (NDVI-like);
* :func:`time_series` draws the table of :func:`eo.time_series` / :func:`eo.zonal_stats` over time.

Each takes ``ax=`` (default: a new figure) and returns the matplotlib ``Axes``.  Raster figures
compute only what they draw: the data are block-averaged (``coarsen``, NaN ignored) to at most
``max_size`` pixels on the longer side before the single compute, so a 10k x 10k scene never
comes into memory at full resolution.  Colours come from :mod:`eo.plot.render`, which the run
report's quicklooks share.  matplotlib is optional: ``pip install 'eo[plot]'``.
"""

from __future__ import annotations

from eo.plot.raster import index, rgb
from eo.plot.series import time_series

__all__ = ["index", "rgb", "time_series"]
