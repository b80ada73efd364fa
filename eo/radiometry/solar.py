"""Sun position and earth-sun distance from time and place (pure numpy).

The formulas are those of the NOAA Global Monitoring Laboratory solar calculator
(``https://gml.noaa.gov/grad/solcalc/calcdetails.html``), which implements the low-precision
solar coordinates of Meeus, *Astronomical Algorithms* (2nd ed., 1998), chapters 25 and 28:

- geometric mean longitude ``L0``, mean anomaly ``M`` and orbit eccentricity ``e`` of the sun as
  polynomials of the Julian century ``T`` since J2000.0;
- equation of the centre ``C``, true anomaly ``v = M + C``, radius vector
  ``R = 1.000001018 (1 - e^2) / (1 + e cos v)`` (AU);
- apparent longitude (nutation and aberration), corrected obliquity, declination;
- equation of time, true solar time, hour angle, then the zenith from the spherical-astronomy
  identity ``cos z = sin(lat) sin(dec) + cos(lat) cos(dec) cos(h)``.

NOAA quotes an accuracy of about 0.01 degree (and one minute of time) for dates between 1800 and
2100 at latitudes within +-72 degrees.  Elevations here are **geometric** (no atmospheric
refraction), which is what the ``view:sun_elevation`` of Landsat and Sentinel-2 metadata reports.

Every function takes times as ``numpy.datetime64`` (any unit; NaT gives NaN) and returns float64
arrays broadcast against the inputs.  These are small per-scene arrays, never per-pixel data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: Julian day of the Unix epoch (1970-01-01T00:00:00 UTC).
_JD_UNIX_EPOCH = 2440587.5
#: Julian day of J2000.0 (2000-01-01T12:00:00 TT, taken as UTC here: the 69 s difference is negligible).
_JD_J2000 = 2451545.0

FloatArray = npt.NDArray[np.float64]


def julian_day(time: Any) -> FloatArray:
    """Julian day (float64 days) of ``time`` (datetime64-like, UTC); NaT gives NaN."""
    t = np.asarray(time, dtype="datetime64[ns]")
    ns = t.astype(np.int64).astype(np.float64)
    jd = ns / 86_400e9 + _JD_UNIX_EPOCH
    return np.where(np.isnat(t), np.nan, jd)


def _solar_coordinates(time: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Declination (rad), equation of time (minutes) and radius vector (AU) after NOAA/Meeus."""
    jc = (julian_day(time) - _JD_J2000) / 36525.0
    l0 = np.radians(np.mod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0))
    m = np.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    c = (
        np.sin(m) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + np.sin(2 * m) * (0.019993 - 0.000101 * jc)
        + np.sin(3 * m) * 0.000289
    )
    true_long = np.degrees(l0) + c
    true_anomaly = np.radians(np.degrees(m) + c)
    radius = 1.000001018 * (1 - e * e) / (1 + e * np.cos(true_anomaly))
    omega = np.radians(125.04 - 1934.136 * jc)
    apparent_long = np.radians(true_long - 0.00569 - 0.00478 * np.sin(omega))
    mean_obliquity = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60
    obliquity = np.radians(mean_obliquity + 0.00256 * np.cos(omega))
    declination = np.arcsin(np.sin(obliquity) * np.sin(apparent_long))
    y = np.tan(obliquity / 2) ** 2
    eot = 4 * np.degrees(
        y * np.sin(2 * l0)
        - 2 * e * np.sin(m)
        + 4 * e * y * np.sin(m) * np.cos(2 * l0)
        - 0.5 * y * y * np.sin(4 * l0)
        - 1.25 * e * e * np.sin(2 * m)
    )
    return declination, eot, radius


def earth_sun_distance(time: Any) -> FloatArray:
    """Earth-sun distance in astronomical units (float64) at ``time`` (UTC).

    About 0.9833 AU at perihelion (early January) and 1.0167 AU at aphelion (early July).
    """
    return _solar_coordinates(time)[2]


def sun_position(time: Any, lon: Any, lat: Any) -> tuple[FloatArray, FloatArray]:
    """Geometric sun elevation and azimuth in degrees (float64) seen from ``lon``/``lat`` at ``time``.

    Parameters
    ----------
    time
        UTC times (datetime64-like); NaT gives NaN.
    lon, lat
        Geographic position in degrees (EPSG:4326, east and north positive); broadcast with ``time``.

    Returns
    -------
    elevation, azimuth
        Elevation above the horizon (no refraction), degrees in [-90, 90]; azimuth clockwise from
        north, degrees in [0, 360).
    """
    t = np.asarray(time, dtype="datetime64[ns]")
    declination, eot, _ = _solar_coordinates(t)
    minutes = (t - t.astype("datetime64[D]")).astype("timedelta64[ns]").astype(np.int64) / 60e9
    true_solar_time = np.mod(minutes + eot + 4.0 * np.asarray(lon, dtype=np.float64), 1440.0)
    hour_angle = np.radians(true_solar_time / 4.0 - 180.0)
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    cos_zenith = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(hour_angle)
    zenith = np.arccos(np.clip(cos_zenith, -1.0, 1.0))
    elevation = 90.0 - np.degrees(zenith)
    # Azimuth from north, clockwise (atan2 form of NOAA's acos expression: no quadrant test needed).
    azimuth = np.degrees(
        np.arctan2(
            np.sin(hour_angle),
            np.cos(hour_angle) * np.sin(phi) - np.tan(declination) * np.cos(phi),
        )
    )
    azimuth = np.mod(azimuth + 180.0, 360.0)
    return elevation, azimuth


def sun_elevation(time: Any, lon: Any, lat: Any) -> FloatArray:
    """Geometric sun elevation in degrees (float64); see :func:`sun_position`."""
    return sun_position(time, lon, lat)[0]
