from __future__ import annotations

import builtins
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

import eo
from eo.errors import DependencyError, InputError
from eo.io.quicklook import colormap_lut, write_quicklook
from eo.io.stac import PROCESSING_SCHEMA, output_item, write_catalog

GBOX = GeoBox((300, 400), Affine(30, 0, 452475, 0, -30, 3408645), "EPSG:32616")


def _input(i: int, prop: str) -> pystac.Item:
    when = dt.datetime(2021, 6, 1 + i, tzinfo=dt.UTC)
    item = pystac.Item(f"in{i}", None, None, when, {prop: f"2021-07-0{i + 1}T00:00:00Z"})
    return item


def _raster(tmp_path: Path, name: str = "ndvi.tif") -> Path:
    values = np.linspace(-1, 1, 300 * 400, dtype=np.float32).reshape(300, 400)
    values[:20] = np.nan
    da = xr.DataArray(values, dims=("y", "x"), coords=xr_coords(GBOX), attrs={"units": "1"})
    return eo.write_cog(da, tmp_path / "out" / "T16RBT" / name)


def _item(
    tmp_path: Path, tile: str = "T16RBT", start: str = "2021-06-01", end: str = "2021-07-01", **kw
) -> pystac.Item:
    tif = _raster(tmp_path)
    png = write_quicklook(tif, tif.with_suffix(".png"))
    return output_item(
        tile,
        (pd.Timestamp(start), pd.Timestamp(end)),
        {"ndvi": tif, "quicklook": png},
        GBOX,
        inputs=[_input(0, "updated"), _input(1, "created")],
        sensor="landsat8",
        product="l1",
        profile_version="3",
        spec_hash="abc123",
        **kw,
    )


def _offline_validate(d: dict) -> None:
    validate = pytest.importorskip("eo.catalog.validate")
    d = dict(d)
    try:
        validate.stac_errors(d)
    except validate.SchemaNotVendoredError:  # processing extension not vendored: validate the rest
        d["stac_extensions"] = [u for u in d["stac_extensions"] if u != PROCESSING_SCHEMA]
    errors = validate.stac_errors(d)
    assert errors == []


def test_output_item_fields(tmp_path):
    item = _item(tmp_path, failed_assets=["swir"], properties={"eotk:tile": "T16RBT"})
    d = item.to_dict()
    p = d["properties"]
    assert item.id == "T16RBT_20210601_20210630"
    assert d["properties"]["datetime"] is None
    assert p["start_datetime"].startswith("2021-06-01T00:00:00") and p["end_datetime"].startswith(
        "2021-06-30T23:59:59"
    )
    assert p["proj:code"] == "EPSG:32616" and p["proj:shape"] == [300, 400]
    assert p["proj:transform"] == [30.0, 0.0, 452475.0, 0.0, -30.0, 3408645.0]
    assert p["eotk:inputs"] == [
        {"id": "in0", "updated": "2021-07-01T00:00:00Z"},
        {"id": "in1", "updated": "2021-07-02T00:00:00Z"},
    ]
    assert p["eotk:sensor"] == "landsat8" and p["eotk:product"] == "l1"
    assert p["eotk:profile_version"] == "3" and p["eotk:spec_hash"] == "abc123"
    assert p["eotk:version"] == eo.__version__ and p["eotk:failed_assets"] == ["swir"]
    assert p["eotk:tile"] == "T16RBT" and p["processing:software"] == {"eo": eo.__version__}
    bands = d["assets"]["ndvi"]["raster:bands"]
    assert bands == [{"nodata": "nan", "data_type": "float32", "unit": "1"}]
    assert d["assets"]["ndvi"]["type"] == pystac.MediaType.COG
    assert d["assets"]["quicklook"]["roles"] == ["overview"]
    # footprint: the grid's corners in lon/lat
    lon, lat = np.array(d["geometry"]["coordinates"][0]).T
    assert -88.0 < lon.min() < lon.max() < -87.0 and 30.0 < lat.min() < lat.max() < 31.0
    assert d["bbox"] == pytest.approx([lon.min(), lat.min(), lon.max(), lat.max()])
    assert pystac.Item.from_dict(d).to_dict()["properties"] == p
    _offline_validate(d)


