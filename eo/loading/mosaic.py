"""Time slices of a load: grouping items (solar day...) and fusing them first-valid (pure).

Items are first sorted by ``(datetime, id)``; that order is the mosaic priority inside a
slice and the order of the slices.  Grouping strategies are a registry of key functions
(``groupby="solar_day"`` by default, like odc-stac); ``groupby=None`` keeps one slice per item.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from eo.catalog.records import ParsedItem
from eo.errors import UnknownMethodError

GroupKey = Callable[[ParsedItem], Hashable]


def item_longitude(item: ParsedItem) -> float:
    """Longitude (degrees) of the item's centre: from its bbox, else from an asset grid, else 0."""
    if item.bbox is not None:
        w, _, e, _ = item.bbox
        if w > e:  # crosses the antimeridian
            e += 360.0
        lon = (w + e) / 2.0
        return ((lon + 180.0) % 360.0) - 180.0
    for rec in item.assets.values():
        if rec.geobox is not None:
            return float(rec.geobox.geographic_extent.centroid.coords[0][0])
    return 0.0


def solar_day(item: ParsedItem) -> _dt.date:
    """Local solar date of the acquisition: UTC time shifted by longitude / 15 hours."""
    return (item.datetime + _dt.timedelta(hours=item_longitude(item) / 15.0)).date()


#: Named grouping strategies: item -> slice key.
GROUPBY: dict[str, GroupKey] = {
    "solar_day": solar_day,
    "time": lambda item: item.datetime,
    "id": lambda item: item.id,
}


def sort_items(items: Sequence[ParsedItem]) -> list[ParsedItem]:
    """Items by ``(datetime, id)``: the mosaic priority and slice order."""
    return sorted(items, key=lambda it: (it.datetime, it.id))


def group_items(
    items: Sequence[ParsedItem], groupby: str | GroupKey | None = "solar_day"
) -> list[list[ParsedItem]]:
    """Time slices: lists of items in mosaic order, slices ordered by their first item.

    Parameters
    ----------
    items
        Parsed items (any order).
    groupby
        A name of :data:`GROUPBY`, a callable ``ParsedItem -> hashable key``, or ``None``
        (one slice per item).
    """
    ordered = sort_items(items)
    if groupby is None:
        return [[it] for it in ordered]
    if isinstance(groupby, str):
        if groupby not in GROUPBY:
            raise UnknownMethodError(
                f"groupby {groupby!r} is not known; use one of {sorted(GROUPBY)}, a callable or None"
            )
        key = GROUPBY[groupby]
    else:
        key = groupby
    groups: dict[Hashable, list[ParsedItem]] = {}
    for it in ordered:
        groups.setdefault(key(it), []).append(it)
    return sorted(groups.values(), key=lambda g: (g[0].datetime, g[0].id))


def valid_mask(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Mark pixels that are not ``nodata`` (NaN-aware; all are valid when ``nodata`` is None)."""
    if nodata is None:
        return np.ones(data.shape, dtype=bool)
    if np.isnan(nodata):
        return ~np.isnan(data) if data.dtype.kind == "f" else np.ones(data.shape, dtype=bool)
    return np.asarray(data != nodata)


def paste_first_valid(
    out: np.ndarray, todo: np.ndarray, data: np.ndarray, valid: np.ndarray, roi: Any
) -> None:
    """Copy valid pixels of ``data`` into ``out[roi]`` where nothing valid landed yet (in place).

    ``todo`` marks output pixels still empty; it is updated.
    """
    target = out[roi]
    pending = todo[roi]
    take = pending & valid
    np.copyto(target, data, where=take, casting="unsafe")
    pending &= ~valid
