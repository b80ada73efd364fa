from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
from eo.compositing import REDUCERS, composite
from eo.compositing.bap import distance_to_mask
from eo.compositing.median import nanmedian_tn, nanpercentile_tn
from eo.compositing.periods import bin_times
from eo.errors import InputError, UnknownMethodError
from eo.testing import raise_if_dask_computes


def _gbox(shape: tuple[int, int], res: float = 30.0, x0: float = 500000.0, y0: float = 4000000.0) -> GeoBox:
    return GeoBox(shape, Affine(res, 0, x0, 0, -res, y0), "EPSG:32618")


TIMES = pd.to_datetime(
    ["2020-11-20", "2020-12-05", "2021-01-10", "2021-01-25", "2021-02-28", "2021-03-02", "2021-06-15"]
)


def _cube(
    seed: int = 0, nan_frac: float = 0.3, shape: tuple[int, int] = (24, 20), chunks: int = 8
) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    data = rng.random((len(TIMES), *shape), dtype=np.float32)
    data[rng.random(data.shape) < nan_frac] = np.nan
    gbox = _gbox(shape)
    coords = {
        "time": TIMES.values,
        **xr_coords(gbox),
        "id": ("time", [f"item{i}" for i in range(len(TIMES))]),
    }
    return xr.DataArray(
        dsa.from_array(data, chunks=(3, chunks, chunks)),
        dims=("time", "y", "x"),
        coords=coords,
        name="ndvi",
        attrs={"units": "1"},
    )


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


# ---- kernels against numpy --------------------------------------------------------------

values_tn = arrays(
    np.float32,
    st.tuples(st.integers(1, 12), st.integers(1, 40)),
    elements=st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, width=32, allow_nan=False)),
)


@settings(max_examples=200, deadline=None)
@given(values_tn)
def test_median_kernel_equals_nanmedian(values):
    expected = _quiet(np.nanmedian, values, axis=0)
    np.testing.assert_array_equal(nanmedian_tn(values), expected.astype(np.float32))


