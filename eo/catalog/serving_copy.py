"""A serving copy of a static STAC catalogue: what rustac's memory backend loads.

rustac resolves a collection's relative ``item`` links against its working directory and
returns relative asset hrefs verbatim, so a static catalogue is not served as is.  The
serving copy is one JSON file per collection plus one ItemCollection (``items.json``), with
every asset href made ABSOLUTE (a local path for a local catalogue) and the static
catalogue's structural links (self, root, parent, child, item, collection) removed: the
server writes its own.  It lives in ``<catalog dir>/.eo-serve/`` (or, when that directory is
not writable, in ``<EO_HOME>/serve-cache/<hash>/``, else in the system's temporary directory) and is
rebuilt when any JSON file of the catalogue changes (size or modification time).  An up-to-date copy
is used where it is even if that place is read-only (a read-only ``EO_HOME`` with a built
catalogue works).  Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from eo import config
from eo.errors import EOIOError, MetadataError

#: Directory of the serving copy inside the catalogue directory.
CACHE_DIR = ".eo-serve"
#: Bump when the layout of the serving copy changes.
FORMAT = "eo-serve/1"
_STRUCTURAL = {"self", "root", "parent", "child", "item", "collection"}


def catalog_file(catalog_dir: str | Path) -> Path:
    """Return the absolute ``catalog.json`` of a catalogue given by directory or file.

    Raises :class:`EOIOError` when there is none.
    """
    path = Path(catalog_dir).expanduser().resolve()
    if path.is_dir():
        path = path / "catalog.json"
    if not path.is_file():
        raise EOIOError(
            f"no STAC catalogue at {path} (expects a catalog.json); build the local one with "
            "`eo catalog build`, or pass the directory of a static STAC catalogue"
        )
    return path


def _fingerprint(root: Path) -> str:
    h = hashlib.sha1(FORMAT.encode())
    for p in sorted(root.rglob("*.json")):
        if CACHE_DIR in p.relative_to(root).parts:
            continue
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _cache_dirs(catalog: Path) -> list[Path]:
    """Where a serving copy may live, in order of preference."""
    key = hashlib.sha1(str(catalog).encode()).hexdigest()[:16]
    return [
        catalog.parent / CACHE_DIR,
        config.eo_home() / "serve-cache" / key,
        Path(tempfile.gettempdir()) / f"eo-serve-cache-{os.getuid()}" / key,
    ]


def _current(cache: Path, key: str) -> list[Path] | None:
    """The files of an up-to-date serving copy in ``cache``, else None."""
    stamp, index = cache / "fingerprint.txt", cache / "index.json"
    try:
        if stamp.read_text() != key:
            return None
        files = [cache / name for name in json.loads(index.read_text())]
    except (OSError, ValueError):
        return None
    return files if all(f.is_file() for f in files) else None


def _cache_dir(catalog: Path) -> Path:
    """The first place a serving copy can be written."""
    tried = []
    for candidate in _cache_dirs(catalog):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError as err:
            tried.append(f"{candidate} ({err.strerror or err})")
    raise EOIOError(
        f"cannot write a serving copy of {catalog} anywhere: {'; '.join(tried)}; "
        "set EO_HOME to a writable directory"
    )


def _write_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _links(obj: Any) -> list[dict[str, Any]]:
    out = []
    for link in obj.links:
        if link.rel in _STRUCTURAL:
            continue
        d = link.to_dict(transform_href=False)
        d["href"] = link.get_absolute_href() or link.href
        out.append(d)
    return out


def _absolute_assets(d: dict[str, Any], obj: Any) -> None:
    for key, asset in obj.assets.items():
        d["assets"][key]["href"] = asset.get_absolute_href() or asset.href


def _item_dict(item: Any) -> dict[str, Any]:
    d: dict[str, Any] = item.to_dict(include_self_link=False, transform_hrefs=False)
    _absolute_assets(d, item)
    d["links"] = _links(item)
    if item.collection_id:
        d["collection"] = item.collection_id
    return d


def _collection_dict(col: Any) -> dict[str, Any]:
    d: dict[str, Any] = col.to_dict(include_self_link=False, transform_hrefs=False)
    if col.assets:
        _absolute_assets(d, col)
    d["links"] = _links(col)
    return d


def serving_copy(catalog: Path) -> list[Path]:
    """Write (or reuse) the serving copy of ``catalog`` (a ``catalog.json``); return its files.

    Returns the collection files then ``items.json``, in the order rustac should load them.
    Reads the whole catalogue with pystac (eager; small catalogues).
    """
    import pystac

    catalog = catalog_file(catalog)
    key = _fingerprint(catalog.parent)
    for candidate in _cache_dirs(catalog):
        found = _current(candidate, key)
        if found is not None:
            return found
    cache = _cache_dir(catalog)
    stamp = cache / "fingerprint.txt"
    index = cache / "index.json"
    try:
        cat = pystac.Catalog.from_file(str(catalog))
        collections = [(col.id, _collection_dict(col)) for col in cat.get_all_collections()]
        items = [_item_dict(item) for item in cat.get_items(recursive=True)]
    except (pystac.STACError, ValueError, KeyError, TypeError, OSError) as err:
        raise MetadataError(
            f"cannot read the static STAC catalogue {catalog}: {type(err).__name__}: {err}; "
            "rebuild it (`eo catalog build --force`) or fix the file named"
        ) from err
    files = []
    for cid, doc in collections:
        path = cache / f"collection-{cid}.json"
        _write_json(path, doc)
        files.append(path)
    items_path = cache / "items.json"
    _write_json(items_path, {"type": "FeatureCollection", "features": items})
    files.append(items_path)
    _write_json(index, [f.name for f in files])
    stamp.write_text(key)
    return files
