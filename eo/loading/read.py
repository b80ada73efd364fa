"""Reading assets with rasterio: windowed reads, warps, header probes, retries (the I/O edge).

Every function here runs inside Dask tasks (or, for :func:`probe`, at plan time for items
that lack metadata) and scopes GDAL options with :func:`eo.config.gdal_env`.

Two read paths per (source, chunk):

- **paste** (fast path): the chunk's grid and the file's grid share CRS and pixel size and
  differ by a whole number of pixels -> one windowed ``rasterio`` read, no warp;
- **warp**: anything else -> ``rasterio.warp.reproject`` from the file's band onto the part
  the file covers (odc-geo's ``compute_reproject_roi``) of each 512 x 512 block of a lattice
  anchored at the output grid's origin that meets the chunk; GDAL reads only the source
  blocks under it (plus the resampling kernel's margin).  GDAL's approximate transformer
  (error <= 0.125 source pixel) depends on the warped window; warping fixed blocks makes the
  result independent of the chunking.  Default chunks (multiples of 512) cost no extra work.

The file's own georeferencing is what is read: where the item's ``proj:*`` metadata
disagrees, a :class:`~eo.errors.GeoreferenceMismatchWarning` names the item and the asset.
Transient errors (HTTP/curl-like messages) are retried with back-off; anything else, and
a missing file, raises :class:`~eo.errors.AssetReadError` naming item, asset and href.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import rasterio
import rasterio.errors
import rasterio.warp
from odc.geo.geobox import GeoBox
from odc.geo.overlap import compute_reproject_roi
from odc.geo.roi import roi_is_empty
from rasterio.enums import Resampling
from rasterio.windows import Window

from eo.errors import AssetReadError, GeoreferenceMismatchWarning
from eo.loading.mosaic import valid_mask

T = TypeVar("T")

#: Attempts for a read whose error looks transient (network), and the first back-off (s, doubled each time).
RETRIES = 3
BACKOFF = 0.5
#: Error messages that mean "try again" (HTTP/curl/S3 hiccups).
TRANSIENT = re.compile(
    r"curl|http|timed? ?out|timeout|connection|reset by peer|temporarily|too many requests|"
    r"\b(429|500|502|503|504)\b|SSL|TLS|broken pipe|network|throttl",
    re.IGNORECASE,
)
#: Sub-pixel translation (pixel fraction) below which grids count as aligned for the paste path.
PASTE_TOLERANCE = 1e-3
#: Warps run on blocks of a lattice anchored at the output grid's origin (pixels): a pixel is
#: always warped within the same block, so results do not depend on the chunking even though
#: GDAL's approximate transformer (0.125 px error bound) depends on the warped window.
WARP_BLOCK = 512
#: Pixel fraction by which an item's grid may differ from the file's before a warning.
GEOREF_TOLERANCE = 0.01

#: Resampling names accepted by eo.load.
RESAMPLING: dict[str, Resampling] = {
    r.name: r
    for r in Resampling
    if r.name
    in {
        "nearest",
        "bilinear",
        "cubic",
        "cubic_spline",
        "lanczos",
        "average",
        "mode",
        "max",
        "min",
        "med",
        "q1",
        "q3",
        "sum",
        "rms",
    }
}


@dataclass(frozen=True)
class Source:
    """One band of one item as a chunk task reads it (picklable)."""

    item: str
    """Item id (for messages)."""
    asset: str
    """Asset key (for messages)."""
    href: str
    band_index: int
    geobox: GeoBox | None
    """The grid the item's metadata states (the file wins when they disagree)."""
    nodata: float | None
    """Nodata of the stored values (item, else product default); ``None``: the file's."""


@dataclass(frozen=True)
class Header:
    """What a file header says about one band."""

    geobox: GeoBox
    dtype: str
    nodata: float | None


def is_transient(err: BaseException) -> bool:
    """Whether a rasterio error message suggests a network hiccup worth retrying."""
    return bool(TRANSIENT.search(str(err)))


