"""``eo zonal SOURCE ZONES [--stats ...] [--out table.parquet|.csv]``: zonal statistics as a table file.

SOURCE is either

* an ``eo run`` output directory (or its ``catalog.json``): its items are searched (only those
  overlapping the zones, optionally within ``--datetime``), loaded with :func:`eo.load` (variables
  named as written: ``NDVI``, ``count``...) and summarised in one table over all periods (column
  ``time`` = the start of each period); or
* a GeoTIFF / COG: described as a STAC item by rio-stac (projection and raster extensions, so
  dtype, nodata, scale and offset come from the file) and loaded with :func:`eo.load`, the same
  loader as everything else.  Variables are named by the bands' descriptions when every band has
  a distinct one, else ``b1``, ``b2``...  The table has a ``time`` column only when the file
  states its acquisition time (``ACQUISITIONDATETIME`` or ``TIFFTAG_DATETIME``).

Values are the stored ones (as rasterstats and exactextract read them); pixels equal to nodata
or NaN are excluded and counted (``count``, ``valid_fraction``).  The table is computed once by
:func:`eo.zonal_stats` and written atomically: Parquet or CSV by the suffix of ``--out``; without
``--out`` it is printed as CSV.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path
from typing import Any

import click

from eo.errors import EOWarning, InputError, NoDataError
from eo.io.tables import MEDIA_TYPES, write_table

#: Table formats by file suffix.
FORMATS = tuple(MEDIA_TYPES)


def _names(value: str | None, option: str) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise InputError(f"{option} expects comma-separated names; got {value!r}")
    return names


def is_output_dir(path: Path) -> bool:
    """Whether ``path`` is a static STAC catalogue (an ``eo run`` output directory or its catalog.json)."""
    return (path.is_dir() and (path / "catalog.json").is_file()) or path.name == "catalog.json"


def file_datetime(tags: dict[str, str]) -> dt.datetime | None:
    """Acquisition time stated by a GeoTIFF's tags (IMAGERY ``ACQUISITIONDATETIME``, ``TIFFTAG_DATETIME``)."""
    for text in (tags.get("ACQUISITIONDATETIME"), tags.get("TIFFTAG_DATETIME")):
        if not text:
            continue
        for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
            try:
                when = dt.datetime.strptime(text.strip(), fmt)
            except ValueError:
                continue
            return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return None


def raster_item(path: Path) -> tuple[Any, bool]:
    """A STAC item describing the GeoTIFF ``path`` (rio-stac), and whether the file states its time."""
    import rasterio
    import rio_stac
    from rasterio.errors import RasterioIOError

    from eo.errors import AssetReadError

    try:
        with rasterio.open(path) as src:
            tags = {**src.tags(), **src.tags(ns="IMAGERY")}
            descriptions = list(src.descriptions)
            count = src.count
    except RasterioIOError as err:
        raise AssetReadError(
            f"{path} is neither an eo run output directory (no catalog.json) nor a raster GDAL "
            f"can read: {err}"
        ) from None
    names = [str(d) for d in descriptions] if all(descriptions) else []
    if len(set(names)) != count:
        names = [f"b{i}" for i in range(1, count + 1)]
    when = file_datetime(tags)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not get parse date")  # a TIFF date: read above
        item = rio_stac.create_stac_item(
            str(path.resolve()),
            input_datetime=when,
            id=path.stem,
            asset_name=names[0] if count == 1 else "data",
            asset_roles=["data"],
            with_proj=True,
            with_raster=True,  # dtype, nodata, scale, offset, unit per band
            with_eo=True,
            raster_max_size=64,  # rio-stac's band statistics: unused here, so read from a tiny overview
        )
    asset = item.assets[names[0] if count == 1 else "data"]
    for entry, name in zip(asset.extra_fields.get("eo:bands", []), names):
        entry["name"] = name
    return item, when is not None


