"""The plan of a pipeline run: everything decided before any pixel is computed or any file written.

:func:`make_plan` checks the spec (:mod:`eo.pipeline.checks`), searches the catalogue, lays the tile
grid over the area, pairs every tile with every period and the items that fall in it, tells which
(tile, period)s are unchanged since the last run (:mod:`eo.pipeline.state`), and builds the lazy
graph of the first one to compute, so a typo in an index, band or variable name is reported with its
file and line before a cluster starts.  ``eo run --dry-run`` prints :meth:`Plan.describe` and stops.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry, unary_union
from odc.geo.geom import box as geom_box

import eo
from eo.errors import EmptyResultWarning, EOError, InputError, NoDataError
from eo.grid.tiles import TileGrid
from eo.pipeline.periods import Period, periods
from eo.pipeline.spec import PipelineSpec
from eo.pipeline.state import StateStore
from eo.pipeline.tile import Job

Progress = Callable[[str], None]

#: Bytes per pixel of an output variable (``count`` is uint16, the rest float32).
_PIXEL_BYTES = {"count": 2}


def area_geometry(spec: PipelineSpec) -> Geometry | None:
    """The area of interest as a geometry in degrees (None when given as tile ids)."""
    area = spec.area
    if area.bbox is not None:
        return geom_box(*area.bbox, "EPSG:4326")
    if area.file is not None:
        import shapely

        from eo.analysis.vector import read_vector

        gdf = read_vector(area.file)
        if gdf.crs is None:
            raise InputError(f"area.file {area.file} carries no CRS; save it with one (GeoJSON: lon/lat)")
        lonlat = gdf.to_crs("EPSG:4326").geometry.to_numpy()
        geoms = [g for g in shapely.make_valid(lonlat) if g and not g.is_empty]
        if not geoms:
            raise InputError(f"area.file {area.file} holds no geometry; give the area as polygons")
        return unary_union([Geometry(g, "EPSG:4326") for g in geoms])
    return None


def _footprint(item: pystac.Item) -> Geometry:
    if item.geometry:
        return Geometry(item.geometry, "EPSG:4326")
    w, s, e, n = item.bbox or (-180.0, -90.0, 180.0, 90.0)
    return geom_box(w, s, e, n, "EPSG:4326")


def _item_time(item: pystac.Item) -> Any:
    return item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])


@dataclass
class Plan:
    """A checked spec, the items found, the tiles and periods, and which (tile, period)s to compute."""

    spec: PipelineSpec
    grid: TileGrid
    area: Geometry | None
    tiles: list[tuple[str, GeoBox]]
    periods: list[Period]
    items: list[pystac.Item]
    todo: list[Job] = field(default_factory=list)
    current: list[Job] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def split(self, store: StateStore) -> None:
        """Sort the jobs into ``todo`` and ``current`` against the state records (again, under the lock)."""
        jobs, h = self.todo + self.current, self.spec.spec_hash
        current = [store.is_current(j.tile, j.period.label, j.digest(h)) for j in jobs]
        self.todo = [j for j, c in zip(jobs, current, strict=True) if not c]
        self.current = [j for j, c in zip(jobs, current, strict=True) if c]

    def estimates(self) -> dict[str, float]:
        """Expected bytes per tile (uncompressed), of all tiles to compute, and memory per task."""
        from eo.loading.plan import default_side

        side = self.spec.grid.tile_size
        per_tile = sum(side * side * _PIXEL_BYTES.get(v, 4) for v in self.variables) * (
            len(self.spec.outputs.formats)
        )
        dates = max((len(j.items) for j in self.todo), default=0)
        chunk = min(side, default_side(max(dates, 1)))
        layers = len(self.spec.bands) + len(self.spec.indices) + 1
        return {
            "bytes_per_tile": float(per_tile),
            "bytes_to_write": float(per_tile * len(self.todo)),
            "memory_per_task": float(chunk * chunk * max(dates, 1) * layers * 4),
        }

    def describe(self) -> str:
        """The plan in words (what ``eo run --dry-run`` prints)."""
        spec, est = self.spec, self.estimates()
        when = sorted(str(_item_time(i))[:10] for i in self.items)
        lines = [
            f"pipeline {spec.name} ({spec.source}), spec {spec.spec_hash}, output {spec.out_dir}",
            f"items: {len(self.items)} from {spec.catalog} {list(spec.collections)}"
            + (f", {when[0]} .. {when[-1]}" if when else ""),
            f"grid: {self.grid.crs} {self.grid.resolution:g} m, tiles of {spec.grid.tile_size} px: "
            f"{len(self.tiles)} tile(s)",
            f"periods ({spec.bin}): {', '.join(p.label for p in self.periods)}",
            f"(tile, period): {len(self.todo)} to compute, {len(self.current)} unchanged, "
            f"{len(self.empty)} without items",
            f"outputs per tile: {', '.join(self.variables) or '-'} as {', '.join(spec.outputs.formats)}; "
            f"up to {_size(est['bytes_per_tile'])} per tile uncompressed, "
            f"{_size(est['bytes_to_write'])} to write",
            f"memory: about {_size(est['memory_per_task'])} per task (a chunk of every date and layer)",
        ]
        if spec.zonal is not None:
            table = f"zonal/{spec.name}_<period>_zonal{spec.zonal.suffix}"
            lines.append(f"zonal statistics: {spec.zonal.zones} -> {table} per period")
        lines += [f"  compute {j.tile} {j.period.label}: {len(j.items)} item(s)" for j in self.todo[:50]]
        if len(self.todo) > 50:
            lines.append(f"  ... and {len(self.todo) - 50} more")
        return "\n".join(lines)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _tiles(spec: PipelineSpec, area: Geometry | None) -> tuple[TileGrid, list[tuple[str, GeoBox]]]:
    g = spec.grid
    grid = TileGrid(g.crs, g.resolution, g.tile_size, g.origin)
    if area is None:
        return grid, [(t, grid.geobox(t)) for t in spec.area.tiles or ()]
    grid = grid.for_area(area)
    return grid, list(grid.tiles(area))


def _search(spec: PipelineSpec, search_area: Geometry) -> list[pystac.Item]:
    """The items of the spec's search; an empty result is a :class:`NoDataError` saying why."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyResultWarning)
        items = eo.search(
            spec.catalog,
            collections=list(spec.collections),
            bbox=tuple(search_area.boundingbox),
            datetime=f"{spec.start.isoformat()}/{spec.end.isoformat()}",
            max_cloud=spec.max_cloud,
            query=dict(spec.query) if spec.query else None,
        )
    for w in caught:
        if not issubclass(w.category, EmptyResultWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not items:
        why = "; ".join(str(w.message) for w in caught if issubclass(w.category, EmptyResultWarning))
        raise NoDataError(
            f"no items in {spec.catalog} for {list(spec.collections)} between {spec.start} and {spec.end} "
            f"over the area ({why or 'nothing matched'}); widen the period or area, or check the collections"
            + (" and max_cloud" if spec.max_cloud is not None else "")
        )
    return list(items)


def _overlap(a: Geometry, b: Geometry) -> bool:
    """Whether two footprints share area (touching edges do not count: they share no pixel)."""
    return bool(a.intersects(b) and a.intersection(b).area > 0)


def make_plan(spec: PipelineSpec, *, say: Progress | None = None, check_graph: bool = True) -> Plan:
    """Check ``spec``, search, and decide what to compute (network: the search; no pixels, no writes)."""
    from eo.pipeline.checks import check_items, check_spec, check_zonal_variables

    say = say or (lambda s: None)
    t0 = time.perf_counter()
    check_spec(spec)
    area = area_geometry(spec)
    grid, tiles = _tiles(spec, area)
    search_area = area if area is not None else unary_union([g.extent.to_crs("EPSG:4326") for _, g in tiles])
    assert search_area is not None
    items = _search(spec, search_area)
    check_items(spec, items)
    plan = Plan(spec, grid, area, tiles, periods(spec.start, spec.end, spec.bin), list(items))
    plan.seconds["search"] = time.perf_counter() - t0
    footprints = {it.id: _footprint(it) for it in items}
    store = StateStore(spec.out_dir)
    for period in plan.periods:
        p_items = [it for it in items if period.contains(_item_time(it))]
        for tile, gbox in tiles:
            extent = gbox.extent.to_crs("EPSG:4326")
            job = Job(tile, gbox, period, [it for it in p_items if _overlap(footprints[it.id], extent)])
            if not job.items:
                plan.empty.append((tile, period.label))
            elif store.is_current(tile, period.label, job.digest(spec.spec_hash)):
                plan.current.append(job)
            else:
                plan.todo.append(job)
    if check_graph and plan.todo:
        plan.variables = _check_graph(spec, plan.todo[0])
    if not plan.variables and plan.current:
        plan.variables = _written(spec, store, plan.current[0])
    plan.variables = plan.variables or list(spec.outputs.variables) or [*spec.indices, "count"]
    check_zonal_variables(spec, plan.variables)
    plan.seconds["plan"] = time.perf_counter() - t0 - plan.seconds["search"]
    return plan


def _written(spec: PipelineSpec, store: StateStore, job: Job) -> list[str]:
    """The variables an unchanged (tile, period) was written with, from its committed COG names."""
    rec = store.read(job.tile, job.period.label) or {}
    prefix = f"{spec.name}_{job.tile}_{job.period.label}_"
    names = [Path(f).name for f in rec.get("files", [])]
    return [n[len(prefix) : -len(".tif")] for n in names if n.startswith(prefix) and n.endswith(".tif")]


def _check_graph(spec: PipelineSpec, job: Job) -> list[str]:
    """Build the first tile's lazy graph: what only the data can tell about the spec; its variables."""
    from eo.pipeline.checks import as_spec_error
    from eo.pipeline.tile import build, unreadable

    items: Sequence[pystac.Item] = list(job.items)
    while True:
        try:
            comp, names = build(spec, items, job.gbox)
            job.graph = (tuple(i.id for i in items), comp, names)  # the tile uses it: built once
            return names
        except EOError as err:
            bad = unreadable(err, items)
            if bad and spec.on_asset_error == "skip" and len(bad) < len(items):
                items = [i for i in items if i.id not in bad]  # the tile will leave them out too
                continue
            problem = as_spec_error(spec, err)
            if problem is not None:
                raise problem from None
            return []  # a data problem of this tile: it fails (or is skipped) when it runs
