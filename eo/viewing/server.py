"""The ``eo view`` web server: a threaded HTTP server on 127.0.0.1 serving one :class:`MapModel`.

Routes (GET only):

``/``                                        the map page (``static/index.html``)
``/_eo/static/<file>``                       the page's assets shipped in the package (Leaflet...)
``/_eo/map.json``                            the map document (:meth:`MapModel.document`)
``/_eo/tiles/<variable>/<period>/<z>/<x>/<y>.png``  a map tile (:func:`eo.viewing.tiles.render`)
``/_eo/point?lon=&lat=``                     values of every variable there, per period
``/<path>``                                  a file of the served directory (report, COGs, PNGs)

Safety: the socket binds 127.0.0.1 only; requests whose ``Host`` is not this loopback address
are refused (DNS rebinding); a file path is resolved (symlinks too) and served only when it stays
inside the served directory and names no hidden file (``..``, absolute paths, encoded
separators and NUL are refused); rasters are addressed by variable and period, never by a path.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eo.errors import PortInUseError, ServerError
from eo.viewing import tiles
from eo.viewing.model import MapModel

log = logging.getLogger("eo.view")

HOST = "127.0.0.1"
TILE_RE = re.compile(r"^/_eo/tiles/([^/]+)/(\d+)/(\d+)/(\d+)/(\d+)\.png$")
MAX_ZOOM = 24


def static_dir() -> Path:
    """The directory of the page's assets inside the installed package."""
    return Path(str(files("eo.viewing") / "static"))


def safe_file(root: Path, raw: str) -> Path | None:
    """The file ``raw`` (a URL path, percent-encoded) names inside ``root``, or None when it escapes.

    Refused: ``..`` segments, absolute paths, backslashes, NUL, hidden names (``.lock``, temp
    files), and anything that resolves (through symlinks) outside ``root``.
    """
    path = unquote(raw)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in ("..", ".") or p.startswith(".") for p in parts) or path.startswith("//"):
        return None
    base = root.resolve()
    target = (base / Path(*parts)).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


class Handler(BaseHTTPRequestHandler):
    """Answers the routes of the module docstring for ``server.model``."""

    server: ViewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, ctype: str, cache: str = "no-cache") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        port = self.server.server_address[1]
        return host in (f"{HOST}:{port}", f"localhost:{port}")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_ok():
            self._error(HTTPStatus.FORBIDDEN, "eo view answers requests to 127.0.0.1 only")
            return
        url = urlsplit(self.path)
        try:
            self._route(url.path, parse_qs(url.query))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # one bad request must not stop the server
            log.exception("eo view: %s failed", self.path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(err).__name__}: {err}")

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        model = self.server.model
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/_eo/static/"):
            self._static(path[len("/_eo/static/") :])
        elif path == "/_eo/map.json":
            self._send(HTTPStatus.OK, json.dumps(model.document()).encode(), "application/json")
        elif m := TILE_RE.match(path):
            self._tile(unquote(m.group(1)), *(int(g) for g in m.groups()[1:]))
        elif path == "/_eo/point":
            self._point(query)
        elif path.startswith("/_eo/"):
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")
        elif model.root is not None and (target := safe_file(model.root, path)) is not None:
            self._file(target)
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found (only files inside the served directory are served)")

    def _static(self, name: str) -> None:
        target = safe_file(static_dir(), name)
        if target is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such asset: {name}")
            return
        self._file(target)

    def _file(self, target: Path) -> None:
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix in (".js", ".css", ".html", ".json"):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype)

    def _tile(self, variable: str, period: int, z: int, x: int, y: int) -> None:
        model = self.server.model
        if variable not in model.variables or not 0 <= period < len(model.periods):
            self._error(HTTPStatus.NOT_FOUND, f"no layer {variable!r} for period {period}")
            return
        if z > MAX_ZOOM or x >= 2**z or y >= 2**z:
            self._error(HTTPStatus.NOT_FOUND, f"no tile {z}/{x}/{y}")
            return
        self._send(HTTPStatus.OK, tiles.render(model, variable, period, z, x, y), "image/png")

    def _point(self, query: dict[str, list[str]]) -> None:
        try:
            lon, lat = float(query["lon"][0]), float(query["lat"][0])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError
        except (KeyError, ValueError, IndexError):
            self._error(HTTPStatus.BAD_REQUEST, "point needs lon (-180..180) and lat (-90..90) in degrees")
            return
        body = json.dumps(tiles.point(self.server.model, lon, lat), allow_nan=False).encode()
        self._send(HTTPStatus.OK, body, "application/json")


class ViewServer(ThreadingHTTPServer):
    """The map server of one :class:`MapModel` on 127.0.0.1 (a context manager that stops it).

    ``serve_in_thread()`` starts it in a daemon thread (the Python API); ``serve_forever()``
    blocks (the CLI, stopped by Ctrl-C).
    """

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, model: MapModel, port: int = 0) -> None:
        self.model = model
        try:
            super().__init__((HOST, port), Handler)
        except OSError as err:
            if port and err.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
                raise PortInUseError(
                    f"port {port} on {HOST} is already in use; pick another --port or omit it for a free one"
                ) from None
            raise ServerError(f"eo view cannot listen on {HOST}:{port}: {err}") from err
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root URL of the map, ``http://127.0.0.1:<port>/``."""
        return f"http://{HOST}:{self.server_address[1]}/"

    def serve_in_thread(self) -> ViewServer:
        """Serve from a daemon thread; return self."""
        self._thread = threading.Thread(target=self.serve_forever, name="eo-view", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket, remove temporary files.  Idempotent."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(10)
            self._thread = None
        self.server_close()
        self.model.close()

    def __enter__(self) -> ViewServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _repr_html_(self) -> str:
        """In a notebook: the map in an iframe."""
        return f'<iframe src="{self.url}" width="100%" height="520" style="border:0"></iframe>'
