"""Decide, per variable, how to reach a radiometric target: which formula, which coefficients, from where.

Pure: reads attrs, numpy coordinates and the sensor profile, returns a :class:`~eo.radiometry.toa.Conversion`
(per-time float64 coefficients and a text of the steps).  Nothing here touches pixel data.

Coefficient sources, per time slice, first that applies:

- scale/offset: ``raster:bands`` (``<var>_scale``/``<var>_offset`` coords) > profile band calibration >
  product default; for Sentinel-2 the offset follows the offset policy (:mod:`eo.radiometry.scale`);
- gain/bias (``radiance_mult``/``radiance_add``, ``reflectance_mult``/``reflectance_add``, ``k1``/``k2``):
  the item's MTL-style values (per-time coords ``<var>_radiance_mult`` ... ``<var>_k2``, NaN where the item
  gives none; source ``item``) > profile band calibration (``profile``).  For a Landsat-style band whose
  ``encodes`` is ``toa_reflectance`` the ``raster:bands`` scale/offset stand for ``reflectance_mult/add``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import xarray as xr

from eo.errors import CalibrationError
from eo.radiometry import scale as sc
from eo.radiometry.sun import SunGeometry, per_time
from eo.radiometry.toa import (
    Conversion,
    radiance_to_reflectance,
    reflectance_to_radiance,
    sun_correction,
)
from eo.sensors.model import Band, BandCalibration, Product

FloatArray = npt.NDArray[np.float64]

#: Bands centred at or beyond this wavelength (micrometres) measure emitted, not reflected, radiation.
EMISSIVE_FROM_UM = 3.0

#: Per-band gain/bias fields an item may give (as coords ``<var>_<field>``) or a profile may hold.
GAIN_FIELDS = ("radiance_mult", "radiance_add", "reflectance_mult", "reflectance_add", "k1", "k2")


@dataclass
class BandContext:
    """Everything known about one variable that a conversion may need."""

    name: str
    state: str
    encodes: str | None
    ds: xr.Dataset
    sun: SunGeometry
    band: Band | None = None
    calibration: BandCalibration = field(default_factory=BandCalibration)
    product: Product | None = None
    sensor: str | None = None
    policy: sc.OffsetPolicy = sc.OFFSET_POLICIES[sc.DEFAULT_OFFSET_POLICY]
    policy_name: str = sc.DEFAULT_OFFSET_POLICY

    @property
    def n_time(self) -> int:
        """Number of time slices."""
        return self.sun.n_time

    def where(self) -> str:
        """How the variable is named in messages."""
        band = f" (band {self.band.name})" if self.band else ""
        prod = f" of {self.sensor}:{self.product.id}" if self.product else ""
        return f"variable {self.name!r}{band}{prod}"

    # --- coefficients -----------------------------------------------------------

    def gain(self, key: str) -> tuple[FloatArray, tuple[str, ...]] | None:
        """Return ``key`` (in :data:`GAIN_FIELDS`) per slice from the item, else the profile, or ``None``."""
        item = per_time(self.ds, f"{self.name}_{key}", np.nan)
        prof = getattr(self.calibration, key)
        have = np.isfinite(item)
        if not have.all() and prof is None:
            return None
        values = np.where(have, item, np.nan if prof is None else float(prof))
        return values, tuple("item" if h else "profile" for h in have)

    def linear(self) -> sc.Linear:
        """``raster:bands`` > profile scale/offset per slice (offset policy for Sentinel-2)."""
        rscale = per_time(self.ds, f"{self.name}_scale", np.nan)
        roffset = per_time(self.ds, f"{self.name}_offset", np.nan)
        pscale, poffset = self.calibration.scale, self.calibration.offset
        if self.product is not None:
            pscale = self.product.scale if pscale is None else pscale
            poffset = self.product.offset if poffset is None else poffset
        if pscale is None and self.encodes == "physical":
            # a band described by its item only: scale 1 where raster:bands gives just an offset
            pscale = 1.0 if (np.isfinite(rscale) | np.isfinite(roffset)).all() else None
        if pscale is None and not np.isfinite(rscale).all():
            raise CalibrationError(
                f"{self.where()}: no scale for some time slices: the item gives no raster:bands scale and no "
                "sensor profile is known (set ds.attrs['sensor'/'product'] or pass profile=)"
            )
        rule = sc.baseline_rule(self.sensor)
        baselines = None
        if rule is not None:
            coord = [sc.parse_baseline(v) for v in per_time(self.ds, "processing_baseline", "", object)]
            ids = [sc.baseline_from_id(v) for v in per_time(self.ds, "id", "", object)]
            baselines = np.array([c if math.isfinite(c) else i for c, i in zip(coord, ids)], dtype=np.float64)
        return sc.linear_coefficients(
            rscale,
            roffset,
            1.0 if pscale is None else float(pscale),
            0.0 if poffset is None else float(poffset),
            rule=rule,
            baselines=baselines,
            offset_applied=per_time(self.ds, "boa_offset_applied", np.nan),
            policy=self.policy,
        )

    def esun(self) -> float:
        """Return the band's ESUN (W m-2 um-1) from the profile; raise when unknown."""
        if self.band is None or self.band.esun is None:
            raise CalibrationError(
                f"{self.where()}: the profile gives no ESUN (solar irradiance) for this band"
            )
        return float(self.band.esun)

    def has_planck_constants(self) -> bool:
        """Tell whether K1/K2 are known for every slice."""
        return self.gain("k1") is not None and self.gain("k2") is not None

    def is_thermal(self) -> bool:
        """Tell whether the band measures emitted radiation.

        True when K1/K2 are known, when the values are or encode a temperature, or when the band's centre
        wavelength is at least :data:`EMISSIVE_FROM_UM` (e.g. Landsat Collection-2 Level-2 ``ST_B10``,
        whose product-level ``state`` is surface reflectance but whose band scale gives kelvin).
        """
        if self.has_planck_constants() or "brightness_temperature" in (self.encodes, self.state):
            return True
        wavelength = self.band.center_wavelength if self.band else None
        return wavelength is not None and wavelength >= EMISSIVE_FROM_UM

    def reflectance_gains(self) -> tuple[FloatArray, FloatArray, str] | None:
        """Landsat-style ``Mrho``/``Arho`` (item > raster:bands > profile), or ``None``."""
        m, a = self.gain("reflectance_mult"), self.gain("reflectance_add")
        if m is None or a is None:
            return None
        if self.encodes == "toa_reflectance":
            lin = self.linear()
            rs = per_time(self.ds, f"{self.name}_scale", np.nan)
            use = np.isfinite(rs) & (np.array(m[1]) != "item")
            m = (np.where(use, lin.scale, m[0]), tuple("raster:bands" if u else s for u, s in zip(use, m[1])))
            a = (
                np.where(use, lin.offset, a[0]),
                tuple("raster:bands" if u else s for u, s in zip(use, a[1])),
            )
        text = f"Mrho={sc.summarise(*m)}, Arho={sc.summarise(*a)}"
        return m[0], a[0], text


