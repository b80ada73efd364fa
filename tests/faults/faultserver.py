"""A real HTTP server on 127.0.0.1 that misbehaves on purpose, in front of a STAC API and of COG files.

:class:`FaultServer` forwards STAC API requests to an upstream server (rustac serving a static
catalogue) and serves files of a directory with HTTP range requests (what GDAL's ``/vsicurl/`` reads
COGs with).  Answers from the API are rewritten so the client keeps talking to this server: links
point here, and every asset href under the files directory becomes ``<url>/files/<ns>/<path>``
(optionally signed with ``?token=...``, which the file side then requires), so an ``eo run`` reads
its COGs through here too.

Faults are rules (:meth:`FaultServer.add`): a kind, which requests it hits (method, a path prefix
or regex) and how many times (``times=None``: every time).  The first live rule matching a request
applies.  Kinds:

=============  =====================================================================================
``status``     answer ``code`` (with ``headers``, e.g. ``Retry-After``)
``reset``      close the connection with a TCP RST before any answer
``hang``       accept, read the request, never answer (until the rule is released or the server closes)
``drip``       answer headers at once, then the body ``chunk`` bytes every ``interval`` seconds
``truncate``   answer the full ``Content-Length`` but only ``fraction`` of the body, then close
``garbage``    answer 200 with a body that is not JSON (a proxy's error page)
``down``       reset, then stop listening (connections refused) for ``seconds`` (None: until :meth:`up`)
``short``      (files) serve the file cut to ``fraction`` of its size: a truncated COG
``corrupt``    (files) serve the file with ``length`` bytes at ``fraction`` of it overwritten
``replace``    (files) serve the bytes of ``with_file`` instead (a file replaced mid-read)
=============  =====================================================================================
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: Faults injected by every server of this process (rule hits), by kind: the suite's figures.
INJECTED: dict[str, int] = {}


@dataclass
class Rule:
    """One fault: what, on which requests, how many more times."""

    kind: str
    path: str | re.Pattern[str] = "/"
    method: str | None = None
    times: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    after: int = 0
    """Matching requests let through before the rule applies (page 1 answers, page 2 fails)."""
    hits: int = 0
    seen: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method != method:
            return False
        if isinstance(self.path, re.Pattern):
            found = bool(self.path.search(path))
        else:
            found = path.startswith(self.path)
        if found and self.seen < self.after:
            self.seen += 1
            return False
        return found


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (it gave up, as it should): not the server's problem


class FaultServer:
    """See the module docstring."""

    def __init__(
        self,
        upstream: str | None = None,
        files: Path | None = None,
        *,
        token: str | None = None,
        namespace: str = "n0",
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        hide: set[str] | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/") if upstream else None
        self.files = Path(files).resolve() if files else None
        self.token, self.namespace, self.transform = token, namespace, transform
        self.hide = set(hide or ())
        """Ids of items left out of every answer (a catalogue without them)."""
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = self._serve()

    # --- control -----------------------------------------------------------------------

    def add(self, kind: str, path: str | re.Pattern[str] = "/", *, method: str | None = None,
            times: int | None = None, after: int = 0, **params: Any) -> Rule:  # fmt: skip
        rule = Rule(kind, path, method, times, params, after)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            for r in self.rules:
                r.released.set()
                INJECTED[r.kind] = INJECTED.get(r.kind, 0) + r.hits
            self.rules.clear()

    def hits(self, prefix: str = "/search") -> int:
        return sum(1 for _, p, _ in self.log if p.startswith(prefix))

    def _serve(self) -> threading.Thread:
        t = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        t.start()
        return t

    def down(self, seconds: float | None = None) -> None:
        """Stop listening: connections are refused until :meth:`up` (after ``seconds`` if given)."""
        self._server.shutdown()
        self._server.server_close()
        if seconds is not None:
            threading.Timer(seconds, self.up).start()

    def up(self) -> None:
        """Listen again on the same port."""
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self._thread = self._serve()

    def close(self) -> None:
        self.closing.set()
        self.clear()
        self._server.shutdown()
        self._server.server_close()

    def asset_url(self, path: Path) -> str:
        assert self.files is not None
        rel = Path(path).resolve().relative_to(self.files)
        return f"{self.url}/files/{self.namespace}/{rel}" + (f"?token={self.token}" if self.token else "")

    # --- the handler ---------------------------------------------------------------------

    def _rule(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None

    def _rewrite(self, body: bytes) -> bytes:
        """Upstream's JSON with links to this server and asset hrefs through its file side."""
        text = body.decode()
        if self.upstream:
            text = text.replace(self.upstream, self.url)
        try:
            doc = json.loads(text)
        except ValueError:
            return text.encode()
        feats = doc.get("features") if isinstance(doc, dict) else None
        if feats and self.hide:
            feats[:] = [f for f in feats if f.get("id") not in self.hide]
        for feat in feats or ([doc] if isinstance(doc, dict) and doc.get("type") == "Feature" else []):
            for asset in (feat.get("assets") or {}).values():
                href = asset.get("href", "")
                if self.files and href.startswith(str(self.files)):
                    asset["href"] = self.asset_url(Path(href))
            if self.transform is not None:
                feat.update(self.transform(feat))
        return json.dumps(doc).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"owner": self})


