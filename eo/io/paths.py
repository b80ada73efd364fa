"""Output paths made from names others chose (tile, item, variable ids): never outside their root (pure).

Output files are named after tile ids (from a spec's ``area.tiles``), item ids (from a STAC server)
and variable names (a spec's ``outputs.variables``).  A hostile or broken name (``../x``, ``/etc``,
``a/b``, a NUL byte, a leading dot that would hide the file) must not steer a write out of the
output directory: :func:`safe_name` accepts a name only if it is one plain path component, and
:func:`inside` checks a built path against its root.

>>> safe_name("32642_511_4456_20250601_20250630", "item id")
'32642_511_4456_20250601_20250630'
>>> safe_name("../evil", "item id")
Traceback (most recent call last):
...
eo.errors.InputError: item id '../evil' cannot name a file: ...
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from eo.errors import InputError

#: A plain file-name component: letters, digits, ``.``, ``_``, ``-``; not starting with a dot or dash.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def safe_name(name: str, what: str) -> str:
    """Return ``name`` if it can be used as one file-name component, else raise :class:`InputError`."""
    if not isinstance(name, str) or not _SAFE.fullmatch(name) or ".." in name:
        raise InputError(
            f"{what} {name!r} cannot name a file: expected letters, digits, '.', '_' or '-' "
            "(at most 200, not starting with '.' or '-', no '..'); rename it"
        )
    return name


def inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Return ``path`` if it lies inside ``root`` once both are resolved, else raise :class:`InputError`."""
    base = Path(root).resolve()
    target = Path(path).resolve()
    if target != base and base not in target.parents:
        raise InputError(f"{path} is outside the output directory {root}; refusing to write there")
    return Path(path)
