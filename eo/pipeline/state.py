"""Incremental state of a pipeline's outputs, and the run lock.

Each (tile, period) output records what it was made from in
``<out>/_state/<tile>/<period>.json``: the spec hash, the input items and a fingerprint of
each (its ``updated`` time when the catalogue gives one, else a hash of its properties and
asset hrefs), and the files written.  A re-run skips a (tile, period) whose fingerprint is
unchanged and whose files all exist; a new or reprocessed scene changes the fingerprint of the
tiles and periods it touches, and only those are recomputed.  The record is written last and
atomically, so an interrupted run resumes where it stopped.

:class:`RunLock` stops two runs of the same pipeline into the same directory from overlapping
(an ``fcntl`` lock, released by the OS if the process dies).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pystac

from eo.errors import LockedError
from eo.io.atomic import write_json


def item_fingerprint(item: pystac.Item) -> dict[str, str]:
    """``{"id", "updated"}`` of an input: ``updated``/``created`` when given, else a content hash."""
    props = item.properties
    stamp = props.get("updated") or props.get("created")
    if not stamp:
        content = {"p": props, "a": sorted((k, a.href) for k, a in item.assets.items())}
        stamp = (
            "sha256:"
            + hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]
        )
    return {"id": item.id, "updated": str(stamp)}


def fingerprint(spec_hash: str, inputs: Iterable[Mapping[str, str]]) -> str:
    """A digest of the spec hash and the sorted input fingerprints."""
    rows = sorted((i["id"], i["updated"]) for i in inputs)
    text = json.dumps([spec_hash, rows], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class StateStore:
    """The ``_state`` directory of one output directory."""

    out_dir: Path

    def path(self, tile: str, period: str) -> Path:
        """Where the record of ``(tile, period)`` lives."""
        return self.out_dir / "_state" / tile / f"{period}.json"

    def read(self, tile: str, period: str) -> dict[str, Any] | None:
        """The record of ``(tile, period)``, or None if absent or unreadable."""
        try:
            return dict(json.loads(self.path(tile, period).read_text()))
        except (OSError, ValueError):
            return None

    def is_current(self, tile: str, period: str, digest: str) -> bool:
        """True if ``(tile, period)`` was made from the same inputs and spec and its files exist."""
        rec = self.read(tile, period)
        if rec is None or rec.get("fingerprint") != digest:
            return False
        return all((self.out_dir / f).exists() for f in rec.get("files", []))

    def record(
        self,
        tile: str,
        period: str,
        digest: str,
        *,
        inputs: Sequence[Mapping[str, str]],
        files: Sequence[Path],
        spec_hash: str,
    ) -> None:
        """Record a finished ``(tile, period)`` (call after every file is in place)."""
        write_json(
            self.path(tile, period),
            {
                "tile": tile,
                "period": period,
                "fingerprint": digest,
                "spec_hash": spec_hash,
                "inputs": list(inputs),
                "files": [str(Path(f).relative_to(self.out_dir)) for f in files],
                "completed": dt.datetime.now(dt.UTC).isoformat(),
            },
        )


class RunLock:
    """An exclusive, non-blocking lock on ``<out>/.eo-run.lock`` (raises LockedError if held)."""

    def __init__(self, out_dir: Path, name: str) -> None:
        self.path = Path(out_dir) / ".eo-run.lock"
        self.name = name
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockedError(
                f"pipeline {self.name!r} is already running into {self.path.parent} ({holder}); "
                "wait for it to finish or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(
            fd, f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}".encode()
        )
        self._fd = fd
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
