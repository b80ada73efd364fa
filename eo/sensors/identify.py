"""Which sensor profile and product describe a STAC item, from all the evidence it carries (pure).

Evidence, gathered once per item (:func:`gather`) and weighed per product (:func:`weigh`):

``property`` (+1 per rule key)
    every key of a product's ``match`` rule (``constellation``, ``platform``, ``instruments``,
    ``processing:level``, ``s2:product_type``, ``landsat:collection_number``...) that the item
    states either matches (one of its values is accepted) or contradicts (the product is out).
    ``collection`` only ever supports: providers name collections their own way.
``asset`` (+1)
    an asset key the product's ``evidence.assets`` lists (``SCL``, ``AOT``, ``WVP`` for Sentinel-2
    L2A; ``SR_B4`` for Landsat Collection 2 Level-2), case-insensitive, resolution suffix ignored
    (``SCL_20m``).  It counts -1 for the sibling products (same profile) that do not list it.
``token`` (+1 per source)
    a token of the collection id, the item id or a product id (``s2:product_uri``,
    ``sentinel:product_id``, ``landsat:product_id``) that ``evidence.tokens`` lists (``l2a``,
    ``msil2a``, ``l2sp``); -1 for the siblings that do not list it.  Names weigh less than stated
    properties: a collection named ``...-l1c`` whose items say ``s2:product_type: S2MSI2A`` is L2A.
``archive``
    an acquisition date outside ``evidence.archive`` contradicts the product.
``catalogue`` (+3)
    the catalogue the item came from maps its collection to the product.

A product is a candidate when at least one property (or the catalogue) speaks for it.  The
candidate with the highest score wins; a tie is an :class:`~eo.errors.UnknownSensorError` that
lists the evidence of each tied product and the fix.  The ``eotk:sensor`` property
(``"sensor:product"``, written by eo's own catalogue tools) and ``sensor=`` decide outright.  When no
product is a candidate, the item has no profile: :func:`identify_item` says so and the loader reads
the item from its own metadata (:mod:`eo.sensors.from_item`).

Values compare case-insensitively with ``_`` and spaces read as ``-`` and leading zeros of numbers
dropped (``LANDSAT_8`` == ``landsat-8``, ``Sentinel 2`` == ``sentinel-2``, ``1`` == ``"01"``).
Legacy property names are read too (``eo:platform``, ``eo:instrument``, ``eo:constellation``).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eo.catalog.assets import resolution_variant
from eo.catalog.records import EOTK
from eo.errors import UnknownSensorError
from eo.sensors.model import Product, SensorProfile
from eo.sensors.registry import get_product, profiles

#: Property of an item naming its profile and product explicitly.
SENSOR_PROPERTY = f"{EOTK}sensor"

#: Rule key -> item properties read for it, in order.
_PROPERTY_ALIASES: dict[str, tuple[str, ...]] = {
    "platform": ("platform", "eo:platform"),
    "instruments": ("instruments", "eo:instrument", "instrument"),
    "constellation": ("constellation", "eo:constellation"),
}
#: Rule keys whose mismatch does not exclude a product (only a match scores).
_POSITIVE_ONLY = frozenset({"collection"})
#: Properties holding product ids whose tokens are evidence.
PRODUCT_ID_PROPERTIES = ("s2:product_uri", "sentinel:product_id", "landsat:product_id", "s2:granule_id")
#: Score of a catalogue definition mapping the item's collection to a product.
CATALOGUE_WEIGHT = 3

_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")


def normalise(value: Any) -> str:
    """The comparable form of a property value: lower case, ``_``/spaces as ``-``, no leading zeros.

    >>> normalise("LANDSAT_8"), normalise("Sentinel 2"), normalise("01"), normalise(1)
    ('landsat-8', 'sentinel-2', '1', '1')
    """
    text = "-".join(str(value).strip().lower().replace("_", " ").split())
    return (text.lstrip("0") or "0") if text.isdigit() else text


def _values(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str | int | float):
        return {normalise(value)}
    if isinstance(value, Iterable):
        return {normalise(v) for v in value if v is not None}
    return {normalise(value)}


def tokens(text: Any) -> frozenset[str]:
    """Lower-case alphanumeric tokens of an id (``S2B_MSIL2A_N0509``: ``s2b``, ``msil2a``, ``n0509``)."""
    return frozenset(t for t in _TOKEN_SPLIT.split(str(text or "").lower()) if t)


@dataclass(frozen=True)
class ItemEvidence:
    """What an item shows that identification weighs, gathered once."""

    properties: Mapping[str, Any]
    collection: str | None = None
    token_sources: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """``"collection id" | "item id" | "product id"`` -> tokens."""
    asset_keys: frozenset[str] = frozenset()
    """Lower-case asset keys, with resolution suffixes also stripped (``scl_20m`` -> ``scl`` too)."""
    date: _dt.date | None = None

    def lookup(self, key: str) -> set[str]:
        """Normalised values the item states for a match-rule key (empty when it says nothing)."""
        if key == "collection":
            return _values(
                self.collection if self.collection is not None else self.properties.get("collection")
            )
        for name in _PROPERTY_ALIASES.get(key, (key,)):
            if self.properties.get(name) is not None:
                return _values(self.properties[name])
        return set()


def _date(props: Mapping[str, Any]) -> _dt.date | None:
    value = props.get("datetime") or props.get("start_datetime")
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def gather(item: Mapping[str, Any]) -> ItemEvidence:
    """Gather the evidence of a STAC item dict (``properties``, ``collection``, ``id``, ``assets``)."""
    props: Mapping[str, Any] = item.get("properties") or {}
    collection = item.get("collection") or props.get("collection")
    sources: dict[str, frozenset[str]] = {}
    if collection:
        sources["collection id"] = tokens(collection)
    if item.get("id"):
        sources["item id"] = tokens(item["id"])
    product_ids = frozenset().union(*(tokens(props.get(p)) for p in PRODUCT_ID_PROPERTIES if props.get(p)))
    if product_ids:
        sources["product id"] = product_ids
    keys: set[str] = set()
    for key in item.get("assets") or {}:
        keys.add(str(key).lower())
        variant = resolution_variant(str(key))
        if variant is not None:
            keys.add(variant[0].lower())
    return ItemEvidence(
        props, str(collection) if collection else None, sources, frozenset(keys), _date(props)
    )


@dataclass(frozen=True)
class Clue:
    """One piece of evidence for or against a product."""

    kind: str
    """``property`` | ``asset`` | ``token`` | ``archive`` | ``catalogue``."""
    detail: str
    weight: int
    """Score it adds (negative: it speaks for a sibling); 0 with ``against`` set when it excludes."""
    against: bool = False


@dataclass(frozen=True)
class Verdict:
    """How the evidence weighs for one product."""

    profile: SensorProfile
    product: Product
    clues: tuple[Clue, ...]

    @property
    def ref(self) -> str:
        """``"sensor:product"``."""
        return f"{self.profile.id}:{self.product.id}"

    @property
    def excluded(self) -> bool:
        """Whether a clue contradicts the product."""
        return any(c.against for c in self.clues)

    @property
    def score(self) -> int:
        """Sum of the clues' weights."""
        return sum(c.weight for c in self.clues if not c.against)

    @property
    def candidate(self) -> bool:
        """Whether a property or the catalogue speaks for the product (and nothing against it)."""
        return not self.excluded and any(
            c.kind in ("property", "catalogue") and c.weight > 0 for c in self.clues
        )

    def describe(self) -> str:
        """``sensor:product score N: +1 property platform=landsat-8; ...`` for messages."""
        parts = [f"{'x' if c.against else f'{c.weight:+d}'} {c.kind} {c.detail}" for c in self.clues]
        state = "excluded" if self.excluded else f"score {self.score}"
        return f"{self.ref} {state}: {'; '.join(parts) or 'no evidence'}"


