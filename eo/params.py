"""The parameters users give eo, parsed in one place: areas, dates and periods, CRSs, resolutions (pure).

Lenient at the boundary, strict inside (odc-stac's model): every public call (``eo.search``,
``eo.load``, pipeline specs) normalises its arguments here at once, and internal code sees only the
strict types.

- **Areas**: ``bbox`` is always lon/lat degrees (EPSG:4326), ``(W, S, E, N)`` or ``"W,S,E,N"``
  (:func:`parse_bbox`); an extent in a CRS's own units is given apart, as ``x=(x0, x1), y=(y0, y1)``
  with that CRS (:func:`region`), or as an odc-geo ``BoundingBox``/``Geometry`` carrying its CRS.
  Nothing is guessed from the size of the numbers.
- **Dates**: :func:`parse_datetime` accepts RFC 3339 instants, ``YYYY``/``YYYY-MM``/``YYYY-MM-DD``
  periods, ``start/end`` intervals with open ends (``..`` or empty) and ``datetime``/``date``
  objects, and returns one RFC 3339 string every STAC API understands; :func:`parse_date` reads
  one calendar date (pipeline periods).
- **CRS** (:func:`parse_crs`) and **resolution** (:func:`parse_resolution`: CRS units, or ``"30m"``).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from odc.geo import MaybeCRS, SomeResolution
from odc.geo.crs import CRS
from odc.geo.geom import BoundingBox, Geometry

from eo.errors import InvalidBBoxError, InvalidDatetimeError, InvalidGridError

__all__ = [
    "BBox",
    "BBoxLike",
    "DatetimeInput",
    "MaybeCRS",
    "SomeResolution",
    "parse_bbox",
    "parse_crs",
    "parse_date",
    "parse_datetime",
    "parse_resolution",
    "region",
]

#: A lon/lat bounding box (W, S, E, N), degrees.
BBox = tuple[float, float, float, float]
#: What ``bbox=`` accepts: four lon/lat numbers, ``"W,S,E,N"``, or an odc-geo BoundingBox/Geometry with a CRS.
BBoxLike = str | Sequence[float] | BoundingBox | Geometry
#: Metres per degree of latitude (and of longitude at the equator), WGS 84 mean.
METRES_PER_DEGREE = 111_319.49

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_OPEN = ("", "..")


def parse_bbox(value: str | Sequence[Any] | None) -> BBox | None:
    """Validate a lon/lat bounding box (EPSG:4326 degrees) as ``(W, S, E, N)`` floats.

    Raises :class:`InvalidBBoxError` unless there are four finite numbers with W<E, S<N,
    longitudes in [-180, 180] and latitudes in [-90, 90] (antimeridian-crossing boxes are
    not supported: search each side separately).
    """
    if value is None:
        return None
    parts: Sequence[Any] = value.split(",") if isinstance(value, str) else value
    if isinstance(parts, Mapping) or not isinstance(parts, Sequence) or len(parts) != 4:
        raise InvalidBBoxError(f"bbox must be 4 numbers W,S,E,N (degrees); got {value!r}")
    try:
        nums = [number(p) for p in parts]
    except ValueError:
        raise InvalidBBoxError(f"bbox must be 4 numbers W,S,E,N (degrees); got {value!r}") from None
    w, s, e, n = nums
    if not all(-180.0 <= x <= 180.0 for x in (w, e)) or not all(-90.0 <= y <= 90.0 for y in (s, n)):
        raise InvalidBBoxError(
            f"bbox {value!r} is outside lon/lat range: expects W,E in [-180, 180] and S,N in [-90, 90] "
            "(bbox is degrees in EPSG:4326; give an extent in the CRS's units as x=(min, max), y=(min, max))"
        )
    if not w < e:
        raise InvalidBBoxError(f"bbox {value!r} has W >= E; expects W,S,E,N with W < E")
    if not s < n:
        raise InvalidBBoxError(f"bbox {value!r} has S >= N; expects W,S,E,N with S < N")
    return (w, s, e, n)


def number(x: Any) -> float:
    """A finite number from a number or numeric text (``ValueError`` otherwise; booleans refused)."""
    if isinstance(x, bool):
        raise ValueError(x)
    if isinstance(x, str):
        x = x.strip()
    elif not isinstance(x, Real):
        raise ValueError(x)
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(x)
    return f


# --- datetime -------------------------------------------------------------------------

DatetimeLike = str | _dt.datetime | _dt.date
DatetimeInput = DatetimeLike | Sequence[DatetimeLike | None] | None


def parse_datetime(value: DatetimeInput) -> str | None:
    """Validate a datetime or interval; return it as an RFC 3339 instant or ``start/end`` (UTC).

    Periods expand to their full extent (``"2021-03"`` ->
    ``2021-03-01T00:00:00Z/2021-03-31T23:59:59.999999Z``); one open end is ``..``; times
    without an offset are taken as UTC.  Raises :class:`InvalidDatetimeError` for malformed
    values, both ends open and reversed intervals.
    """
    if value is None:
        return None
    if isinstance(value, str) and "/" in value:
        parts: list[Any] = value.split("/")
        if len(parts) != 2:
            raise InvalidDatetimeError(f"datetime interval {value!r} must be START/END (one '/')")
    elif isinstance(value, (str, _dt.date)):
        start, end = _bounds(value, value)
        return _fmt(start) if start == end else f"{_fmt(start)}/{_fmt(end)}"
    elif isinstance(value, Sequence) and len(value) == 2:
        parts = list(value)
    else:
        raise InvalidDatetimeError(
            f"datetime must be a string, a datetime or a (start, end) pair; got {value!r}"
        )
    lo = None if _is_open(parts[0]) else _bounds(parts[0], value)[0]
    hi = None if _is_open(parts[1]) else _bounds(parts[1], value)[1]
    if lo is None and hi is None:
        raise InvalidDatetimeError(
            f"datetime interval {value!r} is open at both ends; give a start or an end"
        )
    if lo is not None and hi is not None and lo > hi:
        raise InvalidDatetimeError(
            f"datetime interval {value!r} is reversed ({_fmt(lo)} is after {_fmt(hi)}); give START/END"
        )
    return f"{_fmt(lo) if lo else '..'}/{_fmt(hi) if hi else '..'}"


def _is_open(x: Any) -> bool:
    return x is None or (isinstance(x, str) and x.strip() in _OPEN)


def _bounds(x: Any, whole: Any) -> tuple[_dt.datetime, _dt.datetime]:
    """First and last instant of a datetime-like (an instant is its own bounds)."""
    if isinstance(x, _dt.datetime):
        t = x if x.tzinfo else x.replace(tzinfo=_dt.UTC)
        return t, t
    if isinstance(x, _dt.date):
        x = x.isoformat()
    if not isinstance(x, str):
        raise InvalidDatetimeError(f"datetime {whole!r}: {x!r} is not a date or time")
    text = x.strip()
    m = _PARTIAL.match(text)
    try:
        if m:
            y, mo, d = int(m[1]), int(m[2] or 1), int(m[3] or 1)
            start = _dt.datetime(y, mo, d, tzinfo=_dt.UTC)
            if m[3]:
                nxt = start + _dt.timedelta(days=1)
            elif m[2]:
                nxt = _dt.datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=_dt.UTC)
            else:
                nxt = _dt.datetime(y + 1, 1, 1, tzinfo=_dt.UTC)
            return start, nxt - _dt.timedelta(microseconds=1)
        if _INSTANT.match(text):
            t = _dt.datetime.fromisoformat(text.replace("z", "Z"))
            t = t if t.tzinfo else t.replace(tzinfo=_dt.UTC)
            return t, t
    except ValueError as err:
        raise InvalidDatetimeError(f"datetime {whole!r}: {text!r} is not a valid date ({err})") from None
    raise InvalidDatetimeError(
        f"datetime {whole!r}: {text!r} is not RFC 3339; expects e.g. 2021-03-05T10:00:00Z, 2021-03, "
        "2021-03-01/2021-06-30 or 2021-03-01/.."
    )


def _fmt(t: _dt.datetime) -> str:
    t = t.astimezone(_dt.UTC)
    spec = "-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "-%m-%dT%H:%M:%SZ"
    return f"{t.year:04d}" + t.strftime(spec)  # RFC 3339 years have 4 digits (strftime drops zeros)


def parse_date(value: Any, what: str = "date") -> _dt.date:
    """One calendar date: a ``date``, or ISO text ``YYYY-MM-DD`` (a real date: ``2015-02-30`` is refused)."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError as err:
        raise InvalidDatetimeError(
            f"{what}: expected an ISO date like 2025-06-01, found {value!r} ({err})"
        ) from None


