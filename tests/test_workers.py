"""Priming Dask workers (eo.workers) on a real LocalCluster of worker processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import eo.workers as workers

distributed = pytest.importorskip("distributed")


def _task_modules_loaded() -> dict[str, bool]:
    return {name: name in sys.modules for name in workers.TASK_MODULES}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_prime_warms_every_worker_process(client: Any) -> None:
    before = client.run(_task_modules_loaded)
    assert all(not any(loaded.values()) for loaded in before.values()), before  # fresh processes
    futures = workers.prime(client)
    assert len(futures) == 2
    seconds = client.gather(futures)
    assert all(s > 0 for s in seconds)
    after = client.run(_task_modules_loaded)
    assert all(all(loaded.values()) for loaded in after.values()), after
    numba_ready = client.run(lambda: "numba" in sys.modules and "eo._touch" in sys.modules)
    assert all(numba_ready.values())


def test_prime_active_once_per_client_when_opted_in(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(workers, "prime", lambda c=None: calls.append(c) or [])
    monkeypatch.setattr(workers, "_primed", type(workers._primed)())
    monkeypatch.setenv(workers.ENV_SWITCH, "1")
    workers.prime_active()
    workers.prime_active()
    assert calls == [client]


def test_prime_active_is_off_by_default(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(workers, "prime", lambda c=None: calls.append(c) or [])
    monkeypatch.setattr(workers, "_primed", type(workers._primed)())
    monkeypatch.delenv(workers.ENV_SWITCH, raising=False)
    workers.prime_active()
    assert calls == []


def test_eo_load_touches_the_users_cluster_only_when_asked(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eo

    calls: list[Any] = []
    monkeypatch.setattr(workers, "prime", lambda c=None: calls.append(c) or [])
    monkeypatch.setattr(workers, "_primed", type(workers._primed)())
    monkeypatch.delenv(workers.ENV_SWITCH, raising=False)
    eo.load  # noqa: B018 - looking a name up has no effect on the cluster
    with pytest.raises(eo.errors.EOError):
        eo.load([], bands=["red"])
    assert calls == []
    with eo.config.set(prime_workers=True), pytest.raises(eo.errors.EOError):
        eo.load([], bands=["red"])  # opted in: primes before it looks at the items
    assert calls == [client]


def test_prime_active_without_a_client_does_nothing() -> None:
    # a fresh interpreter: this module's cluster fixture is a default client here
    code = (
        "import os, distributed, eo.workers as w\n"
        "os.environ['EO_PRIME_WORKERS'] = '1'\n"
        "calls = []\n"
        "w.prime = lambda c=None: calls.append(c)\n"
        "w.prime_active()\n"
        "assert calls == [], calls\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_eo_does_not_import_distributed() -> None:
    code = "import sys, eo, eo.workers; assert 'distributed' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_warm_worker_runs_in_this_process() -> None:
    assert workers.warm_worker() >= 0
    assert all(_task_modules_loaded().values())
