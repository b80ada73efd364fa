"""Real STAC items of public providers load right (issue: any real STAC item loads right).

The items are recorded metadata (``tests/data/stac``, provenance in its SOURCES.md): 32 items of 25
collections from Earth Search v0/v1, Planetary Computer, USGS, CDSE, DEA, Digital Earth Pacific,
Planet, Maxar, sat-api and stactools.  For each the tests check what eo identifies it as; for most,
they write small local GeoTIFFs that match the item's metadata (``real_items.localise``) and check
that ``eo.load`` plans lazily with the file opens its metadata makes necessary (none when complete),
that the values are the files' values, that ``eo.calibrate`` applies exactly the scale/offset the
item (or the documented provider rule) states, and masks and NDVI against numpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from real_items import Written, all_fixtures, fixture, inner_box, localise

import eo
from eo.catalog.parse import identify_dict
from eo.errors import (
    AssetReadError,
    GeoreferenceMismatchWarning,
    UncalibratedWarning,
)
from eo.loading import loader as loader_mod
from eo.testing import raise_if_dask_computes

#: What each recorded item is identified as ("metadata": no profile fits, read from its own metadata).
IDENTIFIED = {
    "cdse/sentinel-2-l2a/S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914.json": "sentinel-2-msi:l2a",
    "dea/ga_ls5t_nbart_gm_cyear_3/57814bc4-6fdf-4fa1-84e5-865b364c4284.json": "metadata",
    # DEA's ARD is NBART surface reflectance under DEA's own band names: its properties name Landsat-8
    # Collection 1 and Sentinel-2, but no profile band is among its assets, so no profile's
    # radiometry (Level-1 DN, Sen2Cor L2A) is applied to it
    "dea/ga_ls8c_ard_3/2aa69fcf-aa55-4747-9d95-3652f9fe79b0.json": "metadata",
    "dea/ga_s2am_ard_3/e2baf679-c20a-479f-86c5-ffd98c65ff87.json": "metadata",
    "dea/s1_rtc_c1/OPERA_L2_RTC-S1_T007-014549-IW1_20250129T050932Z_20250620T060210Z_S1A_20_v1.0.4.json": "metadata",
    "digital-earth-pacific/dep_ls_geomad/dep_ls_geomad_66_20_2023.json": "metadata",
    "earth-search-v0/sentinel-s2-l2a-cogs/S2A_17SPR_20221106_0_L2A.json": "sentinel-2-msi:l2a",
    "earth-search-v0/sentinel-s2-l2a-cogs/S2B_42TUM_20220107_0_L2A.json": "sentinel-2-msi:l2a",
    "earth-search-v1/sentinel-1-grd/S1A_IW_GRDH_1SSH_20230413T135642_20230413T135707_048078_05C78B.json": "metadata",
    "earth-search-v1/sentinel-2-l2a/S2A_39QTA_20230628_0_L2A.json": "sentinel-2-msi:l2a",
    "planet/planet-disaster-data/20170831_172754_101c.json": "metadata",
    "planetary-computer/cop-dem-glo-30/Copernicus_DSM_COG_10_S90_00_W179_00_DEM.json": "metadata",
    "planetary-computer/cop-dem-glo-30/Copernicus_DSM_COG_10_S90_00_W180_00_DEM.json": "metadata",
    "planetary-computer/io-lulc-annual-v02/60W-2023.json": "metadata",
    "planetary-computer/landsat-c2-l1/LM05_L1GS_039039_20130107_02_T2.json": "metadata",  # MSS: no profile
    "planetary-computer/landsat-c2-l2/LC09_L2SP_089090_20240417_02_T1.json": "landsat-9-oli-tirs:c2-l2",
    "planetary-computer/naip/pr_m_1806550_ne_20_030_20221212_20230329.json": "metadata",
    "planetary-computer/naip/pr_m_1806551_nw_20_030_20221212_20230329.json": "metadata",
    "planetary-computer/nasadem/NASADEM_HGT_s56w072.json": "metadata",
    "planetary-computer/planet-nicfi-analytic/f7bcdce3-5ccc-4d68-99bd-8a95d37eeb91-746-1013.json": "metadata",
    "planetary-computer/sentinel-1-rtc/S1A_IW_GRDH_1SDV_20240419T045839_20240419T045904_053498_067DF2_rtc.json": "metadata",
    "planetary-computer/sentinel-1-rtc/S1A_IW_GRDH_1SDV_20240419T045904_20240419T045916_053498_067DF2_rtc.json": "metadata",
    "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json": "sentinel-2-msi:l2a",
    "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json": "sentinel-2-msi:l2a",
    # sat-api's landsat-8-l1 served the pre-collection archive (LGN00 scene ids, 2015)
    "sat-api/landsat-8-l1/LC80100102015050LGN00.json": "landsat-8-oli-tirs:l1-precollection",
    "stac-spec-examples/maxar-ard-103001005D31F500/10_120020223032_103001005D31F500.json": "metadata",
    "stactools-examples/esa-worldcover/ESA_WorldCover_10m_2020_v100_N66E177.json": "metadata",
    "stactools-examples/esa-worldcover/ESA_WorldCover_10m_2021_v200_N00E006.json": "metadata",
    "stactools-examples/modis-09Q1-061/MOD09Q1.A2022033.h10v10.061.2022042044048.json": "metadata",
    "stactools-examples/sentinel2-l1c-example/S2A_T01LAC_20200717T221944_L1C.json": "sentinel-2-msi:l1c",
    "usgs/landsat-c2l2-sr/LC08_L2SR_081119_20200101_20200823_02_T2.json": "landsat-8-oli-tirs:c2-l2",
    "usgs/landsat-c2l2-sr/LE07_L2SP_044033_20210329_20210424_02_T1_SR.json": "landsat-7-etm:c2-l2",
}  # fmt: skip


def test_every_recorded_item_is_in_the_table() -> None:
    assert sorted(IDENTIFIED) == all_fixtures()


@pytest.mark.parametrize("path", sorted(IDENTIFIED))
def test_identification(path: str) -> None:
    profile, product, found = identify_dict(fixture(path))
    expected = IDENTIFIED[path]
    got = "metadata" if product.id == "from-metadata" else f"{profile.id}:{product.id}"
    assert got == expected, found.explain()
    assert found.explain().splitlines()[0]  # always explainable
    if expected != "metadata":  # identification never contradicts the item's own metadata
        chosen = next(v for v in found.verdicts if v.ref == expected)
        assert not chosen.excluded and chosen.score > 0


# --- loading, with local files that match the items' metadata -------------------------------------


@dataclass
class Case:
    """One real item loaded: which assets get files, which variables load, what the item implies."""

    path: str
    bands: list[str]
    """Variables asked of ``eo.load``."""
    keys: list[str]
    """Asset keys the variables read (files are written for these)."""
    opens: int
    """Headers read while planning: what the metadata does not state (counted by hand from the JSON)."""
    dtype: str = "uint16"
    """Stored dtype where ``raster:bands`` does not say (what the real files hold)."""
    nodata: float | None = None
    """Nodata written into the file where ``raster:bands`` does not say."""
    linear: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Variable -> (scale, offset) calibrate must apply, from the item or the documented provider rule."""
    state: str | None = None
    """State of the calibrated measurement variables."""
    ndvi: tuple[str, str] | None = None
    """(red, nir) variables for an NDVI check."""
    count: int | None = None
    """Bands of the file where the metadata does not list them."""
    box_m: float = 1500.0
    """Side of the area written and loaded, metres (a few hundred pixels of the finest band)."""