def _property_clues(product: Product, ev: ItemEvidence) -> list[Clue]:
    out = []
    for key, accepted in product.match.items():
        found = ev.lookup(key)
        if not found:
            continue
        said = ",".join(sorted(found))
        if found & {normalise(a) for a in accepted}:
            out.append(Clue("property", f"{key}={said}", 1))
        elif key not in _POSITIVE_ONLY:
            out.append(Clue("property", f"{key}={said} (expects {', '.join(accepted)})", 0, against=True))
    return out


def _sibling_clues(profile: SensorProfile, product: Product, ev: ItemEvidence) -> list[Clue]:
    """Asset and token evidence: support for ``product``, or contradiction by a sibling's clue."""
    out = []
    own_assets = {a.lower() for a in product.evidence.assets}
    hit = sorted(own_assets & ev.asset_keys)
    if hit:
        out.append(Clue("asset", f"key {', '.join(hit)}", 1))
    own_tokens = set(product.evidence.tokens)
    for source, found in ev.token_sources.items():
        matched = sorted(own_tokens & found)
        if matched:
            out.append(Clue("token", f"{source} {', '.join(matched)}", 1))
    foreign_assets: dict[str, list[str]] = {}
    foreign_tokens: dict[tuple[str, str], list[str]] = {}
    for sibling in profile.products.values():
        if sibling.id == product.id:
            continue
        for key in ({a.lower() for a in sibling.evidence.assets} - own_assets) & ev.asset_keys:
            foreign_assets.setdefault(key, []).append(sibling.id)
        for source, found in ev.token_sources.items():
            for token in (set(sibling.evidence.tokens) - own_tokens) & found:
                foreign_tokens.setdefault((source, token), []).append(sibling.id)
    out += [Clue("asset", f"key {k} (of {', '.join(p)})", -1) for k, p in sorted(foreign_assets.items())]
    out += [Clue("token", f"{s} {t} (of {', '.join(p)})", -1) for (s, t), p in sorted(foreign_tokens.items())]
    return out


