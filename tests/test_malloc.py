"""eo.malloc: glibc thresholds pinned by Dask's workers are retuned once per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from eo import malloc

FAULTS = """
import resource, sys
import numpy as np
from eo import malloc
if sys.argv[1] == "tune":
    malloc.ensure_tuned()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(4 * 2**20, np.float32)  # 16 MiB, a 2048 x 2048 float32 chunk
del a
f0 = faults()
for _ in range(20):
    a = np.ones(4 * 2**20, np.float32)
    del a
print(faults() - f0)
"""


def _faults(mode: str, **env: str) -> int:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "EO_MALLOC"))}
    res = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, env={**full, **env}
    )
    assert res.returncode == 0, res.stderr
    return int(res.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_pinned_threshold_faults_every_chunk_in_again_until_tuned() -> None:
    dask_env = {"MALLOC_TRIM_THRESHOLD_": "65536"}  # what Dask's nanny gives its workers
    pinned = _faults("plain", **dask_env)
    tuned = _faults("tune", **dask_env, EO_MALLOC_TUNE="1")  # opted in (eo run's workers are)
    # every 16 MiB array is a fresh mmap whose pages fault in again (4096 small pages, or at
    # least 8 transparent huge pages, each)
    assert pinned >= 20 * 8
    assert tuned < pinned / 10
    assert _faults("tune", **dask_env, EO_MALLOC_TUNE="0") >= 20 * 8  # switched off
    assert _faults("tune", **dask_env) >= 20 * 8  # off unless asked: a library leaves the allocator alone


def test_only_thresholds_pinned_below_ours_are_retuned() -> None:
    assert malloc._pinned_low({"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert malloc._pinned_low({"MALLOC_MMAP_THRESHOLD_": "131072"})
    assert not malloc._pinned_low({})
    assert not malloc._pinned_low({"MALLOC_TRIM_THRESHOLD_": str(2 * malloc.TRIM_THRESHOLD)})
    assert not malloc._pinned_low({"MALLOC_TRIM_THRESHOLD_": "lots"})
    assert malloc._enabled({"EO_MALLOC_TUNE": "1"}) and malloc._enabled({"EO_MALLOC_TUNE": "on"})
    assert not malloc._enabled({}) and not malloc._enabled({"EO_MALLOC_TUNE": "off"})


def test_ensure_tuned_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(malloc, "_tuned", False)
    monkeypatch.setattr(malloc, "tune", lambda: calls.append(1) or True)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setenv("EO_MALLOC_TUNE", "1")
    malloc.ensure_tuned()
    malloc.ensure_tuned()
    assert calls == [1]
