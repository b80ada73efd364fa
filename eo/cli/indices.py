"""``eo indices``: list the spectral indices of the catalogue."""

from __future__ import annotations

import json

import click


@click.command("indices")
@click.option(
    "--domain", default=None, help="Only this application domain (vegetation, water, burn, urban...)."
)
@click.option(
    "--bands-available",
    "sensor_id",
    metavar="SENSOR_ID",
    default=None,
    help="Only indices computable from the bands of this sensor profile (e.g. sentinel-2-msi).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def command(domain: str | None, sensor_id: str | None, as_json: bool) -> None:
    """List spectral indices: short name, long name, bands, domain."""
    from eo.spectral import list_indices, profile_symbols

    available = None
    if sensor_id is not None:
        import eo.sensors

        available = profile_symbols(eo.sensors.get(sensor_id))
    recs = list_indices(domain=domain, available=available)
    if as_json:
        rows = [
            {
                "short_name": r.short_name,
                "long_name": r.long_name,
                "bands": list(r.bands),
                "constants": list(r.constants),
                "domain": r.domain,
                "formula": r.formula,
                "reference": r.reference,
            }
            for r in recs
        ]
        click.echo(json.dumps(rows, indent=1))
        return
    width = max((len(r.short_name) for r in recs), default=10)
    for r in recs:
        click.echo(f"{r.short_name:<{width}}  {r.domain:<10}  {','.join(r.bands):<22}  {r.long_name}")
    click.echo(f"{len(recs)} indices", err=True)