# --- routes: one function per target ---------------------------------------------


def _scale_step(ctx: BandContext, conv: Conversion, quantity: str | None = None) -> Conversion:
    lin = ctx.linear()
    scale, offset = sc.summarise(lin.scale, lin.scale_source), sc.summarise(lin.offset, lin.offset_source)
    text = f"{quantity or ctx.encodes} = DN * scale + offset, scale={scale}, offset={offset}"
    if sc.baseline_rule(ctx.sensor) is not None:
        text += f" (offset policy {ctx.policy_name!r})"
    return conv.then(lin.scale, lin.offset, text)


def _sun_text(ctx: BandContext) -> str:
    return f"sun_elevation={sc.summarise(*ctx.sun.elevation)} deg"


def _fail(ctx: BandContext, target: str, why: str) -> CalibrationError:
    return CalibrationError(f"{ctx.where()} is {ctx.state} and cannot become {target}: {why}")


def _rho_to_radiance(ctx: BandContext) -> tuple[FloatArray, FloatArray, str]:
    factor = reflectance_to_radiance(ctx.esun(), ctx.sun.distance, ctx.sun.elevation[0])
    text = f"L = rho * ESUN * cos(sza) / (pi * d^2), ESUN={ctx.esun():g} (profile), d from date, "
    text += _sun_text(ctx)
    return factor, np.zeros(ctx.n_time), text


