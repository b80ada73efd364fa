"""One (tile, period) of a pipeline: its lazy graph, its files, and the scenes left out of it.

:func:`build` makes the lazy composite of a job with the public API (``eo.load`` ->
``eo.calibrate`` -> ``eo.indices`` -> ``.where(~eo.mask)`` -> ``eo.composite``): no pixel is read,
so the plan step builds the first job's graph to check the spec before any cluster starts.
:func:`make` computes it into COGs (one streaming pass, :func:`eo.io.cog.write_cogs`; memory bounded
by chunks), the quicklook and the output STAC item, every file atomically.

A scene whose file cannot be read (missing, an HTTP error after the retries, a truncated or corrupt
COG, no georeferencing) raises :class:`~eo.errors.AssetReadError` naming it.  With the spec's
``on_asset_error: skip`` (the default) :func:`make` leaves that scene out and makes the tile again
from the others; the result lists what was left out and why (credentials redacted), and the output
item records it in ``eotk:failed_assets``.  With ``fail`` the tile fails.  A write the storage
refuses (disk full, quota, file size limit, read-only) raises :class:`~eo.errors.StorageError`.
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

import eo
from eo.errors import AssetReadError, BandNotFoundError, InputError, StorageError
from eo.io.paths import inside, safe_name
from eo.pipeline.periods import Period
from eo.pipeline.spec import PipelineSpec
from eo.pipeline.state import fingerprint, item_fingerprint
from eo.redact import redact

#: errno values of a storage that refuses writes.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
#: The same failures as GDAL and libtiff word them (their errors carry no errno).
STORAGE_WORDS = ("No space left on device", "Disk quota exceeded", "File too large", "Read-only file system")


#: A tile's lazy composite as built: (input item ids, composite, variable names).
Built = tuple[tuple[str, ...], xr.Dataset, list[str]]


@dataclass
class Job:
    """One (tile, period) with its input items."""

    tile: str
    gbox: GeoBox
    period: Period
    items: list[pystac.Item]
    graph: Built | None = field(default=None, repr=False, compare=False)
    """The lazy composite built while planning (input ids, composite, names), used once by :func:`make`."""

    @cached_property
    def inputs(self) -> list[dict[str, str]]:
        """``{"id", "updated"}`` of each input (see :func:`eo.pipeline.state.item_fingerprint`)."""
        return [item_fingerprint(i) for i in self.items]

    @property
    def ids(self) -> list[str]:
        """Input item ids."""
        return [i["id"] for i in self.inputs]

    def digest(self, spec_hash: str) -> str:
        """Fingerprint of the spec and the inputs (what the state record is compared with)."""
        return fingerprint(spec_hash, self.inputs)


@dataclass
class Made:
    """What :func:`make` produced: files, valid fraction, stage seconds, output item, scenes left out."""

    files: list[Path]
    valid_fraction: float
    seconds: dict[str, float]
    item: pystac.Item
    used: list[pystac.Item]
    left_out: dict[str, str] = field(default_factory=dict)
    """``{item id: why}`` of the scenes left out."""


def variables(spec: PipelineSpec, items: Sequence[pystac.Item], geobox: GeoBox) -> xr.Dataset:
    """The lazy per-date variables to composite: the spec's indices and calibrated bands, masked."""
    ds = eo.load(
        items, bands=list(spec.bands), geobox=geobox, resampling=spec.grid.resampling, catalog=spec.catalog
    )
    cal = spec.calibration
    refl = ds if cal.to == "none" else eo.calibrate(ds, to=cal.to, **cal.kwargs())
    keep = [v for v in refl.data_vars if refl[v].attrs.get("kind", "measurement") == "measurement"]
    out = refl[keep]
    if spec.indices:
        out = xr.merge(
            [eo.indices(refl, list(spec.indices)), out], compat="override", combine_attrs="override"
        )
    if spec.mask is not None:
        bad = eo.mask(ds, classes=spec.mask.classes, dilate=spec.mask.dilate)
        out = out.where(~bad)
    return out


