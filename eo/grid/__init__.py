"""Pure geometry on odc-geo: the output grid of a load (:mod:`eo.grid.output`) and tile grids.

Nothing here reads files; a :class:`odc.geo.geobox.GeoBox` is a pixel grid (CRS + affine +
shape, affine mapping pixel corners).
"""

from __future__ import annotations

from eo.grid.output import default_crs, output_geobox, union_bbox
from eo.params import parse_resolution

__all__ = ["default_crs", "output_geobox", "parse_resolution", "union_bbox"]
