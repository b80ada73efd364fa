"""Checks of a pipeline spec before any work: names resolved, paths usable (no cluster, no pixels).

:func:`check_spec` needs no network: the catalogue name, index names, the composite method, mask
classes, the tile grid's CRS and resampling, tile ids, the area file, output variable names, the
output directory (writable, and not another pipeline's), the zones file and the statistics of
``zonal``.  :func:`check_items` runs once the search
has found items: every band of the spec resolves for their sensor.  The plan step
(:mod:`eo.pipeline.planning`) then builds the lazy graph of the first tile, which checks what only the
data can tell (an index needing a band the spec does not load, output variables the composite does
not make).  Each problem is a :class:`~eo.errors.PipelineSpecError` naming the file, line and key.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eo.errors import (
    ConfigError,
    EOError,
    InputError,
    MissingBandsError,
    UnknownIndexError,
    UnknownMethodError,
    UnsupportedMaskClassError,
)
from eo.pipeline.spec import PipelineSpec
from eo.pipeline.state import check_owner


def _writable(path: Path) -> OSError | None:
    """Why ``path`` (a directory, existing or to be made) cannot be written, else None (no write made)."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return NotADirectoryError(20, "not a directory", str(probe))
    try:
        flags = os.statvfs(probe).f_flag
    except OSError as err:
        return err
    if flags & os.ST_RDONLY:
        return OSError(errno.EROFS, "read-only file system", str(probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        return PermissionError(errno.EACCES, "permission denied", str(probe))
    return None


def check_out_dir(spec: PipelineSpec) -> None:
    """The output directory can be written and belongs to this pipeline (or to none yet)."""
    from eo.pipeline.state import unwritable

    out = spec.out_dir
    problem = _writable(out)
    if problem is not None:
        raise unwritable(out, problem)
    if out.is_dir():
        check_owner(out, spec.name)


def _catalog(spec: PipelineSpec) -> None:
    from eo.catalog.definitions import get_catalog

    try:
        get_catalog(spec.catalog)
    except EOError as err:
        raise spec.error(("catalog",), str(err)) from None


def _indices(spec: PipelineSpec) -> None:
    from eo.spectral.catalogue import get_index

    for i, name in enumerate(spec.indices):
        try:
            get_index(name)
        except UnknownIndexError as err:
            raise spec.error(("indices", i), str(err)) from None


def _names(spec: PipelineSpec) -> None:
    """Composite method, mask classes and resampling: names of eo's registries."""
    from eo.compositing import methods
    from eo.loading.types import RESAMPLING_NAMES
    from eo.sensors.model import MASK_CLASSES

    method = spec.composite.method
    if method not in methods():
        known = ", ".join(methods())
        problem = f"unknown composite method {method!r}; expected one of {known}"
        raise spec.error(("composite", "method"), problem)
    for i, cls in enumerate((spec.mask.classes or ()) if spec.mask else ()):
        if cls not in MASK_CLASSES:
            known = ", ".join(MASK_CLASSES)
            raise spec.error(("mask", "classes", i), f"unknown mask class {cls!r}; expected one of {known}")
    if spec.grid.resampling not in RESAMPLING_NAMES:
        known = ", ".join(sorted(RESAMPLING_NAMES))
        raise spec.error(
            ("grid", "resampling"), f"unknown resampling {spec.grid.resampling!r}; expected one of {known}"
        )


def _grid_and_area(spec: PipelineSpec) -> None:
    from eo.grid.tiles import TileGrid
    from eo.io.paths import safe_name
    from eo.pipeline.planning import area_geometry

    try:
        grid = TileGrid(spec.grid.crs, spec.grid.resolution, spec.grid.tile_size, spec.grid.origin)
    except (EOError, ValueError) as err:  # pyproj's CRSError is a ValueError
        raise spec.error(("grid", "crs"), f"{err}") from None
    for i, tile in enumerate(spec.area.tiles or ()):
        try:
            safe_name(tile, "tile id")
            if grid.crs.lower() == "utm":
                raise InputError("area.tiles needs grid.crs set to a projected CRS, not 'utm'")
            grid.parse_id(tile)
        except EOError as err:
            raise spec.error(("area", "tiles", i), str(err)) from None
    try:
        area_geometry(spec)
    except EOError as err:
        raise spec.error(("area", "file"), str(err)) from None


def _outputs(spec: PipelineSpec) -> None:
    from eo.io.paths import safe_name

    for i, name in enumerate(spec.outputs.variables):
        try:
            safe_name(name, "output variable")
        except EOError as err:
            raise spec.error(("outputs", "variables", i), str(err)) from None
    if "zarr" in spec.outputs.formats:
        from eo.io.zarr import _require_zarr

        _require_zarr()
    check_out_dir(spec)


def _zonal(spec: PipelineSpec) -> None:
    """The ``zonal`` section: readable zones with their id column, known statistics."""
    if spec.zonal is None:
        return
    from eo.analysis import read_zones
    from eo.analysis.stats import check_stats

    z = spec.zonal
    if z.weights is not None and z.all_touched:
        raise spec.error(
            ("zonal", "all_touched"),
            "all_touched and weights: area exclude each other (area weights already count every pixel a "
            "zone touches, by its covered fraction); keep one",
        )
    if z.stats is not None:
        try:
            check_stats(list(z.stats), z.weights is not None)
        except EOError as err:
            raise spec.error(("zonal", "stats"), str(err)) from None
    try:
        read_zones(z.zones, id=z.id, layer=zones_layer(z.layer))
    except EOError as err:
        key = "id" if z.id is not None and repr(z.id) in str(err) else "zones"
        raise spec.error(("zonal", key), str(err)) from None


def zones_layer(layer: str | None) -> str | int | None:
    """A layer given as text: its index when it is a number."""
    return int(layer) if layer is not None and layer.isdigit() else layer


def check_zonal_variables(spec: PipelineSpec, written: Sequence[str]) -> None:
    """``zonal.variables`` are written by the run, and something besides ``count`` is."""
    if spec.zonal is None or not written:
        return
    for i, name in enumerate(spec.zonal.variables):
        if name not in written:
            problem = f"{name!r} is not an output of this pipeline; the outputs are {list(written)}"
            raise spec.error(("zonal", "variables", i), problem)
    if not spec.zonal.variables and not [v for v in written if v != "count"]:
        raise spec.error(("zonal",), f"nothing to summarise: the outputs are {list(written)}")


#: The checks :func:`check_spec` runs, in order.
STATIC_CHECKS = (_catalog, _indices, _names, _grid_and_area, _outputs, _zonal)


def check_spec(spec: PipelineSpec) -> None:
    """Every name and path of ``spec`` that can be checked without the network (see the module)."""
    for check in STATIC_CHECKS:
        check(spec)


def check_items(spec: PipelineSpec, items: Sequence[Any]) -> None:
    """Every band of ``spec`` resolves for the sensor of the items found.

    The sensor is that of the first item whose metadata can be read (a broken item is the tiles'
    problem, handled when they run, not the spec's).
    """
    from eo.catalog.definitions import get_catalog
    from eo.catalog.parse import identify_dict, item_dict, resolve_request

    definition = getattr(items, "catalog", None) or get_catalog(spec.catalog)
    for item in items:
        d = item_dict(item)
        try:
            context = definition.context(d) if definition is not None else None
            profile, product, _ = identify_dict(d, context)
        except EOError:
            continue
        for i, name in enumerate(spec.bands):
            try:
                resolve_request(profile, product, name, d, str(d.get("id")))
            except EOError as err:
                problem = f"{name!r} is not a band of {profile.id} {product.id}: {err}"
                raise spec.error(("bands", i), problem) from None
        return


#: Errors of building a tile's graph that come from the spec, and the key they point at.
SPEC_ERRORS: tuple[tuple[type[EOError], tuple[str, ...]], ...] = (
    (MissingBandsError, ("indices",)),
    (UnknownIndexError, ("indices",)),
    (UnsupportedMaskClassError, ("mask", "classes")),
    (UnknownMethodError, ("composite",)),
    (ConfigError, ()),
    (InputError, ()),
)


def as_spec_error(spec: PipelineSpec, err: EOError) -> ConfigError | None:
    """A spec-level failure of a graph build as a :class:`PipelineSpecError` with its key; else None."""
    for cls, path in SPEC_ERRORS:
        if isinstance(err, cls):
            if isinstance(err, ConfigError) and str(err).startswith(spec.source):
                return err
            if "outputs.variables" in str(err):
                path = ("outputs", "variables")
            return spec.error(path, str(err))
    return None
