"""Radiometry: scale/offset exactly once, DN -> radiance -> TOA reflectance, brightness temperature.

:func:`calibrate` is the public entry (``eo.calibrate``).  The modules:

- :mod:`~eo.radiometry.state`: the radiometric state machine (``state`` attr, allowed conversions);
- :mod:`~eo.radiometry.scale`: ``raster:bands`` vs profile scale/offset, Sentinel-2 offset policies;
- :mod:`~eo.radiometry.plan`: per-variable choice of formula and coefficient sources (pure);
- :mod:`~eo.radiometry.toa`: the formulas and the one-pass float32 kernel;
- :mod:`~eo.radiometry.sun`: per-time sun elevation and earth-sun distance of a dataset;
- :mod:`~eo.radiometry.solar`: NOAA/Meeus solar position (pure numpy).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from eo.errors import BandNotFoundError, MetadataWarning, NotFoundError
from eo.radiometry.plan import ROUTES, BandContext, resolve_target
from eo.radiometry.scale import OFFSET_POLICIES, OffsetPolicy, get_offset_policy
from eo.radiometry.solar import earth_sun_distance, sun_elevation, sun_position
from eo.radiometry.state import check_target, check_transition, current_state, output_attrs
from eo.radiometry.sun import SunElevationArg, SunGeometry
from eo.radiometry.toa import Conversion, apply
from eo.sensors.model import BandCalibration, Product, SensorProfile

__all__ = [
    "OFFSET_POLICIES",
    "OffsetPolicy",
    "calibrate",
    "earth_sun_distance",
    "sun_elevation",
    "sun_position",
]

Profile = tuple[SensorProfile, Product]

#: States that hold final values already: calibrate leaves them (turning a numeric nodata into NaN).
PASS_THROUGH = ("physical", "uncalibrated")


def _lookup_profile(ds: xr.Dataset) -> Profile | None:
    from eo.sensors.from_item import PRODUCT as FROM_METADATA

    sensor, product = ds.attrs.get("sensor"), ds.attrs.get("product")
    if not sensor or not product or product == FROM_METADATA:
        return None  # an item without a profile: its metadata travelled with the dataset
    try:
        from eo.sensors import get_product

        found: Profile = get_product(f"{sensor}:{product}")
    except (ImportError, NotFoundError) as err:
        warnings.warn(
            f"no sensor profile for {sensor}:{product} ({err}); calibrating from item metadata only",
            MetadataWarning,
            stacklevel=3,
        )
        return None
    return found


def _context(
    name: Hashable, da: xr.DataArray, ds: xr.Dataset, sun: SunGeometry, profile: Profile | None, policy: Any
) -> BandContext:
    state = current_state(str(name), da.attrs, np.issubdtype(da.dtype, np.integer))
    sensor, product = (profile[0], profile[1]) if profile else (None, None)
    band = None
    if sensor is not None:
        try:
            band = sensor.band(str(da.attrs.get("band", name)))
        except BandNotFoundError:
            band = None
    cal = product.bands.get(band.name, BandCalibration()) if (product and band) else BandCalibration()
    return BandContext(
        name=str(name),
        state=state,
        encodes=da.attrs.get("encodes") or (product.state if product else None),
        ds=ds,
        sun=sun,
        band=band,
        calibration=cal,
        product=product,
        sensor=sensor.id if sensor else ds.attrs.get("sensor"),
        policy=policy[1],
        policy_name=policy[0],
    )


def calibrate(
    ds: xr.Dataset,
    to: str = "reflectance",
    *,
    sun_elevation: SunElevationArg = None,
    boa_offset_policy: str | OffsetPolicy | None = None,
    profile: Profile | None = None,
) -> xr.Dataset:
    """Convert the measurement variables of a loaded dataset to physical values, lazily, in float32.

    Parameters
    ----------
    ds
        A dataset following the loading contract (``eo.load``): dims ``(time, y, x)``, variable attrs
        ``state``/``encodes``/``nodata``/``kind``/``band``, per-time coords (``sun_elevation``,
        ``processing_baseline``, ``id``, ``boa_offset_applied``, ``<var>_scale``/``<var>_offset``) and
        ``attrs["sensor"]``/``attrs["product"]`` naming the sensor profile.
    to
        ``"reflectance"`` (default): the physical quantity the product encodes, per band: TOA
        reflectance for Level-1 products, surface reflectance for Level-2 ones, brightness temperature
        for thermal bands; for bands of items without a sensor profile, ``physical`` (``DN * scale +
        offset`` from ``raster:bands``, units as the item states) or, where no calibration is known
        at all (NAIP DNs), ``uncalibrated``: the stored values as float32, unscaled, the state saying
        so.  ``"toa_reflectance"``, ``"surface_reflectance"`` (Level-2 only),
        ``"radiance"`` (TOA spectral radiance, W m-2 sr-1 um-1; Level-1 only) and
        ``"brightness_temperature"`` (kelvin; thermal bands) ask for one state explicitly.
    sun_elevation
        Degrees (one number, or one per time slice); used for slices whose item gives no
        ``view:sun_elevation`` and whose sun position cannot be computed (unknown acquisition date, see
        :mod:`eo.radiometry.sun`).  Required then; ignored where the item or the date decide.
    boa_offset_policy
        Sentinel-2 offset policy name (``"flag"`` default, ``"raster-bands"``, ``"baseline"``; see
        :mod:`eo.radiometry.scale`) or callable; ``None`` uses ``ds.attrs["boa_offset_policy"]`` (set from
        the catalogue definition), else the default.
    profile
        ``(SensorProfile, Product)`` to use instead of looking up ``ds.attrs["sensor"]:["product"]`` in
        the sensor registry.

    Returns
    -------
    xarray.Dataset
        Measurement variables converted to float32 (nodata -> NaN; variables already ``physical`` only
        get their nodata turned into NaN) with attrs ``state`` (the target),
        ``units`` (``"1"``, ``"W m-2 sr-1 um-1"`` or ``"K"``), ``nodata`` = NaN and ``calibration`` (the
        formula and the source of every coefficient: ``raster:bands`` | ``profile`` |
        ``processing_baseline`` | ``item`` | ``computed`` | ``argument``).  Their ``<var>_scale``/
        ``<var>_offset`` coords are dropped (consumed).  ``qa``/``class`` variables pass through
        unchanged.  Lazy: Dask-backed input gives a Dask graph with one task per chunk and variable.

    Raises
    ------
    eo.errors.AlreadyCalibratedError
        A variable is already in the target state (scale/offset is never applied twice).
    eo.errors.CalibrationError
        A conversion is not possible (missing coefficients, unknown sun elevation, a Level-1 product
        asked for surface reflectance...); the message says what to pass or load instead.

    Examples
    --------
    >>> refl = eo.calibrate(ds)
    >>> refl.red.attrs["state"], refl.red.dtype, refl.red.attrs["units"]
    ('surface_reflectance', dtype('float32'), '1')
    >>> eo.calibrate(refl)
    Traceback (most recent call last):
    eo.errors.AlreadyCalibratedError: variable 'red' is already surface_reflectance ...
    """
    check_target(to)
    profile = profile if profile is not None else _lookup_profile(ds)
    policy = get_offset_policy(boa_offset_policy or ds.attrs.get("boa_offset_policy"))
    sun = SunGeometry(ds, sun_elevation)
    converted: dict[Hashable, xr.DataArray] = {}
    consumed: list[Hashable] = []
    for name, da in ds.data_vars.items():
        if da.attrs.get("kind", "measurement") != "measurement" or da.attrs.get("state") == "class":
            continue
        ctx = _context(name, da, ds, sun, profile, policy)
        target = resolve_target(ctx, to)
        nodata = None if da.attrs.get("nodata") is None else float(da.attrs["nodata"])
        if ctx.state in PASS_THROUGH and target == ctx.state:
            # already a physical quantity (a float DEM, backscatter...): nothing to scale; nodata -> NaN
            if nodata is not None and not math.isnan(nodata):
                out = apply(da, Conversion.identity(ctx.n_time), nodata)
                out.attrs = {**da.attrs, "nodata": math.nan}
                out.attrs["calibration"] = f"{ctx.state}: nodata {nodata:g} -> NaN"
                converted[name] = out
            continue
        check_transition(ctx.name, ctx.state, target, da.attrs.get("calibration"))
        conversion = ROUTES[target](ctx)
        steps = list(conversion.steps)
        if nodata is not None and not math.isnan(nodata):
            steps.append(f"nodata {nodata:g} -> NaN")
        out = apply(da, conversion, nodata)
        out.attrs = output_attrs(da.attrs, target, f"{ctx.state} -> {target}: " + "; ".join(steps))
        converted[name] = out
        consumed += [c for c in (f"{name}_scale", f"{name}_offset") if c in ds.coords]
    return ds.assign(converted).drop_vars(consumed)
