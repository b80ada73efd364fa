"""``eo run SPEC [--out DIR] [--cluster ADDRESS]``: run a pipeline spec (see eo.pipeline)."""

from __future__ import annotations

import sys

import click

from eo.pipeline import load_spec, run


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
def command(spec: str, out: str | None, cluster: str | None) -> None:
    """Run the pipeline SPEC: search, composite per tile and period, write COGs + STAC + report.

    Exit status: 0 success (or nothing to do), 1 partial (some tiles failed), 2 failure.
    """
    parsed = load_spec(spec)
    report = run(parsed, out=out, cluster=cluster, progress=lambda s: click.echo(s, err=True))
    c = report.counts
    click.echo(
        f"{parsed.name}: {c['done']} done, {c['skipped']} unchanged, {c['failed']} failed, {c['empty']} empty"
    )
    click.echo(f"outputs: {report.out_dir}")
    click.echo(f"STAC: {report.out_dir}/catalog.json")
    click.echo(f"report: {report.out_dir}/report.html")
    sys.exit(report.exit_code)
