"""Pure decisions of a load: chunking, dtype, nodata, resampling, which sources feed which chunk.

Nothing here reads files, nor imports an I/O library.  Header facts the items do not state come in
as :class:`~eo.loading.types.Header` records read beforehand (see :mod:`eo.loading.loader`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from odc.geo.geobox import GeoBox

from eo.catalog.projection import footprint_agrees
from eo.catalog.records import AssetRecord, ParsedItem
from eo.errors import (
    GeoreferenceMismatchWarning,
    InputError,
    MetadataWarning,
    UnknownMethodError,
)
from eo.loading.types import RESAMPLING_NAMES, Header, Source
from eo.sensors.model import Band, Product

#: Default chunk sizes: one time slice, at most 2048 x 2048 pixels (8 MiB of uint16; a multiple of
#: 512 and 1024, the usual COG tile sizes, so chunk edges fall on tile edges of aligned sources).
DEFAULT_CHUNKS: dict[str, int] = {"time": 1, "y": 2048, "x": 2048}
#: Bytes a float32 stack of all time slices of one default spatial chunk may take: the working set
#: of a temporal composite (``eo.composite`` reduces all dates of a spatial chunk in one task).
#: Default spatial chunks shrink in steps of :data:`CHUNK_STEP` with the number of time slices so
#: that peak memory follows this budget, not the number of dates.
STACK_BUDGET = 128 * 2**20
#: Granularity and lower bound of default spatial chunks (pixels; a COG tile size).
CHUNK_STEP = 512
#: Time slices per default chunk once the spatial side is at its floor (more than 32 slices): a long
#: time series in one-slice chunks makes a graph of n_time x chunks tasks (500 dates of a 5490^2 tile:
#: 787,000 tasks and 17 s to build the NDVI-median graph; 16 slices: 51,000 tasks, 3.3 s).  A
#: temporal composite holds every slice of a spatial chunk whatever the time chunks, so its memory
#: does not change; a read task reads its 16 slices (remote ones side by side, eo.loading.io).
LONG_SERIES_TIME_CHUNK = 16
#: Output pixels added around a source's footprint when deciding which chunks it touches
#: (resampling kernels reach past the footprint).
FOOTPRINT_PAD = 2


@dataclass(frozen=True)
class BandPlan:
    """How one output variable is loaded."""

    var: str
    band: Band
    dtype: np.dtype
    nodata: float | None
    """Output nodata (attr); ``None`` when unknown (attr absent, fill 0)."""
    fill: float
    """Value of output pixels no source covers."""
    resampling: str
    sources: tuple[tuple[Source, ...], ...]
    """Per time slice, the sources in mosaic order."""


def default_side(n_time: int) -> int:
    """Default spatial chunk side (pixels) for ``n_time`` time slices.

    The largest multiple of :data:`CHUNK_STEP`, at most ``DEFAULT_CHUNKS["y"]`` and at least
    ``CHUNK_STEP``, whose float32 stack of ``n_time`` slices fits :data:`STACK_BUDGET`: 2048 up
    to 8 slices, 1536 up to 14, 1024 up to 32, then 512.
    """
    side = DEFAULT_CHUNKS["y"]
    while side > CHUNK_STEP and max(n_time, 1) * side * side * 4 > STACK_BUDGET:
        side -= CHUNK_STEP
    return side


def normalise_chunks(chunks: Any, n_time: int, shape: tuple[int, int]) -> tuple[int, int, int]:
    """``(time, y, x)`` chunk sizes from ``None`` (defaults), an int (y and x), ``-1`` or a dict.

    ``None``: one time slice and :func:`default_side` pixels (fewer with many time slices); beyond
    32 slices, :data:`LONG_SERIES_TIME_CHUNK` slices per chunk.

    ``-1`` (alone or as a dict value) means the whole extent of that dimension.
    """
    full = {"time": max(n_time, 1), "y": shape[0], "x": shape[1]}
    if chunks is None:
        side = default_side(n_time)
        t = DEFAULT_CHUNKS["time"] if side > CHUNK_STEP or n_time <= 32 else LONG_SERIES_TIME_CHUNK
        spec: dict[str, Any] = {"time": t, "y": side, "x": side}
    elif isinstance(chunks, bool):
        raise InputError(f"chunks={chunks!r}: expected None, an int, -1 or a dict like {DEFAULT_CHUNKS}")
    elif isinstance(chunks, int):
        spec = dict(full) if chunks == -1 else {"time": 1, "y": chunks, "x": chunks}
    elif isinstance(chunks, Mapping):
        unknown = set(chunks) - set(full)
        if unknown:
            raise InputError(f"chunks has unknown dimensions {sorted(unknown)}; use 'time', 'y', 'x'")
        spec = {**DEFAULT_CHUNKS, **chunks}
    else:
        raise InputError(f"chunks={chunks!r}: expected None, an int, -1 or a dict like {DEFAULT_CHUNKS}")
    out = []
    for dim in ("time", "y", "x"):
        value = spec[dim]
        if value is None or value == -1:
            value = full[dim]
        if not isinstance(value, int | np.integer) or value <= 0:
            raise InputError(f"chunks[{dim!r}]={value!r}: expected a positive int or -1")
        out.append(min(int(value), full[dim]))
    return out[0], out[1], out[2]


def resampling_for(band: Band, var: str, resampling: str | Mapping[str, str]) -> str:
    """Resampling of one variable: nearest for qa/class bands always, else the user's choice."""
    name = resampling.get(var, "nearest") if isinstance(resampling, Mapping) else resampling
    if name not in RESAMPLING_NAMES:
        raise UnknownMethodError(f"resampling {name!r} is not known; use one of {sorted(RESAMPLING_NAMES)}")
    return name if band.kind == "measurement" else "nearest"