def with_retries(
    source: Source, action: Callable[[], T], retries: int | None = None, backoff: float | None = None
) -> T:
    """Run ``action``; retry transient rasterio errors, wrap failures in :class:`AssetReadError`.

    ``retries`` / ``backoff`` default to the module's :data:`RETRIES` / :data:`BACKOFF`.
    """
    retries = RETRIES if retries is None else retries
    backoff = BACKOFF if backoff is None else backoff
    attempt = 0
    while True:
        try:
            return action()
        except (rasterio.errors.RasterioError, OSError) as err:
            if attempt < retries and is_transient(err):
                time.sleep(backoff * 2**attempt)
                attempt += 1
                continue
            tried = f" after {attempt + 1} attempts" if attempt else ""
            raise AssetReadError(
                f"cannot read asset {source.asset!r} of item {source.item!r} ({source.href}){tried}: {err}. "
                "Check that the file exists and is readable (credentials, network), or drop the item"
            ) from err


def _file_geobox(rdr: Any, source: Source) -> GeoBox:
    if rdr.crs is None:
        if source.geobox is None:
            raise rasterio.errors.RasterioIOError("the file has no georeferencing and the item states none")
        return source.geobox
    return GeoBox((rdr.height, rdr.width), rdr.transform, rdr.crs)


def same_grid(a: GeoBox, b: GeoBox, tol: float = GEOREF_TOLERANCE) -> bool:
    """Tell whether two grids have the same CRS and shape and transforms equal within ``tol`` pixels."""
    if a.shape != b.shape or a.crs != b.crs:
        return False
    res = max(abs(a.transform.a), abs(a.transform.e))
    return all(abs(x - y) <= tol * res for x, y in zip(a.transform[:6], b.transform[:6], strict=True))


def check_georeference(source: Source, file_geobox: GeoBox) -> None:
    """Warn (:class:`GeoreferenceMismatchWarning`) when the item's grid is not the file's."""
    if source.geobox is None or same_grid(source.geobox, file_geobox):
        return
    said, found = source.geobox, file_geobox
    warnings.warn(
        f"item {source.item!r} asset {source.asset!r}: the item's projection metadata says "
        f"{said.crs} {tuple(said.shape)} {tuple(said.transform[:6])}, the file says "
        f"{found.crs} {tuple(found.shape)} {tuple(found.transform[:6])}; using the file's georeferencing. "
        "Fix the item's proj:* fields (or rebuild the catalogue) to silence this",
        GeoreferenceMismatchWarning,
        stacklevel=2,
    )


def probe(source: Source) -> Header:
    """Read the header of one asset band (metadata only: grid, dtype, nodata)."""

    def action() -> Header:
        with rasterio.open(source.href) as rdr:
            bidx = source.band_index
            nodata = rdr.nodatavals[bidx - 1]
            return Header(
                _file_geobox(rdr, source),
                str(rdr.dtypes[bidx - 1]),
                None if nodata is None else float(nodata),
            )

    from eo.config import gdal_env

    with gdal_env():
        return with_retries(source, action)


