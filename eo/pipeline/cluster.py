"""The Dask client of a pipeline run: given, existing, remote, or a LocalCluster of its own.

A LocalCluster started here has worker processes that ignore SIGINT: Ctrl-C at a terminal reaches
the whole process group, and the run (this process) is the one to handle it: it stops, writes the
report of what finished and closes the cluster.  Workers that also took the signal would die in
the middle of their tasks and print their tracebacks over the run's last lines.  The workers
started with the cluster inherit the ignored signal (Python then installs no handler of its own);
workers the nanny restarts later (after a crash) are told by a worker plugin.

The same plugin redacts credentials from everything the worker processes log (a failed read's
error quotes its signed URL: :mod:`eo.redact`), and, unless eo logs at DEBUG, drops Dask's
"Compute Failed" reports of the tasks eo's run handles itself (the tile's line says what failed).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eo.pipeline.spec import PipelineSpec


def _ignore_sigint() -> None:
    """Make this process ignore SIGINT (only the main thread may change signal handling)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class RedactingFilter(logging.Filter):
    """Redact credentials from log records; optionally drop Dask's reports of failed tasks."""

    def __init__(self, drop_task_errors: bool = False) -> None:
        super().__init__()
        self.drop_task_errors = drop_task_errors

    def filter(self, record: logging.LogRecord) -> bool:
        from eo.redact import redact

        if self.drop_task_errors and str(record.msg).startswith("Compute Failed"):
            return False
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _install_filter(drop_task_errors: bool) -> None:
    """Put a :class:`RedactingFilter` on this process's log handlers and on Dask's worker logger."""
    flt = RedactingFilter(drop_task_errors)
    for name in ("", "distributed", "distributed.worker"):
        logger = logging.getLogger(name)
        if name == "distributed.worker":
            logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)


def worker_plugin(drop_task_errors: bool = True) -> Any:
    """A Dask worker plugin for eo's own cluster, applied in every worker process (restarted ones too).

    The process ignores SIGINT and redacts credentials from its logs (and drops Dask's "Compute
    Failed" reports with ``drop_task_errors``).
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class EoWorkerProcess(WorkerPlugin):
        name = "eo-worker-process"

        def __init__(self, drop: bool) -> None:
            self.drop = drop

        def setup(self, worker: Any) -> None:
            _ignore_sigint()
            _install_filter(self.drop)

    return EoWorkerProcess(drop_task_errors)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process while worker processes are spawned (they inherit it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def run_client(spec: PipelineSpec, cluster: Any) -> Iterator[Any]:
    """A Dask client for the run: given, existing, remote (address) or a new LocalCluster.

    ``cluster="threads"`` uses the threaded scheduler of this process (no distributed).
    """
    if cluster == "threads":
        yield None
        return
    from distributed import Client, LocalCluster

    if isinstance(cluster, Client):
        yield cluster
        return
    address = cluster or spec.cluster.address
    if address:
        with Client(address) as client:
            yield client
        return
    from eo.cluster import default_client

    existing = default_client()
    if existing is not None:
        yield existing  # a notebook's client: used as it is, nothing changed on it
        return
    cores = os.cpu_count() or 1
    n_workers = spec.cluster.n_workers or cores
    threads = spec.cluster.threads_per_worker or max(1, cores // n_workers)
    kwargs: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": threads,
        "dashboard_address": ":0",
    }
    kwargs["silence_logs"] = max(logging.WARNING, logging.getLogger("eo").getEffectiveLevel())
    kwargs["processes"] = spec.cluster.processes
    if spec.cluster.memory_limit is not None:
        kwargs["memory_limit"] = spec.cluster.memory_limit
    # eo's own cluster: its workers retune the malloc thresholds Dask pins (eo.malloc) and are primed
    kwargs["env"] = {"EO_MALLOC_TUNE": "1"}
    with _sigint_ignored():
        lc = LocalCluster(**kwargs)
    with lc, Client(lc) as client:
        if spec.cluster.processes:
            debug = logging.getLogger("eo").getEffectiveLevel() <= logging.DEBUG
            client.register_plugin(worker_plugin(drop_task_errors=not debug))
        from eo.workers import prime

        prime(client)  # fresh worker processes: they import eo's task modules while this one plans
        yield client
