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
from typing import Any

from affine import Affine
from odc.geo.crs import CRS
from odc.geo.geobox import GeoBox
from odc.geo.geom import BoundingBox, Geometry

from eo.errors import InvalidBBoxError, InvalidGridError

#: Metres per degree of latitude (and of longitude at the equator), WGS 84 mean.
METRES_PER_DEGREE = 111_319.49

#: Relative tolerance when comparing pixel sizes.
_RES_RTOL = 1e-6
#: Fraction of a pixel an area may overhang the snapped grid without adding a row/column.
_SNAP_TOL = 1e-3


def parse_resolution(resolution: Any, crs: CRS, lat: float = 0.0) -> float:
    """Return the pixel size in units of ``crs`` (positive).

    ``resolution`` is a number in CRS units, or a string ``"30m"`` / ``"30 m"`` in metres
    (converted to degrees at latitude ``lat`` for a geographic CRS).  A plain number larger
    than 1 for a geographic CRS is refused (it would be degrees, surely meant as metres).
    """
    if isinstance(resolution, str):
        text = resolution.strip().lower()
        if not text.endswith("m"):
            raise InvalidGridError(
                f"resolution {resolution!r}: expected a number in CRS units or a string like '30m'"
            )
        try:
            metres = float(text[:-1])
        except ValueError:
            raise InvalidGridError(f"resolution {resolution!r}: expected a string like '30m'") from None
        if metres <= 0:
            raise InvalidGridError(f"resolution must be positive, got {resolution!r}")
        return metres / METRES_PER_DEGREE if crs.geographic else metres
    if isinstance(resolution, tuple | list):
        if len(resolution) != 2 or abs(abs(float(resolution[0])) - abs(float(resolution[1]))) > 1e-9:
            raise InvalidGridError(
                f"resolution {resolution!r}: only square pixels are supported; pass one number"
            )
        resolution = resolution[0]
    try:
        res = abs(float(resolution))
    except (TypeError, ValueError):
        raise InvalidGridError(
            f"resolution {resolution!r}: expected a number or a string like '30m'"
        ) from None
    if res == 0 or not math.isfinite(res):
        raise InvalidGridError(f"resolution must be positive and finite, got {resolution!r}")
    if crs.geographic and res > 1:
        raise InvalidGridError(
            f"resolution {resolution!r} in {crs} would be degrees; "
            "pass degrees (e.g. 0.0001) or metres as '30m'"
        )
    return res


def parse_bbox(bbox: Any, crs: CRS) -> BoundingBox:
    """Return a bounding box in ``crs``.

    ``bbox`` is a :class:`~odc.geo.geom.BoundingBox` or :class:`~odc.geo.geom.Geometry` with
    a CRS, or ``(W, S, E, N)``: in lon/lat when every value is within [-180, 180] x [-90, 90],
    otherwise in ``crs`` (projected coordinates are never that small for an area on Earth).
    """
    if isinstance(bbox, Geometry):
        if bbox.crs is None:
            raise InvalidBBoxError("bbox geometry has no CRS; give it one or pass (W, S, E, N) in lon/lat")
        return bbox.to_crs(crs).boundingbox
    if isinstance(bbox, BoundingBox) and bbox.crs is not None:
        return bbox.to_crs(crs)
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InvalidBBoxError(f"bbox {bbox!r}: expected (W, S, E, N)") from None
    if not (w < e and s < n):
        raise InvalidBBoxError(f"bbox {bbox!r}: expected W < E and S < N")
    if w >= -180 and e <= 180 and s >= -90 and n <= 90:
        return BoundingBox(w, s, e, n, crs="EPSG:4326").to_crs(crs)
    return BoundingBox(w, s, e, n, crs=crs)


def _res(g: GeoBox) -> float:
    return abs(float(g.resolution.x))


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
    crs: Any = None,
    resolution: Any = None,
    bbox: Any = None,
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
        Area: ``(W, S, E, N)`` in lon/lat or in ``crs`` (see :func:`parse_bbox`), or a
        BoundingBox/Geometry with a CRS; default: the union of the scenes' footprints.
    geobox
        The output grid itself; exclusive with ``crs``/``resolution``/``bbox``.

    Returns
    -------
    GeoBox
        North-up grid; pixel edges snapped as described in the module docstring.
    """
    if geobox is not None:
        if crs is not None or resolution is not None or bbox is not None:
            raise InvalidGridError(
                "geobox= gives the whole output grid: do not combine it with crs=, resolution= or bbox="
            )
        return geobox
    if not grids and bbox is None:
        raise InvalidGridError(
            "no scene grid to derive an output grid from; pass geobox= or bbox= with resolution="
        )
    out_crs = CRS(crs) if crs is not None else default_crs(grids)
    region = parse_bbox(bbox, out_crs) if bbox is not None else union_bbox(grids, out_crs)
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