S2_BANDS = ["red", "nir", "qa"]
CASES = [
    # Earth Search v1: raster:bands offset -0.1, but earthsearch:boa_offset_applied is true (Element84
    # already removed it): no offset; everything stated, nothing opened
    Case("earth-search-v1/sentinel-2-l2a/S2A_39QTA_20230628_0_L2A.json", S2_BANDS, ["red", "nir", "scl"], 0,
         linear={"red": (1e-4, 0.0), "nir": (1e-4, 0.0)}, state="surface_reflectance", ndvi=("red", "nir")),
    # Earth Search v0: no raster:bands (dtype from one header per band); baseline 04.00 in
    # sentinel:processing_baseline, offset already removed (sentinel:boa_offset_applied true)
    Case("earth-search-v0/sentinel-s2-l2a-cogs/S2A_17SPR_20221106_0_L2A.json", S2_BANDS, ["B04", "B08", "SCL"], 3,
         linear={"red": (1e-4, 0.0)}, state="surface_reflectance", ndvi=("red", "nir")),
    # baseline 03.01 (N0301): no offset
    Case("earth-search-v0/sentinel-s2-l2a-cogs/S2B_42TUM_20220107_0_L2A.json", ["red", "nir"], ["B04", "B08"], 2,
         linear={"red": (1e-4, 0.0)}, state="surface_reflectance"),
    # Planetary Computer: no raster:bands, no flag: baseline 05.10 -> -1000 DN (-0.1) offset
    Case("planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json",
         S2_BANDS, ["B04", "B08", "SCL"], 3, linear={"red": (1e-4, -0.1), "nir": (1e-4, -0.1)},
         state="surface_reflectance", ndvi=("red", "nir")),
    # baseline 02.12: no offset
    Case("planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json",
         ["red"], ["B04"], 1, linear={"red": (1e-4, 0.0)}, state="surface_reflectance"),
    # CDSE, STAC 1.1: resolution-suffixed keys (B04_10m is the finest), asset-level raster:offset -0.1
    Case("cdse/sentinel-2-l2a/S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914.json", S2_BANDS,
         ["B04_10m", "B08_10m", "SCL_20m"], 0, linear={"red": (1e-4, -0.1)}, state="surface_reflectance",
         ndvi=("red", "nir")),
    # stactools L1C across the antimeridian (bbox west > east)
    Case("stactools-examples/sentinel2-l1c-example/S2A_T01LAC_20200717T221944_L1C.json", ["red", "nir"],
         ["red", "nir"], 0, linear={"red": (1e-4, 0.0)}, state="toa_reflectance", ndvi=("red", "nir")),
    # Planetary Computer Landsat 9 C2 L2: raster:bands scale/offset, qa_pixel with bitfields
    Case("planetary-computer/landsat-c2-l2/LC09_L2SP_089090_20240417_02_T1.json", ["red", "nir08", "qa"],
         ["red", "nir08", "qa_pixel"], 0, linear={"red": (2.75e-5, -0.2)}, state="surface_reflectance",
         ndvi=("red", "nir08")),
    # USGS Landsat 7 C2 L2: no raster:bands; the profile's scale/offset
    Case("usgs/landsat-c2l2-sr/LE07_L2SP_044033_20210329_20210424_02_T1_SR.json", ["red", "nir08", "qa"],
         ["red", "nir08", "qa_pixel"], 3, linear={"red": (2.75e-5, -0.2)}, state="surface_reflectance"),
    # Landsat 5 MSS (no profile): uint8 with a radiance scale/offset in raster:bands, qa_pixel bitfields
    Case("planetary-computer/landsat-c2-l1/LM05_L1GS_039039_20130107_02_T2.json", ["red", "nir08", "qa_pixel"],
         ["red", "nir08", "qa_pixel"], 0, linear={"red": (0.66024, 2.03976)}, state="radiance"),
    # NAIP: one 4-band asset (eo:bands red/green/blue/nir), no raster:bands: one header for the file
    Case("planetary-computer/naip/pr_m_1806550_ne_20_030_20221212_20230329.json", ["red", "nir"], ["image"], 1,
         dtype="uint8", state="uncalibrated", ndvi=("red", "nir"), box_m=60.0),
    # Sentinel-1 RTC: float32 gamma0 with nodata -32768
    Case("planetary-computer/sentinel-1-rtc/S1A_IW_GRDH_1SDV_20240419T045839_20240419T045904_053498_067DF2_rtc.json",
         ["vv", "vh"], ["vv", "vh"], 0, state="physical"),
    # DEA Sentinel-1 RTC, STAC 1.1: raster:nodata "nan" on the asset, EPSG:3031
    Case("dea/s1_rtc_c1/OPERA_L2_RTC-S1_T007-014549-IW1_20250129T050932Z_20250620T060210Z_S1A_20_v1.0.4.json",
         ["HH"], ["HH"], 0, state="physical"),
    # Copernicus DEM at the pole: EPSG:4326, non-square pixels, nothing but the grid stated
    Case("planetary-computer/cop-dem-glo-30/Copernicus_DSM_COG_10_S90_00_W179_00_DEM.json", ["data"], ["data"], 1,
         dtype="float32", nodata=-32767.0, state="physical"),
    Case("planetary-computer/nasadem/NASADEM_HGT_s56w072.json", ["elevation"], ["elevation"], 1, dtype="int16",
         nodata=-32768.0),
    # land cover: file:values classes, nodata 0 stated, dtype not
    Case("planetary-computer/io-lulc-annual-v02/60W-2023.json", ["data"], ["data"], 1, dtype="uint8"),
    Case("stactools-examples/esa-worldcover/ESA_WorldCover_10m_2021_v200_N00E006.json", ["map"], ["map"], 0),
    # MODIS: sinusoidal WKT2, int16 with scale 0.0001 and no nodata stated (the files' -28672)
    Case("stactools-examples/modis-09Q1-061/MOD09Q1.A2022033.h10v10.061.2022042044048.json",
         ["sur_refl_b01", "sur_refl_b02"], ["sur_refl_b01", "sur_refl_b02"], 2, nodata=-28672.0,
         linear={"sur_refl_b01": (1e-4, 0.0)}, state="physical"),
    # sat-api pre-collection Landsat 8: proj:epsg only: each file's header gives its grid and dtype
    Case("sat-api/landsat-8-l1/LC80100102015050LGN00.json", ["red", "nir08", "qa"], ["B4", "B5", "BQA"], 3,
         state="toa_reflectance"),
    # Planet PSScene: a 4-band asset without eo:bands
    Case("planet/planet-disaster-data/20170831_172754_101c.json", ["analytic.1", "analytic.4"], ["analytic"], 1,
         state="uncalibrated", count=4, box_m=600.0),
    Case("planetary-computer/planet-nicfi-analytic/f7bcdce3-5ccc-4d68-99bd-8a95d37eeb91-746-1013.json",
         ["red", "nir"], ["data"], 1, state="uncalibrated", ndvi=("red", "nir")),
    Case("digital-earth-pacific/dep_ls_geomad/dep_ls_geomad_66_20_2023.json", ["red", "nir08"],
         ["red", "nir08"], 2, dtype="uint16", nodata=0.0, state="uncalibrated"),
    Case("dea/ga_ls8c_ard_3/2aa69fcf-aa55-4747-9d95-3652f9fe79b0.json", ["nbart_red", "nbart_nir"],
         ["nbart_red", "nbart_nir"], 2, dtype="int16", nodata=-999.0, state="uncalibrated"),
    Case("dea/ga_ls5t_nbart_gm_cyear_3/57814bc4-6fdf-4fa1-84e5-865b364c4284.json", ["red", "nir"],
         ["red", "nir"], 2, dtype="int16", nodata=-999.0, state="uncalibrated", ndvi=("red", "nir")),
]  # fmt: skip


