"""Catalogue definitions: the YAML files in ``catalogs/`` read into frozen records.

A definition names a STAC API (``url``) or the built-in local catalogue (``kind: local``),
maps each collection it knows to a sensor profile + product and to the asset key of each
band (common name -> asset key), and carries per-catalogue policy knobs read by later
stages (e.g. ``boa_offset_policy`` for Earth Search, read by radiometry).  Files are
validated on load against :data:`SCHEMA`; an invalid file raises
:class:`~eo.errors.CatalogDefinitionError` naming the file and the key.

Search directories come from :func:`eo.config.catalog_paths` (``EO_CATALOG_PATH`` first); a
name defined in several directories is taken from the first.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eo import config, documents
from eo.catalog.records import CatalogContext
from eo.errors import CatalogDefinitionError, DependencyError, UnknownCatalogError

#: Values of the ``boa_offset_policy`` knob (Sentinel-2 L2A +1000 BOA offset of baseline >= 04.00):
#: trust the item's ``earthsearch:boa_offset_applied``; decide from ``s2:processing_baseline``;
#: assume every item has / has not had the offset removed.
BOA_OFFSET_POLICIES = ("from-item", "from-baseline", "applied", "not-applied")

_NAME = r"^[a-z0-9][a-z0-9_.-]*$"

#: JSON schema of one catalogue definition file.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "kind"],
    "properties": {
        "name": {"type": "string", "pattern": _NAME},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "kind": {"enum": ["api", "local"]},
        "url": {"type": "string", "pattern": "^https?://"},
        "path": {"type": ["string", "null"]},
        "default": {"type": "boolean"},
        "modifier": {"type": "string", "pattern": r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$"},
        "modifier_package": {"type": "string"},
        "collections": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["product", "assets"],
                "anyOf": [{"required": ["sensor"]}, {"required": ["platforms"]}],
                "properties": {
                    "sensor": {"type": "string", "pattern": _NAME},
                    "product": {"type": "string", "pattern": _NAME},
                    "assets": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
                    "platforms": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["sensor"],
                            "properties": {
                                "sensor": {"type": "string", "pattern": _NAME},
                                "assets": {
                                    "type": "object",
                                    "additionalProperties": {"type": ["string", "null"], "minLength": 1},
                                },
                            },
                        },
                    },
                },
            },
        },
        "policy": {
            "type": "object",
            "properties": {
                "boa_offset_policy": {"enum": list(BOA_OFFSET_POLICIES)},
                "asset_access": {"enum": ["public", "signed", "s3-credentials"]},
            },
        },
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "api"}}}, "then": {"required": ["url"]}},
    ],
}


def normalise_platform(value: Any) -> str:
    """Platform spelling used for matching: lower case, ``_`` -> ``-`` (``LANDSAT_8`` -> ``landsat-8``)."""
    return str(value).strip().lower().replace("_", "-").replace(" ", "-")


@dataclass(frozen=True)
class PlatformMapping:
    """Sensor (and asset-key overrides) for the items of one platform in a mixed collection."""

    sensor: str
    assets: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    """Overrides merged over the collection's ``assets``; a None value removes the band."""


