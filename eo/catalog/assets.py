"""What an item's metadata says about its assets and their bands (pure, no I/O).

- **Band metadata**: STAC 1.0 ``raster:bands`` / ``eo:bands`` lists, STAC 1.1 ``bands`` with
  asset-level ``nodata`` / ``data_type`` / ``unit`` / ``raster:scale`` / ``raster:offset`` and
  ``eo:common_name``, and 0.x (beta) items with ``eo:bands`` on the item properties and integer band
  indices on assets.  An asset holds as many bands as its longest band list (at least one).
- **Classification extension** (``classification:classes``, ``classification:bitfields``, on the
  asset or inside one of its band entries, v1.0-v2.0; or the file extension's ``file:values``) read
  into CF-style :class:`Flag` records.
- **Data assets**: assets whose roles or media type say they are previews or metadata (``visual``,
  ``thumbnail``, ``overview``, ``metadata``; JPEG/PNG/JSON/XML/text) carry no measurements.
- **Resolution variants**: providers repeat a band at several resolutions under suffixed keys
  (``B02_10m``/``B02_20m``/``B02_60m``, ``SCL_20m``, ``SCL-60m``); :func:`resolution_variant` splits
  such a key into its base and its pixel size so the finest can be chosen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eo.catalog.records import Flag

#: Asset roles that never carry measurement data.
SKIP_ROLES = frozenset({"visual", "thumbnail", "overview"})
#: Media types that never carry measurement data.  HDF and netCDF containers are skipped too: their
#: bands are subdatasets, not band indices of one raster.
SKIP_MEDIA = (
    "image/jpeg", "image/png", "application/json", "text/", "application/xml", "application/geo+json",
    "application/x-hdf", "application/netcdf", "application/x-netcdf",
)  # fmt: skip
#: Media types of rasters (an asset of role ``metadata`` with one of these is a QA raster, not a document).
RASTER_MEDIA = ("image/tiff", "image/jp2", "image/vnd.stac.geotiff")
#: Href endings of files that never carry measurement data (for assets without a media type).
SKIP_SUFFIXES = (
    ".xml", ".json", ".jpg", ".jpeg", ".png", ".html", ".txt", ".safe", ".zip", ".tar", ".mtl",
    ".hdf", ".h5", ".nc",
)  # fmt: skip
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt")

_VARIANT = re.compile(r"^(?P<base>.+?)[_-](?P<res>\d+(?:\.\d+)?)m$", re.IGNORECASE)


def is_data_asset(asset: Mapping[str, Any]) -> bool:
    """Whether an asset may hold measurements (not a preview, thumbnail or metadata document).

    An asset of role ``metadata`` counts when it is a raster (by media type or href): providers give
    QA rasters that role.
    """
    roles = {str(r).lower() for r in asset.get("roles") or ()}
    media = str(asset.get("type") or "").lower()
    href = str(asset.get("href") or "").lower().split("?", 1)[0]
    if roles & SKIP_ROLES or media.startswith(SKIP_MEDIA) or (not media and href.endswith(SKIP_SUFFIXES)):
        return False
    if "metadata" in roles:
        return media.startswith(RASTER_MEDIA) or (not media and href.endswith(RASTER_SUFFIXES))
    return True


def resolution_variant(key: str) -> tuple[str, float] | None:
    """``(base key, metres)`` of a resolution-suffixed asset key, else None.

    >>> resolution_variant("B02_20m"), resolution_variant("SCL-60m"), resolution_variant("red")
    (('B02', 20.0), ('SCL', 60.0), None)
    """
    match = _VARIANT.match(key)
    return (match.group("base"), float(match.group("res"))) if match else None


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _first(key: str, *sources: Mapping[str, Any]) -> Any:
    for s in sources:
        if s.get(key) is not None:
            return s[key]
    return None


def _entries(asset: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = asset.get(name)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [e if isinstance(e, Mapping) else {} for e in value]


def band_count(asset: Mapping[str, Any]) -> int:
    """Number of bands the asset's metadata describes (at least 1)."""
    return max(1, *(len(_entries(asset, k)) for k in ("raster:bands", "eo:bands", "bands")))


def raster_band(asset: Mapping[str, Any], band_index: int = 1) -> dict[str, Any]:
    """``nodata``, ``data_type``, ``scale``, ``offset``, ``unit`` of one band of an asset.

    Reads STAC 1.0 ``raster:bands`` entries, STAC 1.1 ``bands`` entries and asset-level fields
    (entry fields win).  Absent values are left out of the result; ``nodata`` may be NaN
    (``"nan"`` in JSON).
    """
    entries = _entries(asset, "raster:bands") or _entries(asset, "bands")
    entry: Mapping[str, Any] = entries[band_index - 1] if 0 < band_index <= len(entries) else {}
    out: dict[str, Any] = {}
    for name in ("nodata", "data_type", "scale", "offset", "unit"):
        value = _first(name, entry, asset)
        if value is None:
            value = _first(f"raster:{name}", entry, asset)
        if value is not None:
            out[name] = value
    for name in ("nodata", "scale", "offset"):
        if name in out:
            num = _number(out[name])
            if num is None:
                del out[name]
            else:
                out[name] = num
    return out


