"""Every setting of eo, defined once, resolved in one order: scoped override > ``EO_*`` environment > default.

==================  =====================  ==========================================================
setting             environment            meaning (default)
==================  =====================  ==========================================================
``home``            ``EO_HOME``            per-user data directory: local catalogue, server logs,
                                           caches (the platform's user data directory)
``sensor_path``     ``EO_SENSOR_PATH``     directories of extra sensor profile YAML files
                                           (``os.pathsep``-separated; none)
``catalog_path``    ``EO_CATALOG_PATH``    directories of extra catalogue definitions, searched
                                           before the packaged ones (none)
``gdal``            ``EO_GDAL_OPTIONS``    GDAL configuration options for reads and writes, a JSON
                                           object in the environment (``{}``: eo's defaults,
                                           :data:`GDAL_DEFAULTS`, only)
``retry``           ``EO_RETRY``           retries and timeouts of network calls (searches and reads)
                                           and the deadline of a search: a :class:`eo.retry.RetryPolicy`,
                                           or its fields as a JSON object in the environment
                                           (``{"deadline": 600}``; the policy's defaults)
``io_threads``      ``EO_IO_THREADS``      reads of remote assets in flight per process, whatever the
                                           number of cores (16)
``malloc_tune``     ``EO_MALLOC_TUNE``     retune glibc's malloc in Dask worker processes whose
                                           thresholds Dask pinned (:mod:`eo.malloc`; off, on for
                                           ``eo run``'s own cluster)
``prime_workers``   ``EO_PRIME_WORKERS``   warm up the workers of an active Dask client when eo's
                                           API is first used (:mod:`eo.workers`; off, on for
                                           ``eo run``'s own cluster)
``pgstac_dsn``      ``EO_PGSTAC_DSN``      PostgreSQL/pgstac connection string of the
                                           ``rustac-pgstac`` server backend (none)
``view_basemap``    ``EO_VIEW_BASEMAP``    tile URL of ``eo view``'s basemap (none: the map works
                                           offline on a plain background); its attribution in
                                           ``EO_VIEW_BASEMAP_ATTRIBUTION``
==================  =====================  ==========================================================

A scoped override is a context manager; what a library call captures while building its Dask
graph (GDAL options, the retry policy) travels inside the tasks, so it reaches Dask workers::

    with eo.config.set(gdal={"GDAL_HTTP_TIMEOUT": 30}, retry=RetryPolicy(max_retries=2)):
        ds = eo.load(items, bands=["red"])      # its chunk tasks read with those options

``eo config`` prints the effective value of every setting and where it came from.  Nothing here
changes global state: GDAL options are scoped with :func:`gdal_env` (a ``rasterio.Env``) around reads
and writes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eo.errors import ConfigError

#: GDAL options eo reads and writes with (user options from the ``gdal`` setting win).
GDAL_DEFAULTS: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # bytes: rasterio sets it with GDALSetCacheMax64, which takes bytes (until 2026-12 eo wrote 256, a
    # 256-byte block cache: decimated overview reads, warps, rio-stac statistics re-decoded every block,
    # 10 s instead of 0.07 s for one read).  GDAL's cache size is process-wide and outlives the scope;
    # 16 MiB bounds it (the hot path decodes each block once; GDAL's default is 5 % of the RAM).
    # Measured 2026-12-03 against 64 MiB: the same speed for the 6-date job and for warped reads,
    # peak RSS 50-90 MiB lower (over HTTP at 60 ms: 919-993 vs 971-1083 MiB)
    "GDAL_CACHEMAX": 16 * 2**20,
    # GTiff decodes the blocks of one windowed read in GDAL's own threads, straight into the
    # destination: measured on the 6-date benchmark, peak RSS of a compute 0.90 -> 0.55 GiB at
    # the same speed (without it decoded blocks pile up in memory)
    "GDAL_NUM_THREADS": "ALL_CPUS",
    "VSI_CACHE": True,
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.JP2",
    "GTIFF_POINT_GEO_IGNORE": False,
}
#: Kept under its historical name.
GDAL_READ_OPTIONS = GDAL_DEFAULTS

#: GDAL open options of remote datasets (URLs).  ``NUM_THREADS=1``: a GTiff opened with GDAL's
#: decoding threads fetches each range of a multi-block read on a fresh connection (measured on
#: the network benchmark: 517 connections for 540 requests, 49 without), and each new connection
#: costs a TCP (and TLS) handshake; remote reads decode side by side in eo's I/O threads instead
#: (:mod:`eo.loading.io`).  Local files keep ``GDAL_NUM_THREADS`` (decoding straight into the
#: destination keeps peak memory down there).
REMOTE_OPEN_OPTIONS: dict[str, str] = {"NUM_THREADS": "1"}

#: Default of the ``io_threads`` setting: reads in flight per process (the I/O thread pool of
#: :mod:`eo.loading.io`), independent of the number of cores, since a read over HTTP mostly waits
#: on the network.  Each read is one GDAL windowed read, whose range requests GDAL sends in parallel
#: (adjacent blocks merged), so one process has at most this many reads' requests in flight.
IO_THREADS = 16

#: Values of an on/off environment variable that mean off / on (case-insensitive).
OFF_VALUES = ("0", "false", "no", "off")
ON_VALUES = ("1", "true", "yes", "on")


def _switch(text: str) -> bool:
    value = text.strip().lower()
    if value in OFF_VALUES:
        return False
    if value in ON_VALUES:
        return True
    raise ValueError(f"expected one of {', '.join(ON_VALUES + OFF_VALUES)}")


def _positive_int(value: Any) -> int:
    n = int(str(value).strip())
    if n < 1:
        raise ValueError("expected a positive whole number")
    return n


def _paths(text: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in text.split(os.pathsep) if p.strip())


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _retry(text: str) -> Any:
    from eo.retry import RetryPolicy

    return RetryPolicy.from_mapping(_json_object(text))


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("eo", appauthor=False))


def _default_retry() -> Any:
    from eo.retry import RetryPolicy

    return RetryPolicy()


def _as_paths(value: Any) -> tuple[Path, ...]:
    if isinstance(value, str | os.PathLike):
        return _paths(str(value))
    return tuple(Path(p).expanduser() for p in value)


def _as_mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of options, got {type(value).__name__}")
    return dict(value)


def _as_retry(value: Any) -> Any:
    from eo.retry import RetryPolicy

    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, Mapping):
        return RetryPolicy.from_mapping(value)
    raise ValueError(f"expected a RetryPolicy or a mapping of its fields, got {type(value).__name__}")


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, default, parsers and meaning."""

    name: str
    env: str
    default: Callable[[], Any]
    parse: Callable[[str], Any]
    """Environment text -> value (raises ValueError with what was expected)."""
    coerce: Callable[[Any], Any]
    """A value given in Python -> the setting's type (raises ValueError)."""
    help: str