def test_the_cases_cover_most_items() -> None:
    loaded = {c.path for c in CASES}
    assert len(loaded) >= 24 and len({p.split("/")[0] for p in loaded}) >= 9


class _Opens:
    """Counts the files eo opens while planning (header reads)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hrefs: list[str] = []
        real = loader_mod.probe

        def counting(source: Any) -> Any:
            self.hrefs.append(source.href)
            return real(source)

        monkeypatch.setattr(loader_mod, "probe", counting)


@pytest.fixture(params=CASES, ids=lambda c: c.path.split("/")[-1][:48])
def case(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Case, dict[str, Any], dict[str, Written]]]:
    c: Case = request.param
    item = fixture(c.path)
    local, written = localise(
        item, tmp_path, c.keys, inner_box(item, c.box_m), dtype=c.dtype, nodata=c.nodata, count=c.count
    )
    yield c, local, written


def _load(c: Case, item: dict[str, Any], written: dict[str, Written], **kw: Any) -> Any:
    first = written[c.keys[0]]
    return eo.load([item], bands=c.bands, geobox=first.box, chunks=96, **kw)


def test_plans_lazily_opening_only_what_the_metadata_lacks(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, item, written = case
    opens = _Opens(monkeypatch)
    with raise_if_dask_computes(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        ds = _load(c, item, written)
    assert len(opens.hrefs) == c.opens, opens.hrefs
    assert list(ds.data_vars) == c.bands
    for var in c.bands:
        assert ds[var].attrs["state"] in ("dn", "class", "physical"), var


def _expected(c: Case, var: str, written: dict[str, Written], ds: Any) -> np.ndarray:
    """What the written file holds for ``var`` on the load's grid (nearest upsampling of coarser files)."""
    index = c.bands.index(var)
    key = c.keys[index] if len(c.keys) == len(c.bands) else c.keys[0]
    w = written[key]
    bidx = 1
    if len(c.keys) != len(c.bands):  # one multi-band asset
        rec = ds[var].attrs
        names = {"red": 1, "green": 2, "blue": 3, "nir": 4}
        bidx = int(var.split(".")[-1]) if "." in var else names.get(rec.get("common_name", ""), 1)
        if "nicfi" in c.path:
            bidx = {"blue": 1, "green": 2, "red": 3, "nir": 4}[rec["common_name"]]
    out_box = written[c.keys[0]].box
    with rasterio.open(w.path) as src:  # an independent read: rasterio, then nearest index arithmetic
        full = src.read(bidx)
    gt, ot = w.geobox.transform, out_box.transform
    rows = np.floor(((ot.f + (np.arange(out_box.shape[0]) + 0.5) * ot.e) - gt.f) / gt.e).astype(int)
    cols = np.floor(((ot.c + (np.arange(out_box.shape[1]) + 0.5) * ot.a) - gt.c) / gt.a).astype(int)
    return full[np.ix_(rows, cols)]


