"""Quality and classification bands described by flags: STAC classification tables, CF attributes, QA tables.

A flag table (:class:`~eo.catalog.records.Flag` records) says which values of a band mean what.  It
comes from an item's STAC classification extension (``classification:classes``,
``classification:bitfields``) or from a sensor profile's QA table, travels with a loaded QA variable
as CF attributes (``flag_values``, ``flag_masks``, ``flag_meanings``: :func:`to_attrs`,
:func:`from_attrs`), and becomes the :class:`~eo.sensors.model.QADecoding` that :func:`eo.mask`
decodes (:func:`decoding`).

The provider's meanings are mapped to eo's mask classes (:data:`eo.sensors.model.MASK_CLASSES`) by
:data:`SYNONYMS`: ``no_data``/``fill`` -> ``nodata``; ``cloud_shadows`` -> ``shadow``;
``cloud_high_probability`` -> ``cloud`` and ``cloud_high``; ``thin_cirrus`` -> ``cirrus``;
``snow_ice`` -> ``snow``; a bit field ``dilated_cloud`` -> ``cloud``; ``cloud_confidence.high`` ->
``cloud_high``...  In a bit field of one bit only the value 1 counts; negated classes (``not_cloud``)
never count.  Meanings no synonym covers are kept but mask nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eo.catalog.records import Flag
from eo.sensors.model import MASK_CLASSES, BitField, QADecoding

#: eo mask class -> provider meanings (normalised: lower case, ``_`` for spaces, ``-`` and ``/``).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "nodata": ("no_data", "fill", "fill_value", "missing", "no_observation", "not_observed"),
    "saturated": ("saturated_or_defective", "defective", "saturation", "radiometric_saturation"),
    "cloud": (
        "clouds",
        "cloudy",
        "opaque_cloud",
        "opaque_clouds",
        "cloud_high_probability",
        "cloud_medium_probability",
        "high_confidence_cloud",
        "dilated_cloud",
    ),
    "cloud_high": ("cloud_high_probability", "high_confidence_cloud", "cloud_confidence.high"),
    "cloud_medium": ("cloud_medium_probability", "cloud_confidence.medium"),
    "shadow": ("cloud_shadow", "cloud_shadows", "shadows", "cloudshadow"),
    "cirrus": ("thin_cirrus", "cirrus_cloud", "cirrus_clouds", "high_confidence_cirrus"),
    "snow": ("snow_ice", "snow_and_ice", "snow_or_ice", "ice", "snow_ice_cover"),
    "water": ("water_bodies", "water_body", "open_water", "permanent_water_bodies", "permanent_water"),
    "clear": ("clear_sky",),
}

#: Normalised meaning -> eo mask classes (each class name also means itself).
_INDEX: dict[str, frozenset[str]] = {}
for _cls, _names in SYNONYMS.items():
    for _name in (_cls, *_names):
        _INDEX[_name] = _INDEX.get(_name, frozenset()) | {_cls}
for _cls in MASK_CLASSES:  # eo's own names mean exactly themselves
    _INDEX[_cls] = frozenset({_cls})

_NEGATIONS = ("not_", "non_", "no_", "without_")


def _norm(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").replace("/", " ").split())


def _negated(name: str) -> bool:
    return name.startswith(_NEGATIONS) and name not in _INDEX


def mask_classes(flag: Flag) -> frozenset[str]:
    """The eo mask classes a flag means (empty when none does)."""
    if flag.mask is None:  # an exclusive value: its name alone
        name = _norm(flag.meaning)
        return frozenset() if _negated(name) else _INDEX.get(name, frozenset())
    field, _, cls = flag.meaning.rpartition(".")
    field, cls = _norm(field), _norm(cls)
    one_bit = bin(flag.mask).count("1") == 1
    if _negated(cls) or (field and one_bit and flag.value == 0):
        return frozenset()  # a negated class, or a one-bit field that is not set
    for candidate in (f"{field}.{cls}" if field else "", field if one_bit else "", cls):
        if candidate and candidate in _INDEX:
            return _INDEX[candidate]
    return frozenset()


def _low_bit(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


def decoding(flags: Sequence[Flag], band: str) -> QADecoding | None:
    """The QA decoding table of a flag table (None when no flag means an eo mask class).

    Exclusive values (no masks) give a ``classes`` table; masked flags a ``bits`` table.
    """
    classes: dict[str, list[int]] = {}
    bits: dict[str, list[BitField]] = {}
    for f in flags:
        for cls in sorted(mask_classes(f)):
            if f.mask is None:
                classes.setdefault(cls, []).append(f.value)
            else:
                low = _low_bit(f.mask)
                width = (f.mask >> low).bit_length()
                bits.setdefault(cls, []).append(BitField(low, width, ((f.value & f.mask) >> low,)))
    if bits:
        for cls, values in classes.items():  # exclusive values in a bit table: whole-value fields
            bits.setdefault(cls, []).extend(BitField(0, 16, (v,)) for v in values)
        return QADecoding(band=band, kind="bits", bits={k: tuple(v) for k, v in bits.items()})
    if classes:
        return QADecoding(band=band, kind="classes", classes={k: tuple(v) for k, v in classes.items()})
    return None


def from_decoding(qa: QADecoding) -> tuple[Flag, ...]:
    """The flag table of a profile's QA decoding (meanings are eo's class names)."""
    if qa.kind == "classes":
        return tuple(Flag(int(v), name) for name, values in qa.classes.items() for v in values)
    out = []
    for name, fields in qa.bits.items():
        for f in fields:
            mask = ((1 << f.width) - 1) << f.bit
            out += [Flag(int(v) << f.bit, name, mask) for v in f.values]
    return tuple(out)


def to_attrs(flags: Iterable[Flag]) -> dict[str, Any]:
    """CF attributes (``flag_values``, ``flag_meanings``, ``flag_masks`` when any flag has a mask)."""
    flags = list(flags)
    if not flags:
        return {}
    attrs: dict[str, Any] = {
        "flag_values": [int(f.value) for f in flags],
        "flag_meanings": " ".join(_norm(f.meaning) for f in flags),
    }
    if any(f.mask is not None for f in flags):
        attrs["flag_masks"] = [int(f.mask) if f.mask is not None else 0xFFFF for f in flags]
    return attrs


def from_attrs(attrs: Mapping[str, Any]) -> tuple[Flag, ...]:
    """The flag table in a variable's CF attributes (empty when it has none)."""
    values, meanings = attrs.get("flag_values"), attrs.get("flag_meanings")
    if values is None or not meanings:
        return ()
    values = [int(v) for v in (values if isinstance(values, Iterable) else [values])]
    names = str(meanings).split()
    masks = attrs.get("flag_masks")
    mask_list: list[int | None] = (
        [int(m) for m in masks] if isinstance(masks, Iterable) else [None] * len(values)
    )
    if not (len(values) == len(names) == len(mask_list)):
        return ()
    return tuple(Flag(v, n, m) for v, n, m in zip(values, names, mask_list, strict=True))
