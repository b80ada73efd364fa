"""Run a pipeline spec: search, tile, composite per (tile, period), write, record.

``run(spec)`` is what ``eo run SPEC`` and a notebook call: the same code path.  Work is
scheduled per tile x period; each (tile, period) builds one lazy graph with the public API
(``eo.load`` -> ``eo.calibrate`` -> ``eo.indices`` -> ``.where(~eo.mask)`` ->
``eo.composite``) and streams it into all its COGs in one pass (:func:`eo.io.cog.write_cogs`:
memory bounded by chunks, not by the tile; with a Zarr output too, the composite is persisted
on the cluster and written twice), then writes the quicklook (from the COG's overviews) and
the STAC item, all atomically.  Its state record is written
last, so an interrupted run resumes where it stopped and a re-run recomputes only what changed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry, unary_union
from odc.geo.geom import box as geom_box

import eo
from eo.errors import EOError, InputError, NoDataError
from eo.grid.tiles import TileGrid
from eo.pipeline.periods import Period, periods
from eo.pipeline.report import RunReport, TileResult
from eo.pipeline.spec import PipelineSpec, load_spec, parse_spec
from eo.pipeline.state import RunLock, StateStore, fingerprint, item_fingerprint

log = logging.getLogger("eo.pipeline")

Progress = Callable[[str], None]


def _as_spec(spec: PipelineSpec | str | Path | Mapping[str, Any]) -> PipelineSpec:
    if isinstance(spec, PipelineSpec):
        return spec
    if isinstance(spec, str | Path):
        return load_spec(spec)
    return parse_spec(spec)


def _area(spec: PipelineSpec) -> Geometry | None:
    """The area of interest as a geometry (None when given as tile ids)."""
    area = spec.area
    if area.bbox is not None:
        return geom_box(*area.bbox, "EPSG:4326")
    if area.file is not None:
        from odc.geo.geom import Geometry as G

        try:
            gj = json.loads(area.file.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"{spec.source}: area.file {area.file}: cannot read GeoJSON ({err})") from None
        feats = gj.get("features", [gj]) if gj.get("type") == "FeatureCollection" else [gj]
        geoms = [G(f.get("geometry", f), "EPSG:4326") for f in feats]
        return unary_union(geoms)
    return None


def _tiles(spec: PipelineSpec, area: Geometry | None) -> tuple[TileGrid, list[tuple[str, GeoBox]]]:
    g = spec.grid
    grid = TileGrid(g.crs, g.resolution, g.tile_size, g.origin)
    if area is None:
        if grid.crs.lower() == "utm":
            raise InputError(f"{spec.source}: area.tiles needs grid.crs set to a projected CRS, not 'utm'")
        return grid, [(t, grid.geobox(t)) for t in spec.area.tiles or ()]
    grid = grid.for_area(area)
    return grid, list(grid.tiles(area))


def _item_time(item: pystac.Item) -> Any:
    return item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])


def _footprint(item: pystac.Item) -> Geometry:
    if item.geometry:
        return Geometry(item.geometry, "EPSG:4326")
    w, s, e, n = item.bbox or (-180.0, -90.0, 180.0, 90.0)
    return geom_box(w, s, e, n, "EPSG:4326")


@contextmanager
def _client(spec: PipelineSpec, cluster: Any) -> Iterator[Any]:
    """A Dask client for the run: given, existing, remote (address) or a new LocalCluster.

    ``cluster="threads"`` uses the threaded scheduler of this process (no distributed).
    """
    if cluster == "threads":
        yield None
        return
    from distributed import Client, LocalCluster

    if isinstance(cluster, Client):
        yield cluster
        return
    address = cluster or spec.cluster.address
    if address:
        with Client(address) as client:
            yield client
        return
    from eo.cluster import default_client

    existing = default_client()
    if existing is not None:
        yield existing  # a notebook's client: used as it is, nothing changed on it
        return
    import os

    cores = os.cpu_count() or 1
    n_workers = spec.cluster.n_workers or cores
    threads = spec.cluster.threads_per_worker or max(1, cores // n_workers)
    kwargs: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": threads,
        "dashboard_address": ":0",
    }
    kwargs["silence_logs"] = max(logging.WARNING, logging.getLogger("eo").getEffectiveLevel())
    kwargs["processes"] = spec.cluster.processes
    if spec.cluster.memory_limit is not None:
        kwargs["memory_limit"] = spec.cluster.memory_limit
    # eo's own cluster: its workers retune the malloc thresholds Dask pins (eo.malloc) and are primed
    kwargs["env"] = {"EO_MALLOC_TUNE": "1"}
    with LocalCluster(**kwargs) as lc, Client(lc) as client:
        from eo.workers import prime

        prime(client)  # fresh worker processes: they import eo's task modules while this one plans
        yield client


def _variables(spec: PipelineSpec, items: Sequence[pystac.Item], geobox: GeoBox) -> xr.Dataset:
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


def _write_root(out_dir: Path, spec: PipelineSpec) -> None:
    """A root ``catalog.json`` over the output collection, so the outputs can be served and crawled."""
    from eo.io.atomic import write_json

    write_json(
        out_dir / "catalog.json",
        {
            "type": "Catalog",
            "stac_version": "1.1.0",
            "id": f"{spec.name}-outputs",
            "description": f"Outputs of the eo pipeline {spec.name!r}",
            "links": [
                {"rel": "root", "href": "./catalog.json", "type": "application/json"},
                {"rel": "child", "href": "./collection.json", "type": "application/json"},
            ],
        },
    )


def _wanted(spec: PipelineSpec, variables: xr.Dataset) -> list[str]:
    """Variables to write: ``outputs.variables``, else the indices (or the bands) plus ``count``."""
    if spec.outputs.variables:
        return list(spec.outputs.variables)
    names = list(spec.indices) or [str(v) for v in variables.data_vars]
    return [*names, "count"]


def _valid_fraction(count_cog: Path) -> float:
    """Fraction of pixels with at least one valid observation, read block by block from a count COG."""
    import numpy as np
    import rasterio

    valid = 0
    with rasterio.open(count_cog) as src:
        for _, window in src.block_windows(1):
            valid += int(np.count_nonzero(src.read(1, window=window) > 0))
        return valid / (src.width * src.height)


def _process(
    spec: PipelineSpec, items: Sequence[pystac.Item], tile: str, gbox: GeoBox, period: Period, out_dir: Path
) -> tuple[list[Path], float, dict[str, float], pystac.Item]:
    from eo.io.quicklook import write_quicklook
    from eo.io.stac import output_item

    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    variables = _variables(spec, items, gbox)
    comp = eo.composite(variables, method=spec.composite.method, **spec.composite.params)
    if isinstance(comp, xr.DataArray):
        comp = comp.to_dataset(name=str(comp.name or "value"))
    wanted = _wanted(spec, variables)
    missing = [v for v in wanted if v not in comp.data_vars]
    if missing:
        raise InputError(
            f"outputs.variables {missing} are not produced; the composite has {list(comp.data_vars)}"
        )
    secs["plan"] = time.perf_counter() - t0
    comp = comp[wanted]
    folder = out_dir / tile / period.label
    files: dict[str, Path] = {}
    stem = f"{spec.name}_{tile}_{period.label}"
    formats = spec.outputs.formats
    if "zarr" in formats:
        # two writers read the composite: hold it (tile-sized) on the cluster, computed once
        from eo.io.zarr import write_zarr

        t0 = time.perf_counter()
        comp = comp.persist()
        secs["compute"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        files["zarr"] = write_zarr(comp, folder / f"{stem}.zarr")
        secs["write"] = time.perf_counter() - t0
    if "cog" in formats:
        # every COG in one streaming pass: shared work runs once, memory bounded by chunks
        from eo.io.cog import write_cogs

        t0 = time.perf_counter()
        targets = {name: folder / f"{stem}_{name}.tif" for name in wanted}
        write_cogs({targets[name]: comp[name] for name in wanted})
        files.update({str(name): path for name, path in targets.items()})
        secs["write"] = secs.get("write", 0.0) + time.perf_counter() - t0
    valid = float("nan")
    if "count" in files:
        valid = _valid_fraction(files["count"])
    elif "count" in comp.data_vars:
        valid = float((comp["count"] > 0).mean().compute())
    first = next((v for v in wanted if v != "count"), None)
    paths = list(files.values())
    if first is not None and spec.outputs.quicklook:
        # from the COG's overviews when there is one: the composite is not computed again
        ql = write_quicklook(files.get(str(first), comp[first]), folder / f"{stem}_{first}.png")
        paths.append(Path(ql))
    item = output_item(
        tile,
        (pd.Timestamp(period.start), pd.Timestamp(period.end) + pd.Timedelta(days=1)),
        files,
        gbox,
        inputs=items,
        sensor=str(comp.attrs.get("sensor", "")),
        product=str(comp.attrs.get("product", "")),
        profile_version=str(comp.attrs.get("profile_version", "")),
        spec_hash=spec.spec_hash,
        variables={name: dict(comp[name].attrs) for name in wanted},
    )
    return paths, valid, secs, item


def run(
    spec: PipelineSpec | str | Path | Mapping[str, Any],
    *,
    out: str | Path | None = None,
    cluster: Any = None,
    progress: Progress | None = None,
) -> RunReport:
    """Run a pipeline (COMPUTES and writes outputs); return the run report.

    Parameters
    ----------
    spec
        A :class:`PipelineSpec`, a path to a YAML spec, or a mapping following the schema.
    out
        Output directory (overrides ``outputs.dir``).
    cluster
        ``None`` (an existing client, else ``cluster.address`` of the spec, else a new LocalCluster of
        worker processes sized to the machine), a ``tcp://`` address, a ``distributed.Client``, or
        ``"threads"`` (this process's threaded scheduler).
    progress
        Called with one line of text per event (the CLI prints them).
    """
    spec = _as_spec(spec)
    if out is not None:
        spec = spec.with_out_dir(out)
    say = progress or (lambda s: log.info(s))
    if "zarr" in spec.outputs.formats:
        from eo.io.zarr import _require_zarr

        _require_zarr()  # fail before any work, not in every tile
    out_dir = spec.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    store = StateStore(out_dir)
    with RunLock(out_dir, spec.name):
        report = RunReport(spec.name, spec.spec_hash, str(out_dir))
        t0 = time.perf_counter()
        area = _area(spec)
        grid, tiles = _tiles(spec, area)
        search_area = (
            area if area is not None else unary_union([g.extent.to_crs("EPSG:4326") for _, g in tiles])
        )
        assert search_area is not None
        items = list(
            eo.search(
                spec.catalog,
                collections=list(spec.collections),
                bbox=tuple(search_area.boundingbox),
                datetime=f"{spec.start.isoformat()}/{spec.end.isoformat()}",
                max_cloud=spec.max_cloud,
                query=dict(spec.query) if spec.query else None,
            )
        )
        report.items_found = len(items)
        report.describe(items, grid, area)  # scenes, grid and area for the report's rows and eo view
        report.seconds["search"] = time.perf_counter() - t0
        say(
            f"{len(items)} items, {len(tiles)} tiles of grid {grid.crs} {grid.resolution:g} m, "
            f"spec {spec.spec_hash}"
        )
        if not items:
            raise NoDataError(
                f"no items in {spec.catalog} for {list(spec.collections)} "
                f"between {spec.start} and {spec.end} "
                "over the area; widen the period or area, or check the collections"
            )
        footprints = {it.id: _footprint(it) for it in items}
        todo: list[_Job] = []
        for period in periods(spec.start, spec.end, spec.bin):
            p_items = [it for it in items if period.contains(_item_time(it))]
            for tile, gbox in tiles:
                extent = gbox.extent.to_crs("EPSG:4326")
                job = _Job(tile, gbox, period, [it for it in p_items if footprints[it.id].intersects(extent)])
                if not job.items:
                    report.results.append(TileResult(tile, period.label, "empty"))
                elif store.is_current(tile, period.label, job.digest(spec.spec_hash)):
                    report.results.append(TileResult(tile, period.label, "skipped", inputs=job.ids))
                    say(f"{tile} {period.label}: unchanged")
                else:
                    todo.append(job)
        report.seconds["plan"] = time.perf_counter() - t0 - report.seconds["search"]
        new_items: list[pystac.Item] = []
        if todo:  # start (or connect to) a cluster only when there is work
            with _client(spec, cluster) as client:
                if client is not None:
                    report.dashboard = client.dashboard_link
                    say(f"dask dashboard: {client.dashboard_link}")
                for n, job in enumerate(todo, 1):
                    res = _execute(spec, store, job, new_items)
                    report.results.append(res)
                    took = sum(res.seconds.values())
                    fields = {
                        "tile": job.tile,
                        "period": job.period.label,
                        "status": res.status,
                        "seconds": took,
                    }
                    log.info("tile %s %s: %s", job.tile, job.period.label, res.status, extra={"eo": fields})
                    say(
                        f"[{n}/{len(todo)}] {job.tile} {job.period.label}: {res.status} in {took:.1f} s"
                        + (f" ({res.error})" if res.error else "")
                    )
        if new_items:
            from eo.io.stac import write_catalog

            write_catalog(new_items, out_dir, spec.name, description=spec.description or None)
            _write_root(out_dir, spec)
        report.seconds["total"] = time.perf_counter() - t0
        report.write(out_dir)
    return report


@dataclass
class _Job:
    """One (tile, period) with its input items."""

    tile: str
    gbox: GeoBox
    period: Period
    items: list[pystac.Item]

    @cached_property
    def inputs(self) -> list[dict[str, str]]:
        return [item_fingerprint(i) for i in self.items]

    @property
    def ids(self) -> list[str]:
        return [i["id"] for i in self.inputs]

    def digest(self, spec_hash: str) -> str:
        return fingerprint(spec_hash, self.inputs)


def _execute(spec: PipelineSpec, store: StateStore, job: _Job, new_items: list[pystac.Item]) -> TileResult:
    tile, label = job.tile, job.period.label
    try:
        paths, valid, secs, item = _process(spec, job.items, tile, job.gbox, job.period, spec.out_dir)
    except EOError as err:
        log.warning("tile %s %s failed: %s", tile, label, err)
        return TileResult(tile, label, "failed", inputs=job.ids, error=str(err))
    except Exception as err:  # one tile's failure must not lose the others; the report says why
        log.exception("tile %s %s failed", tile, label)
        return TileResult(tile, label, "failed", inputs=job.ids, error=f"{type(err).__name__}: {err}")
    store.record(
        tile, label, job.digest(spec.spec_hash), inputs=job.inputs, files=paths, spec_hash=spec.spec_hash
    )
    new_items.append(item)
    rel = [str(p.relative_to(spec.out_dir)) for p in paths]
    return TileResult(tile, label, "done", inputs=job.ids, files=rel, valid_fraction=valid, seconds=secs)