def wanted(spec: PipelineSpec, variables: xr.Dataset) -> list[str]:
    """Variables to write: ``outputs.variables``, else the indices (or the bands) plus ``count``."""
    if spec.outputs.variables:
        return list(spec.outputs.variables)
    names = list(spec.indices) or [str(v) for v in variables.data_vars]
    return [*names, "count"]


def build(spec: PipelineSpec, items: Sequence[pystac.Item], gbox: GeoBox) -> tuple[xr.Dataset, list[str]]:
    """The lazy composite of a tile (only its wanted variables) and their names; reads no pixel."""
    per_date = variables(spec, items, gbox)
    comp = eo.composite(per_date, method=spec.composite.method, **spec.composite.params)
    if isinstance(comp, xr.DataArray):
        comp = comp.to_dataset(name=str(comp.name or "value"))
    names = wanted(spec, per_date)
    missing = [v for v in names if v not in comp.data_vars]
    if missing:
        raise InputError(
            f"outputs.variables {missing} are not made by this pipeline; the composite has "
            f"{list(comp.data_vars)}"
        )
    for name in names:
        safe_name(name, "output variable")
    return comp[names], names


def _valid_fraction(count_cog: Path) -> float:
    """Fraction of pixels with at least one valid observation, read block by block from a count COG."""
    import numpy as np
    import rasterio

    valid = 0
    with rasterio.open(count_cog) as src:
        for _, window in src.block_windows(1):
            valid += int(np.count_nonzero(src.read(1, window=window) > 0))
        return valid / (src.width * src.height)


