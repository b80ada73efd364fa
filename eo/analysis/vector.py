"""Zones and points in: vector files, GeoDataFrames, GeoJSON and shapely geometries, normalised once.

:func:`read_zones` is the lenient boundary of :mod:`eo.analysis`: it accepts

* a :class:`geopandas.GeoDataFrame` or ``GeoSeries``;
* a path to a vector file GDAL reads through pyogrio (GeoJSON, GeoPackage, FlatGeobuf, Shapefile...)
  or to a (Geo)Parquet file (``.parquet``/``.geoparquet``, read with pyarrow);
* a GeoJSON mapping (``FeatureCollection``, ``Feature`` or a bare geometry: RFC 7946 says lon/lat,
  so its CRS is EPSG:4326 unless ``crs=`` says otherwise);
* shapely geometries: one geometry, a mapping ``id -> geometry`` or a sequence with ``ids=``;

and returns a GeoDataFrame with exactly two columns, ``zone`` (the ids, unique) and ``geometry``,
in the zones' own CRS.  Everything downstream sees only that shape.

Ids: ``id=`` names the id column of a file or GeoDataFrame; without it a column named ``id`` is
used when there is one, else the features are numbered 0, 1, 2... in file order.  Ids must be
unique and not null.

Geometries: a missing or empty geometry is an error (:class:`~eo.errors.InvalidGeometryError`,
naming the ids).  An invalid one (self-intersecting ring, bow tie) is repaired with
``shapely.make_valid`` (polygons stay polygons: collapsed parts are dropped) and reported with an
:class:`~eo.errors.InvalidGeometryWarning`; ``fix_invalid=False`` refuses it instead.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eo.errors import (
    EmptyZonesError,
    InvalidGeometryError,
    InvalidGeometryWarning,
    MissingCRSError,
    VectorFileError,
    VectorFileNotFoundError,
    ZonesError,
)

if TYPE_CHECKING:
    import geopandas as gpd

#: Column of the zone ids in every table eo.analysis returns.
ZONE = "zone"
_PARQUET = (".parquet", ".geoparquet", ".pq")
_GEOJSON_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def _few(values: Any, n: int = 5) -> str:
    vals = list(values)
    more = f" and {len(vals) - n} more" if len(vals) > n else ""
    return ", ".join(repr(v) for v in vals[:n]) + more


def read_vector(path: str | os.PathLike[str], layer: str | int | None = None) -> gpd.GeoDataFrame:
    """A vector file as it is (pyogrio; (Geo)Parquet with pyarrow); eo's errors when it cannot be read."""
    import geopandas as gpd

    path = Path(path)

    if not path.exists():
        raise VectorFileNotFoundError(
            f"zones file {str(path)!r} does not exist; give the path of a GeoJSON, GeoPackage or "
            "(Geo)Parquet file"
        )
    try:
        if path.suffix.lower() in _PARQUET:
            return gpd.read_parquet(path)
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except ImportError as err:  # pyarrow missing for Parquet
        from eo.errors import DependencyError

        raise DependencyError(
            f"reading {path.name} needs {err.name or 'pyarrow'}: pip install pyarrow"
        ) from err
    except Exception as err:
        raise VectorFileError(
            f"cannot read zones from {str(path)!r}: {err}. Expected a vector file GDAL reads "
            "(GeoJSON, GeoPackage, FlatGeobuf, Shapefile) or a GeoParquet file"
        ) from err


def _from_geojson(obj: Mapping[str, Any], crs: Any) -> gpd.GeoDataFrame:
    import geopandas as gpd

    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = list(obj.get("features") or [])
    elif kind == "Feature":
        features = [obj]
    else:
        features = [{"type": "Feature", "geometry": obj, "properties": {}}]
    if not features:
        raise EmptyZonesError("the GeoJSON FeatureCollection holds no features; give at least one zone")
    ids = [f.get("id") for f in features]
    gdf = gpd.GeoDataFrame.from_features(features, crs=crs if crs is not None else "EPSG:4326")
    if "id" not in gdf.columns and all(i is not None for i in ids):
        gdf["id"] = ids
    return gdf


