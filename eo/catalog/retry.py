"""Retries of STAC API requests: the one policy (:class:`eo.retry.RetryPolicy`) as a urllib3 hook.

* :class:`PolicyRetry` is a ``urllib3.Retry`` whose waits come from the policy; :func:`stac_io`
  mounts it in a pystac-client ``StacApiIO`` so every request of a search (pages included,
  POST too: searches are idempotent) is retried.
* :func:`remote_errors` turns what is left after the retries into :class:`eo.errors.RemoteError`
  naming the endpoint and the HTTP status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.util.retry import Retry

from eo.errors import EOError, RemoteError
from eo.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

__all__ = ["RETRY_STATUSES", "PolicyRetry", "RetryPolicy", "parse_retry_after", "remote_errors", "stac_io"]

logger = logging.getLogger(__name__)

#: Methods retried: STAC searches are read-only, so POST /search is retried too.
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})


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
    """Build the urllib3 retry object implementing ``policy`` (default: the ``retry`` setting)."""
    if policy is None:
        from eo import config

        policy = config.get("retry")
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
    timeout: float | tuple[float, float] | None = None,
    request_modifier: Callable[[Any], Any] | None = None,
) -> Any:
    """Build a pystac-client ``StacApiIO`` retrying under ``policy`` (default: the ``retry`` setting).

    ``timeout`` (connect, read seconds) defaults to the policy's.
    """
    from pystac_client.stac_api_io import StacApiIO

    from eo import config

    policy = policy if policy is not None else config.get("retry")
    if timeout is None:
        timeout = (policy.connect_timeout, policy.read_timeout)
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
