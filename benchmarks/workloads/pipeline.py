"""The same work through ``eo run``: a pipeline spec over the benchmark catalogue, one tile = the data grid.

The static catalogue is served as a STAC API (``eo.catalog.serve``, rustac) because the pipeline
searches: by the harness before timing starts (``EO_BENCH_STAC_URL``), else here.  The spec
loads red, nir and SCL on a tile grid whose tile ``<epsg>_0_0`` is exactly the first item's 10 m
grid (origin = its lower-left corner, tile size = its width), masks eo's default classes, computes
NDVI and its median over every date, and writes only the NDVI COG (no quicklook) with the threaded
scheduler (``--cluster threads``), as ``eo_api`` does.  It runs as a user types it: ``eo run SPEC``
through the ``eo`` script's entry point, the spec file written by the harness beforehand.  The
pipeline's own work (parsing the spec, search, planning, state, output STAC item, report) is
included: that is what it adds over the API chain.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from benchmarks.workloads._common import first_grid, load_items, parse_args

#: Environment variable through which the harness passes a running STAC API over the catalogue.
URL_ENV = "EO_BENCH_STAC_URL"
#: Environment variable through which the harness passes the spec file (written outside the timing).
SPEC_ENV = "EO_BENCH_PIPELINE_SPEC"


def spec_for(items: list[Any], url: str, out_dir: Path) -> dict[str, Any]:
    """A pipeline spec doing the benchmark's work over ``items`` served at ``url``."""
    crs, (rows, cols), t = first_grid(items[0])
    if rows != cols or t[0] != -t[4]:
        raise ValueError(f"the pipeline's tiles are square: the data grid is {rows} x {cols}")
    left, bottom = t[2], t[5] + t[4] * rows
    epsg = crs.split(":")[-1]
    return {
        "name": "bench-ndvi",
        "catalog": url,
        "collections": [items[0].collection_id or "sentinel-2-l2a"],
        "area": {"tiles": [f"{epsg}_0_0"]},
        "period": {
            "start": min(it.datetime for it in items).date().isoformat(),
            "end": max(it.datetime for it in items).date().isoformat(),
            "bin": "all",
        },
        "grid": {"crs": crs, "resolution": t[0], "tile_size": cols, "origin": [left, bottom]},
        "bands": ["red", "nir", "qa"],
        "mask": {},
        "indices": ["NDVI"],
        "composite": {"method": "median"},
        "outputs": {"dir": str(out_dir), "formats": ["cog"], "variables": ["NDVI"], "quicklook": False},
    }


def write_spec(catalog: Path, url: str, path: Path) -> Path:
    """Write the pipeline spec over ``catalog`` served at ``url`` to ``path`` (JSON, which is YAML)."""
    spec = spec_for(load_items(catalog), url, path.parent / "pipeline-out")
    path.write_text(json.dumps(spec, indent=1))
    return path


def main(argv: list[str] | None = None) -> None:
    """``eo run SPEC --out DIR --cluster threads``, as typed: the ``eo`` script's own entry point.

    The spec (and the STAC API it searches) come from the harness, prepared outside the timing
    (``EO_BENCH_PIPELINE_SPEC``, ``EO_BENCH_STAC_URL``), as a user's spec file and catalogue exist
    before they type the command; run alone, this writes both first.
    """
    args = parse_args(argv)
    from eo.cli import console

    out_dir = Path(tempfile.mkdtemp(prefix="pipeline-", dir=Path(args.out).parent))
    server: Any = nullcontext()
    spec_path = os.environ.get(SPEC_ENV)
    try:
        if not spec_path:
            url = os.environ.get(URL_ENV)
            if not url:
                from eo.catalog.serve import serve

                server = serve(Path(args.catalog).parent)
                url = server.url
            spec_path = str(write_spec(Path(args.catalog), url, out_dir / "spec.yaml"))
        with server:
            sys.argv = ["eo", "run", spec_path, "--out", str(out_dir / "out"), "--cluster", "threads"]
            try:
                console()
            except SystemExit as done:
                if done.code not in (0, None):
                    raise SystemExit(f"eo run failed with exit status {done.code}") from None
        (written,) = (out_dir / "out").rglob("*_NDVI.tif")
        os.replace(written, args.out)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
