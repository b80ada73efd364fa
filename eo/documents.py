r"""YAML files validated against a JSON Schema: the one loader of every configuration file eo reads.

Pipeline specs, sensor profiles, catalogue definitions and ingest descriptions are YAML documents,
each with a JSON Schema (draft 2020-12).  :func:`load` reads one (I/O), keeps the line of every key,
validates it, and reports each problem as ``file:line: key: expected ..., found ...`` in the error
class of its kind of file.  YAML timestamps stay text (``2015-02-30`` is not a YAML error but a
date the caller refuses with its line), so schemas say ``string`` for dates.

>>> doc = parse_text("name: demo\nperiod: {start: 2015-02-30}\n", "spec.yaml")
>>> doc.data["period"]["start"], doc.line(("period", "start"))
('2015-02-30', 2)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eo.errors import ConfigError

#: Problems reported per file before "(and N more)".
MAX_REPORTED = 5


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML without implicit timestamps (dates stay the text the user wrote)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Document:
    """A parsed YAML document, where it came from, and the line of every key."""

    data: Any
    source: str
    lines: Mapping[Path_, int] = field(default_factory=dict)

    def line(self, path: Iterable[Any]) -> int | None:
        """The 1-based line of a key path (the nearest enclosing one when the key is absent)."""
        key = tuple(path)
        while key and key not in self.lines:
            key = key[:-1]
        return self.lines.get(key)

    def where(self, path: Iterable[Any]) -> str:
        """``file:line: key`` of a key path, for messages."""
        path = tuple(path)
        line = self.line(path)
        return f"{self.source}{f':{line}' if line else ''}: {json_path(path)}"

    def error(self, path: Iterable[Any], message: str, kind: type[ConfigError] = ConfigError) -> ConfigError:
        """An error of ``kind`` saying ``file:line: key: message`` (its ``key`` set)."""
        path = tuple(path)
        return kind(f"{self.where(path)}: {message}", key=json_path(path))


def json_path(parts: Iterable[Any]) -> str:
    """``period.start``, ``bands[2].gsd``; ``(top level)`` for the root."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def parse_path(text: str) -> Path_:
    """``"products.l2a.qa.bits.cloud[0]"`` -> ``("products", "l2a", "qa", "bits", "cloud", 0)``."""
    out: list[Any] = []
    for part in text.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        if name and name != "(top level)":
            out.append(name)
        out += [int(i) for i in indices if i]
    return tuple(out)


def _line_map(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines[sub] = key.start_mark.line + 1
            lines.update({p: n for p, n in _line_map(value, sub).items() if p != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines.update(_line_map(value, (*path, i)))
    return lines


def parse_text(text: str, source: str, kind: type[ConfigError] = ConfigError) -> Document:
    """Parse YAML text (no validation); :class:`ConfigError` of ``kind`` for bad YAML, naming the line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise kind(f"{source}{at}: not valid YAML ({' '.join(str(problem).split())})") from None
    return Document(data, source, _line_map(node) if node is not None else {})


def read(path: str | Path, kind: type[ConfigError] = ConfigError, what: str = "file") -> Document:
    """Read a YAML file (I/O; no validation).  A missing or unreadable file is a ``kind`` error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise kind(f"cannot read the {what} {p}: {err.strerror or err}; check the path") from None
    return parse_text(text, str(p), kind)


# --- JSON Schema ---------------------------------------------------------------------------


def _resolve(sub: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = sub.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return sub
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in sub.items() if k != "$ref"}}


def describe(sub: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    """What a (sub)schema expects, in words: ``a number > 0``, ``one of 'a', 'b'``."""
    sub = _resolve(sub, root)
    if "const" in sub:
        return repr(sub["const"])
    if "enum" in sub:
        return "one of " + ", ".join(repr(v) for v in sub["enum"])
    types = sub.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    article = {"integer": "an integer", "array": "a list", "object": "a mapping", "null": "null"}
    text = " or ".join(article.get(t, f"a {t}") for t in types) or "a valid value"
    bounds = [
        f"> {sub['exclusiveMinimum']}" if "exclusiveMinimum" in sub else "",
        f">= {sub['minimum']}" if "minimum" in sub else "",
        f"<= {sub['maximum']}" if "maximum" in sub else "",
        f"matching {sub['pattern']!r}" if "pattern" in sub else "",
        f"with at least {sub['minItems']} item(s)" if sub.get("minItems") else "",
        f"with at most {sub['maxItems']} item(s)" if sub.get("maxItems") else "",
    ]
    return " ".join([text, *[b for b in bounds if b]])


def _problem(err: Any, root: Mapping[str, Any]) -> tuple[Path_, str]:
    """``(key path, "expected ..., found ...")`` of one ``jsonschema.ValidationError``."""
    path = tuple(err.absolute_path)
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        return path, f"missing required key {missing[0]!r}"
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        allowed = set(_resolve(err.schema, root).get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed and not str(k).startswith("x-"))
        key = extra[0] if extra else "?"
        known = ", ".join(sorted(allowed)) or "none"
        return (*path, key), f"unknown key {key!r} (expected one of: {known})"
    if err.validator in ("oneOf", "anyOf"):
        deep = [e for e in err.context or [] if len(e.absolute_path) > len(err.absolute_path)]
        if deep:
            return _problem(max(deep, key=lambda e: len(e.absolute_path)), root)
        options = " or ".join(describe(s, root) for s in err.validator_value)
        return path, f"expected {options}, found {err.instance!r}"
    if err.validator in ("minProperties", "maxProperties", "propertyNames", "uniqueItems"):
        return path, str(err.message)
    return path, f"expected {describe(err.schema, root)}, found {err.instance!r}"


def validate(doc: Document, schema: Mapping[str, Any], kind: type[ConfigError], hint: str = "") -> None:
    """Validate against a JSON Schema (draft 2020-12); raise ``kind`` listing the problems with lines."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    lines, keys = [], []
    for err in errors[:MAX_REPORTED]:
        path, message = _problem(err, schema)
        lines.append(f"{doc.where(path)}: {message}")
        keys.append(json_path(path))
    more = f" (and {len(errors) - MAX_REPORTED} more)" if len(errors) > MAX_REPORTED else ""
    raise kind("; ".join(lines) + more + (f"; {hint}" if hint else ""), key=keys[0])


def load(
    path: str | Path,
    schema: Mapping[str, Any],
    kind: type[ConfigError],
    *,
    what: str = "file",
    hint: str = "",
    mapping: bool = True,
) -> Document:
    """Read a YAML file and validate it (see the module docstring); ``mapping``: the root must be one."""
    doc = read(path, kind, what)
    if mapping and not isinstance(doc.data, dict):
        raise kind(f"{doc.source}: expected a mapping of {what} settings, found {type(doc.data).__name__}")
    validate(doc, schema, kind, hint)
    return doc