@dataclass(frozen=True)
class CollectionMapping:
    """How eo reads one collection of a catalogue."""

    id: str
    sensor: str | None
    """Sensor profile id (``"sentinel-2-msi"``); None when only ``platforms`` decide."""
    product: str
    """Product id within the profile (``"l2a"``)."""
    assets: Mapping[str, str]
    """Band key (profile common name or band name) -> asset key in the items (``{"red": "B04"}``)."""
    platforms: Mapping[str, PlatformMapping] = field(default_factory=lambda: MappingProxyType({}))
    """Per-platform sensor for collections mixing platforms (``landsat-c2-l2``), by normalised platform."""

    def for_item(self, properties: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
        """``("<sensor>:<product>", {band: asset key})`` for an item of this collection.

        The item's ``platform`` picks an entry of ``platforms`` when one matches; otherwise
        the collection's ``sensor`` applies; None when neither does.
        """
        plat = self.platforms.get(normalise_platform(properties.get("platform", "")))
        if plat is None:
            if self.sensor is None:
                return None
            return f"{self.sensor}:{self.product}", dict(self.assets)
        assets = {**self.assets, **plat.assets}
        return f"{plat.sensor}:{self.product}", {k: v for k, v in assets.items() if v is not None}


@dataclass(frozen=True)
class CatalogDefinition:
    """One catalogue eo can search (see the module docstring)."""

    name: str
    kind: str
    """``"api"`` (a STAC API at ``url``) or ``"local"`` (a static catalogue served on loopback)."""
    url: str | None = None
    path: Path | None = None
    """Directory of a local catalogue; None means :func:`eo.config.local_catalog_dir`."""
    title: str = ""
    description: str = ""
    default: bool = False
    modifier: str | None = None
    """Dotted name of a pystac-client ``modifier`` callable (URL signing), imported on use."""
    modifier_package: str | None = None
    """pip package providing ``modifier`` (named in the error when it is missing)."""
    collections: Mapping[str, CollectionMapping] = field(default_factory=lambda: MappingProxyType({}))
    policy: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: Path | None = None
    """The YAML file this definition was read from (None for ad-hoc URL definitions)."""

    def collection(self, collection_id: str | None) -> CollectionMapping | None:
        """Return the mapping of ``collection_id`` (None when this catalogue does not define it)."""
        return self.collections.get(collection_id) if collection_id else None

    def context(self, item: Mapping[str, Any]) -> CatalogContext:
        """What this catalogue says of one of its items (a STAC item dict): sensor, asset keys, policy."""
        mapping = self.collection(item.get("collection"))
        found = mapping.for_item(item.get("properties") or {}) if mapping is not None else None
        sensor, assets = found if found is not None else (None, {})
        keys = item.get("assets") or {}
        return CatalogContext(
            name=self.name,
            sensor=sensor,
            assets={band: key for band, key in assets.items() if key in keys},
            boa_offset_policy=self.policy.get("boa_offset_policy"),
        )

    def local_dir(self) -> Path:
        """Directory of the local catalogue (only for ``kind == "local"``)."""
        return self.path if self.path is not None else config.local_catalog_dir()

    def load_modifier(self) -> Callable[[Any], Any] | None:
        """Import the ``modifier`` callable; :class:`DependencyError` if its package is missing."""
        if not self.modifier:
            return None
        module_name, _, attr = self.modifier.rpartition(".")
        package = self.modifier_package or module_name.split(".")[0].replace("_", "-")
        if importlib.util.find_spec(module_name.split(".")[0]) is None:
            raise DependencyError(
                f"catalogue {self.name!r} signs its URLs with {self.modifier}, but {module_name!r} is not "
                f"installed; run `pip install {package}`"
            )
        fn = getattr(importlib.import_module(module_name), attr, None)
        if not callable(fn):
            raise CatalogDefinitionError(f"{self.source}: modifier {self.modifier!r} is not a callable")
        return fn


def _collection(cid: str, c: Mapping[str, Any]) -> CollectionMapping:
    platforms = {
        normalise_platform(name): PlatformMapping(p["sensor"], MappingProxyType(dict(p.get("assets") or {})))
        for name, p in (c.get("platforms") or {}).items()
    }
    return CollectionMapping(
        cid, c.get("sensor"), c["product"], MappingProxyType(dict(c["assets"])), MappingProxyType(platforms)
    )


def parse_definition(data: Any, source: Path | str = "<memory>") -> CatalogDefinition:
    """Validate a definition mapping (as read from YAML) and build its record."""
    return _build(documents.Document(data, str(source)), Path(source))


def _build(doc: documents.Document, src: Path) -> CatalogDefinition:
    documents.validate(doc, SCHEMA, CatalogDefinitionError, "see catalogs/README.md for the schema")
    data = doc.data
    source = str(src)
    collections = {cid: _collection(cid, c) for cid, c in (data.get("collections") or {}).items()}
    path = data.get("path")
    local = (src.parent / Path(path).expanduser()) if path else None
    return CatalogDefinition(
        name=data["name"],
        kind=data["kind"],
        url=data.get("url", "").rstrip("/") or None,
        path=local,
        title=data.get("title", ""),
        description=data.get("description", ""),
        default=bool(data.get("default", False)),
        modifier=data.get("modifier"),
        modifier_package=data.get("modifier_package"),
        collections=MappingProxyType(collections),
        policy=MappingProxyType(dict(data.get("policy") or {})),
        source=src if str(source) != "<memory>" else None,
    )


def load_definition(path: Path) -> CatalogDefinition:
    """Read and validate one definition file (errors name the file, the line and the key)."""
    doc = documents.read(path, CatalogDefinitionError, "catalogue definition")
    if not isinstance(doc.data, dict):
        raise CatalogDefinitionError(f"{path}: expected a mapping, found {type(doc.data).__name__}")
    definition = _build(doc, path)
    if definition.name != path.stem:
        raise doc.error(
            ("name",),
            f"{definition.name!r} differs from the file name; name the file {definition.name}.yaml",
            CatalogDefinitionError,
        )
    return definition


def _definitions(paths: list[Path] | None = None) -> dict[str, CatalogDefinition]:
    found: dict[str, CatalogDefinition] = {}
    for directory in config.catalog_paths() if paths is None else paths:
        for f in sorted(directory.glob("*.yaml")):
            if f.stem not in found:
                found[f.stem] = load_definition(f)
    return found


def list_catalogs(paths: list[Path] | None = None) -> list[CatalogDefinition]:
    """Every catalogue definition found in the search directories, sorted by name."""
    return sorted(_definitions(paths).values(), key=lambda d: d.name)


def default_catalog(paths: list[Path] | None = None) -> str:
    """Name of the default catalogue (the one marked ``default: true``, else ``"local"``)."""
    defaults = [d.name for d in list_catalogs(paths) if d.default]
    return defaults[0] if defaults else "local"


def _static_catalog(text: str) -> Path | None:
    """The ``catalog.json`` a path names (the file, or a directory holding one), else None."""
    if _is_url(text):
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "catalog.json"
    return path.resolve() if path.is_file() and path.suffix == ".json" else None


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def get_catalog(name_or_url: str, paths: list[Path] | None = None) -> CatalogDefinition:
    """Return the definition of a catalogue given by name or by STAC API URL.

    A URL matching a definition's ``url`` returns that definition (so its collection
    mappings apply); any other http(s) URL returns a bare definition without mappings.  A path to a
    static catalogue (its ``catalog.json``, or the directory holding it, such as a pipeline's output
    directory) returns a local definition: it is served on loopback for the search.
    Raises :class:`UnknownCatalogError` listing the known names otherwise.
    """
    defs = _definitions(paths)
    if name_or_url in defs:
        return defs[name_or_url]
    local = _static_catalog(name_or_url)
    if local is not None:
        return CatalogDefinition(name=str(local), kind="local", path=local.parent)
    if _is_url(name_or_url):
        url = name_or_url.rstrip("/")
        for d in defs.values():
            if d.url == url:
                return d
        return CatalogDefinition(name=url, kind="api", url=url)
    raise UnknownCatalogError(
        f"unknown catalogue {name_or_url!r}; known: {', '.join(sorted(defs)) or '(none)'}; "
        "or give a STAC API URL (https://...), or add a definition to a directory in EO_CATALOG_PATH"
    )
