"""The Dask cluster a computation runs on: one place to ask for "the active client".

:func:`active_client` answers without importing ``distributed`` in a process that never did (a
Client cannot exist there; asking Dask would import it: 0.15 s and about 16,000 objects).
"""

from __future__ import annotations

import sys
from typing import Any

import dask


def scheduler_may_be_set() -> bool:
    """Whether a scheduler other than a collection's default may be in force (config or a Client)."""
    return dask.config.get("scheduler", None) is not None or "distributed" in sys.modules


def active_client() -> Any:
    """The ``distributed.Client`` that Dask would compute on now, or None (threads, processes, sync)."""
    if not scheduler_may_be_set():
        return None
    scheduler = dask.base.get_scheduler()
    owner = getattr(scheduler, "__self__", None)
    return owner if type(owner).__name__ == "Client" else None


def default_client() -> Any:
    """The process's default ``distributed.Client``, or None; never imports ``distributed``."""
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client as _default

        return _default()
    except (ValueError, ImportError):
        return None
