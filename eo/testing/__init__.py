"""Public test helpers of eo: laziness checks and deterministic synthetic data.

:func:`raise_if_dask_computes` fails a block that triggers any Dask computation (the
xarray idea): every lazy public function of eo is tested under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask

from eo.errors import DaskComputeError


@contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[None]:
    """Fail if more than ``max_computes`` Dask computations run inside the block."""
    count = 0

    def scheduler(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count > max_computes:
            raise DaskComputeError(
                f"Too many dask computations: {count} > {max_computes} (this code must be lazy)"
            )
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=scheduler):
        yield
