"""Sun position and earth-sun distance against published values and an independent formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eo.radiometry.solar import earth_sun_distance, julian_day, sun_position


def _almanac(time: np.datetime64, lon: float, lat: float) -> tuple[float, float]:
    """Independent check: the Astronomical Almanac's low-precision sun (section C, accuracy ~0.01 deg).

    Returns (elevation deg, distance AU).  Uses right ascension and Greenwich mean sidereal time
    instead of NOAA's equation of time, so a shared mistake is unlikely.
    """
    unix_s = (time - np.datetime64("1970-01-01T00:00:00", "ns")) / np.timedelta64(1, "s")
    n = unix_s / 86400.0 + 2440587.5 - 2451545.0
    mean_long = math.radians((280.460 + 0.9856474 * n) % 360)
    g = math.radians((357.528 + 0.9856003 * n) % 360)
    ecl_long = mean_long + math.radians(1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(eps) * math.sin(ecl_long), math.cos(ecl_long))
    dec = math.asin(math.sin(eps) * math.sin(ecl_long))
    gmst_deg = (280.46061837 + 360.98564736629 * n) % 360
    ha = math.radians(gmst_deg + lon) - ra
    phi = math.radians(lat)
    elev = math.degrees(
        math.asin(math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(ha))
    )
    dist = 1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g)
    return elev, dist


def test_julian_day_of_j2000_and_nat() -> None:
    jd = julian_day(np.array(["2000-01-01T12:00", "NaT"], dtype="datetime64[ns]"))
    assert jd[0] == 2451545.0
    assert np.isnan(jd[1])


@pytest.mark.parametrize("lat", [-30.0, 0.0, 23.44, 45.0, 60.0])
def test_june_solstice_noon_elevation_is_90_minus_lat_offset(lat: float) -> None:
    # 2021 June solstice 03:32 UTC; local apparent noon at lon 0 is ~12:01:40 UTC.
    elev, az = sun_position(np.datetime64("2021-06-21T12:01:40"), 0.0, lat)
    assert abs(float(elev) - (90 - abs(lat - 23.44))) < 0.1
    if lat > 24:
        assert abs(float(az) - 180.0) < 1.0  # due south at noon north of the tropic


def test_december_solstice_noon_elevation() -> None:
    # 2021-12-21, apparent noon at lon 0 is ~11:58 UTC; declination -23.44.
    elev, _ = sun_position(np.datetime64("2021-12-21T11:58:00"), 0.0, 50.0)
    assert abs(float(elev) - (90 - abs(50 + 23.44))) < 0.1


def test_equinox_sunrise_azimuth_is_east() -> None:
    # 2023-03-20 (equinox 21:24 UTC): at the equator the sun is ~east in the morning.
    elev, az = sun_position(np.datetime64("2023-03-20T09:00"), 0.0, 0.0)
    assert 40 < float(elev) < 50
    assert abs(float(az) - 90.0) < 2.0


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # USNO/IMCCE published apsides (Earth-Sun distance in AU, geocentric)
        ("2020-01-05T07:48", 0.98324),  # perihelion
        ("2020-07-04T11:35", 1.01669),  # aphelion
        ("2023-01-04T16:17", 0.98330),
        ("2023-07-06T20:07", 1.01668),
    ],
)
def test_earth_sun_distance_at_apsides(when: str, expected: float) -> None:
    # NOAA's formula ignores the Moon's pull on the Earth (~1e-4 AU): compare to 1.5e-4.
    assert abs(float(earth_sun_distance(np.datetime64(when))) - expected) < 1.5e-4


def test_earth_sun_distance_brief_values() -> None:
    d = earth_sun_distance(np.array(["2022-01-04", "2022-07-04"], dtype="datetime64[ns]"))
    np.testing.assert_allclose(d, [0.98329, 1.01671], atol=1.5e-4)


def test_vectorised_and_nat() -> None:
    t = np.array(["2022-05-01T10:00", "NaT"], dtype="datetime64[ns]")
    elev, az = sun_position(t, np.array([10.0, 10.0]), np.array([50.0, 50.0]))
    assert elev.shape == (2,) and np.isfinite(elev[0]) and np.isnan(elev[1]) and np.isnan(az[1])


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(
        min_value=int(np.datetime64("1985-01-01", "s").astype(int)),
        max_value=int(np.datetime64("2035-01-01", "s").astype(int)),
    ),
    lon=st.floats(-180, 180),
    lat=st.floats(-72, 72),
)
def test_matches_astronomical_almanac_within_0_1_degree(seconds: int, lon: float, lat: float) -> None:
    t = np.datetime64(seconds, "s").astype("datetime64[ns]")
    elev, _ = sun_position(t, lon, lat)
    ref_elev, ref_dist = _almanac(t, lon, lat)
    assert abs(float(elev) - ref_elev) < 0.1
    assert abs(float(earth_sun_distance(t)) - ref_dist) < 2e-4
