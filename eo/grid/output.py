"""The output pixel grid of a load, from the scenes' grids and the user's arguments (pure).

Default: the most common native CRS of the scenes, the finest native pixel size, and the
union of the scenes' footprints, snapped outwards to the grid of the finest asset so that
native pixels are hit exactly (no resampling of the finest band).  ``crs=``, ``resolution=``
and ``bbox=`` override one aspect each; ``geobox=`` gives the grid outright.

Snapping (``anchor``): when the output CRS is a native CRS, pixel edges follow the native
grid of an asset with the output pixel size if there is one (Sentinel-2 20 m bands at 20 m),
else the grid of the finest asset (edges of coarser multiples fall on native edges); in a
CRS no scene uses, pixel edges fall on multiples of the pixel size (odc-geo's default).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox

from eo.errors import InvalidGridError, NoDataError
from eo.params import METRES_PER_DEGREE, BBoxLike, MaybeCRS, SomeResolution, parse_crs, parse_resolution
from eo.params import region as region_of

#: Relative tolerance when comparing pixel sizes.
_RES_RTOL = 1e-6
#: Fraction of a pixel an area may overhang the snapped grid without adding a row/column.
_SNAP_TOL = 1e-3


def _res(g: GeoBox) -> float:
    """A grid's pixel size; the finer axis of a non-square grid (a polar DEM tile: 1/360 x 1/3600 deg)."""
    return min(abs(float(g.resolution.x)), abs(float(g.resolution.y)))


def default_crs(grids: Sequence[GeoBox]) -> CRS:
    """Return the most common CRS of ``grids`` (first seen wins a tie)."""
    counts = Counter(str(g.crs) for g in grids)
    best = max(counts.values())
    for g in grids:
        if counts[str(g.crs)] == best:
            assert g.crs is not None
            return g.crs
    raise InvalidGridError("no scene grid to derive an output grid from")


def union_bbox(grids: Sequence[GeoBox], crs: CRS) -> BoundingBox:
    """Return the bounding box in ``crs`` of the union of the grids' footprints."""
    boxes = [g.extent.to_crs(crs).boundingbox if g.crs != crs else g.boundingbox for g in grids]
    return BoundingBox(
        min(b.left for b in boxes),
        min(b.bottom for b in boxes),
        max(b.right for b in boxes),
        max(b.top for b in boxes),
        crs,
    )


def output_geobox(
    grids: Sequence[GeoBox],
    *,
    crs: MaybeCRS = None,
    resolution: SomeResolution | str | None = None,
    bbox: BBoxLike | None = None,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
    geobox: GeoBox | None = None,
) -> GeoBox:
    """Return the output grid of a load.

    Parameters
    ----------
    grids
        Native grids of the requested assets of every item (any CRS).
    crs
        Output CRS (anything :class:`odc.geo.crs.CRS` accepts); default: the most common native CRS.
    resolution
        Pixel size in CRS units, or ``"30m"`` (metres); default: the finest native pixel size (in a
        geographic output CRS: converted from metres at the area's centre).
    bbox
        Area: ``(W, S, E, N)`` in lon/lat degrees, or a BoundingBox/Geometry with a CRS
        (:func:`eo.params.region`); default: the union of the scenes' footprints.
    x, y
        Area as ``(min, max)`` in units of the output CRS (instead of ``bbox``).
    geobox
        The output grid itself; exclusive with ``crs``/``resolution``/``bbox``.

    Returns
    -------
    GeoBox
        North-up grid; pixel edges snapped as described in the module docstring.
    """
    if geobox is not None:
        if crs is not None or resolution is not None or bbox is not None or x is not None:
            raise InvalidGridError(
                "geobox= gives the whole output grid: do not combine it with crs=, resolution=, bbox=, x=/y="
            )
        return geobox
    if not grids and bbox is None and x is None:
        raise InvalidGridError(
            "no scene grid to derive an output grid from; pass geobox= or bbox= with resolution="
        )
    out_crs = parse_crs(crs) if crs is not None else default_crs(grids)
    asked = region_of(out_crs, bbox, x, y)
    region = asked if asked is not None else union_bbox(grids, out_crs)
    native = [g for g in grids if g.crs == out_crs]

    if resolution is not None:
        centre_lat = region.to_crs("EPSG:4326").polygon.centroid.coords[0][1] if out_crs.geographic else 0.0
        res = parse_resolution(resolution, out_crs, centre_lat)
    elif native:
        res = min(_res(g) for g in native)
    elif grids:
        finest = min(grids, key=_res)
        res = _res(finest)
        if out_crs.geographic and finest.crs is not None and not finest.crs.geographic:
            res = res / METRES_PER_DEGREE  # metres -> degrees of latitude: finer, never coarser, in x
        elif not out_crs.geographic and finest.crs is not None and finest.crs.geographic:
            raise InvalidGridError(f"the scenes are in degrees; pass resolution= in units of {out_crs}")
    else:
        raise InvalidGridError("resolution= is needed when the scenes give no grid")

    same = [g for g in native if abs(_res(g) - res) <= _RES_RTOL * res]
    anchor_grid = same[0] if same else (min(native, key=_res) if native else None)
    origin = (0.0, 0.0) if anchor_grid is None else (anchor_grid.transform.c, anchor_grid.transform.f)
    if region.span_x <= 0 or region.span_y <= 0:
        raise InvalidGridError(f"the output area is empty: {region}")
    return snap_geobox(region, out_crs, res, origin)