def test_values_are_the_files_values(case: Any) -> None:
    c, item, written = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        ds = _load(c, item, written)
    for var in c.bands:
        got = ds[var].values[0]
        want = _expected(c, var, written, ds)
        assert got.dtype == want.dtype, var
        np.testing.assert_array_equal(got, want, err_msg=var)
        nodata = ds[var].attrs.get("nodata")
        if written[c.keys[min(c.bands.index(var), len(c.keys) - 1)]].nodata is not None:
            assert nodata is not None, f"{var}: the file's nodata must become the attr"


def test_calibration_applies_exactly_what_the_item_states(case: Any) -> None:
    c, item, written = case
    if c.state is None:
        pytest.skip("no radiometric claim for this item")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncalibratedWarning)
        ds = _load(c, item, written)
        refl = eo.calibrate(ds, sun_elevation=45.0)
    for var in c.bands:
        if ds[var].attrs["kind"] != "measurement":
            continue
        assert refl[var].attrs["state"] == c.state, (var, refl[var].attrs.get("calibration"))
        assert refl[var].dtype == np.float32
        raw = ds[var].values.astype(np.float64)
        nodata = ds[var].attrs.get("nodata")
        invalid = np.isnan(raw) if nodata is None else (raw == nodata) | np.isnan(raw)
        got = refl[var].values
        assert np.isnan(got[invalid]).all(), var
        if var in c.linear:
            scale, offset = c.linear[var]
            np.testing.assert_allclose(got[~invalid], (raw * scale + offset)[~invalid], rtol=1e-6, atol=1e-6)
        if c.state == "uncalibrated":
            np.testing.assert_array_equal(got[~invalid], raw[~invalid].astype(np.float32))