#: Every setting of eo, by name (see the module docstring).
SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("home", "EO_HOME", _default_home, lambda t: Path(t).expanduser(),
                lambda v: Path(v).expanduser(), "per-user data directory (local catalogue, logs, caches)"),
        Setting("sensor_path", "EO_SENSOR_PATH", tuple, _paths, _as_paths,
                "directories of extra sensor profile YAML files"),
        Setting("catalog_path", "EO_CATALOG_PATH", tuple, _paths, _as_paths,
                "directories of extra catalogue definitions (searched first)"),
        Setting("gdal", "EO_GDAL_OPTIONS", dict, _json_object, _as_mapping,
                "GDAL configuration options for reads and writes (over eo's defaults)"),
        Setting("retry", "EO_RETRY", _default_retry, _retry, _as_retry,
                "retries and timeouts of searches and reads (eo.retry.RetryPolicy)"),
        Setting("io_threads", "EO_IO_THREADS", lambda: IO_THREADS, _positive_int, _positive_int,
                "reads in flight per process for remote (HTTP) assets: the I/O pool's size"),
        Setting("malloc_tune", "EO_MALLOC_TUNE", lambda: False, _switch, bool,
                "retune malloc in Dask workers whose thresholds Dask pinned (on in eo run's cluster)"),
        Setting("prime_workers", "EO_PRIME_WORKERS", lambda: False, _switch, bool,
                "warm up an active Dask client's workers on first use of the API (on in eo run's cluster)"),
        Setting("pgstac_dsn", "EO_PGSTAC_DSN", lambda: None, str, str,
                "PostgreSQL/pgstac connection string of the rustac-pgstac server backend"),
        Setting("view_basemap", "EO_VIEW_BASEMAP", lambda: None, str, str,
                "tile URL template (https://.../{z}/{x}/{y}.png) of eo view's basemap (none: offline)"),
        Setting("view_basemap_attribution", "EO_VIEW_BASEMAP_ATTRIBUTION", lambda: None, str, str,
                "attribution text shown with eo view's basemap"),
    )
}  # fmt: skip

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_scope: ContextVar[Mapping[str, Any]] = ContextVar("eo_config_scope", default=_EMPTY)


