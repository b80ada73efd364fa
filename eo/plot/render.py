"""Arrays to RGBA pixels: stretch, colour map, NaN transparent.  NumPy only; matplotlib optional.

The one place eo turns values into colours: :mod:`eo.plot` draws these images on matplotlib axes
and the run report's quicklooks (:mod:`eo.io.quicklook`) write the same images to PNG, so a
notebook figure and a report image of the same array look the same.

Colours come from matplotlib's colormap of that name when matplotlib is installed; without it,
from a built-in red-yellow-green ramp (ColorBrewer RdYlGn's ends and middle).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eo.errors import InputError

#: Default percentile stretch: the 2nd and 98th percentiles of the finite values map to 0 and 1.
PERCENTILES = (2.0, 98.0)
#: Anchor colours (RGB) of the built-in ramp: ColorBrewer RdYlGn ends and middle.
_RAMP = np.array([[215, 48, 39], [255, 255, 191], [26, 152, 80]], dtype=float)


def colormap_lut(cmap: str = "RdYlGn") -> np.ndarray:
    """Return a ``(256, 4)`` uint8 RGBA lookup table for ``cmap`` (matplotlib's, else the built-in ramp)."""
    try:
        import matplotlib

        colors = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))
        return np.round(colors * 255).astype(np.uint8)
    except ImportError:
        pass
    except KeyError as err:
        raise InputError(
            f"unknown colormap {cmap!r}; pass a matplotlib colormap name such as 'viridis'"
        ) from err
    pos = np.linspace(0.0, 1.0, 256) * (len(_RAMP) - 1)
    rgb = np.stack([np.interp(pos, np.arange(len(_RAMP)), _RAMP[:, c]) for c in range(3)], axis=1)
    return np.concatenate([np.round(rgb), np.full((256, 1), 255.0)], axis=1).astype(np.uint8)


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
    out = colormap_lut(cmap)[np.clip(scaled, 0, 255).astype(np.uint8)]
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
