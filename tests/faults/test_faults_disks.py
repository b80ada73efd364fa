"""Disks: a read-only output directory, a read-only ``EO_HOME``, an output disk that fills up.

Read-only places are real read-only mounts (a bind mount remounted ``ro``: ``EROFS``) when this
process may mount (root with CAP_SYS_ADMIN, as in CI), else the ``eo`` process runs as an
unprivileged user on a directory it may not write (``EACCES``).  The full disk is a small tmpfs
mounted for the test; without the privilege to mount, a real ``EFBIG`` from the kernel stands in for
it: the ``eo`` process gets a file size limit (``RLIMIT_FSIZE``) smaller than a COG.  Each case: one
line on stderr, the right exit status, and nothing already written damaged.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rasterio

from faults.faultkit import (
    EO,
    eo_cli,
    eo_env,
    eo_here,
    leftovers,
    pipeline_spec,
    snapshot,
    tile_area,
    write_spec,
)


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/eo-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
        )
        if ok.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    finally:
        probe.rmdir()


MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(not MOUNT, reason="mounting a tmpfs needs root with CAP_SYS_ADMIN")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only for an ``eo`` process: a read-only bind mount, else (not root) its mode."""
    if MOUNT:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
            yield None
        finally:
            subprocess.run(["umount", "-l", str(path)], check=True)
        return
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield None
        finally:
            path.chmod(mode)
        return
    pytest.skip("needs either mount privileges or a non-root user to make a directory read-only")


@pytest.fixture(scope="module")
def spec_file(finished_run: dict[str, Any]) -> Path:
    return Path(finished_run["spec_file"])


@pytest.fixture(scope="module")
def done_run(finished_run: dict[str, Any]) -> dict[str, Any]:
    """A finished run's output directory and snapshot."""
    return finished_run


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def _run(spec_file: Path, out: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return eo_cli(["run", str(spec_file), "--out", str(out), "--cluster", "threads", *args], eo_env(home))


def _one_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_read_only_output_directory(spec_file: Path, done_run: dict[str, Any], tmp_path: Path) -> None:
    """A re-run (and a first run into a subdirectory) of a read-only output: exit 2, nothing touched."""
    out = tmp_path / "out"
    shutil.copytree(done_run["out"], out)
    (out / "_state" / next(p.name for p in (out / "_state").iterdir() if p.is_dir())).joinpath(
        "2025-06.json"
    ).unlink()  # so there is work to do
    before = _mtimes(out)
    with read_only(out):
        for target, args in ((out, []), (out / "new", []), (out, ["--dry-run"])):
            res = eo_here(["run", str(spec_file), "--out", str(target), "--cluster", "threads", *args],
                          eo_env(done_run["home"]))  # fmt: skip
            assert res.returncode == 2, res.stderr
            line = _one_error(res.stderr)
            assert "cannot write the output directory" in line and str(out) in line
            assert "read-only file system" in line or "permission denied" in line
    assert _mtimes(out) == before


def test_read_only_eo_home(scene_catalog: Path, tmp_path: Path) -> None:
    """With the local catalogue built, a read-only EO_HOME still runs; without it, one line and exit 2."""
    home = tmp_path / "home"
    shutil.copytree(scene_catalog.parent, home / "catalog", ignore=shutil.ignore_patterns(".eo-serve"))
    spec = pipeline_spec("local", tile_area(scene_catalog, 1, 1))
    spec_file = write_spec(tmp_path / "local.yaml", spec)
    empty = tmp_path / "empty-home"
    empty.mkdir()
    tmp = tmp_path / "tmp"  # the serving copy and server log go to the temp directory
    tmp.mkdir()
    with read_only(home), read_only(empty):
        res = eo_cli(["run", str(spec_file), "--out", str(tmp_path / "out"), "--cluster", "threads"],
                     eo_env(home, TMPDIR=str(tmp)))  # fmt: skip
        assert res.returncode == 0, res.stderr
        bad = eo_cli(["run", str(spec_file), "--out", str(tmp_path / "out2"), "--cluster", "threads"],
                     eo_env(empty, TMPDIR=str(tmp)))  # fmt: skip
    assert bad.returncode == 2
    line = _one_error(bad.stderr)
    assert "cannot build the local catalogue" in line and "EO_HOME" in line
    assert not (tmp_path / "out2").exists()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["counts"]["done"] == 2


def _check_intact(out: Path, reference: dict[str, Any]) -> int:
    """Every committed tile's COGs are the finished run's bytes and read whole; no temp file is left."""
    assert not [p for p in out.rglob(".*") if ".tmp" in p.name], "temp files left behind"
    records = [json.loads(p.read_text()) for p in (out / "_state").glob("*/*.json")]
    for rec in records:
        for f in rec["files"]:
            if f.endswith(".tif"):
                assert reference["cogs"][f] == snapshot(out)["cogs"][f]
                with rasterio.open(out / f) as src:
                    src.read()  # readable to the last block
    return len(records)


@needs_mount
def test_disk_full_during_cog_writes(spec_file: Path, done_run: dict[str, Any], tmp_path: Path) -> None:
    """A 2 MiB tmpfs: a few tiles fit, then ENOSPC.  The run stops with one line; what it committed is
    intact; with space again, the next run converges to the finished run."""
    out = tmp_path / "small"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(out)], check=True)
    try:
        res = eo_cli(
            ["run", str(spec_file), "--out", str(out), "--cluster", "threads"], eo_env(done_run["home"])
        )
        assert res.returncode in (1, 2), res.stderr
        line = _one_error(res.stderr)
        assert "No space left on device" in line and "run again" in line
        committed = _check_intact(out, done_run["snapshot"])
        assert 0 < committed < 8, committed
        assert res.returncode == 1  # partial: the tiles that fitted are written
        subprocess.run(["mount", "-o", "remount,size=8m", str(out)], check=True)
        again = eo_cli(
            ["run", str(spec_file), "--out", str(out), "--cluster", "threads"], eo_env(done_run["home"])
        )
        assert again.returncode == 0, again.stderr
        assert leftovers(out) == []
        assert snapshot(out) == done_run["snapshot"]
    finally:
        subprocess.run(["umount", "-l", str(out)], check=True)


def test_file_size_limit_stops_the_run(spec_file: Path, done_run: dict[str, Any], tmp_path: Path) -> None:
    """The kernel refuses a COG bigger than the process's file size limit (EFBIG): the run stops at the
    first tile (every other would fail alike), exit 2, one line, the report written, nothing half-written."""
    out = tmp_path / "limited"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))  # a COG here is ~50 KB; JSON < 20 KB

    proc = subprocess.run(
        [EO, "run", str(spec_file), "--out", str(out), "--cluster", "threads"],
        env=eo_env(done_run["home"]),
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_error(proc.stderr)
    assert "File too large" in line and "run again" in line
    report = json.loads((out / "report.json").read_text())
    assert report["stopped"] and report["counts"]["done"] == 0 and report["counts"]["failed"] == 1
    assert report["counts"]["pending"] == 7
    assert _check_intact(out, done_run["snapshot"]) == 0
    assert leftovers(out) == []
    again = eo_cli(
        ["run", str(spec_file), "--out", str(out), "--cluster", "threads"], eo_env(done_run["home"])
    )
    assert again.returncode == 0, again.stderr
    assert snapshot(out) == done_run["snapshot"]
