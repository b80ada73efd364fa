"""Offline validation of STAC JSON against vendored schemas.

The schemas live in ``eo/catalog/schemas/`` in a tree that mirrors their URLs
(``schemas/<host>/<path>`` is ``https://<host>/<path>``): STAC 1.1.0 core (item, collection,
catalog and the common-metadata fragments), the GeoJSON Feature/Geometry schemas they
reference, and the extensions eo writes: projection v2.0.0, eo v1.1.0 and raster v1.1.0.
Every ``$ref`` resolves through a :class:`referencing.Registry` built from those files (plus
the JSON Schema meta-schemas bundled with ``jsonschema``); a reference to anything else raises
:class:`SchemaNotVendoredError` instead of fetching it.  Validation never touches the network.

Functions return nothing when the document is valid and raise :class:`StacValidationError`
listing every violation (JSON path and message) otherwise; :func:`stac_errors` returns the list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7

from eo.errors import SchemaNotVendoredError, StacValidationError

#: Directory of the vendored schemas (``<host>/<path>`` mirrors ``https://<host>/<path>``).
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

_CORE = "https://schemas.stacspec.org/v1.1.0"
#: Core schema URL per STAC ``type``.
CORE_SCHEMAS: dict[str, str] = {
    "Feature": f"{_CORE}/item-spec/json-schema/item.json",
    "Collection": f"{_CORE}/collection-spec/json-schema/collection.json",
    "Catalog": f"{_CORE}/catalog-spec/json-schema/catalog.json",
}


def _refuse_retrieval(uri: str) -> Resource[Any]:
    """Registry hook: never fetch; name the schema that is missing."""
    raise SchemaNotVendoredError(
        f"schema {uri!r} is not vendored in {SCHEMA_DIR}; eo validates offline only. "
        f"Vendored: {', '.join(vendored_schemas())}. Add the file under schemas/<host>/<path> to use it."
    )


def _url_of(path: Path) -> str:
    return "https://" + path.relative_to(SCHEMA_DIR).as_posix()


@cache
def _resources() -> dict[str, Resource[Any]]:
    out: dict[str, Resource[Any]] = {}
    for path in sorted(SCHEMA_DIR.rglob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        out[_url_of(path)] = Resource.from_contents(contents, default_specification=DRAFT7)
    return out


def vendored_schemas() -> list[str]:
    """URLs of every vendored schema, sorted."""
    return sorted(_resources())


@cache
def schema_registry() -> Registry[Any]:
    """Return a registry holding every vendored schema under its URL (and its ``$id``); it never fetches."""
    registry: Registry[Any] = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]
    return registry.with_resources(_resources().items()).crawl()


def _validator(url: str) -> Draft7Validator:
    resources = _resources()
    if url.rstrip("#") not in resources:
        _refuse_retrieval(url)
    schema = resources[url.rstrip("#")].contents
    return Draft7Validator(schema, registry=schema_registry(), format_checker=Draft7Validator.FORMAT_CHECKER)


def _describe(error: ValidationError) -> str:
    """``/json/path: message`` of the most specific cause (``oneOf``/``anyOf`` are unpacked)."""
    leaf = error
    while leaf.context:  # the deepest cause is the one a reader can act on
        leaf = max(leaf.context, key=lambda e: len(e.absolute_path))
    message = leaf.message if len(leaf.message) <= 200 else leaf.message[:197] + "..."
    return "/" + "/".join(str(p) for p in leaf.absolute_path) + ": " + message


def stac_errors(obj: Mapping[str, Any]) -> list[str]:
    """Every schema violation of a STAC Item, Collection or Catalog (empty when valid).

    The core schema is chosen from ``type`` (STAC ``stac_version`` must be ``1.1.0``); each URL in
    ``stac_extensions`` is validated with its vendored schema.  Raises
    :class:`SchemaNotVendoredError` for an extension (or ``$ref``) that is not vendored.
    """
    kind = obj.get("type")
    if kind not in CORE_SCHEMAS:
        return [f"/type: expected one of {sorted(CORE_SCHEMAS)}, found {kind!r}"]
    if obj.get("stac_version") != "1.1.0":
        return [f"/stac_version: eo vendors STAC 1.1.0 schemas only, found {obj.get('stac_version')!r}"]
    urls = [CORE_SCHEMAS[kind], *obj.get("stac_extensions", [])]
    errors: list[str] = []
    for url in urls:
        try:
            found = sorted(_validator(url).iter_errors(obj), key=lambda e: list(e.absolute_path))
        except Unresolvable as err:  # a $ref to a schema that is not vendored: never fetched
            ref = getattr(err, "ref", "?")
            raise SchemaNotVendoredError(
                f"{url} refers to {ref}, which is not vendored in {SCHEMA_DIR}"
            ) from err
        errors += [f"{_describe(e)} [{url}]" for e in found]
    return errors


def _validate(obj: Mapping[str, Any], expected: str) -> None:
    if obj.get("type") != expected:
        raise StacValidationError(f"expected a STAC {expected}, found type {obj.get('type')!r}", [])
    errors = stac_errors(obj)
    if errors:
        head = "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
        raise StacValidationError(f"{expected} {obj.get('id')!r} is not valid STAC: {head}", errors)


def validate_item(item: Mapping[str, Any]) -> None:
    """Validate a STAC Item dict offline; raise :class:`StacValidationError` if it is invalid."""
    _validate(item, "Feature")


def validate_collection(collection: Mapping[str, Any]) -> None:
    """Validate a STAC Collection dict offline; raise :class:`StacValidationError` if it is invalid."""
    _validate(collection, "Collection")


def validate_catalog(catalog: Mapping[str, Any]) -> None:
    """Validate a STAC Catalog dict offline; raise :class:`StacValidationError` if it is invalid."""
    _validate(catalog, "Catalog")
