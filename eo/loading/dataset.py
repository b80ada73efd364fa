"""Assembling the loaded :class:`xarray.Dataset`: coordinates and attributes (pure).

Follows the Dataset contract of eo (dims ``(time, y, x)``, odc-geo coordinates, per-time
item facts, per-band per-time ``<var>_scale``/``<var>_offset``, variable attrs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from eo.catalog.records import ParsedItem
from eo.loading.plan import BandPlan
from eo.sensors.model import Product, SensorProfile


def _prop(props: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if props.get(n) is not None:
            return props[n]
    return None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _sun_elevation(p: Mapping[str, Any]) -> float:
    value = _float(_prop(p, "view:sun_elevation", "sun_elevation", "eo:sun_elevation"))
    if math.isnan(value):
        zenith = _float(_prop(p, "s2:mean_solar_zenith", "view:sun_zenith"))
        value = 90.0 - zenith
    return value


def _boa(p: Mapping[str, Any]) -> float:
    value = p.get("earthsearch:boa_offset_applied")
    return math.nan if value is None else (1.0 if bool(value) else 0.0)


#: Per-time coordinate -> (dtype, how to read it from the first item of the slice).
TIME_COORDS: dict[str, tuple[str, Callable[[ParsedItem], Any]]] = {
    "id": ("str", lambda it: it.id),
    "platform": ("str", lambda it: str(_prop(it.properties, "platform", "eo:platform") or "")),
    "sun_elevation": ("float64", lambda it: _sun_elevation(it.properties)),
    "sun_azimuth": (
        "float64",
        lambda it: _float(
            _prop(it.properties, "view:sun_azimuth", "sun_azimuth", "eo:sun_azimuth", "s2:mean_solar_azimuth")
        ),
    ),
    "cloud_cover": ("float64", lambda it: _float(_prop(it.properties, "eo:cloud_cover", "cloud_cover"))),
    "processing_baseline": (
        "str",
        lambda it: str(
            _prop(it.properties, "s2:processing_baseline", "processing:baseline", "processing_baseline") or ""
        ),
    ),
    "boa_offset_applied": ("float64", lambda it: _boa(it.properties)),
    # why the time coordinate is what it is ("unknown: ..." when the acquisition date is not known)
    "datetime_source": ("str", lambda it: str(it.properties.get("eotk:datetime_source") or "")),
}


def time_coords(groups: Sequence[Sequence[ParsedItem]]) -> dict[str, Any]:
    """``time`` (datetime64[ns], UTC, the first item's) and the per-time item facts."""
    firsts = [g[0] for g in groups]
    times = (
        pd.DatetimeIndex([it.datetime for it in firsts])
        .tz_convert("UTC")
        .tz_localize(None)
        .astype("datetime64[ns]")
    )
    coords: dict[str, Any] = {"time": ("time", times.values)}
    for name, (dtype, read) in TIME_COORDS.items():
        values = [read(it) for it in firsts]
        coords[name] = (
            "time",
            np.array(values, dtype=object if dtype == "str" else dtype).astype(
                str if dtype == "str" else dtype
            ),
        )
    return coords


def scale_offset_coords(plan: BandPlan, groups: Sequence[Sequence[ParsedItem]]) -> dict[str, Any]:
    """Build ``<var>_scale`` / ``<var>_offset`` per time: the first item's ``raster:bands``, NaN if absent."""
    scales, offsets = [], []
    for g in groups:
        rec = g[0].assets.get(plan.band.name)
        scales.append(math.nan if rec is None or rec.scale is None else rec.scale)
        offsets.append(math.nan if rec is None or rec.offset is None else rec.offset)
    return {
        f"{plan.var}_scale": ("time", np.array(scales, dtype="float64")),
        f"{plan.var}_offset": ("time", np.array(offsets, dtype="float64")),
    }


def encodes_of(plan: BandPlan, product: Product) -> str:
    """Return the physical quantity scale/offset yield for this band."""
    if plan.band.kind in ("qa", "class"):
        return "class"
    cal = product.bands.get(plan.band.name)
    if cal is not None and cal.k1 is not None and cal.k2 is not None:
        return "brightness_temperature"
    return product.state


def var_attrs(plan: BandPlan, product: Product, groups: Sequence[Sequence[ParsedItem]]) -> dict[str, Any]:
    """Attributes of one variable (see the Dataset contract)."""
    band = plan.band
    encodes = encodes_of(plan, product)
    if band.kind in ("qa", "class"):
        state = "class"
    elif plan.dtype.kind in "iu":
        state = "dn"
    else:
        state = encodes
    units = next(
        (
            g[0].assets[band.name].unit
            for g in groups
            if band.name in g[0].assets and g[0].assets[band.name].unit
        ),
        None,
    )
    if units is None:
        units = "K" if encodes == "brightness_temperature" else ("1" if encodes == "class" else product.units)
    attrs: dict[str, Any] = {
        "band": band.name,
        "common_name": band.common_name or "",
        "kind": band.kind,
        "state": state,
        "encodes": encodes,
    }
    if band.asi:
        attrs["asi"] = band.asi
    if plan.nodata is not None:
        attrs["nodata"] = plan.nodata
    if units:
        attrs["units"] = units
    attrs["resampling"] = plan.resampling
    return attrs


def assemble(
    arrays: Mapping[str, Any],
    plans: Sequence[BandPlan],
    geobox: GeoBox,
    groups: Sequence[Sequence[ParsedItem]],
    profile: SensorProfile,
    product: Product,
) -> xr.Dataset:
    """Build the Dataset from per-variable Dask arrays."""
    coords: dict[str, Any] = {
        str(k): v for k, v in xr_coords(geobox, always_yx=True, dims=("y", "x")).items()
    }
    coords.update(time_coords(groups))
    data_vars: dict[str, Any] = {}
    for plan in plans:
        coords.update(scale_offset_coords(plan, groups))
        data_vars[plan.var] = xr.Variable(
            ("time", "y", "x"), arrays[plan.var], attrs=var_attrs(plan, product, groups)
        )
    return xr.Dataset(data_vars, coords=coords, attrs={"sensor": profile.id, "product": product.id})
