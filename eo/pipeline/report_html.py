"""The HTML page of a run report: self-contained (no scripts, no external assets), relative links.

Sections: the run (spec, times, counts, whether it was interrupted or stopped, how to open the map),
one overview image per variable and period with a colour bar in the variable's units, then one row
per (tile, period) listing its input scenes (ids, dates; scenes left out because they could not be
read, with why), links to its COGs and its quicklook; a failed row leads with the cause.  A row
kept from an earlier run reads "unchanged".
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from eo.io.style import Style, colour_stops

if TYPE_CHECKING:
    from eo.pipeline.report import RunReport, TileResult

e = html.escape

CSS = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}.failed{background:#fdd}
.skipped{color:#777}.pending{color:#999;font-style:italic}.left-out{color:#a60}
.banner{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px}
.cause strong{color:#a00}.scenes{font-size:90%}
figure{display:inline-block;margin:0 1em 1em 0}
figure img{max-width:480px;background:#eee}.bar{width:320px;height:14px;border:1px solid #888}
.ticks{display:flex;justify-content:space-between;width:322px;font-size:80%}details{font-size:85%}"""


def colorbar_html(style: Style) -> str:
    """A colour bar: a CSS gradient of the style's colour map with its limits and units."""
    stops = ", ".join(colour_stops(style.cmap))
    mid = (style.vmin + style.vmax) / 2
    units = "" if style.units in ("", "1") else f" {style.units}"
    ticks = "".join(f"<span>{v:.3g}</span>" for v in (style.vmin, mid, style.vmax))
    return (
        f"<div class='colorbar' data-variable='{e(style.variable)}'>"
        f"<div class='bar' style='background:linear-gradient(to right, {stops})'></div>"
        f"<div class='ticks'>{ticks}</div><div>{e(style.label or style.variable)}{e(units)} "
        f"({e(style.kind)}, <code>{e(style.cmap)}</code>; shared by every tile and period)</div></div>"
    )


def _cause(error: str) -> tuple[str, str]:
    """The first line of an error (what went wrong) and the rest."""
    first, _, rest = error.strip().partition("\n")
    return first, rest


#: How a status reads in the table.
LABELS = {"skipped": "unchanged"}


def _scenes(r: TileResult, scenes: dict[str, dict[str, Any]]) -> str:
    rows = []
    for sid in r.inputs:
        when = str((scenes.get(sid) or {}).get("datetime") or "")[:10]
        rows.append(f"{e(sid)}" + (f" <span class='date'>{e(when)}</span>" if when else ""))
    for sid, why in r.left_out.items():
        rows.append(f"<span class='left-out' title='{e(why)}'>{e(sid)} (left out: {e(why)})</span>")
    return "<div class='scenes'>" + "<br>".join(rows) + "</div>"


def _row(report: RunReport, r: TileResult, scenes: dict[str, dict[str, Any]], out: Any) -> str:
    head = f"<td>{e(r.tile)}</td><td>{e(r.period)}</td><td>{e(LABELS.get(r.status, r.status))}</td>"
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in r.seconds.items())
    if r.status == "failed":
        first, rest = _cause(r.error or "unknown error")
        more = f"<details><summary>details</summary><pre>{e(rest)}</pre></details>" if rest else ""
        body = f"<td colspan='3' class='cause'><strong>{e(first)}</strong>{more}</td>"
        return f"<tr class='failed'>{head}{body}<td>{_scenes(r, scenes)}</td><td>{e(secs)}</td></tr>"
    if r.status in ("pending", "empty"):
        body = f"<td colspan='3'></td><td>{_scenes(r, scenes)}</td><td></td>"
        return f"<tr class='{r.status}'>{head}{body}</tr>"
    vf = "" if r.valid_fraction is None else f"{100 * r.valid_fraction:.1f} %"
    cogs = report.outputs(r, out) if r.status in ("done", "skipped") else {}
    links = "<br>".join(f"<a href='{e(str(p.relative_to(out)))}'>{e(v)}</a>" for v, p in cogs.items())
    ql = next((f for f in r.files if f.endswith(".png")), None)
    if ql is None and cogs:
        ql = next(
            (
                str(p.with_suffix(".png").relative_to(out))
                for p in cogs.values()
                if p.with_suffix(".png").exists()
            ),
            None,
        )
    img = f'<img src="{e(ql)}" height="64" alt="quicklook">' if ql else ""
    return (
        f"<tr class='{r.status}'>{head}<td>{vf}</td><td>{links}</td><td>{img}</td>"
        f"<td>{_scenes(r, scenes)}</td><td>{e(secs)}</td></tr>"
    )


