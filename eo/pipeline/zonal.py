"""The ``zonal:`` section of a pipeline: statistics of each period's outputs over a set of zones.

After the run's tiles are committed, each period with outputs gets one table,
``<out>/zonal/<name>_<period>_zonal.parquet`` (or ``.csv``): :func:`eo.zonal_stats` of the period's
written COGs, mosaicked over every tile (:func:`eo.load` of the committed output items, so a zone
crossing a tile boundary is summarised once, from all its pixels), with the columns of
``eo zonal OUT_DIR ZONES`` (``zone``, ``time`` = the period's start, ``variable`` and one column
per statistic).  Values are the written ones (float32 indices, NaN nodata excluded and counted).

Incremental like the tiles: a period's table records (``_state/_zonal/<period>.json``) a
fingerprint of the zonal settings, the zones file's bytes and the fingerprints of the period's
committed tiles; a re-run recomputes a table only when one of them changed.  The table is written
atomically, then its record (the commit).  Tables are linked from the output collection as assets
(``zonal_<period>``, STAC table extension: columns and row count) and listed in the run report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eo.errors import EOError, EOWarning
from eo.io.atomic import write_json
from eo.io.paths import safe_name
from eo.io.tables import MEDIA_TYPES, write_table
from eo.pipeline.report import ZonalResult
from eo.pipeline.spec import PipelineSpec, ZonalSpec
from eo.redact import redact

log = logging.getLogger("eo.pipeline")

#: Folder of the tables in an output directory, and of their records under ``_state``.
FOLDER, STATE = "zonal", "_zonal"
#: The STAC table extension (columns and row count of a table asset).
TABLE_EXTENSION = "https://stac-extensions.github.io/table/v1.2.0/schema.json"


def table_path(out_dir: Path, pipeline: str, period: str, zonal: ZonalSpec) -> Path:
    """``<out>/zonal/<pipeline>_<period>_zonal.<format>``."""
    return out_dir / FOLDER / f"{pipeline}_{safe_name(period, 'period label')}_zonal{zonal.suffix}"


def record_path(out_dir: Path, period: str) -> Path:
    """Where the commit record of a period's table lives."""
    return out_dir / "_state" / STATE / f"{safe_name(period, 'period label')}.json"