# --- CRS, resolution, area --------------------------------------------------------------


def parse_crs(value: MaybeCRS, what: str = "crs") -> CRS:
    """A CRS from anything odc-geo accepts (``"EPSG:32633"``, ``32633``, WKT, pyproj)."""
    if value is None:
        raise InvalidGridError(f"{what} is missing; give one like 'EPSG:32633'")
    try:
        return CRS(value)
    except Exception as err:  # pyproj raises several types for unknown codes
        raise InvalidGridError(
            f"{what}={value!r} is not a CRS eo knows ({err}); give e.g. 'EPSG:32633'"
        ) from None


def parse_resolution(resolution: SomeResolution | str, crs: CRS, lat: float = 0.0) -> float:
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
    value: Any = resolution
    if isinstance(value, tuple | list):
        if len(value) != 2 or abs(abs(float(value[0])) - abs(float(value[1]))) > 1e-9:
            raise InvalidGridError(f"resolution {value!r}: only square pixels are supported; pass one number")
        value = value[0]
    elif hasattr(value, "x") and hasattr(value, "y"):  # odc-geo Resolution
        if abs(abs(float(value.x)) - abs(float(value.y))) > 1e-9:
            raise InvalidGridError(f"resolution {value!r}: only square pixels are supported")
        value = value.x
    try:
        res = abs(float(value))
    except (TypeError, ValueError):
        raise InvalidGridError(f"resolution {value!r}: expected a number or a string like '30m'") from None
    if res == 0 or not math.isfinite(res):
        raise InvalidGridError(f"resolution must be positive and finite, got {value!r}")
    if crs.geographic and res > 1:
        raise InvalidGridError(
            f"resolution {value!r} in {crs} would be degrees; pass degrees (e.g. 0.0001) or metres as '30m'"
        )
    return res


