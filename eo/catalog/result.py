"""The result of :func:`eo.search`: an ItemCollection that remembers the catalogue it came from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pystac

from eo.catalog.definitions import CatalogDefinition


class SearchResult(pystac.ItemCollection):
    """A ``pystac.ItemCollection`` with ``catalog``: the definition of the catalogue searched.

    :func:`eo.load` reads ``catalog`` to apply the catalogue's collection mappings and offset policy
    (pass ``catalog=`` to ``eo.load`` for items from elsewhere).  Everything else is pystac's.
    """

    def __init__(
        self, items: Iterable[pystac.Item], catalog: CatalogDefinition | None = None, **kwargs: Any
    ) -> None:
        super().__init__(items, **kwargs)
        self.catalog = catalog
