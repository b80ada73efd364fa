"""A shaped network link on loopback: an HTTP/1.1 proxy adding a delay per request and a bandwidth cap.

``python -m benchmarks.linkproxy --upstream PORT --rtt-ms 20 --bandwidth-mbs 200`` listens on
127.0.0.1 (a free port, printed as ``LISTENING <port>``) and forwards every connection to the
upstream HTTP server (nginx) on 127.0.0.1, shaping it like a real link (``tc netem`` is not
available on these machines):

- **round trip**: each HTTP request waits ``rtt`` before it is forwarded (the request's way out
  and the response's first byte's way back, lumped on the request side); the first request of a
  new connection waits one more ``rtt`` (the TCP handshake a real link costs);
- **bandwidth**: the bytes of all responses share one token bucket of ``bandwidth`` bytes per
  second (burst :data:`BURST_S` seconds' worth): a connection that overdraws it stops reading
  from upstream until the debt is paid, as a full link stalls the sender;
- **server concurrency**: at most ``concurrency`` requests are served at once (forwarded and not
  yet answered in full); further requests queue in arrival order, as at a server that limits
  its workers.  This is the concurrency the network floor divides the round trips by.

Keep-alive connections and any number of concurrent connections are supported (each client
connection gets its own upstream connection).  Requests are parsed (request line, headers,
``Content-Length`` bodies) and so are responses (status line, headers, ``Content-Length`` body:
nginx's static responses), so the proxy knows when each request is done.

Counters (connections, requests, bytes, in-flight requests over time, the proxy's own CPU time)
are served by the proxy itself at ``GET /__link__/stats`` (``?reset=1`` zeroes them); that
request is not forwarded and costs no delay.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import resource
from typing import Any

#: Token bucket depth, in seconds of the bandwidth (how far ahead of the average rate a burst may go).
BURST_S = 0.005
#: Path of the statistics endpoint (answered by the proxy, never forwarded).
STATS_PATH = "/__link__/stats"
_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    return lines[0], fields


class Link:
    """What all connections share: the clock, the token bucket, the server's slots and the counters."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rtt: float, rate: float, concurrency: int) -> None:
        self.loop, self.rtt, self.rate, self.concurrency = loop, rtt, rate, concurrency
        self.burst = max(rate * BURST_S, 64 * 1024)
        self.tokens, self.stamp = self.burst, loop.time()
        self.inflight = 0
        self.waiting: collections.deque[Any] = collections.deque()
        self.reset()

    def reset(self) -> None:
        now = self.loop.time()
        self.stats: dict[str, Any] = {
            "connections": 0,
            "requests": 0,
            "bytes_down": 0,
            "bytes_up": 0,
            "max_inflight": self.inflight,
            "queued_max": 0,
        }
        self._area, self._busy, self._since = 0.0, 0.0, now
        self._cpu0, self._t0 = _cpu_s(), now

    def _account(self) -> None:
        now = self.loop.time()
        dt = now - self._since
        self._area += self.inflight * dt
        if self.inflight:
            self._busy += dt
        self._since = now

    def snapshot(self) -> dict[str, Any]:
        self._account()
        return {
            **self.stats,
            "busy_s": round(self._busy, 4),
            "mean_inflight_busy": round(self._area / self._busy, 3) if self._busy else 0.0,
            "elapsed_s": round(self.loop.time() - self._t0, 4),
            "proxy_cpu_s": round(_cpu_s() - self._cpu0, 4),
            "rtt_s": self.rtt,
            "bandwidth_bytes_s": self.rate,
            "concurrency": self.concurrency,
        }

    def spend(self, n: int) -> float:
        """Take ``n`` bytes' tokens; return how long the sender must wait to pay the debt (s)."""
        now = self.loop.time()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - n
        self.stamp = now
        self.stats["bytes_down"] += n
        return -self.tokens / self.rate if self.tokens < 0 else 0.0

    def acquire(self, start: Any) -> None:
        """Run ``start()`` once a server slot is free (FIFO)."""
        if self.inflight < self.concurrency:
            self._account()
            self.inflight += 1
            self.stats["max_inflight"] = max(self.stats["max_inflight"], self.inflight)
            start()
        else:
            self.waiting.append(start)
            self.stats["queued_max"] = max(self.stats["queued_max"], len(self.waiting))

    def release(self) -> None:
        self._account()
        self.inflight -= 1
        if self.waiting:
            self.acquire(self.waiting.popleft())


