"""``eo zonal``: zonal statistics of an ``eo run`` output directory or a COG, written as a table.

* on a real ``eo run pipelines/ndvi.yaml`` output (the real Sentinel-2 scene, tiles of 10.24 km):
  the table equals :func:`eo.zonal_stats` on the loaded items and numpy on the COG files
  themselves, tile by tile, for fields crossing tile corners and fields partly off the scene;
* on a plain COG (the local catalogue's real red band): equal to rasterstats and numpy;
* a multi-band GeoTIFF with band descriptions and a TIFF date: variables and time from the file
  (the rio-stac item goes through the same loader; every band is read, not only the first);
* errors are one line with exit status 2, and a failed run leaves an existing table untouched.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.features import rasterize
from rasterio.transform import from_origin
from shapely.geometry import box

import eo
from eo.cli import main
from eo.cli.zonal import file_datetime, raster_item
from eo.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
UTM = "EPSG:32618"
#: Fields in the run's UTM grid (tiles are 10240 m: x edges ..., 440320, 450560; y edge 4167680).
FIELDS = {
    "corner": box(449000, 4166000, 452000, 4169500),  # across the corner of four tiles
    "inside": box(445005, 4170003, 446507, 4171011),
    "edge": box(433000, 4160000, 437000, 4162000),  # partly west of the scene (x < 435730): NaN there
}


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def ndvi_out(tmp_path_factory: pytest.TempPathFactory, local_catalog: Path) -> Path:
    """A real ``eo run pipelines/ndvi.yaml`` output directory (threads), EO_HOME = the built catalogue's."""
    home = local_catalog.parent.parent
    old = os.environ.get("EO_HOME")
    os.environ["EO_HOME"] = str(home)
    try:
        out = tmp_path_factory.mktemp("zonal-ndvi-out")
        report = run(ROOT / "pipelines" / "ndvi.yaml", out=out, cluster="threads")
        assert report.exit_code == 0
    finally:
        if old is None:
            os.environ.pop("EO_HOME", None)
        else:
            os.environ["EO_HOME"] = old
    return out


@pytest.fixture(scope="module")
def fields_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fields as a GeoJSON file in lon/lat (so the command reprojects them), id column ``field_id``."""
    gdf = gpd.GeoDataFrame({"field_id": list(FIELDS)}, geometry=list(FIELDS.values()), crs=UTM)
    path = tmp_path_factory.mktemp("fields") / "fields.geojson"
    gdf.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def _fields_utm(path: Path) -> dict[str, Any]:
    """The fields as the command sees them (after the lon/lat round trip), in the run's CRS."""
    gdf = gpd.read_file(path).to_crs(UTM)
    return dict(zip(gdf["field_id"], gdf.geometry, strict=True))


def _numpy_stats(files: list[Path], geom: Any, nodata: float | None = None) -> dict[str, float]:
    """mean/min/max/count/pixels of the pixels whose centre is in ``geom``, over the given files."""
    values, pixels = [], 0
    for f in files:
        with rasterio.open(f) as src:
            inside = rasterize([(geom, 1)], out_shape=src.shape, transform=src.transform, fill=0).astype(bool)
            data = src.read(1).astype(np.float64)
        pixels += int(inside.sum())
        v = data[inside]
        valid = np.isfinite(v) if nodata is None else v != nodata
        values.append(v[valid])
    allv = np.concatenate(values)
    return {
        "mean": float(allv.mean()) if allv.size else np.nan,
        "min": float(allv.min()) if allv.size else np.nan,
        "max": float(allv.max()) if allv.size else np.nan,
        "count": int(allv.size),
        "pixels": pixels,
    }


# --- an eo run output directory ----------------------------------------------------------------


