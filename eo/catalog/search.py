"""``eo.search``: find STAC items in a named catalogue or at a STAC API URL (pystac-client).

Every parameter is validated before any request (:mod:`eo.params`, :mod:`eo.catalog.filters`).  The catalogue
is a name from ``catalogs/*.yaml`` (:mod:`eo.catalog.definitions`) or an http(s) URL.  The
``local`` catalogue is built on first use (a message on stderr) and served on 127.0.0.1 by
rustac for the duration of the search, unless ``eo catalog serve`` already serves it.

Property filters (``max_cloud``, ``query``) go to the server in the form it declares
(``conformsTo``): the STAC query extension, else CQL2-JSON ``filter``; a server declaring
neither (rustac's memory backend, some static-API mirrors) gets none, and the filter is
applied on the client (logged at DEBUG) while paging continues until ``max_items`` matching
items are found.  The client-side check also runs after server-side filtering, as a safety net.

The result is a :class:`~eo.catalog.result.SearchResult` (a ``pystac.ItemCollection``) that
remembers the catalogue definition it came from (``result.catalog``): ``eo.load(result)`` applies
that catalogue's collection mappings and offset policy, passed to parsing explicitly.  Items are
returned as the server sent them (nothing is added to their properties).

Remote failures are retried within the policy's deadline (:mod:`eo.catalog.retry`) and then raised
as :class:`~eo.errors.RemoteError` naming the endpoint, the request and the last HTTP status.

An empty result says why (:class:`~eo.errors.EmptyResultWarning`): the property filter that removed
every item found (and how many lacked the property: ``max_cloud`` on a catalogue without
``eo:cloud_cover``), else the search parameters that matched nothing.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eo.catalog.definitions import CatalogDefinition, default_catalog, get_catalog
from eo.catalog.filters import describe, failing, property_filter, to_cql2
from eo.catalog.retry import remote_errors, stac_io
from eo.errors import EmptyResultWarning, InputError, RemoteError, UnknownCollectionError
from eo.params import DatetimeInput, parse_bbox, parse_datetime
from eo.retry import RetryPolicy

if TYPE_CHECKING:
    import pystac

    from eo.catalog.result import SearchResult

logger = logging.getLogger(__name__)

__all__ = ["search"]


def _names(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    if value is None:
        return None
    names = (
        [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    )
    names = [n for n in names if n]
    if not names:
        raise InputError(f"{what} is empty; give at least one name or omit it")
    return names


def _positive(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{what} must be a positive integer; got {value!r}")
    return value


# --- where the property filter runs ---------------------------------------------------


def _server_query(kwargs: dict[str, Any], flt: Mapping[str, Any]) -> None:
    kwargs["query"] = dict(flt)


def _server_cql2(kwargs: dict[str, Any], flt: Mapping[str, Any]) -> None:
    kwargs["filter"] = to_cql2(flt)
    kwargs["filter_lang"] = "cql2-json"


def _client_side(kwargs: dict[str, Any], flt: Mapping[str, Any]) -> None:
    kwargs.pop("max_items", None)  # the cap applies to matching items, counted on the client


#: Where a property filter is applied: name -> search-arguments editor.
FILTER_STRATEGIES: dict[str, Callable[[dict[str, Any], Mapping[str, Any]], None]] = {
    "query": _server_query,
    "filter": _server_cql2,
    "client": _client_side,
}


def choose_filter_strategy(conforms_to: Callable[[str], bool], flt: Mapping[str, Any]) -> str | None:
    """``"query"``, ``"filter"`` or ``"client"`` for a server (None when there is no filter)."""
    if not flt:
        return None
    if conforms_to("QUERY"):
        return "query"
    if conforms_to("FILTER") and to_cql2(flt) is not None:
        return "filter"
    return "client"


# --- collections ----------------------------------------------------------------------


def _check_collections(io: Any, url: str, collections: Sequence[str], label: str) -> None:
    from pystac_client.exceptions import APIError

    missing = []
    for cid in collections:
        try:
            io.read_json(f"{url}/collections/{cid}")
        except APIError as err:
            if getattr(err, "status_code", None) != 404:
                raise
            missing.append(cid)
    if missing:
        offered = sorted(
            c["id"] for page in io.get_pages(f"{url}/collections") for c in page.get("collections", [])
        )
        raise UnknownCollectionError(
            f"collection(s) {', '.join(missing)} not offered by {label}; "
            f"it offers: {', '.join(offered) or '(none)'}"
        )


# --- the local catalogue --------------------------------------------------------------


def ensure_local_catalog(definition: CatalogDefinition) -> Path:
    """Return the ``catalog.json`` of a local catalogue; the default one is built on first use."""
    directory = definition.local_dir()
    catalog = directory / "catalog.json"
    if catalog.is_file() or definition.path is not None:
        return catalog
    from eo.catalog.build import build_catalog

    print(
        f"eo: building the local STAC catalogue in {directory} (first use, a few seconds)...", file=sys.stderr
    )
    try:
        built = build_catalog(directory)
    except OSError as err:
        from eo.errors import OutputNotWritableError

        raise OutputNotWritableError(
            f"cannot build the local catalogue in {directory}: {err.strerror or err}; "
            "set EO_HOME to a writable directory (or build it there once: `eo catalog build`)"
        ) from err
    print("eo: local catalogue ready.", file=sys.stderr)
    return built


# --- search ---------------------------------------------------------------------------


def search(
    catalog: str | None = None,
    collections: str | Sequence[str] | None = None,
    bbox: str | Sequence[float] | None = None,
    datetime: DatetimeInput = None,
    ids: str | Sequence[str] | None = None,
    max_cloud: float | None = None,
    query: Mapping[str, Any] | None = None,
    limit: int | None = None,
    max_items: int | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> SearchResult:
    """Search a STAC catalogue and return the matching items (eager: performs HTTP requests).

    Parameters
    ----------
    catalog
        A catalogue name (``"local"``, ``"earth-search"``, ``"planetary-computer"``, ``"cdse"``,
        or one defined in ``EO_CATALOG_PATH``), an http(s) STAC API URL, or a static catalogue on disk
        (a ``catalog.json`` or its directory, e.g. a pipeline's output directory: served on loopback
        for the search); None: the catalogue whose definition says ``default: true`` (``local``).
    collections, ids
        Lists, or comma-separated strings.  Unknown collections raise
        :class:`~eo.errors.UnknownCollectionError` listing those the server offers.
    bbox
        ``(W, S, E, N)`` in EPSG:4326 degrees, or ``"W,S,E,N"``.
    datetime
        RFC 3339 instant, ``YYYY``/``YYYY-MM``/``YYYY-MM-DD``, ``start/end`` with ``..`` for an
        open end, a ``datetime``/``date``, or a ``(start, end)`` pair.  Items with a null
        ``datetime`` match through their ``start_datetime``/``end_datetime``.
    max_cloud
        Maximum ``eo:cloud_cover`` in percent (items without the property do not match).
    query
        STAC query-extension mapping, e.g. ``{"platform": {"eq": "landsat-8"}}``.
    limit
        Page size asked of the server (items per request).
    max_items
        Maximum number of matching items returned (None: all).
    retry
        Retries and timeouts of the requests (default: the ``retry`` setting, :mod:`eo.config`).

    Returns
    -------
    SearchResult
        A ``pystac.ItemCollection`` of the items in server order, with ``.catalog`` the
        definition searched (read by :func:`eo.load`).
    """
    params: dict[str, Any] = {
        "collections": _names(collections, "collections"),
        "bbox": parse_bbox(bbox),
        "datetime": parse_datetime(datetime),
        "ids": _names(ids, "ids"),
        "limit": _positive(limit, "limit"),
        "max_items": _positive(max_items, "max_items"),
    }
    flt = property_filter(max_cloud, query)
    definition = get_catalog(catalog if catalog is not None else default_catalog())
    if definition.kind == "local":
        from eo.catalog.serve import local_api

        with local_api(ensure_local_catalog(definition)) as server:
            return _search_api(server.url, definition, params, flt, retry)
    assert definition.url is not None
    return _search_api(definition.url, definition, params, flt, retry)


def _search_api(
    url: str,
    definition: CatalogDefinition,
    params: dict[str, Any],
    flt: Mapping[str, Any],
    retry: RetryPolicy | None,
) -> SearchResult:
    from pystac_client import Client
    from pystac_client.errors import ClientTypeError

    modifier = definition.load_modifier()
    io = stac_io(retry, endpoint=url)
    with remote_errors(url, io):
        try:
            client = Client.open(url, stac_io=io, modifier=modifier)
        except ClientTypeError as err:
            raise RemoteError(f"{url} is not a STAC API landing page: {err}", endpoint=url) from err
        if not client.conforms_to("ITEM_SEARCH"):
            raise RemoteError(f"{url} does not support STAC item search (/search)", endpoint=url)
        if params["collections"]:
            label = url if definition.name == url else f"catalogue {definition.name!r} ({url})"
            _check_collections(io, url.rstrip("/"), params["collections"], label)
        kwargs = {k: v for k, v in params.items() if v is not None}
        strategy = choose_filter_strategy(client.conforms_to, flt)
        if strategy is not None:
            FILTER_STRATEGIES[strategy](kwargs, flt)
            if strategy == "client":
                logger.debug(
                    "%s conforms to neither query nor filter: filtering %s on the client", url, dict(flt)
                )
        items: list[pystac.Item] = []
        dropped: Counter[tuple[str, bool]] = Counter()
        for item in client.search(**kwargs).items():
            fails = failing(item.properties, flt) if flt else None
            if fails is not None:
                dropped[fails] += 1
                continue
            items.append(item)
            if params["max_items"] is not None and len(items) >= params["max_items"]:
                break
        if dropped:
            logger.info("%s: the property filter dropped %d item(s) here", url, sum(dropped.values()))
        if not items:
            unfiltered = 0
            if flt and strategy in ("query", "filter"):  # filtered on the server: would it find any without?
                probe = {k: v for k, v in params.items() if v is not None} | {"max_items": 1}
                unfiltered = sum(1 for _ in client.search(**probe).items())
            _warn_empty(url, params, flt, dropped, unfiltered)
    from eo.catalog.result import SearchResult

    return SearchResult(items, catalog=definition)


def _warn_empty(
    url: str,
    params: Mapping[str, Any],
    flt: Mapping[str, Any],
    dropped: Counter[tuple[str, bool]],
    unfiltered: int,
) -> None:
    """Say why a search found nothing: the filter that removed everything, else what was searched."""
    from eo.redact import redact_url

    asked = ", ".join(
        f"{k}={v}" for k, v in params.items() if v is not None and k not in ("limit", "max_items")
    )
    where = redact_url(url)
    if dropped:
        prop = dropped.most_common(1)[0][0][0]
        total = sum(dropped.values())
        lacking = sum(n for (p, m), n in dropped.items() if m)
        why = f"{lacking} of them have no {prop!r} property" if lacking else f"none has {describe(flt, prop)}"
        note = " (max_cloud: items without eo:cloud_cover never match it)" if prop == "eo:cloud_cover" else ""
        message = (
            f"the search of {where} ({asked or 'no parameters'}) found {total} item(s), but the property "
            f"filter {describe(flt, prop)} removed them all: {why}; drop or relax that filter{note}"
        )
    elif unfiltered:
        conditions = " and ".join(describe(flt, p) for p in flt)
        message = (
            f"the search of {where} ({asked or 'no parameters'}) matches items, but none with "
            f"{conditions}; drop or relax that filter"
        )
    else:
        message = (
            f"no item of {where} matches {asked or 'the search'}; widen the area or dates, "
            "or check the collections"
        )
    warnings.warn(message, EmptyResultWarning, stacklevel=4)