class Upstream(asyncio.Protocol):
    """The connection to nginx of one client connection: responses go back through the bucket."""

    def __init__(self, client: Client) -> None:
        self.client, self.link = client, client.link
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.body_left = -1  # -1: reading a response head
        self.paused: set[str] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pause(self, why: str) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused.add(why)

    def resume(self, why: str) -> None:
        self.paused.discard(why)
        if not self.paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.client.send(data)
        wait = self.link.spend(len(data))
        if wait > 0:
            self.pause("bucket")
            self.link.loop.call_later(wait, self.resume, "bucket")
        self._track(data)

    def _track(self, data: bytes) -> None:
        """Follow response boundaries so that a finished request frees its server slot."""
        while data:
            if self.body_left < 0:
                self.buf += data
                end = self.buf.find(_HEAD_END)
                if end < 0:
                    return
                head, data = self.buf[:end], self.buf[end + 4 :]
                self.buf = b""
                status, fields = _headers(head)
                code = int(status.split()[1])
                method = self.client.methods.popleft() if self.client.methods else "GET"
                bodiless = method == "HEAD" or code in (204, 304) or 100 <= code < 200
                self.body_left = 0 if bodiless else int(fields.get("content-length", "0"))
            take = min(self.body_left, len(data))
            self.body_left -= take
            data = data[take:]
            if self.body_left == 0:
                self.body_left = -1
                self.link.release()
                self.client.answered()

    def connection_lost(self, exc: BaseException | None) -> None:
        while self.client.pending_done > 0:  # requests nginx will never answer
            self.client.pending_done -= 1
            self.link.release()
        self.client.close()


class Client(asyncio.Protocol):
    """One client connection: parse its requests, delay each by the round trip, forward in order."""

    def __init__(self, link: Link, upstream_port: int) -> None:
        self.link, self.port = link, upstream_port
        self.transport: asyncio.Transport | None = None
        self.upstream: Upstream | None = None
        self.buf = b""
        self.methods: collections.deque[str] = collections.deque()
        self.outbox: collections.deque[bytes] = collections.deque()  # delayed, waiting for upstream
        self.pending_done = 0  # forwarded, not yet answered
        self.first = True
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=1 << 20)
        self.link.loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            _, proto = await self.link.loop.create_connection(lambda: Upstream(self), "127.0.0.1", self.port)
        except OSError:
            self.close()
            return
        self.upstream = proto  # type: ignore[assignment]
        while self.outbox:
            self.upstream.transport.write(self.outbox.popleft())  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause("client")

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume("client")

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(_HEAD_END)
            if end < 0:
                if len(self.buf) > _MAX_HEAD:
                    self.close()
                return
            line, fields = _headers(self.buf[:end])
            size = end + 4 + int(fields.get("content-length", "0"))
            if len(self.buf) < size:
                return
            request, self.buf = self.buf[:size], self.buf[size:]
            parts = line.split()
            if len(parts) >= 2 and parts[1].startswith(STATS_PATH):
                self._stats(parts[1])
                continue
            self.link.stats["requests"] += 1
            self.link.stats["bytes_up"] += len(request)
            if self.first:  # a connection that carries requests (not the statistics' own)
                self.link.stats["connections"] += 1
            delay = self.link.rtt * (2 if self.first else 1)
            self.first = False
            self.link.loop.call_later(
                delay, self.link.acquire, lambda r=request, m=parts[0]: self._forward(r, m)
            )

    def _forward(self, request: bytes, method: str) -> None:
        if self.closed:
            self.link.release()
            return
        self.methods.append(method)
        self.pending_done += 1
        if self.upstream is None or self.upstream.transport is None:
            self.outbox.append(request)
        else:
            self.upstream.transport.write(request)

    def answered(self) -> None:
        self.pending_done -= 1

    def _stats(self, target: str) -> None:
        body = json.dumps(self.link.snapshot()).encode()
        if "reset=1" in target:
            self.link.reset()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.send(head.encode() + body)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()  # its connection_lost frees the slots of unanswered requests
        else:
            while self.pending_done > 0:  # forwarded into the outbox of an upstream that never came
                self.pending_done -= 1
                self.link.release()


async def serve(upstream_port: int, rtt: float, rate: float, concurrency: int, port: int = 0) -> None:
    loop = asyncio.get_running_loop()
    link = Link(loop, rtt, rate, concurrency)
    server = await loop.create_server(lambda: Client(link, upstream_port), "127.0.0.1", port, backlog=1024)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.linkproxy", description=__doc__.splitlines()[0])
    p.add_argument("--upstream", type=int, required=True, help="port of the HTTP server on 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--rtt-ms", type=float, default=20.0, help="delay added to each request (ms)")
    p.add_argument("--bandwidth-mbs", type=float, default=200.0, help="link capacity, MB/s (10^6 bytes)")
    p.add_argument("--concurrency", type=int, default=32, help="requests the server serves at once")
    a = p.parse_args(argv)
    asyncio.run(serve(a.upstream, a.rtt_ms / 1e3, a.bandwidth_mbs * 1e6, a.concurrency, a.port))


if __name__ == "__main__":
    main()
