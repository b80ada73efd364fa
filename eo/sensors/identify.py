"""Which sensor profile and product describe a STAC item (pure, given the loaded profiles).

Order of evidence:

1. the ``eotk:sensor`` property (``"sensor:product"``), written by eo's catalogue tools or by
   a catalogue definition, wins outright;
2. otherwise every product's ``match`` rule is scored against the item: each rule key
   (``collection``, ``constellation``, ``platform``, ``instruments``, a processing-level
   property such as ``processing:level``, ``s2:product_type`` or ``landsat:correction``...)
   that the item states either *matches* (one of the item's values is accepted: +1) or
   *contradicts* (the product is excluded).  Keys the item does not state are skipped.
   ``collection`` is a positive signal only: a collection id the rule does not list does not
   exclude the product (providers name collections differently), it just does not score.
   The product with the highest score wins; a tie between different products, or no
   product scoring at all, raises :class:`eo.errors.UnknownSensorError` saying what the
   item said and which profiles are known.

Values compare case-insensitively with ``_`` and spaces read as ``-`` (``LANDSAT_8`` ==
``landsat-8``, ``Sentinel 2`` == ``sentinel-2``).  Legacy property names are read too
(``eo:platform``, ``eo:instrument``, ``eo:constellation``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eo.errors import UnknownSensorError
from eo.sensors.model import Product, SensorProfile
from eo.sensors.registry import get_product, profiles

#: Property of an item naming its profile and product explicitly.
SENSOR_PROPERTY = "eotk:sensor"

#: Rule key -> item properties read for it, in order.
_PROPERTY_ALIASES: dict[str, tuple[str, ...]] = {
    "platform": ("platform", "eo:platform"),
    "instruments": ("instruments", "eo:instrument", "instrument"),
    "constellation": ("constellation", "eo:constellation"),
}

#: Rule keys whose mismatch does not exclude a product (only a match scores).
_POSITIVE_ONLY = frozenset({"collection"})


def normalise(value: Any) -> str:
    """Return the comparable form of a property value: lower case, ``_`` and spaces as ``-``."""
    return "-".join(str(value).strip().lower().replace("_", " ").split())


def _values(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str | int | float):
        return {normalise(value)}
    if isinstance(value, Iterable):
        return {normalise(v) for v in value if v is not None}
    return {normalise(value)}


def _lookup(key: str, properties: Mapping[str, Any], collection: str | None) -> set[str]:
    if key == "collection":
        return _values(collection if collection is not None else properties.get("collection"))
    for name in _PROPERTY_ALIASES.get(key, (key,)):
        if properties.get(name) is not None:
            return _values(properties[name])
    return set()


def score(
    rule: Mapping[str, tuple[str, ...]], properties: Mapping[str, Any], collection: str | None
) -> int | None:
    """Count the rule keys the item matches, or ``None`` if the item contradicts the rule."""
    matched = 0
    for key, accepted in rule.items():
        found = _lookup(key, properties, collection)
        if not found:
            continue
        if found & {normalise(a) for a in accepted}:
            matched += 1
        elif key not in _POSITIVE_ONLY:
            return None
    return matched


def _said(properties: Mapping[str, Any], collection: str | None) -> str:
    keys = ["collection", "constellation", "platform", "instruments", "processing:level", "s2:product_type"]
    keys += ["landsat:correction", "landsat:collection_number", SENSOR_PROPERTY]
    said = {k: sorted(_lookup(k, properties, collection)) for k in keys}
    text = ", ".join(f"{k}={v[0] if len(v) == 1 else v}" for k, v in said.items() if v)
    return text or "nothing about collection, platform or instruments"


def identify_in(
    known: Mapping[str, SensorProfile], properties: Mapping[str, Any], collection: str | None = None
) -> tuple[SensorProfile, Product]:
    """:func:`identify` against an explicit set of profiles (pure)."""
    ref = properties.get(SENSOR_PROPERTY)
    if ref:
        return get_product(str(ref))
    scored: list[tuple[int, SensorProfile, Product]] = []
    for profile in known.values():
        for product in profile.products.values():
            if not product.match:
                continue
            s = score(product.match, properties, collection)
            if s:
                scored.append((s, profile, product))
    hint = (
        f"Set the item property {SENSOR_PROPERTY!r} to 'sensor:product', map the collection to a profile in "
        "the catalogue definition, or add a profile whose 'match' rule fits"
    )
    if not scored:
        listing = "; ".join(f"{p.id} ({', '.join(p.products)})" for p in known.values())
        raise UnknownSensorError(
            f"no sensor profile matches the item (it says: {_said(properties, collection)}); "
            f"known profiles: {listing}. {hint}"
        )
    best = max(s for s, _, _ in scored)
    top = [(p, pr) for s, p, pr in scored if s == best]
    if len(top) > 1:
        names = ", ".join(f"{p.id}:{pr.id}" for p, pr in top)
        raise UnknownSensorError(
            f"the item matches several sensor products equally well ({names}; it says: "
            f"{_said(properties, collection)}). {hint}"
        )
    return top[0]


def identify(properties: Mapping[str, Any], collection: str | None = None) -> tuple[SensorProfile, Product]:
    """Identify the sensor profile and product of a STAC item from its properties (and collection id).

    Parameters
    ----------
    properties
        The item's ``properties`` mapping (read only).
    collection
        The item's collection id; defaults to ``properties["collection"]`` when given there.

    Returns
    -------
    (SensorProfile, Product)

    Raises
    ------
    UnknownSensorError
        No product matches, or several match equally well; the message lists what the item
        said and the known profiles.

    Examples
    --------
    >>> profile, product = identify({"platform": "sentinel-2a", "s2:product_type": "S2MSI2A"})
    >>> profile.id, product.id
    ('sentinel-2-msi', 'l2a')
    """
    return identify_in(profiles(), properties, collection)
