"""Load, validate and index sensor profiles (one YAML file per sensor).

Profiles come from two places, lowest priority first:

1. the files packaged with eo (``eo/sensors/*.yaml``);
2. every ``*.yaml`` / ``*.yml`` in the directories of ``EO_SENSOR_PATH``
   (``os.pathsep``-separated, earlier directories win).

A user profile with the id of a packaged one replaces it.  Each file is validated on load
against ``eo/sensors/schema.json`` (JSON Schema 2020-12, through :mod:`eo.documents`) and then by
semantic checks that a schema cannot express (unique band keys, the QA band exists, bit fields fit
in 16 bits, mask class names come from :data:`eo.sensors.model.MASK_CLASSES`).  Any failure raises
:class:`eo.errors.SensorProfileError` naming the file, the line and the key.

Loading does I/O (reads YAML files); the result is cached per value of ``EO_SENSOR_PATH``
and reloaded when that variable changes (or after :func:`clear_cache`).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from eo import documents
from eo.config import SETTINGS, sensor_paths
from eo.documents import Document
from eo.errors import SensorProfileError, UnknownSensorError
from eo.sensors.model import (
    MASK_CLASSES,
    Band,
    BandCalibration,
    BitField,
    Product,
    ProductEvidence,
    QADecoding,
    SensorProfile,
)

#: Directory of the packaged profiles and of ``schema.json``.
PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = PACKAGE_DIR / "schema.json"

_QA_BITS = 16


# --- schema ----------------------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    """Return the JSON Schema of a profile file (parsed ``schema.json``)."""
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        result: dict[str, Any] = json.load(f)
    return result


# --- records --------------------------------------------------------------------------


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def _band(doc: Mapping[str, Any]) -> Band:
    return Band(
        name=doc["name"],
        common_name=doc.get("common_name"),
        aliases=_tuple(doc.get("aliases")),
        asi=doc.get("asi"),
        center_wavelength=doc.get("center_wavelength"),
        full_width_half_max=doc.get("full_width_half_max"),
        resolution=doc.get("resolution"),
        esun=doc.get("esun"),
        kind=doc.get("kind", "measurement"),
    )


def _qa(doc: Mapping[str, Any] | None) -> QADecoding | None:
    if not doc:
        return None
    bits = {
        name: tuple(
            BitField(bit=f["bit"], width=f.get("width", 1), values=tuple(f.get("values", (1,))))
            for f in fields
        )
        for name, fields in (doc.get("bits") or {}).items()
    }
    classes = {name: tuple(int(v) for v in values) for name, values in (doc.get("classes") or {}).items()}
    return QADecoding(band=doc["band"], kind=doc["kind"], classes=classes, bits=bits)


def _evidence(doc: Mapping[str, Any] | None) -> ProductEvidence:
    if not doc:
        return ProductEvidence()
    archive = doc.get("archive") or [None, None]
    return ProductEvidence(
        assets=_tuple(doc.get("assets")),
        tokens=tuple(t.lower() for t in _tuple(doc.get("tokens"))),
        archive=(
            None if archive[0] is None else str(archive[0]),
            None if archive[1] is None else str(archive[1]),
        ),
    )


def _product(pid: str, doc: Mapping[str, Any]) -> Product:
    calib = {
        band: BandCalibration(**{k: float(v) for k, v in c.items() if k != "typical"})
        for band, c in (doc.get("bands") or {}).items()
    }
    nodata = doc.get("nodata")
    return Product(
        id=pid,
        state=doc["state"],
        scale=float(doc.get("scale", 1.0)),
        offset=float(doc.get("offset", 0.0)),
        nodata=None if nodata is None else float(nodata),
        units=doc.get("units"),
        bands=calib,
        qa=_qa(doc.get("qa")),
        match={k: _tuple(v) for k, v in (doc.get("match") or {}).items()},
        evidence=_evidence(doc.get("evidence")),
        notes=str(doc.get("notes", "")).strip(),
    )


def build_profile(doc: Mapping[str, Any], source: str = "") -> SensorProfile:
    """Turn a schema-valid profile document into a :class:`SensorProfile` (no semantic checks)."""
    return SensorProfile(
        id=doc["id"],
        name=doc["name"],
        version=str(doc["version"]),
        bands=tuple(_band(b) for b in doc["bands"]),
        products={pid: _product(pid, p) for pid, p in doc["products"].items()},
        constellation=_tuple(doc.get("constellation")),
        platforms=_tuple(doc.get("platforms")),
        instruments=_tuple(doc.get("instruments")),
        references=_tuple(doc.get("references")),
        source=source,
    )


# --- semantic checks ------------------------------------------------------------------


@cache
def asi_symbols() -> frozenset[str]:
    """Return the Awesome-Spectral-Indices band symbols (spyndex ``bands.json``); empty without spyndex."""
    spec = importlib.util.find_spec("spyndex")
    if spec is None or spec.origin is None:
        return frozenset()
    path = Path(spec.origin).parent / "data" / "bands.json"
    if not path.is_file():
        return frozenset()
    with path.open(encoding="utf-8") as f:
        return frozenset(json.load(f))


def _check_bands(profile: SensorProfile) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    symbols = asi_symbols()
    for i, band in enumerate(profile.bands):
        for key in band.keys:
            low = key.lower()
            if low in seen and seen[low] != i:
                other = profile.bands[seen[low]].name
                problems.append(
                    f"bands[{i}]: key {key!r} of band {band.name!r} is already used by band {other!r}"
                )
            seen.setdefault(low, i)
        if band.asi and symbols and band.asi not in symbols:
            problems.append(
                f"bands[{i}].asi: expected an Awesome-Spectral-Indices band symbol, found {band.asi!r}"
            )
    return problems


def _check_bits(where: str, fields: tuple[BitField, ...]) -> list[str]:
    problems = []
    for j, f in enumerate(fields):
        if f.bit + f.width > _QA_BITS:
            problems.append(
                f"{where}[{j}]: bits {f.bit}..{f.bit + f.width - 1} do not fit in {_QA_BITS} bits"
            )
        bad = [v for v in f.values if v >= 2**f.width]
        if bad:
            problems.append(f"{where}[{j}].values: {bad} do not fit in a field of width {f.width}")
    return problems


def _check_qa(profile: SensorProfile, qa: QADecoding, where: str) -> list[str]:
    problems: list[str] = []
    try:
        qa_band = profile.band(qa.band)
    except LookupError:
        problems.append(f"{where}.band: no band {qa.band!r} in the profile")
    else:
        if qa_band.name != qa.band:
            problems.append(f"{where}.band: use the band name {qa_band.name!r}, found {qa.band!r}")
        if qa_band.kind == "measurement":
            problems.append(
                f"{where}.band: band {qa.band!r} has kind 'measurement'; expected 'qa' or 'class'"
            )
    table: Mapping[str, Any] = qa.classes if qa.kind == "classes" else qa.bits
    if not table:
        problems.append(f"{where}.{qa.kind}: expected at least one mask class for kind {qa.kind!r}")
    if qa.bits if qa.kind == "classes" else qa.classes:
        problems.append(f"{where}: kind {qa.kind!r} takes '{qa.kind}', not the other table")
    expected = ", ".join(MASK_CLASSES)
    problems += [
        f"{where}.{qa.kind}.{name}: unknown mask class; expected one of {expected}"
        for name in table
        if name not in MASK_CLASSES
    ]
    for name, fields in qa.bits.items():
        problems += _check_bits(f"{where}.bits.{name}", fields)
    problems += [
        f"{where}.classes.{name}: values must fit in {_QA_BITS} bits"
        for name, values in qa.classes.items()
        if any(v >= 2**_QA_BITS for v in values)
    ]
    return problems


def _check_product(profile: SensorProfile, product: Product) -> list[str]:
    where = f"products.{product.id}"
    names = {b.name for b in profile.bands}
    problems = [
        f"{where}.bands.{band}: no band named {band!r} (bands: {', '.join(sorted(names))})"
        for band in product.bands
        if band not in names
    ]
    if product.qa is not None:
        problems += _check_qa(profile, product.qa, f"{where}.qa")
    return problems


def check_profile(profile: SensorProfile, doc: Document) -> None:
    """Semantic checks of a built profile; raise :class:`SensorProfileError` listing every problem."""
    problems = _check_bands(profile)
    for product in profile.products.values():
        problems += _check_product(profile, product)
    if problems:
        lines = []
        for problem in problems:
            key, _, message = problem.partition(": ")
            lines.append(f"{doc.where(documents.parse_path(key))}: {message}")
        raise SensorProfileError("; ".join(lines))


# --- files -----------------------------------------------------------------------------


def load_profile(path: str | os.PathLike[str], *, schema_check: bool = True) -> SensorProfile:
    """Read, validate and build one profile file (I/O).

    ``schema_check=False`` skips the JSON Schema validation (the semantic checks still run): eo
    does so for the profiles it ships, which its test suite validates, since importing jsonschema
    and validating costs about 0.1 s per process.  Profiles from ``EO_SENSOR_PATH`` are always
    validated.

    Raises
    ------
    SensorProfileError
        The file is not YAML, does not follow the schema or fails a semantic check; the
        message names the file, the line and the key (``file:line: key: expected ..., found ...``).
    """
    doc = documents.read(Path(path), SensorProfileError, "sensor profile")
    if schema_check:
        documents.validate(doc, schema(), SensorProfileError)
    elif not isinstance(doc.data, dict):
        raise SensorProfileError(f"{doc.source}: expected a mapping, found {type(doc.data).__name__}")
    profile = build_profile(doc.data, source=str(path))
    check_profile(profile, doc)
    return profile


def _yaml_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def _load_dir(directory: Path, packaged: bool = False) -> dict[str, SensorProfile]:
    found: dict[str, SensorProfile] = {}
    for path in _yaml_files(directory):
        profile = load_profile(path, schema_check=not packaged)
        if profile.id in found:
            first = Path(found[profile.id].source).name
            raise SensorProfileError(
                f"{path.name}: id: profile id {profile.id!r} is already defined by {first} in {directory}; "
                "give one of them another id"
            )
        found[profile.id] = profile
    return found


#: Environment variable of the ``sensor_path`` setting (for messages).
ENV_SENSOR_PATH = SETTINGS["sensor_path"].env


@cache
def _load_all(directories: tuple[Path, ...]) -> dict[str, SensorProfile]:
    result = _load_dir(PACKAGE_DIR, packaged=True)
    # lowest priority first so that earlier EO_SENSOR_PATH entries override later ones
    for directory in reversed(directories):
        if directory.is_dir():
            result.update(_load_dir(directory))
    return dict(sorted(result.items()))


def profiles() -> dict[str, SensorProfile]:
    """Return every known profile by id: packaged ones, overridden by those in ``EO_SENSOR_PATH``.

    Cached per value of ``EO_SENSOR_PATH`` (I/O on the first call only).
    """
    return dict(_load_all(tuple(sensor_paths())))


def clear_cache() -> None:
    """Forget loaded profiles (the next call re-reads the files)."""
    _load_all.cache_clear()


def get(profile_id: str) -> SensorProfile:
    """Return the profile with this id (case-insensitive).

    Raises :class:`eo.errors.UnknownSensorError` listing the known ids.
    """
    known = profiles()
    if profile_id in known:
        return known[profile_id]
    for pid, profile in known.items():
        if pid.lower() == profile_id.lower():
            return profile
    raise UnknownSensorError(
        f"unknown sensor profile {profile_id!r}; known profiles: {', '.join(known)}. "
        f"Add a YAML profile in a directory listed in {ENV_SENSOR_PATH} to define it"
    )


def get_product(ref: str) -> tuple[SensorProfile, Product]:
    """Return the profile and product named by ``"sensor:product"`` (e.g. ``"sentinel-2-msi:l2a"``).

    Raises :class:`eo.errors.UnknownSensorError` when either part is unknown.
    """
    sensor, sep, product_id = ref.partition(":")
    if not sep or not sensor or not product_id:
        raise UnknownSensorError(
            f"expected a product reference 'sensor:product' (e.g. 'sentinel-2-msi:l2a'), found {ref!r}"
        )
    profile = get(sensor.strip())
    product_id = product_id.strip()
    for pid, product in profile.products.items():
        if pid.lower() == product_id.lower():
            return profile, product
    raise UnknownSensorError(
        f"sensor {profile.id!r} has no product {product_id!r}; its products: {', '.join(profile.products)}"
    )
