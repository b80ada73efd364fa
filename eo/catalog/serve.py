"""Serve a static STAC catalogue as a real STAC API on 127.0.0.1 (rustac).

:func:`serve` starts ``rustac serve`` (the rustac CLI, run with this interpreter) bound to
loopback only and returns a :class:`LocalServer` once ``GET /`` answers.  What rustac's
in-memory backend does, verified with rustac 0.9 (CLI 0.2):

* it serves collections, items and item collections given as files, but resolves the
  relative ``item`` links of a collection against the working directory, and returns
  relative asset hrefs verbatim (a client would resolve them against the server URL);
  so eo writes a serving copy next to the catalogue (``<catalog>/.eo-serve/``, or under
  ``EO_HOME`` when the catalogue is read-only): one JSON per collection and one
  ItemCollection, with ABSOLUTE asset hrefs and the static catalogue's structural links
  removed.  The copy is rebuilt when a JSON file of the catalogue changes;
* searches by ``bbox``, ``datetime`` (also matching ``start_datetime``/``end_datetime`` of
  items with a null ``datetime``), ``ids``, ``collections``, ``limit`` with ``skip``-based
  ``next`` links (GET and POST);
* does NOT conform to query, filter or sort: GET ignores ``query``/``sortby``, POST with
  ``query`` or ``filter`` returns no items.  :mod:`eo.catalog.search` therefore filters
  properties on the client for servers that do not declare those conformance classes.

Backends are a registry (:data:`BACKENDS`: name -> argument builder).  ``rustac-memory`` is
the default; ``rustac-pgstac`` runs ``rustac serve --pgstac $EO_PGSTAC_DSN`` against a
running PostgreSQL/pgstac database (loading the same serving copy).  A stac-fastapi + pgstac
deployment needs no backend here: load the catalogue with ``pypgstac load`` and search its
URL directly (``eo.search(catalog="http://...")``).

Servers started by ``eo catalog serve`` are recorded in ``<EO_HOME>/servers.json`` (pid,
port, catalogue directory); :func:`find_server` returns a live one for a catalogue so that
searches reuse it instead of starting their own.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from eo import config
from eo.catalog import servers
from eo.catalog.serving_copy import catalog_file, serving_copy
from eo.errors import ConfigError, DependencyError, PortInUseError, ServerError, UnknownMethodError

HOST = "127.0.0.1"


def rustac_executable() -> str:
    """Return the ``rustac`` console script of this environment (next to the interpreter, else on PATH).

    (``python -c "from rustac import main"`` does not work: rustac parses the process's own
    arguments, not ``sys.argv``.)  Raises :class:`DependencyError` when it is missing.
    """
    import shutil

    for name in ("rustac", "rustac.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("rustac")
    if found is None:
        raise DependencyError("the `rustac` command is not installed; run `pip install rustac`")
    return found


#: Environment variable with the PostgreSQL connection string of the ``rustac-pgstac`` backend.
ENV_PGSTAC_DSN = config.SETTINGS["pgstac_dsn"].env

Backend = Callable[[Path], list[str]]
"""Builds the ``rustac`` arguments (without ``--addr``) serving the catalogue at a ``catalog.json``."""


def _rustac_memory(catalog: Path) -> list[str]:
    return ["serve", *(str(p) for p in serving_copy(catalog))]


def _rustac_pgstac(catalog: Path) -> list[str]:
    dsn = config.get("pgstac_dsn")
    if not dsn:
        raise ConfigError(
            f"backend 'rustac-pgstac' needs a PostgreSQL/pgstac connection string in {ENV_PGSTAC_DSN} "
            "(postgresql://user:password@host:5432/db); or use the default backend 'rustac-memory'"
        )
    return ["serve", "--pgstac", dsn, *(str(p) for p in serving_copy(catalog))]


#: Server backends: name -> argument builder.
BACKENDS: dict[str, Backend] = {"rustac-memory": _rustac_memory, "rustac-pgstac": _rustac_pgstac}


@dataclass
class LocalServer:
    """A STAC API serving a local catalogue on 127.0.0.1 (a context manager that stops it)."""

    url: str
    """Root URL of the API, ``http://127.0.0.1:<port>`` (no trailing slash)."""
    port: int
    catalog: Path
    """The served ``catalog.json``."""
    process: subprocess.Popen[bytes] | None = None
    """The server process when this object started it; None for a reused server."""
    log_path: Path | None = None
    pid: int | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def owned(self) -> bool:
        """Whether :meth:`stop` stops the process (only servers this object started)."""
        return self.process is not None

    def alive(self) -> bool:
        """Whether the server answers ``GET /``."""
        return servers.answers(self.url, timeout=1.0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop an owned server: terminate, wait ``timeout`` seconds, then kill.  Idempotent."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if proc is not None:
            servers.unregister(proc.pid)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as rustac (tokio) binds: TIME_WAIT is free
        try:
            s.bind((HOST, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _port_in_use(port: int) -> PortInUseError:
    return PortInUseError(
        f"port {port} on {HOST} is already in use; pass another one with --port (or port=...), "
        "or omit it to pick a free port"
    )


def _log_tail(path: Path, limit: int = 800) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return " | ".join(text[-limit:].splitlines())


def serve(
    catalog_dir: str | Path,
    port: int | None = None,
    *,
    backend: str = "rustac-memory",
    timeout: float = 60.0,
    register: bool = False,
) -> LocalServer:
    """Serve the static catalogue in ``catalog_dir`` as a STAC API on 127.0.0.1.

    Parameters
    ----------
    catalog_dir
        Directory holding ``catalog.json`` (or the ``catalog.json`` itself).
    port
        TCP port; None picks a free one.  A busy port raises :class:`PortInUseError`.
    backend
        Name in :data:`BACKENDS`.
    timeout
        Seconds to wait for ``GET /`` to answer; :class:`ServerError` (with rustac's stderr)
        if the server dies or does not answer in time.
    register
        Record the server in ``<EO_HOME>/servers.json`` so other processes reuse it.

    Returns
    -------
    LocalServer
        Running; stop it with ``.stop()`` or use it as a context manager.
    """
    catalog = catalog_file(catalog_dir)
    if backend not in BACKENDS:
        raise UnknownMethodError(f"unknown server backend {backend!r}; known: {', '.join(sorted(BACKENDS))}")
    args = BACKENDS[backend](catalog)
    if port is not None and not _port_is_free(port):
        raise _port_in_use(port)
    for attempt in range(1 if port is not None else 3):
        chosen = port if port is not None else free_port()
        try:
            server = _start(
                catalog, [rustac_executable(), *args, "--addr", f"{HOST}:{chosen}"], chosen, timeout
            )
            break
        except PortInUseError:
            if port is not None or attempt == 2:
                raise  # a free port picked by the OS was taken meanwhile: try another one
    if register:
        assert server.pid is not None
        servers.register(servers.ServerRecord(server.pid, server.port, str(catalog), backend))
    return server


def _start(catalog: Path, cmd: list[str], port: int, timeout: float) -> LocalServer:
    log_path = servers.log_path(port)
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    server = LocalServer(f"http://{HOST}:{port}", port, catalog, proc, log_path, proc.pid, log)
    atexit.register(server.stop)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: LocalServer, timeout: float) -> None:
    assert server.process is not None and server.log_path is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = _log_tail(server.log_path)
            if "in use" in tail.lower() or "os error 98" in tail:
                raise _port_in_use(server.port)
            raise ServerError(
                f"the STAC server for {server.catalog} exited with status {server.process.returncode}: "
                f"{tail or '(no output)'}"
            )
        if servers.answers(server.url, timeout=1.0):
            return
        time.sleep(0.1)
    raise ServerError(
        f"the STAC server for {server.catalog} did not answer on {server.url} within {timeout:.0f} s; "
        f"its log: {_log_tail(server.log_path) or '(empty)'}"
    )


def find_server(catalog_dir: str | Path) -> LocalServer | None:
    """Return a live registered server of this catalogue (started by ``eo catalog serve``), or None."""
    catalog = catalog_file(catalog_dir)
    for rec in servers.running():
        if Path(rec.catalog) == catalog:
            return LocalServer(f"http://{HOST}:{rec.port}", rec.port, catalog, pid=rec.pid)
    return None


@contextlib.contextmanager
def local_api(catalog_dir: str | Path, **serve_kwargs: Any) -> Iterator[LocalServer]:
    """Yield a server of the catalogue: a running registered one, else one started for the block."""
    existing = find_server(catalog_dir)
    if existing is not None:
        yield existing
        return
    with serve(catalog_dir, **serve_kwargs) as server:
        yield server