def test_ndvi_against_numpy(case: Any) -> None:
    c, item, written = case
    if c.ndvi is None:
        pytest.skip("no red/nir pair")
    red, nir = c.ndvi
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _load(c, item, written)
        refl = eo.calibrate(ds, sun_elevation=45.0)
        ndvi = eo.index(refl, "NDVI").values
    r, n = refl[red].values.astype(np.float64), refl[nir].values.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = (n - r) / (n + r)
    np.testing.assert_allclose(ndvi, want, rtol=2e-6, atol=2e-6, equal_nan=True)
    uncalibrated = any(issubclass(w.category, UncalibratedWarning) for w in caught)
    assert uncalibrated == (c.state == "uncalibrated"), "indices on uncalibrated values warn, and only they"


# --- masks from classification tables, checked with numpy ----------------------------------------


def _bits(v: np.ndarray, bit: int, width: int = 1) -> np.ndarray:
    return (v.astype(np.int64) >> bit) & ((1 << width) - 1)


MASKS: dict[str, tuple[list[str], Callable[[np.ndarray], np.ndarray]]] = {
    # Planetary Computer Landsat qa_pixel bitfields (dilated cloud 1, cirrus 2, cloud 3, shadow 4)
    "LC09_L2SP_089090_20240417_02_T1.json": (
        ["cloud", "shadow", "cirrus"],
        lambda q: (_bits(q, 1) | _bits(q, 2) | _bits(q, 3) | _bits(q, 4)).astype(bool),
    ),
    # the same layout for MSS, read from the item's classification:bitfields (no profile)
    "LM05_L1GS_039039_20130107_02_T2.json": (["cloud"], lambda q: (_bits(q, 1) | _bits(q, 3)).astype(bool)),
    # Sentinel-2 SCL classes (Earth Search v1 scl, CDSE SCL_20m)
    "S2A_39QTA_20230628_0_L2A.json": (
        ["saturated", "cloud", "shadow", "cirrus"],
        lambda q: np.isin(q, [1, 3, 8, 9, 10]),
    ),
    "S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914.json": (
        ["saturated", "cloud", "shadow", "cirrus"],
        lambda q: np.isin(q, [1, 3, 8, 9, 10]),
    ),
    # io-lulc file:values: 10 "Clouds"; WorldCover: 70 "Snow and ice", 80 "Permanent water bodies"
    "60W-2023.json": (["cloud"], lambda q: q == 10),
    "ESA_WorldCover_10m_2021_v200_N00E006.json": (["snow", "water"], lambda q: np.isin(q, [70, 80])),
}


