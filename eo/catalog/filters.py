"""Property filters of a search: ``max_cloud`` and the STAC query extension (pure).

:func:`property_filter` turns ``max_cloud`` and a STAC ``query`` mapping into one validated mapping,
which :func:`matches` evaluates on the client (for servers that ignore ``query``/``filter``) and
:func:`to_cql2` translates for servers that only conform to CQL2 ``filter``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eo.errors import InputError
from eo.params import number as _number

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


def failing(properties: Mapping[str, Any], flt: Mapping[str, Mapping[str, Any]]) -> tuple[str, bool] | None:
    """The first property of ``flt`` that ``properties`` fail and whether it is missing (None: none fails)."""
    for prop, ops in flt.items():
        if prop not in properties or properties[prop] is None:
            return prop, True
        if not matches(properties, {prop: ops}):
            return prop, False
    return None


def describe(flt: Mapping[str, Mapping[str, Any]], prop: str) -> str:
    """One condition of ``flt`` in words: ``eo:cloud_cover <= 50`` (``max_cloud``), ``platform == 'x'``."""
    words = {"eq": "==", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
    parts = [f"{prop} {words.get(op, op)} {operand!r}" for op, operand in flt[prop].items()]
    return " and ".join(parts)


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