def _span(value: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidBBoxError(f"{what}={value!r}: expected a (min, max) pair of numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
        raise InvalidBBoxError(f"{what}={value!r}: expected two different finite numbers")
    return (lo, hi) if lo < hi else (hi, lo)


def region(
    crs: CRS,
    bbox: BBoxLike | None = None,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
) -> BoundingBox | None:
    """The area asked for, as a BoundingBox in ``crs`` (None when nothing was asked).

    ``bbox``: lon/lat ``(W, S, E, N)`` or ``"W,S,E,N"`` (:func:`parse_bbox`), or a BoundingBox /
    Geometry carrying its CRS; ``x``/``y``: ``(min, max)`` in units of ``crs``.  Give one or the other.
    """
    if bbox is not None and (x is not None or y is not None):
        raise InvalidBBoxError("give bbox= (lon/lat) or x=/y= (units of the CRS), not both")
    if (x is None) != (y is None):
        raise InvalidBBoxError("x= and y= go together: (min, max) each, in units of the output CRS")
    if x is not None and y is not None:
        (x0, x1), (y0, y1) = _span(x, "x"), _span(y, "y")
        return BoundingBox(x0, y0, x1, y1, crs=crs)
    if bbox is None:
        return None
    if isinstance(bbox, Geometry):
        if bbox.crs is None:
            raise InvalidBBoxError("bbox geometry has no CRS; give it one or pass (W, S, E, N) in lon/lat")
        return bbox.to_crs(crs).boundingbox
    if isinstance(bbox, BoundingBox) and bbox.crs is not None:
        return bbox.to_crs(crs)
    lonlat = parse_bbox(bbox)
    assert lonlat is not None
    return BoundingBox(*lonlat, crs="EPSG:4326").to_crs(crs)
