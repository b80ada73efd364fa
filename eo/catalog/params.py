"""Search parameters, validated before any request: bbox, datetime, property filters (pure).

Lenient at the boundary, strict inside: :func:`parse_bbox` accepts ``"W,S,E,N"`` strings or
four numbers; :func:`parse_datetime` accepts RFC 3339 instants, ``YYYY``/``YYYY-MM``/``YYYY-MM-DD``
periods, ``start/end`` intervals with open ends (``..`` or empty) and ``datetime``/``date``
objects, and returns one RFC 3339 string every STAC API understands.  :func:`property_filter`
turns ``max_cloud`` and a STAC ``query`` mapping into one validated mapping, which
:func:`matches` evaluates on the client (for servers that ignore ``query``/``filter``) and
:func:`to_cql2` translates for servers that only conform to CQL2 ``filter``.
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

from eo.errors import InputError, InvalidBBoxError, InvalidDatetimeError

BBox = tuple[float, float, float, float]

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
    if isinstance(parts, Mapping) or len(parts) != 4:
        raise InvalidBBoxError(f"bbox must be 4 numbers W,S,E,N (degrees); got {value!r}")
    try:
        nums = [_number(p) for p in parts]
    except ValueError:
        raise InvalidBBoxError(f"bbox must be 4 numbers W,S,E,N (degrees); got {value!r}") from None
    w, s, e, n = nums
    if not all(-180.0 <= x <= 180.0 for x in (w, e)) or not all(-90.0 <= y <= 90.0 for y in (s, n)):
        raise InvalidBBoxError(
            f"bbox {value!r} is outside lon/lat range: expects W,E in [-180, 180] and S,N in [-90, 90] "
            "(give degrees in EPSG:4326, not projected metres)"
        )
    if not w < e:
        raise InvalidBBoxError(f"bbox {value!r} has W >= E; expects W,S,E,N with W < E")
    if not s < n:
        raise InvalidBBoxError(f"bbox {value!r} has S >= N; expects W,S,E,N with S < N")
    return (w, s, e, n)


def _number(x: Any) -> float:
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
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return t.strftime(spec)


# --- property filters -----------------------------------------------------------------


def _in(a: Any, b: Any) -> bool:
    return a in b


def _contains(a: Any, b: Any) -> bool:
    return b in a


def _starts(a: Any, b: Any) -> bool:
    return str(a).startswith(str(b))


def _ends(a: Any, b: Any) -> bool:
    return str(a).endswith(str(b))


#: STAC query-extension operators -> predicate(property value, operand).
QUERY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "in": _in,
    "contains": _contains,
    "startsWith": _starts,
    "endsWith": _ends,
}

#: Query operators with a CQL2 counterpart (others are filtered on the client).
CQL2_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "in": "in"}

PropertyFilter = dict[str, dict[str, Any]]


def property_filter(max_cloud: float | None = None, query: Mapping[str, Any] | None = None) -> PropertyFilter:
    """Merge ``max_cloud`` (percent, ``eo:cloud_cover <= max_cloud``) and a STAC ``query`` mapping.

    ``query`` follows the STAC query extension: ``{"eo:cloud_cover": {"lt": 30}}``; a bare
    value means ``eq``.  Raises :class:`InputError` for unknown operators or a ``max_cloud``
    outside [0, 100].
    """
    out: PropertyFilter = {}
    for prop, cond in (query or {}).items():
        ops = dict(cond) if isinstance(cond, Mapping) else {"eq": cond}
        unknown = sorted(set(ops) - set(QUERY_OPS))
        if not isinstance(prop, str) or unknown:
            raise InputError(
                f"query {{{prop!r}: {cond!r}}}: unknown operator(s) {unknown}; "
                f"expects one of {sorted(QUERY_OPS)}"
            )
        if "in" in ops and (isinstance(ops["in"], str) or not isinstance(ops["in"], Sequence)):
            raise InputError(f"query {{{prop!r}: {cond!r}}}: 'in' expects a list of values")
        out[prop] = ops
    if max_cloud is not None:
        try:
            cloud = _number(max_cloud)
        except ValueError:
            cloud = -1.0
        if not 0.0 <= cloud <= 100.0:
            raise InputError(f"max_cloud must be a percentage in [0, 100]; got {max_cloud!r}")
        out.setdefault("eo:cloud_cover", {})["lte"] = cloud
    return out


def matches(properties: Mapping[str, Any], flt: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether item ``properties`` satisfy every condition of ``flt`` (a missing property fails).

    Values that cannot be compared (``None``, a string against a number) fail the condition,
    as on a server.
    """
    for prop, ops in flt.items():
        if prop not in properties or properties[prop] is None:
            return False
        value = properties[prop]
        for op, operand in ops.items():
            try:
                if not QUERY_OPS[op](value, operand):
                    return False
            except TypeError:
                return False
    return True


def to_cql2(flt: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Translate ``flt`` to a CQL2-JSON ``filter``; None if an operator has no CQL2 counterpart."""
    args: list[dict[str, Any]] = []
    for prop, ops in flt.items():
        for op, operand in ops.items():
            if op not in CQL2_OPS:
                return None
            value = list(operand) if op == "in" else operand
            args.append({"op": CQL2_OPS[op], "args": [{"property": prop}, value]})
    if not args:
        return None
    return args[0] if len(args) == 1 else {"op": "and", "args": args}