def _zones_bbox(zones: Any) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds of the zones, grown by 1e-4 degree (about 10 m) so edge pixels are kept."""
    import numpy as np

    w, s, e, n = zones.to_crs("EPSG:4326").total_bounds
    if not np.isfinite([w, s, e, n]).all():
        return None
    pad = 1e-4
    return (float(w) - pad, float(s) - pad, float(e) + pad, float(n) + pad)


def load_source(
    source: Path, zones: Any, variables: list[str] | None, datetime: str | None
) -> tuple[Any, str]:
    """The lazy Dataset to summarise, and a description of where it came from."""
    import eo

    if is_output_dir(source):
        bbox = _zones_bbox(zones)
        items = eo.search(str(source), bbox=bbox, datetime=datetime)
        if len(items) == 0:
            when = f" within {datetime}" if datetime else ""
            raise NoDataError(
                f"no item of {source} overlaps the zones{when} (zones' bounds {bbox}); "
                "check the zones' CRS and area, or the --datetime"
            )
        ds = eo.load(items, bands=variables)
        return ds, f"{len(items)} item(s) of {source}"
    if datetime is not None:
        raise InputError("--datetime selects periods of an eo run output directory; SOURCE is a raster file")
    item, dated = raster_item(source)
    ds = eo.load([item], bands=variables)
    if not dated:
        ds = ds.isel(time=0, drop=True)
    return ds, str(source)


@click.command("zonal")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("zones")
@click.option(
    "--stats",
    default=None,
    help="Comma-separated statistics: mean, median, std, min, max, sum, count, pixels, valid_fraction, "
    "percentile_<q>. Default: mean, median, std, min, max, count, valid_fraction.",
)
@click.option("--variables", default=None, help="Comma-separated variables (default: all).")
@click.option("--id", "id_column", default=None, help="Column of the zones holding their ids (default: id).")
@click.option("--layer", default=None, help="Layer of a multi-layer zones file (GeoPackage).")
@click.option("--all-touched", is_flag=True, help="Every pixel a zone touches (default: pixel centres).")
@click.option(
    "--weights",
    type=click.Choice(["area"]),
    default=None,
    help="area: pixels weighted by the fraction of their area inside the zone (exactextract).",
)
@click.option("--datetime", "dt_range", default=None, help="Output directory: periods within START/END.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Table file, .parquet or .csv (written atomically). Default: CSV on stdout.",
)
def command(
    source: Path,
    zones: str,
    stats: str | None,
    variables: str | None,
    id_column: str | None,
    layer: str | None,
    all_touched: bool,
    weights: str | None,
    dt_range: str | None,
    out: Path | None,
) -> None:
    """Statistics of SOURCE over each zone of ZONES (a vector file: GeoJSON, GeoPackage, Parquet...).

    SOURCE is an eo run output directory (one table over all its periods) or a GeoTIFF/COG.
    Examples: ``eo zonal out/ndvi fields.geojson --out ndvi.parquet``;
    ``eo zonal ndvi.tif fields.gpkg --id field_id --stats mean,count --out ndvi.csv``.
    """
    import eo
    from eo.analysis import read_zones

    if out is not None and out.suffix.lower() not in FORMATS:
        raise InputError(f"--out {out}: expected a .parquet or .csv file name")
    stat_names = _names(stats, "--stats")
    if stat_names is not None:  # before any reading: a typo fails at once
        from eo.analysis.stats import check_stats

        check_stats(stat_names, weights is not None)
    if weights is not None and all_touched:
        raise InputError(
            "--all-touched and --weights area exclude each other: area weights already count every "
            "pixel a zone touches, by its covered fraction"
        )
    layer_arg: str | int | None = int(layer) if layer is not None and layer.isdigit() else layer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EOWarning)
        read = read_zones(zones, id=id_column, layer=layer_arg)
        ds, what = load_source(source, read, _names(variables, "--variables"), dt_range)
        table = eo.zonal_stats(ds, read, stat_names, all_touched=all_touched, weights=weights, id="zone")
    # eo's warnings (zones outside the raster, repaired geometries...) on one line each
    shown = dict.fromkeys(
        f"warning: {type(w.message).__name__}: {' '.join(str(w.message).split())}"
        for w in caught
        if isinstance(w.message, EOWarning)
    )
    for line in shown:
        click.echo(line, err=True)
    if out is None:
        click.echo(table.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ"), nl=False)
        return
    write_table(table, out)
    periods = table["time"].nunique() if "time" in table else 1
    click.echo(
        f"{len(table)} rows ({len(read)} zones x {periods} period(s) x {table['variable'].nunique()} "
        f"variable(s)) from {what} -> {os.fspath(out)}",
        err=True,
    )
