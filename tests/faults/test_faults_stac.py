"""STAC API faults: searches through a misbehaving server on loopback in front of a real API (rustac).

Transient faults (each fault kind for a few requests, then normal answers): the search completes
and returns every item of the catalogue exactly once, in the same order as without faults.
Persistent faults: a typed error (:class:`~eo.errors.RemoteError`, :class:`~eo.errors.RemoteTimeoutError`)
naming the endpoint, the request and the last status, raised within the deadline.  Pages are of 2
items, so the 8 items take 4 pages and a fault can hit a page in the middle of the pagination.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import pytest
from click.testing import CliRunner

import eo
from eo.cli import main
from eo.errors import RemoteError, RemoteTimeoutError
from faults.faultkit import POLICY, POLICY_ENV, FaultServer, eo_cli, eo_env

#: Seconds a persistent fault may take beyond the deadline (the last attempt's cut-off, scheduling).
SLACK = 2.0
SEARCH = "/search"


def _ids(items: Any) -> list[str]:
    return [i.id for i in items]


@pytest.fixture(scope="module")
def expected(synthetic_server: Any) -> list[str]:
    """Every item of the catalogue, in server order, searched without any fault."""
    ids = _ids(eo.search(synthetic_server.url, limit=2, retry=POLICY))
    assert len(ids) == len(set(ids)) == 8
    return ids


TRANSIENT: dict[str, dict[str, Any]] = {
    "429 with Retry-After": {"kind": "status", "times": 1, "code": 429, "headers": {"Retry-After": "1"}},
    "500": {"kind": "status", "times": 2, "code": 500},
    "502": {"kind": "status", "times": 3, "code": 502},
    "503": {"kind": "status", "times": 2, "code": 503},
    "connection reset": {"kind": "reset", "times": 2},
    "accept and hang": {"kind": "hang", "times": 1},
    "slow drip": {"kind": "drip", "times": 1, "chunk": 400, "interval": 0.05},
    "truncated JSON": {"kind": "truncate", "times": 2, "fraction": 0.6},
    "invalid JSON": {"kind": "garbage", "times": 2},
    "page 3 fails mid-pagination": {"kind": "status", "times": 3, "code": 503, "after": 2},
    "page 2 cut off mid-pagination": {"kind": "truncate", "times": 1, "after": 1},
    "landing page 503": {"kind": "status", "times": 2, "code": 503, "path": "/"},
}


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_transient_fault_search_returns_every_item_once(
    name: str, fault_api: FaultServer, expected: list[str]
) -> None:
    rule = dict(TRANSIENT[name])
    kind, path = rule.pop("kind"), rule.pop("path", SEARCH)
    fault = fault_api.add(kind, path, **rule)
    t0 = time.monotonic()
    items = eo.search(fault_api.url, limit=2, retry=POLICY)
    took = time.monotonic() - t0
    assert _ids(items) == expected  # every item, once, in order
    assert fault.hits == rule["times"], "the fault happened as many times as scripted"
    assert took < POLICY.deadline
    if "Retry-After" in name:
        assert took >= 1.0 - 0.05  # the server's wait, not the 0.05 s back-off


def test_server_that_disappears_and_comes_back(fault_api: FaultServer, expected: list[str]) -> None:
    """Page 2: the connection is reset and the server stops listening for 1 s, then returns."""
    policy = dataclasses.replace(POLICY, connect_retries=5, backoff_factor=0.2, backoff_max=1.0)
    fault_api.add("down", SEARCH, times=1, after=1, seconds=1.0)
    assert _ids(eo.search(fault_api.url, limit=2, retry=policy)) == expected


PERSISTENT: dict[str, tuple[dict[str, Any], type[RemoteError], int | None, str]] = {
    "503": ({"kind": "status", "code": 503}, RemoteError, 503, "HTTP 503"),
    "429 with Retry-After": (
        {"kind": "status", "code": 429, "headers": {"Retry-After": "1"}},
        RemoteError,
        429,
        "HTTP 429",
    ),
    "connection reset": ({"kind": "reset"}, RemoteError, None, "connection"),
    "accept and hang": ({"kind": "hang"}, RemoteError, None, "read timeout|deadline"),
    "slow drip": ({"kind": "drip", "chunk": 1, "interval": 0.2}, RemoteTimeoutError, 200, "deadline"),
    "truncated JSON": ({"kind": "truncate", "fraction": 0.5}, RemoteError, None, "cut off"),
    "invalid JSON": ({"kind": "garbage"}, RemoteError, 200, "not JSON"),
    "page 2 always fails": ({"kind": "status", "code": 502, "after": 1}, RemoteError, 502, "HTTP 502"),
}


@pytest.mark.parametrize("name", list(PERSISTENT))
def test_persistent_fault_is_a_typed_error_within_the_deadline(name: str, fault_api: FaultServer) -> None:
    rule, cls, status, words = PERSISTENT[name]
    rule = dict(rule)
    fault_api.add(rule.pop("kind"), SEARCH, **rule)
    t0 = time.monotonic()
    with pytest.raises(cls) as caught:
        eo.search(fault_api.url, limit=2, retry=POLICY)
    took = time.monotonic() - t0
    err = caught.value
    assert took < POLICY.deadline + SLACK, f"{took:.1f} s"
    assert err.endpoint == fault_api.url and fault_api.url in str(err)
    assert err.request is not None and err.request.startswith("POST ") and "/search" in err.request
    assert err.status == status
    assert re.search(words, str(err))
    assert "\n" not in str(err)


def test_server_gone_for_good_is_a_remote_error(fault_api: FaultServer) -> None:
    fault_api.add("down", SEARCH, after=1)  # answers page 1, then is gone
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match="could not reach") as caught:
        eo.search(fault_api.url, limit=2, retry=POLICY)
    assert time.monotonic() - t0 < POLICY.deadline + SLACK
    assert caught.value.status is None and "connection refused" in str(caught.value)


def test_hang_of_the_landing_page_is_bounded_by_the_deadline(fault_api: FaultServer) -> None:
    """Every attempt hangs: the read timeout ends each, the retries or the deadline end the search."""
    fault_api.add("hang", "/")
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match=r"read timeout|deadline") as caught:
        eo.search(fault_api.url, retry=dataclasses.replace(POLICY, max_retries=10))
    assert isinstance(caught.value, RemoteTimeoutError)  # 10 retries of 1.5 s would overrun it
    assert time.monotonic() - t0 < POLICY.deadline + SLACK
    assert re.search(f"deadline of {POLICY.deadline:g} s", str(caught.value))


def test_cli_shows_retries_while_it_waits_then_the_items(fault_api: FaultServer, tmp_path: Any) -> None:
    fault_api.add("status", SEARCH, times=2, code=503)
    res = eo_cli(["search", "--catalog", fault_api.url, "--limit", "8"], eo_env(tmp_path))
    assert res.returncode == 0, res.stderr
    waits = [line for line in res.stderr.splitlines() if "waiting for POST" in line]
    assert len(waits) == 2 and "HTTP 503" in waits[0]
    assert "retry 1 in" in waits[0] and "retry 2 in" in waits[1]
    assert "8 item(s)" in res.stderr


def test_cli_hang_is_one_line_and_exit_2_within_the_deadline(fault_api: FaultServer, tmp_path: Any) -> None:
    fault_api.add("hang", SEARCH)
    t0 = time.monotonic()
    res = eo_cli(["search", "--catalog", fault_api.url], eo_env(tmp_path))
    assert res.returncode == 2
    assert time.monotonic() - t0 < POLICY.deadline + SLACK + 3  # + the process's start
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fault_api.url in errors[0]
    assert re.search("read timeout|deadline", errors[0])
    assert "Traceback" not in res.stderr


def test_search_deadline_is_the_retry_setting(fault_api: FaultServer) -> None:
    """``EO_RETRY``'s deadline is what a search without ``retry=`` gets (one place for settings)."""
    fault_api.add("hang", SEARCH)
    with eo.config.set(retry=dataclasses.replace(POLICY, deadline=2.0)):
        t0 = time.monotonic()
        with pytest.raises(RemoteTimeoutError, match="deadline of 2 s"):
            eo.search(fault_api.url)
        assert time.monotonic() - t0 < 2.0 + SLACK
    assert POLICY_ENV  # the same policy reaches eo processes through EO_RETRY


def test_empty_result_names_the_filter(synthetic_server: Any) -> None:
    """``max_cloud`` on items without eo:cloud_cover: the warning says so (the README's example)."""
    with pytest.warns(eo.errors.EmptyResultWarning, match="eo:cloud_cover") as caught:
        items = eo.search(synthetic_server.url, collections=["coll-b"], ids=["b-2021-01-15"], max_cloud=50)
    assert len(items) == 0
    assert "no 'eo:cloud_cover'" in str(caught[0].message)
    res = CliRunner().invoke(
        main,
        ["search", "--catalog", synthetic_server.url, "--ids", "b-2021-01-15", "--max-cloud", "50"],
    )
    assert res.exit_code == 0
    assert "max_cloud" in res.output and "0 item(s)" in res.output