def test_output_dir_table_equals_zonal_stats_and_numpy(
    ndvi_out: Path, fields_file: Path, tmp_path: Path, local_eo_home: Path
) -> None:
    out = tmp_path / "ndvi.parquet"
    res = _invoke(
        "zonal", ndvi_out, fields_file, "--id", "field_id", "--variables", "NDVI",
        "--stats", "mean,median,min,max,count,pixels,valid_fraction", "--out", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 zones x 1 period(s) x 1 variable(s)" in res.stderr
    table = pd.read_parquet(out)
    assert list(table.columns) == [
        "zone", "time", "variable", "mean", "median", "min", "max", "count", "pixels", "valid_fraction",
    ]  # fmt: skip
    assert list(table["zone"]) == list(FIELDS) and set(table["variable"]) == {"NDVI"}
    assert (table["time"] == pd.Timestamp("2015-06-23")).all()  # the period's start

    # the same call in Python, on every item of the output catalogue
    ds = eo.load(eo.search(str(ndvi_out)), bands=["NDVI"])
    expected = eo.zonal_stats(
        ds, fields_file, ("mean", "median", "min", "max", "count", "pixels", "valid_fraction"), id="field_id"
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)

    # numpy on the COG files themselves: the pixels of every tile whose centre is in the field
    tiles = sorted(ndvi_out.glob("*/*/*_NDVI.tif"))
    assert len(tiles) == 6
    for field, geom in _fields_utm(fields_file).items():
        ref = _numpy_stats(tiles, geom)
        row = table.set_index("zone").loc[field]
        assert row["count"] == ref["count"] and row["pixels"] == ref["pixels"], field
        assert row["mean"] == pytest.approx(ref["mean"], rel=1e-9)
        assert (row["min"], row["max"]) == (pytest.approx(ref["min"]), pytest.approx(ref["max"]))
        assert row["valid_fraction"] == pytest.approx(ref["count"] / ref["pixels"], rel=1e-12)
    rows = table.set_index("zone")
    assert rows.loc["corner", "pixels"] == 300 * 350  # 3 km x 3.5 km of 10 m pixels, over 4 tiles
    assert 0 < rows.loc["edge", "valid_fraction"] < 1  # part of the field is off the scene


def test_output_dir_every_variable_by_default_csv_on_stdout(
    ndvi_out: Path, fields_file: Path, local_eo_home: Path
) -> None:
    res = _invoke("zonal", ndvi_out, fields_file, "--id", "field_id", "--stats", "mean,count")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "zone,time,variable,mean,count"
    assert len(lines) == 1 + 3 * 2  # NDVI and count for each field
    count_rows = [line.split(",") for line in lines[1:] if line.split(",")[2] == "count"]
    assert all(float(r[3]) == 1.0 for r in count_rows)  # one clear observation wherever there is one
    assert lines[1].split(",")[1] == "2015-06-23T00:00:00Z"


def test_output_dir_zones_elsewhere_is_a_one_line_error(
    ndvi_out: Path, tmp_path: Path, local_eo_home: Path
) -> None:
    far = tmp_path / "far.geojson"
    gpd.GeoDataFrame({"id": [1]}, geometry=[box(71.4, 51.1, 71.5, 51.2)], crs="EPSG:4326").to_file(far)
    res = _invoke("zonal", ndvi_out, far, "--out", tmp_path / "t.csv")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: no item of") and res.stderr.count("\n") == 1
    assert not (tmp_path / "t.csv").exists()


# --- a plain COG --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def red_cog(local_catalog: Path) -> Path:
    """The local catalogue's real Sentinel-2 red band: a COG, uint16, nodata 0, 10 m, EPSG:32618."""
    (path,) = local_catalog.parent.glob("sentinel-2-l1c/*/red.tif")
    return path


def test_plain_cog_equals_rasterstats_numpy_and_zonal_stats(
    red_cog: Path, fields_file: Path, tmp_path: Path
) -> None:
    from rasterstats import zonal_stats as rs_zonal_stats

    out = tmp_path / "red.csv"
    res = _invoke(
        "zonal", red_cog, fields_file, "--id", "field_id", "--stats", "mean,min,max,count", "--out", out
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["zone", "variable", "mean", "min", "max", "count"]  # no date in the file
    assert list(table["variable"]) == ["b1"] * 3

    fields = _fields_utm(fields_file)
    ref = rs_zonal_stats(list(fields.values()), str(red_cog), stats=["mean", "min", "max", "count"], nodata=0)
    for (field, geom), rs in zip(fields.items(), ref, strict=True):
        row = table.set_index("zone").loc[field]
        mine = _numpy_stats([red_cog], geom, nodata=0)
        assert row["count"] == rs["count"] == mine["count"] > 0, field
        assert row["mean"] == pytest.approx(rs["mean"], rel=1e-9) == pytest.approx(mine["mean"], rel=1e-9)
        assert (row["min"], row["max"]) == (rs["min"], rs["max"]) == (mine["min"], mine["max"])

    item, dated = raster_item(red_cog)
    assert not dated
    expected = eo.zonal_stats(
        eo.load([item]).isel(time=0, drop=True), fields_file, ("mean", "min", "max", "count"), id="field_id"
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


@pytest.fixture
def multiband_tif(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 3-band uint16 GeoTIFF (nodata 0) with band descriptions and a TIFF date tag."""
    rng = np.random.default_rng(3)
    data = rng.integers(1, 4000, (3, 60, 80), dtype=np.uint16)
    data[:, :10, :10] = 0  # nodata corner
    path = tmp_path / "scene.tif"
    profile = {"driver": "GTiff", "width": 80, "height": 60, "count": 3, "dtype": "uint16", "nodata": 0,
               "crs": "EPSG:32642", "transform": from_origin(600000, 5700000, 10, 10), "tiled": True,
               "blockxsize": 16, "blockysize": 16}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("red", "nir", "swir16")
        dst.update_tags(TIFFTAG_DATETIME="2025:07:14 06:05:00")
    return path, data


def test_multiband_file_every_band_named_by_description_with_its_date(
    multiband_tif: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, data = multiband_tif
    zones = tmp_path / "z.geojson"
    geoms = [box(600000, 5699500, 600300, 5700000), box(600400, 5699600, 600800, 5699900)]  # first on nodata
    gpd.GeoDataFrame({"id": ["nw", "se"]}, geometry=geoms, crs="EPSG:32642").to_file(zones)
    res = _invoke(
        "zonal", path, zones, "--stats", "mean,count,valid_fraction", "--out", tmp_path / "t.parquet"
    )
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(tmp_path / "t.parquet")
    assert list(table["variable"].unique()) == ["red", "nir", "swir16"]
    assert (table["time"] == pd.Timestamp("2025-07-14 06:05:00")).all()
    transform = from_origin(600000, 5700000, 10, 10)
    for zone, geom in zip(["nw", "se"], geoms, strict=True):
        inside = rasterize([(geom, 1)], out_shape=(60, 80), transform=transform).astype(bool)
        for band, name in enumerate(["red", "nir", "swir16"]):
            v = data[band][inside].astype(np.float64)
            row = table[(table["zone"] == zone) & (table["variable"] == name)].iloc[0]
            assert row["count"] == (v != 0).sum()
            assert row["mean"] == pytest.approx(v[v != 0].mean(), rel=1e-12)
            assert row["valid_fraction"] == pytest.approx((v != 0).mean(), rel=1e-12)
    nw = table[table["zone"] == "nw"]
    assert (nw["valid_fraction"] < 1).all()  # the nodata corner is excluded and counted


@pytest.mark.filterwarnings("ignore:Could not get parse date")  # rio-stac reads no TIFF-format date
def test_rio_stac_item_without_eo_bands_loads_every_band(multiband_tif: tuple[Path, np.ndarray]) -> None:
    """A multi-band asset described by raster:bands only loads as ``<key>.1``, ``<key>.2``... (all bands)."""
    import rio_stac

    path, data = multiband_tif
    item = rio_stac.create_stac_item(
        str(path),
        input_datetime=dt.datetime(2025, 7, 14),
        asset_name="scene",
        with_proj=True,
        with_raster=True,
    )
    ds = eo.load([item]).compute()
    assert list(ds.data_vars) == ["scene.1", "scene.2", "scene.3"]
    for band, var in enumerate(ds.data_vars):
        np.testing.assert_array_equal(ds[var].values[0], data[band])
        assert ds[var].attrs["nodata"] == 0


@pytest.mark.parametrize(
    "tags,expected",
    [
        ({"TIFFTAG_DATETIME": "2025:07:14 06:05:00"}, dt.datetime(2025, 7, 14, 6, 5, tzinfo=dt.UTC)),
        ({"ACQUISITIONDATETIME": "2024-05-01T10:00:00Z", "TIFFTAG_DATETIME": "2025:01:01 00:00:00"},
         dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)),
        ({"TIFFTAG_DATETIME": "yesterday"}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_file_datetime(tags: dict[str, str], expected: dt.datetime | None) -> None:
    assert file_datetime(tags) == expected


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--stats", "mean,avg"], "unknown zonal statistic 'avg'"),
        (["--variables", "NDVI"], "has no band 'NDVI'"),
        (["--out", "table.xlsx"], "expected a .parquet or .csv file name"),
        (["--datetime", "2016"], "--datetime selects periods of an eo run output directory"),
        (["--weights", "area", "--all-touched"], "exclude each other"),
    ],
)
def test_bad_options_are_one_line_errors(
    red_cog: Path, fields_file: Path, args: list[str], needle: str
) -> None:
    res = _invoke("zonal", red_cog, fields_file, "--id", "field_id", *args)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: ") and needle in res.stderr and res.stderr.count("\n") == 1


def test_not_a_raster_and_missing_zones_are_one_line_errors(fields_file: Path, red_cog: Path) -> None:
    res = _invoke("zonal", fields_file, fields_file)
    assert res.exit_code == 2 and "neither an eo run output directory" in res.stderr
    res = _invoke("zonal", red_cog, "/nonexistent/fields.gpkg")
    assert res.exit_code == 2 and "does not exist" in res.stderr and res.stderr.count("\n") == 1


def test_a_failed_run_leaves_the_previous_table(red_cog: Path, fields_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    assert _invoke("zonal", red_cog, fields_file, "--id", "field_id", "--out", out).exit_code == 0
    before = out.read_bytes()
    res = _invoke("zonal", red_cog, fields_file, "--id", "nope", "--out", out)
    assert res.exit_code == 2
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temp file left


def test_zones_outside_the_raster_warn_on_one_line(red_cog: Path, tmp_path: Path) -> None:
    zones = tmp_path / "z.geojson"
    geoms = [box(440000, 4165000, 441000, 4166000), box(300000, 4000000, 301000, 4001000)]
    gpd.GeoDataFrame({"id": ["in", "out"]}, geometry=geoms, crs=UTM).to_file(zones)
    res = _invoke("zonal", red_cog, zones, "--stats", "count")
    assert res.exit_code == 0, res.output
    warning = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "ZonesOutsideDataWarning" in warning[0] and "'out'" in warning[0]
    assert res.stdout.splitlines()[1:] == ["in,b1,10000", "out,b1,0"]


def test_area_weights_and_all_touched_equal_the_python_call(
    red_cog: Path, fields_file: Path, tmp_path: Path
) -> None:
    item, _ = raster_item(red_cog)
    ds = eo.load([item]).isel(time=0, drop=True)
    for option, kwargs in (
        (["--weights", "area"], {"weights": "area"}),
        (["--all-touched"], {"all_touched": True}),
    ):
        out = tmp_path / f"{option[0][2:]}.parquet"
        res = _invoke(
            "zonal", red_cog, fields_file, "--id", "field_id", "--stats", "mean,count", *option, "--out", out
        )
        assert res.exit_code == 0, res.output
        expected = eo.zonal_stats(ds, fields_file, ("mean", "count"), id="field_id", **kwargs)
        pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)
    centre = eo.zonal_stats(ds, fields_file, ("count",), id="field_id")
    touched = pd.read_parquet(tmp_path / "all-touched.parquet")
    assert (touched["count"] >= centre["count"]).all() and (touched["count"] > centre["count"]).any()