def _overviews(report: RunReport) -> str:
    parts = []
    for var, d in report.styles.items():
        figs = "".join(
            f"<figure><img src='{e(o['file'])}' alt='{e(var)} {e(o['period'])}'>"
            f"<figcaption>{e(var)}, {e(o['period'])}</figcaption></figure>"
            for o in report.overviews
            if o["variable"] == var
        )
        parts.append(
            f"<section class='overview'><h3>{e(var)}</h3>{colorbar_html(Style.from_dict(d))}{figs}</section>"
        )
    return "<h2>Overview</h2>" + "".join(parts) if parts else ""


def _zonal(report: RunReport) -> str:
    """The zonal statistics tables: one row per period, linked."""
    if not report.zonal:
        return ""
    rows = []
    for z in report.zonal:
        link = f"<a href='{e(z.file)}'>{e(z.file)}</a>" if z.file else ""
        what = e(z.error or "") if z.status == "failed" else f"{z.rows} rows, {z.zones} zones"
        rows.append(
            f"<tr class='{e(z.status)}'><td>{e(z.period)}</td><td>{e(LABELS.get(z.status, z.status))}</td>"
            f"<td>{what}</td><td>{e(', '.join(z.variables))}</td><td>{link}</td>"
            f"<td>{z.seconds:.1f} s</td></tr>"
        )
    return (
        "<h2>Zonal statistics</h2><table><tr><th>period</th><th>status</th><th>table</th><th>variables</th>"
        "<th>file</th><th>time</th></tr>" + "".join(rows) + "</table>"
    )


def render_html(report: RunReport) -> str:
    """A self-contained HTML page of the report (no scripts, no external assets)."""
    from pathlib import Path

    out = Path(report.out_dir)
    scenes = {s["id"]: s for s in report.scenes}
    rows = "".join(_row(report, r, scenes, out) for r in report.results)
    counts = ", ".join(f"{LABELS.get(k, k)}: {v}" for k, v in report.counts.items())
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    notes = []
    if report.interrupted:
        notes.append("The run was interrupted; pending tiles were not reached. The next run resumes.")
    if report.stopped:
        notes.append(f"The run stopped early: {report.stopped}")
    if report.left_out:
        notes.append(f"{report.left_out} scene(s) could not be read and were left out (see the tiles).")
    if report.recovered:
        n = sum(len(v) for v in report.recovered.values())
        notes.append(f"Cleaned up {n} file(s) left by an interrupted earlier run.")
    banner = "".join(f"<p class='banner'>{e(n)}</p>" for n in notes)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>eo run {e(report.pipeline)}</title>
<style>{CSS}</style></head>
<body><h1>eo run: {e(report.pipeline)}</h1>
<p>spec {e(report.spec_hash)} &middot; started {e(report.started)}
&middot; finished {e(report.finished or "")} &middot; items found {report.items_found}
&middot; exit code {report.exit_code}</p>
<p>{e(counts)}</p><p>stages: {e(stages)}</p>{banner}
<p class="map">Map: <code>eo view {e(report.out_dir)}</code> shows this run on a web map
(<a id="map-link" href="./">open the map</a> when this page is served by <code>eo view</code>).</p>
{_overviews(report)}
{_zonal(report)}
<h2>Tiles</h2>
<table><tr><th>tile</th><th>period</th><th>status</th><th>valid pixels</th><th>outputs</th>
<th>quicklook</th><th>input scenes</th><th>time</th></tr>
{rows}
</table></body></html>
"""
