"""Requests to a STAC API under the one retry policy (:class:`eo.retry.RetryPolicy`), with a deadline.

:func:`stac_io` builds a pystac-client ``StacApiIO`` (:class:`eo.catalog.stac_io.PolicyStacIO`)
through which every request of a search goes (landing page, collections, every page; POST too: searches are
idempotent).  Each request is retried by :func:`eo.retry.call_with_retries`, the same loop reads
use, and every attempt of one search shares one :class:`~eo.retry.Deadline` (the policy's
``deadline``):

* an HTTP status the policy retries (429, 5xx) waits its ``Retry-After`` (capped) or the back-off;
* a refused or failed connection is retried ``connect_retries`` times;
* an answer that never comes (accept-and-hang: the read timeout), is reset, cut off (truncated
  body) or is not JSON (a proxy's error page) is retried ``max_retries`` times;
* each attempt's connect and read timeouts are clipped to the time left, and a body still
  arriving when the deadline passes (a slow drip: every byte within the read timeout) is cut off
  by closing the socket; no wait is started that would end after the deadline.

When retries end, :class:`~eo.errors.RemoteError` names the endpoint, the request (credentials
redacted, :mod:`eo.redact`), the attempts and the last HTTP status or failure;
:class:`~eo.errors.RemoteTimeoutError` says the deadline passed.  Every retry is logged at INFO on
``eo.retry`` (``eo`` on the command line shows these lines while it waits).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from eo.errors import EOError, RemoteError, RemoteTimeoutError
from eo.redact import redact, redact_url
from eo.retry import (
    RETRY_STATUSES,
    Deadline,
    Failure,
    RetryPolicy,
    parse_retry_after,
)

__all__ = ["RETRY_STATUSES", "Exchange", "RetryPolicy", "parse_retry_after", "remote_errors", "stac_io"]

log = logging.getLogger("eo.retry")

#: HTTP methods whose parameters travel as a JSON body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass
class Exchange:
    """What one search is doing: its endpoint and deadline, the request in flight, the last outcome."""

    endpoint: str
    deadline: Deadline
    request: str = ""
    """``"METHOD url"`` of the request in flight (credentials redacted)."""
    status: int | None = None
    """Last HTTP status answered (None: none yet, or no answer)."""
    problem: str = ""
    """Last failure in words."""
    attempts: int = 0
    requests: int = field(default=0)
    """Requests sent in this search (every attempt of every request)."""


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _connected(err: BaseException) -> bool:
    """Whether a ``requests`` error happened after the connection was made (else: connect failure)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(err, requests.ConnectTimeout):
        return False
    seen: list[Any] = [err]
    while seen:
        e = seen.pop()
        if isinstance(e, NewConnectionError | ConnectTimeoutError | ConnectionRefusedError):
            return False
        seen += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            seen.append(reason)
    return True


def _socket_of(response: Any) -> socket.socket | None:
    """The socket a ``requests`` response's body arrives on (urllib3 2 / http.client internals), or None."""
    raw = getattr(response, "raw", None)
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:  # the connection handed its socket to the response (``Connection: close``)
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


@contextmanager
def _cut_off_at(deadline: Deadline, response: Any) -> Iterator[None]:
    """Close the response's socket if its body is still arriving when ``deadline`` passes."""
    sock = _socket_of(response)
    left = deadline.remaining()
    if sock is None or left == float("inf"):
        yield
        return

    def cut() -> None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(left, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _reason(err: BaseException) -> str:
    """A requests/urllib3 failure in a few words (timed out, refused, reset...)."""
    import requests

    if isinstance(err, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(err, requests.ReadTimeout):
        return "no answer within the read timeout"
    text = str(err)
    for needle, words in (
        ("Connection refused", "connection refused"),
        ("RemoteDisconnected", "connection closed without an answer"),
        ("reset by peer", "connection reset"),
        ("IncompleteRead", "the answer was truncated"),
        ("Name or service not known", "unknown host"),
    ):
        if needle in text:
            return words
    return f"{type(err).__name__}: {_one_line(text, 120)}"


def _classify(err: BaseException) -> Failure:
    """The retry decision of a failed STAC request (see the module docstring)."""
    if isinstance(err, RemoteTimeoutError) or not isinstance(err, RemoteError):
        return Failure(False)
    if err.status is not None:
        return Failure(True, err.status, True, getattr(err, "retry_after", None))
    cause = err.__cause__
    return Failure(True, None, cause is None or _connected(cause))


def stac_io(
    policy: RetryPolicy | None = None,
    *,
    endpoint: str = "",
    headers: dict[str, str] | None = None,
    request_modifier: Callable[[Any], Any] | None = None,
) -> Any:
    """A pystac-client ``StacApiIO`` whose requests retry under ``policy`` within its deadline.

    ``policy`` defaults to the ``retry`` setting (:mod:`eo.config`); the deadline starts now and
    covers every request made through the returned object (one search).  ``endpoint`` names the
    API in errors.
    """
    from eo import config
    from eo.catalog.stac_io import PolicyStacIO

    policy = policy if policy is not None else config.get("retry")
    io = PolicyStacIO(
        headers=headers,
        timeout=(policy.connect_timeout, policy.read_timeout),
        request_modifier=request_modifier,
        max_retries=None,  # retries are this module's, not urllib3's: one loop, one deadline
    )
    io.policy = policy
    io.exchange = Exchange(endpoint, Deadline(policy.deadline))
    return io


@contextmanager
def remote_errors(endpoint: str, io: Any = None) -> Iterator[None]:
    """Translate pystac-client / requests failures inside the block into :class:`RemoteError`."""
    import requests
    from pystac_client.exceptions import APIError

    ex: Exchange | None = getattr(io, "exchange", None)
    where = redact_url(endpoint)
    asked = f" to {ex.request}" if ex is not None and ex.request else ""
    try:
        yield
    except EOError:
        raise
    except APIError as err:
        status = getattr(err, "status_code", None)
        request = ex.request if ex is not None else None
        if status is None:
            raise RemoteError(
                f"could not reach the STAC API at {where}: {_one_line(str(err))}; "
                "check the URL and your network, then try again",
                endpoint=endpoint,
                request=request,
            ) from err
        raise RemoteError(
            f"the STAC API at {where} answered HTTP {status}{asked}: {_one_line(str(err))}; "
            "check the search parameters",
            endpoint=endpoint,
            status=status,
            request=request,
        ) from err
    except requests.RequestException as err:
        raise RemoteError(
            f"could not reach the STAC API at {where}: {_one_line(str(err))}; "
            "check the URL and your network, then try again",
            endpoint=endpoint,
        ) from err
    except (ValueError, KeyError, TypeError) as err:  # JSON that is not STAC
        raise RemoteError(
            f"{where} did not answer valid STAC API JSON ({type(err).__name__}: {_one_line(str(err))}); "
            "check that the URL is the root of a STAC API",
            endpoint=endpoint,
        ) from err
