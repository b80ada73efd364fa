"""Spatially coherent random fields that can be evaluated on any window (pure numpy).

A :class:`Field` is fractal *value noise*: a few octaves of random lattices, each
interpolated with a smoothstep (C1) kernel and summed with decreasing amplitude.  It is a
function of pixel-centre coordinates, so a strip, a tile or a 20 m grid of the same area
can be evaluated independently and always agree: the synthetic scene is generated strip by
strip in bounded memory and stays identical whatever the strip size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Octave:
    """One lattice of random values in [-1, 1] (float32) with spacing ``cell`` pixels."""

    lattice: np.ndarray
    cell: float
    amplitude: float
    phase: tuple[float, float]


def _axis(coords: np.ndarray, cell: float, phase: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = (coords + phase) / cell
    i0 = np.floor(u)
    t = (u - i0).astype(np.float32)
    t = t * t * (np.float32(3.0) - np.float32(2.0) * t)
    i0 = i0.astype(np.intp)
    return np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1), t


@dataclass(frozen=True)
class Field:
    """Fractal value noise on the plane of 10 m pixel coordinates.

    ``sample(rows, cols)`` returns a float32 array of shape ``(len(rows), len(cols))``
    whose values have mean ~0 and a standard deviation below 1 (see :meth:`quantile`).
    Coordinates are in pixels of the 10 m grid (the centre of pixel ``i`` is ``i + 0.5``;
    the centre of 20 m pixel ``j`` is ``2 * j + 1``); points outside the lattice extent
    repeat the edge values.
    """

    octaves: tuple[Octave, ...]

    def sample(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Evaluate the field on the outer product of ``rows`` x ``cols`` (float32)."""
        out = np.zeros((rows.size, cols.size), dtype=np.float32)
        for o in self.octaves:
            gh, gw = o.lattice.shape
            r0, r1, ty = _axis(rows, o.cell, o.phase[0], gh)
            c0, c1, tx = _axis(cols, o.cell, o.phase[1], gw)
            # interpolate along y on the (small) lattice first, then along x at full size
            a = o.lattice[r0] * (1 - ty)[:, None] + o.lattice[r1] * ty[:, None]
            v = a[:, c0]
            v += (a[:, c1] - v) * tx[None, :]
            out += np.float32(o.amplitude) * v
        return out

    def quantile(self, q: float, extent: int, samples: int = 96) -> float:
        """Approximate ``q``-quantile of the field over a square of ``extent`` pixels."""
        pts = (np.arange(samples) + 0.5) * (extent / samples)
        return float(np.quantile(self.sample(pts, pts), q))


def make_field(
    rng: np.random.Generator,
    extent: int,
    cells: Sequence[float],
    amplitudes: Sequence[float],
    margin: float = 0.0,
) -> Field:
    """Draw a field covering ``[-margin, extent + margin]`` pixels in both axes.

    Parameters
    ----------
    rng
        Source of randomness (the only one: the field is deterministic given its state).
    extent
        Side of the area in 10 m pixels.
    cells
        Lattice spacing of each octave, in 10 m pixels (larger = smoother).
    amplitudes
        Weight of each octave.
    margin
        Extra pixels on each side (for shifted look-ups such as cloud shadows).
    """
    octaves = []
    for cell, amp in zip(cells, amplitudes, strict=True):
        n = int(np.ceil((extent + 2 * margin) / cell)) + 3
        lattice = rng.uniform(-1.0, 1.0, size=(n, n)).astype(np.float32)
        # shift the lattice so that coordinate -margin falls inside it, plus a random phase
        phase = (margin + cell * rng.uniform(0.5, 1.5), margin + cell * rng.uniform(0.5, 1.5))
        octaves.append(Octave(lattice, float(cell), float(amp), (float(phase[0]), float(phase[1]))))
    return Field(tuple(octaves))


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, a C1 ramp in between (float32)."""
    t = np.clip((x - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0).astype(np.float32, copy=False)
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)