@pytest.mark.parametrize("name", sorted(MASKS))
def test_masks_from_classification_tables(name: str, tmp_path: Path) -> None:
    c = next(c for c in CASES if c.path.endswith(name))
    item = fixture(c.path)
    local, written = localise(item, tmp_path, c.keys, inner_box(item), dtype=c.dtype, nodata=c.nodata)
    qa_var = next(v for v in c.bands if v in ("qa", "qa_pixel", "data", "map"))
    ds = _load(c, local, written)
    assert ds[qa_var].attrs["kind"] in ("qa", "class") and "flag_meanings" in ds[qa_var].attrs
    classes, expected = MASKS[name]
    got = eo.mask(ds, classes=classes).values
    want = expected(ds[qa_var].values)
    assert want.any() and not want.all()  # the written values exercise both outcomes
    np.testing.assert_array_equal(got, want)


# --- provider conventions ---------------------------------------------------------------------


def test_explicit_resolution_variant_key_reads_that_variant(tmp_path: Path) -> None:
    path = "cdse/sentinel-2-l2a/S2C_MSIL2A_20250330T100051_N0511_R122_T33UWP_20250330T145914.json"
    item = fixture(path)
    local, written = localise(item, tmp_path, ["B04_10m", "B04_20m"], inner_box(item))
    ds = eo.load([local], bands=["red", "B04_20m"])
    assert ds.odc.geobox.resolution.x == 10  # the finest variant sets the grid
    ds20 = eo.load([local], bands=["B04_20m"], geobox=written["B04_20m"].box)
    np.testing.assert_array_equal(ds20["B04_20m"].values[0], written["B04_20m"].data[0])


