"""Helpers of the fault suite (tests/faults): the retry policy, specs, ``eo`` processes, run snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from eo.retry import RetryPolicy
from faults.faultserver import FaultServer

__all__ = [
    "EO",
    "FIGURES",
    "POLICY",
    "POLICY_ENV",
    "FaultServer",
    "eo_cli",
    "eo_env",
    "eo_here",
    "leftovers",
    "pipeline_spec",
    "scene_area",
    "snapshot",
    "tile_area",
    "write_spec",
]

#: What the process trials did (printed at the end of the session, quoted in the README).
FIGURES: dict[str, int] = {"trials": 0, "interrupted mid-run": 0, "tiles lost": 0, "orphan files": 0}

#: Retries and deadlines of the suite: the faults of a test resolve within seconds.
POLICY = RetryPolicy(
    max_retries=3,
    connect_retries=2,
    backoff_factor=0.05,
    backoff_max=0.4,
    retry_after_max=2.0,
    connect_timeout=0.5,
    read_timeout=0.6,
    deadline=2.0,
)
#: The same policy as ``EO_RETRY`` for an ``eo`` process.
POLICY_ENV = json.dumps(
    {
        "max_retries": POLICY.max_retries,
        "connect_retries": POLICY.connect_retries,
        "backoff_factor": POLICY.backoff_factor,
        "backoff_max": POLICY.backoff_max,
        "retry_after_max": POLICY.retry_after_max,
        "connect_timeout": POLICY.connect_timeout,
        "read_timeout": POLICY.read_timeout,
        "deadline": POLICY.deadline,
    }
)
EO = str(Path(sys.executable).parent / "eo")


def scene_area(catalog: Path) -> list[float]:
    """A lon/lat bbox inside the scenes' footprint (every tile of it has data)."""
    import pystac

    item = next(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    w, s, e, n = item.bbox
    return [w + 1e-4, s + 1e-4, e - 1e-4, n - 1e-4]


def tile_area(catalog: Path, nx: int = 2, ny: int = 1) -> list[float]:
    """A lon/lat bbox of ``nx`` x ``ny`` whole 128 px tiles of the grid of :func:`pipeline_spec`."""
    import pystac
    from odc.geo.geom import box

    from eo.grid.tiles import TileGrid

    item = next(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    w, s, e, n = item.bbox
    centre = box(w, s, e, n, "EPSG:4326").centroid.to_crs("EPSG:32642")
    x, y = centre.coords[0]
    side = 1280.0
    x0, y0 = (x // side) * side, (y // side) * side
    shrink = 200.0  # the lon/lat box of a UTM box is larger (grid convergence): stay clear of the edges
    area = box(x0 + shrink, y0 + shrink, x0 + nx * side - shrink, y0 + ny * side - shrink, "EPSG:32642")
    lonlat = list(area.to_crs("EPSG:4326").boundingbox)
    grid = TileGrid("EPSG:32642", 10, 128)
    assert len(list(grid.tiles(box(*lonlat, "EPSG:4326")))) == nx * ny
    return lonlat


def pipeline_spec(url: str, area: list[float], **over: Any) -> dict[str, Any]:
    """An NDVI pipeline over the scenes: 128 px tiles, monthly bins (June: 2 dates, July: 1)."""
    spec: dict[str, Any] = {
        "name": "faults",
        "catalog": url,
        "collections": ["sentinel-2-l2a"],
        "area": {"bbox": area},
        "period": {"start": "2025-06-01", "end": "2025-07-31", "bin": "monthly"},
        "grid": {"crs": "EPSG:32642", "resolution": 10, "tile_size": 128},
        "bands": ["red", "nir", "qa"],
        "mask": {"classes": ["nodata", "cloud", "shadow", "cirrus"]},
        "indices": ["NDVI"],
        "composite": {"method": "median"},
        "outputs": {"dir": "unused"},
    }
    spec.update(over)
    return spec


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def eo_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``eo`` process: its own EO_HOME, the suite's retry policy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EO_")}
    env.update({"EO_HOME": str(home), "EO_RETRY": POLICY_ENV, "MPLBACKEND": "Agg", **extra})
    return env


def eo_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``eo ARGS`` in a real process; its exit status, stdout and stderr."""
    return subprocess.run([EO, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def eo_here(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``eo ARGS`` in this process (click's runner; the environment of :func:`eo_env`): no start-up cost.

    For checks that fail before any work; a real process (:func:`eo_cli`) for everything else.
    """
    from click.testing import CliRunner

    from eo.cli import main

    unset = {k: None for k in os.environ if k.startswith("EO_") and k not in env}
    res = CliRunner().invoke(
        main, args, env={**unset, **{k: v for k, v in env.items() if k.startswith("EO_")}}
    )
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return subprocess.CompletedProcess(args, res.exit_code, res.stdout, res.stderr)


def _stac(path: Path) -> Any:
    doc = json.loads(path.read_text())
    if isinstance(doc, dict) and isinstance(doc.get("properties"), dict):
        doc["properties"].pop("created", None)  # when it was written: differs between runs by design
    return doc


def snapshot(out: Path) -> dict[str, Any]:
    """What two runs of one spec must agree on: every COG's bytes, every STAC document, the file list."""
    files = sorted(
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and "_state" not in p.relative_to(out).parts
        and p.name not in ("report.json", "report.html", ".eo-run.lock")
        and "overviews" not in p.relative_to(out).parts
    )  # fmt: skip
    cogs = {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in files if f.endswith(".tif")}
    stac = {f: _stac(out / f) for f in files if f.endswith(".json")}
    return {"files": files, "cogs": cogs, "stac": stac}


def leftovers(out: Path) -> list[str]:
    """Files in ``out`` that no committed state record, the catalogue or the report accounts for."""
    records = [json.loads(p.read_text()) for p in (out / "_state").glob("*/*.json")]
    owned = {f for r in records for f in r["files"]}
    items = {r["item"]["id"] for r in records if r.get("item")}
    extra = []
    for p in out.rglob("*"):
        if not p.is_file():
            continue
        rel = p.relative_to(out)
        if rel.parts[0] in ("_state", "overviews") or str(rel) in (
            "catalog.json", "collection.json", "report.json", "report.html", ".eo-run.lock"
        ):  # fmt: skip
            continue
        item_json = len(rel.parts) == 2 and rel.parts[0] in items and rel.name == f"{rel.parts[0]}.json"
        if str(rel) in owned or item_json:
            continue
        extra.append(str(rel))
    return sorted(extra)