def _apply(a: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine ``a`` applied to arrays of points (no operator overloading: works with affine 2 and 3)."""
    return a.a * x + a.b * y + a.c, a.d * x + a.e * y + a.f


def _coverage(src: GeoBox, dst: GeoBox) -> np.ndarray:
    """Pixels of ``dst`` whose centre falls inside ``src`` (what GDAL's warper fills)."""
    rows, cols = dst.shape
    jj, ii = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    xs, ys = _apply(dst.transform, jj.ravel(), ii.ravel())
    if src.crs != dst.crs:
        xs, ys = (np.asarray(v) for v in rasterio.warp.transform(str(dst.crs), str(src.crs), xs, ys))
    px, py = _apply(~src.transform, xs, ys)
    h, w = src.shape
    inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    return np.asarray(inside).reshape(rows, cols)


Piece = tuple[tuple[slice, slice], np.ndarray, np.ndarray]
"""``(roi, data, valid)``: source pixels for ``chunk[roi]`` (source dtype) and where they are valid."""


def read_source(
    source: Source, grid: GeoBox, window: tuple[slice, slice], resampling: Resampling
) -> list[Piece]:
    """Pixels of ``source`` on the chunk ``grid[window]``, as pieces (empty list when disjoint).

    ``valid`` is True inside the file and where the value is not nodata.  Must run under
    :func:`eo.config.gdal_env`.
    """

    def action() -> list[Piece]:
        with rasterio.open(source.href) as rdr:
            return _read_open(rdr, source, grid, window, resampling)

    return with_retries(source, action)


def warp_blocks(window: tuple[slice, slice], shape: tuple[int, int], block: int) -> list[tuple[slice, slice]]:
    """Blocks of the global lattice (``block`` pixels, anchored at the grid origin) meeting ``window``.

    Each block is clipped to the grid ``shape`` only, never to the window, so a pixel is always
    warped as part of the same block whatever the chunking.
    """
    ys, xs = window
    out = []
    for by in range(ys.start // block * block, ys.stop, block):
        for bx in range(xs.start // block * block, xs.stop, block):
            out.append((slice(by, min(by + block, shape[0])), slice(bx, min(bx + block, shape[1]))))
    return out


def _read_open(
    rdr: Any, source: Source, grid: GeoBox, window: tuple[slice, slice], resampling: Resampling
) -> list[Piece]:
    bidx = source.band_index
    file_gbox = _file_geobox(rdr, source)
    check_georeference(source, file_gbox)
    dtype = np.dtype(rdr.dtypes[bidx - 1])
    nodata = source.nodata if source.nodata is not None else rdr.nodatavals[bidx - 1]
    if nodata is not None and not _representable(nodata, dtype):
        nodata = None
    ys, xs = window
    chunk = grid[ys, xs]
    rr = compute_reproject_roi(file_gbox, chunk, ttol=PASTE_TOLERANCE, stol=1e-6)
    if roi_is_empty(rr.roi_dst) or roi_is_empty(rr.roi_src):
        return []
    if rr.paste_ok and rr.read_shrink == 1:
        data = rdr.read(bidx, window=Window.from_slices(*rr.roi_src))
        return [(rr.roi_dst, data, valid_mask(data, nodata))]  # type: ignore[list-item]
    pieces: list[Piece] = []
    for by, bx in warp_blocks(window, (int(grid.shape[0]), int(grid.shape[1])), WARP_BLOCK):
        block = grid[by, bx]
        br = compute_reproject_roi(file_gbox, block, ttol=PASTE_TOLERANCE, stol=1e-6)
        if roi_is_empty(br.roi_dst) or roi_is_empty(br.roi_src):
            continue
        ry, rx = br.roi_dst  # type: ignore[misc]
        # global pixel ranges of the warped part, then their intersection with the chunk
        gy = slice(by.start + ry.start, by.start + ry.stop)
        gx = slice(bx.start + rx.start, bx.start + rx.stop)
        iy = slice(max(gy.start, ys.start), min(gy.stop, ys.stop))
        ix = slice(max(gx.start, xs.start), min(gx.stop, xs.stop))
        if iy.start >= iy.stop or ix.start >= ix.stop:
            continue
        data, valid = _warp(rdr, bidx, file_gbox, grid[gy, gx], dtype, nodata, resampling)
        sel = (slice(iy.start - gy.start, iy.stop - gy.start), slice(ix.start - gx.start, ix.stop - gx.start))
        roi = (slice(iy.start - ys.start, iy.stop - ys.start), slice(ix.start - xs.start, ix.stop - xs.start))
        pieces.append((roi, data[sel], valid[sel]))
    return pieces


def _warp(
    rdr: Any,
    bidx: int,
    file_gbox: GeoBox,
    dst: GeoBox,
    dtype: np.dtype,
    nodata: float | None,
    resampling: Resampling,
) -> tuple[np.ndarray, np.ndarray]:
    """GDAL warp of one band onto ``dst`` (GDAL reads only the source blocks it needs)."""
    data = np.full(dst.shape, 0 if nodata is None else nodata, dtype=dtype)
    rasterio.warp.reproject(
        rasterio.band(rdr, bidx),
        data,
        src_nodata=nodata,
        dst_nodata=nodata,
        dst_transform=dst.transform,
        dst_crs=str(dst.crs),
        resampling=resampling,
    )
    valid = valid_mask(data, nodata) if nodata is not None else _coverage(file_gbox, dst)
    return data, valid


def _representable(value: float, dtype: np.dtype) -> bool:
    if dtype.kind == "f":
        return True
    info = np.iinfo(dtype)
    return float(value).is_integer() and info.min <= value <= info.max
