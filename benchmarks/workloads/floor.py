"""The floor: what the workload costs with nothing but block decoding, one fused pass and the write.

rasterio decodes the COG blocks on all cores (a thread pool, one task per SCL block, i.e. the
2 x 2 red/nir blocks it covers, so every block is decoded exactly once); a numba kernel
(no GIL) fuses scale/offset, the SCL mask, NDVI and the temporal median per pixel; GDAL's COG
driver writes the float32 result.  Assumes what the data set guarantees: every asset on the
grid of the first item, SCL at exactly twice the pixel size, 10 m blocks tiling SCL blocks.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import rasterio
from rasterio.shutil import copy as rio_copy
from rasterio.windows import Window

from benchmarks.workloads._common import MASK_CLASSES, load_items, parse_args, report_job, scale_offset

_MASK_TABLE = np.zeros(256, dtype=np.bool_)
_MASK_TABLE[MASK_CLASSES] = True


@numba.njit(nogil=True, cache=True)
def _ndvi_median(red, nir, scl, masked, sr, orr, sn, on, out):  # pragma: no cover - compiled
    nt, h, w = red.shape
    buf = np.empty(nt, np.float32)
    half = np.float32(0.5)
    for y in range(h):
        for x in range(w):
            n = 0
            for t in range(nt):
                if masked[scl[t, y // 2, x // 2]]:
                    continue
                r, v = red[t, y, x], nir[t, y, x]
                if r == 0 or v == 0:
                    continue
                rf = np.float32(r) * sr[t] + orr[t]
                nf = np.float32(v) * sn[t] + on[t]
                val = (nf - rf) / (nf + rf)
                if np.isnan(val):
                    continue
                j = n
                while j > 0 and buf[j - 1] > val:
                    buf[j] = buf[j - 1]
                    j -= 1
                buf[j] = val
                n += 1
            if n == 0:
                out[y, x] = np.float32(np.nan)
            elif n % 2 == 1:
                out[y, x] = buf[n // 2]
            else:
                out[y, x] = (buf[n // 2 - 1] + buf[n // 2]) * half


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    items = load_items(args.catalog)
    t0 = time.perf_counter()
    hrefs = {b: [it.assets[b].get_absolute_href() for it in items] for b in ("red", "nir", "scl")}
    coef = {b: np.array([scale_offset(it, b) for it in items], dtype=np.float32) for b in ("red", "nir")}
    with rasterio.open(hrefs["red"][0]) as ref, rasterio.open(hrefs["scl"][0]) as sref:
        profile, (h, w) = ref.profile, ref.shape
        step = 2 * sref.block_shapes[0][0]  # 10 m pixels covered by one SCL block
    out = np.empty((h, w), dtype=np.float32)
    local = threading.local()

    def handle(path: str):
        cache = local.__dict__.setdefault("ds", {})
        if path not in cache:
            cache[path] = rasterio.open(path)
        return cache[path]

    def task(y0: int, x0: int) -> None:
        win = Window(x0, y0, min(step, w - x0), min(step, h - y0))
        swin = Window(x0 // 2, y0 // 2, (win.width + 1) // 2, (win.height + 1) // 2)
        red = np.stack([handle(p).read(1, window=win) for p in hrefs["red"]])
        nir = np.stack([handle(p).read(1, window=win) for p in hrefs["nir"]])
        scl = np.stack([handle(p).read(1, window=swin) for p in hrefs["scl"]])
        _ndvi_median(
            red,
            nir,
            scl,
            _MASK_TABLE,
            coef["red"][:, 0],
            coef["red"][:, 1],
            coef["nir"][:, 0],
            coef["nir"][:, 1],
            out[y0 : y0 + win.height, x0 : x0 + win.width],
        )

    # each block is decoded exactly once: GDAL's block cache (default 5 % of RAM) would only hold garbage
    with rasterio.Env(GDAL_CACHEMAX=64):
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            jobs = [pool.submit(task, y0, x0) for y0 in range(0, h, step) for x0 in range(0, w, step)]
            for j in jobs:
                j.result()

        profile.update(driver="GTiff", dtype="float32", nodata=np.nan, count=1, compress=None, tiled=False)
        part = Path(str(args.out) + ".part")
        with rasterio.MemoryFile() as mem, mem.open(**profile) as tmp:
            tmp.write(out, 1)
            rio_copy(
                tmp,
                part,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="YES",
                BLOCKSIZE=512,
                NUM_THREADS="ALL_CPUS",
                OVERVIEW_RESAMPLING="AVERAGE",
            )
    os.replace(part, args.out)
    report_job(time.perf_counter() - t0)


if __name__ == "__main__":
    main()
