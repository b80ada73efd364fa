"""The run report: what a pipeline run did, as JSON (for machines) and HTML (for people).

Exit status of ``eo run`` follows the report: 0 success (including "nothing to do"),
1 partial (some tiles or zonal tables failed, or a scene that could not be read was left out;
the rest are written), 2 failure (nothing could be done: bad spec, catalogue unreachable, output unwritable,
every tile failed), 130 interrupted (the report says what finished; the next run resumes).

The report accumulates: a (tile, period) this run did not recompute keeps the row of the run that
made it (its files, valid fraction, input scenes, quicklook), read from its state record, marked
"unchanged" (status ``skipped``).  Tiles a stopped run did not reach are ``pending``.

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

Status = Literal["done", "skipped", "failed", "empty", "pending"]
#: Every status, in report order.
STATUSES = ("done", "skipped", "failed", "empty", "pending")

EXIT_SUCCESS, EXIT_PARTIAL, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 2, 130

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
    left_out: dict[str, str] = field(default_factory=dict)
    """Input scenes left out because they could not be read: ``{item id: why}``."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TileResult:
        """A row from its JSON form (unknown keys ignored)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ZonalResult:
    """The outcome of one period's zonal statistics table (the ``zonal:`` section of a spec)."""

    period: str
    status: Status
    file: str | None = None
    """The table, relative to the output directory."""
    zones: int = 0
    rows: int = 0
    variables: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    """Column name -> Arrow type name (``string``, ``timestamp[ns]``, ``double``, ``int64``)."""
    seconds: float = 0.0
    error: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ZonalResult:
        """A row from its JSON form (unknown keys ignored)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


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
    drawn_from: list[list[str]] = field(default_factory=list)
    """The COGs (tile, period, variable, size, mtime) the pictures were drawn from."""
    interrupted: bool = False
    """The run was stopped (SIGINT/SIGTERM) before it finished; ``pending`` rows were not reached."""
    stopped: str | None = None
    """Why the run stopped early (the storage refused writes), if it did."""
    recovered: dict[str, list[str]] = field(default_factory=dict)
    """What the run cleaned up from an earlier interrupted one (temp files, uncommitted outputs)."""
    zonal: list[ZonalResult] = field(default_factory=list)
    """One row per period's zonal statistics table (specs with a ``zonal:`` section)."""

    @property
    def counts(self) -> dict[str, int]:
        """Number of (tile, period) per status (``pending`` only when some are)."""
        c: Counter[str] = Counter(r.status for r in self.results)
        out = {s: c.get(s, 0) for s in STATUSES[:4]}
        if c.get("pending"):
            out["pending"] = c["pending"]
        return out

    @property
    def left_out(self) -> int:
        """Scenes left out of the tiles done in this run (unreadable files)."""
        return sum(len(r.left_out) for r in self.results if r.status == "done")

    @property
    def exit_code(self) -> int:
        """0 success, 1 partial, 2 failure (every attempted tile failed), 130 interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        c = self.counts
        if self.stopped:  # the storage refused writes: partial if this run wrote anything
            return EXIT_PARTIAL if c["done"] else EXIT_FAILURE
        if c["failed"] and not (c["done"] or c["skipped"]):
            return EXIT_FAILURE
        zonal_failed = any(z.status == "failed" for z in self.zonal)
        return EXIT_PARTIAL if c["failed"] or self.left_out or zonal_failed else EXIT_SUCCESS

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
        from eo.redact import redact

        d = {**asdict(self), "counts": self.counts, "exit_code": self.exit_code}
        for row in d["results"]:  # errors quote hrefs, which may be signed
            row["error"] = redact(row["error"]) if row["error"] else row["error"]
            row["left_out"] = {k: redact(v) for k, v in row["left_out"].items()}
        d["stopped"] = redact(d["stopped"]) if d["stopped"] else None
        for row in d["zonal"]:
            row["error"] = redact(row["error"]) if row["error"] else row["error"]
        return d

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Draw the pictures, write ``report.json`` and ``report.html`` atomically; return their paths.

        The pictures are not drawn again when the previous report drew them from the same files.
        """
        self.finished = self.finished or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            if not self._reuse_pictures(Path(out_dir)):
                self.draw(Path(out_dir))
        except Exception:  # pictures are a courtesy: the report itself must be written
            log.exception("drawing the report's images failed")
        jpath, hpath = out_dir / "report.json", out_dir / "report.html"
        write_json(jpath, json.loads(json.dumps(self.to_dict(), default=str)))
        write_text(hpath, render_html(self))
        return jpath, hpath

    # --- pictures ------------------------------------------------------------------------

    def _drawn_from(self, out_dir: Path) -> list[list[str]]:
        """The COGs the pictures are drawn from, with their sizes and times (what would change them)."""
        rows = []
        for r in self.results:
            if r.status in ("done", "skipped"):
                for var, path in sorted(self.outputs(r, out_dir).items()):
                    st = path.stat()
                    rows.append([r.tile, r.period, var, str(st.st_size), str(st.st_mtime_ns)])
        return sorted(rows)

    def _reuse_pictures(self, out_dir: Path) -> bool:
        """Take the previous report's styles and overviews if they were drawn from the same files."""
        self.drawn_from = self._drawn_from(out_dir)
        try:
            old = json.loads((out_dir / "report.json").read_text())
        except (OSError, ValueError):
            return False
        same = old.get("drawn_from") == self.drawn_from and old.get("styles") is not None
        files = [out_dir / o["file"] for o in old.get("overviews", [])]
        if not same or not all(f.exists() for f in files):
            return False
        self.styles, self.overviews = old["styles"], old["overviews"]
        return True

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