def _radiance_to_rho(ctx: BandContext) -> tuple[FloatArray, FloatArray, str]:
    if ctx.band is not None and ctx.band.esun is not None:
        factor = radiance_to_reflectance(ctx.esun(), ctx.sun.distance, ctx.sun.elevation[0])
        text = f"rho = pi * L * d^2 / (ESUN * cos(sza)), ESUN={ctx.esun():g} (profile), d from date, "
        text += _sun_text(ctx)
        return factor, np.zeros(ctx.n_time), text
    ml, al, landsat = ctx.gain("radiance_mult"), ctx.gain("radiance_add"), ctx.reflectance_gains()
    if ml is None or al is None or landsat is None:
        raise _fail(
            ctx, "toa_reflectance", "the profile gives neither ESUN nor radiance and reflectance gains"
        )
    # DN = (L - AL) / ML, then USGS rho = (Mrho * DN + Arho) / sin(e).
    m, a, text = landsat
    k = sun_correction(ctx.sun.elevation[0])
    gain, bias = m / ml[0] * k, (a - m * al[0] / ml[0]) * k
    return gain, bias, f"rho = (Mrho * (L - AL) / ML + Arho) / sin(sun_elevation), {text}, {_sun_text(ctx)}"


def to_radiance(ctx: BandContext) -> Conversion:
    """TOA spectral radiance, W m-2 sr-1 um-1."""
    conv = Conversion.identity(ctx.n_time)
    if ctx.state == "toa_reflectance":
        return conv.then(*_rho_to_radiance(ctx))
    if ctx.state != "dn":
        raise _fail(ctx, "radiance", "no formula")
    ml, al = ctx.gain("radiance_mult"), ctx.gain("radiance_add")
    if ml is not None and al is not None:
        return conv.then(ml[0], al[0], f"L = ML * DN + AL, ML={sc.summarise(*ml)}, AL={sc.summarise(*al)}")
    if ctx.encodes == "radiance":
        return _scale_step(ctx, conv)
    if ctx.encodes == "toa_reflectance" and ctx.band is not None and ctx.band.esun is not None:
        return _scale_step(ctx, conv).then(*_rho_to_radiance(ctx))
    raise _fail(
        ctx,
        "radiance",
        f"no radiance gain/bias (item coords {ctx.name}_radiance_mult/_add or profile radiance_mult/add) "
        f"and the product encodes {ctx.encodes}",
    )


def to_toa_reflectance(ctx: BandContext) -> Conversion:
    """Top-of-atmosphere reflectance (unitless)."""
    if ctx.is_thermal():
        raise _fail(
            ctx, "toa_reflectance", "a thermal band has no reflectance: use to='brightness_temperature'"
        )
    conv = Conversion.identity(ctx.n_time)
    if ctx.state == "radiance":
        return conv.then(*_radiance_to_rho(ctx))
    if ctx.state != "dn":
        raise _fail(ctx, "toa_reflectance", "no formula")
    landsat = ctx.reflectance_gains()
    if landsat is not None:
        m, a, text = landsat
        k = sun_correction(ctx.sun.elevation[0])
        return conv.then(
            m * k, a * k, f"rho = (Mrho * DN + Arho) / sin(sun_elevation), {text}, {_sun_text(ctx)}"
        )
    if ctx.encodes == "toa_reflectance":
        return _scale_step(ctx, conv)
    return to_radiance(ctx).then(*_radiance_to_rho(ctx))


