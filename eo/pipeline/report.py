"""The run report: what a pipeline run did, as JSON (for machines) and HTML (for people).

Exit status of ``eo run`` follows the report: 0 success (including "nothing to do"),
1 partial (some tiles failed, the rest are written), 2 failure (nothing could be done:
bad spec, catalogue unreachable, every tile failed).

:meth:`RunReport.write` also draws the report's pictures from the written COGs (read from their
overviews, never whole): one shared stretch per variable over every tile and period of the run
(:mod:`eo.io.style`, kept in ``report.json`` as ``styles``), each tile's quicklook redrawn with it,
and one overview image of the whole area per variable and period
(``overviews/<name>_<period>_<variable>.png``).  ``eo view OUT`` shows the same run on a map.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from eo.io.atomic import write_json, write_text
from eo.pipeline.report_html import render_html

Status = Literal["done", "skipped", "failed", "empty"]

EXIT_SUCCESS, EXIT_PARTIAL, EXIT_FAILURE = 0, 1, 2

log = logging.getLogger("eo.pipeline")


@dataclass
class TileResult:
    """The outcome of one (tile, period)."""

    tile: str
    period: str
    status: Status
    inputs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    valid_fraction: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def scene_record(item: Any) -> dict[str, Any]:
    """What the report and the map keep of an input scene: id, collection, date, cloud cover, footprint."""
    props = item.properties
    when = props.get("datetime") or props.get("start_datetime")
    return {
        "id": item.id,
        "collection": item.collection_id,
        "datetime": when,
        "cloud_cover": props.get("eo:cloud_cover"),
        "geometry": item.geometry,
    }


@dataclass
class RunReport:
    """Everything a run did; ``exit_code`` summarises it.

    ``scenes`` (input scenes: id, collection, datetime, cloud cover, footprint), ``grid`` (the tile
    grid: crs, resolution, tile_size, origin), ``area`` (GeoJSON geometry in degrees) are filled by
    :meth:`describe`; ``styles`` (colour map and shared stretch per variable) and ``overviews`` by
    :meth:`write`.
    """

    pipeline: str
    spec_hash: str
    out_dir: str
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finished: str | None = None
    items_found: int = 0
    dashboard: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    results: list[TileResult] = field(default_factory=list)
    scenes: list[dict[str, Any]] = field(default_factory=list)
    grid: dict[str, Any] | None = None
    area: dict[str, Any] | None = None
    styles: dict[str, dict[str, Any]] = field(default_factory=dict)
    overviews: list[dict[str, str]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of (tile, period) per status."""
        c = Counter(r.status for r in self.results)
        return {s: c.get(s, 0) for s in ("done", "skipped", "failed", "empty")}

    @property
    def exit_code(self) -> int:
        """0 success, 1 partial, 2 failure (every attempted tile failed)."""
        c = self.counts
        if c["failed"] and not (c["done"] or c["skipped"]):
            return EXIT_FAILURE
        return EXIT_PARTIAL if c["failed"] else EXIT_SUCCESS

    def describe(self, items: Any, grid: Any, area: Any) -> None:
        """Record the input scenes, the tile grid (a :class:`eo.grid.tiles.TileGrid`) and the area."""
        self.scenes = [scene_record(i) for i in items]
        self.grid = {
            "crs": grid.crs,
            "resolution": grid.resolution,
            "tile_size": grid.tile_size,
            "origin": list(grid.origin),
        }
        self.area = None if area is None else json.loads(json.dumps(area.to_crs("EPSG:4326").json))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (adds counts and exit code)."""
        return {**asdict(self), "counts": self.counts, "exit_code": self.exit_code}

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Draw the pictures, write ``report.json`` and ``report.html`` atomically; return their paths."""
        self.finished = self.finished or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            self.draw(Path(out_dir))
        except Exception:  # pictures are a courtesy: the report itself must be written
            log.exception("drawing the report's images failed")
        jpath, hpath = out_dir / "report.json", out_dir / "report.html"
        write_json(jpath, json.loads(json.dumps(self.to_dict(), default=str)))
        write_text(hpath, render_html(self))
        return jpath, hpath

    # --- pictures ------------------------------------------------------------------------

    def outputs(self, r: TileResult, out_dir: Path) -> dict[str, Path]:
        """``{variable: COG}`` of a done or unchanged (tile, period), from its files or its folder."""
        stem = f"{self.pipeline}_{r.tile}_{r.period}_"
        if r.files:
            paths = [out_dir / f for f in r.files if f.endswith(".tif")]
        else:
            paths = sorted((out_dir / r.tile / r.period).glob(f"{stem}*.tif"))
        return {p.stem[len(stem) :]: p for p in paths if p.stem.startswith(stem) and p.exists()}

    def draw(self, out_dir: Path) -> None:
        """Shared stretch per variable, quicklooks redrawn with it, one overview per variable and period."""
        from eo.io.quicklook import write_overview, write_quicklook
        from eo.io.style import Style, style_for_files

        kept = [r for r in self.results if r.status in ("done", "skipped")]
        by_var: dict[str, dict[str, list[Path]]] = {}
        for r in kept:
            for var, path in self.outputs(r, out_dir).items():
                by_var.setdefault(var, {}).setdefault(r.period, []).append(path)
        styles = {
            var: style_for_files(var, [p for ps in periods.values() for p in ps])
            for var, periods in by_var.items()
        }
        self.styles = {v: s.to_dict() for v, s in styles.items()}
        for r in kept:
            folder = out_dir / r.tile / r.period
            for var, cog in self.outputs(r, out_dir).items():
                png = folder / f"{cog.stem}.png"
                if png.exists():  # the runner's quicklook, stretched alone: redraw with the shared stretch
                    write_quicklook(cog, png, style=styles[var])
        self.overviews = []
        for var, periods in sorted(by_var.items()):
            for period, paths in sorted(periods.items()):
                png = out_dir / "overviews" / f"{self.pipeline}_{period}_{var}.png"
                write_overview(sorted(paths), png, Style.from_dict(self.styles[var]))
                rel = str(png.relative_to(out_dir))
                self.overviews.append({"variable": var, "period": period, "file": rel})
