"""Read the facts of an item's properties once, across provider conventions (pure).

Providers spell the same fact differently; this table is where eo knows it, so that nothing after
the STAC edge reads raw properties:

===================== ==========================================================================
fact                  properties read, first present wins
===================== ==========================================================================
platform              ``platform``, ``eo:platform`` (0.x)
constellation         ``constellation``, ``eo:constellation``
instruments           ``instruments``, ``eo:instrument``, ``instrument``
sun_elevation         ``view:sun_elevation``, ``sun_elevation``, ``eo:sun_elevation``; else 90 minus
                      ``s2:mean_solar_zenith`` / ``view:sun_zenith``
sun_azimuth           ``view:sun_azimuth``, ``sun_azimuth``, ``eo:sun_azimuth``, ``s2:mean_solar_azimuth``
cloud_cover           ``eo:cloud_cover``, ``cloud_cover``
processing_baseline   ``s2:processing_baseline``, ``sentinel:processing_baseline`` (Earth Search v0),
                      ``processing:baseline``, ``processing_baseline``, ``processing:version``
                      (Copernicus Data Space); else the ``_Nxxyy_`` token of a product id
                      (``s2:product_uri``, ``sentinel:product_id``, ``s2:granule_id``, the item id)
boa_offset_applied    ``earthsearch:boa_offset_applied`` (v1), ``sentinel:boa_offset_applied`` (v0)
processing_level      ``processing:level``, ``eotk:processing_level``
collection_number     ``landsat:collection_number`` (``1``, ``"01"``, ``"02"`` -> 1, 1, 2)
datetime_source       ``eotk:datetime_source``
===================== ==========================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from eo.catalog.records import EOTK, ItemFacts

#: Properties that hold an ESA product id (whose ``_Nxxyy_`` token is the processing baseline).
PRODUCT_ID_PROPERTIES = ("s2:product_uri", "sentinel:product_id", "s2:granule_id", "s2:datatake_id")

_BASELINE_TOKEN = re.compile(r"(?:^|_)N(\d{2})(\d{2})(?:_|$|\.)")


def first(props: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` that ``props`` holds (not None), else None."""
    for name in names:
        value = props.get(name)
        if value is not None:
            return value
    return None


def number(value: Any) -> float:
    """``value`` as a float, NaN when absent or not a number."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value if v is not None)
    return (str(value),)


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def baseline_from_product_id(text: object) -> str | None:
    """The processing baseline (``"05.09"``) in an ESA product id's ``_N0509_`` token, else None.

    >>> baseline_from_product_id("S2B_MSIL2A_20250302T095029_N0511_R079_T33UXP_20250302T104753")
    '05.11'
    >>> baseline_from_product_id("S2B_52SFA_20220126_0_L2A") is None
    True
    """
    match = _BASELINE_TOKEN.search(str(text or ""))
    return f"{match.group(1)}.{match.group(2)}" if match else None


def collection_number(value: Any) -> int | None:
    """A Landsat collection number as an int (``1``, ``"01"``, ``"1"`` -> 1); None when absent or odd."""
    try:
        return None if value is None or isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        return None


def _baseline(props: Mapping[str, Any], item_id: str) -> str | None:
    stated = first(
        props,
        "s2:processing_baseline",
        "sentinel:processing_baseline",
        "processing:baseline",
        "processing_baseline",
        "processing:version",
    )
    if stated is not None:
        return str(stated)
    for name in PRODUCT_ID_PROPERTIES:
        found = baseline_from_product_id(props.get(name))
        if found:
            return found
    return baseline_from_product_id(item_id)


def _sun_elevation(props: Mapping[str, Any]) -> float:
    value = number(first(props, "view:sun_elevation", "sun_elevation", "eo:sun_elevation"))
    if math.isnan(value):
        value = 90.0 - number(first(props, "s2:mean_solar_zenith", "view:sun_zenith"))
    return value


def item_facts(props: Mapping[str, Any], item_id: str = "") -> ItemFacts:
    """Read :class:`ItemFacts` from an item's properties (see the module table).

    >>> f = item_facts({"sentinel:processing_baseline": "05.09", "landsat:collection_number": 1})
    >>> f.processing_baseline, f.collection_number
    ('05.09', 1)
    """
    return ItemFacts(
        platform=_text(first(props, "platform", "eo:platform")),
        constellation=_text(first(props, "constellation", "eo:constellation")),
        instruments=_strings(first(props, "instruments", "eo:instrument", "instrument")),
        sun_elevation=_sun_elevation(props),
        sun_azimuth=number(
            first(props, "view:sun_azimuth", "sun_azimuth", "eo:sun_azimuth", "s2:mean_solar_azimuth")
        ),
        cloud_cover=number(first(props, "eo:cloud_cover", "cloud_cover")),
        processing_baseline=_baseline(props, item_id),
        boa_offset_applied=_flag(
            first(props, "earthsearch:boa_offset_applied", "sentinel:boa_offset_applied")
        ),
        datetime_source=_text(props.get(f"{EOTK}datetime_source")),
        processing_level=_text(first(props, "processing:level", f"{EOTK}processing_level")),
        collection_number=collection_number(props.get("landsat:collection_number")),
    )