def _overlaps(grid: GeoBox, out: GeoBox) -> bool:
    """Whether ``grid`` and ``out`` share some area (compared in ``out``'s CRS, else in lon/lat)."""
    for crs in (str(out.crs), "EPSG:4326"):
        try:
            a = grid.extent.to_crs(crs)
            b = out.extent.to_crs(crs)
            return bool(a.intersection(b).area > 0)
        except Exception:  # a projection that cannot reach that far: try lon/lat
            continue
    return True  # cannot tell: not an error


def check_overlap(grids: Sequence[GeoBox], out: GeoBox) -> None:
    """Raise :class:`NoDataError` when the output grid shares no area with any scene grid.

    A load whose area misses every item would be all nodata; that is a mistake (a bbox in the wrong
    order or place), not a result.
    """
    if not grids or any(_overlaps(g, out) for g in grids):
        return
    asked = out.extent.to_crs("EPSG:4326").boundingbox
    have = union_bbox(grids, CRS("EPSG:4326"))
    raise NoDataError(
        f"the requested area misses every item: its grid covers lon {asked.left:.4f}..{asked.right:.4f}, "
        f"lat {asked.bottom:.4f}..{asked.top:.4f}, the items lon {have.left:.4f}..{have.right:.4f}, "
        f"lat {have.bottom:.4f}..{have.top:.4f}; check bbox= (lon/lat W, S, E, N), x=/y= or geobox=, "
        "or the items searched"
    )


def snap_geobox(
    region: BoundingBox, crs: CRS, res: float, origin: tuple[float, float], tol: float = _SNAP_TOL
) -> GeoBox:
    """Return the north-up grid of pixel size ``res``, edges through ``origin``, covering ``region``.

    Edges are computed as ``origin + k * res`` (no accumulated rounding: a native grid is
    reproduced bit for bit).  ``region`` may overhang the grid by ``tol`` pixels before an
    extra row or column is added.
    """
    x0, y0 = origin
    i0 = math.floor((region.left - x0) / res + tol)
    i1 = math.ceil((region.right - x0) / res - tol)
    j0 = math.floor((y0 - region.top) / res + tol)
    j1 = math.ceil((y0 - region.bottom) / res - tol)
    shape = (max(j1 - j0, 1), max(i1 - i0, 1))
    return GeoBox(shape, Affine(res, 0.0, x0 + i0 * res, 0.0, -res, y0 - j0 * res), crs)
