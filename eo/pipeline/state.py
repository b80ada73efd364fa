"""Incremental state of a pipeline's outputs, the owner of an output directory, and the run lock.

Each (tile, period) output records what it was made from in
``<out>/_state/<tile>/<period>.json``: the spec hash, the input items used and a fingerprint of
each (its ``updated`` time when the catalogue gives one, else a hash of its properties and
asset hrefs), the files written, its output STAC item's summary and its report row.  The record
is the commit of a (tile, period): it is written atomically after every file, and the catalogue
and the report are rebuilt from the records (:mod:`eo.pipeline.commit`).  A re-run skips a
(tile, period) whose fingerprint is unchanged and whose files all exist; a new or reprocessed
scene changes the fingerprint of the tiles and periods it touches, and only those are recomputed.
A tile made without a scene that could not be read records only the scenes it used, so the next
run tries it again.

An output directory belongs to one pipeline (``_state/pipeline.json``, :func:`claim`): another
pipeline is refused, naming both.  :class:`RunLock` stops two runs into one directory from
overlapping (an ``fcntl`` lock, released by the OS if the process dies) and names the run holding it.
"""

from __future__ import annotations

import contextlib
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

from eo.errors import LockedError, OutputNotWritableError, OutputOwnedError
from eo.io.atomic import write_json
from eo.io.paths import safe_name

#: The file naming the pipeline an output directory belongs to.
OWNER_FILE = "pipeline.json"


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

    @property
    def root(self) -> Path:
        """``<out>/_state``."""
        return self.out_dir / "_state"

    def path(self, tile: str, period: str) -> Path:
        """Where the record of ``(tile, period)`` lives (both must be plain names)."""
        return self.root / safe_name(tile, "tile id") / f"{safe_name(period, 'period label')}.json"

    def read(self, tile: str, period: str) -> dict[str, Any] | None:
        """The record of ``(tile, period)``, or None if absent or unreadable."""
        try:
            return dict(json.loads(self.path(tile, period).read_text()))
        except (OSError, ValueError):
            return None

    def records(self) -> list[dict[str, Any]]:
        """Every readable record, sorted by (tile, period)."""
        out = []
        for path in sorted(self.root.glob("*/*.json")):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a record being replaced, or damaged: as if absent
            if isinstance(rec, dict) and "tile" in rec and "period" in rec:
                out.append(rec)
        return out

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
        item: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Commit a finished ``(tile, period)`` (call after every file is in place); return the record.

        ``item`` is the summary of its output STAC item (:func:`eo.io.stac.summary`), ``result`` its
        report row.
        """
        rec = {
            "tile": tile,
            "period": period,
            "fingerprint": digest,
            "spec_hash": spec_hash,
            "inputs": list(inputs),
            "files": [str(Path(f).relative_to(self.out_dir)) for f in files],
            "completed": dt.datetime.now(dt.UTC).isoformat(),
            "item": dict(item) if item is not None else None,
            "result": dict(result) if result is not None else None,
        }
        write_json(self.path(tile, period), rec)
        return rec


def owner(out_dir: Path) -> str | None:
    """The pipeline an output directory belongs to (None: nobody's yet).

    ``_state/pipeline.json``; for directories written before it existed, the ``pipeline`` of
    ``report.json``.
    """
    for path, key in ((out_dir / "_state" / OWNER_FILE, "pipeline"), (out_dir / "report.json", "pipeline")):
        try:
            value = json.loads(path.read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str) and value:
            return value
    return None


def check_owner(out_dir: Path, name: str) -> None:
    """Raise :class:`OutputOwnedError` if ``out_dir`` belongs to a pipeline other than ``name``."""
    found = owner(out_dir)
    if found is not None and found != name:
        raise OutputOwnedError(
            f"the output directory {out_dir} belongs to pipeline {found!r} (its outputs, state and "
            f"catalogue); pipeline {name!r} cannot write into it: give {name!r} its own --out "
            "(or outputs.dir)"
        )


def claim(out_dir: Path, name: str) -> None:
    """Record ``name`` as the owner of ``out_dir`` (after :func:`check_owner`)."""
    check_owner(out_dir, name)
    path = out_dir / "_state" / OWNER_FILE
    if not path.exists():
        write_json(path, {"pipeline": name, "claimed": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})


def unwritable(path: Path, err: OSError, what: str = "output directory") -> OutputNotWritableError:
    """The error for a directory eo cannot write: what, where, why (the OS's words) and what to do."""
    why = err.strerror or str(err)
    return OutputNotWritableError(
        f"cannot write the {what} {path}: {why}; choose a directory you can write (--out), "
        "or fix its permissions or mount"
    )


class RunLock:
    """An exclusive, non-blocking lock on ``<out>/.eo-run.lock`` (raises LockedError if held).

    The lock file says who holds it (pipeline, process id, since when), so a refused run names it.
    """

    def __init__(self, out_dir: Path, name: str) -> None:
        self.path = Path(out_dir) / ".eo-run.lock"
        self.name = name
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise unwritable(self.path.parent, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 300).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockedError(
                f"{holder} is already running into {self.path.parent}; pipeline {self.name!r} cannot run "
                "into it now: wait for that run to finish, or use another --out"
            ) from None
        try:
            os.ftruncate(fd, 0)
            since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            os.write(fd, f"pipeline {self.name!r} (pid {os.getpid()}, since {since})".encode())
        except OSError as err:
            os.close(fd)
            raise unwritable(self.path.parent, err) from None
        self._fd = fd
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
