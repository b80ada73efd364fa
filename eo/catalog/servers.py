"""The record of local STAC servers started by ``eo catalog serve`` (``<EO_HOME>/servers.json``).

One small JSON file lists ``{pid, port, catalog, backend, started}`` per server; entries whose
process is gone or whose port no longer answers are pruned when read.  Writes are atomic
(temporary file in the same directory, then ``os.replace``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eo import config

STATE_FILE = "servers.json"


@dataclass(frozen=True)
class ServerRecord:
    """One running server: process id, loopback port, served ``catalog.json``, backend name."""

    pid: int
    port: int
    catalog: str
    backend: str = "rustac-memory"
    started: float = field(default_factory=time.time)
    """Unix time (seconds) the server was started."""


def state_path() -> Path:
    """``<EO_HOME>/servers.json``."""
    return config.eo_home() / STATE_FILE


def log_path(port: int) -> Path:
    """Log file of the server on ``port``: ``<EO_HOME>/logs/server-<port>.log`` (directory created).

    With a read-only ``EO_HOME``, ``eo-logs-<uid>/`` in the system's temporary directory.
    """
    for d in (config.eo_home() / "logs", Path(tempfile.gettempdir()) / f"eo-logs-{os.getuid()}"):
        try:
            d.mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                return d / f"server-{port}.log"
        except OSError:
            continue
    return Path(os.devnull)


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether ``GET <url>/`` answers HTTP 200."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read() -> list[ServerRecord]:
    """Every recorded server (alive or not); an unreadable file counts as empty."""
    try:
        data = json.loads(state_path().read_text())
        return [ServerRecord(**r) for r in data.get("servers", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def _write(records: list[ServerRecord]) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".servers-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"servers": [asdict(r) for r in records]}, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(record: ServerRecord) -> None:
    """Add a server (replacing an entry with the same pid or port)."""
    keep = [r for r in read() if r.pid != record.pid and r.port != record.port]
    _write([*keep, record])


def unregister(pid: int) -> None:
    """Remove the entry of a process (no-op when absent)."""
    records = read()
    keep = [r for r in records if r.pid != pid]
    if len(keep) != len(records):
        with contextlib.suppress(OSError):  # a read-only EO_HOME: the stale entry is pruned on read
            _write(keep)


def running() -> list[ServerRecord]:
    """Return the recorded servers whose process exists and port answers; prune the others."""
    records = read()
    live = [r for r in records if pid_alive(r.pid) and answers(f"http://127.0.0.1:{r.port}")]
    if len(live) != len(records):
        with contextlib.suppress(OSError):  # pruning is a courtesy (a read-only EO_HOME)
            _write(live)
    return live