def read_record(out_dir: Path, period: str) -> dict[str, Any] | None:
    """The record of a period's table, or None (absent or unreadable)."""
    try:
        rec = json.loads(record_path(out_dir, period).read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def records(out_dir: Path) -> list[dict[str, Any]]:
    """Every readable table record, by period."""
    out = []
    for path in sorted((out_dir / "_state" / STATE).glob("*.json")):
        rec = read_record(out_dir, path.stem)
        if rec is not None and "period" in rec and "file" in rec:
            out.append(rec)
    return out


def _zones_bytes(path: Path) -> str:
    """sha256 of the zones file (with a shapefile's side-cars)."""
    h = hashlib.sha256()
    files = [path]
    if path.suffix.lower() == ".shp":
        files += sorted(p for p in path.parent.glob(path.stem + ".*") if p != path)
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def variables(spec: PipelineSpec, written: Sequence[str]) -> list[str]:
    """The variables summarised: ``zonal.variables``, else every written one but ``count``."""
    assert spec.zonal is not None
    return list(spec.zonal.variables) or [v for v in written if v != "count"]


def fingerprint(spec: PipelineSpec, names: Sequence[str], tiles: Mapping[str, str]) -> str:
    """Digest of the zonal settings, the zones' bytes, the variables and the period's tile fingerprints."""
    assert spec.zonal is not None
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(spec.zonal).items()}
    text = json.dumps(
        [settings, _zones_bytes(spec.zonal.zones), list(names), sorted(tiles.items())],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _period_tiles(tile_records: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per period label: ``{tile: record}`` of the committed tiles that have an output item."""
    out: dict[str, dict[str, Any]] = {}
    for (tile, period), rec in sorted(tile_records.items()):
        if rec.get("item"):
            out.setdefault(period, {})[tile] = rec
    return out


def pending(
    spec: PipelineSpec,
    tile_records: Mapping[tuple[str, str], Mapping[str, Any]],
    written: Sequence[str],
) -> list[str]:
    """Period labels whose table is missing or out of date (cheap: reads records, hashes the zones)."""
    if spec.zonal is None:
        return []
    names = variables(spec, written)
    todo = []
    for period, tiles in _period_tiles(tile_records).items():
        rec = read_record(spec.out_dir, period)
        digest = fingerprint(spec, names, {t: r["fingerprint"] for t, r in tiles.items()})
        path = spec.out_dir / rec["file"] if rec else None
        if rec is None or rec.get("fingerprint") != digest or path is None or not path.exists():
            todo.append(period)
    return todo


def summarise(
    spec: PipelineSpec,
    tile_records: Mapping[tuple[str, str], Mapping[str, Any]],
    written: Sequence[str],
    say: Callable[[str], None],
) -> list[ZonalResult]:
    """Bring every period's table up to date (COMPUTES); their report rows, in period order.

    A period whose table fails (an unreadable output, no zone over the outputs...) is a ``failed``
    row; the others go on.
    """
    if spec.zonal is None:
        return []
    from eo.analysis import read_zones
    from eo.pipeline.checks import zones_layer

    z = spec.zonal
    names = variables(spec, written)
    todo = set(pending(spec, tile_records, written))
    zones = read_zones(z.zones, id=z.id, layer=zones_layer(z.layer)) if todo else None
    rows = []
    for period, tiles in _period_tiles(tile_records).items():
        if period not in todo:
            rec = read_record(spec.out_dir, period) or {}
            row = ZonalResult.from_dict({**rec.get("result", {}), "period": period})
            row.status = "skipped"
            rows.append(row)
            continue
        t0 = time.perf_counter()
        try:
            row = _table(spec, period, tiles, names, zones)
        except EOError as err:
            row = ZonalResult(period, "failed", error=redact(str(err)))
        except Exception as err:  # one period's table must not lose the others
            log.debug("zonal statistics of %s failed", period, exc_info=True)
            row = ZonalResult(period, "failed", error=redact(f"{type(err).__name__}: {err}"))
        row.seconds = time.perf_counter() - t0
        if row.status == "done":
            write_json(
                record_path(spec.out_dir, period),
                {
                    "period": period,
                    "fingerprint": fingerprint(spec, names, {t: r["fingerprint"] for t, r in tiles.items()}),
                    "file": row.file,
                    "result": asdict(row),
                },
            )
            say(f"zonal {period}: {row.rows} rows ({row.zones} zones) -> {row.file} in {row.seconds:.1f} s")
        else:
            log.warning("zonal statistics of %s failed: %s", period, row.error)
            say(f"zonal {period}: failed ({row.error})")
        rows.append(row)
    return rows


def _table(
    spec: PipelineSpec, period: str, tiles: Mapping[str, Mapping[str, Any]], names: list[str], zones: Any
) -> ZonalResult:
    """Compute and write one period's table (COMPUTES); its row."""
    import pystac

    import eo
    from eo.io.stac import item_path

    assert spec.zonal is not None
    z = spec.zonal
    items = [pystac.Item.from_file(str(item_path(spec.out_dir, r["item"]["id"]))) for r in tiles.values()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EOWarning)
        ds = eo.load(items, bands=names)
        table = eo.zonal_stats(ds, zones, z.stats, all_touched=z.all_touched, weights=z.weights, id="zone")
    for w in caught:
        if isinstance(w.message, EOWarning):
            log.warning("zonal %s: %s", period, " ".join(str(w.message).split()))
    path = write_table(table, table_path(spec.out_dir, spec.name, period, z))
    return ZonalResult(
        period,
        "done",
        file=str(path.relative_to(spec.out_dir)),
        zones=int(table["zone"].nunique()),
        rows=len(table),
        variables=names,
        columns=_column_types(table),
    )


def _column_types(table: Any) -> dict[str, str]:
    """Column name -> Arrow type name (what the Parquet file stores; the STAC table extension's ``type``)."""
    import pyarrow as pa

    schema = pa.Schema.from_pandas(table, preserve_index=False)
    return {f.name: str(f.type) for f in schema}


def collection_assets(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The tables as assets of the output collection (STAC table extension fields)."""
    assets = {}
    for rec in records(out_dir):
        row = rec.get("result") or {}
        file = str(rec["file"])
        if not (out_dir / file).exists():
            continue
        assets[f"zonal_{rec['period']}"] = {
            "href": f"./{file}",
            "type": MEDIA_TYPES.get(Path(file).suffix.lower(), "application/octet-stream"),
            "title": f"Zonal statistics, {rec['period']}",
            "roles": ["data", "zonal-statistics"],
            "table:row_count": int(row.get("rows", 0)),
            "table:columns": [{"name": k, "type": v} for k, v in (row.get("columns") or {}).items()],
        }
    return assets