def test_wrong_crs_in_the_metadata_is_caught_before_the_grid_is_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Planetary Computer Landsat item said ``proj:epsg: 3271`` while its files were EPSG:32601
    (the issue that asked for this check; PC's hls2-l30 had the same fault).  Here the recorded PC
    Landsat 9 item gets the southern zone (EPSG:32755) instead of its files' EPSG:32655."""
    path = "planetary-computer/landsat-c2-l2/LC09_L2SP_089090_20240417_02_T1.json"
    item = fixture(path)
    local, written = localise(item, tmp_path, ["red", "nir08"], inner_box(item))
    local["properties"]["proj:epsg"] = 32755
    opens = _Opens(monkeypatch)
    with pytest.warns(GeoreferenceMismatchWarning, match=r"EPSG:32755.*EPSG:32655"):
        ds = eo.load([local], bands=["red", "nir08"], chunks=256)
    assert sorted(set(opens.hrefs)) == sorted(str(written[k].path) for k in ("red", "nir08"))
    assert ds.odc.geobox.crs.epsg == 32655  # planned with the files' georeferencing
    box = written["red"].box
    got = ds.red.sel(x=slice(box.boundingbox.left, box.boundingbox.right),
                     y=slice(box.boundingbox.top, box.boundingbox.bottom)).values[0]  # fmt: skip
    np.testing.assert_array_equal(got, written["red"].data[0])
    consistent = _Opens(monkeypatch)
    eo.load([localise(item, tmp_path / "ok", ["red"], inner_box(item))[0]], bands=["red"])
    assert consistent.hrefs == []  # a consistent item costs no file access


def test_radar_geometry_without_georeferencing_is_a_typed_error(tmp_path: Path) -> None:
    """Earth Search's Sentinel-1 GRD is in radar geometry (GCPs only, no proj grid): eo does not warp
    GCPs, and says what is missing instead of guessing."""
    path = (
        "earth-search-v1/sentinel-1-grd/S1A_IW_GRDH_1SSH_20230413T135642_20230413T135707_048078_05C78B.json"
    )
    item = fixture(path)
    tif = tmp_path / "hh.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint16") as dst:
        dst.write(np.ones((1, 64, 64), dtype="uint16"))
    item["assets"]["hh"]["href"] = str(tif)
    with pytest.raises(AssetReadError, match=r"no georeferencing.*states none"):
        eo.load([item], bands=["hh"])


def test_earth_search_v0_baseline_read_from_its_own_property() -> None:
    from eo.catalog.parse import parse_item

    v0 = parse_item(fixture("earth-search-v0/sentinel-s2-l2a-cogs/S2A_17SPR_20221106_0_L2A.json"))
    assert v0.facts.processing_baseline == "04.00" and v0.facts.boa_offset_applied is True
    pc = parse_item(
        fixture(
            "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json"
        )
    )
    assert pc.facts.processing_baseline == "05.10" and pc.facts.boa_offset_applied is None
    dea = parse_item(fixture("dea/ga_ls8c_ard_3/2aa69fcf-aa55-4747-9d95-3652f9fe79b0.json"))
    assert dea.facts.collection_number == 1  # an integer in the item, "01"/"02" elsewhere


def test_two_naip_items_mosaic_in_one_load(tmp_path: Path) -> None:
    a = fixture("planetary-computer/naip/pr_m_1806550_ne_20_030_20221212_20230329.json")
    b = fixture("planetary-computer/naip/pr_m_1806551_nw_20_030_20221212_20230329.json")
    la, wa = localise(a, tmp_path / "a", ["image"], inner_box(a, 60.0), dtype="uint8")
    lb, _ = localise(b, tmp_path / "b", ["image"], inner_box(b, 60.0), dtype="uint8", seed=5)
    ds = eo.load([la, lb], bands=["red", "nir"], resolution=3.0)
    assert ds.sizes["time"] == 1 and ds.attrs["sensor"] == "naip" and ds.red.dtype == np.uint8
    box = wa["image"].box
    one = eo.load([la, lb], bands=["red"], geobox=box).red.values[0]
    np.testing.assert_array_equal(one, wa["image"].data[0])  # the first item's pixels where it has them


