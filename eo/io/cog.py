"""``eo.write_cog``: stream a (lazy) DataArray into a validated Cloud-Optimised GeoTIFF, atomically.

How it works (memory bounded by a few chunks, never the image):

1. The Dask array is computed chunk by chunk, each chunk exactly once, into an uncompressed tiled
   GTiff (a temp file next to the target) with windowed writes; chunks need not align with tiles
   (GDAL completes partial tiles; measured no slower than rechunking to aligned chunks, and a
   rechunk would make the streaming strategy recompute inputs shared by two write blocks).
   Two strategies:

   ``"store"``
       ``dask.array.store`` into a rasterio-backed target guarded by a lock (local threaded or
       synchronous scheduler; the default there).  Upstream tasks shared by chunks run once.
   ``"stream"``
       chunks are computed in a sliding window (``2 x workers`` in flight) and written in this
       process as they complete.  Used under a ``distributed`` Client: workers compute blocks,
       each block on one worker (no intermediate crosses processes), only the client process
       writes the file.  Each chunk is its own graph, so upstream tasks
       shared by neighbouring chunks (``map_overlap`` halos) run once per chunk.

   ``"auto"`` picks ``"stream"`` when the active scheduler is a distributed Client, else ``"store"``.
   Measured on a 2-core machine, 4096 x 4096 float32 (64 MiB) in 1024-pixel chunks: both about
   1.6 s, peak RSS +67..93 MiB; 8192 x 8192 (256 MiB): about 8.5 s, +73..97 MiB (constant, not
   proportional to the image: GDAL cache, overview building, a few chunks).
2. Overviews are built in the temp GTiff (``build_overviews``: less memory than letting the COG
   driver build them), then GDAL's COG driver (``rasterio.shutil.copy(..., driver="COG",
   OVERVIEWS="FORCE_USE_EXISTING")``) compresses tiles and overviews into the COG layout in a
   second temp file.  The result is checked: GDAL must read it back as a COG (``LAYOUT=COG``: its
   IFDs before the tile data, as it wrote them) with the requested tile size and overview count;
   ``validate=True`` adds rio-cogeo's full ``cog_validate`` (it walks every IFD and tile offset,
   and importing rio-cogeo costs about 0.3 s per process, import and exit, so it is opt-in; the
   test suite validates eo's outputs with it).
3. ``os.replace`` moves it onto the target.  On any exception both temp files are removed and the
   target is untouched (:class:`eo.errors.WriteError` wraps the cause).

:func:`write_cogs` writes several arrays (the variables of one composite) in one computation:
one ``dask.array.store`` graph, or per block position one task computing that block of every
array, so what they share upstream runs once and memory stays bounded by chunks (``eo run``
writes its outputs this way instead of holding the composite of a tile in memory).

GDAL's block cache is limited to 32 MiB while writing (``GDAL_CACHEMAX``) so written tiles are
flushed to disk instead of accumulating in memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from rasterio.windows import Window

from eo.cluster import active_client, scheduler_may_be_set
from eo.errors import InputError, WriteError
from eo.io.atomic import remove_quietly, temp_path

#: Predictor names of GDAL's COG driver by TIFF predictor code.
_PREDICTORS = {1: "NO", 2: "STANDARD", 3: "FLOATING_POINT"}
#: Write-time GDAL options: a small block cache so tiles go to disk as they are written.
WRITE_ENV: dict[str, Any] = {
    "GDAL_CACHEMAX": 32 * 2**20,  # bytes (rasterio sets it with GDALSetCacheMax64)
    "GDAL_NUM_THREADS": "ALL_CPUS",
    "CHECK_DISK_FREE_SPACE": False,
}

Writer = Callable[[tuple[slice, ...], np.ndarray], None]


def _geobox(da: xr.DataArray) -> Any:
    import odc.geo.xr  # noqa: F401  (registers the .odc accessor)

    gbox = getattr(da.odc, "geobox", None)
    if gbox is None or gbox.crs is None:
        raise InputError(
            "write_cog needs a georeferenced DataArray (y/x coords and a spatial_ref with a CRS, as built by "
            "odc.geo.xr.xr_coords or eo.load); found none: assign one with da.odc.assign_crs(...)"
        )
    return gbox


def _resolve_nodata(da: xr.DataArray, nodata: float | None) -> float | None:
    if np.issubdtype(da.dtype, np.floating):
        return float("nan") if nodata is None else float(nodata)
    value = nodata if nodata is not None else da.attrs.get("nodata")
    if value is None or not np.isfinite(value):
        return None
    info = np.iinfo(da.dtype)
    if not (info.min <= value <= info.max and float(value).is_integer()):
        raise InputError(
            f"nodata {value!r} does not fit dtype {da.dtype} (range {info.min}..{info.max}); "
            "pass a nodata value in range or cast the data"
        )
    return float(value)


def _block_slices(arr: dsa.Array, optimize: bool = True) -> Iterator[tuple[tuple[slice, ...], Any]]:
    slices = dsa.core.slices_from_chunks(arr.chunks)
    delayed = arr.to_delayed(optimize_graph=optimize).ravel()
    yield from zip(slices, delayed)


def _pack(*blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    return blocks


def _joint_blocks(arrays: Sequence[dsa.Array]) -> Iterator[tuple[tuple[slice, ...], Any]]:
    """Per block position, ``(slices, delayed tuple of that block of every array)``.

    One task per position computes the block of every output, so what they share upstream (one
    composite's reads and per-date chain) is computed once per block, not once per output.
    """
    if len(arrays) == 1:
        for key, block in _block_slices(arrays[0]):
            yield key, dask.delayed(_pack)(block)
        return
    first = arrays[0]
    for arr in arrays[1:]:
        if arr.numblocks != first.numblocks or arr.chunks[1:] != first.chunks[1:]:
            raise InputError(
                f"write_cogs streams outputs block by block: all need the same chunks, found "
                f"{first.chunks[1:]} x {first.numblocks[0]} and {arr.chunks[1:]} x {arr.numblocks[0]}; "
                "rechunk them alike (da.chunk(...)) or write them one by one"
            )
    # not optimised: blockwise fusion would fuse a shared task into each consumer (computing it
    # once per output, measured), alone or with dask.optimize(*arrays)
    per_array = [list(_block_slices(arr, optimize=False)) for arr in arrays]
    for parts in zip(*per_array):
        yield parts[0][0], dask.delayed(_pack)(*(block for _, block in parts))


class _WindowWriter:
    """Write blocks into an open dataset, one at a time; refuses writes once closed.

    When a Dask task fails, ``dask.array.store`` raises while other threads may still be running
    their store tasks: :meth:`close` (called before the dataset is closed) waits for a write in
    progress and makes later ones raise instead of touching a closed GDAL handle.
    """

    def __init__(self, dst: Any):
        self._dst = dst
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        b, ys, xs = key
        win = Window(xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start)
        with self._lock:
            if self._closed:
                raise WriteError("the COG writer was closed after an earlier failure; block not written")
            self._dst.write(value, indexes=list(range(b.start + 1, b.stop + 1)), window=win)

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        self(key, value)

    def close(self) -> None:
        with self._lock:
            self._closed = True


def _store(arrays: Sequence[dsa.Array], writes: Sequence[Writer]) -> None:
    """``dask.array.store`` of every array into its writer, in one graph (shared tasks run once)."""
    targets: list[Any] = [w if isinstance(w, _WindowWriter) else _WindowTarget(w) for w in writes]
    # the arrays' own (threaded) scheduler when nothing else can be in force: dask would otherwise
    # import distributed only to find that no Client exists
    chosen: dict[str, Any] = {} if scheduler_may_be_set() else {"scheduler": arrays[0].__dask_scheduler__}
    dsa.store(list(arrays), targets, lock=False, compute=True, **chosen)


class _WindowTarget:
    """Adapt a plain write callable to the ``__setitem__`` protocol of ``dask.array.store``."""

    def __init__(self, write: Writer):
        self._write = write

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        self._write(key, value)


def _write_all(writes: Sequence[Writer], key: tuple[slice, ...], values: Sequence[np.ndarray]) -> None:
    for write, value in zip(writes, values, strict=True):
        write(key, np.asarray(value))


def _stream_local(arrays: Sequence[dsa.Array], writes: Sequence[Writer], workers: int) -> None:
    def compute(block: Any) -> tuple[np.ndarray, ...]:
        return tuple(block.compute(scheduler="sync"))

    blocks = _joint_blocks(arrays)
    with ThreadPoolExecutor(workers) as pool:
        pending: dict[Future[tuple[np.ndarray, ...]], tuple[slice, ...]] = {}
        for key, block in blocks:
            pending[pool.submit(compute, block)] = key
            if len(pending) >= 2 * workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    _write_all(writes, pending.pop(fut), fut.result())
        for fut in list(pending):
            _write_all(writes, pending.pop(fut), fut.result())


def _least_busy(threads: Mapping[str, int], running: dict[str, int]) -> str | None:
    """The worker with the fewest blocks in flight per thread (None when there is no worker)."""
    if not threads:
        return None
    return min(threads, key=lambda w: (running.get(w, 0) / max(threads[w], 1), w))


def _stream_distributed(arrays: Sequence[dsa.Array], writes: Sequence[Writer], client: Any) -> None:
    """Compute blocks on the cluster, each **pinned to one worker**, and write them here as they come.

    A block's graph (its reads, the per-date element-wise chain, the temporal reduction) runs on one
    worker, so the per-date intermediates of a block never cross processes: without the pin the
    scheduler spreads a block's independent read tasks over the workers and then ships the
    chunk-sized intermediates to the one reducing them.  Blocks go to the least busy worker
    (``threads + 1`` in flight each); the pin is loose (``allow_other_workers``), so a block whose
    worker has gone runs elsewhere.  The workers and their threads are asked once per write (a
    scheduler round trip each time, 0.07 s over the 121 blocks of the benchmark); workers that
    join later take blocks by work stealing.
    """
    from distributed import as_completed

    blocks = _joint_blocks(arrays)
    threads = dict(client.nthreads())
    keys: dict[str, tuple[tuple[slice, ...], str | None]] = {}
    busy: dict[str, int] = {}
    running = as_completed()

    def submit() -> bool:
        nxt = next(blocks, None)
        if nxt is None:
            return False
        key, block = nxt
        worker = _least_busy(threads, busy)
        pin = {"workers": [worker], "allow_other_workers": True} if worker else {}
        fut = client.compute(block, **pin)
        keys[fut.key] = (key, worker)
        if worker:
            busy[worker] = busy.get(worker, 0) + 1
        running.add(fut)
        return True

    window = max(1, sum(t + 1 for t in threads.values()))
    while running.count() < window and submit():
        pass
    for done in running:
        key, worker = keys.pop(done.key)
        if worker:
            busy[worker] -= 1
        _write_all(writes, key, done.result())
        done.release()
        submit()


def _fill(arrays: Sequence[Any], writes: Sequence[Writer], strategy: str) -> None:
    """Write every array into its writer: NumPy ones at once, Dask ones computed together."""
    if strategy not in ("auto", "store", "stream"):
        raise InputError(f"unknown write strategy {strategy!r}; expected 'auto', 'store' or 'stream'")
    lazy: list[tuple[dsa.Array, Writer]] = []
    for arr, write in zip(arrays, writes, strict=True):
        if isinstance(arr, dsa.Array):
            lazy.append((arr, write))
        else:
            write(tuple(slice(0, n) for n in arr.shape), np.asarray(arr))
    if not lazy:
        return
    todo, targets = [a for a, _ in lazy], [w for _, w in lazy]
    client = active_client()
    workers = max(1, os.cpu_count() or 1)
    if strategy == "auto":
        strategy = "stream" if client is not None else "store"
    if strategy == "store":
        if client is not None:
            raise InputError("strategy='store' cannot write from distributed workers; use 'stream' or 'auto'")
        _store(todo, targets)
    elif client is not None:
        _stream_distributed(todo, targets, client)
    else:
        _stream_local(todo, targets, workers)


def auto_overview_levels(shape: tuple[int, int], blocksize: int) -> list[int]:
    """Factors 2, 4, 8... until the coarsest overview fits in one block (GDAL's COG default)."""
    levels: list[int] = []
    factor = 2
    while max(shape) / (factor // 2) > blocksize:
        levels.append(factor)
        factor *= 2
    return levels


def _cog_options(
    dtype: np.dtype,
    blocksize: int,
    compress: str,
    predictor: int | None,
    overview_levels: Sequence[int],
    resampling: str,
) -> dict[str, Any]:
    if predictor is None:
        predictor = 1 if compress.lower() in ("none", "jpeg", "webp") else (3 if dtype.kind == "f" else 2)
    options: dict[str, Any] = {
        "BLOCKSIZE": blocksize,
        "COMPRESS": compress.upper(),
        "PREDICTOR": _PREDICTORS[predictor],
        "RESAMPLING": resampling,
        "OVERVIEW_RESAMPLING": resampling,
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": "ALL_CPUS",
    }
    options["OVERVIEWS"] = "FORCE_USE_EXISTING" if len(overview_levels) else "NONE"
    return options


@dataclass
class _Output:
    """One COG to write: its (band, y, x) data, the GTiff profile, temp files and band metadata."""

    target: Path
    data: Any
    profile: dict[str, Any]
    dtype: np.dtype
    resampling: str
    units: str | None
    band_names: list[str] | None
    tmp_tif: Path = field(init=False)
    tmp_cog: Path = field(init=False)

    def __post_init__(self) -> None:
        self.tmp_tif, self.tmp_cog = temp_path(self.target, ".tif"), temp_path(self.target, ".cog.tif")


def _output(
    da: xr.DataArray,
    path: str | os.PathLike[str],
    nodata: float | None,
    blocksize: int,
    resampling: str | None,
) -> _Output:
    if not isinstance(da, xr.DataArray):
        raise InputError(f"write_cog writes xarray DataArrays; got {type(da).__name__} for {path}")
    if da.ndim not in (2, 3):
        raise InputError(f"write_cog expects dims (y, x) or (band, y, x); got {da.dims}")
    gbox = _geobox(da)
    if da.dtype == bool:
        da = da.astype(np.uint8)
    dtype = np.dtype(da.dtype)
    data = da.data if da.ndim == 3 else da.data[np.newaxis]
    profile = {
        "driver": "GTiff",
        "width": gbox.shape.x,
        "height": gbox.shape.y,
        "count": data.shape[0],
        "dtype": dtype.name,
        "crs": gbox.crs.to_wkt(),
        "transform": gbox.affine,
        "nodata": _resolve_nodata(da, nodata),
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "BIGTIFF": "IF_SAFER",
        "INTERLEAVE": "BAND",
    }
    names = [str(n) for n in da[da.dims[0]].values] if da.ndim == 3 and da.dims[0] in da.coords else None
    return _Output(
        Path(path),
        data,
        profile,
        dtype,
        resampling or ("average" if dtype.kind == "f" else "nearest"),
        str(da.attrs["units"]) if da.attrs.get("units") else None,
        names,
    )


def write_cog(
    da: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    nodata: float | None = None,
    overview_levels: Sequence[int] | None = None,
    blocksize: int = 512,
    compress: str = "deflate",
    predictor: int | None = None,
    tags: Mapping[str, Any] | None = None,
    overview_resampling: str | None = None,
    strategy: str = "auto",
    validate: bool = False,
) -> Path:
    """Write ``da`` to ``path`` as a validated COG; **computes** the (Dask) array, streaming.

    Parameters
    ----------
    da
        2-D ``(y, x)`` or 3-D ``(band, y, x)`` DataArray with odc-geo coordinates (``da.odc.geobox``
        gives CRS and transform).  The dtype is written as is (bool -> uint8).
    path
        Target file; written atomically (temp file in the same directory, then ``os.replace``).
    nodata
        Floats: NaN unless given.  Integers: this value, else ``da.attrs["nodata"]``, else none.
    overview_levels
        Decimation factors (e.g. ``[2, 4, 8]``); ``None``: 2, 4, 8... until the coarsest level fits
        in one block (:func:`auto_overview_levels`); ``[]`` writes no overviews.
    blocksize, compress, predictor
        Tile size (pixels), GDAL compression, TIFF predictor (1 none, 2 integer, 3 float; default 3
        for floats and 2 for integers with lossless compression).
    tags
        Dataset metadata tags (stringified).  The band unit is ``da.attrs["units"]`` when present.
    overview_resampling
        ``"average"`` for floats, ``"nearest"`` for integers unless given.
    strategy
        ``"auto"``, ``"store"`` or ``"stream"``; see the module docstring.
    validate
        Also run rio-cogeo's full COG validation (every IFD and tile offset) before the file is
        moved into place.  Always checked: GDAL reads the result as a COG (``LAYOUT=COG``) with
        the requested tile size and overview count.

    Returns
    -------
    Path
        The target path.
    """
    (written,) = write_cogs(
        {path: da},
        nodata=nodata,
        overview_levels=overview_levels,
        blocksize=blocksize,
        compress=compress,
        predictor=predictor,
        tags=tags,
        overview_resampling=overview_resampling,
        strategy=strategy,
        validate=validate,
    )
    return written


def write_cogs(
    arrays: Mapping[str | os.PathLike[str], xr.DataArray],
    *,
    nodata: float | None = None,
    overview_levels: Sequence[int] | None = None,
    blocksize: int = 512,
    compress: str = "deflate",
    predictor: int | None = None,
    tags: Mapping[str, Any] | None = None,
    overview_resampling: str | None = None,
    strategy: str = "auto",
    validate: bool = False,
) -> list[Path]:
    """Write several DataArrays (path -> array) as COGs in **one** computation; **computes**.

    What the arrays share upstream (the variables of one composite share its reads and per-date
    chain) is computed once: one graph (``"store"``) or one task per block position computing
    that block of every array (``"stream"``, which needs the same chunks for all).  Memory stays
    bounded by a few chunks of each array, never an image.  Options as for :func:`write_cog`,
    applied to every file.  Each file is written atomically; none is moved into place before all
    are written and checked, and on an error none is (targets written by an earlier call stay).

    Returns
    -------
    list of Path
        The target paths, in the order of ``arrays``.
    """
    outputs = [_output(da, path, nodata, blocksize, overview_resampling) for path, da in arrays.items()]
    if len({o.target.resolve() for o in outputs}) != len(outputs):
        raise InputError(f"write_cogs got one target path twice: {[str(o.target) for o in outputs]}")
    for out in outputs:
        out.target.parent.mkdir(parents=True, exist_ok=True)
    temps = [p for o in outputs for p in (o.tmp_tif, o.tmp_cog)]
    names = ", ".join(str(o.target) for o in outputs)
    try:
        with rasterio.Env(**WRITE_ENV):
            all_levels = _fill_files(outputs, strategy, overview_levels, blocksize, tags)
            for out, levels in zip(outputs, all_levels, strict=True):
                options = _cog_options(out.dtype, blocksize, compress, predictor, levels, out.resampling)
                rasterio.shutil.copy(out.tmp_tif, out.tmp_cog, driver="COG", **options)
                remove_quietly(out.tmp_tif)
        for out, levels in zip(outputs, all_levels, strict=True):
            _check_layout(out.tmp_cog, blocksize, len(levels))
            _check_complete(out.tmp_cog, len(levels))
            if validate:
                _validate(out.tmp_cog)
        for out in outputs:
            os.replace(out.tmp_cog, out.target)
    except InputError:
        raise
    except Exception as err:
        raise WriteError(
            f"writing COG {names} failed ({type(err).__name__}: {err}); no file was written"
        ) from err
    finally:
        remove_quietly(*temps)
    return [o.target for o in outputs]


def _fill_files(
    outputs: Sequence[_Output],
    strategy: str,
    overview_levels: Sequence[int] | None,
    blocksize: int,
    tags: Mapping[str, Any] | None,
) -> list[Sequence[int]]:
    """Compute every output into its tiled temp GTiff, with band metadata and overviews; their levels."""
    with ExitStack() as stack:
        dsts = [stack.enter_context(rasterio.open(o.tmp_tif, "w", **o.profile)) for o in outputs]
        writers = [_WindowWriter(dst) for dst in dsts]
        try:
            _fill([o.data for o in outputs], writers, strategy)
        finally:
            for writer in writers:
                writer.close()
        all_levels: list[Sequence[int]] = []
        for out, dst in zip(outputs, dsts, strict=True):
            if out.units:
                dst.units = [out.units] * dst.count
            if tags:
                dst.update_tags(**{k: str(v) for k, v in tags.items()})
            for i, name in enumerate(out.band_names or [], start=1):
                dst.set_band_description(i, name)
            levels = overview_levels
            if levels is None:
                levels = auto_overview_levels(dst.shape, blocksize)
            if levels:
                dst.build_overviews(list(levels), rasterio.enums.Resampling[out.resampling])
            all_levels.append(levels)
    return all_levels


def _check_layout(path: Path, blocksize: int, n_overviews: int) -> None:
    """GDAL reads ``path`` as a COG with ``blocksize`` tiles and ``n_overviews`` overviews."""
    with rasterio.open(path) as cog:
        layout = cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
        blocks = {tuple(shape) for shape in cog.block_shapes}
        found = len(cog.overviews(1))
    problems = []
    if layout != "COG":
        problems.append(f"GDAL reads its layout as {layout or 'a plain GeoTIFF'}, not COG")
    if blocks != {(blocksize, blocksize)}:
        problems.append(f"tiles {sorted(blocks)} instead of {blocksize} x {blocksize}")
    if found != n_overviews:
        problems.append(f"{found} overviews instead of {n_overviews}")
    if problems:
        raise WriteError(f"GDAL produced an invalid COG at {path}: {'; '.join(problems)}")


def _missing_tile(src: Any, size: int) -> tuple[int, int, int] | None:
    """``(band, x, y)`` of the first tile of an open level whose bytes are not inside the file, else None."""
    (bh, bw), (h, w) = src.block_shapes[0], src.shape
    for band in range(1, src.count + 1):
        for by in range(-(-h // bh)):
            for bx in range(-(-w // bw)):
                offset = int(src.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=band) or 0)
                length = int(src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=band) or 0)
                if offset <= 0 or length <= 0 or offset + length > size:
                    return band, bx, by
    return None


def _check_complete(path: Path, n_overviews: int) -> None:
    """Every tile of every level of the COG at ``path`` has its bytes inside the file.

    A write the storage refused part-way (a full disk) is not always an error in GDAL: a block
    flushed when a file is closed can fail quietly, leaving a tile whose offset is 0 or points past
    the end of the file.  Such a COG passes the layout check and reads as missing data (or fails to
    read); it is refused here, before it replaces anything.  Reads the TIFF directories only.
    """
    size = os.path.getsize(path)
    for level in [None, *range(n_overviews)]:
        options = {} if level is None else {"overview_level": level}
        with rasterio.open(path, **options) as src:
            missing = _missing_tile(src, size)
        if missing is not None:
            band, bx, by = missing
            where = "full resolution" if level is None else f"overview {level + 1}"
            raise WriteError(
                f"GDAL produced an incomplete COG at {path}: tile ({bx}, {by}) of band {band} at {where} "
                "is missing or cut off (the storage may be full)"
            )


def _validate(path: Path) -> None:
    from rio_cogeo.cogeo import cog_validate

    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    if not valid:
        raise WriteError(f"GDAL produced an invalid COG at {path}: {'; '.join(errors)}")
