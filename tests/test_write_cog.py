from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from rio_cogeo.cogeo import cog_validate

import eo
import eo.io.cog
from eo.errors import InputError, WriteError

GBOX = GeoBox((600, 700), Affine(30, 0, 452475, 0, -30, 3408645), "EPSG:32616")


def _da(dtype=np.float32, chunks=200, nan=True, gbox=GBOX) -> xr.DataArray:
    rng = np.random.default_rng(42)
    values = (rng.random(tuple(gbox.shape)) * 1000).astype(dtype)
    if nan and np.dtype(dtype).kind == "f":
        values[:50, :80] = np.nan
    return xr.DataArray(
        dsa.from_array(values, chunks=chunks), dims=("y", "x"), coords=xr_coords(gbox), attrs={"units": "1"}
    )


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_valid_cog_roundtrip_float_nan(tmp_path):
    da = _da()
    out = eo.write_cog(da, tmp_path / "a.tif", tags={"source": "test"})
    assert out == tmp_path / "a.tif"
    valid, errors, _ = cog_validate(str(out), quiet=True)
    assert valid, errors
    with rasterio.open(out) as src:
        assert np.isnan(src.nodata)
        assert src.crs.to_epsg() == 32616
        assert src.transform == GBOX.affine
        assert src.profile["blockxsize"] == 512 and src.compression.value == "DEFLATE"
        assert src.overviews(1) == [2]  # 700 px wide -> one level fits in a 512 block
        assert src.tags()["source"] == "test" and src.units == ("1",)
        np.testing.assert_array_equal(src.read(1), da.values)
    assert _leftovers(tmp_path) == []


def test_int_nodata_given_or_from_attr(tmp_path):
    da = _da(np.uint16)
    with rasterio.open(eo.write_cog(da, tmp_path / "given.tif", nodata=0)) as src:
        assert src.nodata == 0 and src.dtypes[0] == "uint16"
        np.testing.assert_array_equal(src.read(1), da.values)
    da.attrs["nodata"] = 65535
    with rasterio.open(eo.write_cog(da, tmp_path / "attr.tif")) as src:
        assert src.nodata == 65535
    with pytest.raises(InputError, match="nodata"):
        eo.write_cog(da, tmp_path / "bad.tif", nodata=-1)


def test_explicit_overviews_blocksize_and_bands(tmp_path):
    bands = xr.concat([_da(), _da() * 2], dim="band").assign_coords(band=["red", "nir"])
    out = eo.write_cog(bands, tmp_path / "b.tif", overview_levels=[2, 4], blocksize=256, compress="zstd")
    assert cog_validate(str(out), quiet=True)[0]
    with rasterio.open(out) as src:
        assert src.count == 2 and src.descriptions == ("red", "nir")
        assert src.overviews(1) == [2, 4] and src.profile["blockxsize"] == 256
        np.testing.assert_array_equal(src.read(2), bands.values[1])
        # overview = 2x2 average ignoring NaN
        ovr = src.read(1, out_shape=(300, 350))
        ref = bands.isel(band=0).coarsen(y=2, x=2).mean().values
        np.testing.assert_allclose(ovr[60:, 60:], ref[60:, 60:], rtol=1e-5)


def test_numpy_backed_and_not_georeferenced(tmp_path):
    da = _da().compute()
    with rasterio.open(eo.write_cog(da, tmp_path / "np.tif")) as src:
        np.testing.assert_array_equal(src.read(1), da.values)
    with pytest.raises(InputError, match="georeferenced"):
        eo.write_cog(xr.DataArray(np.zeros((4, 4)), dims=("y", "x")), tmp_path / "x.tif")


def test_store_and_stream_strategies_give_same_pixels(tmp_path):
    da = _da(chunks=150)
    a = eo.write_cog(da, tmp_path / "store.tif", strategy="store")
    b = eo.write_cog(da, tmp_path / "stream.tif", strategy="stream")
    with rasterio.open(a) as sa, rasterio.open(b) as sb:
        np.testing.assert_array_equal(sa.read(), sb.read())


@pytest.mark.parametrize("strategy", ["store", "stream"])
def test_crash_mid_write_leaves_nothing(tmp_path, strategy):
    def boom(block, block_info=None):
        if block_info[None]["chunk-location"] == (2, 1):
            raise RuntimeError("simulated worker crash")
        return block

    bad = _da().copy(data=_da().data.map_blocks(boom, dtype=np.float32))
    with pytest.raises(WriteError, match="simulated worker crash"):
        eo.write_cog(bad, tmp_path / "crash.tif", strategy=strategy)
    assert list(tmp_path.iterdir()) == []
    # an existing target is left untouched
    good = eo.write_cog(_da(), tmp_path / "keep.tif")
    before = good.read_bytes()
    with pytest.raises(WriteError):
        eo.write_cog(bad, good, strategy=strategy)
    assert good.read_bytes() == before and _leftovers(tmp_path) == []


