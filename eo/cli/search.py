"""``eo search``: search a catalogue; print a table or the ItemCollection as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from eo.cli.options import SearchQuery, search_filters


def _when(props: dict[str, Any]) -> str:
    if props.get("datetime"):
        return str(props["datetime"])
    start, end = props.get("start_datetime"), props.get("end_datetime")
    return f"{start or '..'}/{end or '..'}" if (start or end) else "-"


def _cloud(props: dict[str, Any]) -> str:
    value = props.get("eo:cloud_cover")
    return f"{float(value):.1f}" if isinstance(value, (int, float)) else "-"


def table(items: Sequence[Any]) -> str:
    """Plain-text table of items: id, collection, datetime (or start/end bounds), cloud %, platform."""
    header = ("id", "collection", "datetime", "cloud %", "platform")
    rows = [
        (
            i.id,
            i.collection_id or "-",
            _when(i.properties),
            _cloud(i.properties),
            str(i.properties.get("platform", "-")),
        )
        for i in items
    ]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *rows])


@click.command(name="search")
@click.option(
    "--catalog",
    default=None,
    help="Catalogue name, STAC API URL, or a static catalogue (catalog.json or its directory, such as a "
    "pipeline's output directory). Default: the one marked default, `local`.",
)
@search_filters
@click.option("--json", "as_json", is_flag=True, help="Print the ItemCollection as JSON.")
def command(catalog: str | None, query: SearchQuery, as_json: bool) -> None:
    """Search a STAC catalogue (default: the local one) and print the items found."""
    items = query.run(catalog)
    if as_json:
        click.echo(json.dumps(items.to_dict(transform_hrefs=False), indent=1))
        return
    click.echo(table(list(items)))
    click.echo(f"{len(items)} item(s)", err=True)