# --- agreement with odc-stac on the same items ----------------------------------------------------

odc_stac = pytest.importorskip("odc.stac")


@pytest.mark.filterwarnings("ignore")
def test_agrees_with_odc_stac(case: Any) -> None:
    """The same item onto the same grid: the same pixels.  Where eo and odc-stac differ:

    - **dtype** where ``raster:bands`` does not state one: odc-stac reads no header and assumes float32
      with NaN nodata; eo reads one header per file and keeps the stored dtype (uint16 stays uint16,
      a quarter of the memory).  The file says which is right: eo's.
    - **nodata** where the item states none: eo takes the product's documented value or the file's;
      odc-stac has none.  The pixels agree where both have data.
    - items whose other assets have relative hrefs and no self link: odc-stac refuses the whole item,
      eo resolves only the assets it reads (covered by the items that fail in odc-stac here).
    """
    import pystac

    c, item, written = case
    box = written[c.keys[0]].box
    try:
        theirs = odc_stac.load([pystac.Item.from_dict(item)], bands=list(dict.fromkeys(c.keys)), geobox=box)
    except ValueError as err:
        assert "absolute path" in str(err)  # see the docstring
        return
    ours = eo.load([item], bands=c.bands, geobox=box)
    for var in c.bands:
        key = c.keys[c.bands.index(var)] if len(c.keys) == len(c.bands) else c.keys[0]
        if len(c.keys) != len(c.bands):  # one multi-band asset: odc-stac names its bands <asset>.<n>
            if ours[var].attrs.get("common_name"):
                continue  # eo picked the band by its eo:bands common name; odc-stac has no such name
            key = var
        if key not in theirs:
            continue
        a, b = ours[var].values[0], theirs[key].values[0]
        asset = item["assets"][c.keys[0] if len(c.keys) != len(c.bands) else key]
        stated = (asset.get("raster:bands") or asset.get("bands") or [{}])[0].get("data_type") or asset.get(
            "data_type"
        )  # STAC 1.0 raster:bands, or STAC 1.1 on the band or the asset
        if stated:
            assert a.dtype == b.dtype, var
        else:
            assert (
                b.dtype == np.float32
                and a.dtype == written[c.keys[0] if len(c.keys) != len(c.bands) else key].data.dtype
            )
        both = ~np.isnan(b.astype(np.float64))
        if ours[var].attrs.get("nodata") is not None:
            both &= a != ours[var].attrs["nodata"]
        np.testing.assert_array_equal(a[both].astype(np.float64), b[both].astype(np.float64), err_msg=var)
        assert both.sum() > 0.5 * both.size, var


def test_the_catalogues_offset_policy_applies_to_its_items(tmp_path: Path) -> None:
    """A catalogue definition's boa_offset_policy reaches calibration (passed with the items, not stamped)."""
    from eo.catalog.definitions import parse_definition

    path = "planetary-computer/sentinel-2-l2a/S2B_MSIL2A_20240419T095549_R122_T47XML_20240419T123458.json"
    item = fixture(path)
    local, written = localise(item, tmp_path, ["B04"], inner_box(item))
    box = written["B04"].box
    raw = written["B04"].data[0].astype(np.float64)
    valid = raw != 0

    def reflectance(catalog: Any) -> np.ndarray:
        ds = eo.load([local], bands=["red"], geobox=box, catalog=catalog)
        return eo.calibrate(ds).red.values[0]

    mirror = parse_definition(
        {
            "name": "mirror",
            "kind": "api",
            "url": "https://mirror.example/stac",
            "policy": {"boa_offset_policy": "applied"},
        }
    )
    # baseline 05.10 (from s2:processing_baseline): -0.1 by default; the mirror removed it already
    np.testing.assert_allclose(reflectance(None)[valid], raw[valid] * 1e-4 - 0.1, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(reflectance(mirror)[valid], raw[valid] * 1e-4, rtol=1e-6, atol=1e-7)
    ds = eo.load([local], bands=["red"], geobox=box, catalog=mirror)
    assert ds.attrs["boa_offset_policy"] == "applied"
