"""A pipeline's output directory as a set of transactions, one per (tile, period).

A (tile, period) is committed in this order (each file atomic: a temp file renamed into place):

1. its COGs (and Zarr) and quicklook;
2. its output STAC item ``<out>/<item id>/<item id>.json``;
3. its state record ``_state/<tile>/<period>.json`` naming the files, the item and the report row:
   **the commit**;
4. the catalogue (``collection.json``, ``catalog.json``), rewritten from the committed records;
   files of the tile's previous version that the new one no longer has are then removed.

A period's zonal statistics table (:mod:`eo.pipeline.zonal`) is committed the same way once the
run's tiles are: the table, then its record ``_state/_zonal/<period>.json``, then the catalogue
(the collection lists the committed tables as assets).

The catalogue links only committed items, and only after their files are in place.  A run stopped
anywhere (SIGINT, SIGKILL, power loss) leaves files that no record names and perhaps a catalogue
one commit behind; :meth:`Outputs.recover`, run under the run lock before any work, removes eo's
stale temp files and the uncommitted files, and rebuilds the catalogue from the records, so the
next run converges to what an uninterrupted run writes.  The report (:mod:`eo.pipeline.report`)
is rebuilt from the same records.  Only files named like eo's own are ever removed.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac

from eo.io.atomic import write_json
from eo.io.stac import collection_document, summary, write_item
from eo.pipeline.state import StateStore

#: A temp file of :func:`eo.io.atomic.temp_path` (and its GDAL side-cars): ``.<name>.<12 hex>.tmp*``.
TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(\..+)?$")
#: An output item id: ``<epsg>_<ix>_<iy>_<start>_<end>``.
ITEM_ID = re.compile(r"^\d+_-?\d+_-?\d+_\d{8}_\d{8}$")
#: Seconds between catalogue rewrites while a run commits tiles.
CATALOGUE_EVERY = 2.0
#: Files at the top of an output directory that are eo's bookkeeping, never outputs.
BOOKKEEPING = frozenset({"catalog.json", "collection.json", "report.json", "report.html", ".eo-run.lock"})


@dataclass
class Recovery:
    """What :meth:`Outputs.recover` cleaned up."""

    temp_files: list[str] = field(default_factory=list)
    uncommitted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.temp_files or self.uncommitted)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class Outputs:
    """The committed (tile, period)s of one output directory, and their catalogue."""

    def __init__(self, out_dir: Path, pipeline: str, description: str | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.pipeline = pipeline
        self.description = description or None
        self.store = StateStore(self.out_dir)
        self.records: dict[tuple[str, str], dict[str, Any]] = {
            (r["tile"], r["period"]): r for r in self.store.records()
        }
        self._catalogued = -math.inf  # monotonic time of the last catalogue rewrite
        self._written: dict[str, Any] = {}

    # --- recovery -----------------------------------------------------------------------

    def committed_files(self) -> set[str]:
        """Paths (relative to the output directory) of every committed file."""
        return {f for r in self.records.values() for f in r.get("files", [])}

    def committed_items(self) -> set[str]:
        """Ids of every committed output item."""
        return {str(r["item"]["id"]) for r in self.records.values() if r.get("item")}

    def recover(self) -> Recovery:
        """Remove stale temp files and uncommitted outputs; rebuild the catalogue (under the run lock)."""
        from eo.pipeline import zonal

        done = Recovery()
        if not self.out_dir.is_dir():
            return done
        for path in sorted(self.out_dir.rglob(".*")):
            if TEMP.match(path.name) and path.exists():
                _remove(path)
                done.temp_files.append(str(path.relative_to(self.out_dir)))
        files, items = self.committed_files(), self.committed_items()
        prefix = f"{self.pipeline}_"
        for folder in sorted(p for p in self.out_dir.glob("*/*") if p.is_dir()):
            tile, period = folder.parent.name, folder.name
            if tile.startswith(("_", ".")) or tile in ("overviews", "zonal"):
                continue
            for path in sorted(folder.iterdir()):
                rel = str(path.relative_to(self.out_dir))
                ours = path.name.startswith(f"{prefix}{tile}_{period}")
                if ours and rel not in files:
                    _remove(path)
                    done.uncommitted.append(rel)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
                folder.parent.rmdir()
        tables = {str(r["file"]) for r in zonal.records(self.out_dir)}
        for path in sorted((self.out_dir / zonal.FOLDER).glob(f"{prefix}*_zonal.*")):
            rel = str(path.relative_to(self.out_dir))
            if rel not in tables:
                _remove(path)
                done.uncommitted.append(rel)
        for folder in sorted(p for p in self.out_dir.iterdir() if p.is_dir()):
            if ITEM_ID.match(folder.name) and folder.name not in items:
                _remove(folder)
                done.uncommitted.append(folder.name + "/")
        self.write_catalogue()
        return done

    # --- commits ------------------------------------------------------------------------

    def commit(
        self,
        tile: str,
        period: str,
        digest: str,
        *,
        inputs: Iterable[Mapping[str, str]],
        files: Iterable[Path],
        spec_hash: str,
        item: pystac.Item,
        result: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Commit a (tile, period) whose files are written: its item, its record, the catalogue."""
        write_item(item, self.out_dir, self.pipeline)
        before = self.records.get((tile, period))
        rec = self.store.record(
            tile,
            period,
            digest,
            inputs=list(inputs),
            files=list(files),
            spec_hash=spec_hash,
            item=summary(item),
            result=result,
        )
        self.records[(tile, period)] = rec
        if time.monotonic() - self._catalogued >= CATALOGUE_EVERY:
            self.write_catalogue()
        if before is not None:  # files of the previous version the new one does not have
            for rel in set(before.get("files", [])) - set(rec["files"]):
                _remove(self.out_dir / rel)
            old = (before.get("item") or {}).get("id")
            if old and old != rec["item"]["id"] and old not in self.committed_items():
                _remove(self.out_dir / old)
        return rec

    def write_catalogue(self) -> None:
        """``collection.json`` and ``catalog.json`` linking every committed item (none: left alone).

        A file whose content would not change is not rewritten (a re-run with nothing to do leaves
        the output directory as it was).
        """
        from eo.pipeline import zonal

        summaries = [r["item"] for r in self.records.values() if r.get("item")]
        if not summaries:
            return
        tables = zonal.collection_assets(self.out_dir)
        collection = collection_document(
            summaries,
            self.pipeline,
            description=self.description,
            assets=tables,
            extensions=[zonal.TABLE_EXTENSION] if tables else [],
        )
        root = {
            "type": "Catalog",
            "stac_version": pystac.get_stac_version(),
            "id": f"{self.pipeline}-outputs",
            "description": f"Outputs of the eo pipeline {self.pipeline!r}",
            "links": [
                {"rel": "root", "href": "./catalog.json", "type": "application/json"},
                {"rel": "child", "href": "./collection.json", "type": "application/json"},
            ],
        }
        for name, doc in (("collection.json", collection), ("catalog.json", root)):
            path = self.out_dir / name
            if self._written.get(name) == doc:
                continue
            try:
                same = json.loads(path.read_text()) == doc
            except (OSError, ValueError):
                same = False
            if not same:
                write_json(path, doc)
            self._written[name] = doc
        self._catalogued = time.monotonic()
