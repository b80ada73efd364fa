"""``eo run SPEC [--out DIR] [--cluster ADDRESS] [--dry-run]``: run a pipeline spec (see eo.pipeline).

Exit status: 0 success (or nothing to do), 1 partial (some tiles failed or a scene that could not be
read was left out; the rest written), 2 failure (bad spec, unreachable catalogue, no items, output
directory unwritable or another pipeline's, storage full before anything was written), 130
interrupted by Ctrl-C (143 by SIGTERM: the ``eo`` script handles both, :mod:`eo._console`), after
the report of what finished was written; the next run resumes.  Every failure is one line on stderr.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from eo.cli import EXIT_SIGNAL_BASE, interrupting_signal


def _finished(out: Path) -> str:
    """What the report of an interrupted run says finished."""
    try:
        counts = json.loads((out / "report.json").read_text())["counts"]
    except (OSError, ValueError, KeyError):
        return "no report was written"
    done = ", ".join(f"{v} {'unchanged' if k == 'skipped' else k}" for k, v in counts.items() if v)
    return f"{done}; report: {out}/report.html"


@click.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option(
    "--out", "out", type=click.Path(file_okay=False), help="Output directory (overrides outputs.dir)."
)
@click.option(
    "--cluster",
    help="Dask scheduler address (tcp://host:port), or 'threads' for this process only. "
    "Default: a LocalCluster of worker processes sized to this machine.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the spec, search and print the plan (items, tiles, periods, sizes, memory); "
    "write nothing, start no cluster.",
)
def command(spec: str, out: str | None, cluster: str | None, dry_run: bool) -> None:
    """Run the pipeline SPEC: search, composite per tile and period, write COGs + STAC + report.

    Exit status: 0 success (or nothing to do), 1 partial (some tiles failed, or unreadable scenes
    were left out), 2 failure, 130 interrupted (143 by SIGTERM).
    """
    from eo.pipeline import load_spec, plan, run

    parsed = load_spec(spec)
    if out is not None:
        parsed = parsed.with_out_dir(out)
    say = lambda s: click.echo(s, err=True)  # noqa: E731
    if dry_run:
        click.echo(plan(parsed, progress=say).describe())
        return
    try:
        report = run(parsed, cluster=cluster, progress=say)
    except KeyboardInterrupt:
        signum = interrupting_signal()
        name = signal.Signals(signum).name
        click.echo(f"{parsed.name}: interrupted ({name}): {_finished(parsed.out_dir)}", err=True)
        sys.exit(EXIT_SIGNAL_BASE + signum)
    c = report.counts
    click.echo(
        f"{parsed.name}: {c['done']} done, {c['skipped']} unchanged, {c['failed']} failed, {c['empty']} empty"
        + (f", {c['pending']} not reached" if c.get("pending") else "")
    )
    click.echo(f"outputs: {report.out_dir}")
    if (Path(report.out_dir) / "catalog.json").exists():
        click.echo(f"STAC: {report.out_dir}/catalog.json")
    click.echo(f"report: {report.out_dir}/report.html")
    if report.stopped:
        click.echo(f"error: {report.stopped}", err=True)
    elif report.exit_code:
        click.echo(_problems(report), err=True)
    sys.exit(report.exit_code)


def _problems(report: Any) -> str:
    """The one stderr line of a partial or failed run: which tiles failed, how many scenes were left out."""
    failed = [f"{r.tile} {r.period}" for r in report.results if r.status == "failed"]
    left = f"{report.left_out} unreadable scene(s) left out; see the report"
    if not failed:
        return f"warning: {left}"
    more = ", ..." if len(failed) > 5 else ""
    text = f"error: {len(failed)} tile(s) failed ({', '.join(failed[:5])}{more})"
    return f"{text}; {left}" if report.left_out else f"{text}; see the report"
