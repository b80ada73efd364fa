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

from eo.catalog.records import AssetRecord, ParsedItem
from eo.loading.plan import BandPlan
from eo.radiometry.state import UNITS
from eo.sensors.model import Band, Product, SensorProfile


def _text(value: str | None) -> str:
    return value or ""


def _flag(value: bool | None) -> float:
    return math.nan if value is None else (1.0 if value else 0.0)


#: Per-time coordinate -> (dtype, how to read it from the first item of the slice).
TIME_COORDS: dict[str, tuple[str, Callable[[ParsedItem], Any]]] = {
    "id": ("str", lambda it: it.id),
    "platform": ("str", lambda it: _text(it.facts.platform)),
    "sun_elevation": ("float64", lambda it: it.facts.sun_elevation),
    "sun_azimuth": ("float64", lambda it: it.facts.sun_azimuth),
    "cloud_cover": ("float64", lambda it: it.facts.cloud_cover),
    "processing_baseline": ("str", lambda it: _text(it.facts.processing_baseline)),
    "boa_offset_applied": ("float64", lambda it: _flag(it.facts.boa_offset_applied)),
    # why the time coordinate is what it is ("unknown: ..." when the acquisition date is not known)
    "datetime_source": ("str", lambda it: _text(it.facts.datetime_source)),
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
        rec = g[0].assets.get(plan.var)
        if rec is None or rec.band != plan.band.name:
            rec = g[0].assets.get(plan.band.name)
        scales.append(math.nan if rec is None or rec.scale is None else rec.scale)
        offsets.append(math.nan if rec is None or rec.offset is None else rec.offset)
    return {
        f"{plan.var}_scale": ("time", np.array(scales, dtype="float64")),
        f"{plan.var}_offset": ("time", np.array(offsets, dtype="float64")),
    }


def _records(plan: BandPlan, groups: Sequence[Sequence[ParsedItem]]) -> list[AssetRecord]:
    """The first item's record of the variable in each slice."""
    out = []
    for g in groups:
        rec = g[0].assets.get(plan.var)
        if rec is None or rec.band != plan.band.name:
            rec = g[0].assets.get(plan.band.name)
        if rec is not None:
            out.append(rec)
    return out


def encodes_of(plan: BandPlan, product: Product) -> str:
    """Return the physical quantity scale/offset yield for this band."""
    if plan.band.kind in ("qa", "class"):
        return "class"
    if plan.band.encodes is not None:
        return plan.band.encodes
    cal = product.bands.get(plan.band.name)
    if cal is not None and cal.k1 is not None and cal.k2 is not None:
        return "brightness_temperature"
    return product.state


def _scaled(records: Sequence[AssetRecord]) -> bool:
    return any((r.scale not in (None, 1.0)) or (r.offset not in (None, 0.0)) for r in records)


def var_attrs(plan: BandPlan, product: Product, groups: Sequence[Sequence[ParsedItem]]) -> dict[str, Any]:
    """Attributes of one variable (see the Dataset contract)."""
    band = plan.band
    records = _records(plan, groups)
    encodes = encodes_of(plan, product)
    if band.kind in ("qa", "class"):
        state = "class"
    elif band.stored is not None:  # the item says what its stored values are (eo's own outputs)
        state = encodes = band.stored
    elif plan.dtype.kind in "iu" or _scaled(records):
        state = "dn"
    else:
        encodes = "physical" if encodes == "unknown" else encodes
        state = encodes
    units = next((r.unit for r in records if r.unit), None)
    if units is None:
        units = UNITS.get(encodes) or ("1" if encodes == "class" else product.units)
    attrs: dict[str, Any] = {
        "band": band.name,
        "common_name": band.common_name or "",
        "kind": band.kind,
        "state": state,
        "encodes": encodes,
    }
    if band.asi:
        attrs["asi"] = band.asi
    if band.center_wavelength is not None:
        attrs["center_wavelength"] = band.center_wavelength
    if plan.nodata is not None:
        attrs["nodata"] = plan.nodata
    if units:
        attrs["units"] = units
    attrs["resampling"] = plan.resampling
    if band.kind in ("qa", "class"):
        attrs.update(_flag_attrs(band, records, product))
    return attrs


def _flag_attrs(band: Band, records: Sequence[AssetRecord], product: Product) -> dict[str, Any]:
    """CF flag attributes of a QA/class variable: the item's classification table, else the profile's."""
    from eo.masking.flags import from_decoding, to_attrs

    flags = next((r.flags for r in records if r.flags), ())
    if not flags and product.qa is not None and product.qa.band == band.name:
        flags = from_decoding(product.qa)
    return to_attrs(flags)


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
    attrs = {"sensor": profile.id, "product": product.id}
    policies = {it.boa_offset_policy for g in groups for it in g}
    if len(policies) == 1 and None not in policies:
        attrs["boa_offset_policy"] = str(policies.pop())  # the catalogue's, read by eo.calibrate
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
