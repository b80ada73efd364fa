"""Catalogues of the benchmark data whose assets are ``http://127.0.0.1`` URLs (the network workloads).

The item JSON stays on local disk (the items are in hand, as after a search); every asset href
becomes ``<base_url>/<path of the file under the data directory>``, which nginx serves from that
directory.  :func:`remote_catalog` keeps the data set's items; :func:`many_items_catalog` makes
``n`` items (the catalogue-scale planning case) by cycling over them with new ids and dates, so
that every href names a real file: an open during planning would succeed and be counted.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

ROOT_LINKS = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]


def _items(catalog: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(path, JSON) of every item under the data set's directory, sorted by datetime.

    Hidden directories (a serving copy, ``.eo-serve``, made when the catalogue was served) are not read.
    """
    found = []
    root = catalog.parent
    for path in root.rglob("*.json"):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        d = json.loads(path.read_text())
        if isinstance(d, dict) and d.get("type") == "Feature":
            found.append((path, d))
    return sorted(found, key=lambda pd: (pd[1]["properties"]["datetime"], pd[1]["id"]))


def _url(item_path: Path, href: str, data_root: Path, base_url: str) -> str:
    local = (item_path.parent / href).resolve() if "://" not in href else None
    if local is None:
        return href
    return f"{base_url.rstrip('/')}/{local.relative_to(data_root.resolve()).as_posix()}"


def _write(out: Path, items: list[dict[str, Any]], catalog_id: str) -> Path:
    (out / "items").mkdir(parents=True, exist_ok=True)
    links = list(ROOT_LINKS)
    for d in items:
        d["links"] = [
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
        ]
        (out / "items" / f"{d['id']}.json").write_text(json.dumps(d))
        links.append({"rel": "item", "href": f"./items/{d['id']}.json", "type": "application/json"})
    cat = {
        "type": "Catalog",
        "stac_version": "1.1.0",
        "id": catalog_id,
        "description": "benchmark items whose assets are served over HTTP",
        "links": links,
    }
    path = out / "catalog.json"
    path.write_text(json.dumps(cat, indent=1))
    return path


def remote_catalog(catalog: Path, base_url: str, out: Path) -> Path:
    """Write a catalogue of the data set's items with HTTP asset hrefs under ``out``; its catalog.json."""
    items = []
    for path, d in _items(catalog):
        for asset in d["assets"].values():
            asset["href"] = _url(path, asset["href"], catalog.parent, base_url)
        items.append(d)
    return _write(out, items, "eo-bench-remote")


def many_items_catalog(catalog: Path, base_url: str, n: int, out: Path) -> Path:
    """``n`` items cycling over the data set's (new ids, one day apart), HTTP hrefs; its catalog.json."""
    source = _items(catalog)
    start = dt.datetime.fromisoformat(source[0][1]["properties"]["datetime"].replace("Z", "+00:00"))
    items = []
    for i in range(n):
        path, d = source[i % len(source)]
        d = copy.deepcopy(d)
        when = (start + dt.timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        d["id"] = f"{d['id']}-{i:04d}"
        d["properties"]["datetime"] = when
        for asset in d["assets"].values():
            asset["href"] = _url(path, asset["href"], catalog.parent, base_url)
        items.append(d)
    return _write(out, items, f"eo-bench-remote-{n}")
