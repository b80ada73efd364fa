"""nginx from Debian on loopback, serving a data directory with Range support, and its access log.

:func:`nginx` writes a config into a scratch directory, starts ``nginx`` in the foreground
(``daemon off``, no system service) on a free 127.0.0.1 port and stops it on exit.  Every
request is logged as one line ``$msec $connection $connection_requests "$request" $status
$bytes_sent "$http_range"``: :meth:`Nginx.mark` and :meth:`Nginx.since` count the requests and
bytes of one workload from the log (nginx writes each line when the request completes, unbuffered).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_FORMAT = '$msec $connection $connection_requests "$request" $status $bytes_sent "$http_range"'

CONFIG = """\
worker_processes 1;
daemon off;
{user}pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ image/tiff tif tiff; application/json json; }}
    default_type application/octet-stream;
    log_format bench '{log_format}';
    access_log {run}/access.log bench;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """Path of the nginx executable (``$PATH``, then Debian's ``/usr/sbin``), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Traffic:
    """Requests and bytes nginx served between two marks."""

    requests: int = 0
    bytes_sent: int = 0
    status: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    ranged: int = 0
    """Requests with a Range header."""
    full: int = 0
    """Requests without one (whole-file GETs and HEADs)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "bytes": self.bytes_sent,
            "status": self.status,
            "connections": self.connections,
            "ranged": self.ranged,
            "full": self.full,
        }


def parse_log(text: str) -> Traffic:
    """Count the requests, bytes, status codes and distinct connections of access-log lines."""
    t = Traffic()
    conns = set()
    for line in text.splitlines():
        head, _, rest = line.partition(' "')
        _, _, tail = rest.partition('" ')
        fields = tail.split(" ", 2)
        if len(fields) < 3:
            continue
        status, sent, rng = fields[0], int(fields[1]), fields[2].strip('"')
        conns.add(head.split()[1])
        t.requests += 1
        t.bytes_sent += sent
        t.status[status] = t.status.get(status, 0) + 1
        if rng and rng != "-":
            t.ranged += 1
        else:
            t.full += 1
    t.connections = len(conns)
    return t


class Nginx:
    """A running nginx (see :func:`nginx`)."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, run: Path) -> None:
        self.proc, self.port, self.run = proc, port, run
        self.log = run / "access.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def settle(self, quiet_s: float = 0.03, timeout: float = 2.0) -> int:
        """Wait until the log has not grown for ``quiet_s`` (nginx logs a request just after answering it)."""
        size, deadline = self._size(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = self._size()
            if now == size:
                break
            size = now
        return size

    def mark(self) -> int:
        """Current end of the access log, once settled (pass it to :meth:`since`)."""
        return self.settle()

    def since(self, mark: int) -> Traffic:
        """Traffic logged after ``mark`` (waits for the log to settle first)."""
        self.settle()
        with open(self.log, "rb") as f:
            f.seek(mark)
            return parse_log(f.read().decode("utf-8", "replace"))


@contextlib.contextmanager
def nginx(root: Path, port: int | None = None, startup_s: float = 10.0) -> Iterator[Nginx]:
    """Serve ``root`` with nginx on 127.0.0.1 (a free port unless given) until the block ends."""
    exe = nginx_binary()
    if exe is None:
        raise FileNotFoundError("nginx is not installed (Debian: apt-get install -y nginx)")
    with tempfile.TemporaryDirectory(prefix="eo-bench-nginx-") as tmp:
        run = Path(tmp)
        (run / "tmp").mkdir()
        port = port or free_port()
        # as root, nginx's workers would switch to "nobody", who may not read the data directory
        user = "user root root;\n" if os.geteuid() == 0 else ""
        conf = CONFIG.format(user=user, run=run, port=port, root=Path(root).resolve(), log_format=LOG_FORMAT)
        (run / "nginx.conf").write_text(conf)
        proc = subprocess.Popen(
            [exe, "-p", str(run), "-c", str(run / "nginx.conf"), "-e", str(run / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}/", startup_s, run)
            yield Nginx(proc, port, run)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, run: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            log = (run / "error.log").read_text() if (run / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited with status {proc.returncode}: {err or log}".strip())
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 403/404 for the root: it answers
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nginx did not answer on {url} within {timeout} s")
