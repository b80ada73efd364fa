"""Options shared by several commands: the search filters of ``eo search`` and ``eo view``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SearchQuery:
    """The search filters given on the command line, as typed (parsed by :meth:`run`)."""

    collections: str | None = None
    bbox: str | None = None
    datetime: str | None = None
    max_cloud: str | None = None
    ids: str | None = None
    limit: str | None = None

    def run(self, catalog: str | None) -> Any:
        """Search ``catalog`` with these filters (:func:`eo.search`); the result."""
        from eo.catalog.search import search

        return search(
            catalog=catalog,
            collections=self.collections,
            bbox=self.bbox,
            datetime=self.datetime,
            ids=self.ids,
            max_cloud=_float(self.max_cloud, "--max-cloud"),
            max_items=_int(self.limit, "--limit"),
        )


#: The filter options, in help order (their parameter names are the fields of SearchQuery).
_FILTERS = (
    click.option("--collections", default=None, help="Comma-separated collection ids."),
    click.option("--bbox", default=None, help="W,S,E,N in degrees (EPSG:4326)."),
    click.option("--datetime", default=None, help="RFC 3339 instant or START/END ('..' for open)."),
    click.option("--max-cloud", default=None, help="Maximum eo:cloud_cover, percent."),
    click.option("--ids", default=None, help="Comma-separated item ids."),
    click.option("--limit", default=None, help="Return at most N items."),
)


def search_filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the search filter options to a command, which receives them as one ``query: SearchQuery``."""
    names = ("collections", "bbox", "datetime", "max_cloud", "ids", "limit")

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        query = SearchQuery(**{n: kwargs.pop(n) for n in names})
        return command(*args, query=query, **kwargs)

    for option in reversed(_FILTERS):
        wrapper = option(wrapper)
    return wrapper