def _write(spec: PipelineSpec, job: Job, items: Sequence[pystac.Item], out_dir: Path) -> Made:
    """Compute the composite of ``items`` into the tile's files and build its output item."""
    from eo.io.quicklook import write_quicklook
    from eo.io.stac import output_item

    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    planned, job.graph = job.graph, None
    if planned is not None and planned[0] == tuple(i.id for i in items):
        comp, names = planned[1], planned[2]  # the graph the plan step built for its checks
    else:
        comp, names = build(spec, items, job.gbox)
    secs["plan"] = time.perf_counter() - t0
    folder = inside(out_dir, out_dir / safe_name(job.tile, "tile id") / job.period.label)
    stem = f"{spec.name}_{job.tile}_{job.period.label}"
    files: dict[str, Path] = {}
    if "zarr" in spec.outputs.formats:
        # two writers read the composite: hold it (tile-sized) on the cluster, computed once
        from eo.io.zarr import write_zarr

        t0 = time.perf_counter()
        comp = comp.persist()
        secs["compute"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        files["zarr"] = write_zarr(comp, folder / f"{stem}.zarr")
        secs["write"] = time.perf_counter() - t0
    if "cog" in spec.outputs.formats:
        # every COG in one streaming pass: shared work runs once, memory bounded by chunks
        from eo.io.cog import write_cogs

        t0 = time.perf_counter()
        targets = {name: folder / f"{stem}_{name}.tif" for name in names}
        write_cogs({targets[name]: comp[name] for name in names})
        files.update({str(name): path for name, path in targets.items()})
        secs["write"] = secs.get("write", 0.0) + time.perf_counter() - t0
    valid = float("nan")
    if "count" in files:
        valid = _valid_fraction(files["count"])
    elif "count" in comp.data_vars:
        valid = float((comp["count"] > 0).mean().compute())
    paths = list(files.values())
    first = next((v for v in names if v != "count"), None)
    if first is not None and spec.outputs.quicklook:
        # from the COG's overviews when there is one: the composite is not computed again
        ql = write_quicklook(files.get(str(first), comp[first]), folder / f"{stem}_{first}.png")
        paths.append(Path(ql))
    item = output_item(
        job.tile,
        (pd.Timestamp(job.period.start), pd.Timestamp(job.period.end) + pd.Timedelta(days=1)),
        files,
        job.gbox,
        inputs=items,
        sensor=str(comp.attrs.get("sensor", "")),
        product=str(comp.attrs.get("product", "")),
        profile_version=str(comp.attrs.get("profile_version", "")),
        spec_hash=spec.spec_hash,
        variables={name: dict(comp[name].attrs) for name in names},
    )
    return Made(paths, valid, secs, item, list(items))


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def storage_failure(err: BaseException, where: Path | None = None, needed: int = 0) -> str | None:
    """Why the storage refused a write (disk full, quota, size limit, read-only), else None.

    From ``err``'s chain when it says so (an errno, or the words); GDAL's write errors often do not
    (libtiff prints the reason and GDAL raises "Write failed"), so after a write error the storage
    at ``where`` is asked: read-only, less than ``needed`` bytes free, or a file size limit
    (``RLIMIT_FSIZE``) on this process.
    """
    chain = list(_chain(err))
    for e in chain:
        if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
            return e.strerror or str(e)
        text = str(e)
        for words in STORAGE_WORDS:
            if words in text:
                return words
    if where is None or not any("write" in str(e).lower() for e in chain):
        return None
    return _storage_state(where, needed)


def _storage_state(where: Path, needed: int) -> str | None:
    """What about the storage at ``where`` (or its nearest existing parent) stops writes, if anything."""
    import os
    import resource

    probe = where
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return "Read-only file system"
    free = st.f_bavail * st.f_frsize
    if free < needed:
        return f"No space left on device ({free // 1024} KiB free, a tile needs about {needed // 1024} KiB)"
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return f"File too large (this process may not write files over {soft} bytes: RLIMIT_FSIZE)"
    return None


def _needed(spec: PipelineSpec) -> int:
    """Bytes a tile's writes need at most: uncompressed temp GTiffs (512 px blocks) and the COGs."""
    side = -(-max(spec.grid.tile_size, 512) // 512) * 512
    names = len(spec.outputs.variables) or len(spec.indices) + 1 or len(spec.bands) + 1
    return side * side * 4 * names * 2


#: A scene-level error that crossed a process boundary as text (Dask sends ``Exception(repr(err))``
#: when the error's cause cannot be pickled, as rasterio's cannot).
_AS_TEXT = re.compile(r"""^(?:AssetReadError|BandNotFoundError)\((["'])(?P<message>.*)\1\)$""", re.DOTALL)


def unreadable(err: BaseException, items: Sequence[pystac.Item]) -> dict[str, str]:
    """``{item id: why}`` of the items an error says cannot be read (empty: not a scene's fault)."""
    out: dict[str, str] = {}
    for e in _chain(err):
        text = str(e)
        sent = _AS_TEXT.match(text)
        if sent is not None:  # the error of a worker process, flattened to text on the way
            text = sent.group("message")
        scene_level = (
            isinstance(e, AssetReadError)
            or (sent is not None and "cannot read asset" in text)
            or ((isinstance(e, BandNotFoundError) or sent is not None) and "has no asset for band" in text)
        )
        if not scene_level:
            continue
        for item in items:
            if f"item {item.id!r}" in text and item.id not in out:
                out[item.id] = redact(" ".join(text.split()))
    return out


def make(spec: PipelineSpec, job: Job, out_dir: Path) -> Made:
    """Compute and write one (tile, period) (COMPUTES); leave out unreadable scenes if the spec says so.

    Raises :class:`StorageError` when the storage refuses a write, :class:`AssetReadError` when a
    scene cannot be read and ``on_asset_error`` is ``fail`` (or no scene of the tile can be read).
    """
    items = list(job.items)
    left_out: dict[str, str] = {}
    while True:
        try:
            made = _write(spec, job, items, out_dir)
        except Exception as err:
            words = storage_failure(err, out_dir, _needed(spec))
            if words is not None:
                raise StorageError(
                    f"cannot write the outputs of tile {job.tile} {job.period.label} into {out_dir}: "
                    f"{words}; free space or fix the storage, then run again (finished tiles are kept)"
                ) from err
            bad = unreadable(err, items)
            if not bad or spec.on_asset_error == "fail":
                raise
            left_out.update(bad)
            items = [i for i in items if i.id not in bad]
            if not items:
                reasons = "; ".join(f"{k}: {v}" for k, v in left_out.items())
                raise AssetReadError(
                    f"no scene of tile {job.tile} {job.period.label} can be read ({reasons})"
                ) from err
            continue
        made.left_out = left_out
        if left_out:
            made.item.properties["eotk:failed_assets"] = sorted(f"{k}: {v}" for k, v in left_out.items())
        return made
