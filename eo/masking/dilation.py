"""Binary dilation of masks by a distance in metres, correct across Dask chunk edges.

The structuring element is the set of pixel offsets whose centre-to-centre ground distance is
at most the requested distance (a disk for square pixels, an ellipse in pixel units otherwise).
The dilation itself is numpy only (no scipy): the element is split into rows, each row is a
horizontal run ``[-w, w]``; a run is applied as a sliding-window "any" computed from a
cumulative sum, then shifted by the row offset.  Cost is O(rows x pixels), not O(area x pixels).

On Dask arrays the dilation runs per block with :func:`dask.array.map_overlap`, borrowing
``radius`` pixels from each neighbouring block (``depth``), so a mask touching a chunk edge
dilates into the next chunk exactly as in the unchunked array.  Outside the array counts as
not flagged (``boundary="none"``: edge blocks are padded with False by the kernel).
Leading dimensions (``time``) are dilated slice by slice.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from eo.errors import InputError

_DISTANCE = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(m|metres?|meters?|km)?\s*$", re.IGNORECASE
)
_EPS = 1e-9


def parse_distance(value: str | float | None) -> float | None:
    """Parse a distance in metres: ``60``, ``"60m"``, ``"60 m"``, ``"0.06 km"``; ``None`` stays ``None``.

    Raises :class:`eo.errors.InputError` for anything else or for a negative distance.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"expected a distance such as 60 or '60 m', found {value!r}")
    if isinstance(value, int | float):
        metres = float(value)
    else:
        match = _DISTANCE.match(str(value))
        if match is None:
            raise InputError(
                f"expected a distance such as 60, '60m' or '60 m' (metres) or '0.1 km', found {value!r}"
            )
        metres = float(match.group(1)) * (1000.0 if (match.group(2) or "").lower() == "km" else 1.0)
    if not math.isfinite(metres) or metres < 0:
        raise InputError(f"expected a distance >= 0 metres, found {value!r}")
    return metres


def footprint(distance: float, res_x: float, res_y: float) -> np.ndarray:
    """Structuring element (bool, odd shape ``(2*ky+1, 2*kx+1)``) of all offsets within ``distance`` metres.

    ``res_x``/``res_y`` are the pixel sizes in metres (absolute values are used).
    """
    rx, ry = abs(res_x), abs(res_y)
    if rx <= 0 or ry <= 0:
        raise InputError(f"expected pixel sizes > 0, found {res_x!r}, {res_y!r}")
    kx = math.floor(distance / rx + _EPS)
    ky = math.floor(distance / ry + _EPS)
    dy, dx = np.mgrid[-ky : ky + 1, -kx : kx + 1]
    return np.asarray((dy * ry) ** 2 + (dx * rx) ** 2 <= distance**2 * (1 + _EPS))


def _row_runs(fp: np.ndarray) -> list[tuple[int, int]]:
    """``(dy, w)`` per non-empty row: the row covers ``dx in [-w, w]`` (checked)."""
    ky, kx = fp.shape[0] // 2, fp.shape[1] // 2
    runs = []
    for i, row in enumerate(fp):
        cols = np.flatnonzero(row) - kx
        if cols.size == 0:
            continue
        w = int(cols.max())
        if cols.min() != -w or cols.size != 2 * w + 1:
            raise ValueError("footprint rows must be symmetric contiguous runs (use footprint())")
        runs.append((i - ky, w))
    return runs


def dilate_array(block: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Binary dilation of the last two axes of ``block`` by ``fp`` (numpy, eager); outside = False."""
    block = np.asarray(block, dtype=bool)
    ky, kx = fp.shape[0] // 2, fp.shape[1] // 2
    ny, nx = block.shape[-2:]
    lead = [(0, 0)] * (block.ndim - 2)
    padded = np.pad(block, [*lead, (ky, ky), (kx, kx)])
    csum = np.concatenate(
        [np.zeros((*padded.shape[:-1], 1), dtype=np.int32), np.cumsum(padded, axis=-1, dtype=np.int32)],
        axis=-1,
    )
    out = np.zeros(block.shape, dtype=bool)
    horizontal: dict[int, np.ndarray] = {}
    for dy, w in _row_runs(fp):
        if w not in horizontal:
            # any(padded[..., j + kx - w : j + kx + w + 1]) for output column j
            horizontal[w] = (csum[..., kx + w + 1 : kx + w + 1 + nx] - csum[..., kx - w : kx - w + nx]) > 0
        out |= horizontal[w][..., ky + dy : ky + dy + ny, :]
    return out


def dilate(data: Any, fp: np.ndarray) -> Any:
    """Dilate the last two axes of a numpy or Dask bool array; Dask input stays lazy.

    Dask arrays are processed with ``map_overlap`` (depth = footprint radius on the two
    spatial axes, 0 elsewhere), so results do not depend on the chunking.
    """
    ky, kx = fp.shape[0] // 2, fp.shape[1] // 2
    if ky == 0 and kx == 0:
        return data
    import dask.array as da

    if isinstance(data, da.Array):
        depth = {axis: 0 for axis in range(data.ndim)}
        # a radius beyond the array adds nothing: clip it (dask refuses depths larger than the array)
        depth[data.ndim - 2] = min(ky, data.shape[-2])
        depth[data.ndim - 1] = min(kx, data.shape[-1])
        return data.map_overlap(
            dilate_array, fp=fp, depth=depth, boundary="none", dtype=bool, meta=np.array((), bool)
        )
    return dilate_array(np.asarray(data), fp)
