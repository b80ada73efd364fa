"""Settings of eo, resolved in one order: argument > ``EO_*`` environment > packaged default.

Nothing here changes global state at import time; GDAL options are scoped with
:func:`gdal_env` (a ``rasterio.Env``) around reads and writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Environment variable naming eo's per-user data directory (local catalogue, state).
ENV_HOME = "EO_HOME"
#: ``os.pathsep``-separated directories with extra sensor profile YAML files.
ENV_SENSOR_PATH = "EO_SENSOR_PATH"
#: ``os.pathsep``-separated directories with extra catalogue definition YAML files.
ENV_CATALOG_PATH = "EO_CATALOG_PATH"

#: GDAL options for reading cloud-optimised GeoTIFFs over files and HTTP.
GDAL_READ_OPTIONS: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 1,
    "GDAL_CACHEMAX": 256,
    # GTiff decodes the blocks of one windowed read in GDAL's own threads, straight into the
    # destination: measured on the 6-date benchmark, peak RSS of a compute 0.90 -> 0.55 GiB at
    # the same speed (without it decoded blocks pile up in memory)
    "GDAL_NUM_THREADS": "ALL_CPUS",
    "VSI_CACHE": True,
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.JP2",
    "GTIFF_POINT_GEO_IGNORE": False,
}

#: GDAL open options of remote datasets (URLs).  ``NUM_THREADS=1``: a GTiff opened with GDAL's
#: decoding threads fetches each range of a multi-block read on a fresh connection (measured on
#: the network benchmark: 517 connections for 540 requests, 49 without), and each new connection
#: costs a TCP (and TLS) handshake; remote reads decode side by side in eo's I/O threads instead
#: (:mod:`eo.loading.io`).  Local files keep ``GDAL_NUM_THREADS`` (decoding straight into the
#: destination keeps peak memory down there).
REMOTE_OPEN_OPTIONS: dict[str, str] = {"NUM_THREADS": "1"}


#: Reads in flight per process (the I/O thread pool of :mod:`eo.loading.io`): independent of the
#: number of cores, since a read over HTTP mostly waits on the network.  Each read is one GDAL
#: windowed read, whose range requests GDAL sends in parallel (adjacent blocks merged), so one
#: process has at most this many reads' requests in flight.  ``EO_IO_THREADS`` overrides it.
IO_THREADS = 16
ENV_IO_THREADS = "EO_IO_THREADS"


def io_threads(env: Mapping[str, str] | None = None) -> int:
    """Size of a process's I/O pool: ``EO_IO_THREADS`` (a positive int) > :data:`IO_THREADS`."""
    value = (os.environ if env is None else env).get(ENV_IO_THREADS, "").strip()
    if not value:
        return IO_THREADS
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        from eo.errors import ConfigError

        raise ConfigError(f"{ENV_IO_THREADS}={value!r}: expected a positive whole number of threads")
    return n


#: Values of an on/off environment variable that mean off (case-insensitive).
OFF_VALUES = ("0", "false", "no", "off")


def switched_on(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the on/off environment variable ``name`` is on: unset or anything but :data:`OFF_VALUES`."""
    value = (os.environ if env is None else env).get(name, "1")
    return value.strip().lower() not in OFF_VALUES


def eo_home(path: str | os.PathLike[str] | None = None) -> Path:
    """Return eo's per-user data directory (argument > ``EO_HOME`` > platform default).

    The directory is not created here; writers create what they need.
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("eo", appauthor=False))


def local_catalog_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Directory of the built-in local catalogue (``<EO_HOME>/catalog`` unless given)."""
    return Path(path).expanduser() if path is not None else eo_home() / "catalog"


def _env_paths(name: str) -> list[Path]:
    value = os.environ.get(name, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def sensor_paths() -> list[Path]:
    """Directories searched for user sensor profiles (from ``EO_SENSOR_PATH``), in order."""
    return _env_paths(ENV_SENSOR_PATH)


def catalog_paths() -> list[Path]:
    """Directories searched for catalogue definitions, highest priority first.

    ``EO_CATALOG_PATH`` entries, then ``./catalogs`` of the working directory, then the
    repository's ``catalogs/`` (editable installs) or the copy packaged in the wheel.
    """
    here = Path(__file__).resolve().parent
    candidates = [
        *_env_paths(ENV_CATALOG_PATH),
        Path.cwd() / "catalogs",
        here.parent / "catalogs",
        here / "_catalogs",
    ]
    seen: list[Path] = []
    for c in candidates:
        if c.is_dir() and c.resolve() not in [s.resolve() for s in seen]:
            seen.append(c)
    return seen


@contextmanager
def gdal_env(**overrides: Any) -> Iterator[None]:
    """Scope eo's GDAL options (plus ``overrides``) with ``rasterio.Env``."""
    import rasterio

    options = {**GDAL_READ_OPTIONS, **overrides}
    with rasterio.Env(**options):
        yield
