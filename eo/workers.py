"""Priming Dask worker processes for eo's chunk tasks while the client is still planning.

A fresh worker process pays for its first eo task before it computes anything: importing the
modules the task functions live in (with xarray, pandas, rasterio, numba, odc-geo: 0.65-0.7 s
on the 2-core benchmark machine), and numba's one-time initialisation on the first call of a
compiled kernel (0.16-0.24 s even when the kernel is cached on disk; every further cached
kernel then loads in about 5 ms).  Unprimed, the import happens while the worker unpickles
the first task and the initialisation inside it, so on the hot-path benchmark (6 dates x
5490^2 px, 2 single-thread workers) the first task started 0.6-0.7 s after the client
submitted it and each worker spent 0.6-0.7 s more on the first job's tasks than on a second.

:func:`prime` sends every worker one small task (:func:`warm_worker`) that does that work,
and returns without waiting, so the workers warm up while the client is still importing and
building its graph.  ``eo run`` primes its own cluster's workers.  Elsewhere it is opt-in (a library
call has no effect on a user's cluster beyond the work asked for): call :func:`prime` yourself, or
turn the ``prime_workers`` setting on (``EO_PRIME_WORKERS=1``, ``eo.config.set(prime_workers=True)``)
and every ``eo.load`` primes the active Client's workers, once per Client and process.  Workers
that join later warm up on their first task, as without priming.

This module imports nothing heavy: ``import eo`` stays fast.
"""

from __future__ import annotations

import importlib
import threading
import time
import weakref
from typing import Any

from eo import config

#: The modules whose functions eo's chunk tasks call (their import pulls in the rest).
TASK_MODULES = (
    "eo.loading.graph",
    "eo.loading.read",
    "eo.radiometry.toa",
    "eo.masking.compose",
    "eo.spectral.apply",
    "eo.compositing",
    "eo.compositing.methods",
    "eo.compositing.median",
)
#: Environment variable of the ``prime_workers`` setting (``1`` turns automatic priming on).
ENV_SWITCH = config.SETTINGS["prime_workers"].env

_primed: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()


def warm_worker() -> float:
    """Import eo's task modules, initialise numba and GDAL in this process; seconds taken.

    Runs in a worker process (sent by :func:`prime`); harmless anywhere else.  Numba is
    initialised with a trivial cached kernel (:func:`eo._touch.touch`), so no hot-path kernel is
    compiled for a signature it would not use.
    """
    t0 = time.perf_counter()
    from eo.malloc import ensure_tuned

    ensure_tuned()  # before the first chunk-sized allocations (where the worker opted in)
    for name in TASK_MODULES:
        importlib.import_module(name)
    from eo._touch import touch
    from eo.config import gdal_env

    touch(1)
    with gdal_env():  # registers GDAL's drivers
        pass
    return time.perf_counter() - t0


def prime(client: Any = None) -> list[Any]:
    """Send every current worker of ``client`` one :func:`warm_worker` task; does not wait.

    Parameters
    ----------
    client
        A ``distributed.Client``; default: the active one (``distributed.default_client()``).

    Returns
    -------
    list of distributed.Future
        One per worker (``fire_and_forget``: they run even if dropped; ``.result()`` is the
        seconds the warm-up took there).  Each is pinned loosely to its worker (it runs
        elsewhere if that worker has gone) and has a high priority, so it runs before the
        chunk tasks submitted after it.
    """
    from distributed import default_client, fire_and_forget

    client = client if client is not None else default_client()
    futures = []
    for address in client.nthreads():
        fut = client.submit(
            warm_worker,
            workers=[address],
            allow_other_workers=True,
            pure=False,
            priority=100,
            key=f"eo-warm-worker-{address}-{time.monotonic_ns()}",
        )
        fire_and_forget(fut)
        futures.append(fut)
    with _lock:
        _primed.add(client)
    return futures


def prime_active() -> None:
    """Prime the active Client's workers once per Client, if the ``prime_workers`` setting is on.

    A no-op otherwise, and without a Client.  Cheap when there is nothing to do: no ``distributed``
    import (a process that never imported it has no Client), no scheduler round trip for a Client
    already primed.  Never raises: priming is an optimisation, and a scheduler that cannot be
    reached shows up in the real computation with its own error.
    """
    if not config.get("prime_workers"):
        return
    from eo.cluster import default_client

    client = default_client()
    if client is None:
        return
    with _lock:
        if client in _primed or getattr(client, "status", "running") != "running":
            return
        if getattr(client, "asynchronous", False):  # its calls are coroutines: leave it to its owner
            return
        _primed.add(client)
    try:
        prime(client)
    except Exception:  # priming is optional: see the docstring
        return