def _archive_clues(product: Product, ev: ItemEvidence) -> list[Clue]:
    start, end = product.evidence.archive
    if ev.date is None or (start is None and end is None):
        return []
    if (start and ev.date < _dt.date.fromisoformat(start)) or (end and ev.date > _dt.date.fromisoformat(end)):
        span = f"{start or '..'}/{end or '..'}"
        return [Clue("archive", f"acquired {ev.date} outside {span}", 0, against=True)]
    return []


def weigh(
    profile: SensorProfile, product: Product, ev: ItemEvidence, catalogue: str | None = None
) -> Verdict:
    """Every clue the item gives for or against ``product`` (pure)."""
    clues = _property_clues(product, ev)
    if catalogue == f"{profile.id}:{product.id}":
        clues.append(Clue("catalogue", "maps the collection to it", CATALOGUE_WEIGHT))
    clues += _sibling_clues(profile, product, ev) + _archive_clues(product, ev)
    return Verdict(profile, product, tuple(clues))


@dataclass(frozen=True)
class Identification:
    """The result of identifying an item: its profile and product (None: no profile fits), and why."""

    profile: SensorProfile | None
    product: Product | None
    how: str
    """``"sensor= argument"``, ``"eotk:sensor property"``, ``"evidence"`` or ``"no profile"``."""
    verdicts: tuple[Verdict, ...] = ()
    """Every product weighed, best first."""

    def explain(self) -> str:
        """Lines saying what was decided, the evidence of every candidate and why the others are out."""
        head = (
            f"identified as {self.profile.id}:{self.product.id} ({self.how})"
            if self.profile is not None and self.product is not None
            else "no sensor profile fits: the item is read from its own metadata"
        )
        lines = [head]
        lines += [f"  {v.describe()}" for v in self.verdicts if v.candidate]
        out = [v for v in self.verdicts if v.excluded]
        if out:
            reasons = "; ".join(f"{v.ref} ({next(c.detail for c in v.clues if c.against)})" for v in out)
            lines.append(f"  excluded: {reasons}")
        return "\n".join(lines)


def _said(ev: ItemEvidence) -> str:
    keys = ["collection", "constellation", "platform", "instruments", "processing:level", "s2:product_type"]
    keys += ["landsat:correction", "landsat:collection_number", SENSOR_PROPERTY]
    said = {k: sorted(ev.lookup(k)) for k in keys}
    text = ", ".join(f"{k}={v[0] if len(v) == 1 else v}" for k, v in said.items() if v)
    return text or "nothing about collection, platform or instruments"


