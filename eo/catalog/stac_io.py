"""The pystac-client ``StacApiIO`` of eo's searches: every request under the retry policy and deadline.

See :mod:`eo.catalog.retry` for what is retried and how the deadline is kept.  Imported on first
search (pystac-client is not needed to import eo).
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

import requests
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO

from eo.catalog.retry import (
    _BODY_METHODS,
    Exchange,
    _classify,
    _connected,
    _cut_off_at,
    _one_line,
    _reason,
    log,
)
from eo.errors import RemoteError, RemoteTimeoutError
from eo.redact import redact_url
from eo.retry import RetryPolicy, call_with_retries, parse_retry_after


class PolicyStacIO(StacApiIO):
    """A ``StacApiIO`` whose requests retry under a :class:`RetryPolicy` within one deadline."""

    policy: RetryPolicy
    exchange: Exchange

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        verb = (method or "GET").upper()
        if verb in _BODY_METHODS:
            req = requests.Request(method=verb, url=href, headers=headers, json=parameters)
        else:
            req = requests.Request(method=verb, url=href, headers=headers, params=deepcopy(parameters) or {})
        modified = self._req_modifier(req) if self._req_modifier else None
        prepped = self.session.prepare_request(modified or req)
        ex = self.exchange
        ex.request, ex.attempts = f"{verb} {redact_url(str(prepped.url))}", 0
        return call_with_retries(
            lambda: self._attempt(prepped),
            self.policy,
            (RemoteError,),
            self._give_up,
            self._on_retry,
            classify=_classify,
            deadline=ex.deadline,
            on_deadline=lambda err, n: self._timeout(),
        )

    def _attempt(self, prepped: Any) -> str:
        ex, policy = self.exchange, self.policy
        if ex.deadline.expired():
            raise self._timeout()
        ex.attempts += 1
        ex.requests += 1
        timeout = (ex.deadline.clip(policy.connect_timeout), ex.deadline.clip(policy.read_timeout))
        settings = self.session.merge_environment_settings(
            prepped.url, proxies={}, stream=None, verify=True, cert=None
        )
        settings["stream"] = True
        try:
            resp = self.session.send(prepped, timeout=timeout, **settings)
        except requests.RequestException as err:
            ex.status, ex.problem = None, _reason(err)
            raise RemoteError(ex.problem, endpoint=ex.endpoint, request=ex.request) from err
        ex.status = resp.status_code
        try:
            with _cut_off_at(ex.deadline, resp):
                content = resp.content
        except requests.RequestException as err:
            ex.problem = f"the answer was cut off ({_reason(err)})"
            if ex.deadline.expired():
                raise self._timeout() from err
            raise RemoteError(ex.problem, endpoint=ex.endpoint, request=ex.request) from err
        if resp.status_code in policy.statuses:
            ex.problem = f"HTTP {resp.status_code}"
            raise RemoteError(
                ex.problem,
                endpoint=ex.endpoint,
                status=resp.status_code,
                request=ex.request,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        if not 200 <= resp.status_code < 300:
            raise APIError.from_response(resp)  # a client error: not retried (callers read its status)
        try:
            text = content.decode("utf-8")
            json.loads(text)
        except ValueError as err:
            ex.problem = f"the answer is not JSON ({_one_line(str(err), 80)})"
            raise RemoteError(ex.problem, endpoint=ex.endpoint, request=ex.request) from err
        return str(text)

    def _timeout(self) -> RemoteTimeoutError:
        ex = self.exchange
        last = ex.problem or (f"HTTP {ex.status}" if ex.status else "no answer")
        return RemoteTimeoutError(
            f"the STAC API at {redact_url(ex.endpoint)} did not answer {ex.request} within the "
            f"search deadline of {ex.deadline.seconds:g} s ({ex.attempts} attempt(s); last: {last}); "
            "try again later, or give searches more time (EO_RETRY='{\"deadline\": 600}')",
            endpoint=ex.endpoint,
            status=ex.status,
            request=ex.request,
        )

    def _give_up(self, err: BaseException, attempts: int) -> BaseException:
        ex = self.exchange
        if isinstance(err, RemoteTimeoutError):
            return err
        if isinstance(err, RemoteError) and err.status is not None:
            return RemoteError(
                f"the STAC API at {redact_url(ex.endpoint)} answered HTTP {err.status} to {ex.request} "
                f"({attempts} attempt(s)); try again later or check the search parameters",
                endpoint=ex.endpoint,
                status=err.status,
                request=ex.request,
            )
        cause = err.__cause__
        reached = ex.status is not None or cause is None or _connected(cause)
        what = "did not answer" if reached else "could not reach"
        hint = (
            "check that the URL is the root of a STAC API"
            if "not JSON" in ex.problem
            else "check the URL and your network, then try again"
        )
        return RemoteError(
            f"{what} the STAC API at {redact_url(ex.endpoint)}: {ex.request} failed after "
            f"{attempts} attempt(s) ({ex.problem}); {hint}",
            endpoint=ex.endpoint,
            status=ex.status if "not JSON" in ex.problem else None,
            request=ex.request,
        )

    def _on_retry(self, attempt: int, err: BaseException, wait: float) -> None:
        ex = self.exchange
        left = ex.deadline.remaining()
        budget = "" if left == float("inf") else f"; {left:.0f} s left of the search deadline"
        log.info("waiting for %s: %s; retry %d in %.1f s%s", ex.request, ex.problem, attempt, wait, budget)