@dataclass(frozen=True)
class BandNames:
    """The names one band of an asset is given by its ``eo:bands`` / ``bands`` entry."""

    name: str | None = None
    common_name: str | None = None
    center_wavelength: float | None = None
    """Micrometres."""
    full_width_half_max: float | None = None
    gsd: float | None = None

    def lower(self) -> set[str]:
        """The lower-cased names (for matching)."""
        return {n.lower() for n in (self.name, self.common_name) if n}


def band_names(asset: Mapping[str, Any], props: Mapping[str, Any]) -> list[BandNames]:
    """Per band of the asset, what its ``eo:bands`` (or STAC 1.1 ``bands``) entry names.

    Asset ``eo:bands`` entries may be dicts or, in 0.x items, integer indices into the item's
    ``eo:bands``.  An asset without band entries gives an empty list.
    """
    item_bands = props.get("eo:bands") or []
    raw = asset.get("eo:bands") or asset.get("bands") or []
    out: list[BandNames] = []
    for e in raw if isinstance(raw, Sequence) else ():
        if isinstance(e, int) and 0 <= e < len(item_bands):
            e = item_bands[e]
        if not isinstance(e, Mapping):
            out.append(BandNames())
            continue
        common = e.get("common_name") or e.get("eo:common_name")
        out.append(
            BandNames(
                name=str(e["name"]) if e.get("name") else None,
                common_name=str(common) if common else None,
                center_wavelength=_number(e.get("center_wavelength") or e.get("eo:center_wavelength")),
                full_width_half_max=_number(e.get("full_width_half_max") or e.get("eo:full_width_half_max")),
                gsd=_number(e.get("gsd")),
            )
        )
    return out


# --- classification extension ------------------------------------------------------------


def _class_name(c: Mapping[str, Any]) -> str | None:
    name = c.get("name") or c.get("description") or c.get("title")
    return str(name).strip() if name else None


def _classes(entries: Any, field_name: str | None, offset: int, length: int | None) -> list[Flag]:
    out: list[Flag] = []
    for c in entries if isinstance(entries, Sequence) else ():
        if not isinstance(c, Mapping) or not isinstance(c.get("value"), int) or isinstance(c["value"], bool):
            continue
        name = "nodata" if c.get("nodata") is True else _class_name(c)
        if name is None:
            continue
        meaning = f"{field_name}.{name}" if field_name else name
        if length is None:
            out.append(Flag(int(c["value"]), meaning))
        else:
            mask = ((1 << length) - 1) << offset
            out.append(Flag(int(c["value"]) << offset, meaning, mask))
    return out


def _file_values(entries: Any) -> list[Flag]:
    """``file:values`` (file extension 2.x): ``[{"values": [..], "summary": "..."}]`` -> exclusive classes."""
    out = []
    for e in entries if isinstance(entries, Sequence) and not isinstance(entries, str) else ():
        if isinstance(e, Mapping) and e.get("summary"):
            out += [Flag(int(v), str(e["summary"])) for v in e.get("values") or () if isinstance(v, int)]
    return out


def classification_flags(container: Mapping[str, Any]) -> tuple[Flag, ...]:
    """:class:`Flag` records of a band's classification table (asset or band entry).

    The classification extension's ``classes`` / ``bitfields``, else the file extension's ``file:values``.
    """
    flags = _classes(container.get("classification:classes"), None, 0, None)
    if not flags and not container.get("classification:bitfields"):
        return tuple(_file_values(container.get("file:values")))
    for bf in container.get("classification:bitfields") or ():
        if not isinstance(bf, Mapping) or not isinstance(bf.get("offset"), int):
            continue
        length = bf["length"] if isinstance(bf.get("length"), int) else 1
        name = str(bf["name"]) if bf.get("name") else None
        flags += _classes(bf.get("classes"), name, int(bf["offset"]), int(length))
    return tuple(flags)


def band_flags(asset: Mapping[str, Any], band_index: int = 1) -> tuple[Flag, ...]:
    """Classification flags of one band: its band entry's, else the asset's."""
    for name in ("raster:bands", "bands"):
        entries = _entries(asset, name)
        if 0 < band_index <= len(entries):
            found = classification_flags(entries[band_index - 1])
            if found:
                return found
    return classification_flags(asset)