def to_surface_reflectance(ctx: BandContext) -> Conversion:
    """Surface reflectance (unitless): only from a Level-2 product's DN."""
    if ctx.is_thermal():
        raise _fail(
            ctx, "surface_reflectance", "a thermal band has no reflectance: use to='brightness_temperature'"
        )
    if ctx.state == "dn" and ctx.encodes == "surface_reflectance":
        return _scale_step(ctx, Conversion.identity(ctx.n_time))
    raise _fail(
        ctx, "surface_reflectance", f"the product encodes {ctx.encodes}; eo does no atmospheric correction"
    )


def to_brightness_temperature(ctx: BandContext) -> Conversion:
    """Brightness temperature, kelvin (thermal bands).

    From DN: ``DN * scale + offset`` when the product stores a temperature (``encodes`` it, or a thermal
    band without K1/K2 such as Landsat Collection-2 Level-2 surface temperature); else DN -> radiance ->
    inverse Planck with K1/K2.
    """
    planck = ctx.has_planck_constants()
    if ctx.state == "dn" and (ctx.encodes == "brightness_temperature" or (ctx.is_thermal() and not planck)):
        return _scale_step(ctx, Conversion.identity(ctx.n_time), "temperature [K]")
    k1, k2 = ctx.gain("k1"), ctx.gain("k2")
    if k1 is None or k2 is None:
        raise _fail(ctx, "brightness_temperature", "no K1/K2 thermal constants (not a thermal band?)")
    conv = to_radiance(ctx) if ctx.state == "dn" else Conversion.identity(ctx.n_time)
    text = f"T = K2 / ln(K1 / L + 1), K1={sc.summarise(*k1)}, K2={sc.summarise(*k2)}"
    return conv.then_planck(k1[0], k2[0], text)


def to_physical(ctx: BandContext) -> Conversion:
    """A physical quantity eo does not name (its ``units`` say what): ``DN * scale + offset``."""
    if ctx.state == "dn" and ctx.encodes == "physical":
        return _scale_step(ctx, Conversion.identity(ctx.n_time), "value")
    raise _fail(ctx, "physical", f"the band encodes {ctx.encodes}")


def to_uncalibrated(ctx: BandContext) -> Conversion:
    """No calibration is known (no ``raster:bands`` scale/offset, no profile): values pass as stored."""
    return Conversion.identity(ctx.n_time).then(
        np.ones(ctx.n_time),
        np.zeros(ctx.n_time),
        "no scale/offset in the item metadata or a sensor profile: values are the stored numbers, unscaled",
    )


#: Target state -> route.
ROUTES: dict[str, Callable[[BandContext], Conversion]] = {
    "radiance": to_radiance,
    "toa_reflectance": to_toa_reflectance,
    "surface_reflectance": to_surface_reflectance,
    "brightness_temperature": to_brightness_temperature,
    "physical": to_physical,
    "uncalibrated": to_uncalibrated,
}


def resolve_target(ctx: BandContext, to: str) -> str:
    """Return the state ``to`` means for this variable (``"reflectance"`` -> what the product encodes)."""
    if to != "reflectance":
        return to
    if ctx.encodes == "unknown":
        return "uncalibrated"
    if ctx.encodes == "physical":
        return "physical"
    if ctx.encodes == "radiance" and ctx.product is None:
        return "radiance"  # a band described by its item only: radiance is as far as the metadata goes
    if ctx.is_thermal():
        return "brightness_temperature"
    if "surface_reflectance" in (ctx.encodes, ctx.state):
        return "surface_reflectance"
    return "toa_reflectance"
