"""Packaging contracts: pyproject.toml and environment.yml agree; the package ships its data."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: conda-forge names that differ from PyPI names (PyPI -> conda).
CONDA_NAMES = {"types-pyyaml": "types-pyyaml"}


def _name(req: str) -> str:
    return re.split(r"[\[<>=!~ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        reqs += extra
    names = {_name(r) for r in reqs}
    # dask[distributed] is one pip requirement and two conda packages
    if any(r.startswith("dask[distributed]") for r in meta["dependencies"]):
        names.add("distributed")
    return {CONDA_NAMES.get(n, n) for n in names}


def _environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(p) for p in dep["pip"] if not p.startswith("-e")}
        else:
            names.add(_name(dep))
    return names - {"python", "pip"}


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    py, conda = _pyproject_names(), _environment_names()
    assert py - conda == set(), f"in pyproject.toml but not environment.yml: {sorted(py - conda)}"
    assert conda - py == set(), f"in environment.yml but not pyproject.toml: {sorted(conda - py)}"


def test_lower_bounds_agree() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + [r for e in meta["optional-dependencies"].values() for r in e]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    flat = [d for d in env["dependencies"] if isinstance(d, str)]
    flat += [p for d in env["dependencies"] if isinstance(d, dict) for p in d["pip"]]
    conda_bounds = {_name(d): d.split(">=", 1)[1] for d in flat if ">=" in d}
    for r in reqs:
        if ">=" in r:
            n = CONDA_NAMES.get(_name(r), _name(r))
            assert conda_bounds.get(n) == r.split(">=", 1)[1].split(",")[0], f"bound of {n} differs"


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "eo" / "py.typed").exists()


def test_every_error_derives_from_eoerror_and_a_builtin() -> None:
    import eo.errors as errors

    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == "eo.errors":
            if issubclass(obj, Warning):
                assert issubclass(obj, errors.EOWarning)
                continue
            assert issubclass(obj, errors.EOError), name
            builtins = [
                b
                for b in obj.__mro__
                if b.__module__ == "builtins" and b not in (Exception, BaseException, object)
            ]
            assert obj is errors.EOError or builtins, f"{name} derives from no specific built-in"


def test_every_error_class_lives_in_eo_errors() -> None:
    """One error tree in one file: no module but eo/errors.py defines an exception or warning class."""
    import ast

    import eo.errors as errors

    names = {n for n in dir(errors) if isinstance(getattr(errors, n), type)}
    elsewhere = []
    for path in (ROOT / "eo").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "eo":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & names or any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                    elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not elsewhere, elsewhere
