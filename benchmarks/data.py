"""The cached benchmark data sets under ``benchmarks/data/`` (generated once, reused)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Bump when the generator changes in a way that changes the bytes.
GENERATOR_VERSION = 2


def dataset_dir(size: int, dates: int, seed: int = 0, root: Path = DATA_DIR) -> Path:
    return root / f"s2l2a-{size}px-{dates}d-seed{seed}"


def ensure_dataset(size: int, dates: int, seed: int = 0, root: Path = DATA_DIR, force: bool = False) -> Path:
    """Return the ``catalog.json`` of the data set, generating it first if missing or stale."""
    from eo.testing.synthetic import make_s2_l2a_catalog

    d = dataset_dir(size, dates, seed, root)
    stamp = d / "COMPLETE.json"
    want = {"generator_version": GENERATOR_VERSION, "size": size, "dates": dates, "seed": seed}
    if not force and stamp.exists():
        have = json.loads(stamp.read_text())
        if {k: have.get(k) for k in want} == want:
            return d / "catalog.json"
    if d.exists():
        shutil.rmtree(d)
    print(f"generating {d.name} ({dates} dates x {size}^2 px) ...", flush=True)
    t0 = time.perf_counter()
    catalog = make_s2_l2a_catalog(d, dates=dates, size=size, seed=seed)
    elapsed = time.perf_counter() - t0
    stamp.write_text(json.dumps({**want, "generation_s": round(elapsed, 1)}) + "\n")
    print(f"generated in {elapsed:.1f} s", flush=True)
    return catalog