class _Handler(BaseHTTPRequestHandler):
    """Answers for one :class:`FaultServer` (``owner``)."""

    owner: FaultServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rule = self.owner._rule(method, self.path)
        with self.owner.lock:
            self.owner.log.append((method, self.path, 0))
        if rule is not None and rule.kind in FAULTS:
            FAULTS[rule.kind](self, rule)
            return
        if self.path.startswith("/files/"):
            self._file(method, rule)
            return
        status, headers, body = self._forward(method, raw)
        if rule is not None:
            BODY_FAULTS[rule.kind](self, rule, status, body)
            return
        self._answer(status, body, headers)

    def _forward(self, method: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.owner.upstream is not None
        req = urllib.request.Request(
            self.owner.upstream + self.path,
            data=raw if method == "POST" else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read()
        return status, {"Content-Type": "application/json"}, self.owner._rewrite(body)

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _file(self, method: str, rule: Rule | None) -> None:
        assert self.owner.files is not None
        path, _, query = self.path.partition("?")
        parts = path.split("/", 3)  # "", "files", ns, rel
        if self.owner.token and f"token={self.owner.token}" not in query:
            self._answer(403, b"forbidden: a valid token is needed")
            return
        target = (self.owner.files / parts[3]).resolve() if len(parts) == 4 else self.owner.files
        if self.owner.files not in target.parents or not target.is_file():
            self._answer(404, b"not found")
            return
        data = target.read_bytes()
        if rule is not None:
            data = FILE_FAULTS[rule.kind](data, rule)
        size = len(data)
        rng = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if rng:
            start = int(rng.group(1))
            end = min(int(rng.group(2)) if rng.group(2) else size - 1, size - 1)
            if start >= size:
                self._answer(416, b"", {"Content-Range": f"bytes */{size}"})
                return
            chunk = data[start : end + 1]
            self._answer(
                206,
                chunk,
                {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes",
                 "Content-Type": "image/tiff"},
            )  # fmt: skip
            return
        self._answer(200, data, {"Accept-Ranges": "bytes", "Content-Type": "image/tiff"})


# --- faults answered instead of the real answer -------------------------------------------


def _status(h: Any, rule: Rule) -> None:
    body = json.dumps({"code": "Fault", "description": "injected fault"}).encode()
    h._answer(rule.params.get("code", 503), body, rule.params.get("headers", {}))


def _reset(h: Any, rule: Rule) -> None:
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.close_connection = True
    h.connection.close()


def _hang(h: Any, rule: Rule) -> None:
    limit = time.monotonic() + float(rule.params.get("seconds", 120))
    while time.monotonic() < limit and not rule.released.is_set() and not h.owner.closing.is_set():
        time.sleep(0.05)
    h.close_connection = True


def _down(h: Any, rule: Rule) -> None:
    _reset(h, rule)
    threading.Thread(target=h.owner.down, args=(rule.params.get("seconds"),), daemon=True).start()


FAULTS: dict[str, Callable[[Any, Rule], None]] = {
    "status": _status,
    "reset": _reset,
    "hang": _hang,
    "down": _down,
}


# --- faults done to the real answer ----------------------------------------------------------


def _drip(h: Any, rule: Rule, status: int, body: bytes) -> None:
    chunk, interval = int(rule.params.get("chunk", 16)), float(rule.params.get("interval", 0.2))
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    try:
        for i in range(0, len(body), chunk):
            if rule.released.is_set():
                break
            h.wfile.write(body[i : i + chunk])
            h.wfile.flush()
            time.sleep(interval)
    except OSError:
        pass  # the client gave up (cut the connection at its deadline)
    h.close_connection = True


def _truncate(h: Any, rule: Rule, status: int, body: bytes) -> None:
    cut = int(len(body) * float(rule.params.get("fraction", 0.5)))
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body[:cut])
    h.wfile.flush()
    h.close_connection = True


def _garbage(h: Any, rule: Rule, status: int, body: bytes) -> None:
    page = b"<html><body>502 Bad Gateway (upstream proxy)</body></html>"
    h._answer(200, page, {"Content-Type": "text/html"})


BODY_FAULTS: dict[str, Callable[[Any, Rule, int, bytes], None]] = {
    "drip": _drip,
    "truncate": _truncate,
    "garbage": _garbage,
}


# --- faults done to a file ---------------------------------------------------------------------


def _short(data: bytes, rule: Rule) -> bytes:
    return data[: int(len(data) * float(rule.params.get("fraction", 0.5)))]


def _corrupt(data: bytes, rule: Rule) -> bytes:
    at = int(len(data) * float(rule.params.get("fraction", 0.5)))
    n = int(rule.params.get("length", 4096))
    return data[:at] + bytes((i * 37 + 11) % 256 for i in range(n)) + data[at + n :]


def _replace(data: bytes, rule: Rule) -> bytes:
    return Path(rule.params["with_file"]).read_bytes()


FILE_FAULTS: dict[str, Callable[[bytes, Rule], bytes]] = {
    "short": _short,
    "corrupt": _corrupt,
    "replace": _replace,
}
