"""The network floor of the benchmark job: what moving its bytes and making its requests costs at least.

For every COG the job reads (red, nir and SCL of every date, on the whole grid) the file's own
tile index (``TileOffsets`` / ``TileByteCounts`` of the full-resolution image, read with
rasterio from the local copy) gives the blocks the job needs and where they lie:

- **bytes** = the bytes of the needed blocks + each file's header (everything before the
  first tile of any image in the file: the TIFF header, the IFDs of the image and its
  overviews, GDAL's ghost area), read once per file;
- **requests** = per file, one for the header plus one per run of needed blocks that lie
  back to back in the file (a reader may merge adjacent ranges into one request; it cannot
  merge blocks that are not adjacent).  Back to back means at most :data:`MERGE_GAP` bytes
  apart: GDAL's COG layout puts a 4-byte leader and a 4-byte trailer around every tile;
- **floor** = bytes / bandwidth + requests x round trip / concurrency the server allows.

The two terms are added, not overlapped: a lower bound a real reader approaches only when it
keeps the link full and enough requests in flight.  Decoding, computing and writing the output
are not counted (the job's CPU work is the local-disk benchmark's business).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Bytes between two tiles that still count as adjacent (GDAL's COG tile leader + trailer).
MERGE_GAP = 8
#: Asset keys the benchmark job reads.
JOB_ASSETS = ("red", "nir", "scl")


@dataclass(frozen=True)
class FileNeed:
    """What one COG must give the job."""

    path: str
    blocks: int
    block_bytes: int
    header_bytes: int
    runs: int
    """Runs of needed blocks lying back to back in the file (the fewest range requests)."""


def _offsets(ds: Any) -> tuple[list[int], list[int]]:
    """Offsets and byte counts of every tile of band 1 of an open (overview of a) GeoTIFF."""
    h, w = ds.block_shapes[0]
    rows, cols = -(-ds.height // h), -(-ds.width // w)
    offsets, sizes = [], []
    for y in range(rows):
        for x in range(cols):
            offsets.append(int(ds.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=1)))
            sizes.append(int(ds.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=1)))
    return offsets, sizes


def file_need(path: Path) -> FileNeed:
    """Blocks, bytes and the fewest requests to read the whole full-resolution image of one COG."""
    import rasterio

    with rasterio.open(path) as ds:
        offsets, sizes = _offsets(ds)
        first = min(offsets)
        # overview tiles come before the full-resolution ones in a COG: the header ends at the first
        for level in range(len(ds.overviews(1))):
            with rasterio.open(path, overview_level=level) as ov:
                off, _ = _offsets(ov)
                first = min(first, *off)
    runs, end = 0, None
    for off, size in sorted(zip(offsets, sizes, strict=True)):
        if end is None or off - end > MERGE_GAP:
            runs += 1
        end = off + size
    return FileNeed(str(path), len(offsets), sum(sizes), first, runs)


def job_files(catalog: Path, assets: tuple[str, ...] = JOB_ASSETS) -> list[Path]:
    """Local paths of the COGs the job reads (every date's ``assets``)."""
    from benchmarks.workloads._common import load_items

    return [Path(it.assets[a].get_absolute_href()) for it in load_items(catalog) for a in assets]


def job_need(catalog: Path) -> dict[str, Any]:
    """Totals over the job's files: blocks, bytes, requests (see the module docstring)."""
    needs = [file_need(p) for p in job_files(catalog)]
    return {
        "files": len(needs),
        "blocks": sum(n.blocks for n in needs),
        "block_bytes": sum(n.block_bytes for n in needs),
        "header_bytes": sum(n.header_bytes for n in needs),
        "bytes": sum(n.block_bytes + n.header_bytes for n in needs),
        "runs": sum(n.runs for n in needs),
        "requests": sum(n.runs + 1 for n in needs),
        "per_file": [asdict(n) for n in needs],
    }


def floor_s(need: dict[str, Any], rtt_s: float, bandwidth: float, concurrency: int) -> dict[str, float]:
    """The floor (s) and its two terms for a link of ``rtt_s``, ``bandwidth`` bytes/s, ``concurrency``."""
    transfer = need["bytes"] / bandwidth
    latency = need["requests"] * rtt_s / concurrency
    return {"floor_s": transfer + latency, "transfer_s": transfer, "latency_s": latency}
