"""One retry policy for every network call eo makes: STAC searches and asset reads (pure).

:class:`RetryPolicy` decides which failures are retried and how long to wait:

- HTTP 429 and 5xx (500, 502, 503, 504) and connection resets/refusals/timeouts, with exponential
  back-off ``backoff_factor * 2 ** (attempt - 1)`` seconds capped at ``backoff_max``, a
  ``Retry-After`` header (seconds or HTTP date) honoured up to ``retry_after_max`` seconds, and at
  most ``max_retries`` retries (``connect_retries`` for failed connections);
- every request has a connect and a read timeout (``connect_timeout``, ``read_timeout``), and a
  search a total ``deadline`` (:class:`Deadline`: every request, retry and wait of one search
  shares it; requests are given at most the time left, and an answer still arriving when it
  passes is cut off).

Searches apply it through a urllib3 ``Retry`` and a deadline-aware STAC I/O (:mod:`eo.catalog.retry`);
reads through :func:`call_with_retries` around rasterio calls, and through GDAL's own HTTP options
(:meth:`RetryPolicy.gdal_options`: timeouts, and GDAL's retries of HTTP statuses).  The policy in
force is the ``retry`` setting (:mod:`eo.config`); a load captures it into its tasks.  Every retry
is logged at INFO on the ``eo.retry`` logger (what is waited for, the attempt, the wait), which
``eo`` on the command line shows.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("eo.retry")

#: HTTP statuses retried by default: rate limiting and transient server errors.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Error messages of reads that mean "try again" (connection-level hiccups, timeouts).
TRANSIENT = re.compile(
    r"curl|timed? ?out|timeout|connection|reset by peer|temporarily|too many requests|"
    r"\b(429|500|502|503|504)\b|SSL|TLS|broken pipe|network|throttl",
    re.IGNORECASE,
)
_STATUS = re.compile(r"\b(?:HTTP(?: response code| error code| status)?:?\s*)(\d{3})\b", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry a network call, and how long to wait for one (pure; no I/O).

    Parameters
    ----------
    max_retries
        Retries after the first attempt for HTTP statuses and read errors (resets).
    connect_retries
        Retries for refused/failed connections (a wrong URL should fail fast).
    backoff_factor
        Seconds; the wait before retry ``n`` (1-based) is ``backoff_factor * 2 ** (n - 1)``.
    backoff_max
        Upper bound of a back-off wait, seconds.
    retry_after_max
        Upper bound of a wait asked by a ``Retry-After`` header, seconds.
    statuses
        HTTP statuses that are retried.
    connect_timeout, read_timeout
        Seconds to wait for a connection, and for the next bytes of an answer.
    deadline
        Seconds a whole search may take, retries included (None: no bound beyond the retries).
    """

    max_retries: int = 5
    connect_retries: int = 2
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float | None = 300.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RetryPolicy:
        """A policy from a mapping of its fields (unknown names raise ``ValueError``)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown retry policy field(s) {unknown}; expected some of {sorted(known)}")
        kwargs = dict(values)
        if "statuses" in kwargs:
            kwargs["statuses"] = frozenset(int(s) for s in kwargs["statuses"])
        return cls(**kwargs)

    def should_retry(self, status: int | None, attempt: int, *, connected: bool = False) -> bool:
        """Whether retry number ``attempt`` (1-based) follows an answer with ``status``.

        ``status`` None means no answer: the connection failed (``connect_retries``), or, with
        ``connected``, it was made but the answer never came whole (reset, timed out, cut off,
        not parseable: ``max_retries``).
        """
        limit = self.connect_retries if status is None and not connected else self.max_retries
        return attempt <= limit and (status is None or status in self.statuses)

    def backoff(self, attempt: int) -> float:
        """Exponential back-off before retry ``attempt`` (1-based), seconds, capped."""
        if attempt < 1:
            return 0.0
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (attempt - 1)))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt``: ``Retry-After`` (capped) if given, else back-off."""
        if retry_after is not None and retry_after >= 0:
            return float(min(retry_after, self.retry_after_max))
        return self.backoff(attempt)

    def max_total_wait(self) -> float:
        """Upper bound of the summed back-off waits of one request without ``Retry-After``, seconds."""
        return sum(self.backoff(n) for n in range(1, self.max_retries + 1))

    def gdal_options(self) -> dict[str, Any]:
        """GDAL's HTTP options under this policy: timeouts, and GDAL's own retries of HTTP statuses."""
        return {
            "GDAL_HTTP_CONNECTTIMEOUT": max(1, round(self.connect_timeout)),
            "GDAL_HTTP_TIMEOUT": max(1, round(self.read_timeout)),
            "GDAL_HTTP_MAX_RETRY": self.max_retries,
            "GDAL_HTTP_RETRY_DELAY": self.backoff_factor,
            "GDAL_HTTP_RETRY_CODES": ",".join(str(s) for s in sorted(self.statuses)),
        }


