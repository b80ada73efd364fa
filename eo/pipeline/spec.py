"""Pipeline specs: YAML files validated against the published JSON Schema, read into frozen dataclasses.

``load_spec(path)`` reads the YAML once (:mod:`eo.documents`), validates it with
``eo/pipeline/schema.json`` (errors point at the file, line and key), checks what a schema cannot
(real dates, a forward period, a lon/lat area) and returns a frozen :class:`PipelineSpec` whose
sections are typed dataclasses.  Their defaults are defined here only; nothing after this module
reads the YAML.  ``spec_hash`` fingerprints what determines the pixels (not the output directory or
the cluster), so a changed parameter recomputes every output and a moved output directory does not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eo import documents
from eo.errors import ConfigError, EOError, PipelineSpecError
from eo.params import BBox, parse_bbox, parse_date

#: Parts of a spec that do not change output pixels (excluded from the hash).  The catalogue
#: is identified by the inputs themselves (item ids and ``updated`` times, see state.py), so a
#: local server on another port, or a mirror, does not recompute everything.
_NOT_HASHED = ("description", "outputs", "cluster", "name", "catalog", "on_asset_error", "settings", "zonal")


@cache
def schema() -> dict[str, Any]:
    """The pipeline JSON Schema shipped with eo."""
    text = resources.files("eo.pipeline").joinpath("schema.json").read_text()
    return dict(json.loads(text))


@dataclass(frozen=True)
class AreaSpec:
    """Where: exactly one of a lon/lat box, a GeoJSON file (absolute path) or tile ids."""

    bbox: BBox | None = None
    file: Path | None = None
    tiles: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GridSpec:
    """The tile grid: CRS (``"utm"``: the area's UTM zone), pixel size (CRS units), tile edge (pixels)."""

    crs: str = "utm"
    resolution: float = 10.0
    tile_size: int = 1024
    origin: tuple[float, float] = (0.0, 0.0)
    resampling: str = "nearest"


@dataclass(frozen=True)
class CalibrationSpec:
    """What ``eo.calibrate`` is asked for (``to="none"``: values as loaded)."""

    to: str = "reflectance"
    sun_elevation: float | None = None
    boa_offset_policy: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``eo.calibrate`` (besides ``to``) that the spec sets."""
        out: dict[str, Any] = {}
        if self.sun_elevation is not None:
            out["sun_elevation"] = self.sun_elevation
        if self.boa_offset_policy is not None:
            out["boa_offset_policy"] = self.boa_offset_policy
        return out


@dataclass(frozen=True)
class MaskSpec:
    """What ``eo.mask`` is asked for (``classes`` None: its default classes)."""

    classes: tuple[str, ...] | None = None
    dilate: str | float | None = None


@dataclass(frozen=True)
class CompositeSpec:
    """The composite method and its parameters."""

    method: str = "median"
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class OutputsSpec:
    """What is written where (``variables`` empty: the indices, or the bands, plus ``count``)."""

    dir: Path = Path("out")
    formats: tuple[str, ...] = ("cog",)
    variables: tuple[str, ...] = ()
    dtype: str = "float32"
    quicklook: bool = True


@dataclass(frozen=True)
class ClusterSpec:
    """The Dask cluster: an existing scheduler's address, or the size of a new LocalCluster."""

    address: str | None = None
    n_workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | float | None = None
    processes: bool = True


@dataclass(frozen=True)
class ZonalSpec:
    """Zonal statistics of each period's outputs over a vector file (see :mod:`eo.pipeline.zonal`)."""

    zones: Path
    """The zones: a vector file GDAL reads (GeoJSON, GeoPackage, FlatGeobuf...) or (Geo)Parquet."""
    id: str | None = None
    layer: str | None = None
    stats: tuple[str, ...] | None = None
    """Statistic names (None: :func:`eo.zonal_stats`'s default)."""
    variables: tuple[str, ...] = ()
    """Output variables to summarise (empty: every written one but ``count``)."""
    all_touched: bool = False
    weights: str | None = None
    format: str = "parquet"

    @property
    def suffix(self) -> str:
        """The table file's suffix."""
        return f".{self.format}"


@dataclass(frozen=True)
class PipelineSpec:
    """A validated pipeline spec (see ``eo/pipeline/schema.json`` for every field)."""

    name: str
    catalog: str
    collections: tuple[str, ...]
    area: AreaSpec
    start: dt.date
    end: dt.date
    bin: str
    bands: tuple[str, ...]
    outputs: OutputsSpec
    grid: GridSpec = field(default_factory=GridSpec)
    max_cloud: float | None = None
    query: Mapping[str, Any] | None = None
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)
    mask: MaskSpec | None = None
    indices: tuple[str, ...] = ()
    composite: CompositeSpec = field(default_factory=CompositeSpec)
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    description: str = ""
    on_asset_error: str = "skip"
    """A scene whose file cannot be read: ``"skip"`` leaves it out (recorded), ``"fail"`` fails the tile."""
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """:mod:`eo.config` settings for the run (``gdal``, ``retry``, ``io_threads``), as written."""
    zonal: ZonalSpec | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The document as written (for the hash and the provenance), read-only use."""
    source: str = "<dict>"
    lines: Mapping[tuple[Any, ...], int] = field(default_factory=dict, compare=False, repr=False)
    """The line of every key of the document (for messages), when read from a file."""

    def error(self, path: tuple[Any, ...], message: str) -> ConfigError:
        """A :class:`PipelineSpecError` saying ``file:line: key: message`` for a key path of the spec."""
        doc = documents.Document(self.raw, self.source, self.lines)
        return doc.error(path, message, PipelineSpecError)

    @property
    def out_dir(self) -> Path:
        """The output directory."""
        return self.outputs.dir

    @property
    def spec_hash(self) -> str:
        """sha256 (hex, 16 chars) of the parts of the spec that determine output pixels."""
        core = {k: v for k, v in self.raw.items() if k not in _NOT_HASHED}
        core["outputs"] = {k: v for k, v in dict(self.raw.get("outputs", {})).items() if k != "dir"}
        text = json.dumps(core, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_out_dir(self, out_dir: str | Path) -> PipelineSpec:
        """The same spec writing into ``out_dir`` (what ``eo run --out`` does)."""
        return replace(self, outputs=replace(self.outputs, dir=Path(out_dir)))


def _section(cls: type[Any], data: Mapping[str, Any] | None, **convert: Any) -> Any:
    """A section dataclass from its mapping (absent keys take the dataclass defaults)."""
    values = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: convert[k](v) if k in convert else v for k, v in values.items() if k in names}
    return cls(**kwargs)


def _area(doc: documents.Document, base: Path | None) -> AreaSpec:
    area = doc.data["area"]
    if "bbox" in area:
        try:
            return AreaSpec(bbox=parse_bbox(area["bbox"]))
        except EOError as err:
            raise doc.error(("area", "bbox"), str(err), PipelineSpecError) from None
    if "file" in area:
        path = Path(area["file"]).expanduser()
        return AreaSpec(file=path if path.is_absolute() or base is None else (base / path).resolve())
    return AreaSpec(tiles=tuple(area["tiles"]))


def _catalog(catalog: str, base: Path | None) -> str:
    """A catalogue given as a relative path (``./out/ndvi``, ``x/catalog.json``) is relative to the spec."""
    looks_like_path = "/" in catalog or catalog.endswith(".json")
    if base is None or "://" in catalog or not looks_like_path or Path(catalog).expanduser().is_absolute():
        return catalog
    return str((base / catalog).resolve())


def _zonal(doc: documents.Document, base: Path | None) -> ZonalSpec | None:
    data = doc.data.get("zonal")
    if data is None:
        return None
    zones = Path(data["zones"]).expanduser()
    if not zones.is_absolute() and base is not None:
        zones = (base / zones).resolve()
    stats = data.get("stats")
    return ZonalSpec(
        zones=zones,
        id=data.get("id"),
        layer=None if data.get("layer") is None else str(data["layer"]),
        stats=None if stats is None else tuple(stats),
        variables=tuple(data.get("variables", ())),
        all_touched=bool(data.get("all_touched", False)),
        weights=data.get("weights"),
        format=str(data.get("format", "parquet")),
    )


def _settings(doc: documents.Document) -> Mapping[str, Any]:
    """The ``settings`` section, each value checked by :func:`eo.config.set` (file:line on error)."""
    from eo import config

    values = dict(doc.data.get("settings", {}))
    for name, value in values.items():
        try:
            with config.set(**{name: value}):
                pass
        except ConfigError as err:
            raise doc.error(("settings", name), str(err).split("): ", 1)[-1], PipelineSpecError) from None
    return MappingProxyType(values)


def _dates(doc: documents.Document) -> tuple[dt.date, dt.date]:
    period = doc.data["period"]
    out = []
    for key in ("start", "end"):
        try:
            out.append(parse_date(period[key], f"period.{key}"))
        except EOError as err:
            message = str(err).split(": ", 1)[-1]
            raise doc.error(("period", key), message, PipelineSpecError) from None
    start, end = out
    if end < start:
        raise doc.error(("period", "end"), f"end {end} is before start {start}; swap them", PipelineSpecError)
    return start, end


def _build(doc: documents.Document, base: Path | None = None) -> PipelineSpec:
    documents.validate(doc, schema(), PipelineSpecError, "see eo/pipeline/schema.json")
    data = doc.data
    start, end = _dates(doc)
    mask = data.get("mask")
    return PipelineSpec(
        name=data["name"],
        catalog=_catalog(data["catalog"], base),
        collections=tuple(data["collections"]),
        area=_area(doc, base),
        start=start,
        end=end,
        bin=data["period"].get("bin", "all"),
        bands=tuple(data["bands"]),
        outputs=_section(
            OutputsSpec, data["outputs"], dir=Path, formats=tuple, variables=tuple, quicklook=bool
        ),
        grid=_section(GridSpec, data.get("grid"), resolution=float, origin=tuple),
        max_cloud=data.get("max_cloud"),
        query=MappingProxyType(dict(data["query"])) if data.get("query") else None,
        calibration=_section(CalibrationSpec, data.get("calibration")),
        mask=None if mask is None else _section(MaskSpec, mask, classes=tuple),
        indices=tuple(data.get("indices", ())),
        composite=_section(CompositeSpec, data.get("composite"), params=lambda p: MappingProxyType(dict(p))),
        cluster=_section(ClusterSpec, data.get("cluster")),
        description=str(data.get("description", "")),
        on_asset_error=str(data.get("on_asset_error", "skip")),
        settings=_settings(doc),
        zonal=_zonal(doc, base),
        raw=MappingProxyType(data),
        source=doc.source,
        lines=MappingProxyType(dict(doc.lines)),
    )


def parse_spec(data: Mapping[str, Any], *, source: str = "<dict>") -> PipelineSpec:
    """Validate a spec given as a mapping and return it typed (raises PipelineSpecError)."""
    plain = json.loads(json.dumps(data, default=str))  # dates given as objects -> ISO text
    return _build(documents.Document(plain, source))


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline spec YAML file (no computation, no network).

    A relative ``area.file``, ``zonal.zones`` or ``catalog`` path is resolved against the spec's
    directory (a catalogue *name* such as ``local`` is not a path).
    """
    p = Path(path)
    doc = documents.read(p, PipelineSpecError, "pipeline spec")
    if not isinstance(doc.data, dict):
        raise PipelineSpecError(
            f"{p}: expected a mapping of pipeline settings, found {type(doc.data).__name__}"
        )
    return _build(doc, p.parent)
