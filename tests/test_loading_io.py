"""The bounded I/O pool of chunk reads and the grouping of time slices into read tasks (pure parts)."""

from __future__ import annotations

import threading
import time

import pytest

from eo.config import IO_THREADS, io_threads
from eo.errors import ConfigError
from eo.loading.graph import time_groups
from eo.loading.io import io_pool, is_remote, run_all


def test_time_groups_fill_the_budget_with_consecutive_chunks() -> None:
    ranges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert time_groups(ranges, 10, 30) == [[0, 1, 2], [3, 4]]
    assert time_groups(ranges, 10, 0) == [[0], [1], [2], [3], [4]]  # no budget: one chunk per task
    assert time_groups([(0, 4), (4, 5)], 10, 30) == [[0], [1]]  # a chunk over the budget is read alone
    assert time_groups([], 10, 30) == []


def test_io_threads_from_the_environment() -> None:
    assert io_threads({}) == IO_THREADS
    assert io_threads({"EO_IO_THREADS": "4"}) == 4
    for bad in ("0", "-2", "many"):
        with pytest.raises(ConfigError, match="EO_IO_THREADS"):
            io_threads({"EO_IO_THREADS": bad})


def test_remote_hrefs() -> None:
    assert is_remote("http://127.0.0.1:8080/a.tif") and is_remote("s3://bucket/a.tif")
    assert is_remote("/vsicurl/https://x/a.tif") and not is_remote("/data/a.tif")


def test_run_all_runs_calls_side_by_side_bounded_by_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EO_IO_THREADS", "3")
    lock, active, peak = threading.Lock(), [0], [0]

    def call(i: int) -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return i * i

    assert run_all([lambda i=i: call(i) for i in range(9)]) == [i * i for i in range(9)]
    assert peak[0] == 3  # in flight together, never more than the pool
    assert io_pool()._max_workers == 3
    # the size a task captured with its graph (ReadSettings.io_threads) wins over the process's setting
    peak[0] = 0
    assert run_all([lambda i=i: call(i) for i in range(8)], size=2) == [i * i for i in range(8)]
    assert peak[0] == 2 and io_pool(2)._max_workers == 2


def test_run_all_waits_for_every_call_then_raises_the_first_error() -> None:
    done = []

    def slow() -> None:
        time.sleep(0.05)
        done.append(1)

    def bad() -> None:
        raise OSError("boom")

    with pytest.raises(OSError, match="boom"):
        run_all([bad, slow, slow])
    assert done == [1, 1]
