"""Processes: a Dask worker killed mid-run; ``eo run`` stopped by SIGINT or SIGKILL at random points.

Each trial starts a real ``eo run`` process, stops it after a random delay (seeded: the same points
every time, ``EO_FAULT_SEED``/``EO_FAULT_TRIALS`` change them), then runs it again to completion and
compares the result with an uninterrupted run: the same COG bytes, the same STAC items and links,
no tile lost or duplicated, no file that no committed state accounts for (:func:`leftovers`), and
for SIGINT exit status 130 with a report of what finished.  :data:`FIGURES` collects what the
trials survived (printed at the end of the session, quoted in the README).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from faults.faultkit import EO, FIGURES, eo_cli, eo_env, leftovers, pipeline_spec, snapshot, tile_area

#: Interrupted runs per chain (one chain of SIGKILLs, one of SIGINT/SIGTERM), and their seed.
TRIALS = int(os.environ.get("EO_FAULT_TRIALS", "5"))
SEED = int(os.environ.get("EO_FAULT_SEED", "13"))


@pytest.fixture(scope="module")
def spec_file(finished_run: dict[str, Any]) -> Path:
    return Path(finished_run["spec_file"])


@pytest.fixture(scope="module")
def home(finished_run: dict[str, Any]) -> Path:
    return Path(finished_run["home"])


@pytest.fixture(scope="module")
def reference(finished_run: dict[str, Any]) -> dict[str, Any]:
    """The uninterrupted run: its snapshot and how long it took."""
    return finished_run


def _trial(spec_file: Path, home: Path, out: Path, sig: signal.Signals, delay: float, cluster: str) -> int:
    """Start ``eo run``, send ``sig`` after ``delay`` seconds; its exit status (negative: killed)."""
    args = [EO, "run", str(spec_file), "--out", str(out), "--cluster", cluster]
    proc = subprocess.Popen(
        args,
        env=eo_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the whole group, as a terminal's Ctrl-C (and the OOM killer's victim)
    _, err = proc.communicate(timeout=120)
    if proc.returncode in (130, 143):
        assert "Traceback" not in err, err
        ends = [line for line in err.splitlines() if ": interrupted (SIG" in line or line == "interrupted"]
        assert len(ends) == 1, err
    return proc.returncode


def _check_converged(out: Path, reference: dict[str, Any]) -> None:
    assert leftovers(out) == [], "files no committed state accounts for"
    snap = snapshot(out)
    lost = sorted(set(reference["snapshot"]["cogs"]) - set(snap["cogs"]))
    FIGURES["tiles lost"] += len(lost)
    assert snap == reference["snapshot"]
    report = json.loads((out / "report.json").read_text())
    assert report["exit_code"] == 0 and report["counts"]["failed"] == 0
    assert report["counts"]["done"] + report["counts"]["skipped"] == 8  # every (tile, period) once
    rows = [(r["tile"], r["period"]) for r in report["results"]]
    assert len(rows) == len(set(rows)) == 8
    assert all(r["files"] and r["valid_fraction"] is not None for r in report["results"])


def _delays(n: int, seconds: float, salt: int) -> list[float]:
    """``n`` seeded random moments of a run (after the process has started and planned)."""
    rng = random.Random(SEED * 1000 + salt)
    return [rng.uniform(1.2, max(1.5, seconds * 0.9)) for _ in range(n)]


CHAINS = {
    "SIGKILL": [signal.SIGKILL],
    "SIGINT and SIGTERM": [signal.SIGINT, signal.SIGTERM],
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_interrupted_runs_converge_to_the_uninterrupted_run(
    name: str, spec_file: Path, home: Path, reference: dict[str, Any], tmp_path: Path
) -> None:
    """``TRIALS`` runs into one directory, each stopped at a random moment (re-runs stopped too), then one
    run to the end: the result is the uninterrupted run's.  Every stop leaves a state the next run can
    take over; the runs of the chain make progress (no tile is computed twice once committed)."""
    signals = CHAINS[name]
    out = tmp_path / "chain"
    committed = 0
    for n, delay in enumerate(_delays(TRIALS, reference["seconds"], len(name))):
        sig = signals[n % len(signals)]
        status = _trial(spec_file, home, out, sig, delay, "threads")
        FIGURES["trials"] += 1
        expected = {signal.SIGKILL: -signal.SIGKILL, signal.SIGINT: 130, signal.SIGTERM: 143}[sig]
        assert status in (expected, 0), f"trial {n} ({sig.name} after {delay:.2f} s) exited {status}"
        if status == 0:
            break  # it finished before the signal: nothing left to interrupt
        FIGURES["interrupted mid-run"] += 1
        if sig != signal.SIGKILL and (out / "report.json").exists():
            report = json.loads((out / "report.json").read_text())
            assert report["interrupted"] and report["exit_code"] == 130
        now = len(list((out / "_state").glob("*/*.json")))
        assert now >= committed, "a committed (tile, period) was lost"
        committed = now
    res = eo_cli(["run", str(spec_file), "--out", str(out), "--cluster", "threads"], eo_env(home))
    assert res.returncode == 0, f"the last run failed: {res.stderr}"
    FIGURES["orphan files"] += len(leftovers(out))
    _check_converged(out, reference)


def test_ctrl_c_on_a_local_cluster_is_quiet(spec_file: Path, home: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the run and its worker processes: one line, exit 130, no worker tracebacks."""
    out = tmp_path / "cluster"
    args = [EO, "run", str(spec_file), "--out", str(out)]
    proc = subprocess.Popen(
        args,
        env=eo_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not list((out / "_state").glob("*/*.json")):
        time.sleep(0.05)  # until the first tile is committed: the cluster is busy
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("faults: interrupted (SIGINT):")
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] and report["counts"]["done"] >= 1 and report["counts"]["pending"] >= 1
    assert leftovers(out) == []


def test_killed_dask_worker(
    scene_server: Any, scene_catalog: Path, reference: dict[str, Any], tmp_path: Path
) -> None:
    """A worker process dies (SIGKILL) while tiles are computed: the run completes, or a re-run does."""
    from distributed import Client, LocalCluster

    from eo.pipeline import run

    spec = pipeline_spec(scene_server.url, tile_area(scene_catalog, 2, 2))
    out = tmp_path / "killed-worker"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc,
        Client(lc) as client,
    ):
        pids = list(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_one() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not list((out / "_state").glob("*/*.json")):
                time.sleep(0.01)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

        threading.Thread(target=kill_one, daemon=True).start()
        first = run(spec, out=out, cluster=client)
        assert killed, "the worker was killed during the run"
        if first.exit_code != 0:  # a tile whose tasks failed too often: the next run finishes it
            assert first.exit_code == 1 and first.counts["done"] >= 1
            assert run(spec, out=out, cluster=client).exit_code == 0
        assert len(client.nthreads()) >= 1
    _check_converged(out, reference)
