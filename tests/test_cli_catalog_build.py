"""``eo catalog build --description FILE --out DIR``: ingest a product of one's own from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
import yaml
from click.testing import CliRunner
from rasterio.transform import from_origin

from eo.cli import main


def _description(tmp_path: Path) -> Path:
    """Two scenes of a two-band product of the packaged KazEOSat-2 profile (L2A), as raw GeoTIFFs."""
    for i in range(2):
        scene = tmp_path / "raw" / f"s{i}"
        scene.mkdir(parents=True)
        for band in ("B3", "B5"):
            profile = {"driver": "GTiff", "width": 32, "height": 24, "count": 1, "dtype": "uint16",
                       "crs": "EPSG:32642", "transform": from_origin(600000, 5700000, 6.5, 6.5)}  # fmt: skip
            with rasterio.open(scene / f"kz2-{i}_{band}.tif", "w", **profile) as dst:
                dst.write(np.full((24, 32), 1000 + i, np.uint16), 1)
    desc = {
        "format": "eo-ingest/1",
        "collection": {"id": "kazeosat-2-l2a", "description": "test", "license": "other"},
        "sensor": "kazeosat-2",
        "product": "l2a",
        "platform": "kazeosat-2",
        "instruments": ["msi"],
        "gsd": 6.5,
        "data_root": "raw",
        "time": {"datetime": "2025-06-01T06:00:00Z"},
        "cloud_cover": {"unknown": "unknown: test data"},
        "bands": [
            {"key": "red", "name": "B3", "file": "{scene}_B3.tif", "gsd": 6.5, "nodata": 0, "scale": 0.0001},
            {"key": "nir", "name": "B5", "file": "{scene}_B5.tif", "gsd": 6.5, "nodata": 0, "scale": 0.0001},
        ],
        "scenes": [{"id": f"kz2-{i}", "path": f"s{i}"} for i in range(2)],
    }
    path = tmp_path / "kazeosat-2-l2a.yaml"
    path.write_text(yaml.safe_dump(desc))
    return path


def test_build_from_a_description(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["catalog", "build", "--description", str(_description(tmp_path)), "--out", str(tmp_path / "cat")],
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / "cat" / "catalog.json")
    items = sorted((tmp_path / "cat" / "kazeosat-2-l2a").glob("*.json"))
    assert [p.stem for p in items] == ["collection", "kz2-0", "kz2-1"]
    item = json.loads(items[2].read_text())
    assert item["properties"]["eotk:sensor"] == "kazeosat-2:l2a"
    with rasterio.open(items[2].parent / item["assets"]["nir"]["href"]) as src:
        assert int(src.read(1)[0, 0]) == 1001


def test_a_description_needs_out(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["catalog", "build", "--description", str(_description(tmp_path))])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: --description builds a catalogue") and res.stderr.count("\n") == 1
