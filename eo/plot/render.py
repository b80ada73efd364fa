"""Arrays to RGBA pixels: stretch, colour map, NaN transparent.  NumPy only; matplotlib optional.

The one place eo turns values into colours: :mod:`eo.plot` draws these images on matplotlib axes
and the run report's quicklooks (:mod:`eo.io.quicklook`) write the same images to PNG, so a
notebook figure and a report image of the same array look the same.

Colours come from :func:`eo.io.style.colormap_lut` (rio-tiler's colour maps, matplotlib's names), the
table ``eo view``'s map tiles and the run report use too: a figure, a report image and a map tile of
the same values have the same colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eo.errors import InputError

#: Default percentile stretch: the 2nd and 98th percentiles of the finite values map to 0 and 1.
PERCENTILES = (2.0, 98.0)


def colormap_lut(cmap: str = "RdYlGn") -> np.ndarray:
    """A ``(256, 4)`` uint8 RGBA lookup table of ``cmap`` (matplotlib's names, any case).

    The table :mod:`eo.io.style` gives map tiles and report images (rio-tiler's colour maps), so a
    figure, a report image and a map tile look the same.
    """
    from eo.io.style import colormap_lut as table

    return table(cmap)


def matplotlib_cmap(cmap: str) -> Any:
    """The same colours as a matplotlib colormap (for colour bars drawn next to :func:`colorize`'s images)."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormap_lut(cmap) / 255.0, name=cmap)


def limits(
    values: np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    *,
    center: float | None = None,
    percentiles: Sequence[float] = PERCENTILES,
) -> tuple[float, float]:
    """Display range ``(lo, hi)``: given limits, else percentiles of the finite values.

    With ``center``, the range is symmetric about it (``center -/+`` the larger distance to
    either percentile), so ``center`` sits in the middle of a diverging colormap.  An all-NaN
    or constant array gives a range one unit wide.
    """
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite, list(percentiles)) if finite.size else (0.0, 1.0)
    if center is not None:
        half = max(abs(float(hi) - center), abs(float(lo) - center)) or 1.0
        lo, hi = center - half, center + half
    lo = float(lo if vmin is None else vmin)
    hi = float(hi if vmax is None else vmax)
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    return lo, hi


def colorize(values: np.ndarray, lo: float, hi: float, cmap: str = "viridis") -> np.ndarray:
    """Colour-map a 2-D array to ``(y, x, 4)`` uint8 RGBA between ``lo`` and ``hi``; NaN -> alpha 0."""
    if values.ndim != 2:
        raise InputError(f"expected a 2-D array to colour, got shape {values.shape}")
    finite = np.isfinite(values)
    scaled = np.nan_to_num((values.astype(np.float64) - lo) * (255.0 / (hi - lo)), nan=0.0)
    out = colormap_lut(cmap)[np.clip(np.round(scaled), 0, 255).astype(np.uint8)]  # as map tiles round
    out[..., 3] = np.where(finite, out[..., 3], 0)
    return out


def stretch_rgb(
    bands: np.ndarray,
    ranges: Sequence[tuple[float, float]] | None = None,
    *,
    percentiles: Sequence[float] = PERCENTILES,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """``(3, y, x)`` values -> ``(y, x, 4)`` uint8 RGBA, each band stretched linearly to 0..255.

    ``ranges`` gives ``(lo, hi)`` per band; default: each band's own percentiles (2, 98).  A pixel
    NaN in any band is transparent.  Returns the image and the ranges used.
    """
    if bands.ndim != 3 or bands.shape[0] != 3:
        raise InputError(f"expected (3, y, x) red/green/blue values, got shape {bands.shape}")
    used = list(ranges) if ranges is not None else [limits(b, percentiles=percentiles) for b in bands]
    out = np.zeros((*bands.shape[1:], 4), dtype=np.uint8)
    for k, (b, (lo, hi)) in enumerate(zip(bands, used)):
        out[..., k] = np.clip(np.nan_to_num((b - lo) * (255.0 / (hi - lo)), nan=0.0), 0, 255).astype(np.uint8)
    out[..., 3] = np.where(np.isfinite(bands).all(axis=0), 255, 0)
    return out, used