def _from_geometries(zones: Any, ids: Sequence[Any] | None, crs: Any) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import shapely
    from shapely.geometry import shape

    def as_geom(g: Any) -> Any:
        if g is None or isinstance(g, shapely.Geometry):
            return g
        if isinstance(g, Mapping) and g.get("type") in _GEOJSON_TYPES:
            return shape(g)
        raise ZonesError(f"expected a shapely geometry or a GeoJSON geometry mapping, got {type(g).__name__}")

    if isinstance(zones, shapely.Geometry):
        zones = [zones]
    if isinstance(zones, Mapping):
        if ids is not None:
            raise ZonesError("ids= is for a sequence of geometries; a mapping already gives id -> geometry")
        ids, geoms = list(zones.keys()), [as_geom(g) for g in zones.values()]
    else:
        geoms = [as_geom(g) for g in zones]
        if ids is None:
            ids = list(range(len(geoms)))
        elif len(ids) != len(geoms):
            raise ZonesError(f"got {len(geoms)} geometries but {len(ids)} ids; give one id per geometry")
    return gpd.GeoDataFrame({"id": list(ids)}, geometry=geoms, crs=crs)


def _to_frame(
    zones: Any, ids: Sequence[Any] | None, crs: Any, layer: str | int | None
) -> tuple[gpd.GeoDataFrame, bool]:
    """(frame, whether its ids came from the caller) in the zones' own CRS."""
    import geopandas as gpd

    if isinstance(zones, gpd.GeoSeries):
        zones = gpd.GeoDataFrame(geometry=zones)
    if isinstance(zones, gpd.GeoDataFrame):
        return zones, False
    if isinstance(zones, (str, os.PathLike)):
        return read_vector(Path(zones), layer), False
    if isinstance(zones, Mapping) and zones.get("type") in {"FeatureCollection", "Feature", *_GEOJSON_TYPES}:
        return _from_geojson(zones, crs), False
    if isinstance(zones, (Mapping, Sequence)) or hasattr(zones, "geom_type"):
        return _from_geometries(zones, ids, crs), True
    raise ZonesError(
        f"cannot use {type(zones).__name__} as zones; give a GeoDataFrame, a vector file path, "
        "a GeoJSON mapping, or shapely geometries (a mapping id -> geometry, or a sequence with ids=)"
    )


def _ids(gdf: gpd.GeoDataFrame, id: str | None, given: bool) -> Any:
    import pandas as pd

    if id is not None:
        if id not in gdf.columns:
            cols = [c for c in gdf.columns if c != gdf.geometry.name]
            raise ZonesError(f"id column {id!r} not in the zones; columns are {cols}")
        values = gdf[id]
    elif "id" in gdf.columns:
        values = gdf["id"]
    else:
        values = pd.Series(range(len(gdf)), index=gdf.index)
    if values.isna().any():
        raise ZonesError(f"{int(values.isna().sum())} zone id(s) are null; every zone needs an id")
    dup = values[values.duplicated()]
    if len(dup):
        origin = "given ids" if given else f"id column {values.name!r}"
        raise ZonesError(
            f"zone ids must be unique; the {origin} repeat {_few(dup.unique())}. "
            "Pass id= naming a unique column (or no id column: zones are then numbered)"
        )
    return values.to_numpy()