def source_of(item: ParsedItem, rec: AssetRecord, product: Product, header: Header | None) -> Source:
    """Build the :class:`Source` of one asset: nodata from the item, else the product default.

    The grid is the file's when its header was read (no grid stated, or one the footprint
    contradicts), else the item's.
    """
    nodata = rec.nodata if rec.nodata is not None else product.nodata
    geobox = header.geobox if header is not None else rec.geobox
    return Source(item.id, rec.key, rec.href, rec.band_index, geobox, nodata)


def georeference_checks(
    records: Sequence[tuple[ParsedItem, AssetRecord]],
) -> list[tuple[ParsedItem, AssetRecord]]:
    """The records whose grid must come from the file: none stated, or one the footprint contradicts.

    Pure and cheap: one footprint projection per item and distinct grid
    (:func:`eo.catalog.projection.footprint_agrees`).
    """
    out = []
    agrees: dict[tuple[str, GeoBox], bool] = {}
    for item, rec in records:
        if rec.geobox is None:
            out.append((item, rec))
            continue
        key = (item.id, rec.geobox)
        if key not in agrees:
            agrees[key] = footprint_agrees(item.geometry, rec.geobox)
        if not agrees[key]:
            out.append((item, rec))
    return out


def crs_text(crs: Any) -> str:
    """``EPSG:32655`` when the CRS has an EPSG code, else its WKT (for messages)."""
    epsg = getattr(crs, "epsg", None)
    return f"EPSG:{epsg}" if epsg else str(crs)


def warn_contradicted_grid(item: str, asset: str, said: GeoBox, found: GeoBox) -> None:
    """Warn that an item's ``proj:`` grid contradicts its footprint and the file's grid is used."""
    warnings.warn(
        f"item {item!r} asset {asset!r}: the item's projection metadata says {crs_text(said.crs)} "
        f"{tuple(said.shape)} {tuple(said.transform[:6])}, which its footprint (geometry) does not fall in; "
        f"the file says {crs_text(found.crs)} {tuple(found.shape)} {tuple(found.transform[:6])}: planning "
        "with the file's georeferencing. Fix the item's proj:* fields to silence this",
        GeoreferenceMismatchWarning,
        stacklevel=4,
    )