def _setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise ConfigError(f"unknown eo setting {name!r}; the settings are: {', '.join(SETTINGS)}") from None


def _from_env(s: Setting, env: Mapping[str, str]) -> Any:
    try:
        return s.parse(env[s.env])
    except (ValueError, TypeError) as err:
        raise ConfigError(
            f"{s.env}={env[s.env]!r} is not a valid {s.name} setting ({err}); fix or unset the variable"
        ) from None


def get(name: str, env: Mapping[str, str] | None = None) -> Any:
    """The effective value of setting ``name``: scoped override > environment > default."""
    s = _setting(name)
    scoped = _scope.get()
    if name in scoped:
        return scoped[name]
    env = os.environ if env is None else env
    if env.get(s.env, "").strip():
        return _from_env(s, env)
    return s.default()


def source(name: str, env: Mapping[str, str] | None = None) -> str:
    """Where the value of ``name`` comes from: ``"eo.config.set"``, the variable's name, or ``"default"``."""
    s = _setting(name)
    if name in _scope.get():
        return "eo.config.set"
    env = os.environ if env is None else env
    return s.env if env.get(s.env, "").strip() else "default"


@contextmanager
def set(**values: Any) -> Iterator[None]:
    """Override settings for the calls inside the block (this thread/task context only).

    Values are checked at once (:class:`~eo.errors.ConfigError` for an unknown name or a bad value).
    """
    parsed = {}
    for name, value in values.items():
        s = _setting(name)
        try:
            parsed[name] = s.parse(value) if isinstance(value, str) and name != "home" else s.coerce(value)
        except (ValueError, TypeError) as err:
            raise ConfigError(f"eo.config.set({name}={value!r}): {err}") from None
    token = _scope.set({**_scope.get(), **parsed})
    try:
        yield
    finally:
        _scope.reset(token)


def describe(env: Mapping[str, str] | None = None) -> list[tuple[str, Any, str, str]]:
    """``(name, effective value, source, help)`` of every setting (what ``eo config`` prints)."""
    return [(n, get(n, env), source(n, env), s.help) for n, s in SETTINGS.items()]


# --- the settings as paths and options ---------------------------------------------------


def eo_home(path: str | os.PathLike[str] | None = None) -> Path:
    """Eo's per-user data directory (argument > setting ``home``); not created here."""
    return Path(path).expanduser() if path is not None else Path(get("home"))


def local_catalog_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Directory of the built-in local catalogue (``<home>/catalog`` unless given)."""
    return Path(path).expanduser() if path is not None else eo_home() / "catalog"


def sensor_paths() -> list[Path]:
    """Directories searched for user sensor profiles (setting ``sensor_path``), in order."""
    return list(get("sensor_path"))


def catalog_paths() -> list[Path]:
    """Directories searched for catalogue definitions, highest priority first.

    The ``catalog_path`` setting's directories, then the repository's ``catalogs/`` (editable
    installs) or the copy packaged in the wheel.  The working directory is not searched: add it to
    ``EO_CATALOG_PATH`` to use definitions kept there.
    """
    here = Path(__file__).resolve().parent
    candidates = [*get("catalog_path"), here.parent / "catalogs", here / "_catalogs"]
    seen: list[Path] = []
    for c in candidates:
        if c.is_dir() and c.resolve() not in [s.resolve() for s in seen]:
            seen.append(c)
    return seen


def gdal_options(**overrides: Any) -> dict[str, Any]:
    """The GDAL options in force: eo's defaults, the retry policy's, the ``gdal`` setting, ``overrides``."""
    policy = get("retry")
    return {**GDAL_DEFAULTS, **policy.gdal_options(), **get("gdal"), **overrides}


@contextmanager
def gdal_env(options: Mapping[str, Any] | None = None, **overrides: Any) -> Iterator[None]:
    """Scope GDAL options with ``rasterio.Env``.

    ``options`` as given (a task's captured options), else :func:`gdal_options`; plus ``overrides``.
    """
    import rasterio

    resolved = {**(dict(options) if options is not None else gdal_options()), **overrides}
    with rasterio.Env(**resolved):
        yield


def io_threads(env: Mapping[str, str] | None = None) -> int:
    """Size of a process's I/O pool (the ``io_threads`` setting)."""
    return int(get("io_threads", env))


def switched_on(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether an on/off setting is on (its name, or its environment variable's, e.g. ``EO_MALLOC_TUNE``)."""
    for s in SETTINGS.values():
        if name in (s.name, s.env):
            return bool(get(s.name, env))
    raise ConfigError(f"unknown eo setting {name!r}")