def _check_geometries(gdf: gpd.GeoDataFrame, fix_invalid: bool) -> gpd.GeoSeries:
    import shapely

    geoms = gdf.geometry
    missing = geoms.isna() | geoms.is_empty
    if missing.any():
        raise InvalidGeometryError(
            f"zone(s) {_few(gdf.loc[missing, ZONE])} have no geometry (null or empty); "
            "drop them or give them a geometry"
        )
    invalid = ~geoms.is_valid
    if not invalid.any():
        return geoms
    bad = gdf.loc[invalid, ZONE]
    reasons = shapely.is_valid_reason(geoms[invalid].to_numpy())
    if not fix_invalid:
        raise InvalidGeometryError(
            f"zone(s) {_few(bad)} have invalid geometries ({reasons[0]}); repair them "
            "(shapely.make_valid) or pass fix_invalid=True"
        )
    warnings.warn(
        f"repaired {len(bad)} invalid zone geometr{'y' if len(bad) == 1 else 'ies'} with shapely.make_valid "
        f"(zones {_few(bad)}: {reasons[0]})",
        InvalidGeometryWarning,
        stacklevel=3,
    )
    fixed = geoms.copy()
    fixed[invalid] = shapely.make_valid(geoms[invalid].to_numpy(), method="structure", keep_collapsed=False)
    if (fixed.isna() | fixed.is_empty).any():
        gone = gdf.loc[fixed.isna() | fixed.is_empty, ZONE]
        raise InvalidGeometryError(f"zone(s) {_few(gone)} have no area left once repaired; drop them")
    return fixed


def read_zones(
    zones: Any,
    *,
    id: str | None = None,
    ids: Sequence[Any] | None = None,
    crs: Any = None,
    layer: str | int | None = None,
    fix_invalid: bool = True,
) -> gpd.GeoDataFrame:
    """Normalise zones to a GeoDataFrame ``(zone, geometry)`` in their own CRS; reads files (eager).

    Parameters
    ----------
    zones
        A GeoDataFrame/GeoSeries, a vector file path (GeoJSON, GeoPackage, FlatGeobuf, Shapefile,
        (Geo)Parquet), a GeoJSON mapping, one shapely geometry, a mapping ``id -> geometry`` or a
        sequence of geometries (with ``ids=``).
    id
        Column holding the zone ids (files, GeoDataFrames).  Default: ``id`` if present, else
        0, 1, 2... in feature order.
    ids
        The ids of a sequence of geometries (default 0, 1, 2...).
    crs
        CRS of zones that carry none (shapely geometries, a GeoDataFrame without CRS); GeoJSON
        mappings default to EPSG:4326.  Contradicting the zones' own CRS is an error.
    layer
        Layer name or index of a multi-layer file (GeoPackage).
    fix_invalid
        Repair invalid geometries with ``shapely.make_valid`` (default, with a warning) or refuse them.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``zone`` and ``geometry``, one row per zone in input order, RangeIndex.

    Raises
    ------
    VectorFileNotFoundError, VectorFileError
        The file does not exist or cannot be read.
    EmptyZonesError, MissingCRSError, InvalidGeometryError, ZonesError
        No features, no CRS, missing/invalid geometries, missing/duplicate ids.
    """
    import geopandas as gpd
    from pyproj import CRS

    gdf, given = _to_frame(zones, ids, crs, layer)
    if len(gdf) == 0:
        raise EmptyZonesError("the zones hold no features (an empty layer?); give at least one zone")
    if gdf.crs is None:
        if crs is None:
            raise MissingCRSError(
                "the zones carry no CRS; pass crs= (e.g. crs='EPSG:4326' for lon/lat, or the data's CRS)"
            )
        gdf = gdf.set_crs(crs)
    elif crs is not None and CRS.from_user_input(crs) != gdf.crs:
        raise ZonesError(
            f"crs={crs!r} contradicts the zones' own CRS {gdf.crs.to_string()}; drop crs= "
            "(zones are reprojected to the data's grid anyway)"
        )
    out = gpd.GeoDataFrame({ZONE: _ids(gdf, id, given)}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    out = out.set_geometry(_check_geometries(out, fix_invalid).to_numpy(), crs=gdf.crs)
    return out.rename_geometry("geometry") if out.geometry.name != "geometry" else out
