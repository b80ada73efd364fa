"""Tile grids: a regular tiling of a projected CRS with stable tile ids.

A :class:`TileGrid` is odc-geo's :class:`~odc.geo.gridspec.GridSpec` with a naming scheme:
tile ``(ix, iy)`` of a grid in ``EPSG:32642`` is ``"32642_ix_iy"`` (``ix`` grows eastwards,
``iy`` northwards, from the CRS origin), like the UTM/MGRS-style grids analysts know.  The
same grid definition always gives the same ids and the same pixel grids, so outputs of
different runs line up and can be mosaicked without resampling.

Pure geometry: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from odc.geo import resyx_, xy_
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry, box
from odc.geo.gridspec import GridSpec

from eo.errors import InvalidGridError


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS containing ``(lon, lat)`` (degrees)."""
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return CRS(f"EPSG:{(32600 if lat >= 0 else 32700) + zone}")


@dataclass(frozen=True)
class TileGrid:
    """A regular tile grid.

    Parameters
    ----------
    crs
        A projected CRS (``"EPSG:32642"``); ``"utm"`` picks the UTM zone of the area (see :meth:`for_area`).
    resolution
        Pixel size in CRS units (metres for UTM), positive.
    tile_size
        Tile edge in pixels (square tiles).
    origin
        ``(x, y)`` of the bottom-left corner of tile ``(0, 0)`` in CRS units.
    """

    crs: str
    resolution: float
    tile_size: int = 1024
    origin: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.resolution <= 0 or self.tile_size <= 0:
            raise InvalidGridError(
                "tile grid needs resolution > 0 and tile_size > 0, "
                f"found {self.resolution} and {self.tile_size}"
            )
        if self.crs.lower() != "utm" and CRS(self.crs).geographic:
            raise InvalidGridError(
                f"tile grids need a projected CRS (metres), found {self.crs}; use e.g. 'utm'"
            )

    def for_area(self, area: Geometry) -> TileGrid:
        """This grid with ``crs="utm"`` resolved to the UTM zone of ``area``'s centroid."""
        if self.crs.lower() != "utm":
            return self
        c = area.centroid.to_crs("EPSG:4326")
        lon, lat = c.coords[0]
        return TileGrid(str(utm_crs(lon, lat)), self.resolution, self.tile_size, self.origin)

    @property
    def gridspec(self) -> GridSpec:
        """The odc-geo GridSpec of this grid (``crs`` must be resolved)."""
        if self.crs.lower() == "utm":
            raise InvalidGridError("resolve crs='utm' with TileGrid.for_area(area) first")
        r = self.resolution
        return GridSpec(self.crs, (self.tile_size, self.tile_size), resyx_(-r, r), origin=xy_(*self.origin))

    @property
    def epsg(self) -> int:
        """EPSG code of the grid's CRS."""
        code = CRS(self.crs).epsg
        if code is None:
            raise InvalidGridError(f"tile ids need a CRS with an EPSG code, found {self.crs}")
        return code

    def tile_id(self, ix: int, iy: int) -> str:
        """Stable id of tile ``(ix, iy)``: ``"<epsg>_<ix>_<iy>"``."""
        return f"{self.epsg}_{ix}_{iy}"

    def parse_id(self, tile_id: str) -> tuple[int, int]:
        """``(ix, iy)`` of a tile id of this grid; raises InvalidGridError for another grid's id."""
        try:
            epsg, ix, iy = tile_id.split("_")
            if int(epsg) != self.epsg:
                raise ValueError
            return int(ix), int(iy)
        except ValueError:
            raise InvalidGridError(
                f"tile id {tile_id!r} is not of this grid; expected '{self.epsg}_<ix>_<iy>'"
            ) from None

    def geobox(self, tile_id: str) -> GeoBox:
        """The pixel grid of a tile."""
        return self.gridspec.tile_geobox(self.parse_id(tile_id))

    def tiles(self, area: Geometry) -> Iterator[tuple[str, GeoBox]]:
        """Tiles overlapping ``area`` (any CRS), as ``(tile_id, geobox)`` in row-major order."""
        for (ix, iy), gbox in self.gridspec.tiles_from_geopolygon(area):
            yield self.tile_id(ix, iy), gbox


def bbox_geometry(bbox: tuple[float, float, float, float], crs: str = "EPSG:4326") -> Geometry:
    """A polygon of ``(W, S, E, N)`` in ``crs``."""
    return box(*bbox, crs)