def test_output_item_rejects_bad_period(tmp_path):
    with pytest.raises(InputError, match="not after"):
        output_item(
            "t",
            ("2021-02-01", "2021-01-01"),
            {},
            GBOX,
            inputs=[],
            sensor="s",
            product="p",
            profile_version="1",
            spec_hash="h",
        )


def test_write_catalog_creates_then_updates(tmp_path):
    out = tmp_path / "out"
    june = _item(tmp_path)
    path = write_catalog([june], out, "ndvi-monthly")
    assert path == out / "collection.json"
    col = json.loads(path.read_text())
    assert [ln["href"] for ln in col["links"] if ln["rel"] == "item"] == [
        "./T16RBT_20210601_20210630/T16RBT_20210601_20210630.json"
    ]
    item_file = out / june.id / f"{june.id}.json"
    stored = json.loads(item_file.read_text())
    assert stored["assets"]["ndvi"]["href"] == "../T16RBT/ndvi.tif"  # relative to the item file
    assert (item_file.parent / stored["assets"]["ndvi"]["href"]).resolve() == (out / "T16RBT" / "ndvi.tif")
    _offline_validate(stored)
    validate = pytest.importorskip("eo.catalog.validate")
    assert validate.stac_errors(col) == []

    july = _item(tmp_path, start="2021-07-01", end="2021-08-01")
    june2 = _item(tmp_path, properties={"eotk:rerun": True})
    write_catalog([july, june2], out, "ndvi-monthly")
    reread = pystac.Collection.from_file(str(path))
    items = {i.id: i for i in reread.get_items()}
    assert set(items) == {june.id, july.id}
    assert items[june.id].properties["eotk:rerun"] is True
    interval = reread.extent.temporal.intervals[0]
    assert interval[0] == dt.datetime(2021, 6, 1, tzinfo=dt.UTC)
    assert interval[1].date() == dt.date(2021, 7, 31)
    assert Path(items[july.id].assets["ndvi"].get_absolute_href()).exists()
    assert not [p for p in out.rglob(".*")]  # no temp files left


def test_quicklook_from_array_and_file(tmp_path):
    values = np.tile(np.linspace(0, 1, 1000, dtype=np.float32), (600, 1))
    values[:, :100] = np.nan
    values[:, -200:] = 1.0
    da = xr.DataArray(values, dims=("y", "x"))
    png = write_quicklook(da, tmp_path / "q.png", vmin=0, vmax=1, max_size=256)
    with rasterio.open(png) as src:
        assert src.driver == "PNG" and src.count == 4
        assert max(src.shape) <= 256
        rgba = src.read()
    assert (rgba[3, :, :20] == 0).all() and (rgba[3, :, 30:] == 255).all()
    lut = colormap_lut("RdYlGn")
    np.testing.assert_array_equal(rgba[:3, 0, -1], lut[255, :3])  # right edge = vmax colour
    tif = _raster(tmp_path)
    with rasterio.open(write_quicklook(tif, tmp_path / "f.png", max_size=100)) as src:
        assert max(src.shape) <= 100 and (src.read(4)[0] == 0).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "out", "q.png"]


def test_colormaps_need_no_matplotlib(monkeypatch):
    # rio-tiler ships the colour maps (ColorBrewer RdYlGn: #a50026 .. #006837)
    real_import = builtins.__import__

    def no_mpl(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    lut = colormap_lut("RdYlGn")
    assert lut.shape == (256, 4) and lut.dtype == np.uint8
    assert tuple(lut[0, :3]) == (165, 0, 38) and tuple(lut[-1, :3]) == (0, 104, 55)


def test_zarr_needs_optional_dependency(tmp_path):
    from eo.io import zarr as eo_zarr

    ds = xr.Dataset({"a": (("y", "x"), np.zeros((2, 2), dtype=np.float32))})
    try:
        import zarr  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="pip install zarr"):
            eo_zarr.write_zarr(ds, tmp_path / "a.zarr")
    else:
        out = eo_zarr.write_zarr(ds, tmp_path / "a.zarr")
        xr.testing.assert_equal(xr.open_zarr(out).load(), ds)
