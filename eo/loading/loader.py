"""``eo.load``: STAC items -> a lazy, chunked ``(time, y, x)`` xarray Dataset.

Three stages: parse each item once (:mod:`eo.catalog.parse`), decide (output grid
:mod:`eo.grid.output`, dtype/nodata/chunks :mod:`eo.loading.plan`, time slices
:mod:`eo.loading.mosaic`), then build the Dask graph (:mod:`eo.loading.graph`) whose tasks
read windows with rasterio (:mod:`eo.loading.read`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import xarray as xr
from odc.geo.geobox import GeoBox

from eo.catalog.parse import identify_dict, item_dict, parse_item, resolve_band
from eo.catalog.records import AssetRecord, CatalogContext, ParsedItem
from eo.errors import BandNotFoundError, InputError, MixedSensorsError, NoDataError, UnknownSensorError
from eo.loading.dataset import assemble
from eo.loading.graph import band_array
from eo.loading.mosaic import GroupKey, group_items
from eo.loading.plan import (
    BandPlan,
    decide_dtype,
    decide_nodata,
    georeference_checks,
    normalise_chunks,
    resampling_for,
    source_of,
    warn_contradicted_grid,
)
from eo.loading.read import probe
from eo.loading.types import FileHeader, Header, Source
from eo.params import BBoxLike, MaybeCRS, SomeResolution
from eo.sensors.model import Band, Product, SensorProfile
from eo.workers import prime_active

Pair = tuple[SensorProfile, Product]

if TYPE_CHECKING:
    import pystac

    from eo.catalog.definitions import CatalogDefinition


def _sensor(sensor: Any) -> Pair | None:
    if sensor is None:
        return None
    if isinstance(sensor, tuple):
        return sensor  # (SensorProfile, Product)
    from eo.sensors import get_product

    text = str(sensor)
    if ":" not in text:
        raise InputError(f"sensor={sensor!r}: expected 'sensor:product' (e.g. 'sentinel-2-msi:l2a')")
    return get_product(text)


def _catalog(catalog: Any, items: Any) -> Any:
    """The catalogue definition the items came from: the argument, else the one eo.search attached."""
    if catalog is None:
        return getattr(items, "catalog", None)
    if isinstance(catalog, str):
        from eo.catalog.definitions import get_catalog

        return get_catalog(catalog)
    return catalog


def _parse_all(
    items: Iterable[Any], bands: Sequence[str] | None, sensor: Any, catalog: Any
) -> tuple[list[ParsedItem], Pair]:
    forced = _sensor(sensor)
    definition = _catalog(catalog, items)
    parsed: list[ParsedItem] = []
    pairs: dict[tuple[str, str], Pair] = {}
    for item in items:
        d = item_dict(item)
        context: CatalogContext | None = definition.context(d) if definition is not None else None
        pair = forced
        if pair is None:
            profile, product, _ = identify_dict(d, context)
            pair = pairs.get((profile.id, product.id), (profile, product))
        pairs.setdefault((pair[0].id, pair[1].id), pair)
        parsed.append(parse_item(d, bands, sensor=pair, catalog=context))
    if not parsed:
        raise NoDataError(
            "eo.load got no items; check the search (area, dates, cloud filter) that produced them"
        )
    if len(pairs) > 1:
        by: dict[tuple[str, str], list[str]] = {}
        for it in parsed:
            by.setdefault((it.sensor, it.product), []).append(it.id)
        listing = "; ".join(f"{s}:{p} ({len(ids)} items, e.g. {ids[0]})" for (s, p), ids in by.items())
        raise MixedSensorsError(
            f"one load takes items of one sensor and product; found {listing}. "
            "Load each group separately (e.g. filter items on their collection) and combine the results"
        )
    return parsed, next(iter(pairs.values()))


Variable = tuple[str, Band]


def _variables(
    bands: Sequence[str] | None, items: Sequence[ParsedItem], profile: SensorProfile, product: Product
) -> list[Variable]:
    if bands is not None:
        out = []
        for name in bands:
            extra = items[0].extra_bands.get(name)
            out.append((name, extra if extra is not None else resolve_band(profile, product, name)))
        return out
    common = [b for b in profile.bands if all(b.name in it.assets for it in items)]
    if not common:
        raise NoDataError(f"the items share no band of {profile.id}; pass bands= explicitly")
    return [(b.common_name or b.name, b) for b in common]


def record_of(item: ParsedItem, var: str, band: Band) -> AssetRecord:
    """The asset record feeding variable ``var`` (band ``band``) from ``item``."""
    rec = item.assets.get(var)
    if rec is not None and rec.band == band.name:
        return rec
    try:
        return item.assets[band.name]
    except KeyError:
        raise BandNotFoundError(f"item {item.id!r} has no asset for band {var!r} ({band.name})") from None


def _probe_missing(
    records: Sequence[tuple[ParsedItem, AssetRecord]], product: Product, files: dict[str, FileHeader]
) -> tuple[dict[tuple[str, int], Header], Header | None]:
    """Headers the plan needs: assets whose grid the items do not state or contradict, and dtype/nodata.

    Bounded: one header per such file (``files``, shared by the bands of a load: a multi-band asset
    is opened once), plus at most one per band for dtype/nodata; none for items whose metadata is
    complete and consistent.  A grid the item's footprint contradicts is replaced
    by the file's, with a :class:`~eo.errors.GeoreferenceMismatchWarning` naming both.
    """
    headers: dict[tuple[str, int], Header] = {}

    def get(item: ParsedItem, rec: AssetRecord) -> Header:
        if rec.href not in files:
            files[rec.href] = probe(
                Source(item.id, rec.key, rec.href, rec.band_index, rec.geobox, rec.nodata)
            )
        headers[(rec.href, rec.band_index)] = files[rec.href].band(rec.band_index)
        return headers[(rec.href, rec.band_index)]

    for item, rec in georeference_checks(records):
        header = get(item, rec)
        if rec.geobox is not None:
            warn_contradicted_grid(item.id, rec.key, rec.geobox, header.geobox)
    first: Header | None = None
    needs_dtype = not any(rec.dtype for _, rec in records)
    needs_nodata = product.nodata is None and not any(rec.nodata is not None for _, rec in records)
    if needs_dtype or needs_nodata:
        first = get(*records[0])
    return headers, first


def _plan_band(
    var: str,
    band: Band,
    groups: Sequence[Sequence[ParsedItem]],
    product: Product,
    resampling: str | Mapping[str, str],
    files: dict[str, FileHeader],
) -> BandPlan:
    per_group = [[(it, record_of(it, var, band)) for it in g] for g in groups]
    records = [pair for g in per_group for pair in g]
    headers, first = _probe_missing(records, product, files)
    dtype = decide_dtype([r for _, r in records], first)
    nodata, fill = decide_nodata(var, [r for _, r in records], product, first, dtype)
    sources = tuple(
        tuple(source_of(it, rec, product, headers.get((rec.href, rec.band_index))) for it, rec in g)
        for g in per_group
    )
    return BandPlan(var, band, dtype, nodata, fill, resampling_for(band, var, resampling), sources)


def load(
    items: Iterable[pystac.Item | Mapping[str, Any]],
    bands: str | Sequence[str] | None = None,
    *,
    resolution: SomeResolution | str | None = None,
    crs: MaybeCRS = None,
    bbox: BBoxLike | None = None,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
    geobox: GeoBox | None = None,
    chunks: int | Mapping[str, int] | None = None,
    resampling: str | Mapping[str, str] = "nearest",
    groupby: str | GroupKey | None = "solar_day",
    sensor: str | Pair | None = None,
    catalog: str | CatalogDefinition | None = None,
) -> xr.Dataset:
    """Load STAC items into a lazy ``(time, y, x)`` Dataset (nothing is read but metadata).

    Parameters
    ----------
    items
        A ``pystac.ItemCollection``, or any iterable of ``pystac.Item`` or STAC item dicts
        (STAC 0.9-1.1), all of one sensor and product (else :class:`MixedSensorsError`, an
        :class:`~eo.errors.InputError`).  Relative asset hrefs resolve against each item's
        self link.
    bands
        Variables to load, named as you want them in the Dataset: STAC common names
        (``"red"``), profile band names or asset keys (``"B04"``), or ``"qa"`` (the product's
        QA band).  Resolved per item through the sensor profile; an item without the band
        raises :class:`~eo.errors.BandNotFoundError` naming the item, the band and its asset
        keys.  ``None``: every band all items have, named by common name (else band name).
    resolution
        Output pixel size in CRS units, or ``"30m"`` for metres (useful in EPSG:4326).
        Default: the finest native pixel size of the requested bands.
    crs
        Output CRS (``"EPSG:32633"``, an odc-geo/pyproj CRS).  Default: the most common
        native CRS of the items.
    bbox
        Output area in lon/lat degrees, ``(W, S, E, N)`` or ``"W,S,E,N"``, or an odc-geo
        ``BoundingBox``/``Geometry`` carrying its CRS.  Default: the union of the items' footprints.
        An area (``bbox``, ``x``/``y`` or ``geobox``) that misses every item raises
        :class:`~eo.errors.NoDataError`.
    x, y
        Output area as ``(min, max)`` in units of the output CRS, instead of ``bbox``.
    geobox
        The output grid (``odc.geo.geobox.GeoBox``); exclusive with crs/resolution/bbox/x/y.
    chunks
        Dask chunks: ``None`` -> ``{"time": 1, "y": S, "x": S}`` with ``S`` = 2048 for up to 8
        time slices, then 1536, 1024 and (from 33 slices) 512, so that a float32 stack of all
        time slices of one spatial chunk (what a temporal composite holds) stays within
        128 MiB: peak memory follows the chunk budget, not the number of dates (see
        :func:`eo.loading.plan.default_side`); from 33 slices on, 16 slices per chunk keep the graph
        of a long series small (500 dates: 16x fewer tasks); an int (y and x, one time slice per chunk);
        ``-1`` (one chunk); or a dict of ``time``/``y``/``x`` (``-1`` = whole dimension, a
        missing key takes 1 / 2048).  The sizes are multiples of the 512/1024 COG tiles;
        2048 x 2048 uint16 is 8 MiB per chunk.
    resampling
        Resampling of measurement bands coarser than (or not aligned with) the grid:
        ``"nearest"`` (default), ``"bilinear"``, ``"cubic"``, ``"average"``, ``"mode"``...; or a
        dict ``var -> method``.  QA and class bands always use nearest.
    groupby
        ``"solar_day"`` (default: items of one local solar day form one time slice, mosaicked
        first-valid in ``(datetime, id)`` order), ``"time"``, ``"id"``, a callable
        ``ParsedItem -> key``, or ``None`` (one slice per item).
    sensor
        ``"sensor:product"`` (e.g. ``"landsat-8-oli-tirs:c2-l2"``) or a ``(SensorProfile,
        Product)`` pair, used for every item; default: identified per item from all its evidence
        (properties, asset keys, ids, dates: :mod:`eo.sensors.identify`).  An item no profile fits
        is loaded from its own STAC metadata (:mod:`eo.sensors.from_item`): bands by asset key,
        ``eo:bands`` name or common name, dtype/nodata/scale/offset/unit from ``raster:bands``,
        QA decoding from the classification extension.
    catalog
        The catalogue the items came from (a name from ``catalogs/``, a URL or a
        :class:`~eo.catalog.definitions.CatalogDefinition`): its collection mappings and its
        Sentinel-2 offset policy apply.  Default: the one :func:`eo.search` attached to its result.

    Returns
    -------
    xarray.Dataset
        Lazy (Dask) variables in the source dtype, dims ``(time, y, x)``; ``time`` sorted
        (the first item's datetime of each slice, UTC, datetime64[ns]); ``x``/``y`` pixel
        centres in the output CRS and ``spatial_ref`` (``ds.odc.geobox`` works).  Per time:
        ``id``, ``platform``, ``sun_elevation``, ``sun_azimuth``, ``cloud_cover``,
        ``processing_baseline``, ``boa_offset_applied`` (first item of the slice), and
        ``<var>_scale`` / ``<var>_offset`` (its ``raster:bands`` values, NaN when absent).
        Variable attrs: ``band``, ``common_name``, ``asi`` (if any), ``kind``, ``state``
        (``"dn"`` for integer measurements, ``"class"`` for QA), ``encodes``, ``units`` (of
        the encoded quantity), ``nodata`` and ``resampling``.  ``ds.attrs``: ``sensor``,
        ``product``.

    Notes
    -----
    - **nodata**: from ``raster:bands``, else the product's default, else the file's.  When
      none is known, the ``nodata`` attr is absent, pixels outside every scene are 0 and a
      :class:`~eo.errors.MetadataWarning` is issued.  A pixel is valid (for the mosaic) when
      it is not the source's nodata.
    - **Grid**: by default the native grid of the finest requested band, extended to the
      union of the footprints, so native pixels are read unchanged; coarser bands are
      resampled onto it, scenes in another CRS are reprojected (GDAL warp, odc-geo ROI).
    - **Georeferencing**: checked at plan time: the item's footprint (``geometry``) projected into
      an asset's claimed CRS must lie inside the asset's ``proj:`` grid.  Where it does not, that
      asset's header is read once and the load is planned with the file's georeferencing, with a
      :class:`~eo.errors.GeoreferenceMismatchWarning` naming both.  A file that disagrees with
      consistent metadata is still read with its own georeferencing (the chunk task warns).
    - **Reprojection**: GDAL warps (``rasterio.warp.reproject``) on 512 x 512 blocks of a lattice
      anchored at the output grid's origin, so values do not depend on ``chunks``; GDAL's
      approximate transformer places source positions within 0.125 source pixel.  Same grid
      (same CRS and pixel size, whole-pixel offset): plain windowed reads, no warp.
    - **Distributed**: with an active ``distributed`` Client, its workers are primed (once per
      Client, without waiting: :func:`eo.workers.prime_active`) so they import eo's task
      modules while the graph is built here.
    - **I/O at call time**: none, except the header of assets whose items lack ``proj:shape``
      / ``proj:transform`` or whose grid the footprint contradicts (one per such asset) and,
      when no item states it, one header per band for dtype/nodata.  Each chunk task reads only
      the windows it needs, retries transient (network) errors, and raises
      :class:`~eo.errors.AssetReadError` naming item and asset for a missing or unreadable file.

    Examples
    --------
    >>> ds = eo.load(items, bands=["red", "nir", "qa"], resolution=20)
    >>> ds.red.dims, ds.red.shape, ds.red.dtype, ds.red.attrs["state"], ds.red.attrs["nodata"]
    (('time', 'y', 'x'), (2, 128, 128), dtype('uint16'), 'dn', 0.0)
    >>> ds.attrs["sensor"], ds.attrs["product"], ds.odc.geobox.resolution.x
    ('sentinel-2-msi', 'l2a', 20.0)
    """
    prime_active()
    band_list = [bands] if isinstance(bands, str) else (list(bands) if bands is not None else None)
    try:
        parsed, (profile, product) = _parse_all(items, band_list, sensor, catalog)
    except UnknownSensorError as err:
        raise UnknownSensorError(f"{err} (or pass sensor='sensor:product' to eo.load)") from None
    variables = _variables(band_list, parsed, profile, product)
    groups = group_items(parsed, groupby)
    files: dict[str, FileHeader] = {}  # headers read while planning, one per file
    plans = [_plan_band(var, band, groups, product, resampling, files) for var, band in variables]

    grids = [src.geobox for plan in plans for g in plan.sources for src in g if src.geobox is not None]
    from eo.grid.output import check_overlap, output_geobox

    out = output_geobox(grids, crs=crs, resolution=resolution, bbox=bbox, x=x, y=y, geobox=geobox)
    if bbox is not None or x is not None or geobox is not None:
        check_overlap(grids, out)  # an area outside every item is an error, not an all-nodata result
    chunk_sizes = normalise_chunks(chunks, len(groups), (int(out.shape[0]), int(out.shape[1])))
    arrays = {plan.var: band_array(plan, out, chunk_sizes) for plan in plans}
    return assemble(arrays, plans, out, groups, profile, product)