@dataclass
class Deadline:
    """The time budget of one operation (a search): ``seconds`` from ``start`` (monotonic clock).

    ``seconds`` None means no bound.  Pure bookkeeping: callers ask what is left and clip their
    timeouts to it.
    """

    seconds: float | None
    start: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (``inf`` without a bound; never negative)."""
        if self.seconds is None:
            return math.inf
        return max(0.0, self.seconds - self.elapsed())

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.remaining() <= 0.0

    def clip(self, timeout: float) -> float:
        """``timeout`` shortened to the time left (at least 1 ms, so a socket never blocks forever)."""
        return max(0.001, min(timeout, self.remaining()))


def parse_retry_after(value: str | None, now: _dt.datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    now = now or _dt.datetime.now(_dt.UTC)
    return max(0.0, (when - now).total_seconds())


def status_of(message: str) -> int | None:
    """The HTTP status a read error's message names (``"HTTP response code: 503"``), else None."""
    match = _STATUS.search(message)
    return int(match.group(1)) if match else None


def is_transient(err: BaseException) -> bool:
    """Whether a read error's message suggests a network hiccup worth retrying."""
    return bool(TRANSIENT.search(str(err)))


@dataclass(frozen=True)
class Failure:
    """What a failed attempt was, for the retry decision.

    ``transient``: worth another attempt at all; ``status``: the HTTP status answered (None: no
    answer); ``connected``: a connection was made (an answer was lost, not a connection refused);
    ``retry_after``: seconds the server asked to wait.
    """

    transient: bool
    status: int | None = None
    connected: bool = False
    retry_after: float | None = None


def classify_message(err: BaseException) -> Failure:
    """A read error judged by its message (GDAL/curl errors carry no structure): status named in it."""
    return Failure(is_transient(err), status_of(str(err)))


def call_with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    retryable: tuple[type[BaseException], ...],
    give_up: Callable[[BaseException, int], BaseException],
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    *,
    classify: Callable[[BaseException], Failure] = classify_message,
    deadline: Deadline | None = None,
    on_deadline: Callable[[BaseException, int], BaseException] | None = None,
) -> T:
    """Run ``action``; retry ``retryable`` errors that ``classify`` calls transient, under ``policy``.

    By default (:func:`classify_message`) a message naming an HTTP status is retried as that status
    (``max_retries``, if the policy retries it); other transient errors as failed connections
    (``connect_retries``).  A ``Retry-After`` the failure carries replaces the back-off.  With a
    ``deadline``, no wait runs past it.  When retries end, ``give_up(error, attempts)`` builds the
    exception raised (chained to the last error); ``on_deadline(error, attempts)`` when the
    deadline ended them (default: ``give_up``).  ``on_retry(attempt, error, wait)`` is told of each
    retry; without it the retry is logged at INFO.
    """
    attempt = 0
    while True:
        try:
            return action()
        except retryable as err:
            attempt += 1
            failure = classify(err)
            if not failure.transient or not policy.should_retry(
                failure.status, attempt, connected=failure.connected
            ):
                raise give_up(err, attempt) from err
            wait = policy.delay(attempt, failure.retry_after)
            if deadline is not None and wait >= deadline.remaining():
                raise (on_deadline or give_up)(err, attempt) from err
            if on_retry is not None:
                on_retry(attempt, err, wait)
            else:
                from eo.redact import redact

                log.info("retry %d in %.1f s after: %s", attempt, wait, redact(str(err)))
            time.sleep(wait)
