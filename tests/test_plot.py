"""eo.plot: images from decimated data, stretch, transparency, colour bars, series; the shared renderer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
from eo.errors import BandNotFoundError, DependencyError, InputError
from eo.plot import render
from eo.testing import raise_if_dask_computes

plt = pytest.importorskip("matplotlib.pyplot", reason="eo.plot needs matplotlib (plot extra)")


def _grid(ny: int, nx: int) -> GeoBox:
    return GeoBox((ny, nx), Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5700000.0), "EPSG:32642")


def _dataset(ny: int = 300, nx: int = 400, chunks: int = 128) -> xr.Dataset:
    rng = np.random.default_rng(0)
    gb = _grid(ny, nx)
    coords = xr_coords(gb)
    out = {}
    for k, band in enumerate(("red", "green", "blue")):
        v = (rng.uniform(1, 1000, (1, ny, nx)) + 1000 * k).astype(np.uint16)
        v[0, :20, :30] = 0  # nodata corner
        out[band] = xr.DataArray(
            da.from_array(v, chunks=(1, chunks, chunks)),
            dims=("time", "y", "x"),
            coords={"time": [np.datetime64("2025-06-05")], **coords},
            attrs={"nodata": 0},
        )
    return xr.Dataset(out)


def _image(ax: Any) -> np.ndarray:
    return np.asarray(ax.get_images()[0].get_array())


def test_rgb_stretches_each_band_and_leaves_nodata_transparent() -> None:
    ds = _dataset()
    with raise_if_dask_computes(max_computes=1):
        ax = eo.plot.rgb(ds)
    img = _image(ax)
    assert img.shape == (300, 400, 4) and img.dtype == np.uint8
    assert (img[:20, :30, 3] == 0).all() and (img[25:, 35:, 3] == 255).all()
    # per-band percentile stretch: every band spans the full range despite its offset of 1000 k DN
    for k in range(3):
        band = img[25:, 35:, k]
        assert np.percentile(band, 1) < 10 and np.percentile(band, 99) > 245
    left, right, bottom, top = ax.get_images()[0].get_extent()
    assert (left, right, bottom, top) == (600000.0, 604000.0, 5697000.0, 5700000.0)
    plt.close("all")


def test_rgb_fixed_ranges_and_false_colour_and_errors() -> None:
    ds = _dataset()
    ax = eo.plot.rgb(ds, bands=("blue", "green", "red"), vmin=0, vmax=3000, title="x")
    img = _image(ax)
    assert img[100, 100, 0] > img[100, 100, 2]  # blue (2000-3000 DN) drawn in the red channel
    assert ax.get_title() == "x"
    with pytest.raises(BandNotFoundError, match="nir"):
        eo.plot.rgb(ds, bands=("nir", "red", "green"))
    two = xr.concat([ds, ds], dim="time")
    with pytest.raises(InputError, match="2 dates"):
        eo.plot.rgb(two)
    assert _image(eo.plot.rgb(two, time=1)).shape[2] == 4
    plt.close("all")


def test_a_10k_by_10k_lazy_array_is_drawn_from_block_means() -> None:
    gb = _grid(10000, 10000)
    big = xr.DataArray(
        da.random.default_rng(1).uniform(-1, 1, (10000, 10000), chunks=2500).astype(np.float32),
        dims=("y", "x"),
        coords=xr_coords(gb),
        name="NDVI",
        attrs={"formula": "(N - R)/(N + R)", "units": "1"},
    )
    small, factor = eo.plot.raster.decimated(big, 1024)
    assert factor == 10 and small.shape == (1000, 1000) and small.chunks is not None
    # no task of the graph that draws returns a full-resolution array: the coarsening is per chunk
    assert max(c for cs in small.chunks for c in cs) <= 250
    with raise_if_dask_computes(max_computes=1):
        ax = eo.plot.index(big)
    assert _image(ax).shape == (1000, 1000, 4)
    plt.close("all")


def test_index_colour_bar_has_name_and_units_and_is_centred_for_ndvi() -> None:
    gb = _grid(50, 60)
    v = np.linspace(-0.2, 0.8, 50 * 60, dtype=np.float32).reshape(50, 60)
    v[0, 0] = np.nan
    ndvi = xr.DataArray(
        v,
        dims=("y", "x"),
        coords=xr_coords(gb),
        name="NDVI",
        attrs={
            "formula": "(N - R)/(N + R)",
            "units": "1",
            "long_name": "Normalized Difference Vegetation Index",
        },
    )
    ax = eo.plot.index(ndvi)
    cbar = ax.figure.axes[-1]
    assert cbar.get_ylabel() == "NDVI [dimensionless]"
    mappable = ax.figure.axes[-1].collections or ax.figure.axes[-1].images
    lo, hi = cbar.get_ylim()
    assert lo == pytest.approx(-hi) and hi > 0.7  # symmetric about 0
    img = _image(ax)
    assert img[0, 0, 3] == 0 and (img[1:, 1:, 3] == 255).all()
    assert mappable is not None
    # a non-ND variable: sequential viridis between its percentiles, units as given
    temp = (
        ndvi.copy(data=v * 10 + 280)
        .rename("lst")
        .assign_attrs(units="K", formula="", long_name="land surface temperature")
    )
    ax2 = eo.plot.index(temp)
    assert ax2.figure.axes[-1].get_ylabel() == "lst [K]"
    lo2, hi2 = ax2.figure.axes[-1].get_ylim()
    assert 278 < lo2 < hi2 < 288.1
    plt.close("all")


def test_time_series_plot_draws_one_line_per_zone() -> None:
    times = pd.date_range("2025-05-01", periods=6, freq="10D")
    table = pd.DataFrame(
        [
            {
                "zone": z,
                "time": t,
                "variable": "NDVI",
                "mean": 0.2 + 0.1 * k + 0.01 * i,
                "std": 0.05,
                "valid_fraction": 1.0 if i != 2 else 0.1,
            }
            for k, z in enumerate(["a", "b", "c"])
            for i, t in enumerate(times)
        ]
    )
    ax = eo.plot.time_series(table, band="std")
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_ylabel() == "mean of NDVI"
    ax2 = eo.plot.time_series(table, ids=["b"], min_valid_fraction=0.5)
    (line,) = ax2.get_lines()
    assert len(line.get_xdata()) == 5
    points = table.rename(columns={"zone": "point", "mean": "value"})
    assert len(eo.plot.time_series(points).get_lines()) == 3
    with pytest.raises(InputError, match="'median'"):
        eo.plot.time_series(table, "median")
    with pytest.raises(InputError, match="zone' or 'point"):
        eo.plot.time_series(table.drop(columns="zone"))
    plt.close("all")


def test_render_is_shared_with_the_quicklooks(tmp_path: Path) -> None:
    from eo.io.quicklook import rgba

    v = np.array([[0.0, 0.5], [1.0, np.nan]])
    lo, hi = render.limits(v)
    ours = render.colorize(v, lo, hi, "RdYlGn")
    np.testing.assert_array_equal(np.moveaxis(rgba(v, None, None, "RdYlGn"), 0, -1), ours)
    assert ours[1, 1, 3] == 0 and (ours[0, :, 3] == 255).all()
    assert render.limits(np.full((2, 2), np.nan)) == (0.0, 1.0)
    assert render.limits(np.array([1.0, 1.0])) == (0.5, 1.5)
    assert render.limits(np.array([-0.1, 0.6]), center=0.0, percentiles=(0, 100)) == (-0.6, 0.6)
    img, ranges = render.stretch_rgb(np.stack([v, v * 2, v * 3]))
    assert img.shape == (2, 2, 4) and img[1, 1, 3] == 0 and len(ranges) == 3


def test_missing_matplotlib_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(DependencyError, match=r"pip install 'eo\[plot\]'"):
        eo.plot.index(xr.DataArray(np.zeros((4, 4)), dims=("y", "x"), name="v"))