@settings(max_examples=150, deadline=None)
@given(values_tn, st.floats(0, 100))
def test_percentile_kernel_equals_nanpercentile(values, q):
    expected = _quiet(np.nanpercentile, values.astype(np.float64), q, axis=0)
    np.testing.assert_allclose(nanpercentile_tn(values, q), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(
    ("method", "reference"),
    [("median", np.nanmedian), ("mean", np.nanmean), ("min", np.nanmin), ("max", np.nanmax)],
)
def test_reducers_match_numpy_and_stay_lazy(method, reference):
    da = _cube()
    with raise_if_dask_computes():
        out = composite(da, method)
    assert out.dims == ("y", "x") and out.dtype == np.float32
    assert isinstance(out.data, dsa.Array)
    assert out.chunks == ((8, 8, 8), (8, 8, 4))  # spatial chunks untouched
    expected = _quiet(reference, da.values, axis=0)
    np.testing.assert_allclose(out.values, expected, rtol=1e-6, equal_nan=True)
    assert out["time"].values == TIMES.values[0] and "id" not in out.coords
    assert out.odc.geobox == da.odc.geobox


def test_count_is_uint16_number_of_valid_observations():
    da = _cube()
    with raise_if_dask_computes():
        n = eo.composite(da, "count")
    assert n.dtype == np.uint16
    np.testing.assert_array_equal(n.values, np.isfinite(da.values).sum(axis=0))


def test_percentile_requires_q_and_matches_numpy():
    da = _cube()
    with pytest.raises(InputError, match="q in"):
        composite(da, "percentile")
    out = composite(da, "percentile", q=25)
    expected = _quiet(np.nanpercentile, da.values.astype(np.float64), 25, axis=0)
    np.testing.assert_allclose(out.values, expected, rtol=1e-5, equal_nan=True)


def test_custom_callable_and_unknown_method():
    da = _cube()
    out = composite(da, lambda v: np.nansum(np.nan_to_num(v), axis=0).astype(np.float32))
    np.testing.assert_allclose(out.values, np.nansum(da.values, axis=0), rtol=1e-6)
    with pytest.raises(UnknownMethodError, match="median"):
        composite(da, "mode")
    with pytest.raises(InputError):
        composite(da, "median", q=3)


def test_monthly_period_labels_and_values():
    da = _cube()
    with raise_if_dask_computes():
        out = composite(da, "median", period="monthly")
    months = pd.to_datetime(
        ["2020-11-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01", "2021-06-01"]
    )
    np.testing.assert_array_equal(out["time"].values, months.values)
    assert pd.Timestamp(out["period_end"].values[2]) == pd.Timestamp("2021-02-01")
    jan = _quiet(np.nanmedian, da.values[2:4], axis=0)
    np.testing.assert_array_equal(out.sel(time="2021-01-01").values, jan)
    assert out.chunks[0] == (6,)


def test_seasonal_december_belongs_to_next_djf():
    bins = bin_times(TIMES.values, "seasonal")
    starts = pd.DatetimeIndex(bins.starts)
    assert list(starts.strftime("%Y-%m-%d")) == ["2020-09-01", "2020-12-01", "2021-03-01", "2021-06-01"]
    # DJF 2020/21: December 2020, two January dates, February 2021
    np.testing.assert_array_equal(bins.members[1], [1, 2, 3, 4])
    assert pd.Timestamp(bins.ends[1]) == pd.Timestamp("2021-03-01")


def test_yearly_alias_and_invalid_period():
    assert [len(m) for m in bin_times(TIMES.values, "yearly").members] == [2, 5]
    assert [len(m) for m in bin_times(TIMES.values, "1Y").members] == [2, 5]
    b = bin_times(TIMES.values, "30D")
    assert sum(len(m) for m in b.members) == len(TIMES)
    assert all((b.ends - b.starts) == np.timedelta64(30, "D"))
    with pytest.raises(InputError, match="offset alias"):
        bin_times(TIMES.values, "fortnightly-ish")


def test_dataset_reducer_adds_joint_count_and_keeps_attrs():
    da = _cube()
    ds = xr.Dataset({"red": da, "nir": _cube(seed=1)}, attrs={"sensor": "s2", "product": "l1c"})
    with raise_if_dask_computes():
        out = composite(ds, "mean", period="yearly")
    assert set(out.data_vars) == {"red", "nir", "count"}
    assert out.attrs["sensor"] == "s2" and out["count"].dtype == np.uint16
    joint = np.isfinite(ds.red.values) & np.isfinite(ds.nir.values)
    np.testing.assert_array_equal(out["count"].values[1], joint[2:].sum(axis=0))


def test_integer_input_uses_nodata_attr():
    raw = xr.DataArray(
        np.array([[[1, 0]], [[3, 0]], [[0, 5]]], dtype=np.uint16),
        dims=("time", "y", "x"),
        coords={"time": TIMES.values[:3]},
        attrs={"nodata": 0},
    )
    out = composite(raw, "median")
    np.testing.assert_array_equal(out.values, [[2.0, 5.0]])


# ---- quality mosaics -----------------------------------------------------------------------


def test_max_ndvi_takes_all_bands_from_peak_date():
    red, nir = _cube(seed=3, nan_frac=0.2), _cube(seed=4, nan_frac=0.2)
    ds = xr.Dataset({"red": red, "nir": nir.chunk({"y": 5, "x": 7})})  # mismatched chunks
    ndvi = (nir - red) / (nir + red)
    with raise_if_dask_computes():
        out = composite(ds, "max-ndvi", index=ndvi)
    score = np.where(np.isfinite(red.values) & np.isfinite(nir.values), ndvi.values, -np.inf)
    best = np.argmax(score, axis=0)
    expected_red = np.take_along_axis(red.values, best[None], axis=0)[0]
    has = np.isfinite(score).any(axis=0) & (score.max(axis=0) > -np.inf)
    np.testing.assert_array_equal(out["red"].values[has], expected_red[has])
    assert np.isnan(out["red"].values[~has]).all()
    np.testing.assert_array_equal(out["count"].values, (score > -np.inf).sum(axis=0))
    # a variable holding the index can be named instead
    named = composite(ds.assign(NDVI=ndvi), "max-ndvi", index="NDVI")
    np.testing.assert_array_equal(named["nir"].values, out["nir"].values)


def test_selector_needs_dataset():
    with pytest.raises(InputError, match="Dataset"):
        composite(_cube(), "bap")


def _brute_distance(mask, sy, sx, cap):
    ys, xs = np.nonzero(mask)
    yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
    if len(ys) == 0:
        return np.full(mask.shape, cap, dtype=np.float32)
    d = np.sqrt(((yy[..., None] - ys) * sy) ** 2 + ((xx[..., None] - xs) * sx) ** 2).min(axis=-1)
    return np.minimum(d, cap).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.bool_, st.tuples(st.integers(1, 15), st.integers(1, 15)), elements=st.booleans() | st.just(False)
    ),
    st.sampled_from([(30.0, 30.0), (10.0, 20.0)]),
)
def test_cloud_distance_equals_brute_force(mask, spacing):
    sy, sx = spacing
    got = distance_to_mask(mask, sy, sx, 200.0)
    np.testing.assert_allclose(got, _brute_distance(mask, sy, sx, 200.0), rtol=1e-5)


