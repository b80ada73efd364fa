"""The run report: what a pipeline run did, as JSON (for machines) and HTML (for people).

Exit status of ``eo run`` follows the report: 0 success (including "nothing to do"),
1 partial (some tiles failed, the rest are written), 2 failure (nothing could be done:
bad spec, catalogue unreachable, every tile failed).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from eo.io.atomic import write_json, write_text

Status = Literal["done", "skipped", "failed", "empty"]

EXIT_SUCCESS, EXIT_PARTIAL, EXIT_FAILURE = 0, 1, 2


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


@dataclass
class RunReport:
    """Everything a run did; ``exit_code`` summarises it."""

    pipeline: str
    spec_hash: str
    out_dir: str
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finished: str | None = None
    items_found: int = 0
    dashboard: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    results: list[TileResult] = field(default_factory=list)

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (adds counts and exit code)."""
        return {**asdict(self), "counts": self.counts, "exit_code": self.exit_code}

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``report.json`` and ``report.html`` into ``out_dir`` atomically; return their paths."""
        self.finished = self.finished or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        jpath, hpath = out_dir / "report.json", out_dir / "report.html"
        write_json(jpath, json.loads(json.dumps(self.to_dict(), default=str)))
        write_text(hpath, render_html(self))
        return jpath, hpath


def render_html(report: RunReport) -> str:
    """A self-contained HTML page of the report (no scripts, no external assets)."""
    e = html.escape
    rows = []
    for r in report.results:
        vf = "" if r.valid_fraction is None else f"{100 * r.valid_fraction:.1f} %"
        secs = ", ".join(f"{k} {v:.1f}s" for k, v in r.seconds.items())
        ql = next((f for f in r.files if f.endswith(".png")), None)
        img = f'<img src="{e(ql)}" height="64">' if ql else ""
        rows.append(
            f"<tr class='{r.status}'><td>{e(r.tile)}</td><td>{e(r.period)}</td><td>{r.status}</td>"
            f"<td>{len(r.inputs)}</td><td>{vf}</td><td>{e(secs)}</td><td>{img}</td>"
            f"<td>{e(r.error or '')}</td></tr>"
        )
    counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>eo run {e(report.pipeline)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}.failed{{background:#fdd}}.skipped{{color:#777}}</style></head>
<body><h1>eo run: {e(report.pipeline)}</h1>
<p>spec {e(report.spec_hash)} &middot; started {e(report.started)}
&middot; finished {e(report.finished or "")} &middot; items found {report.items_found}
&middot; exit code {report.exit_code}</p>
<p>{e(counts)}</p><p>stages: {e(stages)}</p>
<table><tr><th>tile</th><th>period</th><th>status</th><th>inputs</th><th>valid pixels</th>
<th>time</th><th>quicklook</th><th>error</th></tr>
{"".join(rows)}
</table></body></html>
"""
