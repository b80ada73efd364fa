"""One retry policy for every network call eo makes: STAC searches and asset reads (pure).

:class:`RetryPolicy` decides which failures are retried and how long to wait:

- HTTP 429 and 5xx (500, 502, 503, 504) and connection resets/refusals/timeouts, with exponential
  back-off ``backoff_factor * 2 ** (attempt - 1)`` seconds capped at ``backoff_max``, a
  ``Retry-After`` header (seconds or HTTP date) honoured up to ``retry_after_max`` seconds, and at
  most ``max_retries`` retries (``connect_retries`` for failed connections);
- every request has a connect and a read timeout (``connect_timeout``, ``read_timeout``), and a
  search a total ``deadline``.

Searches apply it through a urllib3 ``Retry`` (:mod:`eo.catalog.retry`); reads through
:func:`call_with_retries` around rasterio calls, and through GDAL's own HTTP options
(:meth:`RetryPolicy.gdal_options`: timeouts, and GDAL's retries of HTTP statuses).  The policy in
force is the ``retry`` setting (:mod:`eo.config`); a load captures it into its tasks.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")

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

    def should_retry(self, status: int | None, attempt: int) -> bool:
        """Whether retry number ``attempt`` (1-based) follows an answer with ``status``.

        ``status`` None means the connection failed or was reset.
        """
        limit = self.connect_retries if status is None else self.max_retries
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


def call_with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    retryable: tuple[type[BaseException], ...],
    give_up: Callable[[BaseException, int], BaseException],
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run ``action``; retry ``retryable`` errors whose message is transient, under ``policy``.

    A message naming an HTTP status is retried as that status (``max_retries``, if the policy retries
    it); other transient errors as failed connections (``connect_retries``).  When the policy gives
    up, ``give_up(error, attempts)`` builds the exception raised (chained to the last error).
    """
    attempt = 0
    while True:
        try:
            return action()
        except retryable as err:
            attempt += 1
            if not is_transient(err) or not policy.should_retry(status_of(str(err)), attempt):
                raise give_up(err, attempt) from err
            wait = policy.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, err, wait)
            time.sleep(wait)
