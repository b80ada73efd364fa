"""Tables (zonal statistics, time series) written as Parquet or CSV, atomically.

Parquet keeps dtypes (float64 statistics, int64 counts, UTC times); CSV writes times as
``YYYY-MM-DDTHH:MM:SSZ``.  The format follows the file name's suffix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from eo.errors import InputError

#: Table formats by file suffix, and their media types.
MEDIA_TYPES = {".parquet": "application/vnd.apache.parquet", ".csv": "text/csv"}


def write_table(table: Any, path: str | os.PathLike[str]) -> Path:
    """Write a pandas DataFrame atomically as Parquet or CSV (by ``path``'s suffix); return the path.

    Raises :class:`~eo.errors.InputError` for another suffix (before writing anything).
    """
    from eo.io.atomic import atomic_path

    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in MEDIA_TYPES:
        raise InputError(f"{out}: expected a .parquet or .csv file name; got suffix {suffix or 'none'!r}")
    with atomic_path(out, suffix=suffix) as tmp:
        if suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return out