def decide_dtype(records: Sequence[AssetRecord], header: Header | None) -> np.dtype:
    """Output dtype: the (common) dtype the items state, else the file header's."""
    stated = [np.dtype(r.dtype) for r in records if r.dtype]
    if stated:
        return np.result_type(*stated)
    if header is None:
        raise AssertionError("a header must be probed when no item states the dtype")
    return np.dtype(header.dtype)


def decide_nodata(
    var: str, records: Sequence[AssetRecord], product: Product, header: Header | None, dtype: np.dtype
) -> tuple[float | None, float]:
    """``(nodata attr, fill)``: raster:bands, else the product default, else the file's nodata.

    When none is known the attr is ``None`` (absent), the fill is 0 and a
    :class:`MetadataWarning` says so.
    """
    nodata = next((r.nodata for r in records if r.nodata is not None), None)
    if nodata is None:
        nodata = product.nodata
    if nodata is None and header is not None:
        nodata = header.nodata
    if (
        nodata is not None
        and dtype.kind in "iu"
        and not (float(nodata).is_integer() and _in_range(nodata, dtype))
    ):
        warnings.warn(
            f"band {var!r}: nodata {nodata!r} cannot be stored as {dtype}; treating nodata as unknown",
            MetadataWarning,
            stacklevel=3,
        )
        nodata = None
    if nodata is None:
        warnings.warn(
            f"band {var!r}: no nodata value is known (no raster:bands nodata, no product default, "
            "none in the "
            "file); pixels outside every scene are 0 and the 'nodata' attr is absent",
            MetadataWarning,
            stacklevel=3,
        )
        return None, 0
    return float(nodata), float(nodata)


def _in_range(value: float, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return bool(info.min <= value <= info.max)


def chunk_ranges(size: int, chunk: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of consecutive chunks along one dimension."""
    return [(s, min(s + chunk, size)) for s in range(0, size, chunk)]


def touched_chunks(source: GeoBox, out: GeoBox, chunks: tuple[int, int]) -> tuple[range, range]:
    """Chunk rows and columns of ``out`` that ``source``'s footprint (padded) can reach."""
    poly = source.extent if source.crs == out.crs else source.footprint(str(out.crs), npoints=32)
    if poly.is_empty:
        return range(0), range(0)
    x0, y0, x1, y1 = out.project(poly).boundingbox.bbox
    rows, cols = out.shape
    r0 = max(math.floor(min(y0, y1)) - FOOTPRINT_PAD, 0)
    r1 = min(math.ceil(max(y0, y1)) + FOOTPRINT_PAD, rows)
    c0 = max(math.floor(x0) - FOOTPRINT_PAD, 0)
    c1 = min(math.ceil(x1) + FOOTPRINT_PAD, cols)
    if r0 >= r1 or c0 >= c1:
        return range(0), range(0)
    cy, cx = chunks
    return range(r0 // cy, (r1 - 1) // cy + 1), range(c0 // cx, (c1 - 1) // cx + 1)


def chunk_sources(
    sources: Sequence[tuple[Source, ...]], out: GeoBox, chunks: tuple[int, int]
) -> dict[tuple[int, int, int], tuple[Source, ...]]:
    """``(slice, chunk row, chunk col) -> sources`` in mosaic order; chunks no source reaches are absent."""
    found: dict[tuple[int, int, int], list[Source]] = {}
    reach: dict[GeoBox, tuple[range, range]] = {}
    for t, group in enumerate(sources):
        for src in group:
            assert src.geobox is not None
            if src.geobox not in reach:
                reach[src.geobox] = touched_chunks(src.geobox, out, chunks)
            rows, cols = reach[src.geobox]
            for iy in rows:
                for ix in cols:
                    found.setdefault((t, iy, ix), []).append(src)
    return {k: tuple(v) for k, v in found.items()}
