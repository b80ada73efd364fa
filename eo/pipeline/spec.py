"""Pipeline specs: YAML files validated on load against the published JSON Schema.

``load_spec(path)`` parses the YAML once, validates it with ``eo/pipeline/schema.json`` (errors
point at the file, line and key), and returns a frozen :class:`PipelineSpec`.  Nothing after
this module reads the YAML.  ``spec_hash`` fingerprints what determines the pixels (not the
output directory or the cluster), so a changed parameter recomputes every output and a moved
output directory does not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from eo.errors import PipelineSpecError

#: Parts of a spec that do not change output pixels (excluded from the hash).  The catalogue
#: is identified by the inputs themselves (item ids and ``updated`` times, see state.py), so a
#: local server on another port, or a mirror, does not recompute everything.
_NOT_HASHED = ("description", "outputs", "cluster", "name", "catalog")


@cache
def schema() -> dict[str, Any]:
    """The pipeline JSON Schema shipped with eo."""
    text = resources.files("eo.pipeline").joinpath("schema.json").read_text()
    return dict(json.loads(text))


@dataclass(frozen=True)
class PipelineSpec:
    """A validated pipeline spec (see ``eo/pipeline/schema.json`` for every field)."""

    name: str
    catalog: str
    collections: tuple[str, ...]
    area: Mapping[str, Any]
    start: dt.date
    end: dt.date
    bin: str
    bands: tuple[str, ...]
    out_dir: Path
    grid: Mapping[str, Any] = field(default_factory=dict)
    max_cloud: float | None = None
    query: Mapping[str, Any] | None = None
    calibration: Mapping[str, Any] = field(default_factory=dict)
    mask: Mapping[str, Any] | None = None
    indices: tuple[str, ...] = ()
    composite: Mapping[str, Any] = field(default_factory=lambda: {"method": "median"})
    outputs: Mapping[str, Any] = field(default_factory=dict)
    cluster: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<dict>"

    @property
    def spec_hash(self) -> str:
        """sha256 (hex, 16 chars) of the parts of the spec that determine output pixels."""
        core = {k: v for k, v in self.raw.items() if k not in _NOT_HASHED}
        core["outputs"] = {k: v for k, v in dict(self.raw.get("outputs", {})).items() if k != "dir"}
        text = json.dumps(core, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_out_dir(self, out_dir: str | Path) -> PipelineSpec:
        """The same spec writing into ``out_dir`` (what ``eo run --out`` does)."""
        return replace(self, out_dir=Path(out_dir))


def _line_map(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """JSON path -> 1-based line of every node of a composed YAML document."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            lines.update(
                {p: n for p, n in _line_map(value, (*path, key.value)).items() if p != (*path, key.value)}
            )
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines.update(_line_map(value, (*path, i)))
    return lines


def _where(err: jsonschema.ValidationError, lines: Mapping[tuple[Any, ...], int]) -> tuple[str, int | None]:
    path = tuple(err.absolute_path)
    key = ".".join(str(p) for p in path) or "<top level>"
    while path and path not in lines:
        path = path[:-1]
    return key, lines.get(path)


def _date(value: Any, key: str, source: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise PipelineSpecError(
            f"{source}: period.{key}: expected an ISO date like 2025-06-01, found {value!r}"
        ) from None


def parse_spec(
    data: Mapping[str, Any], *, source: str = "<dict>", lines: Mapping[tuple[Any, ...], int] | None = None
) -> PipelineSpec:
    """Validate a spec given as a mapping and return it typed (raises PipelineSpecError)."""
    data = json.loads(json.dumps(data, default=str))  # YAML dates -> ISO strings
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        key, line = _where(err, lines or {})
        at = f"{source}:{line}" if line else source
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PipelineSpecError(f"{at}: {key}: {err.message}{more}; see eo/pipeline/schema.json")
    period = data["period"]
    start, end = _date(period["start"], "start", source), _date(period["end"], "end", source)
    if end < start:
        raise PipelineSpecError(f"{source}: period: end {end} is before start {start}; swap them")
    raw = data
    return PipelineSpec(
        name=data["name"],
        catalog=data["catalog"],
        collections=tuple(data["collections"]),
        area=dict(data["area"]),
        start=start,
        end=end,
        bin=period.get("bin", "all"),
        bands=tuple(data["bands"]),
        out_dir=Path(data["outputs"]["dir"]),
        grid=dict(data.get("grid", {})),
        max_cloud=data.get("max_cloud"),
        query=data.get("query"),
        calibration=dict(data.get("calibration", {})),
        mask=data.get("mask"),
        indices=tuple(data.get("indices", ())),
        composite=dict(data.get("composite", {"method": "median"})),
        outputs=dict(data["outputs"]),
        cluster=dict(data.get("cluster", {})),
        raw=raw,
        source=source,
    )


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline spec YAML file (no computation, no network)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise PipelineSpecError(f"cannot read pipeline spec {p}: {err.strerror}; check the path") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PipelineSpecError(f"{p}: not valid YAML: {err}") from None
    if not isinstance(data, dict) or node is None:
        raise PipelineSpecError(f"{p}: expected a mapping of pipeline settings, found {type(data).__name__}")
    spec = parse_spec(data, source=str(p), lines=_line_map(node))
    area = dict(spec.area)
    if "file" in area and not Path(area["file"]).is_absolute():
        area["file"] = str((p.parent / area["file"]).resolve())
    return replace(spec, area=area)