def test_bap_prefers_target_doy_and_avoids_cloud_edges():
    # two dates at the same pixel grid: date 0 on the target DOY but next to a cloud, date 1 30 days off.
    shape = (12, 12)
    gbox = _gbox(shape)
    times = pd.to_datetime(["2021-07-01", "2021-07-31"]).values
    red = np.ones((2, *shape), dtype=np.float32)
    red[1] = 2.0
    red[0, :, :2] = np.nan  # cloud on the left edge of date 0
    ds = xr.Dataset({"red": (("time", "y", "x"), red)}, coords={"time": times, **xr_coords(gbox)})
    ds = ds.chunk({"time": 1, "y": 5, "x": 5})
    with raise_if_dask_computes():
        out = composite(ds, "bap", target_doy=182, max_distance=300.0, w_cloud=2.0)
    got = out["red"].values
    assert np.all(got[:, :2] == 2.0)  # cloudy in date 0 -> date 1
    assert np.all(got[:, 2:4] == 2.0)  # 30-60 m from the cloud: cloud score too low
    assert np.all(got[:, -3:] == 1.0)  # far from the cloud: target date wins
    # chunk edges are exact: same as the in-memory computation
    np.testing.assert_array_equal(
        got, composite(ds.compute(), "bap", target_doy=182, max_distance=300.0, w_cloud=2.0)["red"].values
    )
    np.testing.assert_array_equal(out["count"].values[:, :2], 1)


def test_bap_default_target_is_period_centre():
    shape = (4, 4)
    gbox = _gbox(shape)
    times = pd.to_datetime(["2021-01-02", "2021-01-16", "2021-01-30"]).values
    vals = np.stack([np.full(shape, v, dtype=np.float32) for v in (1, 2, 3)])
    ds = xr.Dataset({"b": (("time", "y", "x"), vals)}, coords={"time": times, **xr_coords(gbox)})
    out = composite(ds, "bap", period="monthly")
    assert np.all(out["b"].values == 2.0)  # 16 January is nearest to the middle of January


def test_registry_names():
    assert {"median", "mean", "min", "max", "percentile", "count"} <= set(REDUCERS)
    assert {"max-ndvi", "bap"} <= set(eo.compositing.methods())


# ---- time blocks are reduced slab by slab, never concatenated -------------------------------


@pytest.mark.parametrize("period", [None, "monthly"])
def test_time_blocks_reduced_in_slabs_equal_numpy(monkeypatch, period):
    import eo.compositing as comp

    da = _cube(seed=3, chunks=7)  # time blocks of 3, 3, 1; ragged spatial chunks
    whole = _quiet(composite(da.compute(), "median", period=period).values.copy)  # NumPy input: one block
    monkeypatch.setattr(comp, "SLAB", 5)  # slabs that split rows, and a ragged last slab
    with raise_if_dask_computes():
        out = composite(da, "median", period=period)
    layers = out.data.dask.layers
    assert not [name for name in layers if "rechunk" in name]  # the time blocks are not concatenated
    np.testing.assert_array_equal(_quiet(out.values.copy), whole)
    if period is None:
        np.testing.assert_array_equal(whole, _quiet(np.nanmedian, da.values, axis=0).astype(np.float32))


def test_selector_over_time_blocks_in_slabs(monkeypatch):
    import eo.compositing as comp

    ds = xr.Dataset({"red": _cube(seed=6, chunks=5), "nir": _cube(seed=7, chunks=5)})
    expected = composite(ds.compute(), "max-ndvi")
    monkeypatch.setattr(comp, "SLAB", 6)
    with raise_if_dask_computes():
        out = composite(ds, "max-ndvi")
    for name in ("red", "nir", "count"):
        np.testing.assert_array_equal(out[name].values, expected[name].values)
