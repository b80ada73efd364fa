"""``eo search``: search a catalogue; print a table or the ItemCollection as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from eo.errors import InputError


def _int(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{option} expects a positive integer; got {value!r}") from None


def _float(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{option} expects a number (percent); got {value!r}") from None


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
@click.option("--collections", default=None, help="Comma-separated collection ids.")
@click.option("--bbox", default=None, help="W,S,E,N in degrees (EPSG:4326).")
@click.option("--datetime", "dt", default=None, help="RFC 3339 instant or START/END ('..' for open).")
@click.option("--max-cloud", default=None, help="Maximum eo:cloud_cover, percent.")
@click.option("--ids", default=None, help="Comma-separated item ids.")
@click.option("--limit", default=None, help="Return at most N items.")
@click.option("--json", "as_json", is_flag=True, help="Print the ItemCollection as JSON.")
def command(
    catalog: str | None,
    collections: str | None,
    bbox: str | None,
    dt: str | None,
    max_cloud: str | None,
    ids: str | None,
    limit: str | None,
    as_json: bool,
) -> None:
    """Search a STAC catalogue (default: the local one) and print the items found."""
    from eo.catalog.search import search

    items = search(
        catalog=catalog,
        collections=collections,
        bbox=bbox,
        datetime=dt,
        ids=ids,
        max_cloud=_float(max_cloud, "--max-cloud"),
        max_items=_int(limit, "--limit"),
    )
    if as_json:
        click.echo(json.dumps(items.to_dict(transform_hrefs=False), indent=1))
        return
    click.echo(table(list(items)))
    click.echo(f"{len(items)} item(s)", err=True)