def test_under_distributed_client(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
        out = eo.write_cog(_da(), tmp_path / "dist.tif")
    assert cog_validate(str(out), quiet=True)[0]
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), _da().values)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys
    import dask.array as dsa, numpy as np, xarray as xr
    from affine import Affine
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords
    import eo, eo.io.cog, rasterio.shutil, rio_cogeo.cogeo, odc.geo.xr  # imports before the baseline

    def hwm_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))

    n = 8192
    gbox = GeoBox((n, n), Affine(10, 0, 400000, 0, -10, 3000000), "EPSG:32616")
    def block(b, block_info=None):
        (y0, y1), (x0, x1) = block_info[None]["array-location"]
        y = np.sin(np.arange(y0, y1, dtype=np.float32) / 300)
        x = np.cos(np.arange(x0, x1, dtype=np.float32) / 200)
        return y[:, None] * x[None, :]
    arr = dsa.map_blocks(block, dsa.empty((n, n), chunks=1024, dtype=np.float32), dtype=np.float32)
    da = xr.DataArray(arr, dims=("y", "x"), coords=xr_coords(gbox))
    base = hwm_kib()
    eo.write_cog(da, sys.argv[1])
    print((hwm_kib() - base) / 1024)
    """
)


@pytest.mark.slow
def test_memory_bounded_8192_square(tmp_path):
    out = tmp_path / "big.tif"
    res = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    increase_mib = float(res.stdout.strip().splitlines()[-1])
    assert increase_mib < 128, f"peak RSS grew by {increase_mib:.0f} MiB writing a 256 MiB image"
    with rasterio.open(out) as src:
        assert src.shape == (8192, 8192) and len(src.overviews(1)) >= 4


def test_layout_check_refuses_a_non_cog_and_leaves_nothing(tmp_path, monkeypatch):
    import rasterio.shutil as rshutil

    real_copy = rshutil.copy

    def plain_gtiff(src, dst, driver=None, **options):  # what a broken GDAL build might write
        return real_copy(src, dst, driver="GTiff", TILED="YES", COMPRESS="DEFLATE")

    monkeypatch.setattr(rshutil, "copy", plain_gtiff)
    with pytest.raises(WriteError, match="not COG"):
        eo.write_cog(_da(), tmp_path / "plain.tif")
    assert list(tmp_path.iterdir()) == []


def test_validate_runs_rio_cogeo(tmp_path, monkeypatch):
    import rio_cogeo.cogeo

    calls = []
    monkeypatch.setattr(
        rio_cogeo.cogeo, "cog_validate", lambda path, quiet: calls.append(path) or (False, ["broken"], [])
    )
    with pytest.raises(WriteError, match="broken"):
        eo.write_cog(_da(), tmp_path / "v.tif", validate=True)
    assert len(calls) == 1 and list(tmp_path.iterdir()) == []
    eo.write_cog(_da(), tmp_path / "nv.tif")  # the default does not call it
    assert len(calls) == 1


THREADED_IMPORTS = textwrap.dedent(
    """
    import sys
    import dask.array as dsa, numpy as np, xarray as xr
    from affine import Affine
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords
    import eo
    gbox = GeoBox((300, 400), Affine(10, 0, 400000, 0, -10, 3000000), "EPSG:32616")
    ones = dsa.ones((300, 400), chunks=128, dtype="float32")
    da = xr.DataArray(ones, dims=("y", "x"), coords=xr_coords(gbox))
    eo.write_cog(da, sys.argv[1])
    print(sorted(m for m in ("distributed", "rio_cogeo") if m in sys.modules))
    """
)


def test_threaded_write_imports_neither_distributed_nor_rio_cogeo(tmp_path):
    res = subprocess.run(
        [sys.executable, "-c", THREADED_IMPORTS, str(tmp_path / "t.tif")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
    with rasterio.open(tmp_path / "t.tif") as src:
        assert src.read(1).min() == 1.0


def _shared_source(calls: list[tuple[int, ...]]) -> xr.DataArray:
    """A lazy array whose blocks record their computation in ``calls`` (threads of this process)."""

    def source(block, block_info=None):
        calls.append(block_info[None]["chunk-location"])
        return block * 2

    base = _da(chunks=200)
    return base.copy(data=base.data.map_blocks(source, dtype=np.float32))


@pytest.mark.parametrize("strategy", ["store", "stream"])
def test_write_cogs_computes_shared_inputs_once(tmp_path, strategy):
    calls: list[tuple[int, ...]] = []
    shared = _shared_source(calls)
    count = (~np.isnan(shared)).astype(np.uint16)
    paths = eo.io.cog.write_cogs(
        {tmp_path / "value.tif": shared + 1, tmp_path / "count.tif": count}, strategy=strategy
    )
    assert paths == [tmp_path / "value.tif", tmp_path / "count.tif"]
    n_blocks = int(np.prod(shared.data.numblocks))
    assert sorted(calls) == sorted(set(calls)) and len(calls) == n_blocks  # every block once, not twice
    expected = _da().values * 2
    with rasterio.open(paths[0]) as v, rasterio.open(paths[1]) as c:
        np.testing.assert_array_equal(v.read(1), expected + 1)
        np.testing.assert_array_equal(c.read(1), (~np.isnan(expected)).astype(np.uint16))
        assert c.dtypes[0] == "uint16" and np.isnan(v.nodata)
    for p in paths:
        assert cog_validate(str(p), quiet=True)[0]
    assert _leftovers(tmp_path) == []


def test_write_cogs_failure_writes_none(tmp_path):
    def boom(block, block_info=None):
        if block_info[None]["chunk-location"] == (1, 1):
            raise RuntimeError("simulated crash")
        return block

    good = _da()
    bad = good.copy(data=good.data.map_blocks(boom, dtype=np.float32))
    with pytest.raises(WriteError, match="simulated crash"):
        eo.io.cog.write_cogs({tmp_path / "good.tif": good, tmp_path / "bad.tif": bad})
    assert list(tmp_path.iterdir()) == []


def test_write_cogs_refuses_mismatched_stream_chunks_and_duplicate_targets(tmp_path):
    with pytest.raises(InputError, match="same chunks"):
        eo.io.cog.write_cogs(
            {tmp_path / "a.tif": _da(chunks=200), tmp_path / "b.tif": _da(chunks=300)}, strategy="stream"
        )
    with pytest.raises(InputError, match="twice"):
        eo.io.cog.write_cogs({tmp_path / "a.tif": _da(), str(tmp_path / "a.tif"): _da()})
    assert list(tmp_path.iterdir()) == []
