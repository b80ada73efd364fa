"""Reading assets with rasterio: windowed reads, warps, header probes, retries (the I/O edge).

Every function here runs inside Dask tasks (or, for :func:`probe`, at plan time for items
that lack metadata) and scopes GDAL options with :func:`eo.config.gdal_env`.  Chunk reads
reuse the thread's open datasets (:mod:`eo.loading.handles`).

Three read paths per (source, chunk):

- **paste** (fast path): the chunk's grid and the file's grid share CRS and pixel size and
  differ by a whole number of pixels -> one windowed ``rasterio`` read, no warp;
- **replicate** (fast path, nearest resampling only): the file's pixels are a whole multiple
  ``k`` of the output's (a 20 m band on a 10 m grid) with axis-aligned, whole-output-pixel
  offsets -> one windowed read of the file's pixels, each repeated ``k x k`` times.  This is
  exactly what a nearest-neighbour warp gives (output pixel centres fall at ``(j + 0.5) / k``
  source pixels, never on a source pixel edge), without GDAL's warper;
- **warp**: anything else -> ``rasterio.warp.reproject`` from the file's band onto each
  512 x 512 block of a lattice anchored at the output grid's origin that meets the chunk and
  the file (odc-geo's ``compute_reproject_roi`` tells which do); GDAL reads only the source
  blocks under it (plus the resampling kernel's margin).  GDAL's approximate transformer
  (error <= 0.125 source pixel) depends on the warped window; warping whole fixed blocks (not
  only the part the file covers) makes the result independent of the chunking and of the
  file's footprint, and equal to a warp of the whole file onto grids up to one block.
  Default chunks (multiples of 512) cost no extra work.

The file's own georeferencing is what is read: where the item's ``proj:*`` metadata
disagrees, a :class:`~eo.errors.GeoreferenceMismatchWarning` names the item and the asset.
Transient errors (HTTP/curl-like messages) are retried with back-off; anything else, and
a missing file, raises :class:`~eo.errors.AssetReadError` naming item, asset and href.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import rasterio
import rasterio.errors
import rasterio.warp
from numba import njit
from odc.geo.geobox import GeoBox
from odc.geo.overlap import compute_reproject_roi
from odc.geo.roi import roi_is_empty
from rasterio.enums import Resampling
from rasterio.windows import Window

from eo.errors import AssetReadError, GeoreferenceMismatchWarning
from eo.loading.handles import with_dataset
from eo.loading.mosaic import valid_mask
from eo.loading.types import RESAMPLING_NAMES, FileHeader, Source
from eo.retry import RetryPolicy, call_with_retries

T = TypeVar("T")

#: Sub-pixel translation (pixel fraction) below which grids count as aligned for the paste path.
PASTE_TOLERANCE = 1e-3
#: Relative pixel-size tolerance for the paste/replicate paths (as odc-geo's ``stol``).
SCALE_TOLERANCE = 1e-6
#: Whether the paste/replicate fast paths may be taken (tests switch it off to compare with the warp).
FAST_PATHS = True
#: Warps run on blocks of a lattice anchored at the output grid's origin (pixels): a pixel is
#: always warped within the same block, so results do not depend on the chunking even though
#: GDAL's approximate transformer (0.125 px error bound) depends on the warped window.
WARP_BLOCK = 512
#: Pixel fraction by which an item's grid may differ from the file's before a warning.
GEOREF_TOLERANCE = 0.01

#: Resampling names accepted by eo.load -> rasterio's enums.
RESAMPLING: dict[str, Resampling] = {r.name: r for r in Resampling if r.name in RESAMPLING_NAMES}


def with_retries(source: Source, action: Callable[[], T], policy: RetryPolicy | None = None) -> T:
    """Run ``action``; retry transient errors under ``policy``; failures raise :class:`AssetReadError`.

    ``policy`` defaults to the ``retry`` setting (:mod:`eo.config`).
    """
    if policy is None:
        from eo import config

        policy = config.get("retry")

    def give_up(err: BaseException, attempts: int) -> AssetReadError:
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        return AssetReadError(
            f"cannot read asset {source.asset!r} of item {source.item!r} ({source.href}){tried}: {err}. "
            "Check that the file exists and is readable (credentials, network), or drop the item"
        )

    return call_with_retries(action, policy, (rasterio.errors.RasterioError, OSError), give_up)


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


def probe(source: Source) -> FileHeader:
    """Read the header of an asset's file (metadata only: grid, dtypes, nodata), with eo's settings."""

    def action() -> FileHeader:
        with rasterio.open(source.href) as rdr:
            return FileHeader(
                _file_geobox(rdr, source),
                tuple(str(d) for d in rdr.dtypes),
                tuple(None if v is None else float(v) for v in rdr.nodatavals),
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
    source: Source,
    grid: GeoBox,
    window: tuple[slice, slice],
    resampling: Resampling,
    into: np.ndarray | None = None,
    fill: float | None = None,
    policy: RetryPolicy | None = None,
) -> list[Piece] | None:
    """Pixels of ``source`` on the chunk ``grid[window]``, as pieces (empty list when disjoint).

    ``valid`` is True inside the file and where the value is not nodata.  Must run under
    :func:`eo.config.gdal_env`; transient errors are retried under ``policy`` (default: the
    ``retry`` setting).

    When ``into`` (the chunk's output slice, shape of ``window``, holding ``fill`` everywhere)
    is given, a source on a fast path whose nodata is ``fill`` (or who has none) and whose
    dtype is ``into``'s is written straight into it and ``None`` is returned: the same values
    as pasting the pieces first-valid onto a ``fill``-ed slice, without the copies and masks.
    """
    from eo.config import REMOTE_OPEN_OPTIONS
    from eo.loading.io import is_remote

    options = REMOTE_OPEN_OPTIONS if is_remote(source.href) else {}

    def action() -> list[Piece] | None:
        return with_dataset(
            source.href, lambda rdr: _read_open(rdr, source, grid, window, resampling, into, fill), **options
        )

    return with_retries(source, action, policy)


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


@dataclass(frozen=True)
class Aligned:
    """How a file's grid sits on a chunk's grid when no warp is needed (pixel units of the chunk)."""

    ky: int
    """File pixel height in chunk pixels (1: paste, > 1: replicate)."""
    kx: int
    oy: int
    """Row of the file's origin in the chunk's pixel grid (may be negative)."""
    ox: int


def _whole(value: float, tol: float) -> int | None:
    r = round(value)
    return int(r) if abs(value - r) <= tol else None


def aligned(file_gbox: GeoBox, chunk: GeoBox) -> Aligned | None:
    """The whole-pixel relation of ``file_gbox`` to ``chunk`` when reading needs no warp, else None.

    Same CRS, axis-aligned transforms, file pixels a whole multiple (>= 1) of the chunk's along
    each axis (same orientation), and the file's origin on a chunk pixel corner (within
    :data:`PASTE_TOLERANCE` chunk pixels).
    """
    f, c = file_gbox.transform, chunk.transform
    if f.b != 0 or f.d != 0 or c.b != 0 or c.d != 0 or c.a == 0 or c.e == 0:
        return None
    kx, ky = (
        _whole(f.a / c.a, SCALE_TOLERANCE * abs(f.a / c.a)),
        _whole(f.e / c.e, SCALE_TOLERANCE * abs(f.e / c.e)),
    )
    if not kx or not ky or kx < 1 or ky < 1:
        return None
    ox, oy = _whole((f.c - c.c) / c.a, PASTE_TOLERANCE), _whole((f.f - c.f) / c.e, PASTE_TOLERANCE)
    if ox is None or oy is None or file_gbox.crs != chunk.crs:
        return None
    return Aligned(ky, kx, oy, ox)


def _span(origin: int, k: int, n_file: int, n_chunk: int) -> tuple[int, int, int, int] | None:
    """Chunk pixels ``[i0, i1)`` covered by the file and the file pixels ``[r0, r1)`` under them."""
    i0, i1 = max(0, origin), min(n_chunk, origin + k * n_file)
    if i0 >= i1:
        return None
    return i0, i1, (i0 - origin) // k, (i1 - 1 - origin) // k + 1


@njit(nogil=True, cache=True)
def _replicate_into(
    src: np.ndarray, ky: int, kx: int, sy: int, sx: int, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """``out[i, j] = src[(i + sy) // ky, (j + sx) // kx]``: one pass, written straight into ``out``.

    No division per pixel: the source column of every output column is computed once, and an
    output row whose source row is the previous one's is a copy of that row.
    """
    h, w = out.shape
    cols = np.empty(w, dtype=np.int64)
    for j in range(w):
        cols[j] = (j + sx) // kx
    prev = -1
    for i in range(h):
        si = (i + sy) // ky
        if si == prev:
            out[i, :] = out[i - 1, :]
        else:
            row = src[si]
            for j in range(w):
                out[i, j] = row[cols[j]]
        prev = si


def _read_aligned(
    rdr: Any,
    bidx: int,
    file_gbox: GeoBox,
    al: Aligned,
    chunk_shape: tuple[int, int],
    nodata: float | None,
    into: np.ndarray | None,
) -> list[Piece] | None:
    """Windowed read (and ``k x k`` replication) for an :func:`aligned` grid; see :func:`read_source`."""
    ys = _span(al.oy, al.ky, int(file_gbox.shape[0]), chunk_shape[0])
    xs = _span(al.ox, al.kx, int(file_gbox.shape[1]), chunk_shape[1])
    if ys is None or xs is None:
        return []
    (i0, i1, r0, r1), (j0, j1, c0, c1) = ys, xs
    roi = (slice(i0, i1), slice(j0, j1))
    win = Window(c0, r0, c1 - c0, r1 - r0)
    if al.ky == 1 and al.kx == 1:
        if into is not None:
            rdr.read(bidx, window=win, out=into[roi])
            return None
        data = rdr.read(bidx, window=win)
    else:
        sy, sx = i0 - (al.oy + r0 * al.ky), j0 - (al.ox + c0 * al.kx)
        src = rdr.read(bidx, window=win)
        target = into[roi] if into is not None else np.empty((i1 - i0, j1 - j0), dtype=src.dtype)
        _replicate_into(src, al.ky, al.kx, sy, sx, target)
        if into is not None:
            return None
        data = target
    return [(roi, data, valid_mask(data, nodata))]


def _read_open(
    rdr: Any,
    source: Source,
    grid: GeoBox,
    window: tuple[slice, slice],
    resampling: Resampling,
    into: np.ndarray | None = None,
    fill: float | None = None,
) -> list[Piece] | None:
    bidx = source.band_index
    file_gbox = _file_geobox(rdr, source)
    check_georeference(source, file_gbox)
    dtype = np.dtype(rdr.dtypes[bidx - 1])
    nodata = source.nodata if source.nodata is not None else rdr.nodatavals[bidx - 1]
    if nodata is not None and not _representable(nodata, dtype):
        nodata = None
    ys, xs = window
    chunk = grid[ys, xs]
    al = aligned(file_gbox, chunk) if FAST_PATHS else None
    if al is not None and (al.ky == al.kx == 1 or resampling == Resampling.nearest):
        direct = (
            into is not None
            and into.dtype == dtype
            and (nodata is None or (fill is not None and float(nodata) == float(fill)))
        )
        return _read_aligned(
            rdr,
            bidx,
            file_gbox,
            al,
            (ys.stop - ys.start, xs.stop - xs.start),
            nodata,
            into if direct else None,
        )
    rr = compute_reproject_roi(file_gbox, chunk, ttol=PASTE_TOLERANCE, stol=1e-6)
    if roi_is_empty(rr.roi_dst) or roi_is_empty(rr.roi_src):
        return []
    if FAST_PATHS and rr.paste_ok and rr.read_shrink == 1:
        data = rdr.read(bidx, window=Window.from_slices(*rr.roi_src))
        return [(rr.roi_dst, data, valid_mask(data, nodata))]  # type: ignore[list-item]
    pieces: list[Piece] = []
    for by, bx in warp_blocks(window, (int(grid.shape[0]), int(grid.shape[1])), WARP_BLOCK):
        block = grid[by, bx]
        br = compute_reproject_roi(file_gbox, block, ttol=PASTE_TOLERANCE, stol=1e-6)
        if roi_is_empty(br.roi_dst) or roi_is_empty(br.roi_src):
            continue
        # the whole lattice block is warped (not only the part the file covers): GDAL's approximate
        # transformer then sees the same window whatever the file's footprint and the chunking
        gy, gx = by, bx
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
