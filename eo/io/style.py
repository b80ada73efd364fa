"""How a variable is coloured: colour map and stretch, one per variable, shared by every picture of it.

The quicklooks and overview images of a run's report and the map tiles of ``eo view`` colour a
variable the same way, so an ocean tile at NDVI -0.4 never looks as green as a field at 0.7.
A :class:`Style` is decided once per variable from a cheap sample of all its files (each COG
read decimated, from its overviews: :func:`sample_files`) by the first matching rule of
:data:`RULES` (a registry; prepend your own ``(predicate, maker)`` pair to change it):

``count``
    sequential ``viridis`` from 0 to the largest count (observations per pixel).
spectral indices (any name in the Awesome Spectral Indices catalogue)
    diverging ``rdylgn`` centred on 0, symmetric limits: the larger of the 2nd/98th percentiles'
    magnitudes, rounded up to a round number (NDVI of a scene with water and fields: -0.75..0.75).
anything else
    sequential ``viridis`` (``greys_r``-like ``gray`` for reflectance bands) over the 2nd-98th
    percentiles.

RGB composites take the 2nd-98th percentiles of each band (:func:`rgb_ranges`).
Colour maps are rio-tiler's (the matplotlib maps plus a few more), by lower-case name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eo.errors import InputError

#: Percentiles of the valid values that bound a sequential stretch.
PERCENTILES = (2.0, 98.0)

#: Common band names coloured as grey levels.
BAND_NAMES = frozenset(
    {"coastal", "blue", "green", "red", "yellow", "rededge", "rededge1", "rededge2", "rededge3", "nir"}
    | {"nir08", "nir09", "cirrus", "swir16", "swir22", "pan", "lwir", "lwir11", "lwir12"}
)


@dataclass(frozen=True)
class Style:
    """Colour map and stretch of one variable.

    ``vmin``/``vmax`` are in the variable's physical units (``units``); values outside are clipped
    to the end colours, nodata is transparent.  ``kind`` is ``"diverging"`` (centred on 0),
    ``"sequential"`` or ``"count"``.
    """

    variable: str
    cmap: str
    vmin: float
    vmax: float
    units: str = ""
    kind: str = "sequential"
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``report.json`` and ``eo view`` carry)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Style:
        """Inverse of :meth:`to_dict` (unknown keys ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


def colormap_lut(cmap: str = "rdylgn") -> np.ndarray:
    """Return a ``(256, 4)`` uint8 RGBA lookup table of the colour map ``cmap`` (rio-tiler's maps)."""
    from rio_tiler.colormap import cmap as registry

    try:
        table = registry.get(cmap.lower())
    except Exception as err:  # rio-tiler raises its own InvalidColorMapName
        raise InputError(
            f"unknown colormap {cmap!r}; use a rio-tiler/matplotlib colormap name such as 'viridis'"
        ) from err
    return np.array([table[i] for i in range(256)], dtype=np.uint8)


def colour_stops(cmap: str, n: int = 11) -> list[str]:
    """``n`` evenly spaced CSS colours (``#rrggbb``) of ``cmap``, for colour bars."""
    lut = colormap_lut(cmap)
    return ["#{:02x}{:02x}{:02x}".format(*lut[round(i * 255 / (n - 1)), :3]) for i in range(n)]


def nice_ceil(x: float) -> float:
    """``x`` rounded up to a multiple of half its power of ten (0.73 -> 0.75, 0.4 -> 0.4, 3.2 -> 3.5)."""
    if not math.isfinite(x) or x <= 0:
        return 1.0
    p = 10.0 ** math.floor(math.log10(x))
    step = p / 2
    return round(math.ceil(x / step - 1e-9) * step, 12)


@dataclass
class Sample:
    """Valid values of a variable pooled from its files (decimated), with the file's units."""

    values: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    units: str = ""


def _read_decimated(path: Path, max_size: int, band: int = 1) -> tuple[np.ndarray, str]:
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(path) as src:
        f = max(1, math.ceil(max(src.width, src.height) / max_size))
        shape = (max(1, src.height // f), max(1, src.width // f))
        data = src.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)
        units = (src.units[band - 1] or "") if src.units else ""
    values = np.ma.filled(data.astype(np.float32), np.nan)
    return values[np.isfinite(values)], units


def sample_files(
    paths: Sequence[str | os.PathLike[str]], *, budget: int = 4_000_000, band: int = 1
) -> Sample:
    """Pool the valid values of ``paths`` read decimated from their overviews; reads, never whole files.

    Each file contributes at most about ``budget / len(paths)`` pixels (at least 16 x 16), so
    memory stays bounded whatever the number of files.  Unreadable files are skipped.
    """
    if not paths:
        return Sample()
    side = int(max(16, min(512, math.sqrt(budget / len(paths)))))
    chunks, units = [], ""
    for p in paths:
        try:
            values, u = _read_decimated(Path(p), side, band)
        except Exception:  # a damaged or missing file must not stop the report or the map
            continue
        chunks.append(values)
        units = units or u
    return Sample(np.concatenate(chunks) if chunks else np.empty(0, np.float32), units)


def _is_count(name: str, sample: Sample) -> bool:
    return name.lower() == "count"


def _is_index(name: str, sample: Sample) -> bool:
    from eo.spectral.catalogue import catalogue

    return name in catalogue() or name.upper() in catalogue()


def _is_band(name: str, sample: Sample) -> bool:
    return name.lower() in BAND_NAMES


def _always(name: str, sample: Sample) -> bool:
    return True


def _percentiles(sample: Sample) -> tuple[float, float]:
    if sample.values.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(sample.values, PERCENTILES))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _count_style(name: str, sample: Sample) -> Style:
    top = float(sample.values.max()) if sample.values.size else 1.0
    return Style(
        name, "viridis", 0.0, max(1.0, math.ceil(top)), "observations", "count", "valid observations"
    )


def _index_style(name: str, sample: Sample) -> Style:
    lo, hi = _percentiles(sample)
    lim = nice_ceil(max(abs(lo), abs(hi)))
    units = sample.units if sample.units not in ("", "1") else "1"
    return Style(name, "rdylgn", -lim, lim, units, "diverging", name)


def _band_style(name: str, sample: Sample) -> Style:
    lo, hi = _percentiles(sample)
    return Style(name, "gray", lo, hi, sample.units, "sequential", name)


def _default_style(name: str, sample: Sample) -> Style:
    lo, hi = _percentiles(sample)
    return Style(name, "viridis", lo, hi, sample.units, "sequential", name)


#: Rules deciding a variable's style, first match wins: ``(predicate(name, sample), maker(name, sample))``.
RULES: list[tuple[Callable[[str, Sample], bool], Callable[[str, Sample], Style]]] = [
    (_is_count, _count_style),
    (_is_index, _index_style),
    (_is_band, _band_style),
    (_always, _default_style),
]


def decide(name: str, sample: Sample) -> Style:
    """The style of variable ``name`` from a sample of its values (the first matching rule of RULES)."""
    for matches, make in RULES:
        if matches(name, sample):
            return make(name, sample)
    return _default_style(name, sample)  # pragma: no cover - RULES ends with a catch-all


def style_for_files(name: str, paths: Sequence[str | os.PathLike[str]]) -> Style:
    """One style for variable ``name`` shared by all ``paths`` (its COGs over every tile and period)."""
    return decide(name, sample_files(paths))


def rgb_ranges(bands: Iterable[Sequence[str | os.PathLike[str]]]) -> list[tuple[float, float]]:
    """Per-band 2nd-98th percentile ranges of an RGB composite (one list of files per band)."""
    return [_percentiles(sample_files(paths)) for paths in bands]
