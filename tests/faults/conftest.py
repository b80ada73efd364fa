"""Fixtures of the fault suite: real servers on loopback, a real catalogue of COGs, real processes.

* ``scene_catalog`` (session): a synthetic Sentinel-2 L2A catalogue (:mod:`eo.testing.synthetic`):
  3 dates (June 5, June 25, July 15 2025), 256 x 256 px at 10 m, red/nir/SCL COGs;
* ``scene_server`` (session): rustac serving it (:func:`eo.catalog.serve.serve`);
* ``scene_proxy``: a :class:`FaultServer` in front of that API and of the COG files, each test
  with its own URL namespace for the files (GDAL caches what it read per URL);
* ``fault_api``: a :class:`FaultServer` in front of the 8-item synthetic API of ``tests/conftest.py``;

Helpers (the retry policy of the suite, specs, ``eo`` processes, run snapshots) are in ``faultkit``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults.faultserver import FaultServer


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault suite's figures: faults injected by kind, interruption trials, data lost."""
    from faults import faultserver
    from faults.faultkit import FIGURES

    injected = dict(sorted(faultserver.INJECTED.items()))
    if not injected and not FIGURES["trials"]:
        return
    terminalreporter.section("fault suite")
    terminalreporter.write_line(f"faults injected by the HTTP server: {sum(injected.values())} {injected}")
    terminalreporter.write_line(
        f"interruption trials: {FIGURES['trials']} ({FIGURES['interrupted mid-run']} stopped mid-run); "
        f"tiles lost: {FIGURES['tiles lost']}; orphan files: {FIGURES['orphan files']}"
    )


@pytest.fixture(scope="session")
def scene_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eo.testing.synthetic import make_s2_l2a_catalog

    return make_s2_l2a_catalog(
        tmp_path_factory.mktemp("scenes"),
        dates=3,
        size=256,
        tile=256,
        interval_days=20,
        bands=("red", "nir", "scl"),
    )


@pytest.fixture(scope="session")
def scene_server(scene_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from eo.catalog.serve import serve

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EO_HOME", str(tmp_path_factory.mktemp("scene-server-home")))
        server = serve(scene_catalog)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scene_proxy(scene_server: Any, scene_catalog: Path) -> Iterator[FaultServer]:
    proxy = FaultServer(scene_server.url, scene_catalog.parent, namespace=uuid.uuid4().hex[:8])
    yield proxy
    proxy.close()


@pytest.fixture
def fault_api(synthetic_server: Any) -> Iterator[FaultServer]:
    proxy = FaultServer(synthetic_server.url)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def finished_run(
    scene_server: Any, scene_catalog: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The 2 x 2 tile pipeline run to its end by ``eo run`` (threads): spec file, home, output, snapshot."""
    import time

    from faults.faultkit import eo_cli, eo_env, pipeline_spec, snapshot, tile_area, write_spec

    folder = tmp_path_factory.mktemp("finished")
    spec = pipeline_spec(scene_server.url, tile_area(scene_catalog, 2, 2))
    spec_file = write_spec(folder / "faults.yaml", spec)
    home, out = folder / "home", folder / "out"
    t0 = time.monotonic()
    res = eo_cli(["run", str(spec_file), "--out", str(out), "--cluster", "threads"], eo_env(home))
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    snap = snapshot(out)
    assert len(snap["cogs"]) == 16  # 2 x 2 tiles x 2 months x (NDVI, count)
    return {"spec_file": spec_file, "home": home, "out": out, "snapshot": snap, "seconds": took}
