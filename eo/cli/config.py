"""``eo config``: print every setting's effective value and where it came from (see :mod:`eo.config`)."""

from __future__ import annotations

import json
from typing import Any

import click


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ":".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value) if value else "{}"
    return "-" if value is None else str(value)


@click.command(name="config")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as a JSON object.")
def command(as_json: bool) -> None:
    """Print eo's settings: name, effective value, where it came from (environment or default), meaning."""
    from eo import config

    rows = config.describe()
    if as_json:
        doc = {n: {"value": _show(v), "source": src, "env": config.SETTINGS[n].env} for n, v, src, _ in rows}
        click.echo(json.dumps(doc, indent=1))
        return
    for name, value, source, text in rows:
        env = config.SETTINGS[name].env
        click.echo(f"{name:<14} {_show(value)}\n{'':<14} from {source} ({env}): {text}")
