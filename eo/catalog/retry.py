"""Retries for remote STAC APIs: a pure policy, a urllib3 hook for pystac-client, error translation.

* :class:`RetryPolicy` (pure) decides which answers are retried and how long to wait:
  HTTP 429 and 5xx (500, 502, 503, 504) and connection resets/refusals, with exponential
  back-off ``backoff_factor * 2 ** (attempt - 1)`` seconds capped at ``backoff_max``, a
  ``Retry-After`` header (seconds or HTTP date) honoured up to ``retry_after_max`` seconds,
  and at most ``max_retries`` retries (``connect_retries`` for refused connections).
* :class:`PolicyRetry` is a ``urllib3.Retry`` whose waits come from the policy; :func:`stac_io`
  mounts it in a pystac-client ``StacApiIO`` so every request of a search (pages included,
  POST too: searches are idempotent) is retried.
* :func:`remote_errors` turns what is left after the retries into :class:`eo.errors.RemoteError`
  naming the endpoint and the HTTP status.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from urllib3.util.retry import Retry

from eo.errors import EOError, RemoteError

logger = logging.getLogger(__name__)

#: HTTP statuses retried by default: rate limiting and transient server errors.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Methods retried: STAC searches are read-only, so POST /search is retried too.
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry a request to a STAC API (pure; no I/O).

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
    """

    max_retries: int = 5
    connect_retries: int = 2
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

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


class PolicyRetry(Retry):
    """A ``urllib3.Retry`` whose waits are decided by a :class:`RetryPolicy` (and logged at INFO)."""

    policy: RetryPolicy = RetryPolicy()

    def new(self, **kw: Any) -> PolicyRetry:
        retry = super().new(**kw)
        retry.policy = self.policy
        return retry

    def sleep(self, response: Any = None) -> None:
        header = response.headers.get("Retry-After") if response is not None else None
        attempt = len(self.history)
        wait = self.policy.delay(attempt, parse_retry_after(header))
        last = self.history[-1] if self.history else None
        if last is not None:
            reason = f"HTTP {last.status}" if last.status else type(last.error).__name__
            logger.info("%s %s: %s; retry %d in %.1f s", last.method, last.url, reason, attempt, wait)
        if wait > 0:
            time.sleep(wait)


def urllib3_retry(policy: RetryPolicy | None = None) -> PolicyRetry:
    """Build the urllib3 retry object implementing ``policy`` (mount it in a ``requests`` adapter)."""
    policy = policy or RetryPolicy()
    retry = PolicyRetry(
        total=policy.max_retries + policy.connect_retries,
        connect=policy.connect_retries,
        read=policy.max_retries,
        status=policy.max_retries,
        other=policy.max_retries,
        allowed_methods=RETRY_METHODS,
        status_forcelist=policy.statuses,
        raise_on_status=False,  # hand the last answer back: the caller names its status
        respect_retry_after_header=True,
    )
    retry.policy = policy
    return retry


def stac_io(
    policy: RetryPolicy | None = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float | tuple[float, float] | None = (10.0, 60.0),
    request_modifier: Callable[[Any], Any] | None = None,
) -> Any:
    """Build a pystac-client ``StacApiIO`` retrying under ``policy`` (timeouts: connect, read seconds)."""
    from pystac_client.stac_api_io import StacApiIO

    return StacApiIO(
        headers=headers, timeout=timeout, request_modifier=request_modifier, max_retries=urllib3_retry(policy)
    )


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@contextmanager
def remote_errors(endpoint: str) -> Iterator[None]:
    """Translate pystac-client / requests failures inside the block into :class:`RemoteError`."""
    import requests
    from pystac_client.exceptions import APIError

    try:
        yield
    except EOError:
        raise
    except APIError as err:
        status = getattr(err, "status_code", None)
        if status is None:
            raise RemoteError(
                f"could not reach the STAC API at {endpoint}: {_one_line(str(err))}; "
                "check the URL and your network, then try again",
                endpoint=endpoint,
            ) from err
        raise RemoteError(
            f"the STAC API at {endpoint} answered HTTP {status} (after retries): {_one_line(str(err))}; "
            "try again later or check the search parameters",
            endpoint=endpoint,
            status=status,
        ) from err
    except requests.RequestException as err:
        raise RemoteError(
            f"could not reach the STAC API at {endpoint}: {_one_line(str(err))}; "
            "check the URL and your network, then try again",
            endpoint=endpoint,
        ) from err
    except (ValueError, KeyError, TypeError) as err:  # JSON that is not STAC, or not JSON at all
        raise RemoteError(
            f"{endpoint} did not answer valid STAC API JSON ({type(err).__name__}: {_one_line(str(err))}); "
            "check that the URL is the root of a STAC API",
            endpoint=endpoint,
        ) from err
