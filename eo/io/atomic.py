"""Atomic file writes: a temp file in the target's directory, then ``os.replace``.

Readers never see a partial output: on any exception the temp file is removed and the target
is left as it was (absent, or its previous version).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


def temp_path(target: Path, suffix: str = "") -> Path:
    """Return a unique hidden path next to ``target`` (same filesystem, so ``os.replace`` is atomic)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp{suffix}")


def remove_quietly(*paths: Path) -> None:
    """Delete ``paths`` (and GDAL side-car ``.aux.xml``/``.ovr`` files) if they exist."""
    for path in paths:
        for p in (path, path.with_name(path.name + ".aux.xml"), path.with_name(path.name + ".ovr")):
            with suppress(FileNotFoundError):
                p.unlink()


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces ``target``, on error it is deleted.

    ``suffix`` is appended to the temp name (e.g. ``".tif"`` so GDAL recognises the format).
    The parent directory of ``target`` is created if missing.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target, suffix)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        remove_quietly(tmp)


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically; return the target path."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``target`` atomically; return the target path."""
    return write_text(target, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