#: The fix named by identification errors.
HINT = (
    "Pass sensor='sensor:product' (eo sensors lists them), search through a catalogue definition that maps "
    f"the collection, set the item property {SENSOR_PROPERTY!r}, or add a profile whose 'match' rule fits"
)


Fits = Callable[[SensorProfile], bool]
"""Whether the item holds any measurement band of a profile (checked against its assets by the caller)."""


def _fitting(verdict: Verdict, fits: Fits | None, cache: dict[str, bool]) -> Verdict:
    if fits is None or not verdict.candidate:
        return verdict
    if verdict.profile.id not in cache:
        cache[verdict.profile.id] = fits(verdict.profile)
    if cache[verdict.profile.id]:
        return verdict
    clue = Clue("bands", "none of the profile's bands is among the item's assets", 0, against=True)
    return Verdict(verdict.profile, verdict.product, (*verdict.clues, clue))


def identify_evidence(
    known: Mapping[str, SensorProfile],
    ev: ItemEvidence,
    catalogue: str | None = None,
    fits: Fits | None = None,
) -> Identification:
    """Identify from gathered evidence against an explicit set of profiles (pure).

    ``fits`` excludes products whose profile describes none of the item's bands (a product derived
    from a sensor's data under the provider's own band names, such as another agency's analysis-ready
    data: its properties name the sensor, but the profile's radiometry would be wrong for it).
    Raises :class:`UnknownSensorError` for a tie; returns an :class:`Identification` whose
    ``profile`` is None when no product is a candidate.
    """
    ref = ev.properties.get(SENSOR_PROPERTY)
    if isinstance(ref, str) and ":" in ref:
        profile, product = get_product(ref)
        return Identification(profile, product, f"{SENSOR_PROPERTY} property")
    cache: dict[str, bool] = {}
    verdicts = [
        _fitting(weigh(p, pr, ev, catalogue), fits, cache)
        for p in known.values()
        for pr in p.products.values()
    ]
    verdicts.sort(key=lambda v: (not v.candidate, -v.score, v.ref))
    candidates = [v for v in verdicts if v.candidate]
    if not candidates:
        return Identification(None, None, "no profile", tuple(verdicts))
    best = candidates[0].score
    top = [v for v in candidates if v.score == best]
    if len(top) > 1:
        names = ", ".join(v.ref for v in top)
        evidence = " | ".join(v.describe() for v in top)
        raise UnknownSensorError(
            f"the item matches several sensor products equally well ({names}; it says: {_said(ev)}); "
            f"evidence: {evidence}. {HINT}"
        )
    return Identification(top[0].profile, top[0].product, "evidence", tuple(verdicts))


def identify_item(
    item: Mapping[str, Any], catalogue: str | None = None, fits: Fits | None = None
) -> Identification:
    """Identify a STAC item dict against the known profiles (see the module docstring).

    ``catalogue`` is the ``"sensor:product"`` a catalogue definition maps the item's collection to;
    ``fits`` as in :func:`identify_evidence`.
    """
    return identify_evidence(profiles(), gather(item), catalogue, fits)


def identify_in(
    known: Mapping[str, SensorProfile], properties: Mapping[str, Any], collection: str | None = None
) -> tuple[SensorProfile, Product]:
    """:func:`identify` against an explicit set of profiles (pure)."""
    ev = gather({"properties": properties, "collection": collection})
    found = identify_evidence(known, ev)
    if found.profile is None or found.product is None:
        listing = "; ".join(f"{p.id} ({', '.join(p.products)})" for p in known.values())
        raise UnknownSensorError(
            f"no sensor profile matches the item (it says: {_said(ev)}); known profiles: {listing}. {HINT}"
        )
    return found.profile, found.product


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
        said and the known profiles.  (:func:`identify_item` weighs the whole item, asset keys
        and ids included, and returns "no profile" instead of raising.)

    Examples
    --------
    >>> profile, product = identify({"platform": "sentinel-2a", "s2:product_type": "S2MSI2A"})
    >>> profile.id, product.id
    ('sentinel-2-msi', 'l2a')
    """
    return identify_in(profiles(), properties, collection)
