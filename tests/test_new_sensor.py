"""A new sensor is added by data files only: a profile YAML in EO_SENSOR_PATH and an ingest description.

The whole chain then runs on data made for it: ingest -> local STAC API -> search -> load ->
calibrate -> mask -> index -> composite -> COG, and the result equals a hand computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine

import eo
from eo import sensors as eo_sensors
from eo.catalog.build import build_catalog
from eo.catalog.serve import serve

PROFILE: dict[str, Any] = {
    "id": "kz-demo-3",
    "name": "A made-up three-band domestic sensor (test)",
    "version": "0.1",
    "platforms": ["kz-demo-3a"],
    "instruments": ["demo-imager"],
    "references": ["test fixture, no real instrument"],
    "bands": [
        {"name": "R", "common_name": "red", "asi": "R", "center_wavelength": 0.66, "resolution": 8},
        {"name": "N", "common_name": "nir", "asi": "N", "center_wavelength": 0.84, "resolution": 8},
        {"name": "Q", "common_name": "qa", "kind": "qa", "resolution": 8},
    ],
    "products": {
        "l2": {
            "state": "surface_reflectance",
            "scale": 0.0001,
            "offset": -0.05,
            "nodata": 0,
            "units": "1",
            "qa": {
                "band": "Q",
                "kind": "bits",
                "bits": {"nodata": [{"bit": 0}], "cloud": [{"bit": 3}], "shadow": [{"bit": 4}]},
            },
            "match": {"platform": ["kz-demo-3a"]},
        }
    },
}

SHAPE = (40, 50)
TRANSFORM = Affine(8, 0, 600000, 0, -8, 5700000)
DATES = ("2025-06-01T06:00:00Z", "2025-06-11T06:00:00Z", "2025-06-21T06:00:00Z")


def _tif(path: Path, data: np.ndarray) -> None:
    profile = {"driver": "GTiff", "width": SHAPE[1], "height": SHAPE[0], "count": 1, "dtype": data.dtype.name,
               "crs": "EPSG:32642", "transform": TRANSFORM}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


@pytest.fixture
def demo_sensor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    (sensors / "kz-demo-3.yaml").write_text(yaml.safe_dump(PROFILE))
    monkeypatch.setenv("EO_SENSOR_PATH", str(sensors))
    rng = np.random.default_rng(7)
    data: dict[str, list[np.ndarray]] = {"red": [], "nir": [], "qa": []}
    for i, _ in enumerate(DATES):
        red = rng.integers(1200, 2500, SHAPE, dtype=np.uint16)
        nir = rng.integers(2500, 5000, SHAPE, dtype=np.uint16)
        qa = np.zeros(SHAPE, np.uint8)
        qa[5 + i * 5 : 12 + i * 5, 10:20] = 1 << 3  # a cloud, moving
        qa[30:33, 40 + i : 44 + i] = 1 << 4  # a shadow
        red[0, : 5 * (i + 1)] = 0  # nodata on the first row
        nir[0, : 5 * (i + 1)] = 0
        qa[0, : 5 * (i + 1)] = 1
        scene = tmp_path / "raw" / f"s{i}"
        scene.mkdir(parents=True)
        for key, arr in (("red", red), ("nir", nir), ("qa", qa)):
            _tif(scene / f"kzd-{i}_{key}.tif", arr)
            data[key].append(arr)
    desc = {
        "format": "eo-ingest/1",
        "collection": {"id": "kz-demo-3-l2", "description": "test product", "license": "other"},
        "sensor": "kz-demo-3",
        "product": "l2",
        "platform": "kz-demo-3a",
        "instruments": ["demo-imager"],
        "gsd": 8,
        "data_root": "raw",
        "time": {"datetime": DATES[0]},
        "cloud_cover": {"unknown": "unknown: test data"},
        "bands": [
            {
                "key": "red",
                "name": "R",
                "file": "{scene}_red.tif",
                "common_name": "red",
                "gsd": 8,
                "nodata": 0,
                "scale": 0.0001,
                "offset": -0.05,
            },
            {
                "key": "nir",
                "name": "N",
                "file": "{scene}_nir.tif",
                "common_name": "nir",
                "gsd": 8,
                "nodata": 0,
                "scale": 0.0001,
                "offset": -0.05,
            },
            {"key": "qa", "name": "Q", "file": "{scene}_qa.tif", "kind": "qa", "gsd": 8},
        ],
        "scenes": [{"id": f"kzd-{i}", "path": f"s{i}", "datetime": when} for i, when in enumerate(DATES)],
    }
    return {"desc": desc, "data": data, "root": tmp_path}


def test_a_new_sensor_runs_the_whole_chain(demo_sensor: dict[str, Any], tmp_path: Path) -> None:
    assert eo_sensors.get("kz-demo-3").band("nir").asi == "N"
    desc = demo_sensor["root"] / "kz-demo-3-l2.yaml"
    desc.write_text(yaml.safe_dump(demo_sensor["desc"]))
    catalog = build_catalog(tmp_path / "catalog", [desc])

    with serve(catalog.parent) as server:
        items = eo.search(server.url, collections=["kz-demo-3-l2"])
    assert len(items) == 3
    ds = eo.load(items, bands=["red", "nir", "qa"])
    assert ds.attrs["sensor"] == "kz-demo-3" and ds.red.dtype == np.uint16 and ds.sizes["time"] == 3
    refl = eo.calibrate(ds)
    ndvi = eo.index(refl, "NDVI").where(~eo.mask(ds, classes=("nodata", "cloud", "shadow")))
    out = eo.write_cog(eo.composite(ndvi, method="median"), tmp_path / "ndvi.tif")

    # by hand
    r = np.stack(demo_sensor["data"]["red"]).astype(np.float32) * np.float32(1e-4) - np.float32(0.05)
    n = np.stack(demo_sensor["data"]["nir"]).astype(np.float32) * np.float32(1e-4) - np.float32(0.05)
    qa = np.stack(demo_sensor["data"]["qa"])
    bad = (qa & 1).astype(bool) | (qa & 8).astype(bool) | (qa & 16).astype(bool)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning, match="All-NaN"):
        expected = np.nanmedian(np.where(bad, np.nan, (n - r) / (n + r)), axis=0)
    with rasterio.open(out) as src:
        got = src.read(1)
        assert src.transform == TRANSFORM and src.crs == "EPSG:32642"
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
    assert np.isnan(got[0, :5]).all() and np.isfinite(got[0, 5:]).all()  # nodata in every date only there
